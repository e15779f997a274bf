// forward_cache.h: the rollout's own forwards, kept for the policy update (docs/design.md, "One
// GRPO iteration").
//
// At the first optimizer step of an iteration the policy still has the rollout's weights, and the
// update (rl/grpo.h) recomputes the velocity of each trained step with the rollout's batch layout,
// so it gets exactly the forward the rollout already ran: the same v, bit for bit, and the same
// activations. The cache keeps those forwards, for the (group, step) pairs the update will train
// (epoch 0's subsets, drawn before the rollout), and the update runs only the backward on them.
// Results are identical with and without the cache; it trades memory for time: one slot holds a
// forward's activations for the rollout's rows (dit_saved_acts_bytes) plus its velocity (G, n).
//
//   ForwardCache fc; forward_cache_create(&fc, &policy, P, K, G, budget_bytes);
//   forward_cache_plan(&fc, subset);             // (P, K) steps each group trains, epoch 0
//   rollout_sample_cached(..., &fc);             // keeps the planned forwards (rl/rollout.h)
//   slot = forward_cache_find(&fc, p, step);     // NULL: not kept (or the weights have moved)
//   forward_cache_invalidate(&fc);               // after the optimizer step
//
// The budget decides how many slots exist (P K at most); when fewer fit, groups 0, 1, ... get
// theirs first and the others are recomputed as before.
#ifndef CGRPO_RL_FORWARD_CACHE_H
#define CGRPO_RL_FORWARD_CACHE_H

#include <stddef.h>

#include "models/dit.h"

typedef struct {
    DiTSavedActs acts; // the forward's activations (rows as the rollout laid them out)
    float *v;          // (G, n) the velocity that forward returned
    int p, step;       // the group and the step it belongs to; -1 when unplanned
    int filled;        // 1 once the rollout has run that forward
} ForwardSlot;

typedef struct {
    int P, K, G;       // P: the groups served, p_first .. p_first + P - 1
    int p_first;       // the first group served (0; a rank's first group under MPI, core/dist.h)
    size_t n;          // floats per image
    int n_slots;       // slots allocated: min(P K, what the budget holds)
    ForwardSlot *slots; // (n_slots) slot p K + k holds group p's k-th trained step
    int valid;         // 1 between the rollout and the first change of the weights
} ForwardCache;

// Bytes one slot takes for model m with G samples per group.
size_t forward_cache_slot_bytes(const DiTModel *m, int G);
// Allocates min(P K, budget_bytes / slot bytes) slots (0 slots: a cache that keeps nothing).
void forward_cache_create(ForwardCache *fc, const DiTModel *m, int P, int K, int G, size_t budget_bytes);
void forward_cache_free(ForwardCache *fc);
// subset (P, K): the steps group p trains, ascending. Empties every slot and plans them.
void forward_cache_plan(ForwardCache *fc, const int *subset);
// The planned slot of (group p, step), or NULL; with filled_only, only a slot the rollout filled
// while the cache is valid.
ForwardSlot *forward_cache_find(ForwardCache *fc, int p, int step, int filled_only);
void forward_cache_invalidate(ForwardCache *fc);

// The sampler callback that keeps the planned forwards of one group (flow_velocity_fn): ctx is a
// ForwardCacheVelocity. A planned step's forward runs into its slot's activations and its v is
// copied there; every other step is a plain dit_velocity.
typedef struct {
    DiTVelocity *inner;
    ForwardCache *fc;
    int p;
} ForwardCacheVelocity;
void forward_cache_velocity(void *ctx, float *v, const float *x, float sigma, int step, int B);

#endif
