// test_layers.c: src/nn/layers.c. Forward values against hand-computed numbers, every backward
// against central finite differences on tiny shapes, accumulation (+=) and NULL gradients,
// adaLN rows inside a wider buffer (cstride > C), and bit-identical results for 1 and 2 threads.
//
// Finite-difference tolerance: eps = 1e-3 on float inputs. The forward runs in float, so each
// probe loss carries rounding noise of about 1e-7 relative per affected output; divided by the
// 2e-3 step that is ~1e-4 absolute on an O(1) derivative, and the O(eps^2) truncation error of
// central differences is ~1e-6. A tolerance of 1e-2 on |a - n| / max(1e-3, |a| + |n|) thus leaves
// a wide margin for the noise, while a wrong formula (a missing term, a wrong sign, a wrong
// row) gives errors of order 0.1 to 1.
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "gradcheck.h"
#include "nn/layers.h"
#include "test.h"

#define SEED 20251018u
#define FD_EPS 1e-3f
#define FD_TOL 1e-2

// n normal draws times `scale` plus `shift`, from stream `stream` of the test seed (caller frees)
static float *randn(size_t n, uint64_t stream, float scale, float shift) {
    float *x = cg_malloc(n * sizeof(float));
    cg_rng_fill_normal(x, n, SEED, stream, 0);
    for (size_t i = 0; i < n; i++) x[i] = x[i] * scale + shift;
    return x;
}
static float *zeros(size_t n) { return cg_calloc(n, sizeof(float)); }

// max |a - b| / (|b| + 1e-30) style check: a == k * b within a relative tolerance
static int all_near_scaled(const float *a, const float *b, float k, size_t n, double rtol) {
    for (size_t i = 0; i < n; i++)
        if (fabs((double)a[i] - (double)k * b[i]) > rtol * (fabs((double)k * b[i]) + 1e-6)) return 0;
    return 1;
}

// ---- linear ------------------------------------------------------------------------------------

static void test_linear_forward_values(void) {
    // in (2, 3), w (2, 3), b (2): out = in @ w^T + b computed by hand
    float in[6] = {1, 2, 3, 4, 5, 6};
    float w[6] = {1, 0, -1, 0.5f, 0.5f, 0.5f};
    float b[2] = {0.1f, -0.2f};
    float out[4];
    float want_b[4] = {-1.9f, 2.8f, -1.9f, 7.3f};
    float want_nob[4] = {-2.0f, 3.0f, -2.0f, 7.5f};
    linear_forward(out, in, w, b, 2, 3, 2);
    for (int i = 0; i < 4; i++) EXPECT_NEAR(out[i], want_b[i], 1e-6);
    for (int i = 0; i < 4; i++) out[i] = NAN; // without bias the old contents must not leak in
    linear_forward(out, in, w, NULL, 2, 3, 2);
    for (int i = 0; i < 4; i++) EXPECT_NEAR(out[i], want_nob[i], 1e-6);
}

typedef struct {
    float *out, *in, *w, *b, *R;
    int N, C, OC;
} LinearCtx;

static double linear_probe(void *p) {
    LinearCtx *c = p;
    linear_forward(c->out, c->in, c->w, c->b, c->N, c->C, c->OC);
    return gc_dot(c->out, c->R, (size_t)c->N * c->OC);
}

static void test_linear_gradcheck(void) {
    int N = 3, C = 5, OC = 4;
    LinearCtx c = {zeros(N * OC), randn(N * C, 1, 1, 0), randn(OC * C, 2, 1, 0), randn(OC, 3, 1, 0),
                   randn(N * OC, 4, 1, 0), N, C, OC};
    float *din = zeros(N * C), *dw = zeros(OC * C), *db = zeros(OC);
    linear_backward(din, dw, db, c.R, c.in, c.w, N, C, OC);
    double e_in = gradcheck("linear.din", c.in, din, N * C, linear_probe, &c, FD_EPS, FD_TOL);
    double e_w = gradcheck("linear.dw", c.w, dw, OC * C, linear_probe, &c, FD_EPS, FD_TOL);
    double e_b = gradcheck("linear.db", c.b, db, OC, linear_probe, &c, FD_EPS, FD_TOL);
    EXPECT(e_in < FD_TOL && e_w < FD_TOL && e_b < FD_TOL, "din %g dw %g db %g", e_in, e_w, e_b);
    free(c.out), free(c.in), free(c.w), free(c.b), free(c.R), free(din), free(dw), free(db);
}

static void test_linear_accumulates_and_skips_null(void) {
    int N = 3, C = 5, OC = 4;
    float *in = randn(N * C, 11, 1, 0), *w = randn(OC * C, 12, 1, 0), *dout = randn(N * OC, 13, 1, 0);
    float *din = zeros(N * C), *dw = zeros(OC * C), *db = zeros(OC);
    float *din1 = zeros(N * C), *dw1 = zeros(OC * C), *db1 = zeros(OC);
    linear_backward(din1, dw1, db1, dout, in, w, N, C, OC);
    linear_backward(din, dw, db, dout, in, w, N, C, OC);
    linear_backward(din, dw, db, dout, in, w, N, C, OC);
    EXPECT(all_near_scaled(din, din1, 2, N * C, 1e-6), "din not doubled");
    EXPECT(all_near_scaled(dw, dw1, 2, OC * C, 1e-6), "dw not doubled");
    EXPECT(all_near_scaled(db, db1, 2, OC, 1e-6), "db not doubled");
    // each gradient alone, the others NULL, gives the same numbers
    memset(din, 0, N * C * sizeof(float)), memset(dw, 0, OC * C * sizeof(float)), memset(db, 0, OC * sizeof(float));
    linear_backward(din, NULL, NULL, dout, in, w, N, C, OC);
    linear_backward(NULL, dw, NULL, dout, in, w, N, C, OC);
    linear_backward(NULL, NULL, db, dout, in, w, N, C, OC);
    linear_backward(NULL, NULL, NULL, dout, in, w, N, C, OC);
    EXPECT(memcmp(din, din1, N * C * sizeof(float)) == 0, "din alone differs");
    EXPECT(memcmp(dw, dw1, OC * C * sizeof(float)) == 0, "dw alone differs");
    EXPECT(memcmp(db, db1, OC * sizeof(float)) == 0, "db alone differs");
    // db is the column sum of dout
    for (int o = 0; o < OC; o++) {
        double s = 0;
        for (int n = 0; n < N; n++) s += dout[n * OC + o];
        EXPECT_NEAR(db1[o], s, 1e-6);
    }
    free(in), free(w), free(dout), free(din), free(dw), free(db), free(din1), free(dw1), free(db1);
}

// ---- layer norm --------------------------------------------------------------------------------

static void test_layernorm_forward_values(void) {
    int N = 4, C = 8;
    float *in = randn(N * C, 21, 3, 5), *w = randn(C, 22, 1, 1), *b = randn(C, 23, 1, 0);
    float *out = zeros(N * C), *out_aff = zeros(N * C), *mean = zeros(N), *rstd = zeros(N);
    layernorm_forward(out, mean, rstd, in, NULL, NULL, N, C);
    for (int n = 0; n < N; n++) {
        double m = 0, v = 0, om = 0, ov = 0;
        for (int c = 0; c < C; c++) m += in[n * C + c], om += out[n * C + c];
        m /= C, om /= C;
        for (int c = 0; c < C; c++) {
            v += (in[n * C + c] - m) * (in[n * C + c] - m);
            ov += (out[n * C + c] - om) * (out[n * C + c] - om);
        }
        v /= C, ov /= C;
        EXPECT_NEAR(mean[n], m, 1e-5);
        EXPECT_NEAR(rstd[n], 1.0 / sqrt(v + 1e-6), 1e-5 / sqrt(v));
        EXPECT_NEAR(om, 0.0, 1e-6);         // each row: mean 0 ...
        EXPECT_NEAR(ov, v / (v + 1e-6), 1e-5); // ... and variance 1 (less the tiny eps)
    }
    layernorm_forward(out_aff, mean, rstd, in, w, b, N, C);
    for (int i = 0; i < N * C; i++) EXPECT_NEAR(out_aff[i], out[i] * w[i % C] + b[i % C], 1e-5);
    // a constant row normalizes to 0 with rstd = 1/sqrt(eps), no NaN
    for (int c = 0; c < C; c++) in[c] = 3.0f;
    layernorm_forward(out, mean, rstd, in, NULL, NULL, 1, C);
    for (int c = 0; c < C; c++) EXPECT(out[c] == 0.0f, "constant row gave %g", out[c]);
    EXPECT_NEAR(rstd[0], 1000.0, 1e-2);
    free(in), free(w), free(b), free(out), free(out_aff), free(mean), free(rstd);
}

typedef struct {
    float *out, *mean, *rstd, *in, *w, *b, *R;
    int N, C;
} LayernormCtx;

static double layernorm_probe(void *p) {
    LayernormCtx *c = p;
    layernorm_forward(c->out, c->mean, c->rstd, c->in, c->w, c->b, c->N, c->C);
    return gc_dot(c->out, c->R, (size_t)c->N * c->C);
}

static void test_layernorm_gradcheck(void) {
    int B = 2, T = 3, C = 4, N = B * T;
    for (int affine = 0; affine <= 1; affine++) {
        LayernormCtx c = {zeros(N * C), zeros(N), zeros(N), randn(N * C, 31, 1.5f, 0.3f),
                          affine ? randn(C, 32, 0.5f, 1) : NULL, affine ? randn(C, 33, 1, 0) : NULL,
                          randn(N * C, 34, 1, 0), N, C};
        float *din = zeros(N * C), *dw = zeros(C), *db = zeros(C);
        layernorm_probe(&c); // fills mean and rstd for the backward
        layernorm_backward(din, affine ? dw : NULL, affine ? db : NULL, c.R, c.in, c.w, c.mean, c.rstd, N, C);
        double e = gradcheck(affine ? "layernorm.din" : "layernorm(no aff).din", c.in, din, N * C,
                             layernorm_probe, &c, FD_EPS, FD_TOL);
        EXPECT(e < FD_TOL, "din %g", e);
        if (affine) {
            double ew = gradcheck("layernorm.dw", c.w, dw, C, layernorm_probe, &c, FD_EPS, FD_TOL);
            double eb = gradcheck("layernorm.db", c.b, db, C, layernorm_probe, &c, FD_EPS, FD_TOL);
            EXPECT(ew < FD_TOL && eb < FD_TOL, "dw %g db %g", ew, eb);
            // accumulation: a second backward doubles every gradient
            float *din1 = zeros(N * C), *dw1 = zeros(C), *db1 = zeros(C);
            layernorm_backward(din1, dw1, db1, c.R, c.in, c.w, c.mean, c.rstd, N, C);
            layernorm_backward(din1, dw1, db1, c.R, c.in, c.w, c.mean, c.rstd, N, C);
            EXPECT(all_near_scaled(din1, din, 2, N * C, 1e-6), "din not doubled");
            EXPECT(all_near_scaled(dw1, dw, 2, C, 1e-6), "dw not doubled");
            EXPECT(all_near_scaled(db1, db, 2, C, 1e-6), "db not doubled");
            // NULL gradients are skipped
            memset(dw1, 0, C * sizeof(float));
            layernorm_backward(NULL, dw1, NULL, c.R, c.in, c.w, c.mean, c.rstd, N, C);
            EXPECT(memcmp(dw1, dw, C * sizeof(float)) == 0, "dw alone differs");
            free(din1), free(dw1), free(db1);
        }
        free(c.out), free(c.mean), free(c.rstd), free(c.in), free(c.w), free(c.b), free(c.R);
        free(din), free(dw), free(db);
    }
}

// ---- adaLN modulation --------------------------------------------------------------------------

// The conditioning lives in a (B, 3C) buffer: shift = ada[:, 0:C], scale = ada[:, C:2C], the third
// chunk belongs to someone else and must be left alone (cstride = 3C).
typedef struct {
    float *out, *in, *ada, *R;
    int B, T, C;
} ModulateCtx;

static double modulate_probe(void *p) {
    ModulateCtx *c = p;
    modulate_forward(c->out, c->in, c->ada, c->ada + c->C, c->B, c->T, c->C, 3 * c->C);
    return gc_dot(c->out, c->R, (size_t)c->B * c->T * c->C);
}

static void test_modulate(void) {
    int B = 2, T = 3, C = 4, S = 3 * C;
    ModulateCtx c = {zeros(B * T * C), randn(B * T * C, 41, 1, 0), randn(B * S, 42, 0.5f, 0),
                     randn(B * T * C, 43, 1, 0), B, T, C};
    // values: element by element against the formula with explicit indices
    modulate_probe(&c);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int ch = 0; ch < C; ch++) {
                size_t i = ((size_t)b * T + t) * C + ch;
                float want = c.in[i] * (1.0f + c.ada[b * S + C + ch]) + c.ada[b * S + ch];
                EXPECT_NEAR(c.out[i], want, 1e-6);
            }
    float *din = zeros(B * T * C), *dada = zeros(B * S);
    modulate_backward(din, dada, dada + C, c.R, c.in, c.ada + C, B, T, C, S);
    double e_in = gradcheck("modulate.din", c.in, din, B * T * C, modulate_probe, &c, FD_EPS, FD_TOL);
    double e_ada = gradcheck("modulate.dshift|dscale", c.ada, dada, B * S, modulate_probe, &c, FD_EPS, FD_TOL);
    EXPECT(e_in < FD_TOL && e_ada < FD_TOL, "din %g dada %g", e_in, e_ada);
    for (int b = 0; b < B; b++)
        for (int ch = 2 * C; ch < S; ch++) EXPECT(dada[b * S + ch] == 0.0f, "wrote outside shift/scale");
    // accumulation and NULL pointers
    float *din2 = zeros(B * T * C), *dada2 = zeros(B * S);
    modulate_backward(din2, dada2, dada2 + C, c.R, c.in, c.ada + C, B, T, C, S);
    modulate_backward(din2, NULL, NULL, c.R, c.in, c.ada + C, B, T, C, S);
    modulate_backward(NULL, dada2, dada2 + C, c.R, c.in, c.ada + C, B, T, C, S);
    EXPECT(all_near_scaled(din2, din, 2, B * T * C, 1e-6), "din not doubled");
    EXPECT(all_near_scaled(dada2, dada, 2, B * S, 1e-6), "dshift/dscale not doubled");
    free(c.out), free(c.in), free(c.ada), free(c.R), free(din), free(dada), free(din2), free(dada2);
}

// ---- gated residual ----------------------------------------------------------------------------

// gate = ada[:, C:2C] of a (B, 2C) buffer (cstride = 2C)
typedef struct {
    float *out, *res, *x, *ada, *R;
    int B, T, C;
} GateCtx;

static double gate_probe(void *p) {
    GateCtx *c = p;
    gate_residual_forward(c->out, c->res, c->x, c->ada + c->C, c->B, c->T, c->C, 2 * c->C);
    return gc_dot(c->out, c->R, (size_t)c->B * c->T * c->C);
}

static void test_gate_residual(void) {
    int B = 2, T = 3, C = 4, S = 2 * C, n = B * T * C;
    GateCtx c = {zeros(n), randn(n, 51, 1, 0), randn(n, 52, 1, 0), randn(B * S, 53, 1, 0),
                 randn(n, 54, 1, 0), B, T, C};
    gate_probe(&c);
    for (int i = 0; i < n; i++) {
        int b = i / (T * C), ch = i % C;
        EXPECT_NEAR(c.out[i], c.res[i] + c.ada[b * S + C + ch] * c.x[i], 1e-6);
    }
    // out may alias res
    float *acc = zeros(n);
    memcpy(acc, c.res, n * sizeof(float));
    gate_residual_forward(acc, acc, c.x, c.ada + C, B, T, C, S);
    EXPECT(memcmp(acc, c.out, n * sizeof(float)) == 0, "in-place result differs");

    float *dres = zeros(n), *dx = zeros(n), *dada = zeros(B * S);
    gate_residual_backward(dres, dx, dada + C, c.R, c.x, c.ada + C, B, T, C, S);
    double e_r = gradcheck("gate_residual.dres", c.res, dres, n, gate_probe, &c, FD_EPS, FD_TOL);
    double e_x = gradcheck("gate_residual.dx", c.x, dx, n, gate_probe, &c, FD_EPS, FD_TOL);
    double e_g = gradcheck("gate_residual.dgate", c.ada, dada, B * S, gate_probe, &c, FD_EPS, FD_TOL);
    EXPECT(e_r < FD_TOL && e_x < FD_TOL && e_g < FD_TOL, "dres %g dx %g dgate %g", e_r, e_x, e_g);
    // dres may alias dout: the buffer becomes 2 dout and dx, dgate are unaffected
    float *d = zeros(n), *dx2 = zeros(n), *dada2 = zeros(B * S);
    memcpy(d, c.R, n * sizeof(float));
    gate_residual_backward(d, dx2, dada2 + C, d, c.x, c.ada + C, B, T, C, S);
    EXPECT(all_near_scaled(d, c.R, 2, n, 0), "aliased dres is not 2 dout");
    EXPECT(memcmp(dx2, dx, n * sizeof(float)) == 0, "aliased dres changed dx");
    EXPECT(memcmp(dada2, dada, B * S * sizeof(float)) == 0, "aliased dres changed dgate");
    gate_residual_backward(NULL, dx2, NULL, c.R, c.x, c.ada + C, B, T, C, S);
    EXPECT(all_near_scaled(dx2, dx, 2, n, 1e-6), "dx not doubled");
    free(c.out), free(c.res), free(c.x), free(c.ada), free(c.R), free(acc);
    free(dres), free(dx), free(dada), free(d), free(dx2), free(dada2);
}

static void test_residual(void) {
    long n = 7;
    float *a = randn(n, 61, 1, 0), *b = randn(n, 62, 1, 0), *out = zeros(n), *dout = randn(n, 63, 1, 0);
    float *da = zeros(n), *db = zeros(n);
    residual_forward(out, a, b, n);
    for (long i = 0; i < n; i++) EXPECT(out[i] == a[i] + b[i], "out[%ld]", i);
    residual_backward(da, db, dout, n);
    residual_backward(da, NULL, dout, n);
    residual_backward(NULL, NULL, dout, n);
    for (long i = 0; i < n; i++) {
        EXPECT(da[i] == dout[i] + dout[i], "da[%ld]", i);
        EXPECT(db[i] == dout[i], "db[%ld]", i);
    }
    free(a), free(b), free(out), free(dout), free(da), free(db);
}

// ---- activations -------------------------------------------------------------------------------

typedef struct {
    void (*fwd)(float *, const float *, long);
    float *out, *in, *R;
    long n;
} ActCtx;

static double act_probe(void *p) {
    ActCtx *c = p;
    c->fwd(c->out, c->in, c->n);
    return gc_dot(c->out, c->R, (size_t)c->n);
}

// gradcheck an activation on points spread over [-6, 6] plus 0 and +-1
static double act_gradcheck(const char *name, void (*fwd)(float *, const float *, long),
                            void (*bwd)(float *, const float *, const float *, long)) {
    enum { n = 28 };
    ActCtx c = {fwd, zeros(n), randn(n, 71, 2.5f, 0), randn(n, 72, 1, 0), n};
    c.in[0] = 0.0f, c.in[1] = 1.0f, c.in[2] = -1.0f, c.in[3] = 6.0f, c.in[4] = -6.0f;
    float *din = zeros(n);
    bwd(din, c.R, c.in, n);
    double e = gradcheck(name, c.in, din, n, act_probe, &c, FD_EPS, FD_TOL);
    free(c.out), free(c.in), free(c.R), free(din);
    return e;
}

static void test_gelu(void) {
    float in[5] = {0.0f, 1.0f, -1.0f, 50.0f, -50.0f}, out[5], din[5] = {0}, ones[5] = {1, 1, 1, 1, 1};
    gelu_forward(out, in, 5);
    EXPECT_NEAR(out[0], 0.0, 1e-7);
    EXPECT_NEAR(out[1], 0.8411920, 1e-6);  // tanh-form values, from the formula in double
    EXPECT_NEAR(out[2], -0.1588080, 1e-6);
    EXPECT_NEAR(out[3], 50.0, 1e-5);
    EXPECT_NEAR(out[4], 0.0, 1e-7);
    gelu_backward(din, ones, in, 5);
    EXPECT_NEAR(din[0], 0.5, 1e-7);
    EXPECT_NEAR(din[1], 1.0829640, 1e-5); // derivative of the tanh form at +-1
    EXPECT_NEAR(din[2], -0.0829640, 1e-5);
    EXPECT_NEAR(din[3], 1.0, 1e-6);
    EXPECT_NEAR(din[4], 0.0, 1e-6);
    double e = act_gradcheck("gelu.din", gelu_forward, gelu_backward);
    EXPECT(e < FD_TOL, "gelu %g", e);
}

// The branching form gelu_backward had before it went branchless, written out here as the reference.
static float gelu_grad_branching(float x, float dout) {
    const float k = 0.7978845608028654f, a = 0.044715f;
    const float e = expf(-2.0f * k * (x + a * x * x * x));
    const float s = 1.0f / (1.0f + e);
    const float one_minus_s = s < 0.5f ? 1.0f - s : e * s;
    const float dudx = k * (1.0f + 3.0f * a * x * x);
    return dout * s * (1.0f + 2.0f * x * one_minus_s * dudx);
}

// gelu_forward_keep / gelu_backward_kept give gelu_forward / gelu_backward's bits, and both
// backwards the branching reference's, over 40001 inputs in [-100, 100] (both tails, e = inf and
// e = 0 included) and an odd length (the vector loop's remainder).
static void test_gelu_kept_is_bit_identical(void) {
    const long n = 40001;
    float *x = cg_malloc((size_t)n * sizeof(float)), *dout = cg_malloc((size_t)n * sizeof(float));
    float *o1 = cg_malloc((size_t)n * sizeof(float)), *o2 = cg_malloc((size_t)n * sizeof(float));
    float *e = cg_malloc((size_t)n * sizeof(float)), *d1 = zeros((size_t)n), *d2 = zeros((size_t)n);
    float *d3 = zeros((size_t)n);
    for (long i = 0; i < n; i++) {
        x[i] = -100.0f + 200.0f * (float)i / (float)(n - 1);
        dout[i] = (float)((i * 37) % 101 - 50) / 25.0f;
    }
    gelu_forward(o1, x, n);
    gelu_forward_keep(o2, e, x, n);
    EXPECT(memcmp(o1, o2, (size_t)n * sizeof(float)) == 0, "gelu_forward_keep differs from gelu_forward");
    long inf_e = 0, zero_e = 0;
    for (long i = 0; i < n; i++) inf_e += isinf(e[i]), zero_e += e[i] == 0.0f;
    EXPECT(inf_e > 0 && zero_e > 0, "the tails were not reached: %ld inf, %ld zero", inf_e, zero_e);
    gelu_backward(d1, dout, x, n);
    gelu_backward_kept(d2, dout, x, e, n);
    for (long i = 0; i < n; i++) d3[i] += gelu_grad_branching(x[i], dout[i]); // += as the layers do (-0 -> +0)
    long diff12 = 0, diff13 = 0, nonfinite = 0;
    for (long i = 0; i < n; i++) {
        diff12 += memcmp(&d1[i], &d2[i], sizeof(float)) != 0;
        diff13 += memcmp(&d1[i], &d3[i], sizeof(float)) != 0;
        nonfinite += !isfinite(d1[i]);
    }
    EXPECT(diff12 == 0 && diff13 == 0 && nonfinite == 0,
           "kept vs recomputed: %ld differ; branchless vs branching: %ld differ; %ld not finite", diff12, diff13,
           nonfinite);
    free(x), free(dout), free(o1), free(o2), free(e), free(d1), free(d2), free(d3);
}

static void test_silu(void) {
    float in[5] = {0.0f, 1.0f, -1.0f, 100.0f, -1000.0f}, out[5], din[5] = {0}, ones[5] = {1, 1, 1, 1, 1};
    silu_forward(out, in, 5);
    EXPECT_NEAR(out[0], 0.0, 1e-7);
    EXPECT_NEAR(out[1], 0.7310586, 1e-6);
    EXPECT_NEAR(out[2], -0.2689414, 1e-6);
    EXPECT_NEAR(out[3], 100.0, 1e-5);
    EXPECT_NEAR(out[4], 0.0, 1e-7); // expf overflow must give 0, not NaN
    silu_backward(din, ones, in, 5);
    EXPECT_NEAR(din[0], 0.5, 1e-7);
    EXPECT_NEAR(din[1], 0.9276705, 1e-6); // s (1 + x (1 - s)) at +-1
    EXPECT_NEAR(din[2], 0.0723295, 1e-6);
    EXPECT_NEAR(din[3], 1.0, 1e-6);
    EXPECT_NEAR(din[4], 0.0, 1e-7);
    double e = act_gradcheck("silu.din", silu_forward, silu_backward);
    EXPECT(e < FD_TOL, "silu %g", e);
}

// ---- thread-count independence -----------------------------------------------------------------

// Runs forward + backward of linear, layer norm, modulate, gated residual and GELU on shapes big
// enough to take the parallel paths, with `threads` OpenMP threads; every result lands in out[k].
enum { TN = 384, TC = 192, TOC = 256, TB = 2, TT = 256 };
enum {
    LIN_OUT, LIN_DIN, LIN_DW, LIN_DB, ROW_OUT, ROW_DW, FEW_OUT, FEW_DIN, FEW_DW, LN_OUT, LN_MEAN, LN_RSTD, LN_DIN, LN_DW, LN_DB,
    MOD_OUT, MOD_DIN, MOD_DADA, GATE_OUT, GATE_DX, GATE_DADA, GELU_OUT, GELU_DIN, N_RESULTS
};
static const char *result_names[N_RESULTS] = {
    "lin_out", "lin_din", "lin_dw", "lin_db", "row_out", "row_dw", "few_out", "few_din", "few_dw", "ln_out", "ln_mean", "ln_rstd",
    "ln_din", "ln_dw", "ln_db", "mod_out", "mod_din", "mod_dada", "gate_out", "gate_dx", "gate_dada",
    "gelu_out", "gelu_din"};
static const size_t result_sizes[N_RESULTS] = {
    TN * TOC, TN * TC, TOC * TC, TOC, TOC, TOC * TC, 8 * TOC, 8 * TC, TOC * TC, TN * TC, TN, TN, TN * TC, TC, TC,
    TB * TT * TC, TB * TT * TC, TB * 3 * TC, TB * TT * TC, TB * TT * TC, TB * 3 * TC, TN * TC, TN * TC};

static void thread_run(float *o[N_RESULTS], int threads, const float *in, const float *w,
                       const float *b, const float *dout_lin, const float *dout_c, const float *ada) {
    for (int k = 0; k < N_RESULTS; k++) o[k] = zeros(result_sizes[k]);
    omp_set_num_threads(threads);
    linear_forward(o[LIN_OUT], in, w, b, TN, TC, TOC);
    linear_backward(o[LIN_DIN], o[LIN_DW], o[LIN_DB], dout_lin, in, w, TN, TC, TOC);
    linear_forward(o[ROW_OUT], in, w, b, 1, TC, TOC); // a single row (sgemm with M = 1)
    linear_backward(NULL, o[ROW_DW], NULL, dout_lin, in, w, 1, TC, TOC);
    // 8 rows (an adaLN projection of a batch): one row chunk, too small for our parallel loop, big
    // enough that OpenBLAS would thread it by itself
    linear_forward(o[FEW_OUT], in, w, b, 8, TC, TOC);
    linear_backward(o[FEW_DIN], o[FEW_DW], NULL, dout_lin, in, w, 8, TC, TOC);
    layernorm_forward(o[LN_OUT], o[LN_MEAN], o[LN_RSTD], in, w, b, TN, TC);
    layernorm_backward(o[LN_DIN], o[LN_DW], o[LN_DB], dout_c, in, w, o[LN_MEAN], o[LN_RSTD], TN, TC);
    modulate_forward(o[MOD_OUT], in, ada, ada + TC, TB, TT, TC, 3 * TC);
    modulate_backward(o[MOD_DIN], o[MOD_DADA], o[MOD_DADA] + TC, dout_c, in, ada + TC, TB, TT, TC, 3 * TC);
    gate_residual_forward(o[GATE_OUT], dout_c, in, ada + 2 * TC, TB, TT, TC, 3 * TC);
    gate_residual_backward(NULL, o[GATE_DX], o[GATE_DADA] + 2 * TC, dout_c, in, ada + 2 * TC, TB, TT,
                           TC, 3 * TC);
    gelu_forward(o[GELU_OUT], in, TN * TC);
    gelu_backward(o[GELU_DIN], dout_c, in, TN * TC);
}

static void test_thread_count_independence(void) {
    _Static_assert(TB * TT >= TN, "the (B, T, C) tensors reuse the (N, C) inputs");
    float *in = randn((size_t)TB * TT * TC, 81, 1, 0), *w = randn(TOC * TC, 82, 0.1f, 0);
    float *b = randn(TOC, 83, 1, 0), *dout_lin = randn(TN * TOC, 84, 1, 0);
    float *dout_c = randn((size_t)TB * TT * TC, 85, 1, 0), *ada = randn(TB * 3 * TC, 86, 0.3f, 0);
    float *r1[N_RESULTS], *r2[N_RESULTS];
    int saved = omp_get_max_threads();
    thread_run(r1, 1, in, w, b, dout_lin, dout_c, ada);
    thread_run(r2, 2, in, w, b, dout_lin, dout_c, ada);
    // the matmuls pin BLAS to one thread inside their own loop only: the caller's setting survives
    EXPECT(omp_get_max_threads() == 2, "thread setting changed to %d", omp_get_max_threads());
    omp_set_num_threads(saved);
    for (int k = 0; k < N_RESULTS; k++) {
        EXPECT(memcmp(r1[k], r2[k], result_sizes[k] * sizeof(float)) == 0,
               "%s differs between 1 and 2 threads", result_names[k]);
        free(r1[k]), free(r2[k]);
    }
    free(in), free(w), free(b), free(dout_lin), free(dout_c), free(ada);
}

int main(void) {
    RUN(test_linear_forward_values);
    RUN(test_linear_gradcheck);
    RUN(test_linear_accumulates_and_skips_null);
    RUN(test_layernorm_forward_values);
    RUN(test_layernorm_gradcheck);
    RUN(test_modulate);
    RUN(test_gate_residual);
    RUN(test_residual);
    RUN(test_gelu);
    RUN(test_gelu_kept_is_bit_identical);
    RUN(test_silu);
    RUN(test_thread_count_independence);
    return test_summary("layers");
}
