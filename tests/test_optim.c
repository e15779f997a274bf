// test_optim.c: parameter tables, AdamW against the textbook formulas in double, and the global
// gradient norm and its clipping.
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "nn/optim.h"
#include "test.h"

static void test_param_table(void) {
    ParamTable t;
    param_table_init(&t);
    EXPECT(t.n == 0 && t.total == 0, "fresh table n=%d total=%zu", t.n, t.total);
    int s_w[2] = {2, 3}, s_b[1] = {4}, s_k[4] = {2, 3, 4, 5};
    size_t o_w = param_table_add(&t, "w", 2, s_w, 1);
    size_t o_b = param_table_add(&t, "b", 1, s_b, 0);
    size_t o_k = param_table_add(&t, "blocks.0.conv.weight", 4, s_k, 1);
    EXPECT(o_w == 0 && o_b == 6 && o_k == 10, "offsets %zu %zu %zu", o_w, o_b, o_k);
    EXPECT(t.n == 3 && t.total == 10 + 120, "n=%d total=%zu", t.n, t.total);
    const ParamSpec *w = param_table_find(&t, "w"), *k = param_table_find(&t, "blocks.0.conv.weight");
    EXPECT(w && w->offset == 0 && w->count == 6 && w->ndim == 2 && w->shape[0] == 2 && w->shape[1] == 3 &&
               w->decay == 1 && strcmp(w->name, "w") == 0, "spec of w");
    EXPECT(k && k->offset == 10 && k->count == 120 && k->ndim == 4 && k->shape[3] == 5, "spec of the 4-d tensor");
    const ParamSpec *b = param_table_find(&t, "b");
    EXPECT(b && b->decay == 0 && b->count == 4, "spec of b");
    EXPECT(param_table_find(&t, "missing") == NULL, "find of an absent name");
    EXPECT(param_table_find(&t, "blocks.0") == NULL, "find matched a prefix");
    // growth past the initial capacity keeps offsets contiguous and earlier specs intact
    size_t expect_total = t.total;
    for (int i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof(name), "extra.%d", i);
        int shape[1] = {i + 1};
        size_t off = param_table_add(&t, name, 1, shape, i & 1);
        EXPECT(off == expect_total, "extra.%d at %zu, expected %zu", i, off, expect_total);
        expect_total += (size_t)(i + 1);
    }
    EXPECT(t.total == expect_total, "total %zu vs %zu", t.total, expect_total);
    const ParamSpec *e = param_table_find(&t, "extra.39");
    EXPECT(e && e->count == 40 && e->offset + e->count == t.total && e->decay == 1, "last extra");
    EXPECT(param_table_find(&t, "w")->count == 6, "first spec survived growth");
    param_table_free(&t);
    EXPECT(t.n == 0 && t.specs == NULL && t.total == 0, "freed table");
}

// gradient of element i at step s (1-based): deterministic, mixed signs and sizes
static double test_grad(int i, int s) { return sin(1.3 * i + 0.7 * s) * (0.5 + 0.1 * i); }

static void test_adamw_three_steps(void) {
    ParamTable t;
    param_table_init(&t);
    int s_w[2] = {2, 3}, s_b[1] = {4};
    param_table_add(&t, "w", 2, s_w, 1); // decayed
    param_table_add(&t, "b", 1, s_b, 0); // not decayed
    enum { N = 10 };
    EXPECT(t.total == N, "total %zu", t.total);
    AdamWConfig cfg = {.lr = 0.05f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.1f};
    float p[N], g[N], m[N] = {0}, v[N] = {0};
    double pd[N], md[N] = {0}, vd[N] = {0}, pnd[N]; // pnd: reference with decay swapped (sensitivity)
    for (int i = 0; i < N; i++) p[i] = (float)(1.0 - 0.3 * i), pd[i] = pnd[i] = p[i];
    const double b1 = cfg.beta1, b2 = cfg.beta2, lr = cfg.lr, eps = cfg.eps, wd = cfg.weight_decay;
    for (int s = 1; s <= 3; s++) {
        for (int i = 0; i < N; i++) g[i] = (float)test_grad(i, s);
        adamw_step(p, g, m, v, &t, s, &cfg);
        for (int i = 0; i < N; i++) {
            double gi = g[i];
            md[i] = b1 * md[i] + (1 - b1) * gi;
            vd[i] = b2 * vd[i] + (1 - b2) * gi * gi;
            double mhat = md[i] / (1 - pow(b1, s)), vhat = vd[i] / (1 - pow(b2, s));
            double upd = mhat / (sqrt(vhat) + eps);
            int decay = i < 6;
            pd[i] -= lr * (upd + (decay ? wd * pd[i] : 0.0));
            pnd[i] -= lr * (upd + (decay ? 0.0 : wd * pnd[i]));
        }
        for (int i = 0; i < N; i++) {
            EXPECT(fabs(p[i] - pd[i]) <= 1e-6, "step %d p[%d] = %.9g, reference %.9g", s, i, p[i], pd[i]);
            EXPECT(fabs(m[i] - md[i]) <= 1e-6 * fabs(md[i]) + 1e-9, "step %d m[%d]", s, i);
            EXPECT(fabs(v[i] - vd[i]) <= 1e-5 * fabs(vd[i]) + 1e-12, "step %d v[%d]", s, i);
        }
    }
    // the test can tell which tensors are decayed: the swapped reference is far from both
    for (int i = 0; i < N; i++)
        if (fabs(pd[i]) > 0.1) EXPECT(fabs(pnd[i] - pd[i]) > 1e-4, "decay makes no difference at %d", i);
    param_table_free(&t);
}

static void test_grad_norm_and_clip(void) {
    float g2[2] = {3.0f, 4.0f};
    EXPECT(grad_global_norm(g2, 2) == 5.0, "norm of (3, 4) = %.17g", grad_global_norm(g2, 2));
    EXPECT(grad_global_norm(g2, 0) == 0.0, "norm of an empty buffer");
    // a known vector: n entries of +-0.5 -> norm 0.5 sqrt(n)
    enum { N = 10007 };
    float *g = cg_malloc(N * sizeof(float)), *copy = cg_malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) g[i] = (i & 1) ? 0.5f : -0.5f;
    double want = 0.5 * sqrt((double)N);
    memcpy(copy, g, N * sizeof(float));
    // below the threshold: returned norm, no change at all
    double n0 = clip_grad_norm(g, N, 100.0);
    EXPECT_NEAR(n0, want, 1e-12 * want);
    EXPECT(memcmp(g, copy, N * sizeof(float)) == 0, "clip below the threshold changed g");
    // above: returns the norm before clipping, and the clipped norm is max_norm
    double n1 = clip_grad_norm(g, N, 1.0);
    EXPECT_NEAR(n1, want, 1e-12 * want);
    EXPECT_NEAR(grad_global_norm(g, N), 1.0, 1e-6);
    EXPECT_NEAR(g[0], -0.5 / want, 1e-9);
    // a NaN gradient is reported and left alone
    memcpy(g, copy, N * sizeof(float));
    g[17] = NAN;
    double n2 = clip_grad_norm(g, N, 1.0);
    EXPECT(isnan(n2), "norm with a NaN = %g", n2);
    EXPECT(g[18] == copy[18], "g changed by a NaN clip");
    free(g), free(copy);
}

static void test_grad_norm_thread_independent(void) {
    const size_t n = 300001; // large enough to take the parallel path
    float *g = cg_malloc(n * sizeof(float));
    cg_rng_fill_normal(g, n, 7, 1, 0);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    double a = grad_global_norm(g, n);
    omp_set_num_threads(2);
    double b = grad_global_norm(g, n);
    omp_set_num_threads(saved);
    EXPECT(memcmp(&a, &b, sizeof(double)) == 0, "norm %.17g (1 thread) vs %.17g (2 threads)", a, b);
    long double s = 0;
    for (size_t i = 0; i < n; i++) s += (long double)g[i] * g[i];
    EXPECT_NEAR(a, sqrt((double)s), 1e-12 * a);
    free(g);
}

int main(void) {
    RUN(test_param_table);
    RUN(test_adamw_three_steps);
    RUN(test_grad_norm_and_clip);
    RUN(test_grad_norm_thread_independent);
    return test_summary("optim");
}
