// reward_metrics.c: means of the encoder metrics over several subjects worlds. See
// reward_metrics.h.
#include "eval/reward_metrics.h"

#include "core/check.h"

// ---- the fields of each metrics struct --------------------------------------------------------------

#define D(name, st, field) {name, offsetof(st, field), 0}
#define N(name, st, field) {name, offsetof(st, field), 1}
static const RmField IDENTITY[] = {
    D("top1_ctx", RmIdentity, top1_ctx), D("top1_prop", RmIdentity, top1_prop),
    D("top1_all", RmIdentity, top1_all), D("top1_scene", RmIdentity, top1_kind[PROMPT_SCENE]),
    D("top1_accessory", RmIdentity, top1_kind[PROMPT_ACCESSORY]), D("order_ctx", RmIdentity, order_ctx),
    D("order_prop", RmIdentity, order_prop), D("score_true_mean", RmIdentity, mean_true),
    D("score_true_std", RmIdentity, std_true), D("score_other_mean", RmIdentity, mean_other),
    D("score_true_prop_mean", RmIdentity, mean_true_prop), N("n_ctx", RmIdentity, n_ctx),
    N("n_prop", RmIdentity, n_prop), N("pairs_ctx", RmIdentity, pairs_ctx),
    N("pairs_prop", RmIdentity, pairs_prop), D(NULL, RmIdentity, top1_kind[PROMPT_PLAIN]),
    D(NULL, RmIdentity, top1_kind[PROMPT_PROPERTY]), N(NULL, RmIdentity, n_kind[PROMPT_PLAIN]),
    N(NULL, RmIdentity, n_kind[PROMPT_SCENE]), N(NULL, RmIdentity, n_kind[PROMPT_ACCESSORY]),
    N(NULL, RmIdentity, n_kind[PROMPT_PROPERTY]),
};
static const RmField PROMPT[] = {
    D("top1", RmPrompt, top1_all), D("top1_scene", RmPrompt, top1_kind[PROMPT_SCENE]),
    D("top1_accessory", RmPrompt, top1_kind[PROMPT_ACCESSORY]), D("top1_property", RmPrompt, top1_kind[PROMPT_PROPERTY]),
    D("order", RmPrompt, order), D("score_true_mean", RmPrompt, mean_true),
    D("score_true_std", RmPrompt, std_true), D("score_other_mean", RmPrompt, mean_other),
    N("n", RmPrompt, n), N("pairs", RmPrompt, pairs),
    D(NULL, RmPrompt, top1_kind[PROMPT_PLAIN]), N(NULL, RmPrompt, n_kind[PROMPT_PLAIN]),
    N(NULL, RmPrompt, n_kind[PROMPT_SCENE]), N(NULL, RmPrompt, n_kind[PROMPT_ACCESSORY]),
    N(NULL, RmPrompt, n_kind[PROMPT_PROPERTY]),
};
static const RmField ATTR[] = {
    D(NULL, RmAttr, acc_all[0]),     D(NULL, RmAttr, acc_all[1]),     D(NULL, RmAttr, acc_all[2]),
    D(NULL, RmAttr, acc_all[3]),     D(NULL, RmAttr, acc_present[0]), D(NULL, RmAttr, acc_present[1]),
    D(NULL, RmAttr, acc_present[2]), D(NULL, RmAttr, acc_present[3]), N(NULL, RmAttr, n_all),
    N(NULL, RmAttr, n_present[0]),   N(NULL, RmAttr, n_present[1]),   N(NULL, RmAttr, n_present[2]),
    N(NULL, RmAttr, n_present[3]),
};
#undef D
#undef N
// every field listed: a field added to a struct must be added above
_Static_assert(sizeof(RmIdentity) == 13 * sizeof(double) + 8 * sizeof(long), "RmIdentity has fields IDENTITY lacks");
_Static_assert(sizeof(RmPrompt) == 9 * sizeof(double) + 6 * sizeof(long), "RmPrompt has fields PROMPT lacks");
_Static_assert(ATTR_N_HEADS == 4 && sizeof(RmAttr) == 8 * sizeof(double) + 5 * sizeof(long), "RmAttr has fields ATTR lacks");

#define FIELDS(t) {t, (int)(sizeof t / sizeof t[0])}
const RmFields RM_IDENTITY_FIELDS = FIELDS(IDENTITY);
const RmFields RM_PROMPT_FIELDS = FIELDS(PROMPT);
const RmFields RM_ATTR_FIELDS = FIELDS(ATTR);
#undef FIELDS

// ---- means ------------------------------------------------------------------------------------------

void rm_fields_mean(const RmFields *fs, const void *r, size_t stride, int K, void *out) {
    CG_CHECK(K >= 1 && out != r, "rm_fields_mean: K %d", K);
    for (int i = 0; i < fs->n; i++) {
        const RmField *f = &fs->f[i];
        const char *first = (const char *)r + f->offset;
        if (f->count) { // a count: the sum
            long s = 0;
            for (int k = 0; k < K; k++) s += *(const long *)(first + (size_t)k * stride);
            *(long *)((char *)out + f->offset) = s;
        } else { // a share or a score: the mean
            double s = 0;
            for (int k = 0; k < K; k++) s += *(const double *)(first + (size_t)k * stride);
            *(double *)((char *)out + f->offset) = s / K;
        }
    }
}

void rm_identity_mean(const RmIdentity *r, int K, RmIdentity *out) {
    rm_fields_mean(&RM_IDENTITY_FIELDS, r, sizeof *r, K, out);
}

void rm_prompt_mean(const RmPrompt *r, int K, RmPrompt *out) { rm_fields_mean(&RM_PROMPT_FIELDS, r, sizeof *r, K, out); }

void rm_attr_mean(const RmAttr *r, int K, RmAttr *out) { rm_fields_mean(&RM_ATTR_FIELDS, r, sizeof *r, K, out); }
