// weighting.h: how much the identity reward and the prompt reward count at each denoising step
// (docs/design.md): static weights, or Time-Dependent Weighting (TDW).
//
// TDW, as in the paper's public code (Safeoffellow/Customized-GRPO,
// train/train_customized_grpo.py, get_weights_sigmoid_final), on a 25-step scale, t = 0 the
// noisiest step:
//   w_pr(t) = 0.7                                        t < 6    (layout: favour the prompt)
//           = 0.3 + 0.4 (1 - sigmoid(0.8 (t - 10)))      6 <= t < 22  (center (6 + 14) / 2 = 10)
//           = 0.5                                        t >= 22  (final details: balanced)
//   w_id(t) = 1 - w_pr(t)
// ("HPS" in that code is the prompt reward, "DINO" the identity reward.) Values: w_pr(6) =
// 0.3 + 0.4 (1 - sigmoid(-3.2)) = 0.68433 (a small step down from 0.7), w_pr(10) = 0.5 exactly,
// w_pr(14) = 0.31567, w_pr(21) = 0.30006, then a jump up to 0.5 at t = 22 (the sigmoid branch
// would give 0.30003 there). We keep the published shape as is, jumps included.
//
// The step index we use is the TRUE index of the transition being trained. The paper's code,
// with its published config (training_strategy: all, timestep_fraction 0.6, 25 steps), shuffles
// each trajectory's steps and then calls get_weights_sigmoid_final(_) with `_` the loop counter
// over the first int(24 * 0.6) = 14 shuffled positions, so its weight never follows the real
// noise level (and never reaches t >= 14). In its "part" (MixGRPO) strategy the counter is the
// true index. The original design notes chose the true index; so do we (docs/design.md).
//
// Schedules with N != 25 steps: step i of N covers the fraction [i/N, (i+1)/N] of the
// trajectory; we evaluate TDW at the 25-step index holding that interval's midpoint:
//   j = floor((i + 0.5) * 25 / N)  = ((2 i + 1) * 25) / (2 N) in integer arithmetic,
// which is the identity for N = 25 and always lies in [0, 24].
//   N = 10: i 0..9  -> j 1 3 6 8 11 13 16 18 21 23
//   N = 50: i 0..49 -> j 0 0 1 1 2 2 ... 24 24  (j = (2 i + 1) / 4)
#ifndef CGRPO_WEIGHTING_H
#define CGRPO_WEIGHTING_H

#define TDW_N_STEPS 25 // the scale the TDW constants were written for

typedef enum { WEIGHTING_STATIC = 0, WEIGHTING_TDW = 1 } WeightingKind;

// "static" / "tdw"; NULL for an unknown value
const char *weighting_name(WeightingKind kind);
// parses "static" / "tdw" into *kind; returns 0, or -1 for anything else
int weighting_parse(const char *name, WeightingKind *kind);

// step in [0, n_steps) of an n_steps schedule -> index on the 25-step TDW scale, [0, 24].
// A step out of range is a bug (dies).
int tdw_map_step(int step, int n_steps);

// TDW prompt weight w_pr(t) at a 25-step index t (any int; t < 6 and t >= 22 are the flat parts).
double tdw_prompt_weight(int t25);

// The (identity, prompt) weights at `step` of an n_steps schedule.
// STATIC: (w_id_static, w_pr_static) whatever the step. TDW: (1 - w_pr(j), w_pr(j)) with
// j = tdw_map_step(step, n_steps); the static values are ignored.
void weighting_id_prompt(WeightingKind kind, double w_id_static, double w_pr_static, int step,
                         int n_steps, double *w_id, double *w_pr);

#endif
