// fuzz_safetensors.c: libFuzzer target for the safetensors reader (built by `make fuzz`, never by the
// normal build). Drives st_parse over arbitrary bytes and, for accepted files, st_get_f32 on every
// tensor. Beyond the sanitizers it checks the contract: a rejection has a one-line reason and leaves
// the st_file empty; an accepted file's tensors tile the data buffer exactly.
//   build-fuzz/fuzz_safetensors -dict=tests/fuzz_safetensors.dict -max_total_time=120 CORPUS tests/fuzz/safetensors
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    st_file f;
    char err[256];
    err[0] = '\0';
    if (st_parse(data, size, &f, err, sizeof err) != 0) {
        if (err[0] == '\0' || strchr(err, '\n') || f.tensors || f.n_tensors || f.meta_keys) abort();
        return 0;
    }
    if (f.data != data + 8 + f.header_len || f.data_len != size - 8 - f.header_len) abort();
    size_t covered = 0;
    for (size_t i = 0; i < f.n_tensors; i++) {
        const st_tensor *t = &f.tensors[i];
        if (t->offset > f.data_len || t->nbytes > f.data_len - t->offset) abort();
        covered += t->nbytes;
        float *dst = malloc((t->numel ? t->numel : 1) * sizeof(float));
        if (!dst) abort();
        int rc = st_get_f32(&f, t->name, dst, t->numel, err, sizeof err);
        int is_float = t->dtype == ST_F32 || t->dtype == ST_F16 || t->dtype == ST_BF16 || t->dtype == ST_F64;
        // a duplicate name can never be accepted, so st_find returns this very tensor
        if (is_float != (rc == 0)) abort();
        if (rc != 0 && (err[0] == '\0' || strchr(err, '\n'))) abort();
        free(dst);
    }
    if (covered != f.data_len) abort(); // no gaps, no overlaps (which would over-count)
    st_close(&f);
    return 0;
}
