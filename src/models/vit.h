// vit.h: the image encoder behind the identity reward, the CLIP-style scorer's image tower and the
// attribute classifier (docs/design.md). Pre-LN ViT, no conditioning:
//
//   img (B, H, W, CH) HWC in [-1, 1]
//   -> patchify (B, T, P*P*CH), T = (H/P)(W/P)  -> linear patch embed (C) + learned pos embed (T, C)
//   -> L ViT blocks (vit_block.h)  -> final affine LayerNorm
//   -> mean pool over the T tokens (B, C)
//   -> linear C -> D -> L2 normalize -> emb (B, D), unit rows
//   and, optionally, K classification heads on the pooled feature: logits_k (B, n_k) = linear C -> n_k.
//
// Pooling: mean over tokens, not a CLS token. Every token then gets gradient directly, the
// sequence stays exactly the 64 patch tokens (no extra row with its own init and attention
// pattern to learn, no T + 1 = 65 sequence), and the text encoder pools the same way (over its
// non-PAD tokens), so both towers share one trunk and one recipe.
//
// Usage (llm.c style; the model owns every buffer, sized once for a maximum batch):
//
//   ViTConfig cfg = {.img = 32, .patch = 4, .channels = 3, .width = 96, .depth = 4, .n_heads = 4,
//                    .embed_dim = 64, .logit_scale = 1};
//   ViT m; char err[256];
//   if (vit_create(&m, &cfg, 128, err, sizeof(err))) cg_usage("encoder config: %s", err);
//   vit_init(&m, seed);
//   for (int step = 1; ...; step++) {
//       vit_zero_grad(&m);
//       ContrastiveResult r = vit_identity_step(&m, views, B);       // forward + backward
//       adamw_step(m.params, m.grads, m.m, m.v, &m.table, step, &adamw_cfg);
//   }
//   vit_embed(&m, emb, images, N);                                   // scoring, any N
//   vit_free(&m);
//
// Buffers: params, grads and the AdamW moments m, v (all table.total floats, the same layout) are
// allocated and owned by the model; m and v start at zero. Activations and backward scratch are
// allocated once for max_B images: forward/backward never allocate.
//
// Determinism: results are bit-identical for any number of OpenMP threads (every layer is; the
// loops here give each output element to one thread). They are NOT guaranteed identical across
// batch sizes: the row-chunked sgemm may take other kernel paths for a row at another position.
#ifndef CGRPO_MODELS_VIT_H
#define CGRPO_MODELS_VIT_H

#include <stddef.h>
#include <stdint.h>

#include "models/vit_block.h"
#include "nn/optim.h"

#define VIT_MAX_CLS_HEADS 4
// InfoNCE inverse temperature, log-parametrised as in CLIP: init log(1 / 0.07), at most log(100)
#define VIT_LOGIT_SCALE_INIT 2.65926003f
#define VIT_LOGIT_SCALE_MAX 4.60517019f

typedef struct {
    int img;       // image side H = W (pixels)
    int patch;     // patch side P; img % P == 0
    int channels;  // CH, 3 for RGB
    int width;     // C
    int depth;     // L, number of ViT blocks (0 allowed: patch embed + LayerNorm + pool)
    int n_heads;   // NH, C % NH == 0
    int embed_dim; // D, the embedding size
    int n_cls_heads;                  // K in [0, VIT_MAX_CLS_HEADS]
    int n_classes[VIT_MAX_CLS_HEADS]; // n_k >= 2 for k < K (e.g. scene 21, accessory 11, property 6)
    int logit_scale; // 1: the model has the learnable scalar "logit_scale" (contrastive training)
} ViTConfig;

// 0 if the config is usable, else -1 with a one-line reason in err (e.g. "img 30 is not a
// multiple of patch 4").
int vit_config_check(const ViTConfig *cfg, char *err, size_t errlen);

// ---- the transformer trunk, shared with the text encoder (textenc.c) ------------------------------
// L ViT blocks and a final affine LayerNorm over a (B, T, C) sequence, with the buffers both need.
// Parameters "blocks.<l>.*" (vit_block.h), "norm.weight", "norm.bias".
typedef struct {
    int L, T, C, NH, max_B;
    int B;                    // batch of the last forward
    ViTBlockWeights *w, *g;   // (L) views into the model's params / grads
    float *norm_w, *norm_b;   // (C) final LayerNorm, params
    float *gnorm_w, *gnorm_b; // (C) their gradients
    float *xs;       // (L + 1) slots of (max_B, T, C): slot 0 is the input the caller fills,
                     // slot l + 1 the output of block l
    float *acts_buf; // L * vit_block_acts_floats(max_B, T, C, NH)
    ViTBlockActs *acts; // (L), bound for batch B at each forward
    float *lnf;      // (B, T, C) final LayerNorm output
    float *lnf_mean, *lnf_rstd; // (B, T)
    float *dlnf;     // (B, T, C) the caller writes d(lnf) here before vit_trunk_backward
    float *dx[2];    // (B, T, C) ping-pong gradients of the residual stream
    float *scratch;  // vit_block_scratch_floats(max_B, T, C, NH)
} ViTTrunk;

void vit_trunk_register(ParamTable *t, int L, int C);
// Bind the weights into params / grads (laid out by t) and allocate the buffers for max_B.
void vit_trunk_create(ViTTrunk *tr, const ParamTable *t, float *params, float *grads, int L, int T,
                      int C, int NH, int max_B);
void vit_trunk_free(ViTTrunk *tr);
// Blocks as vit_block_init (in block order), final LayerNorm weight 1, bias 0.
void vit_trunk_init(ViTTrunk *tr, cg_rng *rng);
// xs slot 0 (B, T, C) -> lnf (B, T, C). key_mask (B, T) or NULL, as in attention.h.
void vit_trunk_forward(ViTTrunk *tr, const unsigned char *key_mask, int B);
// From tr->dlnf (B, T, C): accumulates every trunk gradient; returns d(xs slot 0) (B, T, C), a
// pointer into tr->dx valid until the next backward.
const float *vit_trunk_backward(ViTTrunk *tr, const unsigned char *key_mask);

// ---- what else both towers (image and text) share ------------------------------------------------

// p (n) ~ N(0, std^2), drawn in order from rng
void vit_normal_init(float *p, size_t n, float std, cg_rng *rng);
// The checks of the trunk's and head's sizes: 0, or -1 with "width 0 outside [1, 8192]" and the like.
int vit_tower_config_check(int width, int depth, int n_heads, int embed_dim, char *err, size_t errlen);
// A tower's parameter table: its own rows own[0, n_before), the trunk's (depth blocks of width C and
// the final norm), own[n_before, n). Allocates params, grads and the AdamW moments m, v (t->total
// floats each, zero).
void vit_tower_params(ParamTable *t, const ParamDef *own, int n_before, int n, int depth, int C, float **params,
                      float **grads, float **m, float **v);
// Zeroes grads and the AdamW moments m, v (t->total floats each), as an init does.
void vit_tower_zero_state(const ParamTable *t, float *grads, float *m, float *v);
// Frees what vit_tower_params made.
void vit_tower_free(ParamTable *t, float *params, float *grads, float *m, float *v);
// x (B, T, C) += pos (T, C) for every b; dpos (T, C) += the sum over b of dx (B, T, C), each element
// in b order, in double (the bits do not depend on the thread count).
void vit_add_pos(float *x, const float *pos, int B, int T, int C);
void vit_add_pos_backward(float *dpos, const float *dx, int B, int T, int C);
// pooled (B, C) = the mean of x (B, T, C) over the positions t with mask[b, t] != 0 (mask (B, T), or
// NULL: every t), summed in t order; count (B) holds how many there are (NULL: T each).
void vit_pool_forward(float *pooled, const float *x, const unsigned char *mask, const int *count, int B, int T, int C);
// dx (B, T, C) = dpooled (B, C) / count over the pooled positions, 0 elsewhere (overwrites).
void vit_pool_backward(float *dx, const float *dpooled, const unsigned char *mask, const int *count, int B, int T,
                       int C);

// The embedding head of both towers: pooled (B, C) -> linear C -> D (proj) -> L2 normalize -> emb.
typedef struct {
    float *pooled;           // (B, C) the pooled final LayerNorm output
    float *feat, *feat_norm; // (B, D) the projection before normalization, (B) its norm
    float *dpooled, *dfeat;  // backward scratch, (B, C) and (B, D)
} ViTHead;
void vit_head_create(ViTHead *h, int max_B, int C, int D);
void vit_head_free(ViTHead *h);
// emb (B, D) from h->pooled.
void vit_head_forward(ViTHead *h, float *emb, const float *proj_w, const float *proj_b, int B, int C, int D);
// From demb (B, D) and the forward's emb: accumulates (+=) into gproj_w, gproj_b and h->dpooled.
void vit_head_backward(ViTHead *h, float *gproj_w, float *gproj_b, const float *demb, const float *emb,
                       const float *proj_w, int B, int C, int D);

// ---- the image encoder ----------------------------------------------------------------------------

// Pointers into a flat parameter (or gradient) buffer. Names in the ParamTable in quotes.
typedef struct {
    float *patch_w; // (C, P*P*CH) "patch_embed.weight"  decay 1
    float *patch_b; // (C)         "patch_embed.bias"    decay 0
    float *pos;     // (T, C)      "pos_embed"           decay 0
    //                             "blocks.<l>.*", "norm.weight", "norm.bias": in ViTTrunk
    float *proj_w;  // (D, C)      "proj.weight"         decay 1
    float *proj_b;  // (D)         "proj.bias"           decay 0
    float *head_w[VIT_MAX_CLS_HEADS]; // (n_k, C) "heads.<k>.weight"  decay 1
    float *head_b[VIT_MAX_CLS_HEADS]; // (n_k)    "heads.<k>.bias"    decay 0
    float *logit_scale; // (1) "logit_scale" decay 0, or NULL when cfg.logit_scale == 0
} ViTWeights;

typedef struct {
    ViTConfig cfg;
    int T;         // tokens per image, (img / patch)^2
    int PD;        // patch features, patch * patch * channels
    int max_B;     // the largest batch forward accepts
    ParamTable table;
    float *params, *grads, *m, *v; // (table.total) each, owned; m, v: AdamW moments
    ViTWeights w, g;               // views into params / grads
    ViTTrunk trunk;
    int B;                 // batch of the last forward
    // forward activations (valid for the first B rows)
    float *tokens;         // (B, T, PD) patchified input
    ViTHead head;          // pooled (B, C): the mean over tokens of the final LayerNorm output; proj
    float *emb;            // (B, D) OUTPUT: unit-norm embeddings
    float *logits[VIT_MAX_CLS_HEADS]; // (B, n_k) OUTPUT: head logits
    // backward scratch
    float *dtokens;         // (B, T, PD), used when the caller asks for d(img)
    // training-step scratch (vit_identity_step, clip_step, vit_classify_step)
    float *probs_ab, *probs_ba; // (max_B, max_B) InfoNCE softmaxes
    float *demb;                // (max_B, D)
    float *probs[VIT_MAX_CLS_HEADS], *dlogits[VIT_MAX_CLS_HEADS]; // (max_B, n_k)
    int *targets;               // (max_B) one head's labels
} ViT;

// Validates cfg (returns -1 with the reason in err) and allocates everything for batches of up
// to max_B images; the weights are zero until vit_init. Allocation failures die.
int vit_create(ViT *m, const ViTConfig *cfg, int max_B, char *err, size_t errlen);
void vit_free(ViT *m);
// Initialize from a seed (Philox stream cg_rng_stream(VIT_RNG_PURPOSE, 0, 0)), in table order:
// patch embed and proj and head weights xavier-uniform, pos embed N(0, 0.02^2), blocks as
// vit_block_init, LayerNorm weights 1, all biases 0, logit_scale VIT_LOGIT_SCALE_INIT.
// Also zeroes grads and the AdamW moments.
#define VIT_RNG_PURPOSE 0x56495430ULL // "VIT0"
void vit_init(ViT *m, uint64_t seed);
void vit_zero_grad(ViT *m);

// img (B, img, img, CH), 1 <= B <= max_B -> m->emb (B, D) and m->logits[k] (B, n_k); saves
// activations for vit_backward.
void vit_forward(ViT *m, const float *img, int B);
// Backward of the last forward. demb (B, D) or NULL; dlogits: NULL or an array of K pointers
// (B, n_k), each may be NULL. Accumulates (+=) into m->grads, and into dimg (B, img, img, CH)
// unless it is NULL.
void vit_backward(ViT *m, const float *demb, const float *const *dlogits, float *dimg);

// Embeddings of N images in chunks of max_B: emb (N, D) from img (N, img, img, CH). Overwrites
// the forward activations.
void vit_embed(ViT *m, float *emb, const float *img, int N);

// The InfoNCE inverse temperature exp(min(logit_scale, VIT_LOGIT_SCALE_MAX)); dies if the model
// has no logit_scale.
float vit_logit_scale(const ViT *m);

// ---- training steps (forward + backward; the caller zeroes grads and runs the optimizer) ----------

typedef struct {
    float loss;  // symmetric InfoNCE loss (mean of both directions)
    float acc;   // in-batch top-1 accuracy over both directions: the share of the 2N rows of the
                 // logits (a->b and b->a) whose matching entry is STRICTLY the largest
    float scale; // the inverse temperature used
} ContrastiveResult;

// Identity: views (2B, img, img, CH), rows [0, B) are view a and rows [B, 2B) view b of the same
// B subjects; one forward over the 2B images (2B <= max_B), loss = infonce(a, b, scale),
// backward into the encoder and logit_scale. Needs cfg.logit_scale. Before its forward the step
// clamps the stored logit_scale to <= VIT_LOGIT_SCALE_MAX (CLIP clamps after the optimizer
// step: the same sequence of values used, and the gradient is that of exp(p) at the used p).
ContrastiveResult vit_identity_step(ViT *m, const float *views, int B);

// In-batch top-1 accuracy (as in ContrastiveResult) from m->probs_ab / m->probs_ba after an
// infonce_forward on N pairs into them (shared with clip_step in textenc.c).
float vit_infonce_accuracy(const ViT *m, int N);
// Clamp the stored logit_scale to <= VIT_LOGIT_SCALE_MAX and return exp of it (used by the steps).
float vit_clamp_logit_scale(ViT *m);

// The predicted class of a head's row (n logits or probabilities): the index of the largest, the
// first one on ties.
int vit_argmax(const float *row, int n);

typedef struct {
    float loss;                   // sum over heads of the mean cross-entropy
    float acc[VIT_MAX_CLS_HEADS]; // per-head top-1 accuracy (argmax, first index on ties)
} ClassifyResult;

// Attribute classifier: labels (B, K) row-major, labels[b K + k] in [0, n_k); forward,
// cross-entropy per head, backward into the trunk and heads (the embedding branch gets no
// gradient). B <= max_B.
ClassifyResult vit_classify_step(ViT *m, const float *imgs, const int *labels, int B);
// The heads' part of that step on the last forward (N rows, labels (N, K)): per head the mean
// cross-entropy, its gradient times w into m->dlogits[k] (overwritten; dl[k] points at it, for
// vit_backward) and the top-1 accuracy acc[k]. Returns the sum over heads of the cross-entropies.
float vit_heads_loss(ViT *m, const float **dl, const int *labels, int N, float w, float acc[VIT_MAX_CLS_HEADS]);

#endif
