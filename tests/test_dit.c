// test_dit.c: the whole generator (models/dit.h): finite differences of the full backward and of the
// flow-matching loss, the zero velocity of a fresh model, exact independence from dropped conditions,
// thread-count independence of a training step, batch independence, and the guidance callback.
//
//   test_dit           run the tests
//   test_dit --bench   time forward and forward + backward at the design sizes (B = 16)
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "core/timer.h"
#include "flow/sampler.h"
#include "gradcheck.h"
#include "models/dit.h"
#include "nn/optim.h"
#include "test.h"

// ---- helpers -------------------------------------------------------------------------------------

// Every parameter random and non-zero, the zero-init ones included (adaLN gates open, final head
// non-zero), so that every path of the backward carries gradient.
static void randomize_params(DiTModel *m, uint64_t seed) {
    for (int i = 0; i < m->table.n; i++) {
        const ParamSpec *s = &m->table.specs[i];
        float *p = m->params + s->offset;
        int is_ada = strstr(s->name, "ada.") != NULL;
        float fan_in = s->ndim == 2 ? (float)s->shape[1] : 1.0f;
        if (strstr(s->name, "embed") || strstr(s->name, "text_pos")) {
            if (s->ndim == 2 && strstr(s->name, ".weight") && strstr(s->name, "patch"))
                gc_fill_normal(p, s->count, seed, 100 + (uint64_t)i, 1.0f / sqrtf(fan_in), 0.0f);
            else
                gc_fill_normal(p, s->count, seed, 100 + (uint64_t)i, 0.5f, 0.0f);
        } else if (s->ndim == 2) {
            gc_fill_normal(p, s->count, seed, 100 + (uint64_t)i, (is_ada ? 0.6f : 1.0f) / sqrtf(fan_in), 0.0f);
        } else {
            gc_fill_normal(p, s->count, seed, 100 + (uint64_t)i, is_ada ? 0.3f : 0.1f, 0.0f);
        }
    }
}

// Inputs of a batch: images in [-1, 1]-ish, sigmas in (0, 1), tokens in [1, V) with some PAD.
typedef struct {
    int B;
    size_t n; // floats per image
    float *x, *ref, *noise, *x0, *R, *v, *sigma;
    int *tokens;
    unsigned char *drop_ref, *drop_txt;
} Batch;

static void batch_make(Batch *b, const DiTConfig *c, int B, uint64_t seed) {
    b->B = B;
    b->n = dit_image_floats(c);
    size_t N = (size_t)B * b->n;
    b->x = cg_malloc(N * sizeof(float));
    b->ref = cg_malloc(N * sizeof(float));
    b->noise = cg_malloc(N * sizeof(float));
    b->x0 = cg_malloc(N * sizeof(float));
    b->R = cg_malloc(N * sizeof(float));
    b->v = cg_calloc(N, sizeof(float));
    b->sigma = cg_malloc((size_t)B * sizeof(float));
    b->tokens = cg_malloc((size_t)B * c->text_len * sizeof(int));
    b->drop_ref = cg_calloc((size_t)B, 1);
    b->drop_txt = cg_calloc((size_t)B, 1);
    gc_fill_normal(b->x, N, seed, 1, 1.0f, 0.0f);
    cg_rng_fill_uniform(b->ref, N, seed, 2, 0);
    for (size_t i = 0; i < N; i++) b->ref[i] = 2 * b->ref[i] - 1;
    gc_fill_normal(b->noise, N, seed, 3, 1.0f, 0.0f);
    cg_rng_fill_uniform(b->x0, N, seed, 4, 0);
    for (size_t i = 0; i < N; i++) b->x0[i] = 2 * b->x0[i] - 1;
    gc_fill_normal(b->R, N, seed, 5, 1.0f, 0.0f);
    cg_rng r = cg_rng_make(seed, 6);
    for (int i = 0; i < B; i++) b->sigma[i] = (float)(0.05 + 0.9 * cg_rng_uniform(&r));
    for (int i = 0; i < B * c->text_len; i++) b->tokens[i] = 1 + (int)cg_rng_below(&r, (uint32_t)(c->vocab - 1));
}

static void batch_free(Batch *b) {
    free(b->x), free(b->ref), free(b->noise), free(b->x0), free(b->R), free(b->v), free(b->sigma);
    free(b->tokens), free(b->drop_ref), free(b->drop_txt);
}

static DiTConfig tiny_config(void) {
    DiTConfig c = {.img = 8, .patch = 4, .channels = 3, .width = 8, .depth = 2, .heads = 2,
                   .text_len = 4, .vocab = 10, .tdim = 8};
    return c;
}

// ---- config -------------------------------------------------------------------------------------

static void test_config_check(void) {
    char err[256];
    DiTConfig c = dit_config_default();
    EXPECT(dit_config_check(&c, err, sizeof err) == -1 && strstr(err, "vocab"), "vocab 0 accepted: %s", err);
    c.vocab = 40;
    EXPECT(dit_config_check(&c, err, sizeof err) == 0, "default config rejected: %s", err);
    EXPECT(dit_tokens_per_image(&c) == 64 && dit_seq_len(&c) == 144, "Ti %d T %d", dit_tokens_per_image(&c),
           dit_seq_len(&c));
    struct { const char *field; DiTConfig c; } bad[] = {
        {"width", c}, {"patch", c}, {"heads", c}, {"depth", c}, {"tdim", c}, {"img", c}, {"text_len", c}, {"channels", c},
    };
    bad[0].c.width = 130;  // not a multiple of 4 heads -> names width
    bad[1].c.patch = 5;    // 32 % 5
    bad[2].c.heads = 0;
    bad[3].c.depth = -1;
    bad[4].c.tdim = 255;   // odd
    bad[5].c.img = 0;
    bad[6].c.text_len = 0;
    bad[7].c.channels = 100;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        int rc = dit_config_check(&bad[i].c, err, sizeof err);
        EXPECT(rc == -1 && strstr(err, bad[i].field) && !strchr(err, '\n'), "bad %s: rc %d '%s'", bad[i].field, rc, err);
    }
    // the default has about the size DESIGN.md asks for
    DiTModel m;
    dit_create(&m, &c, 1);
    printf("     default config (V=40): %zu parameters, %.1f MiB of activations at max_B=1\n", m.table.total,
           (double)m.arena_bytes / (1 << 20));
    EXPECT(m.table.total > 1000000 && m.table.total < 2000000, "%zu parameters", m.table.total);
    size_t a1 = dit_activation_bytes(&c, 1), a4 = dit_activation_bytes(&c, 4);
    EXPECT(a1 == m.arena_bytes && a4 > 3 * a1 && a4 < 4 * a1 + 4096, "activation bytes %zu (B=1) %zu (B=4)", a1, a4);
    EXPECT(((uintptr_t)m.acts.xs & 63) == 0 && ((uintptr_t)m.acts.patches & 63) == 0, "arena alignment");
    dit_free(&m);
}

// ---- finite differences --------------------------------------------------------------------------

typedef struct {
    DiTModel *m;
    Batch *b;
    int mode; // 0: probe sum(v * R); 1: flow loss in double
} Probe;

static double probe_eval(Probe *p) {
    DiTModel *m = p->m;
    Batch *b = p->b;
    size_t N = (size_t)b->B * b->n;
    if (p->mode == 0) {
        dit_forward(m, b->v, b->x, b->sigma, b->ref, b->tokens, b->drop_ref, b->drop_txt, b->B);
        double L = 0;
        for (size_t i = 0; i < N; i++) L += (double)b->v[i] * b->R[i];
        return L;
    }
    // the flow loss, written out independently of dit_flow_loss: x_t and the target in float as
    // the model sees them, the mean of squares in double
    float *xt = cg_malloc(N * sizeof(float));
    for (int s = 0; s < b->B; s++)
        for (size_t i = (size_t)s * b->n; i < (size_t)(s + 1) * b->n; i++)
            xt[i] = (1.0f - b->sigma[s]) * b->x0[i] + b->sigma[s] * b->noise[i];
    dit_forward(m, b->v, xt, b->sigma, b->ref, b->tokens, b->drop_ref, b->drop_txt, b->B);
    double L = 0;
    for (size_t i = 0; i < N; i++) {
        double d = (double)b->v[i] - ((double)b->noise[i] - (double)b->x0[i]);
        L += d * d;
    }
    free(xt);
    return L / (double)N;
}

static double probe_fn(void *p) { return probe_eval(p); }

// gc_fd_tensors (gradcheck.h) with h = 2^-5 over every parameter tensor; most checked gradients
// must be clearly non-zero.
static void fd_check_model(DiTModel *m, Probe *p, int per_tensor, double rtol, double atol, const char *what) {
    GcTensor ts[64];
    const int nt = gc_table_tensors(ts, 0, 64, &m->table, m->params, m->grads, "");
    int checked;
    const int nonzero =
        gc_fd_tensors(what, ts, nt, probe_fn, p, 1.0 / 32, per_tensor, rtol, atol, 99, (uint64_t)p->mode, &checked);
    EXPECT(nonzero > checked / 2, "%s: only %d of %d checked gradients are clearly non-zero", what, nonzero, checked);
}

// The tiny model of the brief: img 8, patch 4, C 8, L 2, NH 2, Lt 4, V 10, tdim 8, B 2; sample 0's
// reference is dropped and its prompt has one PAD token.
static void tiny_setup(DiTModel *m, Batch *b, uint64_t seed) {
    DiTConfig c = tiny_config();
    dit_create(m, &c, 2);
    dit_init(m, seed);
    randomize_params(m, seed);
    batch_make(b, &c, 2, seed);
    b->drop_ref[0] = 1;
    b->tokens[2] = DIT_PAD_TOKEN;
}

// Tolerance: the model runs in float32, so L = sum(v R) over 384 outputs (|v| up to ~10 with the
// randomized head) carries rounding noise of ~1e-4; divided by 12h = 0.375 that is ~3e-4 in the
// quotient. h = 2^-5 rather than smaller because that noise dominates: the stencil's truncation
// error is O(h^4) ~ 1e-6 times the 5th derivative (observed worst with h = 2^-7: 4e-3 of the
// tolerance scale below, with h = 2^-5: 2e-3, both noise). Gradients are 0.01..10; a wrong
// backward is off by O(1) relative, so 1e-2 relative + 2e-3 absolute still catches it.
static void test_full_model_finite_differences(void) {
    DiTModel m;
    Batch b;
    tiny_setup(&m, &b, 11);
    dit_forward(&m, b.v, b.x, b.sigma, b.ref, b.tokens, b.drop_ref, b.drop_txt, b.B);
    dit_zero_grad(&m);
    dit_backward(&m, b.R, b.B);
    // a second backward adds the same again (accumulation), checked on the whole buffer (to float
    // rounding: BLAS adds the product into the existing value, which rounds differently from 2 g)
    float *once = cg_malloc(m.table.total * sizeof(float));
    memcpy(once, m.grads, m.table.total * sizeof(float));
    dit_backward(&m, b.R, b.B);
    size_t bad = 0;
    for (size_t i = 0; i < m.table.total; i++) bad += !(fabsf(m.grads[i] - 2 * once[i]) <= 1e-5f * (1 + fabsf(once[i])));
    EXPECT(bad == 0, "%zu gradients are not doubled by a second backward", bad);
    memcpy(m.grads, once, m.table.total * sizeof(float));
    // PAD's embedding row never receives gradient: PAD keys are masked and v never reads them
    const ParamSpec *tok = param_table_find(&m.table, "tok_embed.weight");
    double pad = 0;
    for (int i = 0; i < m.cfg.width; i++) pad += fabs(m.grads[tok->offset + i]);
    EXPECT(pad == 0, "PAD row gradient %g", pad);
    Probe p = {&m, &b, 0};
    fd_check_model(&m, &p, 30, 1e-2, 2e-3, "sum(v R)");
    free(once);
    batch_free(&b);
    dit_free(&m);
}

// dit_flow_loss: its returned loss against an independent double computation, and its gradient
// against finite differences of that loss (same tolerance reasoning; the loss is a mean of 384
// squares of size ~1, its gradients ~1e-3..1e-1, hence the smaller absolute tolerance).
static void test_flow_loss_finite_differences(void) {
    DiTModel m;
    Batch b;
    tiny_setup(&m, &b, 12);
    b.drop_txt[1] = 1;
    b.drop_ref[0] = 0;
    dit_zero_grad(&m);
    float loss = dit_flow_loss(&m, b.x0, b.noise, b.sigma, b.ref, b.tokens, b.drop_ref, b.drop_txt, b.B);
    Probe p = {&m, &b, 1};
    double ref_loss = probe_eval(&p);
    EXPECT(fabs(loss - ref_loss) <= 1e-5 * ref_loss, "dit_flow_loss %.9g, independent %.9g", loss, ref_loss);
    printf("     flow loss %.6f (independent %.6f)\n", loss, ref_loss);
    fd_check_model(&m, &p, 12, 1e-2, 2e-4, "flow loss");
    batch_free(&b);
    dit_free(&m);
}

// ---- behaviour -----------------------------------------------------------------------------------

// adaLN-Zero: a fresh model predicts exactly 0, and only the final linear layer gets gradient
static void test_init_velocity_is_zero(void) {
    DiTConfig c = tiny_config();
    c.width = 16, c.heads = 4, c.img = 16;
    DiTModel m;
    Batch b;
    dit_create(&m, &c, 3);
    dit_init(&m, 5);
    batch_make(&b, &c, 3, 5);
    dit_forward(&m, b.v, b.x, b.sigma, b.ref, b.tokens, NULL, NULL, 3);
    size_t nonzero = 0;
    for (size_t i = 0; i < 3 * b.n; i++) nonzero += b.v[i] != 0.0f;
    EXPECT(nonzero == 0, "%zu velocity values are not 0 at init", nonzero);
    dit_zero_grad(&m);
    dit_backward(&m, b.R, 3);
    gc_expect_grad_only(&m.table, m.grads, "final.linear.", "everything else is behind the zero head");
    // the init is a pure function of the seed, and the seed matters
    float *first = cg_malloc(m.table.total * sizeof(float));
    memcpy(first, m.params, m.table.total * sizeof(float));
    dit_init(&m, 5);
    EXPECT(memcmp(first, m.params, m.table.total * sizeof(float)) == 0, "same seed, different init");
    dit_init(&m, 6);
    EXPECT(memcmp(first, m.params, m.table.total * sizeof(float)) != 0, "the seed is ignored");
    // pos_embed is the 2-D sin-cos table: token (gy, gx) = (1, 2) of a 4x4 grid, frequency 0
    const ParamSpec *pos = param_table_find(&m.table, "pos_embed");
    const float *p = m.params + pos->offset + (size_t)(1 * 4 + 2) * c.width;
    EXPECT_NEAR(p[0], sin(1.0), 1e-6);
    EXPECT_NEAR(p[4], cos(1.0), 1e-6);
    EXPECT_NEAR(p[8], sin(2.0), 1e-6);
    EXPECT_NEAR(p[12], cos(2.0), 1e-6);
    EXPECT_NEAR(p[13], cos(2.0 * pow(10000.0, -0.25)), 1e-6);
    free(first);
    batch_free(&b);
    dit_free(&m);
}

// A dropped condition has no influence at all: change it and v is the same bits. And the test can
// fail: the same change without the drop does move v.
static void test_dropped_conditions_have_no_influence(void) {
    DiTConfig c = tiny_config();
    c.width = 16, c.heads = 4, c.img = 16, c.text_len = 6;
    DiTModel m;
    Batch b;
    dit_create(&m, &c, 2);
    dit_init(&m, 7);
    randomize_params(&m, 7);
    batch_make(&b, &c, 2, 7);
    const size_t n = b.n, Lt = (size_t)c.text_len;
    float *v0 = cg_malloc(2 * n * sizeof(float)), *v1 = cg_malloc(2 * n * sizeof(float));

    // reference dropped for sample 0 only
    b.drop_ref[0] = 1;
    dit_forward(&m, v0, b.x, b.sigma, b.ref, b.tokens, b.drop_ref, b.drop_txt, 2);
    for (size_t i = 0; i < 2 * n; i++) b.ref[i] = -b.ref[i] + 0.25f;
    dit_forward(&m, v1, b.x, b.sigma, b.ref, b.tokens, b.drop_ref, b.drop_txt, 2);
    EXPECT(memcmp(v0, v1, n * sizeof(float)) == 0, "v of the sample without reference depends on the reference");
    EXPECT(memcmp(v0 + n, v1 + n, n * sizeof(float)) != 0, "v of the sample with a reference ignores it");
    // ref == NULL is the same as dropping every reference
    b.drop_ref[1] = 1;
    dit_forward(&m, v0, b.x, b.sigma, b.ref, b.tokens, b.drop_ref, b.drop_txt, 2);
    dit_forward(&m, v1, b.x, b.sigma, NULL, b.tokens, NULL, b.drop_txt, 2);
    EXPECT(memcmp(v0, v1, 2 * n * sizeof(float)) == 0, "ref = NULL differs from dropping every reference");
    b.drop_ref[0] = b.drop_ref[1] = 0;

    // prompt dropped for sample 1 only
    b.drop_txt[1] = 1;
    dit_forward(&m, v0, b.x, b.sigma, b.ref, b.tokens, b.drop_ref, b.drop_txt, 2);
    for (size_t i = 0; i < 2 * Lt; i++) b.tokens[i] = 1 + (b.tokens[i] + 3) % (c.vocab - 1);
    dit_forward(&m, v1, b.x, b.sigma, b.ref, b.tokens, b.drop_ref, b.drop_txt, 2);
    EXPECT(memcmp(v0 + n, v1 + n, n * sizeof(float)) == 0, "v of the sample without prompt depends on the prompt");
    EXPECT(memcmp(v0, v1, n * sizeof(float)) != 0, "v of the sample with a prompt ignores it");
    // PAD positions: what sits at a PAD position's text_pos does not matter; tokens == NULL is
    // the same as an all-PAD prompt and as a dropped prompt
    b.drop_txt[0] = b.drop_txt[1] = 1;
    dit_forward(&m, v0, b.x, b.sigma, b.ref, b.tokens, b.drop_ref, b.drop_txt, 2);
    dit_forward(&m, v1, b.x, b.sigma, b.ref, NULL, b.drop_ref, NULL, 2);
    EXPECT(memcmp(v0, v1, 2 * n * sizeof(float)) == 0, "tokens = NULL differs from dropping every prompt");
    b.drop_txt[0] = b.drop_txt[1] = 0;
    for (size_t j = 0; j < 2 * Lt; j++) b.tokens[j] = j % Lt >= 3 ? DIT_PAD_TOKEN : b.tokens[j];
    dit_forward(&m, v0, b.x, b.sigma, b.ref, b.tokens, b.drop_ref, b.drop_txt, 2);
    const ParamSpec *tp = param_table_find(&m.table, "text_pos");
    for (size_t j = 3 * (size_t)c.width; j < Lt * c.width; j++) m.params[tp->offset + j] += 1.0f;
    dit_forward(&m, v1, b.x, b.sigma, b.ref, b.tokens, b.drop_ref, b.drop_txt, 2);
    EXPECT(memcmp(v0, v1, 2 * n * sizeof(float)) == 0, "PAD positions influence v");
    m.params[tp->offset] += 1.0f; // a real token's position does
    dit_forward(&m, v1, b.x, b.sigma, b.ref, b.tokens, b.drop_ref, b.drop_txt, 2);
    EXPECT(memcmp(v0, v1, 2 * n * sizeof(float)) != 0, "text_pos of a real token has no influence");
    free(v0), free(v1);
    batch_free(&b);
    dit_free(&m);
}

// A config large enough that every parallel path engages (B T C > 32768, matmuls > 1 MFLOP).
static DiTConfig small_config(void) {
    DiTConfig c = {.img = 32, .patch = 4, .channels = 3, .width = 64, .depth = 2, .heads = 4,
                   .text_len = 8, .vocab = 20, .tdim = 32};
    return c;
}

// Two steps of flow loss + AdamW with `threads` OpenMP threads; returns params, then the two
// losses, then the last velocity (caller frees).
static float *train_two_steps(int threads, size_t *len) {
    omp_set_num_threads(threads);
    DiTConfig c = small_config();
    DiTModel m;
    Batch b;
    dit_create(&m, &c, 4);
    dit_init(&m, 21);
    // adaLN-Zero would keep most gradients 0: small non-zero heads and gates
    for (int i = 0; i < m.table.n; i++) {
        const ParamSpec *s = &m.table.specs[i];
        if (strstr(s->name, "ada.weight") || strstr(s->name, "final.linear.weight"))
            gc_fill_normal(m.params + s->offset, s->count, 21, 300 + (uint64_t)i, 0.02f, 0.0f);
    }
    batch_make(&b, &c, 4, 21);
    b.drop_ref[1] = 1, b.drop_txt[2] = 1, b.tokens[5] = DIT_PAD_TOKEN;
    AdamWConfig opt = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 1e-4f};
    size_t N = m.table.total, nv = 4 * b.n;
    float *out = cg_malloc((N + 2 + nv) * sizeof(float));
    for (int step = 1; step <= 2; step++) {
        dit_zero_grad(&m);
        out[N + step - 1] = dit_flow_loss(&m, b.x0, b.noise, b.sigma, b.ref, b.tokens, b.drop_ref, b.drop_txt, 4);
        clip_grad_norm(m.grads, N, 1.0);
        adamw_step(m.params, m.grads, m.adam_m, m.adam_v, &m.table, step, &opt);
    }
    memcpy(out, m.params, N * sizeof(float));
    memcpy(out + N + 2, m.io_v, nv * sizeof(float));
    *len = N + 2 + nv;
    batch_free(&b);
    dit_free(&m);
    return out;
}

static void test_same_bits_across_threads(void) { free(expect_same_bits_across_threads(train_two_steps, NULL)); }

// Batch composition. What holds bit for bit: a sample's velocity does not depend on the CONTENT of
// the other samples in its batch (same batch size, same position), so a GRPO trainer that
// recomputes log-probs with the rollout's batch layout gets a ratio of exactly 1. What does not:
// the same sample in a batch of another SIZE (or at another position) differs by float rounding,
// because OpenBLAS's sgemm rounds a row differently depending on where it falls in its kernel
// tiles. That difference is measured and bounded here (observed ~1e-5 of |v|).
static void test_batch_composition(void) {
    DiTConfig c = small_config();
    DiTModel m;
    Batch b, o;
    dit_create(&m, &c, 5);
    dit_init(&m, 3);
    randomize_params(&m, 3);
    batch_make(&b, &c, 5, 3);
    batch_make(&o, &c, 5, 4); // other samples
    b.drop_ref[2] = 1;
    const size_t n = b.n, Lt = (size_t)c.text_len;
    dit_forward(&m, b.v, b.x, b.sigma, b.ref, b.tokens, b.drop_ref, b.drop_txt, 5);
    // sample 2 among other companions: copy it into o at the same position
    memcpy(o.x + 2 * n, b.x + 2 * n, n * sizeof(float));
    memcpy(o.ref + 2 * n, b.ref + 2 * n, n * sizeof(float));
    memcpy(o.tokens + 2 * Lt, b.tokens + 2 * Lt, Lt * sizeof(int));
    o.sigma[2] = b.sigma[2], o.drop_ref[2] = 1;
    dit_forward(&m, o.v, o.x, o.sigma, o.ref, o.tokens, o.drop_ref, o.drop_txt, 5);
    EXPECT(memcmp(o.v + 2 * n, b.v + 2 * n, n * sizeof(float)) == 0, "a sample's v depends on its batch companions");
    EXPECT(memcmp(o.v, b.v, n * sizeof(float)) != 0, "different samples gave the same v");

    float *one = cg_malloc(n * sizeof(float));
    size_t differ = 0;
    double maxdiff = 0, maxv = 0;
    for (int s = 0; s < 5; s++) {
        size_t off = (size_t)s * n;
        dit_forward(&m, one, b.x + off, b.sigma + s, b.ref + off, b.tokens + (size_t)s * Lt, b.drop_ref + s,
                    b.drop_txt + s, 1);
        for (size_t i = 0; i < n; i++) {
            differ += memcmp(&one[i], &b.v[off + i], sizeof(float)) != 0;
            maxdiff = fmax(maxdiff, fabs((double)one[i] - b.v[off + i]));
            maxv = fmax(maxv, fabs((double)b.v[off + i]));
        }
    }
    printf("     batch of 5 vs one at a time: %zu of %zu values differ in their bits, max |diff| %.2e (max |v| %.2f)\n",
           differ, 5 * n, maxdiff, maxv);
    EXPECT(maxdiff <= 1e-5 * (1 + maxv), "batch 5 vs batch 1: max |diff| %.3g", maxdiff);
    free(one);
    batch_free(&b);
    batch_free(&o);
    dit_free(&m);
}

// The guidance callback: (1, 1) is the plain full-condition forward, bit for bit; other scales equal
// flow_cfg2 over three separate forwards; its backward equals the weighted sum of three backwards.
static void test_velocity_callback(void) {
    DiTConfig c = tiny_config();
    c.width = 16, c.heads = 4, c.img = 16;
    const int B = 2;
    DiTModel m;
    Batch b;
    dit_create(&m, &c, 3 * B);
    dit_init(&m, 8);
    randomize_params(&m, 8);
    batch_make(&b, &c, B, 8);
    const size_t Bn = (size_t)B * b.n, P = m.table.total;
    const float sigma = 0.6f;
    float sig[2] = {sigma, sigma};
    float *v = cg_malloc(Bn * sizeof(float)), *plain = cg_malloc(Bn * sizeof(float));
    DiTVelocity ctx = {&m, b.ref, b.tokens, 1.0f, 1.0f};
    flow_velocity_fn fn = dit_velocity; // the sampler's type
    fn(&ctx, v, b.x, sigma, 3, B);
    dit_forward(&m, plain, b.x, sig, b.ref, b.tokens, NULL, NULL, B);
    EXPECT(memcmp(v, plain, Bn * sizeof(float)) == 0, "scales (1, 1) differ from the plain forward");
    // its backward is the plain backward
    dit_zero_grad(&m);
    fn(&ctx, v, b.x, sigma, 3, B);
    dit_velocity_backward(&ctx, b.R, B);
    float *g_cb = cg_malloc(P * sizeof(float));
    memcpy(g_cb, m.grads, P * sizeof(float));
    dit_zero_grad(&m);
    dit_forward(&m, plain, b.x, sig, b.ref, b.tokens, NULL, NULL, B);
    dit_backward(&m, b.R, B);
    EXPECT(memcmp(g_cb, m.grads, P * sizeof(float)) == 0, "scales (1, 1): backward differs from the plain one");

    // guided: three separate forwards of B and flow_cfg2
    ctx.s_ref = 2.0f, ctx.s_txt = 4.5f;
    unsigned char one[2] = {1, 1};
    float *vn = cg_malloc(Bn * sizeof(float)), *vr = cg_malloc(Bn * sizeof(float)), *vf = cg_malloc(Bn * sizeof(float));
    float *want = cg_malloc(Bn * sizeof(float));
    float *g_sum = cg_calloc(P, sizeof(float));
    const float w3[3] = {1.0f - ctx.s_ref, ctx.s_ref - ctx.s_txt, ctx.s_txt};
    float *outs[3] = {vn, vr, vf};
    float *dscaled = cg_malloc(Bn * sizeof(float));
    for (int k = 0; k < 3; k++) {
        dit_zero_grad(&m);
        dit_forward(&m, outs[k], b.x, sig, b.ref, b.tokens, k == 0 ? one : NULL, k < 2 ? one : NULL, B);
        for (size_t i = 0; i < Bn; i++) dscaled[i] = w3[k] * b.R[i];
        dit_backward(&m, dscaled, B);
        for (size_t i = 0; i < P; i++) g_sum[i] += m.grads[i];
    }
    flow_cfg2(want, vn, vr, vf, ctx.s_ref, ctx.s_txt, Bn);
    dit_zero_grad(&m);
    fn(&ctx, v, b.x, sigma, 3, B);
    double maxv = 0, err = 0;
    for (size_t i = 0; i < Bn; i++) maxv = fmax(maxv, fabs(want[i])), err = fmax(err, fabs((double)v[i] - want[i]));
    EXPECT(err <= 1e-5 * (1 + maxv) && maxv > 0.1, "guided v: max |diff| %.3g (max |v| %.3g)", err, maxv);
    EXPECT(memcmp(vn, vf, Bn * sizeof(float)) != 0 && memcmp(vr, vf, Bn * sizeof(float)) != 0,
           "the three conditions should give different velocities");
    dit_velocity_backward(&ctx, b.R, B);
    double gmax = 0, gerr = 0;
    for (size_t i = 0; i < P; i++) gmax = fmax(gmax, fabs(g_sum[i])), gerr = fmax(gerr, fabs((double)m.grads[i] - g_sum[i]));
    EXPECT(gerr <= 1e-5 * (1 + gmax), "guided backward: max |diff| %.3g (max |g| %.3g)", gerr, gmax);
    printf("     guided (2, 4.5): max |v - ref| %.2e, max |grad - ref| %.2e (max |grad| %.3g)\n", err, gerr, gmax);

    // ... and inside the real sampling loop: a 3-step ODE with guidance runs and stays finite
    float sigmas[4] = {1.0f, 0.6f, 0.3f, 0.0f};
    flow_sampler sc = {.kind = FLOW_ODE, .eta = 0, .init = FLOW_INIT_NOISE, .seed = 1, .stream = 2};
    float *x = cg_malloc(Bn * sizeof(float));
    flow_sample(x, NULL, NULL, dit_velocity, &ctx, sigmas, 3, &sc, B, b.n);
    int finite = 1;
    for (size_t i = 0; i < Bn; i++) finite &= isfinite(x[i]) != 0;
    EXPECT(finite, "sampling with the DiT produced non-finite values");
    free(x), free(v), free(plain), free(g_cb), free(vn), free(vr), free(vf), free(want), free(g_sum), free(dscaled);
    batch_free(&b);
    dit_free(&m);
}

// ---- timing (test_dit --bench) --------------------------------------------------------------------

static void bench_one(int C, int L, int NH, int B, int reps) {
    DiTConfig c = dit_config_default();
    c.width = C, c.depth = L, c.heads = NH, c.vocab = 64;
    DiTModel m;
    Batch b;
    dit_create(&m, &c, B);
    dit_init(&m, 1);
    // a fresh model with small non-zero gates and head: activations of a realistic size (the fully
    // random weights of the gradient tests saturate softmax and SiLU, whose expf underflow path
    // is many times slower and would distort the timing)
    for (int i = 0; i < m.table.n; i++) {
        const ParamSpec *s = &m.table.specs[i];
        if (strstr(s->name, "ada.weight") || strstr(s->name, "final.linear.weight"))
            gc_fill_normal(m.params + s->offset, s->count, 1, 300 + (uint64_t)i, 0.02f, 0.0f);
    }
    batch_make(&b, &c, B, 1);
    dit_forward(&m, b.v, b.x, b.sigma, b.ref, b.tokens, NULL, NULL, B); // warm up
    // the minimum over reps: the machine is shared, the minimum is the least disturbed run
    double fwd = 1e30, fb = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = cg_now();
        dit_forward(&m, b.v, b.x, b.sigma, b.ref, b.tokens, NULL, NULL, B);
        fwd = fmin(fwd, cg_now() - t0);
    }
    for (int r = 0; r < reps; r++) {
        double t0 = cg_now();
        dit_zero_grad(&m);
        dit_flow_loss(&m, b.x0, b.noise, b.sigma, b.ref, b.tokens, b.drop_ref, b.drop_txt, B);
        fb = fmin(fb, cg_now() - t0);
    }
    printf("C=%d L=%d NH=%d B=%d: %zu params, %.0f MiB activations; forward %.1f ms, forward+backward %.1f ms "
           "(min of %d, %d threads)\n",
           C, L, NH, B, m.table.total, (double)m.arena_bytes / (1 << 20), 1e3 * fwd, 1e3 * fb, reps, omp_get_max_threads());
    batch_free(&b);
    dit_free(&m);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) {
        int reps = argc > 2 ? atoi(argv[2]) : 5;
        bench_one(128, 6, 4, 16, reps);
        bench_one(192, 6, 6, 16, reps);
        return 0;
    }
    RUN(test_config_check);
    // The finite-difference tests run thousands of forwards of a tiny model: on one thread, since
    // an OpenMP region per attention call costs more than the whole tiny forward on a busy machine.
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    RUN(test_full_model_finite_differences);
    RUN(test_flow_loss_finite_differences);
    omp_set_num_threads(threads);
    RUN(test_init_velocity_is_zero);
    RUN(test_dropped_conditions_have_no_influence);
    RUN(test_same_bits_across_threads);
    RUN(test_batch_composition);
    RUN(test_velocity_callback);
    return test_summary("dit");
}
