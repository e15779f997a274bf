// test_blocks.c: the DiT and ViT blocks against the independent Python twin (tools/twin_blocks.py,
// fixtures in tests/fixtures/blocks/), finite differences of the full block backward, adaLN-Zero's
// identity start, and "same seed, same bits" across thread counts including an AdamW step.
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "fixture.h"
#include "gradcheck.h"
#include "models/dit_block.h"
#include "models/vit_block.h"
#include "nn/optim.h"
#include "test.h"

// ---- one block under test, DiT or ViT, with every buffer it needs --------------------------------

typedef struct {
    int vit; // 0: DiT block, 1: ViT block
    int B, T, C, NH;
    const char *prefix;
    ParamTable table;
    float *params, *grads;  // (table.total)
    DiTBlockWeights dw, dg; // bound into params / grads (DiT)
    ViTBlockWeights vw, vg; // bound into params / grads (ViT)
    DiTBlockActs dacts;
    ViTBlockActs vacts;
    float *acts, *scratch;
    float *x, *dx, *y, *R; // (B, T, C); R is the probe: L = sum(y * R), so dy = R
    float *c, *dc;         // (B, C), DiT only
    unsigned char *mask;   // (B, T)
} Block;

static void block_init(Block *k, int vit, int B, int T, int C, int NH, const char *prefix) {
    memset(k, 0, sizeof(*k));
    k->vit = vit, k->B = B, k->T = T, k->C = C, k->NH = NH, k->prefix = prefix;
    param_table_init(&k->table);
    size_t nacts, nscratch;
    if (vit) {
        vit_block_register(&k->table, prefix, C);
        nacts = vit_block_acts_floats(B, T, C, NH);
        nscratch = vit_block_scratch_floats(B, T, C, NH);
    } else {
        dit_block_register(&k->table, prefix, C);
        nacts = dit_block_acts_floats(B, T, C, NH);
        nscratch = dit_block_scratch_floats(B, T, C, NH);
    }
    k->params = cg_calloc(k->table.total, sizeof(float));
    k->grads = cg_calloc(k->table.total, sizeof(float));
    k->acts = cg_calloc(nacts, sizeof(float));
    k->scratch = cg_calloc(nscratch, sizeof(float));
    if (vit) {
        vit_block_bind(&k->vw, k->params, &k->table, prefix, C);
        vit_block_bind(&k->vg, k->grads, &k->table, prefix, C);
        vit_block_acts_bind(&k->vacts, k->acts, B, T, C, NH);
    } else {
        dit_block_bind(&k->dw, k->params, &k->table, prefix, C);
        dit_block_bind(&k->dg, k->grads, &k->table, prefix, C);
        dit_block_acts_bind(&k->dacts, k->acts, B, T, C, NH);
    }
    size_t btc = (size_t)B * T * C;
    k->x = cg_calloc(btc, sizeof(float));
    k->dx = cg_calloc(btc, sizeof(float));
    k->y = cg_calloc(btc, sizeof(float));
    k->R = cg_calloc(btc, sizeof(float));
    k->c = cg_calloc((size_t)B * C, sizeof(float));
    k->dc = cg_calloc((size_t)B * C, sizeof(float));
    k->mask = cg_malloc((size_t)B * T);
    memset(k->mask, 1, (size_t)B * T);
}

static void block_free(Block *k) {
    param_table_free(&k->table);
    free(k->params), free(k->grads), free(k->acts), free(k->scratch);
    free(k->x), free(k->dx), free(k->y), free(k->R), free(k->c), free(k->dc), free(k->mask);
}

static void block_forward(Block *k) {
    if (k->vit)
        vit_block_forward(k->y, &k->vacts, k->x, k->mask, &k->vw, k->B, k->T, k->C, k->NH);
    else
        dit_block_forward(k->y, &k->dacts, k->x, k->c, k->mask, &k->dw, k->B, k->T, k->C, k->NH);
}

// backward of L = sum(y * R) into dx, dc and grads (accumulating; NULLs skip)
static void block_backward(Block *k, float *dx, float *dc) {
    if (k->vit)
        vit_block_backward(dx, &k->vg, k->scratch, k->R, &k->vacts, k->x, k->mask, &k->vw, k->B, k->T,
                           k->C, k->NH);
    else
        dit_block_backward(dx, dc, &k->dg, k->scratch, k->R, &k->dacts, k->x, k->c, k->mask, &k->dw,
                           k->B, k->T, k->C, k->NH);
}

static void block_zero_grads(Block *k) {
    memset(k->grads, 0, k->table.total * sizeof(float));
    memset(k->dx, 0, (size_t)k->B * k->T * k->C * sizeof(float));
    memset(k->dc, 0, (size_t)k->B * k->C * sizeof(float));
}

// the probe loss in double
static double block_loss(Block *k) {
    block_forward(k);
    double L = 0;
    size_t n = (size_t)k->B * k->T * k->C;
    for (size_t i = 0; i < n; i++) L += (double)k->y[i] * k->R[i];
    return L;
}


// x, c (DiT) and every parameter, in table order; returns the count
static int block_tensors(Block *k, GcTensor *out, int max) {
    int n = 0;
    size_t btc = (size_t)k->B * k->T * k->C;
    out[n++] = (GcTensor){"x", k->x, k->dx, btc};
    if (!k->vit) out[n++] = (GcTensor){"c", k->c, k->dc, (size_t)k->B * k->C};
    return gc_table_tensors(out, n, max, &k->table, k->params, k->grads, "");
}

// ---- comparison against a reference --------------------------------------------------------------

// max |got - ref| <= rtol * (1 + max |ref|); prints the first mismatches side by side on failure.
// Returns the observed max |got - ref| divided by (1 + max |ref|), for the report.
static double compare(const char *what, const float *got, const float *ref, size_t n, double rtol) {
    double maxref = 0, maxerr = 0;
    for (size_t i = 0; i < n; i++) maxref = fmax(maxref, fabs((double)ref[i]));
    double tol = rtol * (1.0 + maxref);
    int shown = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - (double)ref[i]);
        if (!(e <= tol)) { // also catches NaN
            if (shown == 0) fprintf(stderr, "  %s: mismatches (tol %.3g)\n  %8s %15s %15s %12s\n", what, tol,
                                    "index", "C", "reference", "|diff|");
            if (shown < 8) fprintf(stderr, "  %8zu %15.8g %15.8g %12.4g\n", i, got[i], ref[i], e);
            shown++;
            maxerr = INFINITY;
        } else if (e > maxerr) {
            maxerr = e;
        }
    }
    if (shown) fprintf(stderr, "  %s: %d of %zu elements out of tolerance\n", what, shown, n);
    EXPECT(shown == 0, "%s differs from the reference", what);
    return maxerr / (1.0 + maxref);
}

static const FixtureTensor *need(const Fixture *fx, const char *name, size_t count) {
    const FixtureTensor *t = fixture_get(fx, name);
    EXPECT(t != NULL, "fixture has no tensor '%s'", name);
    if (t && t->count != count) {
        EXPECT(t->count == count, "fixture tensor '%s' has %zu elements, want %zu", name, t->count, count);
        return NULL;
    }
    return t;
}

static void fixture_path(char *out, size_t len, const char *file) {
    // fixtures live beside this source file; __FILE__ is relative to the repository root when
    // built by the Makefile, and the tests run from there
    const char *src = __FILE__;
    const char *slash = strrchr(src, '/');
    int dir = slash ? (int)(slash - src) : 0;
    snprintf(out, len, "%.*s%sfixtures/blocks/%s", dir, src, slash ? "/" : "", file);
}

// Forward tolerance: max|C - ref| <= 1e-5 (1 + max|ref|). The twin runs in float64 on the same
// float32-rounded inputs, so the difference is float32 rounding only: observed ~1e-7 (a few ulps
// through two LayerNorms, a softmax and sums of up to 4C = 64 terms). 1e-5 leaves ~100x margin
// for other BLAS kernels (AVX2 vs AVX-512, FMA or not), and still fails on any real bug: e.g. a
// LayerNorm eps of 1e-5 instead of 1e-6 moves y by 4e-2 on the fixtures' near-constant token.
// Gradient tolerance: 3e-5 (observed ~4e-7): backward chains more reductions (weight gradients
// sum over all B*T rows) and the near-constant token's LayerNorm amplifies by rstd ~300.
#define FWD_RTOL 1e-5
#define GRAD_RTOL 3e-5

// Loads the fixture, runs forward + backward with dy = R, and compares everything.
static void check_against_fixture(int vit, const char *file) {
    char path[512], err[256];
    fixture_path(path, sizeof(path), file);
    Fixture fx;
    if (fixture_load(&fx, path, err, sizeof(err))) {
        EXPECT(0, "cannot load fixture: %s", err);
        return;
    }
    const FixtureTensor *cfg = need(&fx, "config", 4);
    if (!cfg) {
        fixture_free(&fx);
        return;
    }
    int B = (int)cfg->data[0], T = (int)cfg->data[1], C = (int)cfg->data[2], NH = (int)cfg->data[3];
    const char *prefix = "blocks.2."; // the fixture's names are the table's names without a prefix
    Block k;
    block_init(&k, vit, B, T, C, NH, prefix);
    size_t btc = (size_t)B * T * C, plen = strlen(prefix);

    // inputs, probe, key mask and weights from the fixture
    const FixtureTensor *t;
    if ((t = need(&fx, "x", btc))) memcpy(k.x, t->data, btc * sizeof(float));
    if ((t = need(&fx, "R", btc))) memcpy(k.R, t->data, btc * sizeof(float));
    if (!vit && (t = need(&fx, "c", (size_t)B * C))) memcpy(k.c, t->data, (size_t)B * C * sizeof(float));
    if ((t = need(&fx, "key_mask", (size_t)B * T)))
        for (int i = 0; i < B * T; i++) k.mask[i] = t->data[i] > 0.5f;
    int masked = 0;
    for (int i = 0; i < B * T; i++) masked += !k.mask[i];
    EXPECT(masked > 0, "the fixture should mask some keys");
    for (int i = 0; i < k.table.n; i++) {
        const ParamSpec *s = &k.table.specs[i];
        EXPECT(s->decay == (s->ndim == 2), "%s: decay %d for a %d-d tensor", s->name, s->decay, s->ndim);
        if ((t = need(&fx, s->name + plen, s->count))) memcpy(k.params + s->offset, t->data, s->count * sizeof(float));
    }
    int nexpect = vit ? 12 : 10;
    EXPECT(k.table.n == nexpect, "%d tensors registered, want %d", k.table.n, nexpect);

    // forward
    block_forward(&k);
    if ((t = need(&fx, "y", btc))) {
        double e = compare("y", k.y, t->data, btc, FWD_RTOL);
        printf("     %s y: max|err|/(1+max|ref|) = %.2e (tol %.0e)\n", vit ? "vit" : "dit", e, FWD_RTOL);
    }

    // backward, twice: the second call must add the same amount again (accumulation)
    double worst = 0;
    const char *worst_name = "";
    GcTensor ts[32];
    int nt = block_tensors(&k, ts, 32);
    for (int pass = 1; pass <= 2; pass++) {
        block_backward(&k, k.dx, k.dc);
        for (int i = 0; i < nt; i++) {
            const char *base = strncmp(ts[i].name, prefix, plen) == 0 ? ts[i].name + plen : ts[i].name;
            char gname[PARAM_NAME_MAX + 16];
            snprintf(gname, sizeof(gname), "grad.%.*s", PARAM_NAME_MAX, base);
            if (!(t = need(&fx, gname, ts[i].count))) continue;
            float *ref = cg_malloc(t->count * sizeof(float));
            for (size_t j = 0; j < t->count; j++) ref[j] = (float)pass * t->data[j];
            char what[PARAM_NAME_MAX + 64];
            snprintf(what, sizeof(what), "%s (backward call %d)", gname, pass);
            double e = compare(what, ts[i].grad, ref, t->count, GRAD_RTOL);
            if (pass == 1 && e > worst) worst = e, worst_name = ts[i].name;
            free(ref);
        }
    }
    printf("     %s grads: worst max|err|/(1+max|ref|) = %.2e in %s (tol %.0e)\n", vit ? "vit" : "dit", worst,
           worst_name, GRAD_RTOL);

    // NULL dx / dc: parameter gradients unchanged, nothing else written
    memset(k.grads, 0, k.table.total * sizeof(float));
    block_backward(&k, NULL, NULL);
    for (int i = 2 - vit; i < nt; i++) {
        const char *base = ts[i].name + plen;
        char gname[PARAM_NAME_MAX + 16];
        snprintf(gname, sizeof(gname), "grad.%.*s", PARAM_NAME_MAX, base);
        if ((t = need(&fx, gname, ts[i].count))) {
            char what[PARAM_NAME_MAX + 64];
            snprintf(what, sizeof(what), "%s (dx = dc = NULL)", gname);
            compare(what, ts[i].grad, t->data, t->count, GRAD_RTOL);
        }
    }
    block_free(&k);
    fixture_free(&fx);
}

static void test_dit_matches_twin(void) { check_against_fixture(0, "dit.cgfx"); }
static void test_vit_matches_twin(void) { check_against_fixture(1, "vit.cgfx"); }

// ---- random blocks for the finite-difference and determinism tests --------------------------------

// every parameter random and non-zero (adaLN included, so that all gates are active)
static void randomize(Block *k, uint64_t seed) {
    for (int i = 0; i < k->table.n; i++) {
        const ParamSpec *s = &k->table.specs[i];
        float *p = k->params + s->offset;
        int is_norm_w = strstr(s->name, "norm") && strstr(s->name, ".weight");
        int is_ada = strstr(s->name, "ada.") != NULL;
        float fan_in = s->ndim == 2 ? (float)s->shape[1] : 1.0f;
        if (is_norm_w)
            gc_fill_normal(p, s->count, seed, 100 + (uint64_t)i, 0.2f, 1.0f);
        else if (s->ndim == 2)
            gc_fill_normal(p, s->count, seed, 100 + (uint64_t)i, (is_ada ? 0.6f : 1.0f) / sqrtf(fan_in), 0.0f);
        else
            gc_fill_normal(p, s->count, seed, 100 + (uint64_t)i, is_ada ? 0.3f : 0.1f, 0.0f);
    }
    size_t btc = (size_t)k->B * k->T * k->C;
    gc_fill_normal(k->x, btc, seed, 1, 1.0f, 0.0f);
    gc_fill_normal(k->R, btc, seed, 2, 1.0f, 0.0f);
    gc_fill_normal(k->c, (size_t)k->B * k->C, seed, 3, 1.0f, 0.0f);
}

static double block_probe(void *k) { return block_loss(k); }

// Finite differences of L = sum(y * R) (accumulated in double) with the 5-point stencil
// (L(-2h) - 8 L(-h) + 8 L(h) - L(2h)) / 12h, h = 2^-7, on up to 40 random elements of every
// tensor (x, c and all weights), with gc_fd_tensors. Pass: |fd - analytic| <= 1e-2 |analytic| +
// 2e-3. Why: the block runs in float32, so L carries rounding noise of about 1e-6 (80 outputs of
// size ~1); divided by 12h that is ~1e-4 in the difference quotient, the stencil's truncation error
// is O(h^4) ~ 1e-8, and the gradients are of size 0.1 to 10. A wrong backward is off by O(1) relative.
static void fd_check(int vit) {
    Block k;
    const int B = 2, T = 5, C = 8, NH = 2;
    block_init(&k, vit, B, T, C, NH, "blk.");
    randomize(&k, vit ? 77 : 78);
    k.mask[1 * T + 1] = 0; // batch item 1 cannot attend to keys 1 and 3
    k.mask[1 * T + 3] = 0;
    block_forward(&k);
    block_zero_grads(&k);
    block_backward(&k, k.dx, k.dc);

    GcTensor ts[32];
    int nt = block_tensors(&k, ts, 32);
    gc_fd_tensors(vit ? "vit" : "dit", ts, nt, block_probe, &k, 1.0 / 128, 40, 1e-2, 2e-3, 9, (uint64_t)vit, NULL);
    block_free(&k);
}

static void test_dit_backward_finite_differences(void) { fd_check(0); }
static void test_vit_backward_finite_differences(void) { fd_check(1); }

// adaLN-Zero: after dit_block_init every gate is 0, so the block is exactly the identity, dx = dy,
// and only the adaLN weights receive gradient (through the gates).
static void test_dit_init_is_identity(void) {
    Block k;
    const int B = 2, T = 6, C = 16, NH = 4;
    block_init(&k, 0, B, T, C, NH, "");
    randomize(&k, 5);
    cg_rng rng = cg_rng_make(1234, 0);
    dit_block_init(&k.dw, C, &rng);
    block_forward(&k);
    size_t btc = (size_t)B * T * C;
    EXPECT(memcmp(k.y, k.x, btc * sizeof(float)) == 0, "y != x at initialization");
    block_zero_grads(&k);
    block_backward(&k, k.dx, k.dc);
    EXPECT(memcmp(k.dx, k.R, btc * sizeof(float)) == 0, "dx != dy at initialization");
    gc_expect_grad_only(&k.table, k.grads, "ada.", "all gates are zero, the adaLN weights feed them");
    // xavier bound: |w| <= sqrt(6 / (fan_in + fan_out)), and not all tiny
    double a = sqrt(6.0 / (4 * C + C)), mx = 0;
    for (int j = 0; j < 4 * C * C; j++) mx = fmax(mx, fabs(k.dw.fc1_w[j]));
    EXPECT(mx <= a && mx > 0.8 * a, "fc1 max |w| %g, xavier bound %g", mx, a);
    block_free(&k);
}

static void test_vit_init(void) {
    Block k;
    const int C = 8;
    block_init(&k, 1, 1, 3, C, 2, "");
    cg_rng rng = cg_rng_make(1, 0);
    vit_block_init(&k.vw, C, &rng);
    for (int j = 0; j < C; j++) {
        EXPECT(k.vw.ln1_w[j] == 1.0f && k.vw.ln2_w[j] == 1.0f, "norm weights start at 1");
        EXPECT(k.vw.ln1_b[j] == 0.0f && k.vw.proj_b[j] == 0.0f, "biases start at 0");
    }
    double a = sqrt(6.0 / (3 * C + C)), mx = 0;
    for (int j = 0; j < 3 * C * C; j++) mx = fmax(mx, fabs(k.vw.qkv_w[j]));
    EXPECT(mx <= a && mx > 0.7 * a, "qkv max |w| %g, xavier bound %g", mx, a);
    block_free(&k);
}

// ---- same seed, same bits ------------------------------------------------------------------------

// Two steps of DiT block forward + backward + AdamW at a moderate size with a key mask; returns
// the final parameters, y, dx and dc (caller frees), their count in *len.
static float *dit_train_two_steps(int threads, size_t *len) {
    omp_set_num_threads(threads);
    Block k;
    const int B = 4, T = 80, C = 64, NH = 4;
    block_init(&k, 0, B, T, C, NH, "blocks.0.");
    randomize(&k, 31);
    cg_rng rng = cg_rng_make(31, 7);
    dit_block_init(&k.dw, C, &rng);
    // adaLN-Zero would zero every gate and with it most gradients: make the adaLN weights small
    // but non-zero so that every path of the backward is exercised
    gc_fill_normal(k.dw.ada_w, (size_t)6 * C * C, 31, 50, 0.02f, 0.0f);
    for (int b = 0; b < B; b++)
        for (int t = T - 5 * b; t < T; t++) k.mask[b * T + t] = 0; // 0, 5, 10, 15 padded keys
    float *m = cg_calloc(k.table.total, sizeof(float)), *v = cg_calloc(k.table.total, sizeof(float));
    AdamWConfig cfg = {.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 1e-4f};
    for (int step = 1; step <= 2; step++) {
        block_forward(&k);
        block_zero_grads(&k);
        block_backward(&k, k.dx, k.dc);
        adamw_step(k.params, k.grads, m, v, &k.table, step, &cfg);
    }
    // fold the last dx, dc and y into the result too: they must match as well
    size_t btc = (size_t)B * T * C, n = k.table.total;
    float *out = cg_malloc((n + 2 * btc + (size_t)B * C) * sizeof(float));
    memcpy(out, k.params, n * sizeof(float));
    memcpy(out + n, k.y, btc * sizeof(float));
    memcpy(out + n + btc, k.dx, btc * sizeof(float));
    memcpy(out + n + 2 * btc, k.dc, (size_t)B * C * sizeof(float));
    *len = n + 2 * btc + (size_t)B * C;
    free(m), free(v);
    block_free(&k);
    return out;
}

static void test_dit_same_bits_across_threads(void) { free(expect_same_bits_across_threads(dit_train_two_steps, NULL)); }

// ---- the fixture reader refuses broken files ------------------------------------------------------

static void test_fixture_reader_rejects_bad_files(void) {
    char path[512], err[256];
    fixture_path(path, sizeof(path), "vit.cgfx");
    FILE *f = fopen(path, "rb");
    EXPECT(f != NULL, "cannot open %s", path);
    if (!f) return;
    unsigned char *buf = cg_malloc(1 << 20);
    size_t len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    Fixture fx;
    EXPECT(fixture_parse_(&fx, buf, len, err, sizeof(err)) == 0, "good file: %s", err);
    fixture_free(&fx);
    // every truncation fails cleanly (ASan would catch an over-read)
    int failures = 0;
    for (size_t cut = 0; cut < len; cut += 97) {
        fx.t = NULL, fx.n = 0;
        failures += fixture_parse_(&fx, buf, cut, err, sizeof(err)) != 0;
        fixture_free(&fx);
    }
    EXPECT(failures == (int)((len + 96) / 97), "a truncated fixture was accepted");
    // a huge dimension is refused before any allocation
    fx.t = NULL, fx.n = 0;
    unsigned char evil[] = {'C', 'G', 'F', 'X', 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 'x',
                            2, 0, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0};
    EXPECT(fixture_parse_(&fx, evil, sizeof(evil), err, sizeof(err)) != 0, "huge dims accepted");
    fixture_free(&fx);
    buf[0] = 'X';
    fx.t = NULL, fx.n = 0;
    EXPECT(fixture_parse_(&fx, buf, len, err, sizeof(err)) != 0, "bad magic accepted");
    fixture_free(&fx);
    free(buf);
}

int main(void) {
    RUN(test_dit_matches_twin);
    RUN(test_vit_matches_twin);
    RUN(test_dit_backward_finite_differences);
    RUN(test_vit_backward_finite_differences);
    RUN(test_dit_init_is_identity);
    RUN(test_vit_init);
    RUN(test_dit_same_bits_across_threads);
    RUN(test_fixture_reader_rejects_bad_files);
    return test_summary("blocks");
}
