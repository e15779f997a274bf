// evaluate.c: the DreamBench-shaped evaluation of a generator. See evaluate.h.
#include "eval/evaluate.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "core/rng.h"
#include "core/strbuf.h"
#include "flow/sampler.h"
#include "flow/schedule.h"
#include "io/sheet.h"
#include "models/encoder.h"
#include "train/data.h"
#include "world/render.h"
#include "world/tokenizer.h"

static const char *const METRIC_NAMES[EVAL_N_METRICS] = {"identity", "dino",      "clip_i",  "clip_t",
                                                         "reward_id", "reward_prompt", "id_top1", "attr_acc"};
static const char *const GROUP_NAMES[EVAL_N_GROUPS] = {"overall", "scene", "accessory", "property"};
// metric m < EM_ID_TOP1 is the score of reward m; attr gives attr_acc, judge-id's encoder id_top1
static const char *const REWARD_NAMES[EVAL_N_REWARDS] = {"judge-id", "judge-id-plain", "judge-clip-i", "judge-clip-t",
                                                         "id",       "prompt",         "attr"};
enum { R_JUDGE_ID = 0, R_ATTR = 6 };

const char *eval_metric_name(int metric) { return metric >= 0 && metric < EVAL_N_METRICS ? METRIC_NAMES[metric] : NULL; }
const char *eval_group_name(int group) { return group >= 0 && group < EVAL_N_GROUPS ? GROUP_NAMES[group] : NULL; }
const char *eval_reward_name(int i) { return i >= 0 && i < EVAL_N_REWARDS ? REWARD_NAMES[i] : NULL; }

int eval_judges_load(EvalJudges *j, const char *models_dir, char *err, size_t errlen) {
    memset(j, 0, sizeof(*j));
    for (int i = 0; i < EVAL_N_REWARDS; i++) {
        j->r[i] = reward_create_by_name(REWARD_NAMES[i], models_dir, err, errlen);
        if (!j->r[i]) {
            eval_judges_free(j);
            return -1;
        }
    }
    return 0;
}

void eval_judges_free(EvalJudges *j) {
    for (int i = 0; i < EVAL_N_REWARDS; i++) reward_free(j->r[i]);
    memset(j, 0, sizeof(*j));
}

// ---- configuration --------------------------------------------------------------------------------

EvalConfig eval_config_default(void) {
    EvalConfig c = {0};
    c.subjects_seed = WORLD_DEFAULT_SUBJECTS_SEED;
    c.split = SPLIT_TEST;
    c.n_subjects = WORLD_N_TEST;
    c.n_templates = PROMPT_N_TEMPLATES;
    for (int t = 0; t < PROMPT_N_TEMPLATES; t++) c.templates[t] = t;
    c.K = 1, c.steps = 20, c.shift = FLOW_DEFAULT_SHIFT, c.cfg_ref = 1.0f, c.cfg_txt = 1.0f, c.seed = 0;
    return c;
}

int eval_config_check(const EvalConfig *c, char *err, size_t errlen) {
    if (c->split != SPLIT_TEST && c->split != SPLIT_VAL)
        return cg_errf(err, errlen, "split: evaluation runs on the test or the val subjects, never on the training ones");
    if (c->n_subjects < 1 || c->n_subjects > world_split_count(c->split))
        return cg_errf(err, errlen, "subjects: %d is out of range [1, %d] (the %s split)", c->n_subjects,
                       world_split_count(c->split), world_split_name(c->split));
    if (c->n_templates < 1 || c->n_templates > PROMPT_N_TEMPLATES)
        return cg_errf(err, errlen, "prompts: %d templates, expected 1..%d", c->n_templates, PROMPT_N_TEMPLATES);
    for (int i = 0; i < c->n_templates; i++) {
        if (c->templates[i] < 0 || c->templates[i] >= PROMPT_N_TEMPLATES)
            return cg_errf(err, errlen, "prompts: template %d is out of range [0, %d]", c->templates[i], PROMPT_N_TEMPLATES - 1);
        if (i && c->templates[i] <= c->templates[i - 1])
            return cg_errf(err, errlen, "prompts: templates must be distinct and increasing");
    }
    if (c->K < 1 || c->K > EVAL_MAX_K)
        return cg_errf(err, errlen, "images per prompt: %d is out of range [1, %d]", c->K, EVAL_MAX_K);
    if (!isfinite(c->cfg_ref) || !isfinite(c->cfg_txt)) return cg_errf(err, errlen, "guidance scales must be finite");
    return flow_schedule_check(c->steps, c->shift, err, errlen);
}

int eval_parse_templates(const char *list, int templates[PROMPT_N_TEMPLATES], int *n, char *err, size_t errlen) {
    unsigned char seen[PROMPT_N_TEMPLATES] = {0};
    const char *p = list;
    *n = 0;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[32];
        if (len == 0) return cg_errf(err, errlen, "'%s': empty item (expected template indices like 0,5,10,20)", list);
        if (len >= sizeof(item)) return cg_errf(err, errlen, "'%s': '%.*s...' is not a template index", list, 8, p);
        memcpy(item, p, len), item[len] = '\0';
        char *stop;
        errno = 0;
        long v = strtol(item, &stop, 10);
        if (errno || *stop || stop == item) return cg_errf(err, errlen, "'%s': '%s' is not an integer", list, item);
        if (v < 0 || v >= PROMPT_N_TEMPLATES)
            return cg_errf(err, errlen, "'%s': template %ld is out of range [0, %d]", list, v, PROMPT_N_TEMPLATES - 1);
        if (seen[v]) return cg_errf(err, errlen, "'%s': template %ld is listed twice", list, v);
        seen[v] = 1;
        if (!end) break;
        p = end + 1;
    }
    for (int t = 0; t < PROMPT_N_TEMPLATES; t++)
        if (seen[t]) templates[(*n)++] = t;
    return 0;
}

uint64_t eval_noise_stream(int s, int t, int k) {
    return cg_rng_stream(cg_rng_stream(EVAL_STREAM_INIT, (uint64_t)s, (uint64_t)t), (uint64_t)k, 0);
}

// ---- metric helpers -------------------------------------------------------------------------------

double eval_top1_credit(const double *row, int n, int own) {
    double best = row[0];
    for (int j = 1; j < n; j++)
        if (row[j] > best) best = row[j];
    if (row[own] < best) return 0.0;
    int m = 0;
    for (int j = 0; j < n; j++) m += row[j] == best;
    return 1.0 / (double)m;
}

int eval_kind_head(PromptKind kind) {
    switch (kind) {
    case PROMPT_SCENE: return ATTR_SCENE;
    case PROMPT_ACCESSORY: return ATTR_ACCESSORY;
    case PROMPT_PROPERTY: return ATTR_PROPERTY;
    default: return -1;
    }
}

void eval_summarize(const EvalImage *img, long n, EvalSummary *out) {
    double sum[EVAL_N_GROUPS][EVAL_N_METRICS] = {{0}};
    memset(out, 0, sizeof(*out));
    for (long i = 0; i < n; i++) {
        const int groups[2] = {EVAL_OVERALL, (int)img[i].kind};
        for (int g = 0; g < 2; g++) {
            if (groups[g] < 0 || groups[g] >= EVAL_N_GROUPS) continue;
            out->n[groups[g]]++;
            for (int m = 0; m < EVAL_N_METRICS; m++) sum[groups[g]][m] += img[i].value[m];
        }
    }
    for (int g = 0; g < EVAL_N_GROUPS; g++)
        for (int m = 0; m < EVAL_N_METRICS; m++) out->mean[g][m] = out->n[g] ? sum[g][m] / (double)out->n[g] : NAN;
}

// ---- the run --------------------------------------------------------------------------------------

void eval_result_free(EvalResult *r) {
    free(r->world), free(r->img), free(r->images), free(r->refs);
    memset(r, 0, sizeof(*r));
}

// Every check that can fail on the user's files, before anything is allocated.
static int check_inputs(const DiTModel *m, EvalJudges *j, const EvalConfig *c, const World *w, char *err,
                        size_t errlen) {
    const int guided = !(c->cfg_ref == 1.0f && c->cfg_txt == 1.0f), need_B = guided ? 3 * c->K : c->K;
    if (m->max_B < need_B)
        return cg_errf(err, errlen, "the model was created for batches of %d, the evaluation needs %d", m->max_B, need_B);
    if (m->cfg.channels != 3) return cg_errf(err, errlen, "the model draws %d channels, the judges take RGB (3)", m->cfg.channels);
    if (m->cfg.vocab < TOK_VOCAB_SIZE)
        return cg_errf(err, errlen, "the model has a vocabulary of %d tokens, the tokenizer needs %d", m->cfg.vocab, TOK_VOCAB_SIZE);
    for (int i = 0; i < EVAL_N_REWARDS; i++) {
        if (!j->r[i]) return cg_errf(err, errlen, "reward %s is not loaded", REWARD_NAMES[i]);
        if (j->r[i]->S && j->r[i]->S != m->cfg.img)
            return cg_errf(err, errlen, "%s takes %dx%d images, the model draws %dx%d", REWARD_NAMES[i], j->r[i]->S,
                           j->r[i]->S, m->cfg.img, m->cfg.img);
    }
    EncModel *id = reward_encoder(j->r[R_JUDGE_ID]), *attr = reward_encoder(j->r[R_ATTR]);
    if (!id || id->kind != ENC_ID) return cg_errf(err, errlen, "judge-id is not an identity encoder");
    if (!attr || attr->kind != ENC_ATTR) return cg_errf(err, errlen, "attr is not an attribute model");
    for (int s = 0; s < c->n_subjects; s++)
        for (int ti = 0; ti < c->n_templates; ti++) {
            Prompt p;
            prompt_make(&p, world_subject(w, c->split, s)->cls, c->templates[ti]);
            int ids[TOK_MAX_TOKENS];
            int nw = tok_encode(ids, p.text, err, errlen);
            if (nw < 0) return -1;
            if (nw > m->cfg.text_len)
                return cg_errf(err, errlen, "prompt '%s' has %d words, the model reads %d tokens (dit.text_len)", p.text, nw,
                               m->cfg.text_len);
        }
    return 0;
}

int eval_run(EvalResult *r, DiTModel *m, EvalJudges *j, const EvalConfig *c, eval_progress_fn progress, void *ctx,
             char *err, size_t errlen) {
    memset(r, 0, sizeof(*r));
    if (eval_config_check(c, err, errlen)) return -1;
    World *w = cg_malloc(sizeof(World));
    world_init(w, c->subjects_seed);
    if (check_inputs(m, j, c, w, err, errlen)) {
        free(w);
        return -1;
    }
    const int K = c->K, S = m->cfg.img, Lt = m->cfg.text_len, NS = c->n_subjects, NT = c->n_templates;
    const size_t n = dit_image_floats(&m->cfg);
    r->cfg = *c, r->S = S, r->world = w;
    for (int s = 0; s < NS; s++) r->subjects[s] = world_subject(w, c->split, s);
    r->n_images = (long)NS * NT * K;
    r->img = cg_calloc((size_t)r->n_images, sizeof(EvalImage));
    r->images = cg_malloc(cg_mul_size((size_t)r->n_images, n) * sizeof(float));
    r->refs = cg_malloc((size_t)NS * n * sizeof(float));

    EncModel *id_enc = reward_encoder(j->r[R_JUDGE_ID]), *attr_enc = reward_encoder(j->r[R_ATTR]);
    const int D = id_enc->img.cfg.embed_dim;
    float *emb = cg_malloc(cg_mul_size((size_t)r->n_images, (size_t)D) * sizeof(float)); // judge-id of every image
    float *ref_emb = cg_malloc((size_t)NS * D * sizeof(float));                           // of the segmented references

    // one batch: the K images of one (subject, template)
    float *x = cg_malloc((size_t)K * n * sizeof(float));        // (K, S, S, 3) the samples, model range
    float *plain = cg_malloc((size_t)K * n * sizeof(float));    // (K, ...) plain reference, [-1, 1]
    float *seg = cg_malloc((size_t)K * n * sizeof(float));      // (K, ...) segmented reference, [-1, 1]
    float *scored = cg_malloc((size_t)K * n * sizeof(float));   // (K, ...) the 8-bit images, [-1, 1]
    int *tok_model = cg_calloc((size_t)K * Lt, sizeof(int));    // (K, Lt)
    int *tok_reward = cg_calloc((size_t)K * TOK_MAX_TOKENS, sizeof(int));
    Prompt *prompts = cg_malloc((size_t)K * sizeof(Prompt));
    const Subject **subj = cg_malloc((size_t)K * sizeof(Subject *));
    float *scores = cg_malloc((size_t)EVAL_N_REWARDS * K * sizeof(float));
    float *probs[ATTR_N_HEADS];
    for (int h = 0; h < ATTR_N_HEADS; h++) probs[h] = cg_malloc((size_t)K * attr_n_classes(h) * sizeof(float));
    unsigned char *u8 = cg_malloc(n);
    float *sigmas = cg_malloc(((size_t)c->steps + 1) * sizeof(float));
    flow_sigmas(sigmas, c->steps, c->shift);
    const flow_sampler fs = {FLOW_ODE, 0.0f, FLOW_INIT_GIVEN, c->seed, 0};
    DiTVelocity vctx = {m, plain, tok_model, c->cfg_ref, c->cfg_txt};
    int rc = 0;
    // under MPI each rank evaluates its block of subjects [s0, s1); every image depends only on its
    // own (subject, template, k), so the split changes no value
    const Dist *d = dist_or_one(c->dist);
    int s0, s1;
    dist_block(d, NS, &s0, &s1);

    for (int s = s0; s < s1 && rc == 0; s++) {
        const Subject *sub = r->subjects[s];
        float *ref01 = r->refs + (size_t)s * n;
        render_reference(ref01, NULL, sub, 0, S);
        render_segmented_reference(seg, NULL, sub, 0, S);
        reward_from_render(seg, seg, n);
        enc_embed_images(id_enc, ref_emb + (size_t)s * D, seg, 1); // one row, as the judge-id reward embeds it
        data_to_model_range(plain, ref01, n);
        for (int k = 1; k < K; k++) {
            memcpy(plain + (size_t)k * n, plain, n * sizeof(float));
            memcpy(seg + (size_t)k * n, seg, n * sizeof(float));
        }
        for (int ti = 0; ti < NT && rc == 0; ti++) {
            const int t = c->templates[ti];
            prompt_make(&prompts[0], sub->cls, t);
            int ids[TOK_MAX_TOKENS];
            CG_CHECK(tok_encode(ids, prompts[0].text, NULL, 0) > 0, "tokenizing '%s'", prompts[0].text);
            for (int k = 0; k < K; k++) {
                prompts[k] = prompts[0], subj[k] = sub;
                memcpy(tok_model + (size_t)k * Lt, ids, (size_t)Lt * sizeof(int));
                memcpy(tok_reward + (size_t)k * TOK_MAX_TOKENS, ids, sizeof(ids));
                cg_rng_fill_normal(x + (size_t)k * n, n, c->seed, eval_noise_stream(s, t, k), 0);
            }
            flow_sample(x, NULL, NULL, dit_velocity, &vctx, sigmas, c->steps, &fs, K, n);

            // the saved image: [0, 1], clamped, 8 bits
            const long i0 = eval_image_index(r, s, ti, 0);
            for (int k = 0; k < K; k++) {
                float *img01 = r->images + (size_t)(i0 + k) * n;
                data_to_unit_range(img01, x + (size_t)k * n, n);
                render_to_u8(u8, img01, (long)n);
                for (size_t e = 0; e < n; e++) img01[e] = (float)u8[e] / 255.0f;
                reward_from_render(scored + (size_t)k * n, img01, n);
            }
            RewardBatch b = {.B = K, .S = S, .images = scored, .ref_seg = seg, .ref_plain = plain, .tokens = tok_reward,
                             .prompts = prompts, .subjects = subj};
            for (int q = 0; q < EVAL_N_REWARDS && rc == 0; q++) rc = reward_score(j->r[q], &b, scores + (size_t)q * K, err, errlen);
            if (rc) break;
            enc_embed_images(id_enc, emb + (size_t)i0 * D, scored, K);
            enc_attr_probs(attr_enc, probs, scored, K);
            int labels[ATTR_N_HEADS];
            attr_labels(labels, &prompts[0]);
            const int head = eval_kind_head(prompts[0].kind);
            CG_CHECK(head >= 0, "template %d has no attribute kind", t);
            for (int k = 0; k < K; k++) {
                EvalImage *e = &r->img[i0 + k];
                e->subject = s, e->template_index = t, e->k = k, e->kind = prompts[0].kind, e->item = prompts[0].item;
                for (int q = 0; q < EM_ID_TOP1; q++) e->value[q] = scores[(size_t)q * K + k];
                e->attr_pred = vit_argmax(probs[head] + (size_t)k * attr_n_classes(head), attr_n_classes(head));
                e->value[EM_ATTR_ACC] = e->attr_pred == labels[head] ? 1.0 : 0.0;
            }
            if (progress && d->rank == 0) progress(ctx, i0 + K, r->n_images);
        }
    }
    rc = dist_agree(d, rc ? 1 : 0, err, errlen) ? -1 : 0;
    if (rc == 0) { // every rank gets every subject's images, scores and embeddings
        const size_t per = (size_t)NT * K;
        dist_allgather_bytes(d, r->img, per * sizeof(EvalImage), NS);
        dist_allgather_items(d, r->images, per * n, NS);
        dist_allgather_items(d, emb, per * D, NS);
        dist_allgather_items(d, ref_emb, (size_t)D, NS);
        dist_allgather_items(d, r->refs, n, NS);
    }

    // identity retrieval among the evaluated subjects' segmented references
    if (rc == 0) {
        double *row = cg_malloc((size_t)NS * sizeof(double));
        for (long i = 0; i < r->n_images; i++) {
            for (int q = 0; q < NS; q++) {
                double dot = 0;
                for (int d = 0; d < D; d++) dot += (double)emb[(size_t)i * D + d] * ref_emb[(size_t)q * D + d];
                row[q] = 100.0 * dot;
            }
            r->img[i].value[EM_ID_TOP1] = eval_top1_credit(row, NS, r->img[i].subject);
        }
        free(row);
        eval_summarize(r->img, r->n_images, &r->summary);
    }

    free(emb), free(ref_emb), free(x), free(plain), free(seg), free(scored), free(tok_model), free(tok_reward);
    free(prompts), free(subj), free(scores), free(u8), free(sigmas);
    for (int h = 0; h < ATTR_N_HEADS; h++) free(probs[h]);
    if (rc) eval_result_free(r);
    return rc;
}

// ---- text output ----------------------------------------------------------------------------------

// a JSON string literal: quotes, backslashes and control characters escaped
static void str_json_string(StrBuf *b, const char *s) {
    strbuf_printf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') strbuf_printf(b, "\\%c", *p);
        else if (*p < 0x20) strbuf_printf(b, "\\u%04x", *p);
        else strbuf_printf(b, "%c", *p);
    }
    strbuf_printf(b, "\"");
}

#define STORED_FORMAT "%.6f" // every number of results.json

static void str_number(StrBuf *b, double v) {
    if (isfinite(v)) strbuf_printf(b, STORED_FORMAT, v);
    else strbuf_printf(b, "null");
}

double eval_as_stored(double v) {
    if (!isfinite(v)) return v;
    char buf[64];
    snprintf(buf, sizeof buf, STORED_FORMAT, v);
    return strtod(buf, NULL);
}

// The "settings" object of results.json: what was evaluated and with which files.
static void write_settings(StrBuf *b, const EvalConfig *c, int S, const EvalProvenance *p) {
    strbuf_printf(b, "{\n    \"model\": ");
    str_json_string(b, p->model);
    strbuf_printf(b, ",\n    \"model_fnv1a64\": \"%016llx\",\n    \"weights\": ", (unsigned long long)p->model_fnv);
    str_json_string(b, p->weights);
    strbuf_printf(b, ",\n    \"subjects_seed\": %llu,\n    \"split\": \"%s\",\n    \"subjects\": %d,\n    \"prompts\": [",
               (unsigned long long)c->subjects_seed, world_split_name(c->split), c->n_subjects);
    for (int i = 0; i < c->n_templates; i++) strbuf_printf(b, "%s%d", i ? ", " : "", c->templates[i]);
    strbuf_printf(b, "],\n    \"images_per_prompt\": %d,\n    \"sampler\": \"ode\",\n    \"steps\": %d,\n", c->K, c->steps);
    strbuf_printf(b, "    \"shift\": %.6f,\n    \"cfg_ref\": %.6f,\n    \"cfg_txt\": %.6f,\n", c->shift, c->cfg_ref, c->cfg_txt);
    strbuf_printf(b, "    \"seed\": %llu,\n    \"image_size\": %d,\n    \"judges\": {", (unsigned long long)c->seed, S);
    for (int f = 0; f < p->n_files; f++) {
        strbuf_printf(b, "%s", f ? ", " : "");
        str_json_string(b, p->files[f]);
        strbuf_printf(b, ": \"%016llx\"", (unsigned long long)p->file_fnv[f]);
    }
    strbuf_printf(b, "}\n  }");
}

char *eval_settings_json(const EvalConfig *c, int S, const EvalProvenance *p) {
    StrBuf b = {0};
    write_settings(&b, c, S, p);
    cJSON *o = cJSON_Parse(b.s);
    CG_CHECK(cJSON_IsObject(o), "settings JSON does not parse");
    char *out = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    free(b.s);
    return out;
}

char *eval_results_json(const EvalResult *r, const EvalProvenance *p) {
    const EvalConfig *c = &r->cfg;
    StrBuf b = {0};
    strbuf_printf(&b, "{\n  \"format\": \"%s\",\n  \"settings\": ", EVAL_FORMAT);
    write_settings(&b, c, r->S, p);
    strbuf_printf(&b, ",\n  \"test_subjects\": [\n");
    for (int s = 0; s < c->n_subjects; s++) {
        const Subject *sub = r->subjects[s];
        char look[256];
        subject_describe(sub, look, sizeof(look));
        strbuf_printf(&b, "    {\"index\": %d, \"class\": \"%s\", \"kind\": \"%s\", \"look\": ", sub->index,
                   world_class_word(sub->cls), world_kind_name(sub->kind));
        str_json_string(&b, look);
        strbuf_printf(&b, "}%s\n", s + 1 < c->n_subjects ? "," : "");
    }
    strbuf_printf(&b, "  ],\n  \"metrics\": {\n");
    for (int g = 0; g < EVAL_N_GROUPS; g++) {
        strbuf_printf(&b, "    \"%s\": {\"n_images\": %ld", GROUP_NAMES[g], r->summary.n[g]);
        for (int m = 0; m < EVAL_N_METRICS; m++) {
            strbuf_printf(&b, ", \"%s\": ", METRIC_NAMES[m]);
            str_number(&b, r->summary.mean[g][m]);
        }
        strbuf_printf(&b, "}%s\n", g + 1 < EVAL_N_GROUPS ? "," : "");
    }
    strbuf_printf(&b, "  }\n}\n");
    return b.s;
}

char *eval_images_jsonl(const EvalResult *r) {
    StrBuf b = {0};
    strbuf_printf(&b, "%s", ""); // an empty run still gives a string
    for (long i = 0; i < r->n_images; i++) {
        const EvalImage *e = &r->img[i];
        strbuf_printf(&b, "{\"subject\":%d,\"template\":%d,\"k\":%d,\"kind\":\"%s\",\"item\":\"%s\"", e->subject,
                   e->template_index, e->k, prompt_kind_name(e->kind), prompt_item_name(e->kind, e->item));
        for (int m = 0; m < EVAL_N_METRICS; m++) {
            strbuf_printf(&b, ",\"%s\":", METRIC_NAMES[m]);
            str_number(&b, e->value[m]);
        }
        strbuf_printf(&b, ",\"attr_pred\":\"%s\"}\n", attr_label_name(eval_kind_head(e->kind), e->attr_pred));
    }
    return b.s;
}

// ---- grids ----------------------------------------------------------------------------------------

#define GRID_MAX_ROWS 10
#define GRID_MAX_COLS 6

// The grid writer behind both: kind < 0 takes every image. Rows: subjects with at least one such
// image (up to max_rows); columns: their first max_cols such images in (template, k) order.
static int write_grid(const EvalResult *r, int kind, int max_rows, int max_cols, int zoom, const char *path, char *err,
                      size_t errlen) {
    const int S = r->S, NS = r->cfg.n_subjects;
    const size_t n = (size_t)S * S * 3;
    long *pick = cg_malloc((size_t)max_rows * max_cols * sizeof(long)); // (max_rows, max_cols) image indices
    int *row_subject = cg_malloc((size_t)max_rows * sizeof(int)), *cols = cg_malloc((size_t)max_rows * sizeof(int));
    int rows = 0, widest = 0;
    for (int s = 0; s < NS && rows < max_rows; s++) {
        int nc = 0;
        for (long i = eval_image_index(r, s, 0, 0); i < eval_image_index(r, s + 1, 0, 0) && nc < max_cols; i++)
            if (kind < 0 || (int)r->img[i].kind == kind) pick[(size_t)rows * max_cols + nc++] = i;
        if (!nc) continue;
        row_subject[rows] = s, cols[rows] = nc;
        if (nc > widest) widest = nc;
        rows++;
    }
    int rc = 0;
    if (rows) {
        const int z = zoom < 1 ? 1 : zoom, cell = S * z, gap = 2 * z, x0 = gap + cell + 3 * gap;
        const int W = x0 + widest * (cell + gap), H = gap + rows * (cell + gap);
        Sheet sheet;
        rc = sheet_create(&sheet, W, H, 40, err, errlen);
        for (int row = 0; row < rows && rc == 0; row++) {
            const int y = gap + row * (cell + gap);
            sheet_put_float(&sheet, gap, y, r->refs + (size_t)row_subject[row] * n, S, z, SHEET_UNIT_RANGE);
            for (int col = 0; col < cols[row]; col++)
                sheet_put_float(&sheet, x0 + col * (cell + gap), y, r->images + (size_t)pick[(size_t)row * max_cols + col] * n,
                                S, z, SHEET_UNIT_RANGE);
        }
        if (rc == 0) rc = sheet_write_png(&sheet, path, err, errlen) ? -1 : 1;
        sheet_free(&sheet);
    }
    free(pick), free(row_subject), free(cols);
    return rc;
}

int eval_write_grid(const EvalResult *r, PromptKind kind, int zoom, const char *path, char *err, size_t errlen) {
    return write_grid(r, (int)kind, GRID_MAX_ROWS, GRID_MAX_COLS, zoom, path, err, errlen);
}

int eval_write_grid_all(const EvalResult *r, int max_cols, int zoom, const char *path, char *err, size_t errlen) {
    return write_grid(r, -1, r->cfg.n_subjects, max_cols < 1 ? 1 : max_cols, zoom, path, err, errlen);
}

// ---- files ----------------------------------------------------------------------------------------

uint64_t eval_fnv1a64(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

int eval_fnv1a64_file(const char *path, uint64_t *hash, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) return cg_errf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = cg_malloc(CHUNK);
    uint64_t h = EVAL_FNV_OFFSET;
    size_t got;
    while ((got = fread(buf, 1, CHUNK, f)) > 0) h = eval_fnv1a64(h, buf, got);
    int bad = ferror(f);
    fclose(f);
    free(buf);
    if (bad) return cg_errf(err, errlen, "cannot read %s", path);
    *hash = h;
    return 0;
}

int eval_judge_files(EvalProvenance *p, const char *models_dir, char *err, size_t errlen) {
    p->n_files = 0;
    for (int i = 0; i < EVAL_N_REWARDS; i++)
        for (int b = 0; b < reward_n_builtin(); b++) {
            if (strcmp(reward_builtin_name(b), eval_reward_name(i)) != 0) continue;
            const char *file = reward_builtin_file(b);
            int dup = 0;
            for (int f = 0; f < p->n_files; f++) dup |= strcmp(p->files[f], file) == 0;
            if (dup) continue;
            CG_CHECK(p->n_files < 8, "more than 8 judge files");
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", models_dir, file);
            if (eval_fnv1a64_file(path, &p->file_fnv[p->n_files], err, errlen)) return -1;
            p->files[p->n_files++] = file;
        }
    return 0;
}

#define EVAL_MAX_JSON_BYTES (64L << 20)

// The whole file as a NUL-terminated string (malloc'd), or NULL with a reason.
static char *read_text(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        cg_errf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    StrBuf b = {0};
    char buf[65536];
    size_t got;
    strbuf_printf(&b, "%s", "");
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0) {
        if ((long)(b.len + got) > EVAL_MAX_JSON_BYTES) {
            fclose(f), free(b.s);
            cg_errf(err, errlen, "%s is larger than %ld bytes: not a results.json", path, EVAL_MAX_JSON_BYTES);
            return NULL;
        }
        if (memchr(buf, '\0', got)) {
            fclose(f), free(b.s);
            cg_errf(err, errlen, "%s is not a text file", path);
            return NULL;
        }
        strbuf_printf(&b, "%.*s", (int)got, buf);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b.s);
        cg_errf(err, errlen, "cannot read %s", path);
        return NULL;
    }
    return b.s;
}

long eval_paired_se(const char *images_jsonl, const EvalResult *r, double se[EVAL_N_GROUPS][EVAL_N_METRICS], char *err,
                    size_t errlen) {
    for (int g = 0; g < EVAL_N_GROUPS; g++)
        for (int m = 0; m < EVAL_N_METRICS; m++) se[g][m] = NAN;
    FILE *f = fopen(images_jsonl, "rb");
    if (!f) return 0;
    const long n = r->n_images;
    double *base = cg_malloc(cg_mul_size((size_t)n, EVAL_N_METRICS) * sizeof(double)); // (n, metrics)
    char *seen = cg_calloc((size_t)n, 1);
    int tpos[PROMPT_N_TEMPLATES]; // template index -> position in cfg.templates, -1 when not evaluated
    for (int t = 0; t < PROMPT_N_TEMPLATES; t++) tpos[t] = -1;
    for (int i = 0; i < r->cfg.n_templates; i++) tpos[r->cfg.templates[i]] = i;
    long rc = 0, lineno = 0;
    char *line = NULL;
    size_t cap = 0;
    while (rc == 0 && getline(&line, &cap, f) > 0) {
        lineno++;
        cJSON *o = cJSON_Parse(line);
        const cJSON *js = cJSON_GetObjectItemCaseSensitive(o, "subject"), *jt = cJSON_GetObjectItemCaseSensitive(o, "template"),
                    *jk = cJSON_GetObjectItemCaseSensitive(o, "k");
        if (!cJSON_IsNumber(js) || !cJSON_IsNumber(jt) || !cJSON_IsNumber(jk)) {
            rc = cg_errf(err, errlen, "%s:%ld: not an image line of cgrpo eval (subject, template, k)", images_jsonl, lineno);
        } else {
            const int sj = js->valueint, t = jt->valueint, k = jk->valueint;
            if (sj >= 0 && sj < r->cfg.n_subjects && t >= 0 && t < PROMPT_N_TEMPLATES && tpos[t] >= 0 && k >= 0 &&
                k < r->cfg.K) {
                const long i = eval_image_index(r, sj, tpos[t], k);
                for (int m = 0; m < EVAL_N_METRICS && rc == 0; m++) {
                    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, METRIC_NAMES[m]);
                    if (!cJSON_IsNumber(v))
                        rc = cg_errf(err, errlen, "%s:%ld: \"%s\" is missing or not a number", images_jsonl, lineno, METRIC_NAMES[m]);
                    else base[(size_t)i * EVAL_N_METRICS + m] = v->valuedouble;
                }
                seen[i] = 1;
            }
        }
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    long shared = 0;
    for (long i = 0; i < n; i++) shared += seen[i];
    if (rc == 0 && shared == n) {
        for (int g = 0; g < EVAL_N_GROUPS; g++)
            for (int m = 0; m < EVAL_N_METRICS; m++) {
                double sum = 0.0, sq = 0.0;
                long cnt = 0;
                for (int pass = 0; pass < 2; pass++) // mean, then the sum of squared deviations
                    for (long i = 0; i < n; i++) {
                        if (g != EVAL_OVERALL && (int)r->img[i].kind != g) continue;
                        const double d = r->img[i].value[m] - base[(size_t)i * EVAL_N_METRICS + m];
                        if (pass == 0) sum += d, cnt++;
                        else sq += (d - sum / cnt) * (d - sum / cnt);
                    }
                if (cnt >= 2) se[g][m] = sqrt(sq / (double)(cnt - 1) / (double)cnt);
            }
        rc = n;
    }
    free(base), free(seen);
    return rc;
}

int eval_read_summary(const char *path, EvalSummary *out, char **settings, char *err, size_t errlen) {
    if (settings) *settings = NULL;
    char *text = read_text(path, err, errlen);
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return cg_errf(err, errlen, "%s is not a JSON object (a results.json of cgrpo eval)", path);
    }
    memset(out, 0, sizeof(*out));
    int rc = 0;
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(root, "metrics");
    if (!cJSON_IsObject(metrics)) rc = cg_errf(err, errlen, "%s has no \"metrics\" object (not a results.json of cgrpo eval)", path);
    for (int g = 0; g < EVAL_N_GROUPS && rc == 0; g++) {
        const cJSON *grp = cJSON_GetObjectItemCaseSensitive(metrics, GROUP_NAMES[g]);
        const cJSON *nimg = cJSON_GetObjectItemCaseSensitive(grp, "n_images");
        if (!cJSON_IsObject(grp) || !cJSON_IsNumber(nimg) || nimg->valuedouble < 0) {
            rc = cg_errf(err, errlen, "%s: metrics.%s.n_images is missing or not a count", path, GROUP_NAMES[g]);
            break;
        }
        out->n[g] = (long)nimg->valuedouble;
        for (int m = 0; m < EVAL_N_METRICS && rc == 0; m++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(grp, METRIC_NAMES[m]);
            if (cJSON_IsNumber(v)) out->mean[g][m] = v->valuedouble;
            else if (cJSON_IsNull(v)) out->mean[g][m] = NAN;
            else rc = cg_errf(err, errlen, "%s: metrics.%s.%s is missing or not a number", path, GROUP_NAMES[g], METRIC_NAMES[m]);
        }
    }
    if (rc == 0 && settings) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "settings");
        if (cJSON_IsObject(st)) *settings = cJSON_PrintUnformatted(st);
    }
    cJSON_Delete(root);
    return rc;
}

int eval_settings_diff(const char *a, const char *b, char *out, size_t len) {
    if (len) out[0] = '\0';
    cJSON *ja = cJSON_Parse(a), *jb = cJSON_Parse(b);
    int n = -1;
    if (!cJSON_IsObject(ja) || !cJSON_IsObject(jb)) goto done;
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(ja, "settings"), *sb = cJSON_GetObjectItemCaseSensitive(jb, "settings");
    if (!cJSON_IsObject(sa)) sa = ja;
    if (!cJSON_IsObject(sb)) sb = jb;
    static const char *const IGNORED[] = {"model", "model_fnv1a64", "weights"};
    n = 0;
    size_t used = 0;
    // keys of a (changed or missing in b), then keys only b has
    for (int pass = 0; pass < 2; pass++) {
        const cJSON *x = pass ? sb : sa, *y = pass ? sa : sb;
        for (const cJSON *item = x->child; item; item = item->next) {
            int skip = !item->string;
            for (size_t q = 0; q < sizeof(IGNORED) / sizeof(IGNORED[0]) && !skip; q++) skip = strcmp(item->string, IGNORED[q]) == 0;
            const cJSON *other = skip ? NULL : cJSON_GetObjectItemCaseSensitive(y, item->string);
            if (skip || (pass && other)) continue; // pass 1: only keys missing from a
            char *va = cJSON_PrintUnformatted(item), *vb = other ? cJSON_PrintUnformatted(other) : NULL;
            if (!vb || strcmp(va, vb) != 0) {
                const char *left = pass ? "(none)" : va, *right = pass ? va : (vb ? vb : "(none)");
                if (strlen(left) > 40) left = "...";
                if (strlen(right) > 40) right = "...";
                if (used < len) {
                    int w = snprintf(out + used, len - used, "%s%s %s vs %s", n ? "; " : "", item->string, left, right);
                    used = w < 0 ? len : used + (size_t)w;
                }
                n++;
            }
            free(va), free(vb);
        }
    }
done:
    cJSON_Delete(ja), cJSON_Delete(jb);
    return n;
}
