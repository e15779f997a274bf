// attention.c: multi-head self-attention (no causal mask) over a joint sequence, with an optional
// key padding mask. See attention.h for the layout of qkv, out and att.
//
// Work is split over (b, h) pairs: each pair is computed by exactly one OpenMP thread, and the
// pairs write disjoint slices of out, att, dqkv and scratch, so results are bit-identical for any
// thread count. Inside a pair the matrix products (2 forward, 4 backward) are single-threaded BLAS
// sgemm calls that read q, k, v straight out of qkv with leading dimension 3C (no copies).
//
// Why sgemm inside the OpenMP loop: measured on B=8, T=144, C=128, NH=4 (forward + backward, -O2):
//   plain loops inside the OpenMP loop        70 ms (1 thread)   39 ms (2 threads)
//     (the same loops at -O3 -march=native    39 ms              19 ms)
//   sgemm per (b, h) outside OpenMP regions   11 ms (1 thread)   19 ms (2 threads: BLAS threading
//                                                                   overhead on 144x144x32 products)
//   sgemm per (b, h) inside the OpenMP loop   11 ms (1 thread)  8.4 ms (2 threads)   <- this file
// The OpenMP build of OpenBLAS runs single-threaded when called from inside an active parallel
// region (num_cpu_avail() in OpenBLAS's common_thread.h returns 1 under omp_in_parallel()), so
// there is no oversubscription. With the pthreads build of OpenBLAS that guarantee does
// not hold, so there the (b, h) loop runs serially and BLAS threads each product itself.
#include "nn/attention.h"

#include <cblas.h>
#include <math.h>
#include <stddef.h>

#include "core/check.h"

// Whether the (b, h) loop may run in parallel with BLAS called inside it (see above).
static int attention_parallel_ok(void) { return openblas_get_parallel() != OPENBLAS_THREAD; }

// (the condition is computed first: CG_CHECK pastes its condition's text into a printf format)
void attention_check_dims(int B, int T, int C, int NH) {
    int ok = B > 0 && T > 0 && C > 0 && NH > 0 && C % NH == 0;
    CG_CHECK(ok, "B %d T %d C %d NH %d: all positive, C a multiple of NH", B, T, C, NH);
}

// The sizes of one call, shared by its (b, h) pairs: head width hs = C / NH, score scale 1/sqrt(hs).
typedef struct {
    int B, T, C, NH, hs;
    float scale;
} Heads;

static Heads heads_of(int B, int T, int C, int NH) {
    attention_check_dims(B, T, C, NH);
    const int hs = C / NH;
    return (Heads){B, T, C, NH, hs, 1.0f / sqrtf((float)hs)};
}

// Runs pair(g, args, b, h) for every (b, h): each pair on exactly one OpenMP thread (when BLAS
// allows it, see above), over disjoint slices of the outputs.
typedef void HeadPairFn(const Heads *g, const void *args, int b, int h);
static void for_each_head_pair(const Heads *g, HeadPairFn *pair, const void *args) {
    const int par = attention_parallel_ok();
#pragma omp parallel for schedule(static) if (par)
    for (int bh = 0; bh < g->B * g->NH; bh++) pair(g, args, bh / g->NH, bh % g->NH);
}

// In place over a (T, T) score matrix: row-wise softmax over the keys with key_mask[j] != 0
// (all keys when key_mask is NULL). Masked keys get probability exactly 0.
static void softmax_rows_masked(float *att, const unsigned char *key_mask, int T) {
    for (int t = 0; t < T; t++) {
        float *row = att + (size_t)t * T;
        float maxv = -INFINITY;
        for (int j = 0; j < T; j++)
            if ((!key_mask || key_mask[j]) && row[j] > maxv) maxv = row[j];
        float sum = 0.0f;
        for (int j = 0; j < T; j++) {
            float e = (!key_mask || key_mask[j]) ? expf(row[j] - maxv) : 0.0f;
            row[j] = e;
            sum += e;
        }
        float inv = 1.0f / sum; // sum >= 1: the max key contributes exp(0)
        for (int j = 0; j < T; j++) row[j] *= inv;
    }
}

// ---- forward -------------------------------------------------------------------------------------

typedef struct {
    float *out, *att;
    const float *qkv;
    const unsigned char *key_mask;
} ForwardArgs;

static void forward_pair(const Heads *g, const void *args, int b, int h) {
    const ForwardArgs *f = args;
    const int T = g->T, C = g->C, hs = g->hs, C3 = 3 * C;
    const float *q = f->qkv + (size_t)b * T * C3 + (size_t)h * hs; // (T, hs), row stride 3C
    const float *k = q + C;
    const float *v = q + 2 * (size_t)C;
    float *a = f->att + ((size_t)b * g->NH + h) * T * T;            // (T, T)
    float *o = f->out + (size_t)b * T * C + (size_t)h * hs;         // (T, hs), row stride C
    // a = scale * q k^T
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, g->scale, q, C3, k, C3, 0.0f, a, T);
    softmax_rows_masked(a, f->key_mask ? f->key_mask + (size_t)b * T : NULL, T);
    // o = a v
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, a, T, v, C3, 0.0f, o, C);
}

void attention_forward(float *out, float *att, const float *qkv, const unsigned char *key_mask,
                       int B, int T, int C, int NH) {
    const Heads g = heads_of(B, T, C, NH);
    if (key_mask) {
        for (int b = 0; b < B; b++) {
            int any = 0;
            for (int j = 0; j < T && !any; j++) any = key_mask[(size_t)b * T + j] != 0;
            CG_CHECK(any, "key_mask masks every key of batch item %d", b);
        }
    }
    const ForwardArgs f = {out, att, qkv, key_mask};
    for_each_head_pair(&g, forward_pair, &f);
}

// ---- backward ------------------------------------------------------------------------------------

size_t attention_scratch_floats(int B, int T, int C, int NH) {
    (void)C;
    // one (T, T) buffer per (b, h) pair, so that no two threads ever share one
    return cg_mul_size(cg_mul_size((size_t)B, (size_t)NH), cg_mul_size((size_t)T, (size_t)T));
}

typedef struct {
    float *dqkv, *scratch;
    const float *dout, *qkv, *att;
} BackwardArgs;

static void backward_pair(const Heads *g, const void *args, int b, int h) {
    const BackwardArgs *r = args;
    const int T = g->T, C = g->C, hs = g->hs, C3 = 3 * C;
    const float scale = g->scale; // (a local: the loop below stores floats, so g->scale would be reread)
    const size_t head = (size_t)b * T * C3 + (size_t)h * hs, tt = ((size_t)b * g->NH + h) * T * T;
    const float *q = r->qkv + head, *k = q + C, *v = q + 2 * (size_t)C; // (T, hs), stride 3C
    float *dq = r->dqkv + head, *dk = dq + C, *dv = dq + 2 * (size_t)C;  // (T, hs), stride 3C
    const float *a = r->att + tt;                                        // (T, T)
    const float *dO = r->dout + (size_t)b * T * C + (size_t)h * hs;      // (T, hs), stride C
    float *d = r->scratch + tt;                                          // (T, T): datt, then dpreatt
    // datt = dO v^T;  dv += a^T dO
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, hs, 1.0f, dO, C, v, C3, 0.0f, d, T);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, a, T, dO, C, 1.0f, dv, C3);
    // softmax backward, with the score scale folded in:
    // d(scale q.k) = a * (datt - sum_j a_j datt_j), masked keys have a = 0 and get 0
    for (int t = 0; t < T; t++) {
        float *drow = d + (size_t)t * T;
        const float *arow = a + (size_t)t * T;
        float dot = 0.0f;
        for (int j = 0; j < T; j++) dot += arow[j] * drow[j];
        for (int j = 0; j < T; j++) drow[j] = scale * arow[j] * (drow[j] - dot);
    }
    // dq += dpre k;  dk += dpre^T q
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, hs, T, 1.0f, d, T, k, C3, 1.0f, dq, C3);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, hs, T, 1.0f, d, T, q, C3, 1.0f, dk, C3);
}

void attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                        const float *att, int B, int T, int C, int NH) {
    const Heads g = heads_of(B, T, C, NH);
    if (!dqkv) return;
    const BackwardArgs r = {dqkv, scratch, dout, qkv, att};
    for_each_head_pair(&g, backward_pair, &r);
}
