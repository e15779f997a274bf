// vit_block.h: one pre-LN transformer block with affine LayerNorms and no conditioning, the block
// of the encoders (docs/design.md). C = width, NH heads (C % NH == 0), MLP hidden 4C.
//
//   x1 = x + linear(attention(linear(LN1(x), qkv_w, qkv_b), key_mask), proj_w, proj_b)
//   y  = x1 + linear(gelu(linear(LN2(x1), fc1_w, fc1_b)), fc2_w, fc2_b)
//
// LN(z) = (z - mean) * rstd * w + b over the last axis, eps LAYERNORM_EPS. The API mirrors
// dit_block.h (register / bind / init / acts / forward / backward); see there for a usage sketch.
// key_mask (B, T) or NULL: 1 = this key may be attended to, 0 = padding (e.g. short prompts in a
// text encoder). Results are bit-identical for any number of OpenMP threads.
#ifndef CGRPO_MODELS_VIT_BLOCK_H
#define CGRPO_MODELS_VIT_BLOCK_H

#include <stddef.h>

#include "core/rng.h"
#include "nn/optim.h"

// Pointers into a flat parameter (or gradient) buffer.
typedef struct {
    float *ln1_w;  // (C)      "norm1.weight"      decay 0
    float *ln1_b;  // (C)      "norm1.bias"        decay 0
    float *qkv_w;  // (3C, C)  "attn.qkv.weight"   decay 1
    float *qkv_b;  // (3C)     "attn.qkv.bias"     decay 0
    float *proj_w; // (C, C)   "attn.proj.weight"  decay 1
    float *proj_b; // (C)      "attn.proj.bias"    decay 0
    float *ln2_w;  // (C)      "norm2.weight"      decay 0
    float *ln2_b;  // (C)      "norm2.bias"        decay 0
    float *fc1_w;  // (4C, C)  "mlp.fc1.weight"    decay 1
    float *fc1_b;  // (4C)     "mlp.fc1.bias"      decay 0
    float *fc2_w;  // (C, 4C)  "mlp.fc2.weight"    decay 1
    float *fc2_b;  // (C)      "mlp.fc2.bias"      decay 0
} ViTBlockWeights;

// What forward saves for backward. Pointers into one flat buffer of vit_block_acts_floats().
typedef struct {
    float *ln1;      // (B, T, C)     LN1(x), input of qkv
    float *ln1_mean; // (B, T)
    float *ln1_rstd; // (B, T)
    float *qkv;      // (B, T, 3C)
    float *att;      // (B, NH, T, T) softmax
    float *attn;     // (B, T, C)     attention output, input of proj
    float *x1;       // (B, T, C)     x + proj(attn)
    float *ln2;      // (B, T, C)     LN2(x1), input of fc1
    float *ln2_mean; // (B, T)
    float *ln2_rstd; // (B, T)
    float *fc1;      // (B, T, 4C)    pre-GELU
    float *gelu;     // (B, T, 4C)
} ViTBlockActs;

// Append the block's tensors to t, each named prefix + the names above.
void vit_block_register(ParamTable *t, const char *prefix, int C);
// Point w's fields into buf (params or grads, t.total floats) at the offsets t gives for prefix.
void vit_block_bind(ViTBlockWeights *w, float *buf, const ParamTable *t, const char *prefix, int C);
// Initialization: LayerNorm weights 1 and biases 0; qkv, proj, fc1, fc2 weights xavier-uniform,
// U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), drawn from rng in that order; all biases 0.
void vit_block_init(ViTBlockWeights *w, int C, cg_rng *rng);

size_t vit_block_acts_floats(int B, int T, int C, int NH);
void vit_block_acts_bind(ViTBlockActs *a, float *buf, int B, int T, int C, int NH);

// y (B, T, C) from x (B, T, C). y must not alias x or acts.
void vit_block_forward(float *y, ViTBlockActs *acts, const float *x, const unsigned char *key_mask,
                       const ViTBlockWeights *w, int B, int T, int C, int NH);

size_t vit_block_scratch_floats(int B, int T, int C, int NH);
// Accumulates (+=) dx (B, T, C) (NULL: skipped) and every tensor of grads from dy (B, T, C).
// scratch holds vit_block_scratch_floats() floats. key_mask is not read (see dit_block.h).
void vit_block_backward(float *dx, ViTBlockWeights *grads, float *scratch, const float *dy,
                        const ViTBlockActs *acts, const float *x, const unsigned char *key_mask,
                        const ViTBlockWeights *w, int B, int T, int C, int NH);

#endif
