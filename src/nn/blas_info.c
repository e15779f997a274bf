// blas_info.c: see blas_info.h.
#include "blas_info.h"

#include <cblas.h>
#include <stdio.h>
#include <string.h>

const char *blas_core(void) {
    const char *s = openblas_get_corename();
    return s && *s ? s : "unknown";
}

const char *blas_build(void) {
    const char *s = openblas_get_config();
    return s && *s ? s : "unknown";
}

int blas_core_warn(const char *who, const char *recorded) {
    const char *now = blas_core();
    if (!recorded || strcmp(recorded, now) == 0) return 0;
    fprintf(stderr,
            "%s: warning: the checkpoint was written with OpenBLAS's %s kernels and this process runs %s ones: the "
            "run goes on, but need not be bit-identical to an uninterrupted one (OPENBLAS_CORETYPE=%s selects the "
            "checkpoint's)\n",
            who, recorded, now, recorded);
    return 1;
}
