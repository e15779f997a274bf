// test_lora.c: LoRA (nn/lora.h, models/dit_lora.h). The layer: B = 0 gives the base linear's bits,
// the backward (dA, dB, dx) against central differences of a double-precision forward, accumulation
// and NULL gradients, and the independent twin (tools/twin_lora.py, tests/fixtures/lora/). The
// model: adapters attached with B = 0 leave the velocity bit for bit, base + adapters equals the
// merged model within float tolerance, the backward fills only the adapters' gradients and they
// match finite differences through all four linears of every block, targets, files and the base hash.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "fixture.h"
#include "gradcheck.h"
#include "models/dit.h"
#include "models/dit_lora.h"
#include "nn/layers.h"
#include "nn/lora.h"
#include "scratch.h"
#include "test.h"

#define SEED 2121u

// ---- the layer ------------------------------------------------------------------------------------------

typedef struct {
    int N, C, OC, R;
    float s;
    float *x, *W, *b, *A, *B, *P; // inputs, weights, probe (N, OC)
} Case;

static void case_make(Case *k, int N, int C, int OC, int R, float alpha, float b_scale) {
    *k = (Case){N, C, OC, R, alpha / (float)R, NULL, NULL, NULL, NULL, NULL, NULL};
    k->x = gc_randn((size_t)N * C, SEED, 1, 1.0f, 0.0f);
    k->W = gc_randn((size_t)OC * C, SEED, 2, 0.4f, 0.0f);
    k->b = gc_randn((size_t)OC, SEED, 3, 0.1f, 0.0f);
    k->A = gc_randn((size_t)R * C, SEED, 4, 0.4f, 0.0f);
    k->B = gc_randn((size_t)OC * R, SEED, 5, b_scale, 0.0f);
    k->P = gc_randn((size_t)N * OC, SEED, 6, 1.0f, 0.0f);
}

static void case_free(Case *k) { free(k->x), free(k->W), free(k->b), free(k->A), free(k->B), free(k->P); }

// y (N, OC) = x W^T + b + s (x A^T) B^T, the layer under test
static void case_forward(const Case *k, float *y, float *u) {
    linear_forward(y, k->x, k->W, k->b, k->N, k->C, k->OC);
    lora_forward(y, u, k->x, k->A, k->B, k->s, k->N, k->C, k->OC, k->R);
}

// L = sum(P * y) with y computed in double from the same float values (an independent forward)
static double double_loss(const Case *k) {
    double L = 0.0;
    for (int n = 0; n < k->N; n++) {
        const float *x = k->x + (size_t)n * k->C;
        double u[16];
        for (int r = 0; r < k->R; r++) {
            u[r] = 0.0;
            for (int c = 0; c < k->C; c++) u[r] += (double)k->A[(size_t)r * k->C + c] * x[c];
        }
        for (int o = 0; o < k->OC; o++) {
            double y = k->b[o];
            for (int c = 0; c < k->C; c++) y += (double)k->W[(size_t)o * k->C + c] * x[c];
            for (int r = 0; r < k->R; r++) y += (double)k->s * k->B[(size_t)o * k->R + r] * u[r];
            L += y * k->P[(size_t)n * k->OC + o];
        }
    }
    return L;
}

static double double_probe(void *p) { return double_loss(p); }

static void test_zero_B_is_the_base_bit_for_bit(void) {
    Case k;
    case_make(&k, 37, 12, 20, 4, 8.0f, 0.0f);
    const size_t n = (size_t)k.N * k.OC;
    float *y = gc_zeros(n), *base = gc_zeros(n), *u = gc_zeros((size_t)k.N * k.R);
    linear_forward(base, k.x, k.W, k.b, k.N, k.C, k.OC);
    case_forward(&k, y, u);
    EXPECT(memcmp(y, base, n * sizeof(float)) == 0, "B = 0 changed the linear's output");
    free(y), free(base), free(u);
    case_free(&k);
}

// L is linear in each element of x, A and B (the layer is bilinear), so the central differences of
// the double forward are exact up to double rounding (~1e-13); the analytic gradient runs in float
// over sums of at most C or N terms of size ~1: relative error ~1e-6, tolerance 1e-4.
static void test_backward_against_double_finite_differences(void) {
    Case k;
    case_make(&k, 9, 7, 5, 3, 6.0f, 0.5f);
    float *dx = gc_zeros((size_t)k.N * k.C), *dA = gc_zeros((size_t)k.R * k.C), *dB = gc_zeros((size_t)k.OC * k.R);
    float *u = gc_zeros((size_t)k.N * k.R), *du = gc_zeros((size_t)k.N * k.R);
    lora_backward(dx, dA, dB, u, du, k.P, k.x, k.A, k.B, k.s, k.N, k.C, k.OC, k.R);
    // x's gradient from the adapter path alone: add the base linear's, P W
    linear_backward(dx, NULL, NULL, k.P, k.x, k.W, k.N, k.C, k.OC);
    struct { const char *name; float *v, *g; size_t n; } t[] = {
        {"lora.dA", k.A, dA, (size_t)k.R * k.C}, {"lora.dB", k.B, dB, (size_t)k.OC * k.R}, {"lora.dx", k.x, dx, (size_t)k.N * k.C}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        double worst = gradcheck(t[i].name, t[i].v, t[i].g, t[i].n, double_probe, &k, 1e-2f, 1e-4);
        EXPECT(worst < 1e-4, "%s: worst relative error %g", t[i].name, worst);
    }
    free(dx), free(dA), free(dB), free(u), free(du);
    case_free(&k);
}

static void test_backward_accumulates_and_skips_null(void) {
    Case k;
    case_make(&k, 6, 5, 4, 2, 2.0f, 0.5f);
    float *dx = gc_zeros((size_t)k.N * k.C), *dA = gc_zeros((size_t)k.R * k.C), *dB = gc_zeros((size_t)k.OC * k.R);
    float *dA2 = gc_zeros((size_t)k.R * k.C), *u = gc_zeros((size_t)k.N * k.R), *du = gc_zeros((size_t)k.N * k.R);
    lora_backward(dx, dA, dB, u, du, k.P, k.x, k.A, k.B, k.s, k.N, k.C, k.OC, k.R);
    lora_backward(NULL, dA2, NULL, u, du, k.P, k.x, k.A, k.B, k.s, k.N, k.C, k.OC, k.R);
    EXPECT(memcmp(dA, dA2, (size_t)k.R * k.C * sizeof(float)) == 0, "dA depends on whether dx and dB are wanted");
    lora_backward(NULL, dA2, NULL, u, du, k.P, k.x, k.A, k.B, k.s, k.N, k.C, k.OC, k.R);
    int ok = 1;
    for (int i = 0; i < k.R * k.C; i++) ok &= fabsf(dA2[i] - 2 * dA[i]) <= 1e-6f * (1 + fabsf(dA[i]));
    EXPECT(ok, "a second backward does not add the same dA again");
    free(dx), free(dA), free(dB), free(dA2), free(u), free(du);
    case_free(&k);
}

static void fixture_path(char *out, size_t len, const char *file) {
    const char *src = __FILE__, *slash = strrchr(src, '/');
    const int dir = slash ? (int)(slash - src) : 0;
    snprintf(out, len, "%.*s%sfixtures/lora/%s", dir, src, slash ? "/" : "", file);
}

static double max_rel(const float *a, const float *ref, size_t n) {
    double e = 0.0, m = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - ref[i]);
        e = d > e ? d : e;
        m = fabs(ref[i]) > m ? fabs(ref[i]) : m;
    }
    return e / (1.0 + m);
}

// The twin (float64 autograd on the same float32 inputs): the difference is our float32 rounding,
// observed ~1e-7; tolerance 1e-5 of (1 + max |ref|).
static void test_against_the_twin(void) {
    char path[512], err[256];
    fixture_path(path, sizeof path, "linear.cgfx");
    Fixture fx;
    if (fixture_load(&fx, path, err, sizeof err)) {
        EXPECT(0, "cannot load fixture: %s", err);
        return;
    }
    const FixtureTensor *cf = fixture_get(&fx, "config");
    EXPECT(cf && cf->count == 5, "fixture config");
    if (!cf || cf->count != 5) return fixture_free(&fx);
    const int N = (int)cf->data[0], C = (int)cf->data[1], OC = (int)cf->data[2], R = (int)cf->data[3];
    const float s = cf->data[4] / (float)R;
    const char *names[] = {"x", "W", "b", "A", "B", "P", "y", "grad.x", "grad.A", "grad.B", "W_merged"};
    const size_t want[] = {(size_t)N * C, (size_t)OC * C, (size_t)OC, (size_t)R * C, (size_t)OC * R, (size_t)N * OC,
                           (size_t)N * OC, (size_t)N * C, (size_t)R * C, (size_t)OC * R, (size_t)OC * C};
    const float *t[11];
    for (int i = 0; i < 11; i++) {
        const FixtureTensor *f = fixture_get(&fx, names[i]);
        EXPECT(f && f->count == want[i], "fixture tensor %s", names[i]);
        if (!f || f->count != want[i]) return fixture_free(&fx);
        t[i] = f->data;
    }
    float *y = gc_zeros((size_t)N * OC), *u = gc_zeros((size_t)N * R), *du = gc_zeros((size_t)N * R);
    float *dx = gc_zeros((size_t)N * C), *dA = gc_zeros((size_t)R * C), *dB = gc_zeros((size_t)OC * R);
    float *W = cg_malloc((size_t)OC * C * sizeof(float));
    linear_forward(y, t[0], t[1], t[2], N, C, OC);
    lora_forward(y, u, t[0], t[3], t[4], s, N, C, OC, R);
    linear_backward(dx, NULL, NULL, t[5], t[0], t[1], N, C, OC);
    lora_backward(dx, dA, dB, u, du, t[5], t[0], t[3], t[4], s, N, C, OC, R);
    memcpy(W, t[1], (size_t)OC * C * sizeof(float));
    lora_merge(W, t[3], t[4], s, OC, C, R);
    const float *got[] = {y, dx, dA, dB, W};
    for (int i = 0; i < 5; i++) {
        const double e = max_rel(got[i], t[6 + i], want[6 + i]);
        printf("     twin %-8s max|err|/(1+max|ref|) = %.2e\n", names[6 + i], e);
        EXPECT(e <= 1e-5, "%s differs from the twin: %g", names[6 + i], e);
    }
    free(y), free(u), free(du), free(dx), free(dA), free(dB), free(W);
    fixture_free(&fx);
}

static void test_targets(void) {
    char err[256], out[64];
    int m = 0;
    EXPECT(dit_lora_parse_targets(DIT_LORA_TARGETS_DEFAULT, &m, err, sizeof err) == 0 && m == DIT_LORA_ALL, "default");
    EXPECT(dit_lora_parse_targets("fc2,qkv", &m, err, sizeof err) == 0 &&
               m == ((1 << DIT_LORA_FC2) | (1 << DIT_LORA_QKV)), "fc2,qkv -> %d", m);
    dit_lora_format_targets(out, sizeof out, m);
    EXPECT(strcmp(out, "qkv,fc2") == 0, "formatted '%s'", out);
    const char *bad[] = {"", "qkv,", "attn", "qkv,qkv", ",fc1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT(dit_lora_parse_targets(bad[i], &m, err, sizeof err) == -1 && strstr(err, "lora_targets"),
               "'%s' accepted (%s)", bad[i], err);
}

// ---- the model ----------------------------------------------------------------------------------------

static DiTConfig tiny(void) {
    DiTConfig c = {.img = 8, .patch = 4, .channels = 3, .width = 8, .depth = 2, .heads = 2, .text_len = 4,
                   .vocab = 10, .tdim = 8};
    return c;
}

// Every base tensor random (adaLN gates open, head non-zero), so that every block carries signal.
static void random_model(DiTModel *m, uint64_t seed) {
    DiTConfig c = tiny();
    dit_create(m, &c, 2);
    for (int i = 0; i < m->table.n; i++) {
        const ParamSpec *s = &m->table.specs[i];
        const float sd = s->ndim == 2 ? 0.8f / sqrtf((float)s->shape[1]) : 0.2f;
        gc_fill_normal(m->params + s->offset, s->count, seed, 10 + (uint64_t)i, sd, 0.0f);
    }
}

typedef struct {
    DiTModel *m;
    float *x, *ref, *sigma, *v, *R;
    int *tokens;
    int B;
} ModelProbe;

static void probe_make(ModelProbe *p, DiTModel *m) {
    const size_t n = (size_t)2 * dit_image_floats(&m->cfg);
    p->m = m, p->B = 2;
    p->x = gc_randn(n, SEED, 20, 1.0f, 0.0f), p->ref = gc_randn(n, SEED, 21, 0.5f, 0.0f);
    p->R = gc_randn(n, SEED, 22, 1.0f, 0.0f), p->v = gc_zeros(n);
    p->sigma = gc_zeros(2), p->sigma[0] = 0.3f, p->sigma[1] = 0.8f;
    p->tokens = cg_calloc((size_t)2 * m->cfg.text_len, sizeof(int));
    for (int i = 0; i < 2 * m->cfg.text_len; i++) p->tokens[i] = 1 + i % (m->cfg.vocab - 1);
}

static void probe_free(ModelProbe *p) { free(p->x), free(p->ref), free(p->sigma), free(p->v), free(p->R), free(p->tokens); }

static double model_probe(void *vp) {
    ModelProbe *p = vp;
    dit_forward(p->m, p->v, p->x, p->sigma, p->ref, p->tokens, NULL, NULL, p->B);
    return gc_dot(p->v, p->R, (size_t)p->B * dit_image_floats(&p->m->cfg));
}

static void test_model_zero_B_merge_and_gradients(void) {
    DiTModel m, merged;
    random_model(&m, 31);
    ModelProbe p;
    probe_make(&p, &m);
    const size_t n = (size_t)2 * dit_image_floats(&m.cfg);
    float *base_v = gc_zeros(n);
    model_probe(&p);
    memcpy(base_v, p.v, n * sizeof(float));

    DiTLora a;
    dit_lora_create(&a, &m.cfg, 3, 6.0f, DIT_LORA_ALL, m.max_B);
    dit_lora_init(&a, 7);
    EXPECT(a.table.n == 2 * 4 * m.cfg.depth && a.table.total == dit_lora_param_count(&m.cfg, 3, DIT_LORA_ALL),
           "%d adapter tensors, %zu parameters", a.table.n, a.table.total);
    dit_lora_attach(&m, &a);
    model_probe(&p);
    EXPECT(memcmp(p.v, base_v, n * sizeof(float)) == 0, "fresh adapters (B = 0) changed the velocity");

    // non-zero B: base + adapters against the merged model. Tolerance 1e-5 (1 + max |v|): the two
    // round differently (s B A x in two products vs one merged weight), ~1e-7 observed.
    for (int i = 0; i < a.table.n; i++) {
        const ParamSpec *s = &a.table.specs[i];
        if (strstr(s->name, "lora_B")) gc_fill_normal(a.params + s->offset, s->count, SEED, 40 + (uint64_t)i, 0.3f, 0.0f);
    }
    model_probe(&p);
    memcpy(base_v, p.v, n * sizeof(float));
    double vmax = 0.0;
    for (size_t i = 0; i < n; i++) vmax = fabs(base_v[i]) > vmax ? fabs(base_v[i]) : vmax;
    DiTConfig c = tiny();
    dit_create(&merged, &c, 2);
    memcpy(merged.params, m.params, m.table.total * sizeof(float));
    dit_lora_merge(&merged, &a);
    ModelProbe q = p;
    q.m = &merged;
    model_probe(&q);
    const double e = max_rel(q.v, base_v, n);
    printf("     merged vs base + adapters: max |dv| / (1 + max |v|) = %.2e (max |v| %.2f)\n", e, vmax);
    EXPECT(e <= 1e-5, "merged model differs from base + adapters by %g", e);

    // the backward: adapters' gradients only, against finite differences through every linear
    dit_zero_grad(&m);
    dit_lora_zero_grad(&a);
    model_probe(&p);
    dit_backward(&m, p.R, p.B);
    double base_g = 0.0;
    for (size_t i = 0; i < m.table.total; i++) base_g += fabs(m.grads[i]);
    EXPECT(base_g == 0.0, "the frozen base received gradient %g", base_g);
    GcTensor ts[32];
    const int nt = gc_table_tensors(ts, 0, 32, &a.table, a.params, a.grads, "lora.");
    int checked;
    const int nonzero = gc_fd_tensors("adapters", ts, nt, model_probe, &p, 1.0 / 32, 12, 1e-2, 2e-3, SEED, 1, &checked);
    EXPECT(nonzero > checked / 2, "only %d of %d adapter gradients are clearly non-zero", nonzero, checked);

    dit_lora_detach(&m);
    model_probe(&p);
    EXPECT(m.lora_attached == 0, "detached");
    free(base_v);
    probe_free(&p);
    dit_lora_free(&a);
    dit_free(&merged);
    dit_free(&m);
}

static void test_files_and_base_hash(void) {
    static char tmpl[] = "/tmp/cgrpo_lora_test.XXXXXX";
    const char *dir = scratch_dir(tmpl);
    char path[600], err[1024];
    snprintf(path, sizeof path, "%s/a.safetensors", dir);
    DiTModel m, other;
    random_model(&m, 41);
    random_model(&other, 42);
    DiTLora a, b;
    const int targets = (1 << DIT_LORA_QKV) | (1 << DIT_LORA_FC2);
    dit_lora_create(&a, &m.cfg, 2, 3.0f, targets, 2);
    dit_lora_init(&a, 9);
    a.base_hash = dit_params_hash(&m);
    for (size_t i = 0; i < a.table.total; i++) a.params[i] += 0.01f * (float)i;
    EXPECT(a.table.n == 2 * 2 * m.cfg.depth && param_table_find(&a.table, "blocks.1.mlp.fc2.lora_B") &&
               !param_table_find(&a.table, "blocks.0.attn.proj.lora_A"), "targets qkv,fc2 only");
    EXPECT(dit_lora_save(&a, path, NULL, err, sizeof err) == 0, "save: %s", err);
    EXPECT(dit_lora_load(path, &m, "base", &b, 4, err, sizeof err) == 0, "load: %s", err);
    if (b.params) {
        EXPECT(b.rank == 2 && b.alpha == 3.0f && b.targets == targets && b.base_hash == a.base_hash && b.max_B == 4,
               "rank %d alpha %g targets %d", b.rank, (double)b.alpha, b.targets);
        EXPECT(b.table.total == a.table.total && memcmp(a.params, b.params, a.table.total * sizeof(float)) == 0,
               "round trip changed the adapters");
        dit_lora_free(&b);
    }
    EXPECT(dit_lora_load(path, &other, "other.safetensors", &b, 2, err, sizeof err) == -1 &&
               strstr(err, "another base model") && strstr(err, "other.safetensors") && !strchr(err, '\n'),
           "a wrong base is accepted or badly named: %s", err);
    dit_lora_free(&a);
    dit_free(&m);
    dit_free(&other);
    scratch_remove(dir);
}

int main(void) {
    RUN(test_zero_B_is_the_base_bit_for_bit);
    RUN(test_backward_against_double_finite_differences);
    RUN(test_backward_accumulates_and_skips_null);
    RUN(test_against_the_twin);
    RUN(test_targets);
    RUN(test_model_zero_B_merge_and_gradients);
    RUN(test_files_and_base_hash);
    return test_summary("lora");
}
