// block_attention.c: the attention branch of the transformer blocks, o = proj(attention(qkv(h))).
#include "models/block_attention.h"

#include <stddef.h>
#include <string.h>

#include "nn/attention.h"
#include "nn/layers.h"

void block_attention_forward(float *o, float *qkv, float *att, float *attn, const float *h,
                             const unsigned char *key_mask, const float *qkv_w, const float *qkv_b,
                             const float *proj_w, const float *proj_b, const LoraLinear *lqkv,
                             const LoraLinear *lproj, int B, int T, int C, int NH) {
    const int BT = B * T;
    linear_forward(qkv, h, qkv_w, qkv_b, BT, C, 3 * C);
    lora_linear_forward(qkv, h, lqkv, BT, C, 3 * C);
    attention_forward(attn, att, qkv, key_mask, B, T, C, NH);
    linear_forward(o, attn, proj_w, proj_b, BT, C, C);
    lora_linear_forward(o, attn, lproj, BT, C, C);
}

void block_attention_backward(float *d, float *tmp, float *dqkv, float *att_scratch, float *gqkv_w,
                              float *gqkv_b, float *gproj_w, float *gproj_b, const float *h,
                              const float *qkv, const float *att, const float *attn, const float *qkv_w,
                              const float *proj_w, const LoraLinear *lqkv, const LoraLinear *lproj, int B,
                              int T, int C, int NH) {
    const int BT = B * T;
    const size_t btc = (size_t)BT * (size_t)C;
    // tmp = dattn, through proj
    memset(tmp, 0, btc * sizeof(float));
    linear_backward(tmp, gproj_w, gproj_b, d, attn, proj_w, BT, C, C);
    lora_linear_backward(tmp, d, attn, lproj, BT, C, C);
    // dqkv, through attention
    memset(dqkv, 0, 3 * btc * sizeof(float));
    attention_backward(dqkv, att_scratch, tmp, qkv, att, B, T, C, NH);
    // d = dh, through qkv
    memset(d, 0, btc * sizeof(float));
    linear_backward(d, gqkv_w, gqkv_b, dqkv, h, qkv_w, BT, C, 3 * C);
    lora_linear_backward(d, dqkv, h, lqkv, BT, C, 3 * C);
}
