// grpo.h: the clipped GRPO policy loss of one group at one denoising step, and its backward into
// the generator (docs/design.md, "The policy loss").
//
// One micro-batch = the G samples of one group at step i (the rollout's batch layout, see
// rl/rollout.h). With the policy's velocity v recomputed at (x_i, sigma_i) for the group:
//   logp_new_b = flow_step_logprob(x_i, v, x_{i+1})_b          (flow/sampler.h; per-pixel mean)
//   r_b        = exp(logp_new_b - logp_old_b)                  (in double)
//   loss       = (1 / count) sum_b max(-A_b r_b, -A_b clip(r_b, 1 - eps, 1 + eps))
//              + beta (1 / count) sum_b KL_b
//   KL_b       = mean_j (mu_new - mu_ref)_j^2 / (2 std^2)       (optional; beta = 0 by default)
//              = mean_j (cv (v - v_ref))_j^2 / (2 std^2)      (x is shared, mean = cx x + cv v)
// `count` is the number of samples whose losses the optimizer step averages (G times the number
// of micro-batches accumulated into it), so an accumulated optimizer step sees the MEAN loss over
// its samples, whatever the accumulation.
//
// Gradient of the clipped term with respect to logp_new_b:
//   -A_b r_b / count  where the unclipped term is the larger (ties included: inside the clip
//                     range both terms are equal and their gradients agree),
//   0                 where the clipped term is larger: r > 1 + eps with A > 0, or r < 1 - eps
//                     with A < 0 (PPO's pessimistic bound stops pushing further).
// So with unchanged weights (r = 1 exactly, see below) the gradient is exactly
// -(1 / count) sum_b A_b d logp_b / d theta, the advantage-weighted score function.
// Backward: dlogp -> flow_step_logprob_backward -> dv (+ the KL term's
// beta / count * cv^2 (v - v_ref) / (n std^2)) -> dit_velocity_backward (guidance included).
//
// Bit-exactness: flow_step_logprob runs the same instructions as the rollout's flow_step, and the
// velocity is recomputed with the rollout's layout (G rows, or 3G with guidance), so with the
// rollout's weights logp_new == logp_old bit for bit and r = exp(0) = 1 exactly.
//
// Diagnostics per micro-batch (GrpoStats, accumulated with +=):
//   n_clipped  samples with r outside [1 - eps, 1 + eps] (PPO's clip fraction = n_clipped / n)
//   approx_kl  the k3 estimator of KL(old || new) per sample, (r - 1) - log r >= 0, summed
//              (Schulman's "approximating KL divergence"; on the per-pixel-mean log-prob scale)
//   kl_ref     KL_b summed (0 without a reference)
#ifndef CGRPO_RL_GRPO_H
#define CGRPO_RL_GRPO_H

#include <stddef.h>

#include "flow/sampler.h"
#include "models/dit.h"

typedef struct {
    double clip_eps; // PPO clip range eps (1e-4 in the paper)
    double kl_beta;  // weight of the KL to the reference policy (0: none)
} GrpoConfig;

typedef struct {
    double loss;      // sum of the micro-batches' loss contributions (already scaled by 1 / count)
    double policy_loss; // the clipped term alone, likewise
    double approx_kl; // sum over samples of (r - 1) - log r
    double kl_ref;    // sum over samples of KL_b (unweighted)
    double ratio_min, ratio_max; // over the samples seen (initialize with grpo_stats_init)
    long n_clipped, n_samples;
} GrpoStats;

void grpo_stats_init(GrpoStats *s);
// dst += src: the sums added, the ratio range widened.
void grpo_stats_add(GrpoStats *dst, const GrpoStats *src);

// The clipped objective alone, for G samples (no model): returns the loss
// (1 / count) sum_b max(-A_b r_b, -A_b clip(r_b)); writes ratio (G) and dlogp (G) = d loss /
// d logp_new (see the header comment); *n_clipped += samples outside the clip range;
// *approx_kl += sum of (r - 1) - log r. count >= 1. n_clipped and approx_kl may be NULL.
double grpo_clip_objective(float *dlogp, float *ratio, const float *logp_new, const float *logp_old, const float *adv,
                           int G, double eps, int count, long *n_clipped, double *approx_kl);

// Scratch for one group (allocated once for G samples of n floats).
typedef struct {
    int G;
    size_t n;
    float *v, *v_ref, *dv;           // (G, n)
    float *logp_new, *ratio, *dlogp; // (G)
} GrpoWork;

void grpo_work_alloc(GrpoWork *w, int G, size_t n);
void grpo_work_free(GrpoWork *w);

// One micro-batch. policy: the group's DiTVelocity (model, the G rows' reference images and
// tokens, guidance scales as in the rollout); reference: the same with the frozen reference model,
// or NULL (required when cfg->kl_beta > 0). c: the step's coefficients (flow_step_coef_make with
// the rollout's kind, sigmas and eta; the model sees sigma = (float)c->s = sigmas[c->step]).
// x, x_next (G, n) = x_i, x_{i+1} of the rollout; logp_old (G) its log-probs; adv (G) the advantages at this step.
// Leaves logp_new, ratio and dlogp in w, adds to *st, and with backward != 0 accumulates the
// gradient of the micro-batch's loss into policy->model->grads. Returns the micro-batch's loss.
double grpo_group_step(GrpoStats *st, GrpoWork *w, DiTVelocity *policy, DiTVelocity *reference,
                       const flow_step_coef *c, const float *x, const float *x_next, const float *logp_old,
                       const float *adv, int count, const GrpoConfig *cfg, int backward);
// The same micro-batch when the policy's forward at (x, sigma) with the rollout's layout is already
// done: v_saved (G, n) is the velocity it returned and `saved` holds its activations (the rollout's
// own forward at unchanged weights, rl/forward_cache.h). The forward is not rerun; the backward
// runs on `saved`. Bit-identical to grpo_group_step when the saved forward is the one it would run.
double grpo_group_step_saved(GrpoStats *st, GrpoWork *w, DiTVelocity *policy, DiTVelocity *reference,
                             DiTSavedActs *saved, const float *v_saved, const flow_step_coef *c, const float *x,
                             const float *x_next, const float *logp_old, const float *adv, int count,
                             const GrpoConfig *cfg, int backward);

#endif
