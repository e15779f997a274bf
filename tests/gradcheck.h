// gradcheck.h: central finite-difference checks of hand-written backward passes (tests only).
//
// Recipe (ggml test-backend-ops "grad" mode, on tiny shapes):
//   1. Write a probe callback that runs the forward pass on the CURRENT contents of the input and
//      weight buffers and returns a scalar in double, usually L = sum(out * R) for a fixed random
//      probe tensor R (gc_dot does the sum), or a loss times a fixed weight.
//   2. Run the backward once with dout = R (or dloss = that weight) into zeroed gradient buffers.
//   3. For each buffer x with analytic gradient g:
//        double worst = gradcheck("linear.dw", w, dw, OC * C, probe, &ctx, 1e-3f, 1e-2);
//        EXPECT(worst < 1e-2, "worst relative error %g", worst);
// gradcheck nudges x[i] to x[i] +- eps in place and restores it exactly afterwards, so the probe
// must read x through the same pointer. The numeric derivative divides by the step actually taken
// in float, (float)(x + eps) - (float)(x - eps), not by 2 eps.
//
// Error measure: rel = |a - n| / max(GC_REL_FLOOR, |a| + |n|). The floor keeps gradients that are
// zero (or nearly) from turning float rounding noise into huge relative errors.
// It prints one summary line per call to stdout and the first mismatches (rel > tol) to stderr.
#ifndef CGRPO_GRADCHECK_H
#define CGRPO_GRADCHECK_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "nn/optim.h"
#include "test.h"

#ifndef GC_REL_FLOOR
#define GC_REL_FLOOR 1e-3
#endif
#define GC_MAX_REPORTED 5

typedef double (*gc_probe_fn)(void *ctx);

// p (n) = offset + scale * the normal draws of Philox stream (seed, stream)
static inline void gc_fill_normal(float *p, size_t n, uint64_t seed, uint64_t stream, float scale, float offset) {
    cg_rng_fill_normal(p, n, seed, stream, 0);
    for (size_t i = 0; i < n; i++) p[i] = offset + scale * p[i];
}
// the same into a new buffer (the caller frees it)
static inline float *gc_randn(size_t n, uint64_t seed, uint64_t stream, float scale, float shift) {
    float *x = cg_malloc(n * sizeof(float));
    gc_fill_normal(x, n, seed, stream, scale, shift);
    return x;
}
// n zeros (the caller frees them)
static inline float *gc_zeros(size_t n) { return cg_calloc(n, sizeof(float)); }

// sum(out * r) over n elements, in double
static inline double gc_dot(const float *out, const float *r, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)out[i] * r[i];
    return s;
}

// Returns the worst relative error over the n elements of x (see the header comment).
static inline double gradcheck(const char *name, float *x, const float *grad, size_t n,
                               gc_probe_fn probe, void *ctx, float eps, double tol) {
    double worst = 0.0;
    size_t worst_i = 0, n_bad = 0;
    double worst_a = 0.0, worst_n = 0.0;
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i];
        float xp = x0 + eps, xm = x0 - eps;
        x[i] = xp;
        double lp = probe(ctx);
        x[i] = xm;
        double lm = probe(ctx);
        x[i] = x0;
        double num = (lp - lm) / ((double)xp - (double)xm);
        double ana = grad[i];
        double den = fabs(ana) + fabs(num);
        double rel = fabs(ana - num) / (den > GC_REL_FLOOR ? den : GC_REL_FLOOR);
        if (!(rel <= tol)) { // also catches NaN
            if (n_bad < GC_MAX_REPORTED)
                fprintf(stderr, "    gradcheck %s[%zu]: analytic %.8g numeric %.8g rel %.3g\n", name,
                        i, ana, num, rel);
            n_bad++;
        }
        if (!isnan(worst) && !(rel <= worst)) { // a NaN, once seen, sticks
            worst = rel;
            worst_i = i, worst_a = ana, worst_n = num;
        }
    }
    printf("    gradcheck %-22s n=%-4zu worst rel err %.2e at [%zu] (analytic %.6g numeric %.6g)%s\n",
           name, n, worst, worst_i, worst_a, worst_n, n_bad ? "  MISMATCH" : "");
    return worst;
}

// EXPECTs that the tensors of t whose names start with `live` have gradient in grads (some element
// non-zero) and every other tensor exactly none; `why` names the reason in the messages.
static inline void gc_expect_grad_only(const ParamTable *t, const float *grads, const char *live, const char *why) {
    for (int i = 0; i < t->n; i++) {
        const ParamSpec *s = &t->specs[i];
        double norm = 0;
        for (size_t j = 0; j < s->count; j++) norm += fabs((double)grads[s->offset + j]);
        if (strncmp(s->name, live, strlen(live)) == 0) EXPECT(norm > 0, "%s should receive gradient (%s)", s->name, why);
        else EXPECT(norm == 0, "%s has gradient %g (%s)", s->name, norm, why);
    }
}

// ---- the 5-point check over whole tensors (blocks, models, encoders) --------------------------------
//
// fd = (L(-2h) - 8 L(-h) + 8 L(h) - L(2h)) / 12h on up to per_tensor elements of every tensor (all
// of a smaller one, else random ones drawn from Philox (seed, stream)). Pass: |fd - an| <= rtol |an|
// + atol, an EXPECT for the first 3 misses of a tensor. Why it works in float32: a probe of size
// ~1-10 carries rounding noise ~1e-6, ~1e-5 after dividing by 12h (h = 2^-7); the stencil's
// truncation error is O(h^4); a wrong backward is off by O(1) relative.

// A tensor under check: its values (nudged and restored in place) and its analytic gradient.
typedef struct {
    char name[PARAM_NAME_MAX + 8];
    float *val, *grad;
    size_t count;
} GcTensor;

// Every tensor of a table as (prefix + name, params + offset, grads + offset), appended at out[n];
// returns the new count (at most max).
static inline int gc_table_tensors(GcTensor *out, int n, int max, const ParamTable *t, float *params, float *grads,
                                   const char *prefix) {
    for (int i = 0; i < t->n && n < max; i++) {
        const ParamSpec *s = &t->specs[i];
        GcTensor x = {"", params + s->offset, grads + s->offset, s->count};
        snprintf(x.name, sizeof(x.name), "%s%s", prefix, s->name);
        out[n++] = x;
    }
    return n;
}

// Returns the number of checked elements whose gradient is clearly non-zero (|an| > 10 atol);
// *checked (may be NULL) receives how many were checked. Prints the worst |fd - an| / (|an| +
// atol / rtol) with the tensor it is in.
static inline int gc_fd_tensors(const char *what, GcTensor *ts, int nt, gc_probe_fn probe, void *ctx, double h,
                                int per_tensor, double rtol, double atol, uint64_t seed, uint64_t stream,
                                int *checked) {
    cg_rng pick = cg_rng_make(seed, stream);
    const double steps[4] = {-2 * h, -h, h, 2 * h};
    double worst = 0;
    const char *worst_name = "";
    int n_checked = 0, nonzero = 0;
    for (int i = 0; i < nt; i++) {
        int nprobe = ts[i].count < (size_t)per_tensor ? (int)ts[i].count : per_tensor, bad = 0;
        for (int q = 0; q < nprobe; q++) {
            size_t j = ts[i].count <= (size_t)per_tensor ? (size_t)q : cg_rng_below(&pick, (uint32_t)ts[i].count);
            const float orig = ts[i].val[j];
            double L[4];
            for (int k = 0; k < 4; k++) {
                ts[i].val[j] = (float)(orig + steps[k]);
                L[k] = probe(ctx);
            }
            ts[i].val[j] = orig;
            const double fd = (L[0] - 8 * L[1] + 8 * L[2] - L[3]) / (12 * h), an = ts[i].grad[j];
            const double err = fabs(fd - an), tol = rtol * fabs(an) + atol, rel = err / (fabs(an) + atol / rtol);
            if (rel > worst) worst = rel, worst_name = ts[i].name;
            if (!(err <= tol) && bad++ < 3)
                EXPECT(err <= tol, "%s: %s[%zu]: analytic %.8g vs finite difference %.8g", what, ts[i].name, j, an, fd);
            n_checked++;
            nonzero += fabs(an) > 10 * atol;
        }
    }
    printf("     %s: %d elements of %d tensors (%d clearly non-zero), worst |fd - an| / (|an| + %.0e) = %.2e in %s\n",
           what, n_checked, nt, nonzero, atol / rtol, worst, worst_name);
    if (checked) *checked = n_checked;
    return nonzero;
}

#endif
