// sampler.h: rectified-flow sampling steps with Gaussian log-probs, their gradient with respect to
// the velocity, classifier-free guidance, and one sampling loop over a model callback
// (stable-diffusion.cpp style) that GRPO rollouts, evaluation and previews share.
//
// Conventions (docs/design.md): x_s = (1 - s) x0 + s e, v = e - x0, s = 1 is pure noise.
// sigmas (N + 1) decrease from 1 to 0 (schedule.h); step i goes from s = sigmas[i] to
// s' = sigmas[i + 1], dS = s' - s < 0. A batch is B samples of n floats each: (B, n), row-major.
//
// Every step kind is one Gaussian transition   x' = mean + std e,  e ~ N(0, I),
//   mean = cx x + cv v   with per-step scalars cx, cv, std (flow_step_coef):
//   - ODE (Euler):  cx = 1, cv = dS, std = 0                      (x' = x + dS v; no log-prob)
//   - SDE with diffusion g:  mean = x + (v - g^2 / 2 score) dS,  score = -(x + (1 - s) v) / s,
//                            std  = g sqrt(-dS)
//       =>  cx = 1 + g^2 dS / (2 s),   cv = dS (1 + g^2 (1 - s) / (2 s)).
//     "dance" (DanceGRPO, the paper's sampler): g = eta (default 0.4). docs/design.md writes it as
//       x0_hat = x - s v, score = -(x - (1 - s) x0_hat) / s^2, mean = x + dS v - eta^2/2 score dS,
//       std = eta sqrt(s - s'), which expands to the line above.
//     "flow" (Flow-GRPO): g = a sqrt(s / (1 - s)) (a = "eta", default 0.7), which gives exactly
//       Flow-GRPO's mean x (1 + g^2 dS / (2 s)) + v (1 + g^2 (1 - s) / (2 s)) dS. At s = 1 the
//       ratio is infinite; like Flow-GRPO's sde_step_with_logprob (it uses sigmas[1] when
//       sigma == 1) the denominator becomes 1 - s' (s' = sigmas[1] is the next sigma at s = 1).
//   Both SDEs are the reverse-time SDE with the ODE's marginals when v is the exact velocity
//   (the score of x_s is -(x + (1 - s) E[v | x]) / s), so they sample the right distribution in
//   the limit of small steps (tests/test_sampler.c checks this on a Gaussian toy problem).
//
// Log-prob of a transition, per sample b: the MEAN over the sample's n values of
//   -(x'_j - mean_j)^2 / (2 std^2) - log std - log sqrt(2 pi).
// Guard: a step with std == 0 (ODE, or an SDE with eta == 0) has no density; its coefficient
// has has_logprob = 0, its log-prob is DEFINED as 0 and its gradient as 0 (DanceGRPO does the
// same for eta == 0). A malformed step (dS >= 0, s outside (0, 1], i out of range) is a bug and
// dies in flow_step_coef_make; user-supplied values go through flow_schedule_check and
// flow_sampler_check first.
//
// Precision: inputs and outputs are float; per-element arithmetic and the log-prob sum are in
// double. The rollout (flow_step) computes its log-prob by calling flow_step_logprob on the
// x' it just stored, so the trainer's recompute with the same (x, v, x') is bit-identical
// by construction (no thread-count-dependent reductions).
//
// Randomness: a trajectory is a pure function of (seed, stream) (core/rng.h). Sample b's
// initial noise uses Philox stream cg_rng_stream(stream, 0, b) (b = 0 for every sample when the
// initial noise is shared), step i's noise uses cg_rng_stream(stream, 1 + i, b), element j is
// counter j. So sample b's trajectory does not depend on B, the thread count or other samples.
#ifndef CGRPO_FLOW_SAMPLER_H
#define CGRPO_FLOW_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    FLOW_ODE = 0,       // Euler, deterministic (evaluation, previews)
    FLOW_SDE_DANCE = 1, // DanceGRPO SDE, g = eta
    FLOW_SDE_FLOW = 2,  // Flow-GRPO SDE, g = eta sqrt(s / (1 - s))
} flow_kind;

#define FLOW_DANCE_ETA 0.4f // paper's default
#define FLOW_FLOW_ETA 0.7f  // Flow-GRPO's default noise level a

const char *flow_kind_name(flow_kind kind); // "ode", "dance", "flow"
// "ode" | "dance" | "flow" -> *kind; 0, or -1 with a reason naming the accepted values
int flow_kind_parse(const char *name, flow_kind *kind, char *err, size_t errlen);
// the default eta of a kind (0 for ODE)
float flow_kind_default_eta(flow_kind kind);

// The scalars of one step (see the header comment).
typedef struct {
    flow_kind kind;
    int step;         // i
    double s, s_next; // sigmas[i], sigmas[i + 1]
    double dS;        // s_next - s < 0
    double g;         // diffusion coefficient (0 for ODE)
    double cx, cv;    // mean = cx x + cv v
    double std;       // std of x' given x (0 for ODE)
    int has_logprob;  // std > 0
} flow_step_coef;

// sigmas (N + 1); 0 <= i < N; eta >= 0 (ignored for ODE). Dies on a malformed step.
flow_step_coef flow_step_coef_make(flow_kind kind, const float *sigmas, int N, int i, float eta);

// mean (B, n) = cx x + cv v  (the Gaussian mean of the step; e.g. for a KL term)
void flow_step_mean(float *mean, const float *x, const float *v, const flow_step_coef *c, int B,
                    size_t n);

// The noise flow_step uses: e (B, n), sample b from Philox stream cg_rng_stream(stream, 1 + step, b).
void flow_step_noise(float *e, uint64_t seed, uint64_t stream, int step, int B, size_t n);

// One sampling step: x_next (B, n) = mean + std e with e = flow_step_noise(seed, stream, c->step).
// logprob (B) or NULL: the log-prob of x_next, computed by flow_step_logprob (0 when the step
// has none). x_next must not alias x or v. Returns c->has_logprob.
int flow_step(float *x_next, float *logprob, const float *x, const float *v, const flow_step_coef *c,
              uint64_t seed, uint64_t stream, int B, size_t n);

// logprob (B): log-prob of a GIVEN x_next (B, n) (stored at rollout) from x (B, n) and v (B, n).
// All zero when !c->has_logprob. Returns c->has_logprob.
int flow_step_logprob(float *logprob, const float *x, const float *v, const float *x_next,
                      const flow_step_coef *c, int B, size_t n);

// Backward of flow_step_logprob with respect to v, ACCUMULATING:
//   dv[b, j] += dlogprob[b] * d logprob[b] / d v[b, j]
//             = dlogprob[b] * cv (x_next[b, j] - mean[b, j]) / (n std^2).
// Nothing is added when !c->has_logprob (the log-prob is the constant 0).
void flow_step_logprob_backward(float *dv, const float *dlogprob, const float *x, const float *v,
                                const float *x_next, const flow_step_coef *c, int B, size_t n);

// ---- classifier-free guidance (n floats; v may alias any input) ----------------------------------

// v = v_uncond + scale (v_cond - v_uncond); scale == 1 copies v_cond exactly.
void flow_cfg(float *v, const float *v_uncond, const float *v_cond, float scale, size_t n);
// accumulating backward: dv_uncond += (1 - scale) dv, dv_cond += scale dv (either may be NULL)
void flow_cfg_backward(float *dv_uncond, float *dv_cond, const float *dv, float scale, size_t n);

// Two conditions, reference image and prompt, nested (InstructPix2Pix-style):
//   v = v_none + s_ref (v_ref - v_none) + s_txt (v_full - v_ref)
// v_none: neither reference nor prompt; v_ref: reference only (prompt dropped); v_full: both.
// s_ref = s_txt = 1 copies v_full exactly; s_txt alone pushes along the prompt direction given the
// reference, s_ref alone along the reference direction.
void flow_cfg2(float *v, const float *v_none, const float *v_ref, const float *v_full, float s_ref,
               float s_txt, size_t n);
// accumulating backward (any output may be NULL):
//   dv_none += (1 - s_ref) dv, dv_ref += (s_ref - s_txt) dv, dv_full += s_txt dv
void flow_cfg2_backward(float *dv_none, float *dv_ref, float *dv_full, const float *dv, float s_ref,
                        float s_txt, size_t n);

// ---- the sampling loop ----------------------------------------------------------------------------

// The model: v (B, n) = velocity (after CFG, if any) at x (B, n) and noise level sigma, for the
// whole batch at once. `step` is the index i of sigma in the schedule.
typedef void (*flow_velocity_fn)(void *ctx, float *v, const float *x, float sigma, int step, int B);

typedef enum {
    FLOW_INIT_NOISE = 0,  // sample b starts from its own noise (stream cg_rng_stream(stream, 0, b))
    FLOW_INIT_SHARED = 1, // every sample starts from sample 0's noise (GRPO's group default)
    FLOW_INIT_GIVEN = 2,  // x holds the initial sample on entry
} flow_init;

typedef struct {
    flow_kind kind;
    float eta;       // dance eta / flow a; ignored by ODE
    flow_init init;
    uint64_t seed;   // all randomness of the trajectory comes from (seed, stream)
    uint64_t stream;
} flow_sampler;

// Validates user-facing sampler settings (kind, init, eta finite and >= 0): 0 or -1 with a reason.
int flow_sampler_check(const flow_sampler *cfg, char *err, size_t errlen);

// Initial noise as flow_sample makes it: x (B, n) from (seed, stream), shared or per sample.
void flow_init_noise(float *x, uint64_t seed, uint64_t stream, int shared, int B, size_t n);

// Runs N steps over sigmas (N + 1), calling fn once per step for the whole batch.
//   x (B, n):                  in: the initial sample if cfg->init == FLOW_INIT_GIVEN (ignored
//                              otherwise); out: the final sample at s = sigmas[N].
//   traj (N + 1, B, n) or NULL: traj[0] = the initial sample, traj[i + 1] = x after step i.
//   logprobs (N, B) or NULL:   log-prob of step i's transition (0 for steps without one).
// Returns the number of steps that have a log-prob (N for an SDE with eta > 0, 0 for ODE).
// Allocates its work buffers per call: v (B, n), and a second x (B, n) when traj is NULL.
int flow_sample(float *x, float *traj, float *logprobs, flow_velocity_fn fn, void *ctx,
                const float *sigmas, int N, const flow_sampler *cfg, int B, size_t n);

#endif
