// layers.c: linear, layer norm, adaLN modulation, gated and plain residuals, GELU and SiLU
// (see layers.h for the conventions: outputs first, backward accumulates, NULL gradients skipped).
//
// Determinism: every reduction (a bias gradient, a layer-norm weight gradient, a modulation
// gradient) is computed by ONE thread per output element, summing rows in their natural order.
// Threads split the work over columns (channel blocks) or over rows for purely per-row work, so
// the bits never depend on the number of OpenMP threads (tests/test_layers.c checks this with
// memcmp for 1 and 2 threads).
//
// Matmuls: a plain multi-threaded OpenBLAS sgemm is NOT thread-count independent. Measured with
// OpenBLAS 0.3.21 (Zen kernels): a 384x256x192 product differs in 2754 of 98304 outputs between 1
// and 2 threads (the output tiles at the threads' split points take other kernel paths). So
// sgemm_rows() below cuts the output rows into chunks that depend only on the shape, and runs each
// chunk as one single-threaded sgemm inside an OpenMP loop.
//
// Batch-size invariance is NOT given, and cannot be given by chunking alone: OpenBLAS's Zen sgemm
// kernel rounds a row differently depending on its position inside the call (measured: rows at
// positions 6..11 mod 12 of a 64-row call differ in 32 of 384 outputs from the same row at
// position 0). So a sample's forward is bit-exact only for the same batch layout (batch size and
// position). The GRPO trainer recomputes log-probs with the rollout's layout for that reason.
#include "layers.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/check.h"

// Below this many floats of work a loop stays serial: starting a parallel region costs more.
#define PAR_MIN_WORK 32768
// Column reductions are split over blocks of this many columns (one 64-byte cache line of floats).
#define COL_BLOCK 16

// C (M, N) = alpha op(A) op(B) + beta C, row-major, the arguments of cblas_sgemm, but the same
// bits for any thread count: the rows of C are cut into chunks whose size depends only on M, and
// each chunk is one sgemm call run by one thread. The OpenMP build of OpenBLAS runs single-threaded
// inside an active parallel region; omp_set_num_threads(1) in the loop body (it only changes this
// implicit task's setting) makes that hold for a team of one thread as well. With the pthreads build
// of OpenBLAS (which ignores OpenMP) the product is one BLAS-threaded call: fast, not bit-stable.
static void sgemm_rows(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                       int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    enum CBLAS_TRANSPOSE ta = transA ? CblasTrans : CblasNoTrans, tb = transB ? CblasTrans : CblasNoTrans;
    if (openblas_get_parallel() == OPENBLAS_THREAD) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    // about 8 chunks (a multiple of 16 rows, at least 32) balance 2..8 threads
    int rows = (M + 7) / 8;
    rows = (rows + 15) / 16 * 16;
    if (rows < 32) rows = 32;
    int nchunks = (M + rows - 1) / rows;
    double flops = 2.0 * M * N * K;
#pragma omp parallel for schedule(dynamic, 1) if (nchunks > 1 && flops > 1e6)
    for (int ch = 0; ch < nchunks; ch++) {
        omp_set_num_threads(1);
        int r0 = ch * rows, m = M - r0 < rows ? M - r0 : rows;
        const float *Ar = transA ? A + r0 : A + (size_t)r0 * lda; // rows r0.. of op(A)
        cblas_sgemm(CblasRowMajor, ta, tb, m, N, K, alpha, Ar, lda, B, ldb, beta, C + (size_t)r0 * ldc, ldc);
    }
}

// dst[c] += sum over rows r = 0..rows-1 (in order) of a[r ld + c] * (b ? b[r ld + c] : 1), c < cols.
// Each column is summed in double by exactly one thread, so the result is thread-count independent.
static void colsum_acc(float *dst, const float *a, const float *b, size_t rows, size_t cols, size_t ld) {
    long nblocks = (long)((cols + COL_BLOCK - 1) / COL_BLOCK);
#pragma omp parallel for schedule(static) if (rows * cols > PAR_MIN_WORK && nblocks > 1)
    for (long blk = 0; blk < nblocks; blk++) {
        size_t c0 = (size_t)blk * COL_BLOCK;
        size_t nc = cols - c0 < COL_BLOCK ? cols - c0 : COL_BLOCK;
        double acc[COL_BLOCK] = {0};
        for (size_t r = 0; r < rows; r++) {
            const float *ar = a + r * ld + c0;
            // across columns only (each column still sums its rows in order): the same bits, vectorized
            if (b) {
                const float *br = b + r * ld + c0;
#pragma omp simd
                for (size_t j = 0; j < nc; j++) acc[j] += (double)ar[j] * br[j];
            } else {
#pragma omp simd
                for (size_t j = 0; j < nc; j++) acc[j] += ar[j];
            }
        }
        for (size_t j = 0; j < nc; j++) dst[c0 + j] += (float)acc[j];
    }
}

// ---- linear ------------------------------------------------------------------------------------

// out (N, OC) = in (N, C) @ w^T + b;  w (OC, C), b (OC) or NULL
void linear_forward(float *out, const float *in, const float *w, const float *b, int N, int C, int OC) {
    CG_CHECK(N >= 0 && C >= 0 && OC >= 0, "linear_forward dims N=%d C=%d OC=%d", N, C, OC);
    if (N == 0 || OC == 0) return;
    float beta = 0.0f;
    if (b) { // start from the bias in every row, then let sgemm add the product on top
        for (size_t n = 0; n < (size_t)N; n++)
            for (size_t o = 0; o < (size_t)OC; o++) out[n * OC + o] = b[o];
        beta = 1.0f;
    }
    if (C == 0) {
        if (!b)
            for (size_t i = 0; i < (size_t)N * OC; i++) out[i] = 0.0f;
        return;
    }
    sgemm_rows(0, 1, N, OC, C, 1.0f, in, C, w, C, beta, out, OC);
}

// out (N, OC) += in (N, C) @ w^T;  w (OC, C)
void linear_forward_acc(float *out, const float *in, const float *w, int N, int C, int OC) {
    CG_CHECK(N >= 0 && C >= 0 && OC >= 0, "linear_forward_acc dims N=%d C=%d OC=%d", N, C, OC);
    if (N == 0 || OC == 0 || C == 0) return;
    sgemm_rows(0, 1, N, OC, C, 1.0f, in, C, w, C, 1.0f, out, OC);
}

// din (N, C) += dout @ w;  dw (OC, C) += dout^T @ in;  db (OC) += column sums of dout (N, OC)
void linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                     const float *w, int N, int C, int OC) {
    CG_CHECK(N >= 0 && C >= 0 && OC >= 0, "linear_backward dims N=%d C=%d OC=%d", N, C, OC);
    if (N == 0 || OC == 0) return;
    if (din && C > 0)
        sgemm_rows(0, 0, N, C, OC, 1.0f, dout, OC, w, C, 1.0f, din, C);
    if (dw && C > 0)
        sgemm_rows(1, 0, OC, C, N, 1.0f, dout, OC, in, C, 1.0f, dw, C);
    if (db) colsum_acc(db, dout, NULL, (size_t)N, (size_t)OC, (size_t)OC);
}

// ---- layer norm --------------------------------------------------------------------------------

// out (N, C) = (in - mean) * rstd [* w + b];  mean, rstd (N) saved; w, b (C) or NULL
void layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *w,
                       const float *b, int N, int C) {
    CG_CHECK(N >= 0 && C > 0, "layernorm_forward dims N=%d C=%d", N, C);
#pragma omp parallel for schedule(static) if ((size_t)N * C > PAR_MIN_WORK)
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * C;
        float *y = out + (size_t)n * C;
        double s = 0.0; // two passes in double: the mean, then the variance about it
        for (int c = 0; c < C; c++) s += x[c];
        float m = (float)(s / C);
        double v = 0.0;
        for (int c = 0; c < C; c++) {
            double d = (double)x[c] - m;
            v += d * d;
        }
        float r = (float)(1.0 / sqrt(v / C + (double)LAYERNORM_EPS));
        for (int c = 0; c < C; c++) {
            float v_c = (x[c] - m) * r;
            if (w) v_c *= w[c];
            if (b) v_c += b[c];
            y[c] = v_c;
        }
        mean[n] = m;
        rstd[n] = r;
    }
}

// With xh = (x - mean) rstd and g = dout * w (or dout without affine), per row:
//   din += rstd (g - mean(g) - xh mean(g xh));  dw += sum_n dout xh;  db += sum_n dout.
void layernorm_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, const float *mean, const float *rstd, int N, int C) {
    CG_CHECK(N >= 0 && C > 0, "layernorm_backward dims N=%d C=%d", N, C);
    size_t work = (size_t)N * C;
    if (din) {
#pragma omp parallel for schedule(static) if (work > PAR_MIN_WORK)
        for (int n = 0; n < N; n++) {
            const float *x = in + (size_t)n * C, *dy = dout + (size_t)n * C;
            float *dx = din + (size_t)n * C;
            float m = mean[n], r = rstd[n];
            double sg = 0.0, sgx = 0.0;
            for (int c = 0; c < C; c++) {
                float g = w ? dy[c] * w[c] : dy[c];
                sg += g;
                sgx += (double)g * ((x[c] - m) * r);
            }
            float mg = (float)(sg / C), mgx = (float)(sgx / C);
            for (int c = 0; c < C; c++) {
                float g = w ? dy[c] * w[c] : dy[c];
                float xh = (x[c] - m) * r;
                dx[c] += r * (g - mg - xh * mgx);
            }
        }
    }
    if (db) colsum_acc(db, dout, NULL, (size_t)N, (size_t)C, (size_t)C);
    if (dw) {
        // sum over rows of dout * xh: one thread per block of channels, rows in order
        long nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if (work > PAR_MIN_WORK && nblocks > 1)
        for (long blk = 0; blk < nblocks; blk++) {
            int c0 = (int)blk * COL_BLOCK;
            int nc = C - c0 < COL_BLOCK ? C - c0 : COL_BLOCK;
            double acc[COL_BLOCK] = {0};
            for (int n = 0; n < N; n++) {
                const float *x = in + (size_t)n * C + c0, *dy = dout + (size_t)n * C + c0;
                float m = mean[n], r = rstd[n];
                for (int j = 0; j < nc; j++) acc[j] += (double)dy[j] * ((x[j] - m) * r);
            }
            for (int j = 0; j < nc; j++) dw[c0 + j] += (float)acc[j];
        }
    }
}

// ---- adaLN modulation and gated residual -------------------------------------------------------

// out (B, T, C) = in * (1 + scale[b]) + shift[b];  shift, scale rows `cstride` floats apart
void modulate_forward(float *out, const float *in, const float *shift, const float *scale,
                      int B, int T, int C, int cstride) {
    CG_CHECK(B >= 0 && T >= 0 && C >= 0 && cstride >= C, "modulate_forward B=%d T=%d C=%d cstride=%d",
             B, T, C, cstride);
    long rows = (long)B * T;
#pragma omp parallel for schedule(static) if ((size_t)rows * C > PAR_MIN_WORK)
    for (long row = 0; row < rows; row++) {
        size_t b = (size_t)(row / T);
        const float *sh = shift + b * cstride, *sc = scale + b * cstride;
        const float *x = in + (size_t)row * C;
        float *y = out + (size_t)row * C;
        for (int c = 0; c < C; c++) y[c] = x[c] * (1.0f + sc[c]) + sh[c];
    }
}

// din += dout (1 + scale[b]);  dshift[b] += sum_t dout;  dscale[b] += sum_t dout * in
void modulate_backward(float *din, float *dshift, float *dscale, const float *dout,
                       const float *in, const float *scale, int B, int T, int C, int cstride) {
    CG_CHECK(B >= 0 && T >= 0 && C >= 0 && cstride >= C, "modulate_backward B=%d T=%d C=%d cstride=%d",
             B, T, C, cstride);
    long rows = (long)B * T;
    if (din) {
#pragma omp parallel for schedule(static) if ((size_t)rows * C > PAR_MIN_WORK)
        for (long row = 0; row < rows; row++) {
            const float *sc = scale + (size_t)(row / T) * cstride;
            const float *dy = dout + (size_t)row * C;
            float *dx = din + (size_t)row * C;
            for (int c = 0; c < C; c++) dx[c] += dy[c] * (1.0f + sc[c]);
        }
    }
    for (size_t b = 0; b < (size_t)B; b++) {
        const float *dyb = dout + b * T * C, *xb = in + b * T * C;
        if (dshift) colsum_acc(dshift + b * cstride, dyb, NULL, (size_t)T, (size_t)C, (size_t)C);
        if (dscale) colsum_acc(dscale + b * cstride, dyb, xb, (size_t)T, (size_t)C, (size_t)C);
    }
}

// out (B, T, C) = res + gate[b] * x;  out may alias res
void gate_residual_forward(float *out, const float *res, const float *x, const float *gate,
                           int B, int T, int C, int cstride) {
    CG_CHECK(B >= 0 && T >= 0 && C >= 0 && cstride >= C,
             "gate_residual_forward B=%d T=%d C=%d cstride=%d", B, T, C, cstride);
    long rows = (long)B * T;
#pragma omp parallel for schedule(static) if ((size_t)rows * C > PAR_MIN_WORK)
    for (long row = 0; row < rows; row++) {
        const float *g = gate + (size_t)(row / T) * cstride;
        size_t o = (size_t)row * C;
        for (int c = 0; c < C; c++) out[o + c] = res[o + c] + g[c] * x[o + c];
    }
}

// dgate[b] += sum_t dout * x;  dx += gate[b] * dout;  dres += dout.
// The gate gradient is taken first and each dout element is read once before dres is written, so
// dres may alias dout (then the buffer ends up holding 2 * dout, as "dres += dout" says).
void gate_residual_backward(float *dres, float *dx, float *dgate, const float *dout,
                            const float *x, const float *gate, int B, int T, int C, int cstride) {
    CG_CHECK(B >= 0 && T >= 0 && C >= 0 && cstride >= C,
             "gate_residual_backward B=%d T=%d C=%d cstride=%d", B, T, C, cstride);
    if (dgate)
        for (size_t b = 0; b < (size_t)B; b++)
            colsum_acc(dgate + b * cstride, dout + b * T * C, x + b * T * C, (size_t)T, (size_t)C,
                       (size_t)C);
    if (!dres && !dx) return;
    long rows = (long)B * T;
#pragma omp parallel for schedule(static) if ((size_t)rows * C > PAR_MIN_WORK)
    for (long row = 0; row < rows; row++) {
        const float *g = gate + (size_t)(row / T) * cstride;
        size_t o = (size_t)row * C;
        for (int c = 0; c < C; c++) {
            float d = dout[o + c];
            if (dx) dx[o + c] += g[c] * d;
            if (dres) dres[o + c] += d;
        }
    }
}

// ---- residual and activations ------------------------------------------------------------------

void residual_forward(float *out, const float *a, const float *b, long N) {
#pragma omp parallel for schedule(static) if (N > PAR_MIN_WORK)
    for (long i = 0; i < N; i++) out[i] = a[i] + b[i];
}

void residual_backward(float *da, float *db, const float *dout, long N) {
#pragma omp parallel for schedule(static) if (N > PAR_MIN_WORK)
    for (long i = 0; i < N; i++) {
        float d = dout[i];
        if (da) da[i] += d;
        if (db) db[i] += d;
    }
}

// GELU, tanh form. It is evaluated through the identity 0.5 (1 + tanh u) = sigmoid(2u), which is
// the same function but keeps full float precision in the negative tail: 1 + tanhf(u) cancels to
// ~1e-7 absolute noise there, larger than the value itself below x ~ -3.
#define GELU_K 0.7978845608028654f // sqrt(2 / pi)
#define GELU_A 0.044715f

// e = exp(-2u) with u = k (x + a x^3); s = sigmoid(2u) = 1 / (1 + e)
static inline float gelu_exp(float x) { return expf(-2.0f * GELU_K * (x + GELU_A * x * x * x)); }

void gelu_forward(float *out, const float *in, long N) {
#pragma omp parallel for schedule(static) if (N > PAR_MIN_WORK)
    for (long i = 0; i < N; i++) out[i] = in[i] / (1.0f + gelu_exp(in[i])); // x s; e = inf gives -0
}

void gelu_forward_keep(float *out, float *e, const float *in, long N) {
#pragma omp parallel for schedule(static) if (N > PAR_MIN_WORK)
    for (long i = 0; i < N; i++) {
        e[i] = gelu_exp(in[i]);
        out[i] = in[i] / (1.0f + e[i]); // the same operations as gelu_forward
    }
}

// c ? a : b without a branch, so that the loops below vectorize (GCC at -O2 does not if-convert a
// float select): on random signs the branch mispredicts half the time.
static inline float select_f(int c, float a, float b) {
    uint32_t ua, ub, m = 0u - (uint32_t)(c != 0), r;
    memcpy(&ua, &a, sizeof ua);
    memcpy(&ub, &b, sizeof ub);
    r = (ua & m) | (ub & ~m);
    float out;
    memcpy(&out, &r, sizeof out);
    return out;
}

// d/dx x s(2u) = s + x 2 s (1 - s) du/dx,  du/dx = k (1 + 3 a x^2)
// (the same as 0.5 (1 + tanh u) + 0.5 x (1 - tanh^2 u) du/dx). 1 - s is taken as e s when s >= 1/2,
// where it would cancel, and e s is finite there (e <= 1).
static inline float gelu_grad(float x, float e, float dout) {
    const float s = 1.0f / (1.0f + e);
    const float one_minus_s = select_f(s < 0.5f, 1.0f - s, e * s); // e s is NaN for e = inf: not taken
    const float dudx = GELU_K * (1.0f + 3.0f * GELU_A * x * x);
    return dout * s * (1.0f + 2.0f * x * one_minus_s * dudx);
}

void gelu_backward(float *din, const float *dout, const float *in, long N) {
#pragma omp parallel for schedule(static) if (N > PAR_MIN_WORK)
    for (long i = 0; i < N; i++) din[i] += gelu_grad(in[i], gelu_exp(in[i]), dout[i]);
}

void gelu_backward_kept(float *din, const float *dout, const float *in, const float *e, long N) {
#pragma omp parallel for simd schedule(static) if (N > PAR_MIN_WORK)
    for (long i = 0; i < N; i++) din[i] += gelu_grad(in[i], e[i], dout[i]);
}

// sigmoid that never produces NaN: for very negative x, expf(-x) = inf gives exactly 0
static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

void silu_forward(float *out, const float *in, long N) {
#pragma omp parallel for schedule(static) if (N > PAR_MIN_WORK)
    for (long i = 0; i < N; i++) out[i] = in[i] * sigmoidf(in[i]);
}

// d/dx x s(x) = s (1 + x (1 - s))
void silu_backward(float *din, const float *dout, const float *in, long N) {
#pragma omp parallel for schedule(static) if (N > PAR_MIN_WORK)
    for (long i = 0; i < N; i++) {
        float x = in[i], s = sigmoidf(x);
        din[i] += dout[i] * s * (1.0f + x * (1.0f - s));
    }
}
