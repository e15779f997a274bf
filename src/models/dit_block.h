// dit_block.h: one DiT transformer block with adaLN-Zero conditioning and joint attention over
// the whole sequence (docs/design.md). C = width, NH heads (C % NH == 0), MLP hidden 4C.
//
//   mod = linear(silu(c), ada_w, ada_b)         (B, 6C) = [shift1 scale1 gate1 shift2 scale2 gate2]
//   h1  = layernorm(x) * (1 + scale1) + shift1   (no affine LayerNorm, eps LAYERNORM_EPS)
//   a   = attention(linear(h1, qkv_w, qkv_b), key_mask)
//   x1  = x + gate1 * linear(a, proj_w, proj_b)
//   h2  = layernorm(x1) * (1 + scale2) + shift2
//   y   = x1 + gate2 * linear(gelu(linear(h2, fc1_w, fc1_b)), fc2_w, fc2_b)
//
// Usage (llm.c style: the parameters, the gradients and the AdamW moments are flat buffers with
// the layout of one ParamTable; the activations are another flat buffer):
//
//   ParamTable t; param_table_init(&t);
//   dit_block_register(&t, "blocks.3.", C);                 // + the rest of the model
//   float *params = ..., *grads = ...;                       // t.total floats each
//   DiTBlockWeights w, g;
//   dit_block_bind(&w, params, &t, "blocks.3.", C);
//   dit_block_bind(&g, grads, &t, "blocks.3.", C);          // same layout, so the same bind
//   dit_block_init(&w, C, &rng);
//   DiTBlockActs acts; dit_block_acts_bind(&acts, buf, B, T, C, NH);   // buf: acts_floats
//   dit_block_forward(y, &acts, x, c, key_mask, &w, B, T, C, NH);
//   dit_block_backward(dx, dc, &g, scratch, dy, &acts, x, c, key_mask, &w, B, T, C, NH);
//
// Results are bit-identical for any number of OpenMP threads (given that the nn layers are).
#ifndef CGRPO_MODELS_DIT_BLOCK_H
#define CGRPO_MODELS_DIT_BLOCK_H

#include <stddef.h>

#include "core/rng.h"
#include "nn/lora.h"
#include "nn/optim.h"

// LoRA adapters on the block's four linears (nn/lora.h, models/dit_lora.h); NULL: that one has none.
typedef struct {
    const LoraLinear *qkv, *proj, *fc1, *fc2;
} DiTBlockLora;

// Pointers into a flat parameter (or gradient) buffer, and the adapters (params view only).
typedef struct {
    float *ada_w;  // (6C, C)  "ada.weight"        decay 1
    float *ada_b;  // (6C)     "ada.bias"          decay 0
    float *qkv_w;  // (3C, C)  "attn.qkv.weight"   decay 1
    float *qkv_b;  // (3C)     "attn.qkv.bias"     decay 0
    float *proj_w; // (C, C)   "attn.proj.weight"  decay 1
    float *proj_b; // (C)      "attn.proj.bias"    decay 0
    float *fc1_w;  // (4C, C)  "mlp.fc1.weight"    decay 1
    float *fc1_b;  // (4C)     "mlp.fc1.bias"      decay 0
    float *fc2_w;  // (C, 4C)  "mlp.fc2.weight"    decay 1
    float *fc2_b;  // (C)      "mlp.fc2.bias"      decay 0
    // adapters added to the linears (NULL after dit_block_bind: none). forward and backward read
    // them from the weights they are given, and the backward accumulates into their gradients.
    const DiTBlockLora *lora;
} DiTBlockWeights;

// What forward saves for backward. Pointers into one flat buffer of dit_block_acts_floats().
typedef struct {
    float *silu_c;   // (B, C)       silu(c)
    float *mod;      // (B, 6C)      adaLN output [shift1 scale1 gate1 shift2 scale2 gate2]
    float *ln1;      // (B, T, C)    layernorm(x)
    float *ln1_mean; // (B, T)
    float *ln1_rstd; // (B, T)
    float *h1;       // (B, T, C)    modulated ln1, input of qkv
    float *qkv;      // (B, T, 3C)
    float *att;      // (B, NH, T, T) softmax
    float *attn;     // (B, T, C)    attention output, input of proj
    float *proj;     // (B, T, C)    o = proj(attn)
    float *x1;       // (B, T, C)    x + gate1 * o
    float *ln2;      // (B, T, C)    layernorm(x1)
    float *ln2_mean; // (B, T)
    float *ln2_rstd; // (B, T)
    float *h2;       // (B, T, C)    modulated ln2, input of fc1
    float *fc1;      // (B, T, 4C)   pre-GELU
    float *gelu;     // (B, T, 4C)
    float *gelu_e;   // (B, T, 4C)   the GELU's exp(-2u), so that backward does not recompute it
    float *mlp;      // (B, T, C)    m = fc2(gelu)
} DiTBlockActs;

// Append the block's tensors to t, each named prefix + the names above (e.g. "blocks.3.ada.weight").
void dit_block_register(ParamTable *t, const char *prefix, int C);
// Point w's fields into buf (params or grads, t.total floats) at the offsets t gives for prefix,
// and w->lora to NULL. Dies if a tensor is missing or has the wrong shape for width C.
void dit_block_bind(DiTBlockWeights *w, float *buf, const ParamTable *t, const char *prefix, int C);
// Initialization: adaLN-Zero (ada_w = ada_b = 0, so the block starts as the identity); qkv, proj,
// fc1, fc2 weights xavier-uniform, U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), drawn from rng
// in that order, row-major; all biases 0.
void dit_block_init(DiTBlockWeights *w, int C, cg_rng *rng);

size_t dit_block_acts_floats(int B, int T, int C, int NH);
void dit_block_acts_bind(DiTBlockActs *a, float *buf, int B, int T, int C, int NH);

// y (B, T, C) from x (B, T, C), c (B, C), key_mask (B, T) or NULL (1 = attend, 0 = padding).
// y must not alias x or acts.
void dit_block_forward(float *y, DiTBlockActs *acts, const float *x, const float *c,
                       const unsigned char *key_mask, const DiTBlockWeights *w, int B, int T, int C,
                       int NH);

size_t dit_block_scratch_floats(int B, int T, int C, int NH);
// Accumulates (+=) dx (B, T, C), dc (B, C) and every tensor of grads from dy (B, T, C), using the
// activations of the matching forward. dx or dc may be NULL (skipped). scratch holds
// dit_block_scratch_floats() floats; its contents on entry do not matter. key_mask is not read
// (the saved softmax already carries it) and may be NULL; it is there so the call mirrors forward.
// A NULL tensor of grads is skipped (a frozen base under LoRA passes them all NULL).
void dit_block_backward(float *dx, float *dc, DiTBlockWeights *grads, float *scratch, const float *dy,
                        const DiTBlockActs *acts, const float *x, const float *c,
                        const unsigned char *key_mask, const DiTBlockWeights *w, int B, int T, int C,
                        int NH);

#endif
