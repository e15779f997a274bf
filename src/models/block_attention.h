// block_attention.h: the attention branch both transformer blocks (dit_block.c, vit_block.c) are
// built around, o (B, T, C) = proj(attention(qkv(h))), h (B, T, C) the branch's input (the DiT's
// modulated LN1, the ViT's LN1). qkv_w (3C, C), qkv_b (3C), proj_w (C, C), proj_b (C) are the
// block's "attn.qkv.*" and "attn.proj.*" tensors; attention and its masks as in nn/attention.h.
// lqkv and lproj are LoRA adapters on the two linears (nn/lora.h; NULL: none; the DiT's only).
#ifndef CGRPO_MODELS_BLOCK_ATTENTION_H
#define CGRPO_MODELS_BLOCK_ATTENTION_H

#include "nn/lora.h"

// o from h; saves qkv (B, T, 3C), att (B, NH, T, T) and attn (B, T, C), the attention output,
// for the backward.
void block_attention_forward(float *o, float *qkv, float *att, float *attn, const float *h,
                             const unsigned char *key_mask, const float *qkv_w, const float *qkv_b,
                             const float *proj_w, const float *proj_b, const LoraLinear *lqkv,
                             const LoraLinear *lproj, int B, int T, int C, int NH);
// d (B, T, C) holds do on entry and dh on return (overwritten); accumulates (+=) into the four
// weight gradients (NULL ones skipped) and the adapters' gradients. tmp (B, T, C), dqkv (B, T, 3C) and att_scratch (attention_scratch_floats) are
// work whose contents on entry do not matter.
void block_attention_backward(float *d, float *tmp, float *dqkv, float *att_scratch, float *gqkv_w,
                              float *gqkv_b, float *gproj_w, float *gproj_b, const float *h,
                              const float *qkv, const float *att, const float *attn, const float *qkv_w,
                              const float *proj_w, const LoraLinear *lqkv, const LoraLinear *lproj, int B,
                              int T, int C, int NH);

#endif
