// loss.c: MSE, softmax cross-entropy, row L2 normalization, symmetric InfoNCE and the supervised
// contrastive loss (see loss.h).
// Scalar losses are summed in double in a fixed order, so they never depend on the thread count.
// Softmaxes subtract the row maximum, and -log p is computed as logsumexp - logit, which stays
// finite even when p underflows to 0 in float.
#include "loss.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "core/check.h"
#include "nn/layers.h"

#define PAR_MIN_WORK 32768
#define L2NORM_MIN 1e-12f

// ---- MSE ---------------------------------------------------------------------------------------

// mean((pred - target)^2), pred, target (N)
float mse_forward(const float *pred, const float *target, long N) {
    CG_CHECK(N > 0, "mse_forward N=%ld", N);
    double s = 0.0;
    for (long i = 0; i < N; i++) {
        double d = (double)pred[i] - target[i];
        s += d * d;
    }
    return (float)(s / N);
}

// dpred += dloss * 2 (pred - target) / N
void mse_backward(float *dpred, float dloss, const float *pred, const float *target, long N) {
    CG_CHECK(N > 0, "mse_backward N=%ld", N);
    float k = 2.0f * dloss / (float)N;
#pragma omp parallel for schedule(static) if (N > PAR_MIN_WORK)
    for (long i = 0; i < N; i++) dpred[i] += k * (pred[i] - target[i]);
}

// ---- softmax cross-entropy ---------------------------------------------------------------------

// probs (V) = softmax(logits (V)); returns log(sum exp(logits)) (the log-partition), computed stably.
static double softmax_row(float *probs, const float *logits, int V) {
    float mx = logits[0];
    for (int v = 1; v < V; v++) mx = logits[v] > mx ? logits[v] : mx;
    double sum = 0.0;
    for (int v = 0; v < V; v++) {
        float e = expf(logits[v] - mx);
        probs[v] = e;
        sum += e;
    }
    float inv = (float)(1.0 / sum);
    for (int v = 0; v < V; v++) probs[v] *= inv;
    return (double)mx + log(sum);
}

// mean over rows of -log softmax(logits)[target];  logits, probs (N, V), targets (N)
float crossentropy_forward(float *probs, const float *logits, const int *targets, int N, int V) {
    CG_CHECK(N > 0 && V > 0, "crossentropy_forward N=%d V=%d", N, V);
    double loss = 0.0;
    for (int n = 0; n < N; n++) {
        int t = targets[n];
        CG_CHECK(t >= 0 && t < V, "crossentropy target %d of row %d is outside [0, %d)", t, n, V);
        const float *l = logits + (size_t)n * V;
        double lse = softmax_row(probs + (size_t)n * V, l, V);
        loss += lse - l[t];
    }
    return (float)(loss / N);
}

// dlogits += dloss (probs - onehot(target)) / N
void crossentropy_backward(float *dlogits, float dloss, const float *probs, const int *targets,
                           int N, int V) {
    CG_CHECK(N > 0 && V > 0, "crossentropy_backward N=%d V=%d", N, V);
    float k = dloss / (float)N;
#pragma omp parallel for schedule(static) if ((size_t)N * V > PAR_MIN_WORK)
    for (int n = 0; n < N; n++) {
        const float *p = probs + (size_t)n * V;
        float *d = dlogits + (size_t)n * V;
        int t = targets[n];
        for (int v = 0; v < V; v++) d[v] += k * (p[v] - (v == t ? 1.0f : 0.0f));
    }
}

// ---- L2 normalization --------------------------------------------------------------------------

// out (N, D) = in / max(||in||, 1e-12);  norm (N) = ||in|| (unclamped)
void l2norm_forward(float *out, float *norm, const float *in, int N, int D) {
    CG_CHECK(N >= 0 && D > 0, "l2norm_forward N=%d D=%d", N, D);
#pragma omp parallel for schedule(static) if ((size_t)N * D > PAR_MIN_WORK)
    for (int n = 0; n < N; n++) {
        const float *x = in + (size_t)n * D;
        float *y = out + (size_t)n * D;
        double s = 0.0;
        for (int d = 0; d < D; d++) s += (double)x[d] * x[d];
        float nrm = (float)sqrt(s);
        float inv = 1.0f / (nrm > L2NORM_MIN ? nrm : L2NORM_MIN);
        for (int d = 0; d < D; d++) y[d] = x[d] * inv;
        norm[n] = nrm;
    }
}

// With y = x / ||x||:  din += (dout - y (y . dout)) / ||x||.  Where the norm was clamped, y = x / 1e-12
// is linear in x and din += dout / 1e-12.
void l2norm_backward(float *din, const float *dout, const float *out, const float *norm, int N, int D) {
    CG_CHECK(N >= 0 && D > 0, "l2norm_backward N=%d D=%d", N, D);
#pragma omp parallel for schedule(static) if ((size_t)N * D > PAR_MIN_WORK)
    for (int n = 0; n < N; n++) {
        const float *y = out + (size_t)n * D, *dy = dout + (size_t)n * D;
        float *dx = din + (size_t)n * D;
        if (norm[n] > L2NORM_MIN) {
            double dot = 0.0;
            for (int d = 0; d < D; d++) dot += (double)y[d] * dy[d];
            float inv = 1.0f / norm[n], fdot = (float)dot;
            for (int d = 0; d < D; d++) dx[d] += (dy[d] - y[d] * fdot) * inv;
        } else {
            for (int d = 0; d < D; d++) dx[d] += dy[d] / L2NORM_MIN;
        }
    }
}

// ---- symmetric InfoNCE -------------------------------------------------------------------------
// The similarity matrix S = a b^T (N, N) is exactly a bias-free linear layer with in = a and w = b,
// so both matmuls go through linear_forward/linear_backward (thread-count independent sgemm).

// logits (N, N) = scale a b^T. probs_ab = row softmax of logits, probs_ba = row softmax of logits^T.
// loss = 0.5 (mean_i -log probs_ab[i, i] + mean_j -log probs_ba[j, j]).
float infonce_forward(float *probs_ab, float *probs_ba, const float *a, const float *b,
                      float scale, int N, int D) {
    CG_CHECK(N > 0 && D > 0, "infonce_forward N=%d D=%d", N, D);
    size_t n = (size_t)N;
    // S into probs_ab, logits = scale S in place and transposed into probs_ba, then each row of
    // both is softmaxed in place; -log p[i, i] = logsumexp(row i) - logit[i, i]
    linear_forward(probs_ab, a, b, NULL, N, D, N);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            float l = scale * probs_ab[i * n + j];
            probs_ab[i * n + j] = l;
            probs_ba[j * n + i] = l;
        }
    double loss_ab = 0.0, loss_ba = 0.0;
    for (size_t i = 0; i < n; i++) {
        float *row = probs_ab + i * n;
        float diag = row[i];
        loss_ab += softmax_row(row, row, N) - diag;
    }
    for (size_t j = 0; j < n; j++) {
        float *row = probs_ba + j * n;
        float diag = row[j];
        loss_ba += softmax_row(row, row, N) - diag;
    }
    return (float)(0.5 * (loss_ab / N + loss_ba / N));
}

// G[i, j] = dloss/dlogits[i, j] = dloss / (2N) ((probs_ab[i, j] - [i == j]) + (probs_ba[j, i] - [i == j])).
// Since logits = scale S:  dscale += sum_ij G[i, j] S[i, j],  and dS = scale G gives
// da += dS b, db += dS^T a, which is linear_backward with dout = dS (din -> da, dw -> db).
void infonce_backward(float *da, float *db, float *dscale, float dloss, const float *probs_ab,
                      const float *probs_ba, const float *a, const float *b, float scale, int N, int D) {
    CG_CHECK(N > 0 && D > 0, "infonce_backward N=%d D=%d", N, D);
    size_t n = (size_t)N;
    float *G = cg_malloc(n * n * sizeof(float));
    float k = dloss / (2.0f * (float)N);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            float eye = i == j ? 1.0f : 0.0f;
            G[i * n + j] = k * ((probs_ab[i * n + j] - eye) + (probs_ba[j * n + i] - eye));
        }
    if (dscale) {
        float *S = cg_malloc(n * n * sizeof(float));
        linear_forward(S, a, b, NULL, N, D, N);
        double s = 0.0;
        for (size_t i = 0; i < n * n; i++) s += (double)G[i] * S[i];
        *dscale += (float)s;
        free(S);
    }
    if (da || db) {
        for (size_t i = 0; i < n * n; i++) G[i] *= scale;
        linear_backward(da, db, NULL, G, a, b, N, D, N);
    }
    free(G);
}

// ---- supervised contrastive ----------------------------------------------------------------------
// One anchor at a time in double: its logits z_a = scale e_i.e_a over the others, logsumexp, and
// d loss_i / d z_ia = (softmax_a - [a in P(i)] / |P(i)|) / N, pushed back into both embeddings.

float enc_supcon(float *demb, float *dscale, float *acc, const float *emb, const int *group, int N, int D, float scale) {
    double loss = 0, ds = 0;
    int correct = 0;
    double *z = cg_malloc((size_t)N * sizeof(double)), *g = cg_malloc((size_t)N * sizeof(double));
    for (int i = 0; i < N; i++) {
        const float *ei = emb + (size_t)i * D;
        double mx = -INFINITY;
        int n_pos = 0, best = -1;
        for (int a = 0; a < N; a++) {
            if (a == i) continue;
            double dot = 0;
            for (int k = 0; k < D; k++) dot += (double)ei[k] * emb[(size_t)a * D + k];
            z[a] = scale * dot;
            mx = z[a] > mx ? z[a] : mx;
            n_pos += group[a] == group[i];
            if (best < 0 || z[a] > z[best]) best = a;
        }
        CG_CHECK(n_pos > 0, "supcon: sample %d has no positive", i);
        correct += group[best] == group[i];
        double sum = 0;
        for (int a = 0; a < N; a++)
            if (a != i) sum += exp(z[a] - mx);
        double lse = mx + log(sum);
        for (int a = 0; a < N; a++) {
            if (a == i) continue;
            int pos = group[a] == group[i];
            if (pos) loss += (lse - z[a]) / n_pos;
            // d loss_i / d z_ia, divided by N for the mean over anchors
            g[a] = (exp(z[a] - lse) - (pos ? 1.0 / n_pos : 0.0)) / N;
        }
        for (int a = 0; a < N; a++) {
            if (a == i) continue;
            const float *ea = emb + (size_t)a * D;
            float *di = demb + (size_t)i * D, *da = demb + (size_t)a * D;
            for (int k = 0; k < D; k++) {
                di[k] += (float)(g[a] * scale * ea[k]);
                da[k] += (float)(g[a] * scale * ei[k]);
            }
            ds += g[a] * z[a] / scale;
        }
    }
    free(z), free(g);
    if (dscale) *dscale += (float)ds;
    if (acc) *acc = (float)correct / (float)N;
    return (float)(loss / N);
}
