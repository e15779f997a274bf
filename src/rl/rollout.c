// rollout.c: pair draws, row inputs and group sampling of GRPO rollouts. See rollout.h.
#include "rl/rollout.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "flow/schedule.h"
#include "world/render.h"

RolloutConfig rollout_config_default(void) {
    RolloutConfig c = {FLOW_SDE_DANCE, FLOW_DANCE_ETA, 1, 16, FLOW_DEFAULT_SHIFT, 1.0f, 1.0f, 8, 6};
    return c;
}

int rollout_config_check(const RolloutConfig *c, char *err, size_t errlen) {
    if (c->kind != FLOW_SDE_DANCE && c->kind != FLOW_SDE_FLOW)
        return cg_errf(err, errlen, "rollouts need an SDE sampler (dance or flow), got %s", flow_kind_name(c->kind));
    if (!(c->eta > 0.0f) || !isfinite(c->eta))
        return cg_errf(err, errlen, "eta = %g: an SDE rollout needs a finite noise level > 0 (no log-prob otherwise)",
                       (double)c->eta);
    if (flow_schedule_check(c->n_steps, c->shift, err, errlen)) return -1;
    if (c->group_size < 2) return cg_errf(err, errlen, "group_size = %d: a group needs at least 2 samples", c->group_size);
    if (!isfinite(c->s_ref) || !isfinite(c->s_txt)) return cg_errf(err, errlen, "guidance scales must be finite");
    if (c->ref_poses < 1) return cg_errf(err, errlen, "ref_poses = %d must be >= 1", c->ref_poses);
    return 0;
}

int rollout_model_rows(const RolloutConfig *c) {
    return c->s_ref == 1.0f && c->s_txt == 1.0f ? c->group_size : 3 * c->group_size;
}

void rollout_draw_pair(RolloutPair *pair, uint64_t seed, uint64_t iteration, int p, int ref_poses) {
    CG_CHECK(ref_poses >= 1 && p >= 0, "ref_poses %d, pair %d", ref_poses, p);
    cg_rng r = cg_rng_make(seed, cg_rng_stream(ROLLOUT_STREAM_PAIRS, iteration, (uint64_t)p));
    pair->split = SPLIT_TRAIN;
    pair->subject = (int)cg_rng_below(&r, (uint32_t)world_split_count(SPLIT_TRAIN));
    pair->template_index = (int)cg_rng_below(&r, PROMPT_N_TEMPLATES);
    pair->pose = (int)cg_rng_below(&r, (uint32_t)ref_poses);
}

void rollout_batch_alloc(RolloutBatch *rb, int P, int G, int N, int S, int text_len) {
    CG_CHECK(P >= 1 && G >= 1 && N >= 1 && S >= 1 && text_len >= 1 && text_len <= TOK_MAX_TOKENS,
             "rollout batch P %d G %d N %d S %d text_len %d", P, G, N, S, text_len);
    memset(rb, 0, sizeof *rb);
    rb->P = P, rb->G = G, rb->N = N, rb->S = S, rb->text_len = text_len;
    rb->n = cg_mul_size(cg_mul_size((size_t)S, (size_t)S), 3);
    const size_t rows = (size_t)P * (size_t)G, img = cg_mul_size(rows, rb->n) * sizeof(float);
    rb->pairs = cg_calloc((size_t)P, sizeof(RolloutPair));
    rb->prompts = cg_calloc(rows, sizeof(Prompt));
    rb->subjects = cg_calloc(rows, sizeof(Subject *));
    rb->tokens = cg_calloc(rows * TOK_MAX_TOKENS, sizeof(int));
    rb->model_tokens = cg_calloc(rows * (size_t)text_len, sizeof(int));
    rb->ref = cg_malloc(img);
    rb->ref_seg = cg_malloc(img);
    rb->images = cg_malloc(img);
    rb->traj = cg_malloc(cg_mul_size(img, (size_t)N + 1));
    rb->logprobs = cg_malloc(cg_mul_size(rows, (size_t)N) * sizeof(float));
}

void rollout_batch_free(RolloutBatch *rb) {
    free(rb->pairs), free(rb->prompts), free(rb->subjects), free(rb->tokens), free(rb->model_tokens);
    free(rb->ref), free(rb->ref_seg), free(rb->images), free(rb->traj), free(rb->logprobs);
    memset(rb, 0, sizeof *rb);
}

float *rollout_x(const RolloutBatch *rb, int p, int i) {
    CG_CHECK(p >= 0 && p < rb->P && i >= 0 && i <= rb->N, "x_%d of group %d", i, p);
    return rb->traj + ((size_t)p * (size_t)(rb->N + 1) + (size_t)i) * (size_t)rb->G * rb->n;
}

float *rollout_logp(const RolloutBatch *rb, int p, int i) {
    CG_CHECK(p >= 0 && p < rb->P && i >= 0 && i < rb->N, "log-prob %d of group %d", i, p);
    return rb->logprobs + ((size_t)p * (size_t)rb->N + (size_t)i) * (size_t)rb->G;
}

int rollout_fill_inputs(RolloutBatch *rb, const World *w, const RolloutPair *pairs, char *err, size_t errlen) {
    const int P = rb->P, G = rb->G, S = rb->S;
    const size_t n = rb->n;
    // prompts and tokens first (cheap, may fail), then the renders in parallel
    for (int p = 0; p < P; p++) {
        const RolloutPair *pr = &pairs[p];
        const Subject *s = world_subject(w, pr->split, pr->subject);
        CG_CHECK(s != NULL, "pair %d: no subject %d in split %d", p, pr->subject, pr->split);
        rb->pairs[p] = *pr;
        Prompt prompt;
        prompt_make(&prompt, s->cls, pr->template_index);
        int ids[TOK_MAX_TOKENS];
        char why[256];
        int nw = tok_encode(ids, prompt.text, why, sizeof why);
        CG_CHECK(nw >= 0, "a SubjectBench prompt does not tokenize: %s", why);
        if (nw > rb->text_len)
            return cg_errf(err, errlen, "prompt '%s' has %d words, the model reads %d tokens (dit.text_len)", prompt.text,
                           nw, rb->text_len);
        for (int g = 0; g < G; g++) {
            const size_t r = (size_t)p * G + (size_t)g;
            rb->prompts[r] = prompt;
            rb->subjects[r] = s;
            memcpy(rb->tokens + r * TOK_MAX_TOKENS, ids, sizeof ids);
            memcpy(rb->model_tokens + r * (size_t)rb->text_len, ids, (size_t)rb->text_len * sizeof(int));
        }
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int p = 0; p < P; p++) {
        const size_t r0 = (size_t)p * G;
        float *ref = rb->ref + r0 * n, *seg = rb->ref_seg + r0 * n;
        render_reference(ref, NULL, rb->subjects[r0], pairs[p].pose, S);
        render_segmented_reference(seg, NULL, rb->subjects[r0], pairs[p].pose, S);
        for (size_t j = 0; j < n; j++) ref[j] = 2.0f * ref[j] - 1.0f, seg[j] = 2.0f * seg[j] - 1.0f;
        for (int g = 1; g < G; g++) {
            memcpy(ref + (size_t)g * n, ref, n * sizeof(float));
            memcpy(seg + (size_t)g * n, seg, n * sizeof(float));
        }
    }
    return 0;
}

void rollout_sample(RolloutBatch *rb, DiTModel *m, const RolloutConfig *c, const float *sigmas, uint64_t seed,
                    uint64_t iteration, ForwardCache *fc) {
    rollout_sample_groups(rb, m, c, sigmas, seed, iteration, fc, 0, rb->P);
}

void rollout_sample_groups(RolloutBatch *rb, DiTModel *m, const RolloutConfig *c, const float *sigmas, uint64_t seed,
                           uint64_t iteration, ForwardCache *fc, int p0, int p1) {
    const int G = rb->G, N = rb->N;
    const size_t n = rb->n;
    CG_CHECK(c->group_size == G && c->n_steps == N, "rollout config (G %d, N %d) vs batch (G %d, N %d)", c->group_size,
             c->n_steps, G, N);
    CG_CHECK(dit_image_floats(&m->cfg) == n && m->cfg.text_len == rb->text_len, "model and rollout batch disagree");
    CG_CHECK(0 <= p0 && p0 <= p1 && p1 <= rb->P, "groups %d..%d of %d", p0, p1 - 1, rb->P);
    for (int p = p0; p < p1; p++) {
        const size_t r0 = (size_t)p * G;
        DiTVelocity ctx = {m, rb->ref + r0 * n, rb->model_tokens + r0 * (size_t)rb->text_len, c->s_ref, c->s_txt};
        flow_sampler fs = {c->kind, c->eta, c->shared_noise ? FLOW_INIT_SHARED : FLOW_INIT_NOISE, seed,
                           cg_rng_stream(ROLLOUT_STREAM_NOISE, iteration, (uint64_t)p)};
        ForwardCacheVelocity keep = {&ctx, fc, p};
        flow_sample(rb->images + r0 * n, rollout_x(rb, p, 0), rollout_logp(rb, p, 0),
                    fc ? forward_cache_velocity : dit_velocity, fc ? (void *)&keep : (void *)&ctx, sigmas, N, &fs, G, n);
    }
}
