// grpo.c: the clipped GRPO policy loss of one group at one step and its backward. See grpo.h.
#include "rl/grpo.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

void grpo_stats_init(GrpoStats *s) {
    memset(s, 0, sizeof *s);
    s->ratio_min = INFINITY;
    s->ratio_max = -INFINITY;
}

void grpo_stats_add(GrpoStats *dst, const GrpoStats *src) {
    dst->loss += src->loss;
    dst->policy_loss += src->policy_loss;
    dst->approx_kl += src->approx_kl;
    dst->kl_ref += src->kl_ref;
    if (src->ratio_min < dst->ratio_min) dst->ratio_min = src->ratio_min;
    if (src->ratio_max > dst->ratio_max) dst->ratio_max = src->ratio_max;
    dst->n_clipped += src->n_clipped;
    dst->n_samples += src->n_samples;
}

double grpo_clip_objective(float *dlogp, float *ratio, const float *logp_new, const float *logp_old, const float *adv,
                           int G, double eps, int count, long *n_clipped, double *approx_kl) {
    CG_CHECK(G >= 1 && count >= 1 && eps >= 0.0, "G %d, count %d, eps %g", G, count, eps);
    const double lo = 1.0 - eps, hi = 1.0 + eps;
    double loss = 0.0;
    for (int b = 0; b < G; b++) {
        const double log_r = (double)logp_new[b] - (double)logp_old[b];
        const double r = exp(log_r), A = adv[b];
        const double r_clip = r < lo ? lo : (r > hi ? hi : r);
        const double unclipped = -A * r, clipped = -A * r_clip;
        // max(unclipped, clipped): the clipped term wins only when strictly larger (a NaN r falls
        // through to the unclipped branch and shows in the loss)
        const int clip_wins = clipped > unclipped;
        loss += clip_wins ? clipped : unclipped;
        dlogp[b] = clip_wins ? 0.0f : (float)(-A * r / (double)count);
        ratio[b] = (float)r;
        if (n_clipped && (r < lo || r > hi)) (*n_clipped)++;
        if (approx_kl) *approx_kl += (r - 1.0) - log_r;
    }
    return loss / (double)count;
}

void grpo_work_alloc(GrpoWork *w, int G, size_t n) {
    CG_CHECK(G >= 1 && n >= 1, "G %d, n %zu", G, n);
    w->G = G;
    w->n = n;
    const size_t Gn = cg_mul_size((size_t)G, n);
    w->v = cg_malloc(Gn * sizeof(float));
    w->v_ref = cg_malloc(Gn * sizeof(float));
    w->dv = cg_malloc(Gn * sizeof(float));
    w->logp_new = cg_malloc((size_t)G * sizeof(float));
    w->ratio = cg_malloc((size_t)G * sizeof(float));
    w->dlogp = cg_malloc((size_t)G * sizeof(float));
}

void grpo_work_free(GrpoWork *w) {
    free(w->v), free(w->v_ref), free(w->dv), free(w->logp_new), free(w->ratio), free(w->dlogp);
    memset(w, 0, sizeof *w);
}

// The micro-batch; with saved != NULL the policy's forward is the one saved there (velocity v_saved).
static double group_step(GrpoStats *st, GrpoWork *w, DiTVelocity *policy, DiTVelocity *reference,
                         DiTSavedActs *saved, const float *v_saved, const flow_step_coef *c, const float *x,
                         const float *x_next, const float *logp_old, const float *adv, int count,
                         const GrpoConfig *cfg, int backward) {
    const int G = w->G;
    const size_t n = w->n, Gn = (size_t)G * n;
    CG_CHECK(dit_image_floats(&policy->model->cfg) == n, "GRPO work for %zu floats per image, model has %zu", n,
             dit_image_floats(&policy->model->cfg));
    CG_CHECK(c->has_logprob, "step %d has no log-prob (ODE or eta = 0): nothing to train", c->step);
    const int use_kl = cfg->kl_beta > 0.0;
    CG_CHECK(!use_kl || reference, "kl_beta = %g needs a reference model", cfg->kl_beta);
    const float sigma = (float)c->s; // exactly sigmas[c->step]

    // 1. the policy's velocity with the rollout's layout, the new log-prob, the clipped objective
    if (saved)
        memcpy(w->v, v_saved, Gn * sizeof(float));
    else
        dit_velocity(policy, w->v, x, sigma, c->step, G);
    flow_step_logprob(w->logp_new, x, w->v, x_next, c, G, n);
    const double policy_loss = grpo_clip_objective(w->dlogp, w->ratio, w->logp_new, logp_old, adv, G, cfg->clip_eps,
                                                   count, &st->n_clipped, &st->approx_kl);

    // 2. the KL to the reference policy: both steps are Gaussians with the same std around
    //    means that differ by cv (v - v_ref)
    double kl_sum = 0.0;
    if (use_kl) {
        dit_velocity(reference, w->v_ref, x, sigma, c->step, G);
        const double k = c->cv * c->cv / (2.0 * c->std * c->std);
        for (int b = 0; b < G; b++) {
            const float *vb = w->v + (size_t)b * n, *rb = w->v_ref + (size_t)b * n;
            double ss = 0.0;
            for (size_t j = 0; j < n; j++) {
                const double d = (double)vb[j] - (double)rb[j];
                ss += d * d;
            }
            kl_sum += k * ss / (double)n;
        }
    }
    const double loss = policy_loss + cfg->kl_beta * kl_sum / (double)count;

    st->loss += loss;
    st->policy_loss += policy_loss;
    st->kl_ref += kl_sum;
    st->n_samples += G;
    for (int b = 0; b < G; b++) {
        if (w->ratio[b] < st->ratio_min) st->ratio_min = w->ratio[b];
        if (w->ratio[b] > st->ratio_max) st->ratio_max = w->ratio[b];
    }

    // 3. backward: dlogp -> dv (+ the KL's dv) -> the model's parameters
    if (backward) {
        memset(w->dv, 0, Gn * sizeof(float));
        flow_step_logprob_backward(w->dv, w->dlogp, x, w->v, x_next, c, G, n);
        if (use_kl) {
            const double s = cfg->kl_beta / (double)count * c->cv * c->cv / ((double)n * c->std * c->std);
            for (size_t j = 0; j < Gn; j++) w->dv[j] += (float)(s * ((double)w->v[j] - (double)w->v_ref[j]));
        }
        if (saved) dit_acts_swap(policy->model, saved);
        dit_velocity_backward(policy, w->dv, G);
        if (saved) dit_acts_swap(policy->model, saved);
    }
    return loss;
}

double grpo_group_step(GrpoStats *st, GrpoWork *w, DiTVelocity *policy, DiTVelocity *reference,
                       const flow_step_coef *c, const float *x, const float *x_next, const float *logp_old,
                       const float *adv, int count, const GrpoConfig *cfg, int backward) {
    return group_step(st, w, policy, reference, NULL, NULL, c, x, x_next, logp_old, adv, count, cfg, backward);
}

double grpo_group_step_saved(GrpoStats *st, GrpoWork *w, DiTVelocity *policy, DiTVelocity *reference,
                             DiTSavedActs *saved, const float *v_saved, const flow_step_coef *c, const float *x,
                             const float *x_next, const float *logp_old, const float *adv, int count,
                             const GrpoConfig *cfg, int backward) {
    CG_CHECK(saved && v_saved, "grpo_group_step_saved without a saved forward");
    return group_step(st, w, policy, reference, saved, v_saved, c, x, x_next, logp_old, adv, count, cfg, backward);
}
