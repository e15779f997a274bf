// test_embed.c: patchify/unpatchify (hand-checked index, exact round trips, gradients), the
// sinusoidal timestep embedding (known values, derivative by finite differences) and the token
// embedding (forward copies, backward accumulates repeated tokens).
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "gradcheck.h"
#include "nn/embed.h"
#include "test.h"

// ---- patchify ----------------------------------------------------------------------------------

static void test_patchify_index_and_round_trip(void) {
    enum { B = 2, H = 8, W = 12, CH = 3, P = 4 };
    const int GW = W / P, T = (H / P) * GW, D = P * P * CH;
    size_t n = (size_t)B * H * W * CH;
    float *img = cg_malloc(n * sizeof(float)), *tok = cg_malloc(n * sizeof(float));
    float *back = cg_malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) img[i] = (float)i; // every pixel value is its own HWC index
    patchify_forward(tok, img, B, H, W, CH, P);
    // pixel (b, y, x, c) lands in token (y/P)*(W/P) + x/P, feature ((y%P)*P + x%P)*CH + c
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int c = 0; c < CH; c++) {
                    int t = (y / P) * GW + x / P, f = ((y % P) * P + x % P) * CH + c;
                    float want = (float)(((b * H + y) * W + x) * CH + c);
                    if (tok[((size_t)b * T + t) * D + f] != want && bad++ < 5)
                        EXPECT(0, "pixel (%d,%d,%d,%d) not at token %d feature %d", b, y, x, c, t, f);
                }
    EXPECT(bad == 0, "%d pixels misplaced", bad);
    // two spot values worked out by hand: b=0, y=5, x=6, c=2 -> token (1)*3 + 1 = 4,
    // feature (1*4 + 2)*3 + 2 = 20, value ((0*8 + 5)*12 + 6)*3 + 2 = 200
    EXPECT(tok[(size_t)4 * D + 20] == 200.0f, "token 4 feature 20 = %g", tok[(size_t)4 * D + 20]);
    // b=1, y=0, x=11, c=0 -> token 2, feature (0*4 + 3)*3 + 0 = 9, value ((8 + 0)*12 + 11)*3 = 321
    EXPECT(tok[((size_t)T + 2) * D + 9] == 321.0f, "b1 token 2 feature 9 = %g", tok[((size_t)T + 2) * D + 9]);
    // round trips are exact, both ways
    unpatchify_forward(back, tok, B, H, W, CH, P);
    EXPECT(memcmp(back, img, n * sizeof(float)) == 0, "unpatchify(patchify(x)) != x");
    float *rt = gc_randn(n, 3, 0, 1, 0);
    unpatchify_forward(img, rt, B, H, W, CH, P);
    patchify_forward(tok, img, B, H, W, CH, P);
    EXPECT(memcmp(tok, rt, n * sizeof(float)) == 0, "patchify(unpatchify(t)) != t");
    free(img), free(tok), free(back), free(rt);
}

typedef struct {
    float *in, *out;
    const float *R;
    int B, H, W, CH, P, inverse;
} patch_ctx;

static double patch_probe(void *p) {
    patch_ctx *c = p;
    if (c->inverse)
        unpatchify_forward(c->out, c->in, c->B, c->H, c->W, c->CH, c->P);
    else
        patchify_forward(c->out, c->in, c->B, c->H, c->W, c->CH, c->P);
    return gc_dot(c->out, c->R, (size_t)c->B * c->H * c->W * c->CH);
}

static void patch_gradcheck(int inverse) {
    enum { B = 2, H = 4, W = 6, CH = 3, P = 2 };
    size_t n = (size_t)B * H * W * CH;
    float *in = gc_randn(n, 10 + inverse, 0, 1, 0), *out = cg_malloc(n * sizeof(float)), *R = gc_randn(n, 20, 0, 1, 0);
    float *grad = cg_calloc(n, sizeof(float));
    patch_ctx ctx = {in, out, R, B, H, W, CH, P, inverse};
    if (inverse)
        unpatchify_backward(grad, R, B, H, W, CH, P);
    else
        patchify_backward(grad, R, B, H, W, CH, P);
    double worst = gradcheck(inverse ? "unpatchify.dtokens" : "patchify.dimg", in, grad, n, patch_probe,
                             &ctx, 1e-3f, 1e-2);
    EXPECT(worst < 1e-2, "worst relative error %g", worst);
    // backward accumulates: a second call doubles the gradient (exactly: x + x is exact)
    float *once = cg_malloc(n * sizeof(float));
    memcpy(once, grad, n * sizeof(float));
    if (inverse)
        unpatchify_backward(grad, R, B, H, W, CH, P);
    else
        patchify_backward(grad, R, B, H, W, CH, P);
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += grad[i] != 2.0f * once[i];
    EXPECT(bad == 0, "%d gradient entries did not accumulate", bad);
    free(in), free(out), free(R), free(grad), free(once);
}

static void test_patchify_gradcheck(void) { patch_gradcheck(0); }
static void test_unpatchify_gradcheck(void) { patch_gradcheck(1); }

// ---- timestep embedding ------------------------------------------------------------------------

static void test_timestep_embedding_values(void) {
    enum { D = 8 };
    float t[3] = {0.0f, 1.0f, 250.0f}, out[3 * D];
    timestep_embedding_forward(out, t, 3, D, 10000.0f);
    for (int i = 0; i < D / 2; i++) {
        EXPECT(out[i] == 1.0f, "t=0: cos part [%d] = %g", i, out[i]);
        EXPECT(out[D / 2 + i] == 0.0f, "t=0: sin part [%d] = %g", i, out[D / 2 + i]);
    }
    // t = 1, half = 4: freqs 10000^(-i/4) = 1, 0.1, 0.01, 0.001
    const double f[4] = {1.0, 0.1, 0.01, 0.001};
    for (int i = 0; i < 4; i++) {
        EXPECT_NEAR(out[D + i], cos(f[i]), 1e-7);
        EXPECT_NEAR(out[D + 4 + i], sin(f[i]), 1e-7);
        EXPECT_NEAR(out[2 * D + i], cos(250.0 * f[i]), 1e-6);
        EXPECT_NEAR(out[2 * D + 4 + i], sin(250.0 * f[i]), 1e-6);
    }
    EXPECT_NEAR(out[D + 0], 0.5403023059, 1e-7); // cos(1), by hand
    EXPECT_NEAR(out[D + 5], 0.0998334166, 1e-7); // sin(0.1)
}

typedef struct {
    float *t, *out;
    const float *R;
    int B, D;
} ts_ctx;

static double ts_probe(void *p) {
    ts_ctx *c = p;
    timestep_embedding_forward(c->out, c->t, c->B, c->D, 10000.0f);
    return gc_dot(c->out, c->R, (size_t)c->B * c->D);
}

static void test_timestep_embedding_gradcheck(void) {
    enum { B = 5, D = 16 };
    float t[B] = {0.0f, 0.3f, 2.5f, 17.0f, 123.4f}, out[B * D];
    float *R = gc_randn(B * D, 30, 0, 1, 0);
    float dt[B] = {1, 2, 3, 4, 5}, dt0[B] = {1, 2, 3, 4, 5}, grad[B];
    timestep_embedding_backward(dt, R, t, B, D, 10000.0f);
    for (int b = 0; b < B; b++) grad[b] = dt[b] - dt0[b]; // backward accumulates into dt
    ts_ctx ctx = {t, out, R, B, D};
    double worst = gradcheck("timestep.dt", t, grad, B, ts_probe, &ctx, 1e-3f, 1e-2);
    EXPECT(worst < 1e-2, "worst relative error %g", worst);
    // at t = 0 the derivative is sum_i f_i R[half + i] (d sin(t f)/dt = f at 0), worked out directly
    double want = 0;
    for (int i = 0; i < D / 2; i++) want += pow(10000.0, -(double)i / (D / 2)) * R[D / 2 + i];
    EXPECT_NEAR(grad[0], want, 1e-5);
    free(R);
}

// ---- token embedding ---------------------------------------------------------------------------

typedef struct {
    float *table, *out;
    const int *tokens;
    const float *R;
    int B, T, C;
} emb_ctx;

static double emb_probe(void *p) {
    emb_ctx *c = p;
    embedding_forward(c->out, c->tokens, c->table, c->B, c->T, c->C);
    return gc_dot(c->out, c->R, (size_t)c->B * c->T * c->C);
}

static void test_embedding(void) {
    enum { V = 5, C = 3, B = 2, T = 3 };
    const int tokens[B * T] = {1, 4, 1, 0, 1, 2}; // token 1 three times, token 3 never
    float *table = gc_randn(V * C, 40, 0, 1, 0), *R = gc_randn(B * T * C, 41, 0, 1, 0), out[B * T * C];
    embedding_forward(out, tokens, table, B, T, C);
    for (int n = 0; n < B * T; n++)
        EXPECT(memcmp(out + n * C, table + tokens[n] * C, C * sizeof(float)) == 0, "row %d", n);
    float dtable[V * C];
    for (int i = 0; i < V * C; i++) dtable[i] = 0.5f;
    embedding_backward(dtable, R, tokens, B, T, C);
    for (int c = 0; c < C; c++) {
        float row1 = 0.5f; // initial value, then positions 0, 2, 4 in order
        row1 += R[0 * C + c], row1 += R[2 * C + c], row1 += R[4 * C + c];
        EXPECT(dtable[1 * C + c] == row1, "repeated token 1, channel %d: %g vs %g", c, dtable[C + c], row1);
        EXPECT(dtable[3 * C + c] == 0.5f, "unused token 3 changed: %g", dtable[3 * C + c]);
        EXPECT(dtable[0 * C + c] == 0.5f + R[3 * C + c], "token 0 channel %d", c);
        EXPECT(dtable[4 * C + c] == 0.5f + R[1 * C + c], "token 4 channel %d", c);
    }
    float grad[V * C];
    for (int i = 0; i < V * C; i++) grad[i] = dtable[i] - 0.5f;
    emb_ctx ctx = {table, out, tokens, R, B, T, C};
    double worst = gradcheck("embedding.dtable", table, grad, V * C, emb_probe, &ctx, 1e-3f, 1e-2);
    EXPECT(worst < 1e-2, "worst relative error %g", worst);
    free(table), free(R);
}

int main(void) {
    RUN(test_patchify_index_and_round_trip);
    RUN(test_patchify_gradcheck);
    RUN(test_unpatchify_gradcheck);
    RUN(test_timestep_embedding_values);
    RUN(test_timestep_embedding_gradcheck);
    RUN(test_embedding);
    return test_summary("embed");
}
