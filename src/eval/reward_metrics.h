// reward_metrics.h: the encoder metrics of `cgrpo eval-rewards` over several subjects worlds. The
// metrics themselves (RmSet, RmIdentity, RmPrompt, RmAttr, rm_identity, ...) are defined in
// train/enc_metrics.h, below eval, because encoder training selects its model with them.
#ifndef CGRPO_EVAL_REWARD_METRICS_H
#define CGRPO_EVAL_REWARD_METRICS_H

#include <stddef.h>

#include "train/enc_metrics.h"

// One field of a metrics struct (RmIdentity, RmPrompt, RmAttr): its key in `cgrpo eval-rewards`'
// JSON (NULL: not written there), where it is, and its kind.
typedef struct {
    const char *name;
    size_t offset;
    int count; // 1: a long count (summed over worlds); 0: a double share or score (averaged)
} RmField;
// Every field of a struct, the named ones first in their JSON order.
typedef struct {
    const RmField *f;
    int n;
} RmFields;
extern const RmFields RM_IDENTITY_FIELDS, RM_PROMPT_FIELDS, RM_ATTR_FIELDS;

// out = the means over K structs at r, stride bytes apart (of the struct fs describes; counts
// summed). K >= 1; out may not alias r.
void rm_fields_mean(const RmFields *fs, const void *r, size_t stride, int K, void *out);

// Means over K evaluations (one per subjects world, each among that world's own subjects): every
// share and score is the plain mean of the K values (std_true: the mean of the K stds); counts are
// summed. K >= 1; out may not alias r.
void rm_identity_mean(const RmIdentity *r, int K, RmIdentity *out);
void rm_prompt_mean(const RmPrompt *r, int K, RmPrompt *out);
void rm_attr_mean(const RmAttr *r, int K, RmAttr *out);

#endif
