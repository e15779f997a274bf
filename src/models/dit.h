// dit.h: the subject-driven generator, a rectified-flow diffusion transformer in pixel space with
// in-context subject conditioning (docs/design.md).
//
// One sequence per image, T = Ti + Ti + Lt tokens, Ti = (img / patch)^2:
//   [ target tokens (Ti) | reference tokens (Ti) | text tokens (Lt) ]
//   target    = patch_embed(patchify(x_t)) + pos_embed + type_embed[0]
//   reference = patch_embed(patchify(ref)) + pos_embed + type_embed[1]   (same patch_embed and
//               pos_embed: a reference patch and the target patch at the same place line up)
//   text      = tok_embed[tokens] + text_pos + type_embed[2]
//   c         = fc2(silu(fc1(timestep_embedding(1000 sigma, tdim))))                  (B, C)
//   L DiT blocks (models/dit_block.h) over the joint sequence with key_mask (B, T):
//     target keys 1; reference keys 0 when drop_ref[b]; text keys 0 for PAD (id 0) and for the
//     whole prompt when drop_txt[b] (classifier-free guidance drops conditions this way: a masked
//     key has attention weight exactly 0, so v does not depend on what the dropped tokens hold)
//   final layer on the target tokens: layernorm (no affine) * (1 + scale) + shift with
//     [shift scale] = final.ada(silu(c)) (B, 2C), then final.linear C -> P*P*CH; both zero-init
//     (adaLN-Zero), so the velocity of a fresh model is exactly 0; unpatchify -> v (B, img, img, CH).
// Images are float (B, H, W, CH) HWC in [-1, 1]. Rectified flow: x_s = (1 - s) x0 + s e, v = e - x0.
//
// pos_embed is a learned (Ti, C) tensor INITIALIZED to the fixed 2-D sin-cos table of MAE/DiT
// (first half of the channels encodes the patch row, second half the column). Why: a fresh model
// already knows where each patch is and that reference patch (i, j) sits at the same place as
// target patch (i, j), which in-context copying of a subject needs from the first step; learning
// it from a small random init costs early training time. It stays trainable (no weight decay) so
// training may refine it. text_pos, type_embed and tok_embed start as N(0, 0.02^2).
//
// Memory (llm.c style): one flat parameter buffer described by a ParamTable; gradients and the
// AdamW moments have the same layout; activations for up to max_B samples live in one arena
// allocated by dit_create. forward/backward never allocate. Results are bit-identical for any
// number of OpenMP threads.
//
//   DiTConfig cfg = dit_config_default(); cfg.vocab = tokenizer_vocab_size(...);
//   if (dit_config_check(&cfg, err, sizeof err)) cg_usage("%s", err);
//   DiTModel m; dit_create(&m, &cfg, max_B); dit_init(&m, seed);
//   dit_zero_grad(&m);
//   float loss = dit_flow_loss(&m, x0, noise, sigma, ref, tokens, drop_ref, drop_txt, B);
//   adamw_step(m.params, m.grads, m.adam_m, m.adam_v, &m.table, step, &opt);
#ifndef CGRPO_MODELS_DIT_H
#define CGRPO_MODELS_DIT_H

#include <stddef.h>
#include <stdint.h>

#include "io/checkpoint.h"
#include "models/dit_block.h"
#include "nn/optim.h"

#define DIT_PAD_TOKEN 0          // token id 0 is padding: never attended to
#define DIT_TIME_SCALE 1000.0f   // the timestep embedding sees 1000 sigma
#define DIT_MAX_PERIOD 10000.0f  // of the sinusoidal timestep embedding
#define DIT_KIND "dit"           // the "kind" metadata of DiT checkpoints

typedef struct {
    int img;      // image side in pixels (32); square images
    int patch;    // patch side P (4); img % patch == 0
    int channels; // CH (3)
    int width;    // C (128..192)
    int depth;    // L, number of DiT blocks (6)
    int heads;    // NH (4); width % heads == 0
    int text_len; // Lt, prompt tokens per sample (16)
    int vocab;    // V, token ids in [0, V); id 0 is PAD. Set from the tokenizer.
    int tdim;     // size of the sinusoidal timestep embedding (256), even
} DiTConfig;

// img 32, patch 4, channels 3, width 128, depth 6, heads 4, text_len 16, vocab 0 (must be set), tdim 256
DiTConfig dit_config_default(void);
// 0, or -1 with a one-line reason naming the field (sizes positive and sane, width % heads,
// img % patch, tdim even, vocab >= 2).
int dit_config_check(const DiTConfig *cfg, char *err, size_t errlen);
int dit_tokens_per_image(const DiTConfig *cfg);   // Ti = (img / patch)^2
int dit_seq_len(const DiTConfig *cfg);            // T = 2 Ti + Lt
size_t dit_image_floats(const DiTConfig *cfg);    // img * img * channels

// Config <-> checkpoint metadata: "dit.img", "dit.patch", "dit.channels", "dit.width", "dit.depth",
// "dit.heads", "dit.text_len", "dit.vocab", "dit.tdim" as decimal strings, plus "kind" = "dit".
void dit_config_to_meta(const DiTConfig *cfg, CkptMeta *meta);
// Parses every field (strictly) and checks the result with dit_config_check. 0 or -1 + reason.
int dit_config_from_meta(const CkptMeta *meta, DiTConfig *cfg, char *err, size_t errlen);
// 0 when the metadata describes exactly cfg, else -1 naming the first mismatching key:
// "checkpoint has dit.width=192, this run wants 128" (or a kind that is not "dit").
int dit_config_match_meta(const CkptMeta *meta, const DiTConfig *cfg, char *err, size_t errlen);

// Pointers into a flat parameter (or gradient) buffer. PPC = patch * patch * channels.
typedef struct {
    float *patch_w;  // (C, PPC)   "patch_embed.weight"   decay 1, xavier-uniform
    float *patch_b;  // (C)        "patch_embed.bias"     decay 0, 0
    float *pos;      // (Ti, C)    "pos_embed"            decay 0, 2-D sin-cos
    float *type;     // (3, C)     "type_embed"           decay 0, N(0, 0.02^2); rows target, ref, text
    float *tok;      // (V, C)     "tok_embed.weight"     decay 0, N(0, 0.02^2)
    float *text_pos; // (Lt, C)    "text_pos"             decay 0, N(0, 0.02^2)
    float *t_w1;     // (C, tdim)  "t_embed.fc1.weight"   decay 1, xavier-uniform
    float *t_b1;     // (C)        "t_embed.fc1.bias"     decay 0, 0
    float *t_w2;     // (C, C)     "t_embed.fc2.weight"   decay 1, xavier-uniform
    float *t_b2;     // (C)        "t_embed.fc2.bias"     decay 0, 0
    DiTBlockWeights *blocks; // (L) "blocks.<l>."         see dit_block.h
    float *f_ada_w;  // (2C, C)    "final.ada.weight"     decay 1, 0 (adaLN-Zero)
    float *f_ada_b;  // (2C)       "final.ada.bias"       decay 0, 0
    float *f_w;      // (PPC, C)   "final.linear.weight"  decay 1, 0
    float *f_b;      // (PPC)      "final.linear.bias"    decay 0, 0
} DiTWeights;

// Everything forward saves for backward, for up to max_B samples. (B, ...) shapes use the B of
// the forward call; every buffer has room for max_B.
typedef struct {
    float *patches;        // (B, 2 Ti, PPC)  patchified [x_t | ref], input of patch_embed
    float *ptok;           // (B, 2 Ti, C)    patch_embed output (work; backward reuses it)
    float *txt;            // (B, Lt, C)      token embeddings (work; backward reuses it)
    int *tokens;           // (B, Lt)         the token ids of the forward (PAD when none given)
    unsigned char *mask;   // (B, T)          key mask
    float *tval;           // (B)             DIT_TIME_SCALE * sigma
    float *temb;           // (B, tdim)       sinusoidal embedding
    float *t_h;            // (B, C)          fc1 output
    float *t_s;            // (B, C)          silu(t_h)
    float *c;              // (B, C)          conditioning
    float *xs;             // (L + 1, B, T, C) residual stream: xs[0] the embedded sequence,
                           //                  xs[l + 1] the output of block l (stride max_B T C)
    DiTBlockActs *blocks;  // (L)
    float *xf;             // (B, Ti, C)      target tokens of xs[L]
    float *lnf;            // (B, Ti, C)      layernorm(xf)
    float *lnf_mean;       // (B, Ti)
    float *lnf_rstd;       // (B, Ti)
    float *f_silu;         // (B, C)          silu(c)
    float *f_mod;          // (B, 2C)         [shift scale]
    float *hf;             // (B, Ti, C)      modulated lnf, input of final.linear
    float *out_tok;        // (B, Ti, PPC)    final.linear output
} DiTActs;

typedef struct {
    DiTConfig cfg;
    int max_B;
    ParamTable table;
    float *params, *grads;   // (table.total) each
    float *adam_m, *adam_v;  // (table.total) each, zeroed by dit_create, for adamw_step
    DiTWeights w, g;         // views into params and grads
    DiTActs acts;
    // backward work (max_B)
    float *block_scratch;        // dit_block_scratch_floats(max_B, T, C, NH)
    float *dxa, *dxb;            // (B, T, C) gradient of the residual stream, ping-pong
    float *dc;                   // (B, C)    gradient of c
    float *dfmod;                // (B, 2C)   gradient of f_mod
    float *dfsilu, *dts, *dth;   // (B, C)    gradients of f_silu, t_s, t_h
    float *dhf, *dlnf, *dxf;     // (B, Ti, C)
    float *dout_tok;             // (B, Ti, PPC)
    // staging for dit_flow_loss and dit_velocity (max_B samples each)
    float *io_x, *io_ref, *io_target, *io_v, *io_dv; // (B, img, img, CH)
    float *io_sigma;                                 // (B)
    int *io_tokens;                                  // (B, Lt)
    unsigned char *io_drop_ref, *io_drop_txt;        // (B)
    int last_B;   // batch of the last forward (0: none), checked by backward
    // 1 while LoRA adapters are attached (models/dit_lora.h: w.blocks[l].lora point at them): the
    // base is frozen, dit_backward accumulates into the adapters' gradients and leaves grads alone
    int lora_attached;
    // memory: params + grads + moments in one block, activations and work in one 64-byte aligned arena
    float *param_mem;
    void *arena_base;    // as allocated (the arena starts at the next 64-byte boundary)
    size_t arena_bytes;  // dit_activation_bytes(cfg, max_B)
} DiTModel;

// Builds the table and allocates everything for batches of up to max_B (dies on a bad config:
// check user configs with dit_config_check first). Parameters are zero until dit_init or a load.
void dit_create(DiTModel *m, const DiTConfig *cfg, int max_B);
void dit_free(DiTModel *m);
// Bytes of activations and work buffers dit_create allocates for (cfg, max_B): lets a CLI refuse a
// batch that would not fit before creating the model.
size_t dit_activation_bytes(const DiTConfig *cfg, int max_B);
// Deterministic initialization from seed (Philox streams keyed by tensor, so a block's weights do
// not depend on the depth). Zeroes grads and the AdamW moments too.
void dit_init(DiTModel *m, uint64_t seed);
void dit_zero_grad(DiTModel *m); // one memset of the gradient buffer

// v (B, img, img, CH) = velocity at x_t (B, img, img, CH), sigma (B), with reference images
// ref (B, img, img, CH) and prompt tokens (B, Lt) in [0, V). ref == NULL means no reference for
// any sample (as if drop_ref were all 1); tokens == NULL means an empty prompt. drop_ref and
// drop_txt (B) may be NULL (nothing dropped). 1 <= B <= max_B. Saves the activations for
// dit_backward. v must not alias the inputs.
void dit_forward(DiTModel *m, float *v, const float *x_t, const float *sigma, const float *ref,
                 const int *tokens, const unsigned char *drop_ref, const unsigned char *drop_txt, int B);
// Accumulates (+=) into m->grads the gradient of sum(v * dv) for the activations of the last
// forward (which must have had the same B). Gradients with respect to the images are not formed.
// With LoRA adapters attached, into the adapters' gradients only (models/dit_lora.h).
void dit_backward(DiTModel *m, const float *dv, int B);

// The pretraining step's core: x_t = (1 - s) x0 + s e, target e - x0, loss = mean over all
// B * img * img * CH values of (v - target)^2; forward + backward (accumulating into m->grads).
// x0, noise (B, img, img, CH); sigma (B); the rest as in dit_forward. Returns the loss.
float dit_flow_loss(DiTModel *m, const float *x0, const float *noise, const float *sigma,
                    const float *ref, const int *tokens, const unsigned char *drop_ref,
                    const unsigned char *drop_txt, int B);

// ---- the sampler's model callback (flow/sampler.h) -------------------------------------------------

// ctx of dit_velocity: guidance with flow_cfg2, v = v_none + s_ref (v_ref - v_none) +
// s_txt (v_full - v_ref). With s_ref = s_txt = 1 one forward of B samples (full condition);
// otherwise ONE forward of 3B samples [none | ref only | full], so max_B must be >= 3B.
typedef struct {
    DiTModel *model;
    const float *ref;   // (B, img, img, CH) or NULL (no reference)
    const int *tokens;  // (B, Lt) or NULL (empty prompt)
    float s_ref, s_txt; // guidance scales
} DiTVelocity;

// Matches flow_velocity_fn: ctx is a DiTVelocity*. step is unused.
void dit_velocity(void *ctx, float *v, const float *x, float sigma, int step, int B);
// Backward of the last dit_velocity call (the trainer's log-prob gradient): accumulates into the
// model's grads the gradient of sum(v * dv), dv (B, img, img, CH), through the guidance.
void dit_velocity_backward(DiTVelocity *ctx, const float *dv, int B);

// ---- saved forwards --------------------------------------------------------------------------------

// A second home for what one forward saves for backward, for up to the model's max_B rows. The
// GRPO trainer keeps the rollout's forwards of the steps it will train in such sets and runs the
// update's backward on them instead of recomputing the forward (rl/forward_cache.h):
//   dit_acts_swap(m, &s); dit_velocity(...);  dit_acts_swap(m, &s);   // forward kept in s
//   ...                                                               // other forwards
//   dit_acts_swap(m, &s); dit_velocity_backward(...); dit_acts_swap(m, &s);
// Only the activations move (pointers are exchanged, nothing is copied): the backward work and the
// staging buffers stay the model's. A backward leaves the set usable for another backward.
typedef struct {
    DiTActs acts;
    int last_B;        // batch of the forward held (0: none)
    DiTConfig cfg;     // the model shape it was made for
    int max_B;
    size_t bytes;      // dit_saved_acts_bytes(cfg, max_B)
    void *mem;
} DiTSavedActs;

// Bytes one set holds for (cfg, max_B): the activations part of dit_activation_bytes.
size_t dit_saved_acts_bytes(const DiTConfig *cfg, int max_B);
void dit_saved_acts_create(DiTSavedActs *s, const DiTModel *m); // for m's cfg and max_B; zeroed
void dit_saved_acts_free(DiTSavedActs *s);
// Exchanges the model's live activations (and the batch of its last forward) with s's. Dies when s
// was made for another model shape.
void dit_acts_swap(DiTModel *m, DiTSavedActs *s);

// ---- files ------------------------------------------------------------------------------------------

// The shipped model format: the weights under their plain table names (F32), the config as
// metadata (dit_config_to_meta) plus the caller's extra keys (extra may be NULL). Atomic.
int dit_save(const DiTModel *m, const char *path, const CkptMeta *extra, char *err, size_t errlen);
// Creates *m (dit_create with max_B) FROM the file's config metadata and loads the weights.
// On failure *m is left unallocated (nothing to free) and err says why.
int dit_load(const char *path, DiTModel *m, int max_B, char *err, size_t errlen);
// The same for the weights stored under `prefix` in a larger checkpoint (e.g. "ema." in a training
// checkpoint that also holds "model.", "adam_m.", ...); the other tensors are ignored.
int dit_load_section(const char *path, const char *prefix, DiTModel *m, int max_B, char *err,
                     size_t errlen);
// A generator from any file cgrpo writes: a model file (plain names), a pretraining checkpoint (its
// EMA weights, "ema.") or a GRPO checkpoint (its policy, "model."), told apart by the tensors the
// file holds. *weights (when not NULL) names which: "model", "ema" or "policy".
int dit_load_any(const char *path, DiTModel *m, int max_B, const char **weights, char *err, size_t errlen);

#endif
