// diagnostics.h: what one GRPO iteration's rollouts say about the training signal (issue 18).
// Pure functions over the trainer's flat buffers; trainer.c logs their results per iteration.
//
// Within-group spread. GRPO learns only from how the rewards vary inside a group, so the logged
// figure is the mean over groups of each reward's unbiased within-group standard deviation
// ("reward_id_gstd", "reward_prompt_gstd"), not the spread over the whole batch (which mixes the
// pairs' different difficulty).
//
// Does copying pay? The copy distance of an image is its mean squared pixel difference to the
// plain reference the generator was given: 0 is a pasted reference. Per group, the Pearson
// correlation of "copiness" (minus the copy distance) with
//   the identity reward         copy_corr_id     > 0: the identity reward pays for copying
//   the prompt reward           copy_corr_prompt < 0: the prompt reward charges for it
//   the trained advantage       copy_corr_adv    > 0: the update pushes the generator to copy
// (the advantage of a sample is its mean over the N steps). Each is averaged over the groups in
// which it is defined (neither series constant); NaN when no group defines it. Naive aggregation
// drifts into copy-paste exactly when copy_corr_adv stays positive.
#ifndef CGRPO_RL_DIAGNOSTICS_H
#define CGRPO_RL_DIAGNOSTICS_H

#include <stddef.h>

enum { DIAG_CORR_ID, DIAG_CORR_PROMPT, DIAG_CORR_ADV, DIAG_N_CORR };

typedef struct {
    double gstd[2];               // mean within-group std of the identity and prompt rewards
    double copy_dist;             // mean copy distance over the P G images
    double copy_corr[DIAG_N_CORR];// mean per-group correlations (see above), NaN when undefined
} RolloutDiag;

// Pearson correlation of x and y (n), or NaN when n < 2 or either is constant.
double diag_pearson(const double *x, const double *y, int n);

// Mean squared difference of a and b (n floats).
double diag_copy_distance(const float *a, const float *b, size_t n);

// The diagnostics of P groups of G images:
//   scores (2, P G)   rows identity, prompt (the trainer's layout)
//   adv    (P G, N)   the advantages that train the samples
//   images (P G, n)   the final samples; ref (P G, n) the plain reference of each sample
void diag_rollouts(RolloutDiag *d, const float *scores, const float *adv, int N, const float *images, const float *ref,
                   size_t n, int P, int G);

// sqrt(sum (a - b)^2) over n floats (the size of an update or the drift from the base).
double diag_l2_distance(const float *a, const float *b, size_t n);

#endif
