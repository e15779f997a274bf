// bench_nn.c: throughput of the neural-network core on this machine.
//   make bench && OMP_NUM_THREADS=2 build/bench/bench_nn
// Prints matrix-product GFLOP/s at the shapes the generator uses, then forward and backward time
// of each layer at a generator-sized activation (B=8 images, T=144 tokens, C=128).
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/check.h"
#include "core/rng.h"
#include "core/timer.h"
#include "nn/attention.h"
#include "nn/layers.h"
#include "models/dit_block.h"

static float *randn(size_t n, uint64_t stream) {
    float *p = cg_malloc(n * sizeof(float));
    cg_rng_fill_normal(p, n, 1234, stream, 0);
    for (size_t i = 0; i < n; i++) p[i] *= 0.1f;
    return p;
}

// Run stmt until at least min_s seconds passed (after one warm-up run); var = seconds per run.
#define TIME_IT(var, min_s, stmt)                                                                  \
    do {                                                                                           \
        stmt;                                                                                      \
        int reps_ = 0;                                                                             \
        double t0_ = cg_now(), el_;                                                                \
        do { stmt; reps_++; el_ = cg_now() - t0_; } while (el_ < (min_s));                         \
        var = el_ / reps_;                                                                         \
    } while (0)

static void bench_sgemm(int M, int K, int N) {
    float *a = randn((size_t)M * K, 1), *b = randn((size_t)N * K, 2), *c = randn((size_t)M * N, 3);
    double s;
    TIME_IT(s, 0.3, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, a, K, b, K, 0.0f, c, N));
    printf("sgemm  M=%-5d K=%-4d N=%-4d  %8.3f ms  %7.1f GFLOP/s\n", M, K, N, s * 1e3, 2.0 * M * N * K / s * 1e-9);
    free(a), free(b), free(c);
}

int main(void) {
    printf("threads: %d\n", omp_get_max_threads());
    bench_sgemm(512, 512, 512);
    bench_sgemm(1152, 128, 384);  // qkv projection, width 128, batch 8 x 144 tokens
    bench_sgemm(1152, 128, 512);  // MLP up
    bench_sgemm(1152, 512, 128);  // MLP down
    bench_sgemm(1152, 192, 768);  // MLP up, width 192

    const int B = 8, T = 144, C = 128, NH = 4;
    const size_t N = (size_t)B * T;
    float *x = randn(N * C, 4), *dx = randn(N * C, 5), *out = randn(N * 4 * C, 6), *dout = randn(N * 4 * C, 7);
    float *w = randn((size_t)4 * C * C, 8), *dw = randn((size_t)4 * C * C, 9), *bias = randn(4 * C, 10), *db = randn(4 * C, 11);
    float *mean = randn(N, 12), *rstd = randn(N, 13);
    printf("layers at B=%d T=%d C=%d (N=%zu rows):\n", B, T, C, N);
    double f, bw;
    TIME_IT(f, 0.2, linear_forward(out, x, w, bias, (int)N, C, 4 * C));
    TIME_IT(bw, 0.2, linear_backward(dx, dw, db, dout, x, w, (int)N, C, 4 * C));
    printf("  linear C->4C       fwd %7.3f ms  bwd %7.3f ms\n", f * 1e3, bw * 1e3);
    TIME_IT(f, 0.2, layernorm_forward(out, mean, rstd, x, NULL, NULL, (int)N, C));
    TIME_IT(bw, 0.2, layernorm_backward(dx, NULL, NULL, dout, x, NULL, mean, rstd, (int)N, C));
    printf("  layernorm          fwd %7.3f ms  bwd %7.3f ms\n", f * 1e3, bw * 1e3);
    TIME_IT(f, 0.2, gelu_forward(out, x, (long)(N * C)));
    TIME_IT(bw, 0.2, gelu_backward(dx, dout, x, (long)(N * C)));
    printf("  gelu (N x C)       fwd %7.3f ms  bwd %7.3f ms\n", f * 1e3, bw * 1e3);
    float *qkv = randn(N * 3 * C, 14), *dqkv = randn(N * 3 * C, 15);
    float *att = cg_malloc((size_t)B * NH * T * T * sizeof(float));
    float *scratch = cg_malloc(attention_scratch_floats(B, T, C, NH) * sizeof(float));
    TIME_IT(f, 0.2, attention_forward(out, att, qkv, NULL, B, T, C, NH));
    TIME_IT(bw, 0.2, attention_backward(dqkv, scratch, dout, qkv, att, B, T, C, NH));
    printf("  attention NH=%d     fwd %7.3f ms  bwd %7.3f ms\n", NH, f * 1e3, bw * 1e3);

    // one DiT block at the generator's shapes: width 128 and 192
    int widths[2] = {128, 192}, heads[2] = {4, 6};
    for (int k = 0; k < 2; k++) {
        int Cw = widths[k], H = heads[k];
        ParamTable t;
        param_table_init(&t);
        dit_block_register(&t, "b.", Cw);
        float *p = cg_calloc(t.total, sizeof(float)), *g = cg_calloc(t.total, sizeof(float));
        DiTBlockWeights w, gw;
        dit_block_bind(&w, p, &t, "b.", Cw);
        dit_block_bind(&gw, g, &t, "b.", Cw);
        cg_rng rng = cg_rng_make(7, 0);
        dit_block_init(&w, Cw, &rng);
        for (size_t i = 0; i < (size_t)6 * Cw * Cw; i++) w.ada_w[i] = 0.01f * (float)cg_rng_normal(&rng);
        float *acts_buf = cg_calloc(dit_block_acts_floats(B, T, Cw, H), sizeof(float));
        float *scr = cg_calloc(dit_block_scratch_floats(B, T, Cw, H), sizeof(float));
        DiTBlockActs acts;
        dit_block_acts_bind(&acts, acts_buf, B, T, Cw, H);
        float *bx = randn(N * Cw, 20), *by = randn(N * Cw, 21), *bdy = randn(N * Cw, 22), *bdx = randn(N * Cw, 23);
        float *cond = randn((size_t)B * Cw, 24), *dcond = randn((size_t)B * Cw, 25);
        TIME_IT(f, 0.5, dit_block_forward(by, &acts, bx, cond, NULL, &w, B, T, Cw, H));
        TIME_IT(bw, 0.5, dit_block_backward(bdx, dcond, &gw, scr, bdy, &acts, bx, cond, NULL, &w, B, T, Cw, H));
        double flops = 2.0 * (double)N * (double)t.total + 4.0 * B * H * (double)T * T * (Cw / H);
        printf("DiT block C=%d NH=%d  fwd %7.3f ms  bwd %7.3f ms  (%.1f GFLOP/s fwd)\n", Cw, H, f * 1e3, bw * 1e3,
               flops / f * 1e-9);
        free(p), free(g), free(acts_buf), free(scr), free(bx), free(by), free(bdy), free(bdx), free(cond), free(dcond);
        param_table_free(&t);
    }
    return 0;
}
