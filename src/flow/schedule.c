// schedule.c: the shifted sigma schedule (see schedule.h).
#include "flow/schedule.h"

#include <math.h>

#include "core/check.h"

double flow_shift(double s, double k) { return k * s / (1.0 + (k - 1.0) * s); }

void flow_sigmas(float *sigmas, int N, float shift) {
    CG_CHECK(N >= 1 && N <= FLOW_MAX_STEPS, "flow_sigmas: N = %d", N);
    CG_CHECK(isfinite(shift) && shift > 0.0f, "flow_sigmas: shift = %g", (double)shift);
    for (int i = 0; i <= N; i++) {
        double t = 1.0 - (double)i / (double)N; // linspace(1, 0, N + 1)
        sigmas[i] = (float)flow_shift(t, (double)shift);
    }
    // exact end points whatever the rounding of k s / (1 + (k - 1) s) did
    sigmas[0] = 1.0f;
    sigmas[N] = 0.0f;
}

int flow_schedule_check(int N, float shift, char *err, size_t errlen) {
    if (N < 1 || N > FLOW_MAX_STEPS)
        return cg_errf(err, errlen, "number of sampling steps must be in [1, %d], got %d", FLOW_MAX_STEPS, N);
    if (!isfinite(shift) || shift <= 0.0f)
        return cg_errf(err, errlen, "schedule shift must be a finite number > 0, got %g", (double)shift);
    // an extreme shift with many steps can round two neighbouring sigmas to the same float:
    // a step with dS = 0 is not a step, so refuse it here rather than fail in the sampler
    float prev = 1.0f;
    for (int i = 1; i <= N; i++) {
        float cur = i == N ? 0.0f : (float)flow_shift(1.0 - (double)i / (double)N, (double)shift);
        if (!(cur < prev))
            return cg_errf(err, errlen,
                           "schedule shift %g with %d steps rounds sigmas %d and %d to the same value %g",
                           (double)shift, N, i - 1, i, (double)cur);
        prev = cur;
    }
    return 0;
}
