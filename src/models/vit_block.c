// vit_block.c: the pre-LN ViT block (affine LayerNorms, plain residuals), forward and backward.
#include "models/vit_block.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "core/check.h"
#include "models/block_acts.h"
#include "models/block_attention.h"
#include "nn/attention.h"
#include "nn/layers.h"

// ---- parameters ----------------------------------------------------------------------------------

// The block's tensors, in table order (names and shapes as in vit_block.h).
#define W(field) offsetof(ViTBlockWeights, field)
static const ParamDefC BLOCK_DEFS[] = {
    {"norm1.weight", 1, 0, 0, W(ln1_w)},     {"norm1.bias", 1, 0, 0, W(ln1_b)},
    {"attn.qkv.weight", 3, 1, 1, W(qkv_w)},  {"attn.qkv.bias", 3, 0, 0, W(qkv_b)},
    {"attn.proj.weight", 1, 1, 1, W(proj_w)}, {"attn.proj.bias", 1, 0, 0, W(proj_b)},
    {"norm2.weight", 1, 0, 0, W(ln2_w)},     {"norm2.bias", 1, 0, 0, W(ln2_b)},
    {"mlp.fc1.weight", 4, 1, 1, W(fc1_w)},   {"mlp.fc1.bias", 4, 0, 0, W(fc1_b)},
    {"mlp.fc2.weight", 1, 4, 1, W(fc2_w)},   {"mlp.fc2.bias", 1, 0, 0, W(fc2_b)},
};
#undef W
#define N_BLOCK_DEFS ((int)(sizeof BLOCK_DEFS / sizeof BLOCK_DEFS[0]))

void vit_block_register(ParamTable *t, const char *prefix, int C) {
    CG_CHECK(C > 0, "width %d", C);
    param_defs_c_add(t, prefix, BLOCK_DEFS, N_BLOCK_DEFS, C);
}

void vit_block_bind(ViTBlockWeights *w, float *buf, const ParamTable *t, const char *prefix, int C) {
    param_defs_c_bind(w, buf, t, prefix, BLOCK_DEFS, N_BLOCK_DEFS, C);
}

static void fill(float *p, size_t n, float v) {
    for (size_t i = 0; i < n; i++) p[i] = v;
}

void vit_block_init(ViTBlockWeights *w, int C, cg_rng *rng) {
    size_t c = (size_t)C;
    fill(w->ln1_w, c, 1.0f);
    fill(w->ln1_b, c, 0.0f);
    param_xavier_uniform(w->qkv_w, 3 * C, C, rng);
    fill(w->qkv_b, 3 * c, 0.0f);
    param_xavier_uniform(w->proj_w, C, C, rng);
    fill(w->proj_b, c, 0.0f);
    fill(w->ln2_w, c, 1.0f);
    fill(w->ln2_b, c, 0.0f);
    param_xavier_uniform(w->fc1_w, 4 * C, C, rng);
    fill(w->fc1_b, 4 * c, 0.0f);
    param_xavier_uniform(w->fc2_w, C, 4 * C, rng);
    fill(w->fc2_b, c, 0.0f);
}

// ---- activations ---------------------------------------------------------------------------------

// Lays the activation tensors out one after another from buf, or from NULL to count them
// (block_acts.h); returns the number of floats used.
static size_t acts_layout(ViTBlockActs *a, float *buf, int B, int T, int C, int NH) {
    size_t b = (size_t)B, bt = (size_t)B * (size_t)T, c = (size_t)C, t = (size_t)T;
    BlockActsCursor cur = {buf, 0};
    a->ln1 = block_acts_take(&cur, bt * c);
    a->ln1_mean = block_acts_take(&cur, bt);
    a->ln1_rstd = block_acts_take(&cur, bt);
    a->qkv = block_acts_take(&cur, bt * 3 * c);
    a->att = block_acts_take(&cur, b * (size_t)NH * t * t);
    a->attn = block_acts_take(&cur, bt * c);
    a->x1 = block_acts_take(&cur, bt * c);
    a->ln2 = block_acts_take(&cur, bt * c);
    a->ln2_mean = block_acts_take(&cur, bt);
    a->ln2_rstd = block_acts_take(&cur, bt);
    a->fc1 = block_acts_take(&cur, bt * 4 * c);
    a->gelu = block_acts_take(&cur, bt * 4 * c);
    return cur.used;
}

size_t vit_block_acts_floats(int B, int T, int C, int NH) { return acts_layout(&(ViTBlockActs){0}, NULL, B, T, C, NH); }
void vit_block_acts_bind(ViTBlockActs *a, float *buf, int B, int T, int C, int NH) {
    acts_layout(a, block_acts_buffer(buf), B, T, C, NH);
}

// ---- forward -------------------------------------------------------------------------------------

// out (n) += in (n): the plain residual, applied in place on a branch output
static void add_into(float *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] += in[i];
}

void vit_block_forward(float *y, ViTBlockActs *a, const float *x, const unsigned char *key_mask,
                       const ViTBlockWeights *w, int B, int T, int C, int NH) {
    attention_check_dims(B, T, C, NH);
    int BT = B * T;
    size_t btc = (size_t)BT * (size_t)C;
    // x1 = x + proj(attention(qkv(LN1(x))))
    layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, x, w->ln1_w, w->ln1_b, BT, C);
    block_attention_forward(a->x1, a->qkv, a->att, a->attn, a->ln1, key_mask, w->qkv_w, w->qkv_b, w->proj_w,
                            w->proj_b, NULL, NULL, B, T, C, NH);
    add_into(a->x1, x, btc);
    // y = x1 + fc2(gelu(fc1(LN2(x1))))
    layernorm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, a->x1, w->ln2_w, w->ln2_b, BT, C);
    linear_forward(a->fc1, a->ln2, w->fc1_w, w->fc1_b, BT, C, 4 * C);
    gelu_forward(a->gelu, a->fc1, (long)BT * 4 * C);
    linear_forward(y, a->gelu, w->fc2_w, w->fc2_b, BT, 4 * C, C);
    add_into(y, a->x1, btc);
}

// ---- backward ------------------------------------------------------------------------------------

// Scratch layout: d1, d2 (B, T, C) each | a shared tail that holds first the MLP's two (B, T, 4C)
// buffers and later dqkv (B, T, 3C) + attention's scratch.
size_t vit_block_scratch_floats(int B, int T, int C, int NH) {
    size_t bt = (size_t)B * (size_t)T, c = (size_t)C;
    size_t mlp_tail = 2 * bt * 4 * c;
    size_t attn_tail = bt * 3 * c + attention_scratch_floats(B, T, C, NH);
    return 2 * bt * c + (mlp_tail > attn_tail ? mlp_tail : attn_tail);
}

static void zero(float *p, size_t n) { memset(p, 0, n * sizeof(float)); }

void vit_block_backward(float *dx, ViTBlockWeights *g, float *scratch, const float *dy,
                        const ViTBlockActs *a, const float *x, const unsigned char *key_mask,
                        const ViTBlockWeights *w, int B, int T, int C, int NH) {
    (void)key_mask; // the saved softmax a->att is already zero on masked keys
    attention_check_dims(B, T, C, NH);
    int BT = B * T;
    size_t bt = (size_t)BT, btc = bt * (size_t)C;
    float *d1 = scratch;                  // (B, T, C) dx1, the gradient of x1
    float *d2 = d1 + btc;                 // (B, T, C)
    float *tail = d2 + btc;
    float *f1 = tail, *f2 = tail + bt * 4 * C;            // (B, T, 4C) each, MLP phase
    float *dqkv = tail, *att_scratch = tail + bt * 3 * C; // (B, T, 3C) + ..., attention phase

    // y = x1 + fc2(gelu(fc1(LN2(x1)))): d1 = dy + the MLP branch's gradient
    memcpy(d1, dy, btc * sizeof(float));
    zero(f1, bt * 4 * C);
    linear_backward(f1, g->fc2_w, g->fc2_b, dy, a->gelu, w->fc2_w, BT, 4 * C, C);
    zero(f2, bt * 4 * C);
    gelu_backward(f2, f1, a->fc1, (long)BT * 4 * C);
    zero(d2, btc);
    linear_backward(d2, g->fc1_w, g->fc1_b, f2, a->ln2, w->fc1_w, BT, C, 4 * C);
    layernorm_backward(d1, g->ln2_w, g->ln2_b, d2, a->x1, w->ln2_w, a->ln2_mean, a->ln2_rstd, BT, C);

    // x1 = x + proj(attention(qkv(LN1(x)))): dx += d1 + the attention branch's gradient
    if (dx)
        for (size_t i = 0; i < btc; i++) dx[i] += d1[i];
    block_attention_backward(d1, d2, dqkv, att_scratch, g->qkv_w, g->qkv_b, g->proj_w, g->proj_b, a->ln1, a->qkv,
                             a->att, a->attn, w->qkv_w, w->proj_w, NULL, NULL, B, T, C, NH);
    layernorm_backward(dx, g->ln1_w, g->ln1_b, d1, x, w->ln1_w, a->ln1_mean, a->ln1_rstd, BT, C);
}
