// sampler.c: ODE / SDE steps with log-probs, CFG, and the sampling loop (see sampler.h).
#include "flow/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"

#define LOG_SQRT_2PI 0.91893853320467274178 // log(sqrt(2 pi))
#define PAR_MIN_ELEMS 65536                 // below this, OpenMP costs more than it saves

#if defined(__GNUC__)
#define FLOW_NOINLINE __attribute__((noinline))
#else
#define FLOW_NOINLINE
#endif

const char *flow_kind_name(flow_kind kind) {
    switch (kind) {
    case FLOW_ODE: return "ode";
    case FLOW_SDE_DANCE: return "dance";
    case FLOW_SDE_FLOW: return "flow";
    }
    return "?";
}

int flow_kind_parse(const char *name, flow_kind *kind, char *err, size_t errlen) {
    static const flow_kind kinds[] = {FLOW_ODE, FLOW_SDE_DANCE, FLOW_SDE_FLOW};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
        if (name && strcmp(name, flow_kind_name(kinds[k])) == 0) {
            *kind = kinds[k];
            return 0;
        }
    return cg_errf(err, errlen, "unknown sampler '%s' (expected ode, dance or flow)", name ? name : "");
}

float flow_kind_default_eta(flow_kind kind) {
    return kind == FLOW_SDE_DANCE ? FLOW_DANCE_ETA : kind == FLOW_SDE_FLOW ? FLOW_FLOW_ETA : 0.0f;
}

flow_step_coef flow_step_coef_make(flow_kind kind, const float *sigmas, int N, int i, float eta) {
    CG_CHECK(i >= 0 && i < N, "step %d of %d", i, N);
    CG_CHECK(kind == FLOW_ODE || kind == FLOW_SDE_DANCE || kind == FLOW_SDE_FLOW, "sampler kind %d", (int)kind);
    flow_step_coef c;
    memset(&c, 0, sizeof(c));
    c.kind = kind;
    c.step = i;
    c.s = sigmas[i];
    c.s_next = sigmas[i + 1];
    c.dS = c.s_next - c.s;
    CG_CHECK(c.s > 0.0 && c.s <= 1.0 && c.s_next >= 0.0 && c.dS < 0.0,
             "step %d goes from sigma %.9g to %.9g (needs 1 >= s > s' >= 0)", i, c.s, c.s_next);
    if (kind != FLOW_ODE) CG_CHECK(isfinite(eta) && eta >= 0.0f, "eta = %g", (double)eta);

    if (kind == FLOW_SDE_DANCE) {
        c.g = eta;
    } else if (kind == FLOW_SDE_FLOW) {
        // Flow-GRPO: sqrt(s / (1 - s)) a, with 1 - sigmas[1] in place of 1 - s at s == 1; at
        // s == 1 (only step 0 of a decreasing schedule) sigmas[1] is s_next
        double den = c.s == 1.0 ? 1.0 - c.s_next : 1.0 - c.s;
        c.g = (double)eta * sqrt(c.s / den);
    } else {
        c.g = 0.0;
    }
    double g2 = c.g * c.g;
    c.cx = 1.0 + g2 * c.dS / (2.0 * c.s);
    c.cv = c.dS * (1.0 + g2 * (1.0 - c.s) / (2.0 * c.s));
    c.std = c.g * sqrt(-c.dS);
    c.has_logprob = c.std > 0.0;
    return c;
}

static inline double step_mean(const flow_step_coef *c, float x, float v) {
    return c->cx * (double)x + c->cv * (double)v;
}

void flow_step_mean(float *mean, const float *x, const float *v, const flow_step_coef *c, int B,
                    size_t n) {
    size_t total = cg_mul_size((size_t)B, n);
#pragma omp parallel for schedule(static) if (total > PAR_MIN_ELEMS)
    for (size_t k = 0; k < total; k++) mean[k] = (float)step_mean(c, x[k], v[k]);
}

void flow_step_noise(float *e, uint64_t seed, uint64_t stream, int step, int B, size_t n) {
    CG_CHECK(step >= 0 && B >= 0, "step %d, B %d", step, B);
#pragma omp parallel for schedule(static) if ((size_t)B * n > PAR_MIN_ELEMS)
    for (int b = 0; b < B; b++)
        cg_rng_fill_normal(e + (size_t)b * n, n, seed, cg_rng_stream(stream, 1 + (uint64_t)step, (uint64_t)b), 0);
}

// The one implementation of the log-prob. Kept out of line so that the rollout (flow_step) and the
// trainer's recompute run the very same instructions.
static FLOW_NOINLINE void logprob_impl(float *logprob, const float *x, const float *v,
                                       const float *x_next, const flow_step_coef *c, int B, size_t n) {
    if (!c->has_logprob) {
        for (int b = 0; b < B; b++) logprob[b] = 0.0f;
        return;
    }
    double var = c->std * c->std, log_std = log(c->std);
    // one sample per iteration, summed serially: the result never depends on the thread count
#pragma omp parallel for schedule(static) if ((size_t)B * n > PAR_MIN_ELEMS)
    for (int b = 0; b < B; b++) {
        const float *xb = x + (size_t)b * n, *vb = v + (size_t)b * n, *yb = x_next + (size_t)b * n;
        double ss = 0.0;
        for (size_t j = 0; j < n; j++) {
            double d = (double)yb[j] - step_mean(c, xb[j], vb[j]);
            ss += d * d;
        }
        logprob[b] = (float)(-(ss / (double)n) / (2.0 * var) - log_std - LOG_SQRT_2PI);
    }
}

int flow_step_logprob(float *logprob, const float *x, const float *v, const float *x_next,
                      const flow_step_coef *c, int B, size_t n) {
    CG_CHECK(n > 0, "empty samples");
    logprob_impl(logprob, x, v, x_next, c, B, n);
    return c->has_logprob;
}

int flow_step(float *x_next, float *logprob, const float *x, const float *v, const flow_step_coef *c,
              uint64_t seed, uint64_t stream, int B, size_t n) {
    CG_CHECK(x_next != x && x_next != v, "flow_step: x_next must not alias x or v");
    size_t total = cg_mul_size((size_t)B, n);
    if (c->std > 0.0) {
        // the noise goes into x_next first, then becomes mean + std e in place
        flow_step_noise(x_next, seed, stream, c->step, B, n);
        double std = c->std;
#pragma omp parallel for schedule(static) if (total > PAR_MIN_ELEMS)
        for (size_t k = 0; k < total; k++) x_next[k] = (float)(step_mean(c, x[k], v[k]) + std * (double)x_next[k]);
    } else {
#pragma omp parallel for schedule(static) if (total > PAR_MIN_ELEMS)
        for (size_t k = 0; k < total; k++) x_next[k] = (float)step_mean(c, x[k], v[k]);
    }
    if (logprob) {
        CG_CHECK(n > 0, "empty samples");
        logprob_impl(logprob, x, v, x_next, c, B, n);
    }
    return c->has_logprob;
}

void flow_step_logprob_backward(float *dv, const float *dlogprob, const float *x, const float *v,
                                const float *x_next, const flow_step_coef *c, int B, size_t n) {
    if (!c->has_logprob) return;
    CG_CHECK(n > 0, "empty samples");
    // d/dv_j of -(1/n) sum (y - cx x - cv v)^2 / (2 var) = cv (y_j - mean_j) / (n var)
    double scale = c->cv / ((double)n * c->std * c->std);
#pragma omp parallel for schedule(static) if ((size_t)B * n > PAR_MIN_ELEMS)
    for (int b = 0; b < B; b++) {
        size_t o = (size_t)b * n;
        double k = (double)dlogprob[b] * scale;
        for (size_t j = 0; j < n; j++) {
            double d = (double)x_next[o + j] - step_mean(c, x[o + j], v[o + j]);
            dv[o + j] += (float)(k * d);
        }
    }
}

// ---- classifier-free guidance ----------------------------------------------------------------------

void flow_cfg(float *v, const float *v_uncond, const float *v_cond, float scale, size_t n) {
    if (scale == 1.0f) {
        if (v != v_cond) memmove(v, v_cond, n * sizeof(float));
        return;
    }
    for (size_t k = 0; k < n; k++) v[k] = v_uncond[k] + scale * (v_cond[k] - v_uncond[k]);
}

void flow_cfg_backward(float *dv_uncond, float *dv_cond, const float *dv, float scale, size_t n) {
    for (size_t k = 0; k < n; k++) {
        if (dv_uncond) dv_uncond[k] += (1.0f - scale) * dv[k];
        if (dv_cond) dv_cond[k] += scale * dv[k];
    }
}

void flow_cfg2(float *v, const float *v_none, const float *v_ref, const float *v_full, float s_ref,
               float s_txt, size_t n) {
    if (s_ref == 1.0f && s_txt == 1.0f) {
        if (v != v_full) memmove(v, v_full, n * sizeof(float));
        return;
    }
    for (size_t k = 0; k < n; k++)
        v[k] = v_none[k] + s_ref * (v_ref[k] - v_none[k]) + s_txt * (v_full[k] - v_ref[k]);
}

void flow_cfg2_backward(float *dv_none, float *dv_ref, float *dv_full, const float *dv, float s_ref,
                        float s_txt, size_t n) {
    for (size_t k = 0; k < n; k++) {
        if (dv_none) dv_none[k] += (1.0f - s_ref) * dv[k];
        if (dv_ref) dv_ref[k] += (s_ref - s_txt) * dv[k];
        if (dv_full) dv_full[k] += s_txt * dv[k];
    }
}

// ---- the sampling loop ------------------------------------------------------------------------------

int flow_sampler_check(const flow_sampler *cfg, char *err, size_t errlen) {
    if (cfg->kind != FLOW_ODE && cfg->kind != FLOW_SDE_DANCE && cfg->kind != FLOW_SDE_FLOW)
        return cg_errf(err, errlen, "unknown sampler kind %d", (int)cfg->kind);
    if (cfg->init != FLOW_INIT_NOISE && cfg->init != FLOW_INIT_SHARED && cfg->init != FLOW_INIT_GIVEN)
        return cg_errf(err, errlen, "unknown initial-noise mode %d", (int)cfg->init);
    if (!isfinite(cfg->eta) || cfg->eta < 0.0f)
        return cg_errf(err, errlen, "sampler eta must be a finite number >= 0, got %g", (double)cfg->eta);
    return 0;
}

void flow_init_noise(float *x, uint64_t seed, uint64_t stream, int shared, int B, size_t n) {
#pragma omp parallel for schedule(static) if ((size_t)B * n > PAR_MIN_ELEMS)
    for (int b = 0; b < B; b++)
        cg_rng_fill_normal(x + (size_t)b * n, n, seed, cg_rng_stream(stream, 0, shared ? 0 : (uint64_t)b), 0);
}

int flow_sample(float *x, float *traj, float *logprobs, flow_velocity_fn fn, void *ctx,
                const float *sigmas, int N, const flow_sampler *cfg, int B, size_t n) {
    char err[256];
    if (flow_sampler_check(cfg, err, sizeof(err))) cg_die("flow_sample: %s", err);
    CG_CHECK(N >= 1 && B >= 1 && n >= 1, "N %d, B %d, n %zu", N, B, n);
    size_t total = cg_mul_size((size_t)B, n);
    float *v = cg_malloc(cg_mul_size(total, sizeof(float)));
    float *tmp = traj ? NULL : cg_malloc(cg_mul_size(total, sizeof(float)));

    // cur holds x_i; with a trajectory every x_i lives in it, otherwise x and tmp take turns
    float *cur = traj ? traj : x;
    if (cfg->init == FLOW_INIT_GIVEN) {
        if (cur != x) memcpy(cur, x, total * sizeof(float));
    } else {
        flow_init_noise(cur, cfg->seed, cfg->stream, cfg->init == FLOW_INIT_SHARED, B, n);
    }
    int n_logprob = 0;
    for (int i = 0; i < N; i++) {
        flow_step_coef c = flow_step_coef_make(cfg->kind, sigmas, N, i, cfg->eta);
        fn(ctx, v, cur, sigmas[i], i, B);
        float *next = traj ? traj + (size_t)(i + 1) * total : (cur == x ? tmp : x);
        n_logprob += flow_step(next, logprobs ? logprobs + (size_t)i * B : NULL, cur, v, &c, cfg->seed,
                               cfg->stream, B, n);
        cur = next;
    }
    if (cur != x) memcpy(x, cur, total * sizeof(float));
    free(v);
    free(tmp);
    return n_logprob;
}
