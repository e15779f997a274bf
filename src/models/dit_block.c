// dit_block.c: the DiT block (adaLN-Zero, joint attention), forward and backward over the nn layers.
#include "models/dit_block.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "core/check.h"
#include "models/block_acts.h"
#include "models/block_attention.h"
#include "nn/attention.h"
#include "nn/layers.h"

// ---- parameters ----------------------------------------------------------------------------------

// The block's tensors, in table order (names and shapes as in dit_block.h).
#define DIT_BLOCK_N_TENSORS 10
#define W(field) offsetof(DiTBlockWeights, field)
static void block_defs(ParamDef d[DIT_BLOCK_N_TENSORS], int C) {
    int n = 0;
    d[n++] = (ParamDef){"ada.weight", 6 * C, C, 1, W(ada_w)};
    d[n++] = (ParamDef){"ada.bias", 6 * C, 0, 0, W(ada_b)};
    d[n++] = (ParamDef){"attn.qkv.weight", 3 * C, C, 1, W(qkv_w)};
    d[n++] = (ParamDef){"attn.qkv.bias", 3 * C, 0, 0, W(qkv_b)};
    d[n++] = (ParamDef){"attn.proj.weight", C, C, 1, W(proj_w)};
    d[n++] = (ParamDef){"attn.proj.bias", C, 0, 0, W(proj_b)};
    d[n++] = (ParamDef){"mlp.fc1.weight", 4 * C, C, 1, W(fc1_w)};
    d[n++] = (ParamDef){"mlp.fc1.bias", 4 * C, 0, 0, W(fc1_b)};
    d[n++] = (ParamDef){"mlp.fc2.weight", C, 4 * C, 1, W(fc2_w)};
    d[n++] = (ParamDef){"mlp.fc2.bias", C, 0, 0, W(fc2_b)};
}
#undef W

void dit_block_register(ParamTable *t, const char *prefix, int C) {
    CG_CHECK(C > 0, "width %d", C);
    ParamDef d[DIT_BLOCK_N_TENSORS];
    block_defs(d, C);
    param_defs_add(t, prefix, d, DIT_BLOCK_N_TENSORS);
}

void dit_block_bind(DiTBlockWeights *w, float *buf, const ParamTable *t, const char *prefix, int C) {
    ParamDef d[DIT_BLOCK_N_TENSORS];
    block_defs(d, C);
    param_defs_bind(w, buf, t, prefix, d, DIT_BLOCK_N_TENSORS);
    w->lora = NULL;
}

void dit_block_init(DiTBlockWeights *w, int C, cg_rng *rng) {
    size_t c = (size_t)C;
    memset(w->ada_w, 0, 6 * c * c * sizeof(float)); // adaLN-Zero: every gate starts at 0
    memset(w->ada_b, 0, 6 * c * sizeof(float));
    param_xavier_uniform(w->qkv_w, 3 * C, C, rng);
    memset(w->qkv_b, 0, 3 * c * sizeof(float));
    param_xavier_uniform(w->proj_w, C, C, rng);
    memset(w->proj_b, 0, c * sizeof(float));
    param_xavier_uniform(w->fc1_w, 4 * C, C, rng);
    memset(w->fc1_b, 0, 4 * c * sizeof(float));
    param_xavier_uniform(w->fc2_w, C, 4 * C, rng);
    memset(w->fc2_b, 0, c * sizeof(float));
}

// ---- activations ---------------------------------------------------------------------------------

// Lays the activation tensors out one after another from buf, or from NULL to count them
// (block_acts.h); returns the number of floats used.
static size_t acts_layout(DiTBlockActs *a, float *buf, int B, int T, int C, int NH) {
    size_t b = (size_t)B, bt = (size_t)B * (size_t)T, c = (size_t)C, t = (size_t)T;
    BlockActsCursor cur = {buf, 0};
    a->silu_c = block_acts_take(&cur, b * c);
    a->mod = block_acts_take(&cur, b * 6 * c);
    a->ln1 = block_acts_take(&cur, bt * c);
    a->ln1_mean = block_acts_take(&cur, bt);
    a->ln1_rstd = block_acts_take(&cur, bt);
    a->h1 = block_acts_take(&cur, bt * c);
    a->qkv = block_acts_take(&cur, bt * 3 * c);
    a->att = block_acts_take(&cur, b * (size_t)NH * t * t);
    a->attn = block_acts_take(&cur, bt * c);
    a->proj = block_acts_take(&cur, bt * c);
    a->x1 = block_acts_take(&cur, bt * c);
    a->ln2 = block_acts_take(&cur, bt * c);
    a->ln2_mean = block_acts_take(&cur, bt);
    a->ln2_rstd = block_acts_take(&cur, bt);
    a->h2 = block_acts_take(&cur, bt * c);
    a->fc1 = block_acts_take(&cur, bt * 4 * c);
    a->gelu = block_acts_take(&cur, bt * 4 * c);
    a->gelu_e = block_acts_take(&cur, bt * 4 * c);
    a->mlp = block_acts_take(&cur, bt * c);
    return cur.used;
}

size_t dit_block_acts_floats(int B, int T, int C, int NH) { return acts_layout(&(DiTBlockActs){0}, NULL, B, T, C, NH); }
void dit_block_acts_bind(DiTBlockActs *a, float *buf, int B, int T, int C, int NH) {
    acts_layout(a, block_acts_buffer(buf), B, T, C, NH);
}

// ---- forward -------------------------------------------------------------------------------------

void dit_block_forward(float *y, DiTBlockActs *a, const float *x, const float *c,
                       const unsigned char *key_mask, const DiTBlockWeights *w, int B, int T, int C,
                       int NH) {
    attention_check_dims(B, T, C, NH);
    int BT = B * T, C6 = 6 * C;
    const DiTBlockLora none = {NULL, NULL, NULL, NULL}, *lo = w->lora ? w->lora : &none;
    // adaLN: one modulation row per batch item; the six chunks are read with stride 6C
    silu_forward(a->silu_c, c, (long)B * C);
    linear_forward(a->mod, a->silu_c, w->ada_w, w->ada_b, B, C, C6);
    const float *shift1 = a->mod, *scale1 = a->mod + C, *gate1 = a->mod + 2 * C;
    const float *shift2 = a->mod + 3 * C, *scale2 = a->mod + 4 * C, *gate2 = a->mod + 5 * C;

    // attention branch
    layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, x, NULL, NULL, BT, C);
    modulate_forward(a->h1, a->ln1, shift1, scale1, B, T, C, C6);
    block_attention_forward(a->proj, a->qkv, a->att, a->attn, a->h1, key_mask, w->qkv_w, w->qkv_b, w->proj_w,
                            w->proj_b, lo->qkv, lo->proj, B, T, C, NH);
    gate_residual_forward(a->x1, x, a->proj, gate1, B, T, C, C6);

    // MLP branch
    layernorm_forward(a->ln2, a->ln2_mean, a->ln2_rstd, a->x1, NULL, NULL, BT, C);
    modulate_forward(a->h2, a->ln2, shift2, scale2, B, T, C, C6);
    linear_forward(a->fc1, a->h2, w->fc1_w, w->fc1_b, BT, C, 4 * C);
    lora_linear_forward(a->fc1, a->h2, lo->fc1, BT, C, 4 * C);
    gelu_forward_keep(a->gelu, a->gelu_e, a->fc1, (long)BT * 4 * C);
    linear_forward(a->mlp, a->gelu, w->fc2_w, w->fc2_b, BT, 4 * C, C);
    lora_linear_forward(a->mlp, a->gelu, lo->fc2, BT, 4 * C, C);
    gate_residual_forward(y, a->x1, a->mlp, gate2, B, T, C, C6);
}

// ---- backward ------------------------------------------------------------------------------------

// Scratch layout: dmod (B, 6C) | dsilu (B, C) | d1, d2, d3 (B, T, C) each | a shared tail that
// holds first the MLP's two (B, T, 4C) buffers and later dqkv (B, T, 3C) + attention's scratch.
size_t dit_block_scratch_floats(int B, int T, int C, int NH) {
    size_t b = (size_t)B, bt = (size_t)B * (size_t)T, c = (size_t)C;
    size_t mlp_tail = 2 * bt * 4 * c;
    size_t attn_tail = bt * 3 * c + attention_scratch_floats(B, T, C, NH);
    return b * 6 * c + b * c + 3 * bt * c + (mlp_tail > attn_tail ? mlp_tail : attn_tail);
}

static void zero(float *p, size_t n) { memset(p, 0, n * sizeof(float)); }

void dit_block_backward(float *dx, float *dc, DiTBlockWeights *g, float *scratch, const float *dy,
                        const DiTBlockActs *a, const float *x, const float *c,
                        const unsigned char *key_mask, const DiTBlockWeights *w, int B, int T, int C,
                        int NH) {
    (void)key_mask; // the saved softmax a->att is already zero on masked keys
    attention_check_dims(B, T, C, NH);
    int BT = B * T, C6 = 6 * C;
    const DiTBlockLora none = {NULL, NULL, NULL, NULL}, *lo = w->lora ? w->lora : &none;
    size_t bt = (size_t)BT, btc = bt * (size_t)C;
    float *dmod = scratch;                        // (B, 6C)
    float *dsilu = dmod + (size_t)B * C6;         // (B, C)
    float *d1 = dsilu + (size_t)B * C;            // (B, T, C) dx1, the gradient of x1
    float *d2 = d1 + btc;                         // (B, T, C)
    float *d3 = d2 + btc;                         // (B, T, C)
    float *tail = d3 + btc;
    float *f1 = tail, *f2 = tail + bt * 4 * C;    // (B, T, 4C) each, MLP phase
    float *dqkv = tail, *att_scratch = tail + bt * 3 * C; // (B, T, 3C) + ..., attention phase
    const float *scale1 = a->mod + C, *gate1 = a->mod + 2 * C;
    const float *scale2 = a->mod + 4 * C, *gate2 = a->mod + 5 * C;
    zero(dmod, (size_t)B * C6);

    // y = x1 + gate2 * m: d1 = dy, d2 = dm, dgate2
    zero(d1, btc);
    zero(d2, btc);
    gate_residual_backward(d1, d2, dmod + 5 * C, dy, a->mlp, gate2, B, T, C, C6);
    // m = fc2(gelu(fc1(h2)))
    zero(f1, bt * 4 * C);
    linear_backward(f1, g->fc2_w, g->fc2_b, d2, a->gelu, w->fc2_w, BT, 4 * C, C);
    lora_linear_backward(f1, d2, a->gelu, lo->fc2, BT, 4 * C, C);
    zero(f2, bt * 4 * C);
    gelu_backward_kept(f2, f1, a->fc1, a->gelu_e, (long)BT * 4 * C);
    zero(d2, btc);
    linear_backward(d2, g->fc1_w, g->fc1_b, f2, a->h2, w->fc1_w, BT, C, 4 * C);
    lora_linear_backward(d2, f2, a->h2, lo->fc1, BT, C, 4 * C);
    // h2 = modulate(ln2, shift2, scale2); ln2 = layernorm(x1): adds into d1
    zero(d3, btc);
    modulate_backward(d3, dmod + 3 * C, dmod + 4 * C, d2, a->ln2, scale2, B, T, C, C6);
    layernorm_backward(d1, NULL, NULL, d3, a->x1, NULL, a->ln2_mean, a->ln2_rstd, BT, C);

    // x1 = x + gate1 * o: dx += d1, d2 = do, dgate1
    zero(d2, btc);
    gate_residual_backward(dx, d2, dmod + 2 * C, d1, a->proj, gate1, B, T, C, C6);
    // o = proj(attention(qkv(h1))): d2 = do becomes dh1
    block_attention_backward(d2, d3, dqkv, att_scratch, g->qkv_w, g->qkv_b, g->proj_w, g->proj_b, a->h1, a->qkv,
                             a->att, a->attn, w->qkv_w, w->proj_w, lo->qkv, lo->proj, B, T, C, NH);
    // h1 = modulate(ln1, shift1, scale1); ln1 = layernorm(x): adds into dx
    zero(d3, btc);
    modulate_backward(d3, dmod, dmod + C, d2, a->ln1, scale1, B, T, C, C6);
    if (dx) layernorm_backward(dx, NULL, NULL, d3, x, NULL, a->ln1_mean, a->ln1_rstd, BT, C);

    // mod = ada(silu(c))
    zero(dsilu, (size_t)B * C);
    linear_backward(dc ? dsilu : NULL, g->ada_w, g->ada_b, dmod, a->silu_c, w->ada_w, B, C, C6);
    if (dc) silu_backward(dc, dsilu, c, (long)B * C);
}
