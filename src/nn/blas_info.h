// blas_info.h: which OpenBLAS kernels this process runs, and the note a resumed run prints when its
// checkpoint was written with other ones.
//
// OpenBLAS picks a kernel set for the CPU at load time ("SkylakeX" on an AVX-512 Xeon, "Zen" on an
// AMD EPYC, "Haswell" on AVX2 Intel parts); the environment variable OPENBLAS_CORETYPE overrides the
// choice. The kernel sets order their sums differently, so matrix products, and everything trained
// with them, are bit-exact only for one set: measured, 20 pretraining steps give one file with the
// Haswell and Zen kernels and another with SkylakeX. Checkpoints record the set as "blas.core".
#ifndef CGRPO_BLAS_INFO_H
#define CGRPO_BLAS_INFO_H

// The kernel set's name as OpenBLAS reports it ("SkylakeX", "Zen", ...), "unknown" when it has none.
const char *blas_core(void);

// OpenBLAS's build description (version and options).
const char *blas_build(void);

// The checkpoint metadata key that holds the kernel set a checkpoint was written with.
#define BLAS_CORE_KEY "blas.core"

// For a checkpoint that recorded `recorded` as its kernel set (NULL: it recorded none, as
// checkpoints from before the key did): 0 when it matches this process's or nothing was recorded;
// otherwise 1, after one line on stderr, "<who>: warning: ...", saying what differs and how to
// select the checkpoint's set. The run is not stopped: the caller goes on.
int blas_core_warn(const char *who, const char *recorded);

#endif
