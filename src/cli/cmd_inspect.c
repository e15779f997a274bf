// cmd_inspect.c: `cgrpo inspect FILE.safetensors`: one line per tensor (name dtype [shape]) in
// header order, the metadata as `key = value` lines, then "N tensors, P parameters".
// A missing or malformed file is a one-line reason on stderr and exit 2.
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/check.h"
#include "io/safetensors.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: cgrpo inspect FILE.safetensors\n"
            "\n"
            "Validate a safetensors file and list it: one line per tensor `name dtype [shape]` in\n"
            "header order, the metadata as `key = value` lines, and a closing line with the number of\n"
            "tensors and parameters. A malformed file is reported in one line on stderr (exit 2).\n");
}

// Names and metadata come from the file: print control bytes as escapes so every entry stays on
// one line (a newline in a metadata value becomes \n).
static void print_escaped(const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c < 0x20 || c == 0x7F) printf("\\x%02x", c);
        else putchar(c);
    }
}

int cmd_inspect(int argc, char **argv) {
    const char *path = NULL;
    int options_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && cli_is_help(a)) {
            usage(stdout);
            return 0;
        }
        if (!options_done && strcmp(a, "--") == 0) {
            options_done = 1;
            continue;
        }
        if (!options_done && a[0] == '-' && a[1] != '\0')
            cg_usage("inspect: unknown option '%s' (try cgrpo inspect --help)", a);
        if (path) cg_usage("inspect: expected one file, got '%s' and '%s'", path, a);
        path = a;
    }
    if (!path) cg_usage("inspect: missing FILE.safetensors (try cgrpo inspect --help)");

    st_file f;
    char err[512];
    if (st_open(path, &f, err, sizeof err) != 0) cg_usage("%s", err);
    for (size_t i = 0; i < f.n_tensors; i++) {
        const st_tensor *t = &f.tensors[i];
        print_escaped(t->name);
        printf(" %s [", st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) printf(d ? ", %zu" : "%zu", t->shape[d]);
        printf("]\n");
    }
    for (size_t i = 0; i < f.n_meta; i++) {
        print_escaped(f.meta_keys[i]);
        fputs(" = ", stdout);
        print_escaped(f.meta_values[i]);
        putchar('\n');
    }
    size_t params = st_total_params(&f);
    printf("%zu tensor%s, %zu parameter%s\n", f.n_tensors, f.n_tensors == 1 ? "" : "s", params, params == 1 ? "" : "s");
    st_close(&f);
    return 0;
}
