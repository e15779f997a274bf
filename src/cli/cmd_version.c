// cmd_version.c: `cgrpo version`: what this binary computes with: the OpenBLAS build, the kernel
// set it picked for this CPU (results are bit-exact across machines only for one kernel set; see
// nn/blas_info.h) and the OpenMP thread count. One `key: value` line each.
#include <omp.h>
#include <stdio.h>

#include "cli/cli.h"
#include "nn/blas_info.h"

static void usage(FILE *out) {
    fprintf(out,
            "usage: cgrpo version\n"
            "\n"
            "Print the OpenBLAS build, the kernel set it runs on this CPU (OPENBLAS_CORETYPE=NAME selects\n"
            "another, e.g. Haswell) and the number of OpenMP threads (OMP_NUM_THREADS). Checkpoints record\n"
            "the kernel set as blas.core, and a resume with another one prints a warning.\n");
}

int cmd_version(int argc, char **argv) {
    if (argc == 2 && cli_is_help(argv[1])) {
        usage(stdout);
        return 0;
    }
    if (argc != 1) {
        fprintf(stderr, "cgrpo version: takes no arguments (got '%s')\n", argv[1]);
        return cli_exit_code(CG_EINPUT);
    }
    printf("blas: %s\n", blas_build());
    printf("blas.core: %s\n", blas_core());
    printf("openmp.threads: %d\n", omp_get_max_threads());
    return 0;
}
