// advantage.h: GRPO group advantages with reward shaping (docs/design.md).
//
// One group = G samples drawn for the same (subject, prompt); each is scored by R rewards.
// Reward index convention (columns of every (G, R) array here):
//   0 = identity (ADV_REWARD_ID: identity-encoder cosine x 100 against the segmented reference)
//   1 = prompt   (ADV_REWARD_PROMPT: image-text score)
//   2.. = extra rewards, naive shaping only.
// (The paper's code stores them the other way round: column 0 = HPS/CLIP (prompt), 1 = DINO.)
//
// 1. Per-reward group z-scores: z[g][k] = (r[g][k] - mean_k) / (std_k + 1e-8), std_k the unbiased
//    (n - 1) standard deviation over the group (torch's default .std(), as the paper's code uses).
//    A reward that is equal across the whole group gives z = 0 exactly for it (no NaN, no noise).
// 2. Shaping (A_id = z[0], A_pr = z[1]; w_id(t), w_pr(t) from weighting.h, static or TDW):
//    naive    A = sum_k w_k z[k]   (w_0 = w_id, w_1 = w_pr, w_k = w_extra[k - 2]); no bonus
//    sars     A = w_pr A_pr + w_id A_id + b,  p = A_pr A_id,
//               b = +gamma tanh(p) if A_pr > 0 or A_id > 0, else -gamma tanh(p)
//             (both positive: b > 0; conflict: p < 0 so b < 0; both negative: p > 0, b < 0)
//    harmonic A = w_pr A_pr + w_id A_id + gamma A_pr A_id / (A_pr + A_id + 1e-6)
//             (the harmonic term REPLACES the tanh bonus; no sign switch. Our one guard: where
//              the denominator is exactly 0 the term is 0 instead of Inf/NaN.)
//    min      A = min(A_pr, A_id)   the WHOLE advantage: no weights (static or TDW), no bonus
//    max      A = max(A_pr, A_id)   likewise
// 3. Clamp A to [-clamp, clamp] (5).
//
// Where this comes from: the paper's public code, Safeoffellow/Customized-GRPO,
// train/train_customized_grpo.py (train_one_step), read for facts and constants only:
//   - z-scores per reward and group with `(r - r.mean()) / (r.std() + 1e-8)` (unbiased std);
//   - conflict_strategy "tanh" (SARS): bonus as above, then advantage = clip_adv * clip_weight +
//     dino_adv * dino_weight + bonus, the weights from get_weights_sigmoid_final (TDW,
//     weight_strategy "dynamic") or the fixed clip_weight / dino_weight ("fix");
//   - "harmonic": bonus = gamma * (clip_adv * dino_adv) / (clip_adv + dino_adv + 1e-6), added to the
//     same weighted sum;
//   - "min" / "max": advantage = torch.min / torch.max(clip_adv, dino_adv), no weights, no bonus;
//   - torch.clamp(advantage, -adv_clip_max, adv_clip_max) with adv_clip_max = 5.0;
//   - config/train/syncd_1w_customized_grpo.yaml: gamma 0.4, conflict_strategy tanh,
//     weight_strategy dynamic, sampling_steps 25, num_generations 12, timestep_fraction 0.6
//     (the dataclass default gamma is 0.5; the published run uses 0.4, so do we).
//   There is no "naive" branch in that code: naive is the weighted sum without a bonus, the
//   baseline of the paper's tables (1:1 and 1:1.5 as id:prompt).
//
// Precision: rewards and advantages are float (what the trainer stores); the group statistics and
// the shaping are computed in double.
#ifndef CGRPO_ADVANTAGE_H
#define CGRPO_ADVANTAGE_H

#include <stddef.h>

#include "rl/weighting.h"

#define ADV_REWARD_ID 0
#define ADV_REWARD_PROMPT 1
#define ADV_MAX_REWARDS 8
#define ADV_STD_EPS 1e-8      // added to the group std
#define ADV_HARMONIC_EPS 1e-6 // added to A_pr + A_id in the harmonic term

typedef enum {
    SHAPING_NAIVE = 0,
    SHAPING_SARS = 1,
    SHAPING_HARMONIC = 2,
    SHAPING_MIN = 3,
    SHAPING_MAX = 4,
} ShapingKind;

typedef struct {
    ShapingKind shaping;     // default SHAPING_SARS
    WeightingKind weighting; // default WEIGHTING_TDW; ignored by min / max
    int n_rewards;           // R, default 2; only naive accepts R > 2 (with static weighting)
    double gamma;            // bonus scale of sars / harmonic, default 0.4
    double w_id, w_prompt;   // static weights, default 0.5 / 0.5 (paper baseline 1:1.5 = 0.4 / 0.6)
    double w_extra[ADV_MAX_REWARDS - 2]; // static weights of rewards 2..R-1 (naive), default 0
    double clamp;            // advantages are clamped to [-clamp, clamp], default 5; must be > 0
} AdvConfig;

AdvConfig adv_config_default(void);
// 0 if cfg is usable, else -1 with a reason: R out of [1, ADV_MAX_REWARDS]; sars / harmonic /
// min / max with R != 2; TDW with R != 2; a non-finite weight / gamma; clamp <= 0 or NaN.
int adv_config_check(const AdvConfig *cfg, char *err, size_t errlen);

// "naive" "sars" "harmonic" "min" "max"  <->  ShapingKind (parse returns 0, or -1 if unknown)
const char *shaping_name(ShapingKind kind);
int shaping_parse(const char *name, ShapingKind *kind);

// z (G, R) <- per-reward group z-scores of rewards (G, R). G >= 2, 1 <= R <= ADV_MAX_REWARDS.
// Returns 0, or -1 with a reason (too few samples, a NaN or infinite reward naming its sample and
// reward index); z is then unspecified.
int adv_group_zscores(float *z, const float *rewards, int G, int R, char *err, size_t errlen);

// The shaped, clamped advantage of one sample at `step` of an n_steps schedule.
// z (R) is that sample's z-scores (row of adv_group_zscores). cfg must pass adv_config_check
// (dies otherwise: a bug). NaN in z comes out as NaN (never hidden by the clamp).
float advantage_at(const AdvConfig *cfg, const float *z, int step, int n_steps);

// The whole group at once, exactly what the trainer uses:
// z (G, R) <- z-scores of rewards (G, R), R = cfg->n_rewards; adv (G, n_steps) <- advantage_at
// for every sample and step. Returns 0, or -1 with a reason (bad config, G < 2, n_steps < 1,
// a non-finite reward).
int adv_group_advantages(const AdvConfig *cfg, float *adv, float *z, const float *rewards, int G,
                         int n_steps, char *err, size_t errlen);

// The two bonus terms on their own (double in, double out), for tests and diagnostics.
double sars_bonus(double a_id, double a_pr, double gamma);
double harmonic_bonus(double a_id, double a_pr, double gamma);

// Quadrant of a sample in the (A_id, A_pr) plane, for the trainer's diagnostics (the paper
// reports about 50% of samples in conflict).
typedef enum {
    ADV_Q_BOTH_POS = 0, // A_id > 0 and A_pr > 0
    ADV_Q_CONFLICT = 1, // one > 0, the other < 0
    ADV_Q_BOTH_NEG = 2, // A_id < 0 and A_pr < 0
    ADV_Q_ZERO = 3,     // either is exactly 0 (e.g. a group whose rewards were all equal), or NaN
    ADV_N_QUADRANTS = 4
} AdvQuadrant;

AdvQuadrant adv_quadrant(float a_id, float a_pr);
const char *adv_quadrant_name(AdvQuadrant q); // "both_pos" "conflict" "both_neg" "zero"
// counts[q] += number of the G samples of z (G, R) (R >= 2) in quadrant q
void adv_quadrant_counts(int counts[ADV_N_QUADRANTS], const float *z, int G, int R);

#endif
