// embed.c: patchify / unpatchify of HWC images, the sinusoidal timestep embedding and the token
// embedding table. See embed.h for the layouts. All loops are serial: these layers move a few
// hundred kilobytes per step, and serial accumulation keeps backward bit-identical everywhere.
#include "nn/embed.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "core/check.h"

// ---- patchify / unpatchify -------------------------------------------------------------------------
// Token (gy, gx) of image b is patch rows [gy P, gy P + P) x columns [gx P, gx P + P). Its feature
// vector is the patch's pixels in (py, px, ch) order, so each patch row py is one contiguous run of
// P * CH floats both in the image and in the token: every function below walks these runs.

// Offsets of the start of the run (b, gy, gx, py) in the image and in the tokens.
typedef struct {
    size_t img, tok; // float offsets
} patch_run;

static patch_run patch_run_at(int b, int gy, int gx, int py, int H, int W, int CH, int P) {
    const int GW = W / P, T = (H / P) * GW;
    const size_t D = (size_t)P * P * CH; // features per token
    patch_run r;
    r.img = (((size_t)b * H + (size_t)gy * P + py) * W + (size_t)gx * P) * CH;
    r.tok = ((size_t)b * T + (size_t)gy * GW + gx) * D + (size_t)py * P * CH;
    return r;
}

static void patch_check(int B, int H, int W, int CH, int P) {
    CG_CHECK(B > 0 && H > 0 && W > 0 && CH > 0 && P > 0, "B=%d H=%d W=%d CH=%d P=%d", B, H, W, CH, P);
    // (CG_CHECK pastes its condition into a format string, so no '%' operator inside it)
    const int whole_patches = H % P == 0 && W % P == 0;
    CG_CHECK(whole_patches, "image %dx%d is not a multiple of patch %d", H, W, P);
}

// Moves every run between the two layouts: dst is the token layout when to_tokens is 1, the image
// layout when 0 (src is the other one); accumulate = 1 adds into dst instead of overwriting it.
static void patch_move(float *dst, const float *src, int to_tokens, int accumulate, int B, int H,
                       int W, int CH, int P) {
    patch_check(B, H, W, CH, P);
    const size_t run = (size_t)P * CH;
    for (int b = 0; b < B; b++)
        for (int gy = 0; gy < H / P; gy++)
            for (int gx = 0; gx < W / P; gx++)
                for (int py = 0; py < P; py++) {
                    patch_run r = patch_run_at(b, gy, gx, py, H, W, CH, P);
                    float *d = dst + (to_tokens ? r.tok : r.img);
                    const float *s = src + (to_tokens ? r.img : r.tok);
                    if (accumulate)
                        for (size_t i = 0; i < run; i++) d[i] += s[i];
                    else
                        memcpy(d, s, run * sizeof(float));
                }
}

void patchify_forward(float *tokens, const float *img, int B, int H, int W, int CH, int P) {
    patch_move(tokens, img, 1, 0, B, H, W, CH, P);
}
void patchify_backward(float *dimg, const float *dtokens, int B, int H, int W, int CH, int P) {
    if (dimg) patch_move(dimg, dtokens, 0, 1, B, H, W, CH, P);
}
void unpatchify_forward(float *img, const float *tokens, int B, int H, int W, int CH, int P) {
    patch_move(img, tokens, 0, 0, B, H, W, CH, P);
}
void unpatchify_backward(float *dtokens, const float *dimg, int B, int H, int W, int CH, int P) {
    if (dtokens) patch_move(dtokens, dimg, 1, 1, B, H, W, CH, P);
}

// ---- timestep embedding -----------------------------------------------------------------------------
// freq_i = exp(-log(max_period) i / half); out = [cos(t freq), sin(t freq)]. Computed in double and
// rounded once: t is up to ~1000 and t * freq needs more than float's 24 bits to give sin/cos
// to float accuracy.

static double timestep_freq(int i, int half, float max_period) {
    return exp(-log((double)max_period) * (double)i / (double)half);
}

void timestep_embedding_forward(float *out, const float *t, int B, int D, float max_period) {
    CG_CHECK(B > 0 && D > 0 && (D & 1) == 0, "B=%d D=%d (D must be even)", B, D);
    CG_CHECK(max_period > 0.0f, "max_period %g", (double)max_period);
    const int half = D / 2;
    for (int b = 0; b < B; b++) {
        float *o = out + (size_t)b * D;
        for (int i = 0; i < half; i++) {
            double arg = (double)t[b] * timestep_freq(i, half, max_period);
            o[i] = (float)cos(arg);
            o[half + i] = (float)sin(arg);
        }
    }
}

void timestep_embedding_backward(float *dt, const float *dout, const float *t, int B, int D,
                                 float max_period) {
    CG_CHECK(B > 0 && D > 0 && (D & 1) == 0, "B=%d D=%d (D must be even)", B, D);
    if (!dt) return;
    const int half = D / 2;
    for (int b = 0; b < B; b++) {
        const float *g = dout + (size_t)b * D;
        double acc = 0.0;
        for (int i = 0; i < half; i++) {
            double f = timestep_freq(i, half, max_period), arg = (double)t[b] * f;
            // d cos(t f)/dt = -f sin(t f);  d sin(t f)/dt = f cos(t f)
            acc += (double)g[i] * (-f * sin(arg)) + (double)g[half + i] * (f * cos(arg));
        }
        dt[b] += (float)acc;
    }
}

// ---- token embedding ----------------------------------------------------------------------------------

void embedding_forward(float *out, const int *tokens, const float *table, int B, int T, int C) {
    CG_CHECK(B > 0 && T > 0 && C > 0, "B=%d T=%d C=%d", B, T, C);
    for (size_t n = 0; n < (size_t)B * T; n++) {
        CG_CHECK(tokens[n] >= 0, "negative token id %d at position %zu", tokens[n], n);
        memcpy(out + n * C, table + (size_t)tokens[n] * C, (size_t)C * sizeof(float));
    }
}

void embedding_backward(float *dtable, const float *dout, const int *tokens, int B, int T, int C) {
    CG_CHECK(B > 0 && T > 0 && C > 0, "B=%d T=%d C=%d", B, T, C);
    if (!dtable) return;
    // serial in (b, t) order: a token that appears several times accumulates in a fixed order
    for (size_t n = 0; n < (size_t)B * T; n++) {
        CG_CHECK(tokens[n] >= 0, "negative token id %d at position %zu", tokens[n], n);
        float *row = dtable + (size_t)tokens[n] * C;
        const float *g = dout + n * C;
        for (int c = 0; c < C; c++) row[c] += g[c];
    }
}
