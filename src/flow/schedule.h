// schedule.h: the sigma (noise level) schedule of rectified-flow sampling (docs/design.md).
//
// Rectified flow: x_s = (1 - s) x0 + s e, s in [0, 1], s = 1 is pure noise, s = 0 is data.
// A sampler with N steps visits sigmas[0] = 1 > sigmas[1] > ... > sigmas[N] = 0:
//   sigmas[i] = shift(1 - i / N),   shift(s) = k s / (1 + (k - 1) s)   (SD3 / FLUX "time shift").
// k > 1 spends more of the steps at high noise (k = 3 is the default); k = 1 is the plain
// linspace. The end points are exactly 1 and 0 for every k.
#ifndef CGRPO_FLOW_SCHEDULE_H
#define CGRPO_FLOW_SCHEDULE_H

#include <stddef.h>

#define FLOW_DEFAULT_SHIFT 3.0f

// shift(s) = k s / (1 + (k - 1) s), in double; k > 0
double flow_shift(double s, double k);

// sigmas (N + 1): the shifted schedule above, computed in double and rounded once to float.
// Needs N >= 1 and a finite shift > 0 (an internal check: validate user values with
// flow_schedule_check first).
void flow_sigmas(float *sigmas, int N, float shift);

// Validates user-supplied schedule parameters: 0, or -1 with a one-line reason in err.
// N must be in [1, FLOW_MAX_STEPS], shift finite and > 0, and the rounded sigmas strictly
// decreasing (an extreme shift with many steps can make two of them equal).
#define FLOW_MAX_STEPS 10000
int flow_schedule_check(int N, float shift, char *err, size_t errlen);

#endif
