// lora.h: a low-rank adapter (LoRA, Hu et al. 2021) on a linear layer, as a forward/backward pair
// over flat buffers (the conventions of nn/layers.h: outputs first, backward accumulates, NULL
// gradients skipped). For a frozen linear y = x W^T + b with W (OC, C):
//
//   y' = y + s (x A^T) B^T        A (R, C), B (OC, R), s = alpha / R (the caller's scale)
//
// Shapes: in x (N, C), out (N, OC), u (N, R) = s x A^T, du (N, R). With B = 0 (the usual start)
// the product s u B^T is exactly zero, so the adapted layer gives the base layer's bits.
// The backward recomputes u from x instead of keeping it: x is the linear's input, which the
// caller keeps anyway, and u costs N C R multiply-adds, R / OC of the base product.
#ifndef CGRPO_NN_LORA_H
#define CGRPO_NN_LORA_H

// out (N, OC) += s (in A^T) B^T;  u (N, R) is work, holding s in A^T on return.
void lora_forward(float *out, float *u, const float *in, const float *A, const float *B, float s, int N, int C,
                  int OC, int R);
// From dout (N, OC), with u = s in A^T and du = s dout B:
//   dB (OC, R) += dout^T u;   dA (R, C) += du^T in;   din (N, C) += du A.
// u and du (N, R) are work (u is recomputed from in; their contents on entry do not matter).
void lora_backward(float *din, float *dA, float *dB, float *u, float *du, const float *dout, const float *in,
                   const float *A, const float *B, float s, int N, int C, int OC, int R);
// W (OC, C) += s B A: the adapter folded into the base weight.
void lora_merge(float *W, const float *A, const float *B, float s, int OC, int C, int R);

// One adapted linear as the blocks pass it around: the adapter's weights, its gradients and the
// work buffers, which hold at least the largest N the caller runs.
typedef struct {
    const float *A, *B; // (R, C), (OC, R)
    float *dA, *dB;     // their gradients (accumulated), or NULL
    float *u, *du;      // work (N, R) each
    int R;
    float s;            // alpha / R
} LoraLinear;

// lora_forward / lora_backward with l's buffers; both do nothing when l is NULL.
void lora_linear_forward(float *out, const float *in, const LoraLinear *l, int N, int C, int OC);
void lora_linear_backward(float *din, const float *dout, const float *in, const LoraLinear *l, int N, int C, int OC);

#endif
