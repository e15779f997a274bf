// reward_metrics.h: the encoder metrics of `cgrpo eval-rewards` over several subjects worlds. The
// metrics themselves (RmSet, RmIdentity, RmPrompt, RmAttr, rm_identity, ...) are defined in
// train/enc_metrics.h, below eval, because encoder training selects its model with them.
#ifndef CGRPO_EVAL_REWARD_METRICS_H
#define CGRPO_EVAL_REWARD_METRICS_H

#include "train/enc_metrics.h"

// Means over K evaluations (one per subjects world, each among that world's own subjects): every
// share and score is the plain mean of the K values (std_true: the mean of the K stds); counts are
// summed. K >= 1; out may not alias r.
void rm_identity_mean(const RmIdentity *r, int K, RmIdentity *out);
void rm_prompt_mean(const RmPrompt *r, int K, RmPrompt *out);
void rm_attr_mean(const RmAttr *r, int K, RmAttr *out);

#endif
