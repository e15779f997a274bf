// lora.c: the LoRA adapter of a linear layer (see lora.h), over the BLAS products of nn/layers.c,
// so that its bits do not depend on the number of OpenMP threads either.
#include "nn/lora.h"

#include <stddef.h>
#include <string.h>

#include "core/check.h"
#include "nn/layers.h"

static void check_dims(const char *what, int N, int C, int OC, int R) {
    CG_CHECK(N >= 0 && C >= 0 && OC >= 0 && R >= 1, "%s dims N=%d C=%d OC=%d R=%d", what, N, C, OC, R);
}

static void scale(float *p, size_t n, float s) {
    if (s == 1.0f) return;
    for (size_t i = 0; i < n; i++) p[i] *= s;
}

// u (N, R) = s in A^T
static void down(float *u, const float *in, const float *A, float s, int N, int C, int R) {
    linear_forward(u, in, A, NULL, N, C, R);
    scale(u, (size_t)N * R, s);
}

void lora_forward(float *out, float *u, const float *in, const float *A, const float *B, float s, int N, int C,
                  int OC, int R) {
    check_dims("lora_forward", N, C, OC, R);
    down(u, in, A, s, N, C, R);
    linear_forward_acc(out, u, B, N, R, OC);
}

void lora_backward(float *din, float *dA, float *dB, float *u, float *du, const float *dout, const float *in,
                   const float *A, const float *B, float s, int N, int C, int OC, int R) {
    check_dims("lora_backward", N, C, OC, R);
    down(u, in, A, s, N, C, R);
    // the up-projection out += u B^T: du = dout B (the gradient of u), dB += dout^T u
    memset(du, 0, (size_t)N * R * sizeof(float));
    linear_backward(du, dB, NULL, dout, u, B, N, R, OC);
    // u = s in A^T
    scale(du, (size_t)N * R, s);
    linear_backward(din, dA, NULL, du, in, A, N, C, R);
}

void lora_merge(float *W, const float *A, const float *B, float s, int OC, int C, int R) {
    check_dims("lora_merge", OC, C, OC, R);
    // W (OC, C) += (s B) (OC, R) @ A (R, C), row by row in double: the merge runs once per file
    for (int o = 0; o < OC; o++)
        for (int c = 0; c < C; c++) {
            double acc = 0.0;
            for (int r = 0; r < R; r++) acc += (double)B[(size_t)o * R + r] * A[(size_t)r * C + c];
            W[(size_t)o * C + c] += (float)(s * acc);
        }
}

void lora_linear_forward(float *out, const float *in, const LoraLinear *l, int N, int C, int OC) {
    if (l) lora_forward(out, l->u, in, l->A, l->B, l->s, N, C, OC, l->R);
}

void lora_linear_backward(float *din, const float *dout, const float *in, const LoraLinear *l, int N, int C, int OC) {
    if (l) lora_backward(din, l->dA, l->dB, l->u, l->du, dout, in, l->A, l->B, l->s, N, C, OC, l->R);
}
