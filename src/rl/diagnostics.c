// diagnostics.c: within-group reward spread, copy correlations, parameter distances (diagnostics.h).
#include "rl/diagnostics.h"

#include <math.h>
#include <stdlib.h>

#include "core/check.h"

double diag_pearson(const double *x, const double *y, int n) {
    if (n < 2) return NAN;
    double mx = 0.0, my = 0.0;
    for (int i = 0; i < n; i++) mx += x[i], my += y[i];
    mx /= n, my /= n;
    double sxy = 0.0, sxx = 0.0, syy = 0.0;
    for (int i = 0; i < n; i++) {
        const double a = x[i] - mx, b = y[i] - my;
        sxy += a * b, sxx += a * a, syy += b * b;
    }
    if (!(sxx > 0.0) || !(syy > 0.0)) return NAN;
    return sxy / sqrt(sxx * syy);
}

double diag_copy_distance(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)a[i] - b[i];
        s += d * d;
    }
    return n ? s / (double)n : 0.0;
}

static double unbiased_std(const double *x, int n) {
    if (n < 2) return 0.0;
    double m = 0.0, ss = 0.0;
    for (int i = 0; i < n; i++) m += x[i];
    m /= n;
    for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m);
    return sqrt(ss / (n - 1));
}

void diag_rollouts(RolloutDiag *d, const float *scores, const float *adv, int N, const float *images, const float *ref,
                   size_t n, int P, int G) {
    CG_CHECK(P >= 1 && G >= 1 && N >= 1, "P %d G %d N %d", P, G, N);
    const int B = P * G;
    double *copy = cg_malloc((size_t)G * sizeof(double)), *series = cg_malloc((size_t)G * sizeof(double));
    double corr_sum[DIAG_N_CORR] = {0}, gstd_sum[2] = {0}, dist_sum = 0.0;
    int corr_n[DIAG_N_CORR] = {0};
    for (int p = 0; p < P; p++) {
        for (int g = 0; g < G; g++) {
            const size_t b = (size_t)p * G + g;
            const double dist = diag_copy_distance(images + b * n, ref + b * n, n);
            dist_sum += dist;
            copy[g] = -dist;
        }
        for (int k = 0; k < DIAG_N_CORR; k++) {
            for (int g = 0; g < G; g++) {
                const size_t b = (size_t)p * G + g;
                if (k == DIAG_CORR_ADV) {
                    double s = 0.0;
                    for (int t = 0; t < N; t++) s += adv[b * N + t];
                    series[g] = s / N;
                } else {
                    series[g] = scores[(size_t)k * B + b];
                }
            }
            if (k != DIAG_CORR_ADV) gstd_sum[k] += unbiased_std(series, G);
            const double c = diag_pearson(copy, series, G);
            if (isfinite(c)) corr_sum[k] += c, corr_n[k]++;
        }
    }
    for (int k = 0; k < 2; k++) d->gstd[k] = gstd_sum[k] / P;
    for (int k = 0; k < DIAG_N_CORR; k++) d->copy_corr[k] = corr_n[k] ? corr_sum[k] / corr_n[k] : NAN;
    d->copy_dist = dist_sum / B;
    free(copy), free(series);
}

double diag_l2_distance(const float *a, const float *b, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = (double)a[i] - b[i];
        s += d * d;
    }
    return sqrt(s);
}
