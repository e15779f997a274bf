// forward_cache.c: the rollout's forwards kept for the update (see forward_cache.h).
#include "rl/forward_cache.h"

#include <stdlib.h>
#include <string.h>

#include "core/check.h"

size_t forward_cache_slot_bytes(const DiTModel *m, int G) {
    return dit_saved_acts_bytes(&m->cfg, m->max_B) + (size_t)G * dit_image_floats(&m->cfg) * sizeof(float);
}

void forward_cache_create(ForwardCache *fc, const DiTModel *m, int P, int K, int G, size_t budget_bytes) {
    CG_CHECK(P >= 1 && K >= 1 && G >= 1, "forward cache for P %d, K %d, G %d", P, K, G);
    memset(fc, 0, sizeof(*fc));
    fc->P = P, fc->K = K, fc->G = G;
    fc->n = dit_image_floats(&m->cfg);
    const size_t per = forward_cache_slot_bytes(m, G), want = (size_t)P * (size_t)K;
    const size_t fit = budget_bytes / per;
    fc->n_slots = (int)(fit < want ? fit : want);
    fc->slots = fc->n_slots ? cg_calloc((size_t)fc->n_slots, sizeof(ForwardSlot)) : NULL;
    for (int s = 0; s < fc->n_slots; s++) {
        dit_saved_acts_create(&fc->slots[s].acts, m);
        fc->slots[s].v = cg_malloc((size_t)G * fc->n * sizeof(float));
        fc->slots[s].p = fc->slots[s].step = -1;
    }
}

void forward_cache_free(ForwardCache *fc) {
    for (int s = 0; s < fc->n_slots; s++) {
        dit_saved_acts_free(&fc->slots[s].acts);
        free(fc->slots[s].v);
    }
    free(fc->slots);
    memset(fc, 0, sizeof(*fc));
}

void forward_cache_plan(ForwardCache *fc, const int *subset) {
    for (int s = 0; s < fc->n_slots; s++) {
        ForwardSlot *sl = &fc->slots[s];
        sl->p = fc->p_first + s / fc->K;
        sl->step = subset[(size_t)fc->p_first * fc->K + s]; // subset (p_first + P, K) row-major: slot (p - p_first) K + k
        sl->filled = 0;
    }
    fc->valid = 1;
}

ForwardSlot *forward_cache_find(ForwardCache *fc, int p, int step, int filled_only) {
    if (!fc || !fc->valid || p < fc->p_first || p >= fc->p_first + fc->P) return NULL;
    const int first = (p - fc->p_first) * fc->K;
    for (int k = 0; k < fc->K && first + k < fc->n_slots; k++) {
        ForwardSlot *sl = &fc->slots[first + k];
        if (sl->step == step) return !filled_only || sl->filled ? sl : NULL;
    }
    return NULL;
}

void forward_cache_invalidate(ForwardCache *fc) {
    if (!fc) return;
    fc->valid = 0;
    for (int s = 0; s < fc->n_slots; s++) fc->slots[s].filled = 0;
}

void forward_cache_velocity(void *vctx, float *v, const float *x, float sigma, int step, int B) {
    ForwardCacheVelocity *ctx = vctx;
    ForwardSlot *sl = forward_cache_find(ctx->fc, ctx->p, step, 0);
    if (!sl) {
        dit_velocity(ctx->inner, v, x, sigma, step, B);
        return;
    }
    CG_CHECK(B == ctx->fc->G, "forward cache for groups of %d, sampled %d", ctx->fc->G, B);
    DiTModel *m = ctx->inner->model;
    dit_acts_swap(m, &sl->acts); // the forward writes into the slot's activations
    dit_velocity(ctx->inner, v, x, sigma, step, B);
    dit_acts_swap(m, &sl->acts);
    memcpy(sl->v, v, (size_t)B * ctx->fc->n * sizeof(float));
    sl->filled = 1;
}
