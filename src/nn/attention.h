// attention.h: multi-head self-attention over a joint sequence (no causal mask).
// qkv (B, T, 3C) holds q, k, v side by side per token (q = [0, C), k = [C, 2C), v = [2C, 3C)),
// head h uses channels [h hs, (h+1) hs) of each, hs = C / NH. Scale 1/sqrt(hs).
// key_mask (B, T) or NULL: 1 = this key may be attended to, 0 = padding (masked out). Every row
// must keep at least one key. out (B, T, C) is the concatenation of the heads (before the output
// projection, which is a separate linear layer). att (B, NH, T, T) saves the softmax for backward.
#ifndef CGRPO_NN_ATTENTION_H
#define CGRPO_NN_ATTENTION_H

#include <stddef.h>

// Dies unless B, T, C and NH are positive and NH divides C: the sizes every call below needs.
// The blocks built on attention (models/dit_block.c, models/vit_block.c) check them up front.
void attention_check_dims(int B, int T, int C, int NH);
void attention_forward(float *out, float *att, const float *qkv, const unsigned char *key_mask,
                       int B, int T, int C, int NH);
// dqkv (B, T, 3C) accumulates. scratch must hold attention_scratch_floats(B, T, C, NH) floats.
void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int NH);
size_t attention_scratch_floats(int B, int T, int C, int NH);

#endif
