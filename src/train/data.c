// data.c: on-the-fly (reference, prompt, target) batches from SubjectBench. See data.h.
#include "train/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "world/prompts.h"
#include "world/render.h"
#include "world/tokenizer.h"

DataConfig data_config_default(void) {
    DataConfig c = {32, TOK_MAX_TOKENS, 6, 0.1f, 0.1f, 0.0f, 1.0f};
    return c;
}

int data_max_prompt_words(void) {
    int most = 0;
    char err[256];
    for (int cls = 0; cls < WORLD_N_CLASSES; cls++)
        for (int t = -1; t < PROMPT_N_TEMPLATES; t++) {
            Prompt p;
            int ids[TOK_MAX_TOKENS];
            prompt_make(&p, cls, t);
            int nw = tok_encode(ids, p.text, err, sizeof err);
            CG_CHECK(nw >= 0, "a SubjectBench prompt does not tokenize: %s", err);
            if (nw > most) most = nw;
        }
    return most;
}

int data_config_check(const DataConfig *c, char *err, size_t errlen) {
    if (c->img < 4 || c->img > RENDER_MAX_SIZE) return cg_errf(err, errlen, "img = %d is outside [4, %d]", c->img, RENDER_MAX_SIZE);
    int words = data_max_prompt_words();
    if (c->text_len < words || c->text_len > TOK_MAX_TOKENS)
        return cg_errf(err, errlen, "text_len = %d: prompts need %d to %d tokens (the longest has %d words)", c->text_len,
                       words, TOK_MAX_TOKENS, words);
    if (c->ref_poses < 1 || c->ref_poses > DATA_MAX_POSES)
        return cg_errf(err, errlen, "ref_poses = %d is outside [1, %d]", c->ref_poses, DATA_MAX_POSES);
    if (!(c->p_drop_ref >= 0.0f && c->p_drop_ref <= 1.0f))
        return cg_errf(err, errlen, "p_drop_ref = %g is not a probability", (double)c->p_drop_ref);
    if (!(c->p_drop_txt >= 0.0f && c->p_drop_txt <= 1.0f))
        return cg_errf(err, errlen, "p_drop_txt = %g is not a probability", (double)c->p_drop_txt);
    if (!isfinite(c->sigma_loc)) return cg_errf(err, errlen, "sigma_loc is not finite");
    if (!(c->sigma_scale > 0.0f && isfinite(c->sigma_scale)))
        return cg_errf(err, errlen, "sigma_scale = %g must be finite and > 0", (double)c->sigma_scale);
    return 0;
}

void data_batch_alloc(DataBatch *bt, const DataConfig *c, int max_B) {
    CG_CHECK(max_B >= 1, "batch %d", max_B);
    bt->max_B = max_B;
    bt->S = c->img;
    bt->text_len = c->text_len;
    bt->n = cg_mul_size(cg_mul_size((size_t)c->img, (size_t)c->img), DATA_CHANNELS);
    size_t all = cg_mul_size(bt->n, (size_t)max_B);
    bt->x0 = cg_malloc(all * sizeof(float));
    bt->ref = cg_malloc(all * sizeof(float));
    bt->noise = cg_malloc(all * sizeof(float));
    bt->sigma = cg_malloc((size_t)max_B * sizeof(float));
    bt->tokens = cg_malloc((size_t)max_B * (size_t)c->text_len * sizeof(int));
    bt->drop_ref = cg_malloc((size_t)max_B);
    bt->drop_txt = cg_malloc((size_t)max_B);
    bt->draws = cg_malloc((size_t)max_B * sizeof(DataDraw));
}

void data_batch_free(DataBatch *bt) {
    free(bt->x0);
    free(bt->ref);
    free(bt->noise);
    free(bt->sigma);
    free(bt->tokens);
    free(bt->drop_ref);
    free(bt->drop_txt);
    free(bt->draws);
    memset(bt, 0, sizeof(*bt));
}

void data_draw(DataDraw *d, const DataConfig *c, uint64_t seed, uint64_t draws_tag, uint64_t step, int b,
               int n_subjects) {
    cg_rng r = cg_rng_make(seed, cg_rng_stream(draws_tag, step, (uint64_t)b));
    d->subject = (int)cg_rng_below(&r, (uint32_t)n_subjects);
    d->template_index = (int)cg_rng_below(&r, PROMPT_N_TEMPLATES + 1) - 1;
    d->pose = (int)cg_rng_below(&r, (uint32_t)c->ref_poses);
    d->render_seed = cg_rng_u64(&r);
    double z = cg_rng_normal(&r);
    d->sigma = (float)(1.0 / (1.0 + exp(-((double)c->sigma_loc + (double)c->sigma_scale * z))));
    // the rounding to float can reach 0 or 1 only for |z| far beyond what Box-Muller on 32-bit
    // uniforms produces; keep sigma strictly inside (0, 1) regardless
    if (!(d->sigma > 0.0f)) d->sigma = 1e-6f;
    if (!(d->sigma < 1.0f)) d->sigma = 1.0f - 1e-6f;
    d->drop_ref = cg_rng_uniform(&r) < (double)c->p_drop_ref;
    d->drop_txt = cg_rng_uniform(&r) < (double)c->p_drop_txt;
}

void data_to_model_range(float *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = 2.0f * in[i] - 1.0f;
}

void data_to_unit_range(float *out, const float *in, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = 0.5f * (in[i] + 1.0f);
}

// Render and fill slot b from its draws.
static void fill_slot(DataBatch *bt, int b, const DataDraw *d, const Subject *s, uint64_t seed,
                      uint64_t noise_tag, uint64_t step, uint64_t index) {
    const int S = bt->S;
    const size_t n = bt->n, o = (size_t)b * n;
    Prompt p;
    prompt_make(&p, s->cls, d->template_index);
    render_target(bt->x0 + o, NULL, s, &p, d->render_seed, S);
    data_to_model_range(bt->x0 + o, bt->x0 + o, n);
    render_reference(bt->ref + o, NULL, s, d->pose, S);
    data_to_model_range(bt->ref + o, bt->ref + o, n);
    cg_rng_fill_normal(bt->noise + o, n, seed, cg_rng_stream(noise_tag, step, index), 0);
    int ids[TOK_MAX_TOKENS];
    char err[256];
    int nw = tok_encode(ids, p.text, err, sizeof err);
    CG_CHECK(nw >= 0 && nw <= bt->text_len, "prompt '%s' does not fit %d tokens (%s)", p.text, bt->text_len,
             nw < 0 ? err : "too many words");
    memcpy(bt->tokens + (size_t)b * (size_t)bt->text_len, ids, (size_t)bt->text_len * sizeof(int));
    bt->sigma[b] = d->sigma;
    bt->drop_ref[b] = d->drop_ref;
    bt->drop_txt[b] = d->drop_txt;
    bt->draws[b] = *d;
}

// Shared body of the train and val makers: slot b holds sample (step, first + b) of `split`.
static void make(DataBatch *bt, const DataConfig *c, const World *w, int split, uint64_t seed, uint64_t draws_tag,
                 uint64_t noise_tag, uint64_t step, int first, int B) {
    CG_CHECK(B >= 1 && B <= bt->max_B, "batch %d outside [1, %d]", B, bt->max_B);
    CG_CHECK(c->img == bt->S && c->text_len == bt->text_len, "batch allocated for another config");
    const int n_subjects = world_split_count(split);
    // draws first (cheap, sequential), then the rendering in parallel: each slot is independent
    for (int b = 0; b < B; b++) data_draw(&bt->draws[b], c, seed, draws_tag, step, first + b, n_subjects);
#pragma omp parallel for schedule(dynamic, 1)
    for (int b = 0; b < B; b++) {
        DataDraw d = bt->draws[b];
        fill_slot(bt, b, &d, world_subject(w, split, d.subject), seed, noise_tag, step, (uint64_t)(first + b));
    }
}

void data_make_train(DataBatch *bt, const DataConfig *c, const World *w, uint64_t seed, uint64_t step, int B) {
    make(bt, c, w, SPLIT_TRAIN, seed, DATA_STREAM_TRAIN_DRAWS, DATA_STREAM_TRAIN_NOISE, step, 0, B);
}

void data_make_val(DataBatch *bt, const DataConfig *c, const World *w, uint64_t val_seed, int first, int B) {
    DataConfig v = *c;
    v.p_drop_ref = v.p_drop_txt = 0.0f; // validation measures the fully conditioned model
    make(bt, &v, w, SPLIT_VAL, val_seed, DATA_STREAM_VAL_DRAWS, DATA_STREAM_VAL_NOISE, 0, first, B);
}
