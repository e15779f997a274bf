// fuzz_jsonl.c: libFuzzer target for the JSONL metrics that `cgrpo plot` reads (io/jsonl.h): the
// bytes as a metrics file (fmemopen), read for one and for two columns; a success has at most as
// many rows as lines and counts each key at most once per line.
//   make fuzz && build-fuzz/fuzz_jsonl -dict=tests/fuzz_jsonl.dict CORPUS tests/fuzz/jsonl
#include <stdio.h>

#include "fuzz.h"
#include "io/jsonl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void jsonl_try(const uint8_t *data, size_t size, const char *const *keys, int n_keys) {
    FILE *f = fmemopen((void *)data, size, "rb");
    if (!f) return;
    double *cols = NULL;
    size_t rows = 0, seen[2] = {0, 0}, lines = 1;
    for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
    char err[512];
    if (cg_jsonl_read_columns_file(f, "fuzz.jsonl", keys, n_keys, &cols, &rows, seen, err, sizeof err)) {
        fuzz_one_line(err);
        if (cols) abort();
    } else if (!cols || rows > lines || seen[0] > lines || seen[n_keys - 1] > lines || rows > seen[0]) {
        abort();
    }
    free(cols);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const KEYS[2] = {"step", "loss"};
    if (size == 0) return 0; // fmemopen wants a buffer
    jsonl_try(data, size, KEYS, 1);
    jsonl_try(data, size, KEYS, 2);
    return 0;
}
