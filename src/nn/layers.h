// layers.h: the elementwise, normalization and linear layers, each a forward/backward pair over
// flat float buffers (llm.c style). Conventions for every layer in src/nn:
//   - outputs first, then inputs, then weights, then dimensions;
//   - row-major tensors, shapes in the comments; weights stored (OC, C) as in PyTorch;
//   - backward ACCUMULATES (+=) into every gradient buffer, and any gradient pointer that is
//     NULL is skipped (e.g. din == NULL for a first layer);
//   - results are bit-identical for any number of OpenMP threads: reductions are never split
//     across threads in a thread-count-dependent way.
#ifndef CGRPO_NN_LAYERS_H
#define CGRPO_NN_LAYERS_H

#define LAYERNORM_EPS 1e-6f

// out (N, OC) = in (N, C) @ w^T + b;  w (OC, C), b (OC) or NULL. Uses BLAS sgemm.
void linear_forward(float *out, const float *in, const float *w, const float *b, int N, int C, int OC);
// out (N, OC) += in (N, C) @ w^T (no bias): a product added onto what out holds (nn/lora.h)
void linear_forward_acc(float *out, const float *in, const float *w, int N, int C, int OC);
// din (N, C), dw (OC, C), db (OC) += ... from dout (N, OC)
void linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                     const float *w, int N, int C, int OC);

// Layer norm over the last axis. out (N, C); mean, rstd (N) saved for backward;
// w, b (C) or both NULL for no affine (adaLN uses none). eps = LAYERNORM_EPS.
void layernorm_forward(float *out, float *mean, float *rstd, const float *in, const float *w,
                       const float *b, int N, int C);
void layernorm_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                        const float *w, const float *mean, const float *rstd, int N, int C);

// adaLN modulation, one conditioning row per batch item, applied to all T tokens:
// out (B, T, C) = in * (1 + scale[b]) + shift[b];  shift, scale (B, C) may be rows of a wider
// buffer: `cstride` is the distance in floats between consecutive b rows of shift and scale
// (C when they are tight, 6C when they live inside a (B, 6C) adaLN output).
void modulate_forward(float *out, const float *in, const float *shift, const float *scale,
                      int B, int T, int C, int cstride);
void modulate_backward(float *din, float *dshift, float *dscale, const float *dout,
                       const float *in, const float *scale, int B, int T, int C, int cstride);

// Gated residual (adaLN-Zero): out (B, T, C) = res + gate[b] * x;  gate (B, C) with `cstride`.
// out may alias res.
void gate_residual_forward(float *out, const float *res, const float *x, const float *gate,
                           int B, int T, int C, int cstride);
void gate_residual_backward(float *dres, float *dx, float *dgate, const float *dout,
                            const float *x, const float *gate, int B, int T, int C, int cstride);

// out (N) = a + b  (plain residual); backward adds dout to both.
void residual_forward(float *out, const float *a, const float *b, long N);
void residual_backward(float *da, float *db, const float *dout, long N);

// GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). in/out (N).
void gelu_forward(float *out, const float *in, long N);
void gelu_backward(float *din, const float *dout, const float *in, long N);
// The same pair with the exponential kept: gelu_forward_keep also writes e (N) = exp(-2u), the one
// transcendental of both directions, and gelu_backward_kept reads it instead of recomputing it.
// Bit-identical to gelu_forward / gelu_backward (the same operations on the same e), and the
// backward loop vectorizes. The DiT block keeps e among its activations (models/dit_block.h).
void gelu_forward_keep(float *out, float *e, const float *in, long N);
void gelu_backward_kept(float *din, const float *dout, const float *in, const float *e, long N);

// SiLU: x * sigmoid(x). in/out (N).
void silu_forward(float *out, const float *in, long N);
void silu_backward(float *din, const float *dout, const float *in, long N);

#endif
