// test_loss.c: src/nn/loss.c. Loss values against hand-computed numbers and an independent double
// reference, every backward against central finite differences on tiny shapes, accumulation (+=),
// NULL gradients, extreme logits, and bit-identical results for 1 and 2 threads.
//
// Finite differences: tolerance 1e-2 on |a - n| / max(1e-3, |a| + |n|), as in test_layers.c (a
// wrong formula errs by 0.1 or more). Tensor outputs (l2norm) are probed as sum(out * R) with
// eps = 1e-3. The scalar losses come back as a float, so the numeric derivative is quantized in
// steps of ulp(L) / (2 eps): about 6e-5 at eps = 1e-3 for L ~ 1, which is 6% of the 1e-3 floor and
// fails on the tiny gradients of low-probability logits. They use eps = 1e-2 instead: steps of
// 6e-6, while the truncation error of central differences, eps^2 |f'''| / 6, stays ~1e-5 for
// these smooth functions (MSE is quadratic: none at all). Losses are probed times a fixed weight
// (dloss = DLOSS), so the dloss scaling is checked as well.
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "gradcheck.h"
#include "nn/loss.h"
#include "test.h"

#define SEED 20251019u
#define FD_EPS 1e-3f   // tensor outputs
#define LOSS_EPS 1e-2f // scalar float losses (see above)
#define FD_TOL 1e-2
#define DLOSS 0.7f

// ---- MSE ---------------------------------------------------------------------------------------

typedef struct {
    float *pred, *target;
    long n;
} MseCtx;

static double mse_probe(void *p) {
    MseCtx *c = p;
    return (double)DLOSS * mse_forward(c->pred, c->target, c->n);
}

static void test_mse(void) {
    float pred[3] = {1, 2, 3}, target[3] = {1, 0, 5}, d[3] = {0};
    EXPECT_NEAR(mse_forward(pred, target, 3), 8.0 / 3.0, 1e-6); // (0 + 4 + 4) / 3
    mse_backward(d, 0.5f, pred, target, 3);                      // 0.5 * 2 (p - t) / 3
    EXPECT_NEAR(d[0], 0.0, 1e-7);
    EXPECT_NEAR(d[1], 2.0 / 3.0, 1e-6);
    EXPECT_NEAR(d[2], -2.0 / 3.0, 1e-6);
    mse_backward(d, 0.5f, pred, target, 3); // accumulates
    EXPECT_NEAR(d[1], 4.0 / 3.0, 1e-6);

    enum { n = 12 };
    MseCtx c = {gc_randn(n, SEED, 1, 1, 0), gc_randn(n, SEED, 2, 1, 0), n};
    float *dpred = gc_zeros(n);
    mse_backward(dpred, DLOSS, c.pred, c.target, n);
    double e = gradcheck("mse.dpred", c.pred, dpred, n, mse_probe, &c, LOSS_EPS, FD_TOL);
    EXPECT(e < FD_TOL, "mse %g", e);
    free(c.pred), free(c.target), free(dpred);
}

// ---- cross-entropy -----------------------------------------------------------------------------

static void test_crossentropy_values(void) {
    enum { N = 3, V = 7 };
    float logits[N * V], probs[N * V];
    int targets[N] = {0, 3, 6};
    for (int i = 0; i < N * V; i++) logits[i] = 0.3f; // uniform logits: loss log V, probs 1/V
    EXPECT_NEAR(crossentropy_forward(probs, logits, targets, N, V), log(7.0), 1e-6);
    for (int i = 0; i < N * V; i++) EXPECT_NEAR(probs[i], 1.0 / 7.0, 1e-7);

    // logits log(1, 2, 3): probs (1, 2, 3) / 6, target 2 gives -log(1/2)
    float l3[3] = {0.0f, logf(2.0f), logf(3.0f)}, p3[3];
    int t3 = 2;
    EXPECT_NEAR(crossentropy_forward(p3, l3, &t3, 1, 3), log(2.0), 1e-6);
    EXPECT_NEAR(p3[0], 1.0 / 6.0, 1e-7);
    EXPECT_NEAR(p3[1], 2.0 / 6.0, 1e-7);
    EXPECT_NEAR(p3[2], 3.0 / 6.0, 1e-7);
    float d3[3] = {0};
    crossentropy_backward(d3, 2.0f, p3, &t3, 1, 3); // dloss (probs - onehot) / N
    EXPECT_NEAR(d3[0], 2.0 / 6.0, 1e-6);
    EXPECT_NEAR(d3[1], 4.0 / 6.0, 1e-6);
    EXPECT_NEAR(d3[2], -1.0, 1e-6);

    // huge logits: no overflow, and -log p stays finite when p underflows to 0 in float
    float big[6] = {1000, 0, -1000, 1000, 0, -1000}, pb[6];
    int tb[2] = {0, 2};
    float loss = crossentropy_forward(pb, big, tb, 2, 3);
    EXPECT_NEAR(loss, 0.5 * (0.0 + 2000.0), 1e-3); // row 0: ~0, row 1: 2000
    EXPECT(pb[0] == 1.0f && pb[2] == 0.0f, "probs %g %g", pb[0], pb[2]);
    float db[6] = {0};
    crossentropy_backward(db, 1.0f, pb, tb, 2, 3);
    EXPECT_NEAR(db[0], 0.0, 1e-7);
    EXPECT_NEAR(db[3], 0.5, 1e-7);  // row 1 puts all mass on logit 0 but wants logit 2
    EXPECT_NEAR(db[5], -0.5, 1e-7);
}

typedef struct {
    float *probs, *logits;
    int *targets;
    int N, V;
} CeCtx;

static double ce_probe(void *p) {
    CeCtx *c = p;
    return (double)DLOSS * crossentropy_forward(c->probs, c->logits, c->targets, c->N, c->V);
}

static void test_crossentropy_gradcheck(void) {
    enum { N = 3, V = 5 };
    int targets[N] = {4, 0, 2};
    CeCtx c = {gc_zeros(N * V), gc_randn(N * V, SEED, 11, 1, 0), targets, N, V};
    float *dl = gc_zeros(N * V), *dl2 = gc_zeros(N * V);
    ce_probe(&c);
    crossentropy_backward(dl, DLOSS, c.probs, targets, N, V);
    double e = gradcheck("crossentropy.dlogits", c.logits, dl, N * V, ce_probe, &c, LOSS_EPS, FD_TOL);
    EXPECT(e < FD_TOL, "crossentropy %g", e);
    ce_probe(&c);
    for (int n = 0; n < N; n++) { // rows of probs sum to 1, rows of dlogits to 0
        double sp = 0, sd = 0;
        for (int v = 0; v < V; v++) sp += c.probs[n * V + v], sd += dl[n * V + v];
        EXPECT_NEAR(sp, 1.0, 1e-6);
        EXPECT_NEAR(sd, 0.0, 1e-6);
    }
    crossentropy_backward(dl2, DLOSS, c.probs, targets, N, V);
    crossentropy_backward(dl2, DLOSS, c.probs, targets, N, V);
    for (int i = 0; i < N * V; i++) EXPECT_NEAR(dl2[i], 2.0 * dl[i], 1e-6);
    free(c.probs), free(c.logits), free(dl), free(dl2);
}

// ---- L2 normalization --------------------------------------------------------------------------

typedef struct {
    float *out, *norm, *in, *R;
    int N, D;
} L2Ctx;

static double l2_probe(void *p) {
    L2Ctx *c = p;
    l2norm_forward(c->out, c->norm, c->in, c->N, c->D);
    return gc_dot(c->out, c->R, (size_t)c->N * c->D);
}

static void test_l2norm(void) {
    float in[6] = {3, 4, 0, 0, 0, 0}, out[6], norm[2], din[6] = {0}, dout[6] = {1, 1, 1, 1, 1, 1};
    l2norm_forward(out, norm, in, 2, 3);
    EXPECT_NEAR(out[0], 0.6, 1e-7);
    EXPECT_NEAR(out[1], 0.8, 1e-7);
    EXPECT_NEAR(norm[0], 5.0, 1e-6);
    // a zero row stays zero and its gradient stays finite (norm clamped at 1e-12)
    EXPECT(out[3] == 0.0f && out[4] == 0.0f && out[5] == 0.0f && norm[1] == 0.0f, "zero row");
    l2norm_backward(din, dout, out, norm, 2, 3);
    for (int i = 0; i < 6; i++) EXPECT(isfinite(din[i]), "din[%d] = %g", i, din[i]);
    // (dout - y (y . dout)) / ||x|| with y = (0.6, 0.8, 0), y . dout = 1.4
    EXPECT_NEAR(din[0], (1 - 0.6 * 1.4) / 5, 1e-7);
    EXPECT_NEAR(din[1], (1 - 0.8 * 1.4) / 5, 1e-7);
    EXPECT_NEAR(din[2], 1.0 / 5, 1e-7);

    enum { N = 3, D = 5 };
    L2Ctx c = {gc_zeros(N * D), gc_zeros(N), gc_randn(N * D, SEED, 21, 1, 0), gc_randn(N * D, SEED, 22, 1, 0), N, D};
    float *g = gc_zeros(N * D), *g2 = gc_zeros(N * D);
    l2_probe(&c);
    for (int n = 0; n < N; n++) {
        double s = 0;
        for (int d = 0; d < D; d++) s += (double)c.out[n * D + d] * c.out[n * D + d];
        EXPECT_NEAR(s, 1.0, 1e-6);
    }
    l2norm_backward(g, c.R, c.out, c.norm, N, D);
    double e = gradcheck("l2norm.din", c.in, g, N * D, l2_probe, &c, FD_EPS, FD_TOL);
    EXPECT(e < FD_TOL, "l2norm %g", e);
    l2_probe(&c);
    l2norm_backward(g2, c.R, c.out, c.norm, N, D);
    l2norm_backward(g2, c.R, c.out, c.norm, N, D);
    for (int i = 0; i < N * D; i++) EXPECT_NEAR(g2[i], 2.0 * g[i], 1e-6);
    free(c.out), free(c.norm), free(c.in), free(c.R), free(g), free(g2);
}

// ---- InfoNCE -----------------------------------------------------------------------------------

// The loss computed independently in double: logits, log-softmax over rows and over columns.
static double infonce_reference(const float *a, const float *b, double scale, int N, int D) {
    double *l = cg_malloc((size_t)N * N * sizeof(double));
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int d = 0; d < D; d++) s += (double)a[i * D + d] * b[j * D + d];
            l[i * N + j] = scale * s;
        }
    double loss = 0;
    for (int i = 0; i < N; i++) {
        double sr = 0, sc = 0; // row i over columns, column i over rows
        for (int j = 0; j < N; j++) sr += exp(l[i * N + j]), sc += exp(l[j * N + i]);
        loss += 0.5 * (log(sr) - l[i * N + i]) + 0.5 * (log(sc) - l[i * N + i]);
    }
    free(l);
    return loss / N;
}

static void test_infonce_values(void) {
    // perfectly aligned orthogonal embeddings at a big scale: the loss vanishes
    enum { N = 4, D = 6 };
    float a[N * D] = {0}, probs_ab[N * N], probs_ba[N * N];
    for (int i = 0; i < N; i++) a[i * D + i] = 1.0f;
    float loss = infonce_forward(probs_ab, probs_ba, a, a, 100.0f, N, D);
    EXPECT(loss >= 0.0f && loss < 1e-6f, "aligned loss %g", loss);
    for (int i = 0; i < N; i++) EXPECT_NEAR(probs_ab[i * N + i], 1.0, 1e-6);
    // scale 0: every logit equal, loss log N
    EXPECT_NEAR(infonce_forward(probs_ab, probs_ba, a, a, 0.0f, N, D), log((double)N), 1e-6);

    // random unit embeddings against the double reference; probs_ba is the column softmax
    enum { M = 5, E = 8 };
    float *x = gc_randn(M * E, SEED, 31, 1, 0), *y = gc_randn(M * E, SEED, 32, 1, 0), pab[M * M], pba[M * M];
    for (int i = 0; i < M; i++) {
        double s = 0;
        for (int d = 0; d < E; d++) s += (double)x[i * E + d] * x[i * E + d];
        for (int d = 0; d < E; d++) x[i * E + d] /= (float)sqrt(s);
    }
    float got = infonce_forward(pab, pba, x, y, 7.0f, M, E);
    EXPECT_NEAR(got, infonce_reference(x, y, 7.0, M, E), 1e-5);
    for (int j = 0; j < M; j++) {
        double sc = 0;
        for (int i = 0; i < M; i++) sc += pba[j * M + i];
        EXPECT_NEAR(sc, 1.0, 1e-6);
    }
    // swapping a and b swaps the two directions: same loss
    float got_swapped = infonce_forward(pab, pba, y, x, 7.0f, M, E);
    EXPECT_NEAR(got_swapped, got, 1e-5);
    free(x), free(y);
}

typedef struct {
    float *probs_ab, *probs_ba, *a, *b, *scale;
    int N, D;
} InfoCtx;

static double info_probe(void *p) {
    InfoCtx *c = p;
    return (double)DLOSS * infonce_forward(c->probs_ab, c->probs_ba, c->a, c->b, *c->scale, c->N, c->D);
}

static void test_infonce_gradcheck(void) {
    enum { N = 4, D = 3 };
    float scale = 3.0f;
    InfoCtx c = {gc_zeros(N * N), gc_zeros(N * N), gc_randn(N * D, SEED, 41, 0.7f, 0), gc_randn(N * D, SEED, 42, 0.7f, 0),
                 &scale, N, D};
    float *da = gc_zeros(N * D), *db = gc_zeros(N * D), dscale = 0;
    info_probe(&c);
    infonce_backward(da, db, &dscale, DLOSS, c.probs_ab, c.probs_ba, c.a, c.b, scale, N, D);
    double ea = gradcheck("infonce.da", c.a, da, N * D, info_probe, &c, LOSS_EPS, FD_TOL);
    double eb = gradcheck("infonce.db", c.b, db, N * D, info_probe, &c, LOSS_EPS, FD_TOL);
    double es = gradcheck("infonce.dscale", &scale, &dscale, 1, info_probe, &c, LOSS_EPS, FD_TOL);
    EXPECT(ea < FD_TOL && eb < FD_TOL && es < FD_TOL, "da %g db %g dscale %g", ea, eb, es);

    // accumulation, and each gradient alone with the others NULL
    info_probe(&c);
    float *da2 = gc_zeros(N * D), *db2 = gc_zeros(N * D), dscale2 = 0;
    infonce_backward(da2, db2, &dscale2, DLOSS, c.probs_ab, c.probs_ba, c.a, c.b, scale, N, D);
    infonce_backward(da2, NULL, NULL, DLOSS, c.probs_ab, c.probs_ba, c.a, c.b, scale, N, D);
    infonce_backward(NULL, db2, NULL, DLOSS, c.probs_ab, c.probs_ba, c.a, c.b, scale, N, D);
    infonce_backward(NULL, NULL, &dscale2, DLOSS, c.probs_ab, c.probs_ba, c.a, c.b, scale, N, D);
    for (int i = 0; i < N * D; i++) {
        EXPECT_NEAR(da2[i], 2.0 * da[i], 1e-6);
        EXPECT_NEAR(db2[i], 2.0 * db[i], 1e-6);
    }
    EXPECT_NEAR(dscale2, 2.0 * dscale, 1e-6);
    free(c.probs_ab), free(c.probs_ba), free(c.a), free(c.b), free(da), free(db), free(da2), free(db2);
}

// ---- thread-count independence -----------------------------------------------------------------

enum { TN = 256, TD = 128, TV = 512 };
enum { INFO_LOSS, INFO_PAB, INFO_PBA, INFO_DA, INFO_DB, INFO_DSCALE, CE_LOSS, CE_PROBS, CE_DL,
       L2_OUT, L2_DIN, MSE_D, N_RESULTS };
static const char *result_names[N_RESULTS] = {"infonce loss", "probs_ab", "probs_ba", "da", "db",
                                              "dscale", "ce loss", "ce probs", "dlogits", "l2 out",
                                              "l2 din", "mse dpred"};
static const size_t result_sizes[N_RESULTS] = {1, TN * TN, TN * TN, TN * TD, TN * TD, 1, 1, TN * TV,
                                               TN * TV, TN * TD, TN * TD, TN * TV};

static void thread_run(float *o[N_RESULTS], int threads, const float *a, const float *b,
                       const float *logits, const int *targets) {
    for (int k = 0; k < N_RESULTS; k++) o[k] = gc_zeros(result_sizes[k]);
    float *norm = gc_zeros(TN);
    omp_set_num_threads(threads);
    o[INFO_LOSS][0] = infonce_forward(o[INFO_PAB], o[INFO_PBA], a, b, 10.0f, TN, TD);
    infonce_backward(o[INFO_DA], o[INFO_DB], o[INFO_DSCALE], 1.0f, o[INFO_PAB], o[INFO_PBA], a, b,
                     10.0f, TN, TD);
    o[CE_LOSS][0] = crossentropy_forward(o[CE_PROBS], logits, targets, TN, TV);
    crossentropy_backward(o[CE_DL], 1.0f, o[CE_PROBS], targets, TN, TV);
    l2norm_forward(o[L2_OUT], norm, a, TN, TD);
    l2norm_backward(o[L2_DIN], b, o[L2_OUT], norm, TN, TD);
    mse_backward(o[MSE_D], 1.0f, logits, o[CE_PROBS], (long)TN * TV);
    free(norm);
}

static void test_thread_count_independence(void) {
    float *a = gc_randn(TN * TD, SEED, 51, 0.1f, 0), *b = gc_randn(TN * TD, SEED, 52, 0.1f, 0);
    float *logits = gc_randn(TN * TV, SEED, 53, 3, 0);
    int *targets = cg_malloc(TN * sizeof(int));
    for (int i = 0; i < TN; i++) targets[i] = (i * 37) % TV;
    float *r1[N_RESULTS], *r2[N_RESULTS];
    int saved = omp_get_max_threads();
    thread_run(r1, 1, a, b, logits, targets);
    thread_run(r2, 2, a, b, logits, targets);
    omp_set_num_threads(saved);
    for (int k = 0; k < N_RESULTS; k++) {
        EXPECT(memcmp(r1[k], r2[k], result_sizes[k] * sizeof(float)) == 0,
               "%s differs between 1 and 2 threads", result_names[k]);
        free(r1[k]), free(r2[k]);
    }
    free(a), free(b), free(logits), free(targets);
}

int main(void) {
    RUN(test_mse);
    RUN(test_crossentropy_values);
    RUN(test_crossentropy_gradcheck);
    RUN(test_l2norm);
    RUN(test_infonce_values);
    RUN(test_infonce_gradcheck);
    RUN(test_thread_count_independence);
    return test_summary("loss");
}
