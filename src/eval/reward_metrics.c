// reward_metrics.c: means of the encoder metrics over several subjects worlds. See
// reward_metrics.h.
#include "eval/reward_metrics.h"

#include <stddef.h>

#include "core/check.h"

// mean of a double field over K structs, sum of a long field
#define MEAN_OF(r, K, field) mean_of(&(r)[0].field, sizeof((r)[0]), (K))
#define SUM_OF(r, K, field) sum_of(&(r)[0].field, sizeof((r)[0]), (K))
static double mean_of(const double *first, size_t stride, int K) {
    double s = 0;
    for (int k = 0; k < K; k++) s += *(const double *)((const char *)first + (size_t)k * stride);
    return s / K;
}
static long sum_of(const long *first, size_t stride, int K) {
    long s = 0;
    for (int k = 0; k < K; k++) s += *(const long *)((const char *)first + (size_t)k * stride);
    return s;
}

void rm_identity_mean(const RmIdentity *r, int K, RmIdentity *out) {
    CG_CHECK(K >= 1 && out != r, "rm_identity_mean: K %d", K);
    out->top1_ctx = MEAN_OF(r, K, top1_ctx);
    out->top1_prop = MEAN_OF(r, K, top1_prop);
    out->top1_all = MEAN_OF(r, K, top1_all);
    for (int j = 0; j < 4; j++) {
        out->top1_kind[j] = MEAN_OF(r, K, top1_kind[j]);
        out->n_kind[j] = SUM_OF(r, K, n_kind[j]);
    }
    out->order_ctx = MEAN_OF(r, K, order_ctx);
    out->order_prop = MEAN_OF(r, K, order_prop);
    out->mean_true = MEAN_OF(r, K, mean_true);
    out->std_true = MEAN_OF(r, K, std_true);
    out->mean_other = MEAN_OF(r, K, mean_other);
    out->mean_true_prop = MEAN_OF(r, K, mean_true_prop);
    out->n_ctx = SUM_OF(r, K, n_ctx);
    out->n_prop = SUM_OF(r, K, n_prop);
    out->pairs_ctx = SUM_OF(r, K, pairs_ctx);
    out->pairs_prop = SUM_OF(r, K, pairs_prop);
}

void rm_prompt_mean(const RmPrompt *r, int K, RmPrompt *out) {
    CG_CHECK(K >= 1 && out != r, "rm_prompt_mean: K %d", K);
    out->top1_all = MEAN_OF(r, K, top1_all);
    for (int j = 0; j < 4; j++) {
        out->top1_kind[j] = MEAN_OF(r, K, top1_kind[j]);
        out->n_kind[j] = SUM_OF(r, K, n_kind[j]);
    }
    out->order = MEAN_OF(r, K, order);
    out->mean_true = MEAN_OF(r, K, mean_true);
    out->std_true = MEAN_OF(r, K, std_true);
    out->mean_other = MEAN_OF(r, K, mean_other);
    out->n = SUM_OF(r, K, n);
    out->pairs = SUM_OF(r, K, pairs);
}

void rm_attr_mean(const RmAttr *r, int K, RmAttr *out) {
    CG_CHECK(K >= 1 && out != r, "rm_attr_mean: K %d", K);
    for (int h = 0; h < ATTR_N_HEADS; h++) {
        out->acc_all[h] = MEAN_OF(r, K, acc_all[h]);
        out->acc_present[h] = MEAN_OF(r, K, acc_present[h]);
        out->n_present[h] = SUM_OF(r, K, n_present[h]);
    }
    out->n_all = SUM_OF(r, K, n_all);
}
