// rollout.h: GRPO rollouts (docs/design.md): P (subject, prompt) pairs per iteration from the
// TRAIN subjects, and for each pair a group of G images drawn with the SDE sampler, every
// transition x_i -> x_{i+1} and its log-prob recorded for the policy update (rl/grpo.h).
//
// Randomness: pure functions of explicit (seed, iteration, pair) streams (core/rng.h), so a
// resumed run redraws exactly what an uninterrupted one draws, whatever the thread count:
//   pair p's draws  stream cg_rng_stream(ROLLOUT_STREAM_PAIRS, iteration, p), in this order:
//                   subject (uniform over the split), template (uniform over the 25 DreamBench
//                   templates of the subject's kind), reference pose (uniform over [0, ref_poses))
//   group p's noise flow_sampler stream cg_rng_stream(ROLLOUT_STREAM_NOISE, iteration, p): the
//                   initial noise (with shared_noise every sample of the group starts from the
//                   same noise, GRPO's default) and the noise of every SDE step (flow/sampler.h)
//
// Batch layout: group p is sampled by flow_sample as ONE batch of G samples, so the model sees G
// rows per forward (3G with guidance, laid out by dit_velocity as [none | ref only | full]). A
// sample's forward is bit-exact only for the same layout (nn/layers.c), so the trainer recomputes
// log-probs group by group, one step at a time, with exactly this layout (grpo.h): with unchanged
// weights the ratio is then exactly 1.
//
// Inputs of every row (what the generator and the rewards read), images HWC in [-1, 1]:
//   ref      the subject's plain reference photo `pose` (the generator's condition, as in pretraining)
//   ref_seg  the same photo segmented (background replaced by the neutral fill): the identity
//            reward's reference ("DINO-Seg")
//   tokens   the prompt's ids padded to TOK_MAX_TOKENS (rewards); the model reads the first
//            text_len of them (rollout_fill_inputs refuses a prompt that does not fit)
// Rows of group p are p * G .. p * G + G - 1; the G rows of a group share their inputs.
#ifndef CGRPO_RL_ROLLOUT_H
#define CGRPO_RL_ROLLOUT_H

#include <stddef.h>
#include <stdint.h>

#include "flow/sampler.h"
#include "models/dit.h"
#include "rl/forward_cache.h"
#include "world/prompts.h"
#include "world/tokenizer.h"
#include "world/world.h"

#define ROLLOUT_STREAM_PAIRS 0x524f4c4c00000001ull // "ROLL" 1: pair draws
#define ROLLOUT_STREAM_NOISE 0x524f4c4c00000002ull // "ROLL" 2: a group's trajectory noise

typedef struct {
    flow_kind kind;   // FLOW_SDE_DANCE (default) or FLOW_SDE_FLOW; ODE has no log-prob
    float eta;        // the SDE's noise level (> 0)
    int shared_noise; // 1: the G samples of a group start from the same noise
    int n_steps;      // N, denoising steps
    float shift;      // time shift of the sigma schedule (flow/schedule.h)
    float s_ref, s_txt; // guidance scales (dit_velocity); 1 1 = no guidance, one forward of G
    int group_size;   // G >= 2
    int ref_poses;    // reference pose drawn from [0, ref_poses)
} RolloutConfig;

// dance, eta 0.4, shared noise, 16 steps, shift 3, no guidance, G 8, 6 poses
RolloutConfig rollout_config_default(void);
// 0, or -1 with a one-line reason naming the field.
int rollout_config_check(const RolloutConfig *c, char *err, size_t errlen);
// Model rows per group forward: G, or 3G with guidance (the policy needs max_B >= this).
int rollout_model_rows(const RolloutConfig *c);

typedef struct {
    int split;          // SPLIT_TRAIN for rollouts (the sample grids use VAL subjects)
    int subject;        // index within the split
    int template_index; // 0..24
    int pose;           // reference photo index
} RolloutPair;

// Pair p of `iteration` from the TRAIN split (pure).
void rollout_draw_pair(RolloutPair *pair, uint64_t seed, uint64_t iteration, int p, int ref_poses);

typedef struct {
    int P, G, N, S, text_len; // pairs, group size, steps, image side, model prompt tokens
    size_t n;                 // floats per image: S * S * 3
    RolloutPair *pairs;       // (P)
    Prompt *prompts;          // (P * G) row r: the prompt of pair r / G
    const Subject **subjects; // (P * G)
    int *tokens;              // (P * G, TOK_MAX_TOKENS) reward tokens
    int *model_tokens;        // (P * G, text_len) the model's tokens
    float *ref;               // (P * G, n) plain reference
    float *ref_seg;           // (P * G, n) segmented reference
    float *traj;              // (P, N + 1, G, n) traj of group p: x_0 (noise) .. x_N (the image)
    float *logprobs;          // (P, N, G) log-prob of transition i of each sample
    float *images;            // (P * G, n) the final samples x_N, contiguous for the rewards
} RolloutBatch;

// img (S) and text_len from the model config. P >= 1, G >= 1, N >= 1.
void rollout_batch_alloc(RolloutBatch *rb, int P, int G, int N, int S, int text_len);
void rollout_batch_free(RolloutBatch *rb);

// x_i of group p, (G, n)
float *rollout_x(const RolloutBatch *rb, int p, int i);
// log-probs of transition i of group p, (G)
float *rollout_logp(const RolloutBatch *rb, int p, int i);

// Fill the inputs of every row from pairs (P) (rendered in parallel over pairs; pure). Returns
// 0, or -1 with a reason when a prompt does not fit the model's text_len.
int rollout_fill_inputs(RolloutBatch *rb, const World *w, const RolloutPair *pairs, char *err, size_t errlen);

// Sample every group with the policy: group p from stream cg_rng_stream(ROLLOUT_STREAM_NOISE,
// iteration, p) under `seed`, writing traj, logprobs and images. sigmas (N + 1). The model must
// have max_B >= rollout_model_rows(c). c->kind may be FLOW_ODE here (previews: no log-probs).
// fc (may be NULL): the forwards it plans are kept there for the update (rl/forward_cache.h);
// the samples are the same either way.
void rollout_sample(RolloutBatch *rb, DiTModel *m, const RolloutConfig *c, const float *sigmas, uint64_t seed,
                    uint64_t iteration, ForwardCache *fc);
// The same for groups [p0, p1) only (a rank's block under MPI): each group's samples do not depend
// on which other groups are sampled.
void rollout_sample_groups(RolloutBatch *rb, DiTModel *m, const RolloutConfig *c, const float *sigmas, uint64_t seed,
                           uint64_t iteration, ForwardCache *fc, int p0, int p1);

#endif
