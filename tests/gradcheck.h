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

#include "core/check.h"
#include "core/rng.h"

#ifndef GC_REL_FLOOR
#define GC_REL_FLOOR 1e-3
#endif
#define GC_MAX_REPORTED 5

typedef double (*gc_probe_fn)(void *ctx);

// n normal draws of Philox stream (seed, stream) times scale plus shift (the caller frees them)
static inline float *gc_randn(size_t n, uint64_t seed, uint64_t stream, float scale, float shift) {
    float *x = cg_malloc(n * sizeof(float));
    cg_rng_fill_normal(x, n, seed, stream, 0);
    for (size_t i = 0; i < n; i++) x[i] = x[i] * scale + shift;
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

#endif
