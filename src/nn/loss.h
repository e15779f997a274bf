// loss.h: losses and the L2 normalization that contrastive encoders end with. Each forward
// returns the scalar loss (a mean); each backward takes dloss (the gradient of the final
// objective with respect to that scalar, 1.0 when it is the objective) and ACCUMULATES.
// The supervised contrastive loss is one call, forward and backward with dloss = 1.
#ifndef CGRPO_NN_LOSS_H
#define CGRPO_NN_LOSS_H

// mean((pred - target)^2) over N elements. pred, target (N).
float mse_forward(const float *pred, const float *target, long N);
void mse_backward(float *dpred, float dloss, const float *pred, const float *target, long N);

// Mean softmax cross-entropy over N rows: logits (N, V), targets (N) in [0, V).
// probs (N, V) is saved for backward.
float crossentropy_forward(float *probs, const float *logits, const int *targets, int N, int V);
void crossentropy_backward(float *dlogits, float dloss, const float *probs, const int *targets,
                           int N, int V);

// Row-wise L2 normalization: out (N, D) = in / max(||in||, 1e-12); norm (N) saved.
void l2norm_forward(float *out, float *norm, const float *in, int N, int D);
void l2norm_backward(float *din, const float *dout, const float *out, const float *norm, int N, int D);

// Symmetric InfoNCE (CLIP loss) for N matched pairs: logits = scale * a b^T (N, N), target of row
// i is column i; loss = (CE over rows + CE over columns) / 2. a, b (N, D) are normally
// L2-normalized embeddings; scale > 0 is the inverse temperature. probs_ab (N, N) and
// probs_ba (N, N) are the row-softmaxes of logits and logits^T, saved for backward.
float infonce_forward(float *probs_ab, float *probs_ba, const float *a, const float *b,
                      float scale, int N, int D);
// da, db (N, D) and *dscale (scalar, may be NULL) accumulate.
void infonce_backward(float *da, float *db, float *dscale, float dloss, const float *probs_ab,
                      const float *probs_ba, const float *a, const float *b, float scale, int N, int D);

// Supervised contrastive loss (Khosla et al. 2020, the "outside" form) over N unit embeddings emb
// (N, D) in groups (group[i]: samples with equal values are positives; every sample needs one):
//   loss = mean_i  -1/|P(i)| sum_{p in P(i)} log( exp(s z_i.z_p) / sum_{a != i} exp(s z_i.z_a) )
// with s = scale. demb (N, D) and *dscale (may be NULL) accumulate the gradients; *acc (may be
// NULL) gets the share of samples whose most similar other sample is a positive. With two views
// per group it is InfoNCE's row direction over both halves.
float enc_supcon(float *demb, float *dscale, float *acc, const float *emb, const int *group, int N, int D, float scale);

#endif
