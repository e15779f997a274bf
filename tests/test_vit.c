// test_vit.c: the image encoder, the text encoder and their contrastive / classification steps:
// finite differences of every backward (the whole encoders, the identity step, the CLIP step with
// logit_scale), unit-norm embeddings, PAD invariance of the text encoder, bit-identical results
// for 1 and 2 threads through forward + backward + AdamW, and a small learning check.
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "core/timer.h"
#include "gradcheck.h"
#include "models/textenc.h"
#include "models/vit.h"
#include "nn/optim.h"
#include "test.h"

// ---- helpers ------------------------------------------------------------------------------------

static void fill_normal(float *p, size_t n, uint64_t seed, uint64_t stream, float scale, float offset) {
    cg_rng_fill_normal(p, n, seed, stream, 0);
    for (size_t i = 0; i < n; i++) p[i] = offset + scale * p[i];
}

// Every parameter random and non-zero, so that every path of the backward carries gradient:
// LayerNorm weights 1 + 0.2 N, matrices N / sqrt(fan_in), vectors 0.1 N, logit_scale 1.2.
static void randomize(const ParamTable *t, float *params, uint64_t seed) {
    for (int i = 0; i < t->n; i++) {
        const ParamSpec *s = &t->specs[i];
        float *p = params + s->offset;
        if (strcmp(s->name, "logit_scale") == 0)
            p[0] = 1.2f;
        else if (strstr(s->name, "norm") && strstr(s->name, ".weight"))
            fill_normal(p, s->count, seed, 100 + (uint64_t)i, 0.2f, 1.0f);
        else if (s->ndim == 2)
            fill_normal(p, s->count, seed, 100 + (uint64_t)i, 1.0f / sqrtf((float)s->shape[1]), 0.0f);
        else
            fill_normal(p, s->count, seed, 100 + (uint64_t)i, 0.1f, 0.0f);
    }
}

// images (n) in [-1, 1]
static void random_images(float *img, size_t n, uint64_t seed) {
    cg_rng_fill_uniform(img, n, seed, 7, 0);
    for (size_t i = 0; i < n; i++) img[i] = 2.0f * img[i] - 1.0f;
}

static double row_norm(const float *x, int D) {
    double s = 0;
    for (int d = 0; d < D; d++) s += (double)x[d] * x[d];
    return sqrt(s);
}

// Symmetric InfoNCE in double, written independently of src/nn/loss.c:
// logits = scale a b^T; loss = (mean_i CE(row i, i) + mean_j CE(column j, j)) / 2.
static double infonce_double(const float *a, const float *b, double scale, int N, int D) {
    double rows = 0, cols = 0;
    for (int i = 0; i < N; i++) {
        double mr = -INFINITY, mc = -INFINITY;
        double lr[64], lc[64]; // N <= 64 in these tests
        for (int j = 0; j < N; j++) {
            double sr = 0, sc = 0;
            for (int d = 0; d < D; d++) {
                sr += (double)a[i * D + d] * b[j * D + d]; // row i: a_i . b_j
                sc += (double)a[j * D + d] * b[i * D + d]; // column i: a_j . b_i
            }
            lr[j] = scale * sr, lc[j] = scale * sc;
            mr = fmax(mr, lr[j]), mc = fmax(mc, lc[j]);
        }
        double zr = 0, zc = 0;
        for (int j = 0; j < N; j++) zr += exp(lr[j] - mr), zc += exp(lc[j] - mc);
        rows += mr + log(zr) - lr[i];
        cols += mc + log(zc) - lc[i];
    }
    return 0.5 * (rows / N + cols / N);
}

// ---- finite differences -------------------------------------------------------------------------

// The checks use gc_fd_tensors (gradcheck.h), h = 2^-7, on up to FD_PER_TENSOR elements of every
// tensor; gradients are of size 0.01 to 10 here. Each call prints its worst |fd - an| / (|an| + 0.1)
// (the tolerance is 1e-2 on that scale); observed <= 1.2e-3, mostly in the attention's qkv bias,
// whose gradient is a small difference.
#define FD_PER_TENSOR 30
#define FD_RTOL 1e-2
#define FD_ATOL 1e-3
static void fd_check(const char *what, GcTensor *ts, int nt, gc_probe_fn probe, void *ctx, uint64_t seed) {
    gc_fd_tensors(what, ts, nt, probe, ctx, 1.0 / 128, FD_PER_TENSOR, FD_RTOL, FD_ATOL, seed, 3, NULL);
}

// ---- configs --------------------------------------------------------------------------------------

// the tiny image encoder of the finite-difference checks
static ViTConfig tiny_vit(void) {
    ViTConfig c = {.img = 8, .patch = 4, .channels = 3, .width = 8, .depth = 2, .n_heads = 2,
                   .embed_dim = 4, .n_cls_heads = 1, .n_classes = {3}, .logit_scale = 1};
    return c;
}

static TextEncConfig tiny_text(void) {
    TextEncConfig c = {.max_len = 5, .vocab = 12, .width = 8, .depth = 2, .n_heads = 2, .embed_dim = 4};
    return c;
}

static void make_vit(ViT *m, const ViTConfig *c, int max_B, uint64_t seed) {
    char err[256];
    if (vit_create(m, c, max_B, err, sizeof(err))) cg_die("vit_create: %s", err);
    vit_init(m, seed);
}

static void make_text(TextEnc *m, const TextEncConfig *c, int max_B, uint64_t seed) {
    char err[256];
    if (textenc_create(m, c, max_B, err, sizeof(err))) cg_die("textenc_create: %s", err);
    textenc_init(m, seed);
}

// ---- config checks ------------------------------------------------------------------------------

static void test_config_check(void) {
    char err[256];
    ViTConfig c = tiny_vit();
    EXPECT(vit_config_check(&c, err, sizeof(err)) == 0, "tiny config refused: %s", err);
    ViTConfig bad = c;
    bad.img = 10;
    EXPECT(vit_config_check(&bad, err, sizeof(err)) != 0 && strstr(err, "multiple of patch"), "img 10: %s", err);
    bad = c, bad.n_heads = 3;
    EXPECT(vit_config_check(&bad, err, sizeof(err)) != 0 && strstr(err, "n_heads"), "n_heads 3: %s", err);
    bad = c, bad.n_cls_heads = VIT_MAX_CLS_HEADS + 1;
    EXPECT(vit_config_check(&bad, err, sizeof(err)) != 0, "too many heads accepted");
    bad = c, bad.n_classes[0] = 1;
    EXPECT(vit_config_check(&bad, err, sizeof(err)) != 0 && strstr(err, "classes"), "1 class: %s", err);
    bad = c, bad.embed_dim = 0;
    EXPECT(vit_config_check(&bad, err, sizeof(err)) != 0, "embed_dim 0 accepted");
    ViT m;
    EXPECT(vit_create(&m, &c, 0, err, sizeof(err)) != 0 && strstr(err, "max batch"), "max_B 0: %s", err);
    EXPECT(vit_create(&m, &bad, 4, err, sizeof(err)) != 0, "bad config created");

    TextEncConfig t = tiny_text();
    EXPECT(textenc_config_check(&t, err, sizeof(err)) == 0, "tiny text config refused: %s", err);
    TextEncConfig tb = t;
    tb.vocab = 1;
    EXPECT(textenc_config_check(&tb, err, sizeof(err)) != 0 && strstr(err, "vocab"), "vocab 1: %s", err);
    tb = t, tb.width = 6, tb.n_heads = 4;
    EXPECT(textenc_config_check(&tb, err, sizeof(err)) != 0, "width 6 / 4 heads accepted");
}

// The table: names, shapes, decay flags, and the init the header promises.
static void test_vit_table_and_init(void) {
    ViTConfig c = {.img = 32, .patch = 4, .channels = 3, .width = 96, .depth = 4, .n_heads = 4,
                   .embed_dim = 64, .n_cls_heads = 3, .n_classes = {21, 11, 6}, .logit_scale = 1};
    ViT m;
    make_vit(&m, &c, 2, 11);
    EXPECT(m.T == 64 && m.PD == 48, "T %d PD %d", m.T, m.PD);
    // patch embed, pos, 4 x 12 block tensors, norm x2, proj x2, 3 heads x 2, logit_scale
    EXPECT(m.table.n == 3 + 48 + 2 + 2 + 6 + 1, "%d tensors", m.table.n);
    for (int i = 0; i < m.table.n; i++) {
        const ParamSpec *s = &m.table.specs[i];
        int want = s->ndim == 2 && strcmp(s->name, "pos_embed") != 0;
        EXPECT(s->decay == want, "%s decay %d", s->name, s->decay);
    }
    const ParamSpec *h2 = param_table_find(&m.table, "heads.2.weight");
    EXPECT(h2 && h2->shape[0] == 6 && h2->shape[1] == 96, "heads.2.weight shape");
    EXPECT(param_table_find(&m.table, "blocks.3.mlp.fc2.weight") != NULL, "block 3 registered");
    EXPECT(*m.w.logit_scale == VIT_LOGIT_SCALE_INIT, "logit_scale init %g", *m.w.logit_scale);
    EXPECT_NEAR(vit_logit_scale(&m), 1.0 / 0.07, 1e-4);
    EXPECT(m.trunk.norm_w[5] == 1.0f && m.trunk.norm_b[5] == 0.0f, "final LayerNorm init");
    double sd = 0;
    for (int i = 0; i < m.T * 96; i++) sd += (double)m.w.pos[i] * m.w.pos[i];
    sd = sqrt(sd / (m.T * 96));
    EXPECT(sd > 0.018 && sd < 0.022, "pos_embed std %g, want 0.02", sd);
    double a = sqrt(6.0 / (96 + 48)), mx = 0;
    for (int i = 0; i < 96 * 48; i++) mx = fmax(mx, fabs(m.w.patch_w[i]));
    EXPECT(mx <= a && mx > 0.9 * a, "patch_embed max |w| %g, xavier bound %g", mx, a);
    // the same seed gives the same weights, another seed others
    ViT m2;
    make_vit(&m2, &c, 2, 11);
    EXPECT(memcmp(m.params, m2.params, m.table.total * sizeof(float)) == 0, "same seed, other weights");
    vit_init(&m2, 12);
    EXPECT(memcmp(m.params, m2.params, m.table.total * sizeof(float)) != 0, "other seed, same weights");
    vit_free(&m2);
    vit_free(&m);
}

// ---- unit norm ---------------------------------------------------------------------------------------

static void test_embeddings_unit_norm(void) {
    ViTConfig c = tiny_vit();
    c.img = 16, c.width = 16;
    ViT m;
    make_vit(&m, &c, 5, 3);
    size_t n = (size_t)5 * 16 * 16 * 3;
    float *img = cg_malloc(n * sizeof(float));
    random_images(img, n, 4);
    vit_forward(&m, img, 5);
    for (int b = 0; b < 5; b++) EXPECT_NEAR(row_norm(m.emb + b * 4, 4), 1.0, 1e-6);
    // vit_embed over 13 images in chunks of 5 equals per-chunk forwards
    float *many = cg_malloc(13 * n / 5 * sizeof(float)), *emb = cg_malloc(13 * 4 * sizeof(float));
    random_images(many, 13 * n / 5, 5);
    vit_embed(&m, emb, many, 13);
    vit_forward(&m, many + 10 * n / 5, 3);
    EXPECT(memcmp(emb + 40, m.emb, 12 * sizeof(float)) == 0, "vit_embed's last chunk differs");
    for (int b = 0; b < 13; b++) EXPECT_NEAR(row_norm(emb + b * 4, 4), 1.0, 1e-6);

    TextEncConfig tc = tiny_text();
    TextEnc t;
    make_text(&t, &tc, 3, 5);
    int tokens[15] = {3, 4, 5, 0, 0, 1, 11, 0, 0, 0, 0, 0, 0, 0, 0}; // the third prompt is empty
    textenc_forward(&t, tokens, 3);
    for (int b = 0; b < 3; b++) EXPECT_NEAR(row_norm(t.emb + b * 4, 4), 1.0, 1e-6);
    textenc_free(&t);
    free(img), free(many), free(emb);
    vit_free(&m);
}

// ---- finite differences of the whole image encoder ---------------------------------------------

typedef struct {
    ViT *m;
    const float *img;
    const float *R, *R2; // probes (B, D), (B, 3)
    int B;
} VitProbe;

// L = sum(emb * R) + sum(logits_0 * R2)
static double vit_probe(void *ctx) {
    VitProbe *p = ctx;
    vit_forward(p->m, p->img, p->B);
    double L = 0;
    for (int i = 0; i < p->B * p->m->cfg.embed_dim; i++) L += (double)p->m->emb[i] * p->R[i];
    for (int i = 0; i < p->B * 3; i++) L += (double)p->m->logits[0][i] * p->R2[i];
    return L;
}

static void test_vit_backward_finite_differences(void) {
    ViTConfig c = tiny_vit();
    const int B = 3, D = c.embed_dim;
    ViT m;
    make_vit(&m, &c, B, 21);
    randomize(&m.table, m.params, 21);
    size_t nimg = (size_t)B * 8 * 8 * 3;
    float *img = cg_malloc(nimg * sizeof(float)), *dimg = cg_calloc(nimg, sizeof(float));
    float R[3 * 4], R2[3 * 3];
    random_images(img, nimg, 22);
    fill_normal(R, (size_t)B * D, 23, 1, 1.0f, 0.0f);
    fill_normal(R2, (size_t)B * 3, 23, 2, 1.0f, 0.0f);
    VitProbe p = {&m, img, R, R2, B};
    vit_probe(&p);
    vit_zero_grad(&m);
    const float *dl[1] = {R2};
    vit_backward(&m, R, dl, dimg);
    // logit_scale is not on this path: its gradient stays exactly 0
    EXPECT(m.g.logit_scale[0] == 0.0f, "logit_scale got gradient %g from a plain backward", m.g.logit_scale[0]);

    GcTensor ts[64];
    int nt = 0;
    ts[nt++] = (GcTensor){"img", img, dimg, nimg};
    nt = gc_table_tensors(ts, nt, 64, &m.table, m.params, m.grads, "");
    nt--; // leave out logit_scale (the last tensor): checked in the contrastive tests
    fd_check("vit", ts, nt, vit_probe, &p, 24);

    // accumulation: a second backward doubles every gradient
    float *g1 = cg_malloc(m.table.total * sizeof(float));
    memcpy(g1, m.grads, m.table.total * sizeof(float));
    vit_probe(&p);
    vit_backward(&m, R, dl, NULL);
    int doubled = 1;
    for (size_t i = 0; i < m.table.total; i++) doubled &= m.grads[i] == 2.0f * g1[i];
    EXPECT(doubled, "a second backward does not add the same gradient again");
    free(g1), free(img), free(dimg);
    vit_free(&m);
}

// ---- finite differences of the text encoder ----------------------------------------------------------

typedef struct {
    TextEnc *m;
    const int *tokens;
    const float *R;
    int B;
} TextProbe;

static double text_probe(void *ctx) {
    TextProbe *p = ctx;
    textenc_forward(p->m, p->tokens, p->B);
    double L = 0;
    for (int i = 0; i < p->B * p->m->cfg.embed_dim; i++) L += (double)p->m->emb[i] * p->R[i];
    return L;
}

static void test_textenc_backward_finite_differences(void) {
    TextEncConfig c = tiny_text();
    const int B = 3, D = c.embed_dim, C = c.width;
    TextEnc m;
    make_text(&m, &c, B, 31);
    randomize(&m.table, m.params, 31);
    // lengths 5, 3 and 1: PADs at the end of the last two
    int tokens[15] = {2, 7, 11, 1, 2, 5, 9, 3, 0, 0, 4, 0, 0, 0, 0};
    float R[3 * 4];
    fill_normal(R, (size_t)B * D, 32, 1, 1.0f, 0.0f);
    TextProbe p = {&m, tokens, R, B};
    text_probe(&p);
    textenc_zero_grad(&m);
    textenc_backward(&m, R);
    int pad_zero = 1;
    for (int i = 0; i < C; i++) pad_zero &= m.g.tok[i] == 0.0f; // row 0 = PAD
    EXPECT(pad_zero, "the PAD embedding row received gradient");
    GcTensor ts[64];
    int nt = gc_table_tensors(ts, 0, 64, &m.table, m.params, m.grads, "");
    fd_check("textenc", ts, nt, text_probe, &p, 33);
    textenc_free(&m);
}

// ---- PAD invariance ----------------------------------------------------------------------------------

static void test_textenc_pad_invariance(void) {
    TextEncConfig c = tiny_text();
    c.max_len = 8;
    const int B = 4, D = c.embed_dim, C = c.width, Lt = c.max_len;
    TextEnc m;
    make_text(&m, &c, B, 41);
    randomize(&m.table, m.params, 41);
    // prompts of 3, 1, 5 and 2 words: positions 5..7 are PAD in every prompt
    int tokens[32] = {3, 4, 5, 0, 0, 0, 0, 0, /**/ 9, 0, 0, 0, 0, 0, 0, 0,
                      1, 2, 3, 4, 5, 0, 0, 0, /**/ 11, 10, 0, 0, 0, 0, 0, 0};
    textenc_forward(&m, tokens, B);
    float ref[16];
    memcpy(ref, m.emb, sizeof(ref));
    // whatever sits under a PAD (its embedding row, the positional rows past every prompt) must
    // not change a single bit of the embeddings
    fill_normal(m.w.tok, (size_t)C, 42, 1, 5.0f, 1.0f);
    fill_normal(m.w.pos + 5 * C, (size_t)3 * C, 42, 2, 5.0f, -1.0f);
    textenc_forward(&m, tokens, B);
    EXPECT(memcmp(ref, m.emb, sizeof(ref)) == 0, "PAD content changed an embedding");
    // appending PADs: a prompt "3 4 5" shortened or lengthened by PADs inside the same
    // sequence length is the same prompt. Prompt 0 moved to other batch-mates (other PAD counts
    // around it) keeps its bits too.
    int other[32];
    memcpy(other, tokens, sizeof(other));
    for (int t = 0; t < Lt; t++) other[1 * Lt + t] = t < 7 ? 1 + t : 0; // 7 words
    other[3 * Lt + 0] = 0, other[3 * Lt + 1] = 0;                         // empty
    textenc_forward(&m, other, B);
    EXPECT(memcmp(ref, m.emb, (size_t)D * sizeof(float)) == 0, "prompt 0 depends on its batch-mates");
    EXPECT(memcmp(ref + 2 * D, m.emb + 2 * D, (size_t)D * sizeof(float)) == 0, "prompt 2 depends on its batch-mates");
    // and the word content does matter
    EXPECT(memcmp(ref + D, m.emb + D, (size_t)D * sizeof(float)) != 0, "prompt 1 changed but not its embedding");
    // backward: PAD rows and positions past every prompt get exactly zero gradient
    textenc_forward(&m, tokens, B);
    float R[16];
    fill_normal(R, 16, 43, 1, 1.0f, 0.0f);
    textenc_zero_grad(&m);
    textenc_backward(&m, R);
    int zero_pad = 1, zero_pos = 1, some = 0;
    for (int i = 0; i < C; i++) zero_pad &= m.g.tok[i] == 0.0f, some |= m.g.tok[3 * C + i] != 0.0f;
    for (int i = 5 * C; i < Lt * C; i++) zero_pos &= m.g.pos[i] == 0.0f;
    EXPECT(zero_pad && zero_pos, "gradient under PADs: tok row 0 zero %d, pos rows 5..7 zero %d", zero_pad, zero_pos);
    EXPECT(some, "a real token got no gradient");
    textenc_free(&m);
}

// ---- the contrastive steps -----------------------------------------------------------------------------

typedef struct {
    ViT *img;
    TextEnc *txt; // NULL for the identity step
    const float *images;
    const int *tokens;
    int B;
} StepProbe;

// the step's loss recomputed in double from forward-only embeddings: InfoNCE(a, b, exp(logit_scale))
static double step_probe(void *ctx) {
    StepProbe *p = ctx;
    const int D = p->img->cfg.embed_dim;
    double scale = exp((double)*p->img->w.logit_scale);
    if (p->txt) {
        vit_forward(p->img, p->images, p->B);
        textenc_forward(p->txt, p->tokens, p->B);
        return infonce_double(p->img->emb, p->txt->emb, scale, p->B, D);
    }
    vit_forward(p->img, p->images, 2 * p->B);
    return infonce_double(p->img->emb, p->img->emb + (size_t)p->B * D, scale, p->B, D);
}

// share of the 2N rows/columns of a b^T whose diagonal entry is strictly the largest
static double accuracy_double(const float *a, const float *b, int N, int D) {
    int correct = 0;
    for (int dir = 0; dir < 2; dir++)
        for (int i = 0; i < N; i++) {
            double best = -INFINITY, diag = 0;
            for (int j = 0; j < N; j++) {
                double s = 0;
                for (int d = 0; d < D; d++)
                    s += dir ? (double)a[j * D + d] * b[i * D + d] : (double)a[i * D + d] * b[j * D + d];
                if (j == i) diag = s;
                else best = fmax(best, s);
            }
            correct += diag > best;
        }
    return (double)correct / (2 * N);
}

static void test_identity_step_gradients(void) {
    ViTConfig c = tiny_vit();
    const int B = 3, D = c.embed_dim;
    ViT m;
    make_vit(&m, &c, 2 * B, 51);
    randomize(&m.table, m.params, 51);
    size_t nimg = (size_t)2 * B * 8 * 8 * 3;
    float *views = cg_malloc(nimg * sizeof(float));
    random_images(views, nimg, 52);
    vit_zero_grad(&m);
    ContrastiveResult r = vit_identity_step(&m, views, B);
    StepProbe p = {&m, NULL, views, NULL, B};
    double L = step_probe(&p);
    EXPECT_NEAR(r.loss, L, 1e-5 * (1 + L));
    EXPECT_NEAR(r.scale, exp(1.2), 1e-5);
    EXPECT_NEAR(r.acc, accuracy_double(m.emb, m.emb + B * D, B, D), 1e-6);
    EXPECT(m.g.logit_scale[0] != 0.0f, "logit_scale got no gradient");
    GcTensor ts[64];
    int nt = gc_table_tensors(ts, 0, 64, &m.table, m.params, m.grads, "");
    fd_check("identity step", ts, nt, step_probe, &p, 53);
    // a collapsed encoder (every embedding the same unit vector): every logit ties, the loss is
    // log(B) and no row counts as retrieved (the accuracy is strict)
    memset(m.w.proj_w, 0, (size_t)D * c.width * sizeof(float));
    for (int d = 0; d < D; d++) m.w.proj_b[d] = 0.5f;
    vit_zero_grad(&m);
    r = vit_identity_step(&m, views, B);
    EXPECT_NEAR(r.loss, log((double)B), 1e-6);
    EXPECT(r.acc == 0.0f, "collapsed embeddings score accuracy %g", r.acc);
    free(views);
    vit_free(&m);
}

static void test_clip_step_gradients(void) {
    ViTConfig c = tiny_vit();
    TextEncConfig tc = tiny_text();
    const int B = 4, D = c.embed_dim;
    ViT img;
    TextEnc txt;
    make_vit(&img, &c, B, 61);
    make_text(&txt, &tc, B, 62);
    randomize(&img.table, img.params, 61);
    randomize(&txt.table, txt.params, 62);
    size_t nimg = (size_t)B * 8 * 8 * 3;
    float *images = cg_malloc(nimg * sizeof(float));
    random_images(images, nimg, 63);
    int tokens[20] = {2, 7, 11, 1, 2, 5, 9, 3, 0, 0, 4, 0, 0, 0, 0, 8, 8, 6, 10, 0};
    vit_zero_grad(&img);
    textenc_zero_grad(&txt);
    ContrastiveResult r = clip_step(&img, &txt, images, tokens, B);
    StepProbe p = {&img, &txt, images, tokens, B};
    double L = step_probe(&p);
    EXPECT_NEAR(r.loss, L, 1e-5 * (1 + L));
    EXPECT_NEAR(r.acc, accuracy_double(img.emb, txt.emb, B, D), 1e-6);
    GcTensor ts[96];
    int nt = gc_table_tensors(ts, 0, 96, &img.table, img.params, img.grads, "img.");
    nt = gc_table_tensors(ts, nt, 96, &txt.table, txt.params, txt.grads, "txt.");
    fd_check("clip step", ts, nt, step_probe, &p, 64);
    // the clamp: a logit_scale above log(100) is brought back before use
    *img.w.logit_scale = 7.0f;
    vit_zero_grad(&img);
    textenc_zero_grad(&txt);
    r = clip_step(&img, &txt, images, tokens, B);
    EXPECT(*img.w.logit_scale == VIT_LOGIT_SCALE_MAX, "logit_scale %g not clamped", *img.w.logit_scale);
    EXPECT_NEAR(r.scale, 100.0, 1e-3);
    free(images);
    textenc_free(&txt);
    vit_free(&img);
}

// the classification step's loss and accuracies against a double recomputation from the logits
static void test_classify_step(void) {
    ViTConfig c = tiny_vit();
    c.n_cls_heads = 2, c.n_classes[1] = 4;
    const int B = 5;
    ViT m;
    make_vit(&m, &c, B, 71);
    randomize(&m.table, m.params, 71);
    size_t nimg = (size_t)B * 8 * 8 * 3;
    float *imgs = cg_malloc(nimg * sizeof(float));
    random_images(imgs, nimg, 72);
    int labels[10] = {0, 3, 2, 1, 1, 0, 0, 2, 2, 3}; // (B, K)
    vit_zero_grad(&m);
    ClassifyResult r = vit_classify_step(&m, imgs, labels, B);
    double loss = 0;
    for (int k = 0; k < 2; k++) {
        int n = c.n_classes[k], correct = 0;
        double ce = 0;
        for (int b = 0; b < B; b++) {
            const float *l = m.logits[k] + b * n;
            double mx = -INFINITY, z = 0;
            int arg = 0;
            for (int j = 0; j < n; j++) {
                mx = fmax(mx, l[j]);
                if (l[j] > l[arg]) arg = j;
            }
            for (int j = 0; j < n; j++) z += exp(l[j] - mx);
            ce += mx + log(z) - l[labels[b * 2 + k]];
            correct += arg == labels[b * 2 + k];
        }
        loss += ce / B;
        EXPECT_NEAR(r.acc[k], (double)correct / B, 1e-6);
    }
    EXPECT_NEAR(r.loss, loss, 1e-5 * (1 + loss));
    // the heads and trunk got gradient, the embedding branch none
    double gh = 0, gp = 0, gpatch = 0;
    for (int i = 0; i < 4 * 8; i++) gh += fabs(m.g.head_w[1][i]), gp += fabs(m.g.proj_w[i]);
    for (int i = 0; i < 8 * 48; i++) gpatch += fabs(m.g.patch_w[i]);
    EXPECT(gh > 0 && gpatch > 0 && gp == 0, "grad |head1| %g |patch| %g |proj| %g", gh, gpatch, gp);
    free(imgs);
    vit_free(&m);
}

// ---- same bits for 1 and 2 threads ---------------------------------------------------------------------

// Two AdamW steps of each training step (identity, CLIP, classify) at sizes where every parallel
// path is taken; returns both encoders' parameters followed by the last embeddings.
static float *train_some(int threads, size_t *n_out) {
    omp_set_num_threads(threads);
    ViTConfig c = {.img = 32, .patch = 4, .channels = 3, .width = 32, .depth = 2, .n_heads = 4,
                   .embed_dim = 16, .n_cls_heads = 2, .n_classes = {5, 3}, .logit_scale = 1};
    TextEncConfig tc = {.max_len = 16, .vocab = 40, .width = 32, .depth = 2, .n_heads = 4, .embed_dim = 16};
    const int B = 8;
    ViT img;
    TextEnc txt;
    make_vit(&img, &c, 2 * B, 81);
    make_text(&txt, &tc, B, 82);
    size_t nimg = (size_t)2 * B * 32 * 32 * 3;
    float *images = cg_malloc(nimg * sizeof(float));
    random_images(images, nimg, 83);
    int tokens[8 * 16], labels[8 * 2];
    cg_rng r = cg_rng_make(84, 0);
    for (int b = 0; b < B; b++) {
        int len = 1 + (int)cg_rng_below(&r, 16);
        for (int t = 0; t < 16; t++) tokens[b * 16 + t] = t < len ? 1 + (int)cg_rng_below(&r, 39) : 0;
        labels[b * 2] = (int)cg_rng_below(&r, 5), labels[b * 2 + 1] = (int)cg_rng_below(&r, 3);
    }
    AdamWConfig ac = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 1e-4f};
    for (int step = 1; step <= 2; step++) {
        vit_zero_grad(&img);
        textenc_zero_grad(&txt);
        vit_identity_step(&img, images, B);
        clip_step(&img, &txt, images, tokens, B);
        vit_classify_step(&img, images + nimg / 2, labels, B);
        adamw_step(img.params, img.grads, img.m, img.v, &img.table, step, &ac);
        adamw_step(txt.params, txt.grads, txt.m, txt.v, &txt.table, step, &ac);
    }
    vit_forward(&img, images, 2 * B);
    textenc_forward(&txt, tokens, B);
    size_t n = img.table.total + txt.table.total + (size_t)2 * B * 16 + (size_t)B * 16;
    float *out = cg_malloc(n * sizeof(float)), *o = out;
    memcpy(o, img.params, img.table.total * sizeof(float)), o += img.table.total;
    memcpy(o, txt.params, txt.table.total * sizeof(float)), o += txt.table.total;
    memcpy(o, img.emb, (size_t)2 * B * 16 * sizeof(float)), o += 2 * B * 16;
    memcpy(o, txt.emb, (size_t)B * 16 * sizeof(float));
    *n_out = n;
    free(images);
    textenc_free(&txt);
    vit_free(&img);
    return out;
}

static void test_same_bits_across_threads(void) { free(expect_same_bits_across_threads(train_some, NULL)); }

// ---- a small learning check ----------------------------------------------------------------------------

// Synthetic identities: each is 3 coloured discs (colour, centre, radius) on a 16x16 image. A view
// re-renders the identity with a random shift of up to +-2 pixels, a random background grey,
// a random brightness change and Gaussian pixel noise.
#define ID_N 8
#define ID_SIDE 16
typedef struct {
    float col[3][3], cx[3], cy[3], rad[3];
} Identity;

static void make_identities(Identity *ids, uint64_t seed) {
    cg_rng r = cg_rng_make(seed, 1);
    for (int i = 0; i < ID_N; i++)
        for (int k = 0; k < 3; k++) {
            for (int ch = 0; ch < 3; ch++) ids[i].col[k][ch] = (float)(2 * cg_rng_uniform(&r) - 1);
            ids[i].cx[k] = (float)(4 + 8 * cg_rng_uniform(&r));
            ids[i].cy[k] = (float)(4 + 8 * cg_rng_uniform(&r));
            ids[i].rad[k] = (float)(2.5 + 2.5 * cg_rng_uniform(&r));
        }
}

static void render_view(float *img, const Identity *id, cg_rng *r) {
    float dx = (float)(cg_rng_below(r, 5)) - 2.0f, dy = (float)(cg_rng_below(r, 5)) - 2.0f;
    float bg = (float)(cg_rng_uniform(r) - 0.5), gain = (float)(0.7 + 0.3 * cg_rng_uniform(r));
    for (int y = 0; y < ID_SIDE; y++)
        for (int x = 0; x < ID_SIDE; x++) {
            float *px = img + ((size_t)y * ID_SIDE + x) * 3;
            for (int ch = 0; ch < 3; ch++) px[ch] = bg;
            for (int k = 0; k < 3; k++) {
                float ex = (float)x + 0.5f - id->cx[k] - dx, ey = (float)y + 0.5f - id->cy[k] - dy;
                if (ex * ex + ey * ey <= id->rad[k] * id->rad[k])
                    for (int ch = 0; ch < 3; ch++) px[ch] = gain * id->col[k][ch];
            }
            for (int ch = 0; ch < 3; ch++) {
                float v = px[ch] + 0.2f * (float)cg_rng_normal(r);
                px[ch] = v < -1 ? -1 : v > 1 ? 1 : v;
            }
        }
}

// 100 identity steps (B = 8 subjects, 2 fresh views each, ~0.4 s); each step's accuracy is
// measured before its update, on views the encoder has never seen. Chance (strict in-batch top-1)
// is 1/8 and the untrained encoder scores ~0.3 (steps 1-5). Thresholds: mean accuracy over the
// last 10 steps >= 0.5 and at least 0.25 above steps 1-5, and the loss below 0.4x its start.
// Observed: loss 3.12 -> 0.75, accuracy 0.31 -> 0.71 (a longer run reaches ~0.9 by step 400).
// A broken backward (e.g. a sign error or a missing term) leaves the accuracy near its start.
static void test_identity_learning(void) {
    ViTConfig c = {.img = ID_SIDE, .patch = 4, .channels = 3, .width = 32, .depth = 2, .n_heads = 2,
                   .embed_dim = 16, .logit_scale = 1};
    ViT m;
    make_vit(&m, &c, 2 * ID_N, 91);
    Identity ids[ID_N];
    make_identities(ids, 92);
    size_t per = (size_t)ID_SIDE * ID_SIDE * 3;
    float *views = cg_malloc(2 * ID_N * per * sizeof(float));
    cg_rng r = cg_rng_make(93, 0);
    AdamWConfig ac = {.lr = 3e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 1e-4f};
    const int steps = 100;
    double first_loss = 0, first_acc = 0, last_loss = 0, last_acc = 0;
    double t0 = cg_now();
    for (int step = 1; step <= steps; step++) {
        for (int i = 0; i < ID_N; i++) {
            render_view(views + (size_t)i * per, &ids[i], &r);
            render_view(views + (size_t)(ID_N + i) * per, &ids[i], &r);
        }
        vit_zero_grad(&m);
        ContrastiveResult res = vit_identity_step(&m, views, ID_N);
        adamw_step(m.params, m.grads, m.m, m.v, &m.table, step, &ac);
        if (step <= 5) first_loss += res.loss / 5, first_acc += res.acc / 5;
        if (step > steps - 10) last_loss += res.loss / 10, last_acc += res.acc / 10;
    }
    double secs = cg_now() - t0;
    printf("     identity learning: steps 1-5 loss %.3f acc %.2f -> last 10 loss %.3f acc %.2f (%.2f s)\n",
           first_loss, first_acc, last_loss, last_acc, secs);
    EXPECT(last_acc >= 0.5 && last_acc >= first_acc + 0.25, "in-batch accuracy %.2f -> %.2f after %d steps",
           first_acc, last_acc, steps);
    EXPECT(last_loss < 0.4 * first_loss, "loss %.3f -> %.3f, want below 0.4x", first_loss, last_loss);
    free(views);
    vit_free(&m);
}

int main(void) {
    RUN(test_config_check);
    RUN(test_vit_table_and_init);
    RUN(test_embeddings_unit_norm);
    RUN(test_vit_backward_finite_differences);
    RUN(test_textenc_backward_finite_differences);
    RUN(test_textenc_pad_invariance);
    RUN(test_identity_step_gradients);
    RUN(test_clip_step_gradients);
    RUN(test_classify_step);
    RUN(test_same_bits_across_threads);
    RUN(test_identity_learning);
    return test_summary("vit");
}
