// test_sampler.c: the flow schedule and samplers (src/flow) against the float64 twin
// (tools/twin_sampler.py), against their own definitions in double (finite differences, noise
// statistics), and end to end on a Gaussian toy problem whose exact velocity is known.
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "flow/sampler.h"
#include "flow/schedule.h"
#include "fixture.h"
#include "test.h"

#define LOG_SQRT_2PI 0.91893853320467274178

static char fixture_dir[1024] = "tests/fixtures/sampler";

// Loads tests/fixtures/sampler/<name>; an unreadable fixture is a test failure, not a skip.
static int load_fixture(Fixture *fx, const char *name) {
    char path[1200], err[256];
    snprintf(path, sizeof(path), "%s/%s", fixture_dir, name);
    if (fixture_load(fx, path, err, sizeof(err)) == 0) return 0;
    EXPECT(0, "cannot load fixture: %s (regenerate with python3 tools/twin_sampler.py)", err);
    return -1;
}

static const float *fx_tensor(const Fixture *fx, const char *prefix, const char *name, size_t count) {
    char full[FIXTURE_NAME_MAX];
    snprintf(full, sizeof(full), "%s%s", prefix, name);
    const FixtureTensor *t = fixture_get(fx, full);
    CG_CHECK(t != NULL, "fixture tensor %s missing", full);
    CG_CHECK(t->count == count, "fixture tensor %s has %zu values, expected %zu", full, t->count, count);
    return t->data;
}

// |got - want| <= rtol * max_k |want_k| + atol for every k; prints the first mismatches side by side
static int compare(const char *what, const float *got, const float *want, size_t count, double rtol, double atol) {
    double scale = 0.0;
    for (size_t k = 0; k < count; k++) scale = fmax(scale, fabs((double)want[k]));
    double tol = rtol * scale + atol;
    int bad = 0;
    for (size_t k = 0; k < count; k++) {
        double d = fabs((double)got[k] - (double)want[k]);
        if (!(d <= tol)) {
            if (bad < 5) fprintf(stderr, "    %s[%zu]: got %.9g want %.9g (diff %.3g, tol %.3g)\n", what, k,
                                 (double)got[k], (double)want[k], d, tol);
            bad++;
        }
    }
    EXPECT(bad == 0, "%s: %d of %zu values differ", what, bad, count);
    return bad;
}

// ---- a double-precision reference step, written from DESIGN.md section 6 literally ---------------

// mean and std of one step for one element, in double, straight from the formulas
static double ref_step(int kind, const float *sig, int i, double eta, double x, double v, double *std) {
    double s = sig[i], sn = sig[i + 1], dS = sn - s;
    if (kind == FLOW_SDE_DANCE) {
        double x0_hat = x - s * v;
        double score = -(x - (1.0 - s) * x0_hat) / (s * s);
        *std = eta * sqrt(s - sn);
        return x + dS * v - 0.5 * eta * eta * score * dS;
    }
    if (kind == FLOW_SDE_FLOW) {
        double den = s == 1.0 ? 1.0 - sig[1] : 1.0 - s;
        double st = eta * sqrt(s / den);
        *std = st * sqrt(-dS);
        return x * (1.0 + st * st * dS / (2.0 * s)) + v * (1.0 + st * st * (1.0 - s) / (2.0 * s)) * dS;
    }
    *std = 0.0;
    return x + dS * v;
}

// sum_b w[b] * logprob_b in double for velocity vd (B, n) in double
static double ref_weighted_logprob(int kind, const float *sig, int i, double eta, const float *x, const double *vd,
                                   const float *y, const float *w, int B, size_t n, double *lp_out) {
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        double acc = 0.0, std = 0.0;
        for (size_t j = 0; j < n; j++) {
            size_t k = (size_t)b * n + j;
            double m = ref_step(kind, sig, i, eta, x[k], vd[k], &std);
            double d = y[k] - m;
            acc += -d * d / (2.0 * std * std) - log(std) - LOG_SQRT_2PI;
        }
        double lp = acc / (double)n;
        if (lp_out) lp_out[b] = lp;
        total += w[b] * lp;
    }
    return total;
}

static void fill_normal(float *out, size_t count, uint64_t seed, double scale) {
    cg_rng_fill_normal(out, count, seed, 12345, 0);
    for (size_t k = 0; k < count; k++) out[k] = (float)(out[k] * scale);
}

// ---- schedule ----------------------------------------------------------------------------------------

static void test_schedule_vs_twin(void) {
    Fixture fx;
    if (load_fixture(&fx, "schedule.cgfx")) return;
    int cases = 0;
    for (int k = 0;; k++) {
        char prefix[32], name[64];
        snprintf(prefix, sizeof(prefix), "sched%d.", k);
        snprintf(name, sizeof(name), "%sconfig", prefix);
        if (!fixture_get(&fx, name)) break;
        const float *cfg = fx_tensor(&fx, prefix, "config", 2);
        int N = (int)cfg[0];
        float shift = cfg[1];
        const float *want = fx_tensor(&fx, prefix, "sigmas", (size_t)N + 1);
        float got[64];
        CG_CHECK(N + 1 <= 64, "schedule case too long");
        flow_sigmas(got, N, shift);
        char what[64];
        snprintf(what, sizeof(what), "sigmas N=%d shift=%g", N, (double)shift);
        compare(what, got, want, (size_t)N + 1, 0.0, 1.2e-7); // at most about one float ulp near 1
        EXPECT(got[0] == 1.0f && got[N] == 0.0f, "%s: end points %.9g %.9g", what, (double)got[0], (double)got[N]);
        for (int i = 0; i < N; i++) EXPECT(got[i + 1] < got[i], "%s: not decreasing at %d", what, i);
        char err[256];
        EXPECT(flow_schedule_check(N, shift, err, sizeof(err)) == 0, "%s rejected: %s", what, err);
        cases++;
    }
    EXPECT(cases == 5, "fixture has %d schedule cases, expected 5", cases);
    fixture_free(&fx);

    // the default schedule has more steps at high noise: sigma at the midpoint is shift(0.5) = 0.75
    float s10[11];
    flow_sigmas(s10, 10, FLOW_DEFAULT_SHIFT);
    EXPECT(s10[5] == 0.75f, "sigma_5 of 10 with shift 3 is %.9g, expected 0.75", (double)s10[5]);
    // validation of user values
    char err[256];
    EXPECT(flow_schedule_check(0, 3.0f, err, sizeof(err)) == -1, "N = 0 accepted");
    EXPECT(flow_schedule_check(10, 0.0f, err, sizeof(err)) == -1, "shift 0 accepted");
    EXPECT(flow_schedule_check(10, NAN, err, sizeof(err)) == -1, "shift NaN accepted");
    EXPECT(flow_schedule_check(10, -1.0f, err, sizeof(err)) == -1, "negative shift accepted");
    EXPECT(flow_schedule_check(1000, 1e30f, err, sizeof(err)) == -1, "collapsing schedule accepted");
    EXPECT(strstr(err, "same value") != NULL, "reason: %s", err);
}

// ---- single steps vs the twin ----------------------------------------------------------------------

static void test_steps_vs_twin(void) {
    Fixture fx;
    if (load_fixture(&fx, "steps.cgfx")) return;
    int cases = 0;
    for (int k = 0;; k++) {
        char prefix[32], name[64];
        snprintf(prefix, sizeof(prefix), "step%d.", k);
        snprintf(name, sizeof(name), "%sconfig", prefix);
        if (!fixture_get(&fx, name)) break;
        const float *cfg = fx_tensor(&fx, prefix, "config", 6);
        flow_kind kind = (flow_kind)(int)cfg[0];
        int i = (int)cfg[1], N = (int)cfg[2], B = (int)cfg[4];
        float eta = cfg[3];
        size_t n = (size_t)cfg[5], bn = (size_t)B * n;
        const float *sig = fx_tensor(&fx, prefix, "sigmas", (size_t)N + 1);
        const float *x = fx_tensor(&fx, prefix, "x", bn), *v = fx_tensor(&fx, prefix, "v", bn);
        const float *y = fx_tensor(&fx, prefix, "x_next", bn), *dlp = fx_tensor(&fx, prefix, "dlogprob", (size_t)B);
        float mean[64], lp[8], dv[64], ode[64], stdv;
        CG_CHECK(bn <= 64 && B <= 8, "step case too big");

        flow_step_coef c = flow_step_coef_make(kind, sig, N, i, eta);
        EXPECT(c.has_logprob, "step%d has no log-prob", k);
        char what[64];
        snprintf(what, sizeof(what), "%s step %d mean", flow_kind_name(kind), i);
        flow_step_mean(mean, x, v, &c, B, n);
        compare(what, mean, fx_tensor(&fx, prefix, "mean", bn), bn, 1e-6, 1e-7);
        stdv = (float)c.std;
        snprintf(what, sizeof(what), "%s step %d std", flow_kind_name(kind), i);
        compare(what, &stdv, fx_tensor(&fx, prefix, "std", 1), 1, 1e-6, 0.0);
        snprintf(what, sizeof(what), "%s step %d logprob", flow_kind_name(kind), i);
        EXPECT(flow_step_logprob(lp, x, v, y, &c, B, n) == 1, "flow_step_logprob says no log-prob");
        compare(what, lp, fx_tensor(&fx, prefix, "logprob", (size_t)B), (size_t)B, 1e-6, 0.0);
        memset(dv, 0, sizeof(dv));
        flow_step_logprob_backward(dv, dlp, x, v, y, &c, B, n);
        snprintf(what, sizeof(what), "%s step %d dlogprob/dv", flow_kind_name(kind), i);
        compare(what, dv, fx_tensor(&fx, prefix, "grad_v", bn), bn, 1e-5, 0.0);

        flow_step_coef co = flow_step_coef_make(FLOW_ODE, sig, N, i, 0.0f);
        EXPECT(flow_step(ode, NULL, x, v, &co, 1, 2, B, n) == 0, "the ODE step claims a log-prob");
        snprintf(what, sizeof(what), "ode step %d", i);
        compare(what, ode, fx_tensor(&fx, prefix, "ode", bn), bn, 1e-6, 1e-7);
        cases++;
    }
    EXPECT(cases == 8, "fixture has %d step cases, expected 8", cases);
    fixture_free(&fx);
}

// ---- d logprob / d v against central differences of the double reference --------------------------

static void test_logprob_grad_fd(void) {
    enum { N = 10, B = 2, NN = 5 };
    float sig[N + 1], x[B * NN], v[B * NN], y[B * NN], w[B] = {0.7f, -1.3f}, dv[B * NN], lp[B];
    double vd[B * NN], lp_ref[B];
    flow_sigmas(sig, N, FLOW_DEFAULT_SHIFT);
    double worst_grad = 0.0, worst_lp = 0.0;
    for (int kind = FLOW_SDE_DANCE; kind <= FLOW_SDE_FLOW; kind++) {
        for (int i = 0; i < N; i++) {
            float eta = flow_kind_default_eta((flow_kind)kind);
            flow_step_coef c = flow_step_coef_make((flow_kind)kind, sig, N, i, eta);
            fill_normal(x, B * NN, 100 + i, 1.0);
            fill_normal(v, B * NN, 200 + i, 1.0);
            // a next sample drawn from the step itself, so the log-prob is in its typical range
            flow_step(y, NULL, x, v, &c, 300 + i, 7, B, NN);
            flow_step_logprob(lp, x, v, y, &c, B, NN);
            for (int k = 0; k < B * NN; k++) vd[k] = v[k];
            ref_weighted_logprob(kind, sig, i, eta, x, vd, y, w, B, NN, lp_ref);
            for (int b = 0; b < B; b++)
                worst_lp = fmax(worst_lp, fabs(lp[b] - lp_ref[b]) / fmax(1.0, fabs(lp_ref[b])));
            memset(dv, 0, sizeof(dv));
            flow_step_logprob_backward(dv, w, x, v, y, &c, B, NN);
            const double h = 1e-6;
            for (int k = 0; k < B * NN; k++) {
                vd[k] = (double)v[k] + h;
                double fp = ref_weighted_logprob(kind, sig, i, eta, x, vd, y, w, B, NN, NULL);
                vd[k] = (double)v[k] - h;
                double fm = ref_weighted_logprob(kind, sig, i, eta, x, vd, y, w, B, NN, NULL);
                vd[k] = v[k];
                double num = (fp - fm) / (2.0 * h), ana = dv[k];
                double rel = fabs(ana - num) / fmax(1e-6, fabs(ana) + fabs(num));
                if (rel > 1e-4 && rel > worst_grad)
                    fprintf(stderr, "    %s step %d dv[%d]: analytic %.9g numeric %.9g\n",
                            flow_kind_name((flow_kind)kind), i, k, ana, num);
                worst_grad = fmax(worst_grad, rel);
            }
        }
    }
    printf("     d logprob/dv vs central differences (double reference), both SDEs, all 10 steps: worst rel "
           "err %.2g; log-prob vs reference: worst rel err %.2g\n",
           worst_grad, worst_lp);
    EXPECT(worst_grad < 1e-4, "worst relative gradient error %g", worst_grad);
    EXPECT(worst_lp < 1e-6, "worst relative log-prob error %g", worst_lp);
}

// ---- the noise: documented stream, and the right mean / std / density over many draws --------------

static void test_step_statistics(void) {
    enum { N = 10, M = 20000, NN = 4 };
    float sig[N + 1];
    flow_sigmas(sig, N, FLOW_DEFAULT_SHIFT);
    float x1[NN] = {0.8f, -1.2f, 0.1f, 2.0f}, v1[NN] = {-0.5f, 0.3f, 1.7f, -2.2f};
    float *x = cg_malloc(sizeof(float) * M * NN), *v = cg_malloc(sizeof(float) * M * NN);
    float *y = cg_malloc(sizeof(float) * M * NN), *e = cg_malloc(sizeof(float) * M * NN);
    float *lp = cg_malloc(sizeof(float) * M);
    for (int b = 0; b < M; b++) memcpy(x + (size_t)b * NN, x1, sizeof(x1)), memcpy(v + (size_t)b * NN, v1, sizeof(v1));
    struct { flow_kind kind; int i; } cases[] = {{FLOW_SDE_DANCE, 3}, {FLOW_SDE_FLOW, 0}, {FLOW_SDE_FLOW, 8}};
    for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
        flow_step_coef c = flow_step_coef_make(cases[ci].kind, sig, N, cases[ci].i, flow_kind_default_eta(cases[ci].kind));
        flow_step(y, lp, x, v, &c, 77, 5, M, NN);
        // x' = mean + std e with e exactly the documented noise
        flow_step_noise(e, 77, 5, cases[ci].i, M, NN);
        int exact = 1;
        for (size_t k = 0; k < (size_t)M * NN; k++) {
            float want = (float)(c.cx * (double)x[k] + c.cv * (double)v[k] + c.std * (double)e[k]);
            exact &= memcmp(&want, &y[k], sizeof(float)) == 0;
        }
        EXPECT(exact, "%s step %d: x' is not mean + std e with the documented noise", flow_kind_name(c.kind), c.step);
        // per element: sample mean within 4 standard errors (std / sqrt(M)); sample variance / std^2
        // within 4 standard errors of 1 (sqrt(2 / (M - 1)) for a Gaussian)
        double worst_z_mean = 0.0, worst_z_var = 0.0;
        for (int j = 0; j < NN; j++) {
            double mu = ref_step(c.kind, sig, c.step, flow_kind_default_eta(c.kind), x1[j], v1[j], &(double){0});
            double s1 = 0.0, s2 = 0.0;
            for (int b = 0; b < M; b++) {
                double d = y[(size_t)b * NN + j] - mu;
                s1 += d, s2 += d * d;
            }
            double m = s1 / M, var = (s2 - M * m * m) / (M - 1);
            double z_mean = fabs(m) / (c.std / sqrt((double)M));
            double z_var = fabs(var / (c.std * c.std) - 1.0) / sqrt(2.0 / (M - 1));
            worst_z_mean = fmax(worst_z_mean, z_mean), worst_z_var = fmax(worst_z_var, z_var);
        }
        // the log-prob's average over draws is its expectation -1/2 - log std - log sqrt(2 pi); one
        // draw's log-prob is -(1/n) sum z^2 / 2 + const with standard deviation sqrt(1 / (2 n))
        double lps = 0.0;
        for (int b = 0; b < M; b++) lps += lp[b];
        double lp_expect = -0.5 - log(c.std) - LOG_SQRT_2PI;
        double z_lp = fabs(lps / M - lp_expect) / sqrt(1.0 / (2.0 * NN * M));
        printf("     %s step %d (std %.4f), %d draws x %d values: worst |z| of mean %.2f, of variance %.2f, "
               "mean log-prob %.5f vs expected %.5f (|z| %.2f)\n",
               flow_kind_name(c.kind), c.step, c.std, M, NN, worst_z_mean, worst_z_var, lps / M, lp_expect, z_lp);
        EXPECT(worst_z_mean < 4.0, "sample mean off by %.2f standard errors", worst_z_mean);
        EXPECT(worst_z_var < 4.0, "sample variance off by %.2f standard errors", worst_z_var);
        EXPECT(z_lp < 4.0, "mean log-prob off by %.2f standard errors", z_lp);
    }
    free(x), free(v), free(y), free(e), free(lp);
}

// ---- bit-exact recompute of stored log-probs ---------------------------------------------------------

// a deterministic, nonlinear stand-in for a model: v = 0.8 sin(1.3 x + sigma + 0.01 j) - 0.1 x
typedef struct { size_t n; int calls; } toy_model;

static void toy_velocity(void *ctx, float *v, const float *x, float sigma, int step, int B) {
    toy_model *m = ctx;
    (void)step;
    m->calls++;
    for (size_t k = 0; k < (size_t)B * m->n; k++)
        v[k] = 0.8f * sinf(1.3f * x[k] + sigma + 0.01f * (float)(k % m->n)) - 0.1f * x[k];
}

static void test_logprob_recompute_bitexact(void) {
    enum { N = 8, B = 5 };
    const size_t n = 768;
    float sig[N + 1];
    flow_sigmas(sig, N, FLOW_DEFAULT_SHIFT);
    float *traj = cg_malloc(sizeof(float) * (N + 1) * B * n), *x = cg_malloc(sizeof(float) * B * n);
    float *v = cg_malloc(sizeof(float) * B * n), lps[N * B], lp2[B];
    for (int kind = FLOW_SDE_DANCE; kind <= FLOW_SDE_FLOW; kind++) {
        toy_model m = {n, 0};
        flow_sampler cfg = {(flow_kind)kind, flow_kind_default_eta((flow_kind)kind), FLOW_INIT_SHARED, 11, 3};
        int with_lp = flow_sample(x, traj, lps, toy_velocity, &m, sig, N, &cfg, B, n);
        EXPECT(with_lp == N, "%d steps with a log-prob, expected %d", with_lp, N);
        EXPECT(m.calls == N, "the model was called %d times for %d steps", m.calls, N);
        EXPECT(memcmp(x, traj + (size_t)N * B * n, sizeof(float) * B * n) == 0, "x is not the last trajectory row");
        int same = 1, finite = 1;
        for (int i = 0; i < N; i++) {
            // the trainer's recompute: the model again at x_i (unchanged weights), then the log-prob
            toy_velocity(&m, v, traj + (size_t)i * B * n, sig[i], i, B);
            flow_step_coef c = flow_step_coef_make(cfg.kind, sig, N, i, cfg.eta);
            flow_step_logprob(lp2, traj + (size_t)i * B * n, v, traj + (size_t)(i + 1) * B * n, &c, B, n);
            same &= memcmp(lp2, lps + (size_t)i * B, sizeof(lp2)) == 0;
            for (int b = 0; b < B; b++) finite &= isfinite(lp2[b]);
        }
        EXPECT(same, "%s: recomputed log-probs differ from the stored ones", flow_kind_name(cfg.kind));
        EXPECT(finite, "%s: non-finite log-prob", flow_kind_name(cfg.kind));
    }
    free(traj), free(x), free(v);
}

// ---- the zero-noise guard ----------------------------------------------------------------------------

static void test_zero_noise_guard(void) {
    enum { N = 6, B = 2, NN = 7 };
    float sig[N + 1], x[B * NN], v[B * NN], y[B * NN], yo[B * NN], lp[B] = {5, 5}, dv[B * NN], w[B] = {1, 1};
    flow_sigmas(sig, N, FLOW_DEFAULT_SHIFT);
    fill_normal(x, B * NN, 1, 1.0);
    fill_normal(v, B * NN, 2, 1.0);
    for (int kind = FLOW_SDE_DANCE; kind <= FLOW_SDE_FLOW; kind++) {
        flow_step_coef c = flow_step_coef_make((flow_kind)kind, sig, N, 2, 0.0f);
        flow_step_coef co = flow_step_coef_make(FLOW_ODE, sig, N, 2, 0.0f);
        EXPECT(!c.has_logprob && c.std == 0.0, "eta 0: has_logprob %d std %g", c.has_logprob, c.std);
        EXPECT(flow_step(y, lp, x, v, &c, 1, 1, B, NN) == 0, "eta 0 step claims a log-prob");
        flow_step(yo, NULL, x, v, &co, 1, 1, B, NN);
        EXPECT(memcmp(y, yo, sizeof(y)) == 0, "%s with eta 0 is not the ODE step", flow_kind_name(c.kind));
        EXPECT(lp[0] == 0.0f && lp[1] == 0.0f, "log-prob of a zero-noise step is %g %g", (double)lp[0], (double)lp[1]);
        memset(dv, 0, sizeof(dv));
        flow_step_logprob_backward(dv, w, x, v, y, &c, B, NN);
        int zero = 1;
        for (int k = 0; k < B * NN; k++) zero &= dv[k] == 0.0f;
        EXPECT(zero, "gradient of a zero-noise step is not zero");
    }
}

// ---- Gaussian toy problem with the exact velocity ----------------------------------------------------
// Data x0 ~ N(mu, s0^2) per value, e ~ N(0, 1): x_s = (1 - s) x0 + s e is Gaussian with mean (1 - s) mu
// and variance V(s) = (1 - s)^2 s0^2 + s^2, and Cov(e - x0, x_s) = s - (1 - s) s0^2, so
//   E[v | x_s] = -mu + (s - (1 - s) s0^2) / V(s) (x_s - (1 - s) mu).

typedef struct { double mu, s0; size_t n; } gauss_model;

static double gauss_k(const gauss_model *g, double s) {
    double V = (1.0 - s) * (1.0 - s) * g->s0 * g->s0 + s * s;
    return (s - (1.0 - s) * g->s0 * g->s0) / V;
}

static void gauss_velocity(void *ctx, float *v, const float *x, float sigma, int step, int B) {
    const gauss_model *g = ctx;
    (void)step;
    double s = sigma, k = gauss_k(g, s), c = (1.0 - s) * g->mu;
    for (size_t j = 0; j < (size_t)B * g->n; j++) v[j] = (float)(-g->mu + k * ((double)x[j] - c));
}

// The sampler applied to this linear-Gaussian model keeps x Gaussian: propagate its mean and variance
// through the discretized steps in double (mean and std from ref_step, evaluated at x = 0 and 1).
static void gauss_predict(const gauss_model *g, int kind, double eta, const float *sig, int N, double *m_out,
                          double *sd_out) {
    double m = 0.0, var = 1.0;
    for (int i = 0; i < N; i++) {
        double s = sig[i], k = gauss_k(g, s), c = (1.0 - s) * g->mu, std;
        double at0 = ref_step(kind, sig, i, eta, 0.0, -g->mu - k * c, &std);
        double at1 = ref_step(kind, sig, i, eta, 1.0, -g->mu + k * (1.0 - c), &std);
        double A = at1 - at0;
        m = A * m + at0;
        var = A * A * var + std * std;
    }
    *m_out = m, *sd_out = sqrt(var);
}

static void test_gaussian_toy(void) {
    enum { N = 200, B = 4 };
    const size_t n = 16384, M = (size_t)B * n;
    gauss_model g = {0.5, 0.3, n};
    float sig[N + 1];
    flow_sigmas(sig, N, FLOW_DEFAULT_SHIFT);
    float *x = cg_malloc(sizeof(float) * M);
    for (int kind = FLOW_ODE; kind <= FLOW_SDE_FLOW; kind++) {
        flow_sampler cfg = {(flow_kind)kind, flow_kind_default_eta((flow_kind)kind), FLOW_INIT_NOISE, 2024, 9};
        flow_sample(x, NULL, NULL, gauss_velocity, &g, sig, N, &cfg, B, n);
        double s1 = 0.0, s2 = 0.0;
        for (size_t k = 0; k < M; k++) s1 += x[k], s2 += (double)x[k] * x[k];
        double m = s1 / M, sd = sqrt((s2 - M * m * m) / (M - 1));
        double pm, psd;
        gauss_predict(&g, kind, cfg.eta, sig, N, &pm, &psd);
        // Monte Carlo standard errors of a sample mean and a sample std of M Gaussian values
        double se_m = psd / sqrt((double)M), se_sd = psd / sqrt(2.0 * (M - 1));
        printf("     gaussian toy, %-5s %d steps shift 3, %zu values: mean %.5f std %.5f | discretized "
               "prediction %.5f %.5f | target %.3f %.3f (MC s.e. %.5f, %.5f)\n",
               flow_kind_name(cfg.kind), N, M, m, sd, pm, psd, g.mu, g.s0, se_m, se_sd);
        // 1. the sampler does exactly the discretized dynamics (Monte Carlo error only)
        EXPECT(fabs(m - pm) < 4.0 * se_m, "%s: mean %.5f vs predicted %.5f", flow_kind_name(cfg.kind), m, pm);
        EXPECT(fabs(sd - psd) < 4.0 * se_sd, "%s: std %.5f vs predicted %.5f", flow_kind_name(cfg.kind), sd, psd);
        // 2. the discretized dynamics land near the data distribution: Euler keeps the mean exact; the
        // std converges as O(1/N) and is within 2.5% of s0 at 200 steps with shift 3
        EXPECT(fabs(m - g.mu) < 4.0 * se_m + 1e-3, "%s: mean %.5f vs mu %.3f", flow_kind_name(cfg.kind), m, g.mu);
        EXPECT(fabs(sd - g.s0) < 0.025 * g.s0 + 4.0 * se_sd, "%s: std %.5f vs s0 %.3f", flow_kind_name(cfg.kind), sd,
               g.s0);
    }
    free(x);
}

// ---- classifier-free guidance ------------------------------------------------------------------------

static void test_cfg(void) {
    enum { NN = 37 };
    float vu[NN], vc[NN], vr[NN], v[NN], v2[NN];
    fill_normal(vu, NN, 1, 1.0);
    fill_normal(vc, NN, 2, 1.0);
    fill_normal(vr, NN, 3, 1.0);
    flow_cfg(v, vu, vc, 1.0f, NN);
    EXPECT(memcmp(v, vc, sizeof(v)) == 0, "scale 1 is not exactly v_cond");
    memcpy(v2, vu, sizeof(v2));
    flow_cfg(v2, v2, vc, 1.0f, NN); // in place over v_uncond
    EXPECT(memcmp(v2, vc, sizeof(v2)) == 0, "scale 1 in place is not exactly v_cond");
    flow_cfg(v, vu, vc, 0.0f, NN);
    EXPECT(memcmp(v, vu, sizeof(v)) == 0, "scale 0 is not exactly v_uncond");
    flow_cfg(v, vu, vc, 4.5f, NN);
    double worst = 0.0;
    for (int k = 0; k < NN; k++) worst = fmax(worst, fabs(v[k] - ((double)vu[k] + 4.5 * ((double)vc[k] - vu[k]))));
    EXPECT(worst < 1e-5, "scale 4.5: worst error %g", worst);
    // two conditions: (1, 1) is exactly v_full; s_ref = 1 is one-condition CFG over v_ref
    flow_cfg2(v, vu, vr, vc, 1.0f, 1.0f, NN);
    EXPECT(memcmp(v, vc, sizeof(v)) == 0, "cfg2 (1, 1) is not exactly v_full");
    flow_cfg2(v, vu, vr, vc, 1.0f, 3.0f, NN);
    flow_cfg(v2, vr, vc, 3.0f, NN);
    worst = 0.0;
    for (int k = 0; k < NN; k++) worst = fmax(worst, fabs(v[k] - v2[k]));
    EXPECT(worst < 1e-5, "cfg2 with s_ref = 1 differs from cfg over v_ref by %g", worst);
    // backward: the combination is linear, so the accumulated gradient times each input must
    // reproduce sum(dv * v) exactly in double
    float dv[NN], gu[NN], gr[NN], gf[NN];
    fill_normal(dv, NN, 4, 1.0);
    memset(gu, 0, sizeof(gu)), memset(gr, 0, sizeof(gr)), memset(gf, 0, sizeof(gf));
    flow_cfg2(v, vu, vr, vc, 2.0f, 5.0f, NN);
    flow_cfg2_backward(gu, gr, gf, dv, 2.0f, 5.0f, NN);
    double lhs = 0.0, rhs = 0.0;
    for (int k = 0; k < NN; k++) lhs += (double)dv[k] * v[k], rhs += (double)gu[k] * vu[k] + (double)gr[k] * vr[k] + (double)gf[k] * vc[k];
    EXPECT(fabs(lhs - rhs) < 1e-4 * (1.0 + fabs(lhs)), "cfg2 backward: %g vs %g", lhs, rhs);
    memset(gu, 0, sizeof(gu)), memset(gf, 0, sizeof(gf));
    flow_cfg(v, vu, vc, 4.5f, NN);
    flow_cfg_backward(gu, gf, dv, 4.5f, NN);
    lhs = rhs = 0.0;
    for (int k = 0; k < NN; k++) lhs += (double)dv[k] * v[k], rhs += (double)gu[k] * vu[k] + (double)gf[k] * vc[k];
    EXPECT(fabs(lhs - rhs) < 1e-4 * (1.0 + fabs(lhs)), "cfg backward: %g vs %g", lhs, rhs);
}

// ---- determinism -------------------------------------------------------------------------------------

static void test_determinism(void) {
    enum { N = 6, B = 4 };
    const size_t n = 300, rows = (size_t)(N + 1) * B * n;
    float sig[N + 1];
    flow_sigmas(sig, N, FLOW_DEFAULT_SHIFT);
    float *t1 = cg_malloc(sizeof(float) * rows), *t2 = cg_malloc(sizeof(float) * rows);
    float *x = cg_malloc(sizeof(float) * B * n), lp1[N * B], lp2[N * B];
    toy_model m = {n, 0};
    flow_sampler cfg = {FLOW_SDE_DANCE, FLOW_DANCE_ETA, FLOW_INIT_NOISE, 5, 42};
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    flow_sample(x, t1, lp1, toy_velocity, &m, sig, N, &cfg, B, n);
    omp_set_num_threads(2);
    flow_sample(x, t2, lp2, toy_velocity, &m, sig, N, &cfg, B, n);
    omp_set_num_threads(saved);
    EXPECT(memcmp(t1, t2, sizeof(float) * rows) == 0, "same (seed, stream): trajectories differ (1 vs 2 threads)");
    EXPECT(memcmp(lp1, lp2, sizeof(lp1)) == 0, "same (seed, stream): log-probs differ");

    // another stream, another seed: (almost) every value differs
    size_t differ = 0;
    cfg.stream = 43;
    flow_sample(x, t2, NULL, toy_velocity, &m, sig, N, &cfg, B, n);
    for (size_t k = 0; k < rows; k++) differ += t1[k] != t2[k];
    EXPECT(differ > rows * 99 / 100, "another stream changed only %zu of %zu values", differ, rows);
    cfg.stream = 42, cfg.seed = 6, differ = 0;
    flow_sample(x, t2, NULL, toy_velocity, &m, sig, N, &cfg, B, n);
    for (size_t k = 0; k < rows; k++) differ += t1[k] != t2[k];
    EXPECT(differ > rows * 99 / 100, "another seed changed only %zu of %zu values", differ, rows);
    cfg.seed = 5;

    // sample b's trajectory does not depend on the batch size: run the first 2 samples alone
    float *t3 = cg_malloc(sizeof(float) * (N + 1) * 2 * n);
    flow_sample(x, t3, NULL, toy_velocity, &m, sig, N, &cfg, 2, n);
    int same = 1;
    for (int i = 0; i <= N; i++)
        same &= memcmp(t3 + (size_t)i * 2 * n, t1 + (size_t)i * B * n, sizeof(float) * 2 * n) == 0;
    EXPECT(same, "samples 0 and 1 change when the batch shrinks from %d to 2", B);

    // shared initial noise: one x_0 for the group, different SDE paths afterwards
    cfg.init = FLOW_INIT_SHARED;
    flow_sample(x, t2, NULL, toy_velocity, &m, sig, N, &cfg, B, n);
    same = 1;
    for (int b = 1; b < B; b++) same &= memcmp(t2, t2 + (size_t)b * n, sizeof(float) * n) == 0;
    EXPECT(same, "shared initial noise differs between samples");
    EXPECT(memcmp(x, x + n, sizeof(float) * n) != 0, "shared start, but the SDE paths are identical");
    EXPECT(memcmp(t2, t1, sizeof(float) * n) == 0, "shared noise is not sample 0's noise");

    // given initial sample; the ODE is deterministic, has no log-prob, and needs no trajectory buffer
    cfg.init = FLOW_INIT_GIVEN, cfg.kind = FLOW_ODE;
    float *x2 = cg_malloc(sizeof(float) * B * n);
    memcpy(x, t1, sizeof(float) * B * n);
    memcpy(x2, t1, sizeof(float) * B * n);
    EXPECT(flow_sample(x, t2, lp2, toy_velocity, &m, sig, N, &cfg, B, n) == 0, "ODE reports log-probs");
    EXPECT(memcmp(t2, t1, sizeof(float) * B * n) == 0, "FLOW_INIT_GIVEN: traj[0] is not the given x");
    int zeros = 1;
    for (int k = 0; k < N * B; k++) zeros &= lp2[k] == 0.0f;
    EXPECT(zeros, "ODE log-probs are not 0");
    flow_sample(x2, NULL, NULL, toy_velocity, &m, sig, N, &cfg, B, n);
    EXPECT(memcmp(x, x2, sizeof(float) * B * n) == 0, "ODE with and without a trajectory buffer differ");

    // the noise of every step and the initial noise come from distinct streams
    float *e0 = cg_malloc(sizeof(float) * B * n), *e1 = cg_malloc(sizeof(float) * B * n);
    flow_init_noise(x, 5, 42, 0, B, n);
    flow_step_noise(e0, 5, 42, 0, B, n);
    flow_step_noise(e1, 5, 42, 1, B, n);
    differ = 0;
    for (size_t k = 0; k < (size_t)B * n; k++) differ += (x[k] != e0[k]) + (e0[k] != e1[k]) + (x[k] != e1[k]);
    EXPECT(differ == 3 * (size_t)B * n, "initial and step noises share values (%zu of %zu differ)", differ,
           3 * (size_t)B * n);
    free(t1), free(t2), free(t3), free(x), free(x2), free(e0), free(e1);
}

static void test_names_and_checks(void) {
    flow_kind k = FLOW_ODE;
    char err[256];
    EXPECT(flow_kind_parse("dance", &k, err, sizeof(err)) == 0 && k == FLOW_SDE_DANCE, "parse dance");
    EXPECT(flow_kind_parse("flow", &k, err, sizeof(err)) == 0 && k == FLOW_SDE_FLOW, "parse flow");
    EXPECT(flow_kind_parse("ode", &k, err, sizeof(err)) == 0 && k == FLOW_ODE, "parse ode");
    EXPECT(flow_kind_parse("sde", &k, err, sizeof(err)) == -1 && strstr(err, "'sde'"), "parse sde: %s", err);
    flow_sampler cfg = {FLOW_SDE_FLOW, -0.1f, FLOW_INIT_NOISE, 0, 0};
    EXPECT(flow_sampler_check(&cfg, err, sizeof(err)) == -1, "negative eta accepted");
    cfg.eta = NAN;
    EXPECT(flow_sampler_check(&cfg, err, sizeof(err)) == -1, "NaN eta accepted");
    cfg.eta = 0.7f;
    EXPECT(flow_sampler_check(&cfg, err, sizeof(err)) == 0, "valid sampler rejected: %s", err);
}

int main(int argc, char **argv) {
    // fixtures live in tests/fixtures/sampler: relative to the working directory (make test runs
    // from the repository root) or else to the program (BUILD/tests/test_sampler)
    FILE *probe = fopen("tests/fixtures/sampler/steps.cgfx", "rb");
    if (probe) {
        fclose(probe);
    } else if (argc > 0) {
        const char *slash = strrchr(argv[0], '/');
        int len = slash ? (int)(slash - argv[0]) : 1;
        snprintf(fixture_dir, sizeof(fixture_dir), "%.*s/../../tests/fixtures/sampler", len, slash ? argv[0] : ".");
    }
    RUN(test_schedule_vs_twin);
    RUN(test_steps_vs_twin);
    RUN(test_logprob_grad_fd);
    RUN(test_step_statistics);
    RUN(test_logprob_recompute_bitexact);
    RUN(test_zero_noise_guard);
    RUN(test_gaussian_toy);
    RUN(test_cfg);
    RUN(test_determinism);
    RUN(test_names_and_checks);
    return test_summary("sampler");
}
