// enc_metrics.c: retrieval, ordering and attribute metrics of the encoders on ground-truth
// renders of a split, and the validation score of encoder training. See enc_metrics.h.
#include "train/enc_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "world/render.h"
#include "world/tokenizer.h"

#define NT PROMPT_N_TEMPLATES
#define N_CTX (PROMPT_N_TEMPLATES - PROMPT_N_PROPERTIES) // templates 0..19

static void to_unit_range(float *img, size_t n) {
    for (size_t i = 0; i < n; i++) img[i] = 2.0f * img[i] - 1.0f;
}

void rm_set_build(RmSet *set, const World *w, int split, int S, int n_seeds, uint64_t seed) {
    memset(set, 0, sizeof(*set));
    const int n = world_split_count(split);
    CG_CHECK(n > 0 && n_seeds >= 1 && S >= 8, "eval set: split %d, %d seeds, size %d", split, n_seeds, S);
    set->split = split, set->S = S, set->n_subjects = n, set->n_seeds = n_seeds;
    set->subjects = cg_malloc((size_t)n * sizeof(*set->subjects));
    for (int s = 0; s < n; s++) set->subjects[s] = world_subject(w, split, s);
    set->n_images = (long)n * NT * n_seeds;
    const size_t per = (size_t)S * S * 3;
    set->images = cg_malloc(cg_mul_size((size_t)set->n_images, per) * sizeof(float));
    set->ref_seg = cg_malloc((size_t)n * per * sizeof(float));
    set->ref_plain = cg_malloc((size_t)n * per * sizeof(float));
    set->prompts = cg_malloc((size_t)n * NT * sizeof(Prompt));
    set->tokens = cg_calloc((size_t)n * NT * TOK_MAX_TOKENS, sizeof(int));
    for (int s = 0; s < n; s++)
        for (int t = 0; t < NT; t++) {
            Prompt *p = &set->prompts[s * NT + t];
            prompt_make(p, set->subjects[s]->cls, t);
            char err[128];
            CG_CHECK(tok_encode(set->tokens + ((size_t)s * NT + t) * TOK_MAX_TOKENS, p->text, err, sizeof(err)) > 0,
                     "tokenizing '%s': %s", p->text, err);
        }
#pragma omp parallel for schedule(dynamic, 16)
    for (long i = 0; i < set->n_images; i++) {
        int k = (int)(i % n_seeds), t = (int)(i / n_seeds % NT), s = (int)(i / n_seeds / NT);
        float *img = set->images + (size_t)i * per;
        render_target(img, NULL, set->subjects[s], &set->prompts[s * NT + t],
                      cg_rng_stream(RM_STREAM_RENDER, seed, (uint64_t)k), S);
        to_unit_range(img, per);
    }
    for (int s = 0; s < n; s++) {
        render_segmented_reference(set->ref_seg + (size_t)s * per, NULL, set->subjects[s], 0, S);
        render_reference(set->ref_plain + (size_t)s * per, NULL, set->subjects[s], 0, S);
        to_unit_range(set->ref_seg + (size_t)s * per, per);
        to_unit_range(set->ref_plain + (size_t)s * per, per);
    }
}

void rm_set_free(RmSet *set) {
    free(set->subjects), free(set->images), free(set->ref_seg), free(set->ref_plain);
    free(set->prompts), free(set->tokens);
    memset(set, 0, sizeof(*set));
}

static long img_index(const RmSet *set, int s, int t, int k) { return ((long)s * NT + t) * set->n_seeds + k; }

// 100 x cosine of two unit embeddings, the rewards' scale
static double score(const float *a, const float *b, int D) {
    double dot = 0;
    for (int d = 0; d < D; d++) dot += (double)a[d] * b[d];
    return 100.0 * dot;
}

// a template means the same scene / accessory / property for subjects s and s2 (10..19 differ by kind)
static int same_prompt_meaning(const RmSet *set, int s, int s2, int t) {
    return t < 10 || t >= 20 || set->subjects[s]->kind == set->subjects[s2]->kind;
}

void rm_identity(EncModel *m, const RmSet *set, int ref_kind, RmIdentity *out) {
    const int D = m->img.cfg.embed_dim, n = set->n_subjects;
    CG_CHECK(m->img.cfg.img == set->S, "encoder takes %d px images, the eval set has %d", m->img.cfg.img, set->S);
    float *emb = cg_malloc((size_t)set->n_images * D * sizeof(float));
    float *ref = cg_malloc((size_t)n * D * sizeof(float));
    enc_embed_images(m, emb, set->images, (int)set->n_images);
    enc_embed_images(m, ref, ref_kind == RM_REF_PLAIN ? set->ref_plain : set->ref_seg, n);
    rm_identity_from_emb(set, emb, ref, D, out);
    free(emb), free(ref);
}

void rm_identity_from_emb(const RmSet *set, const float *emb, const float *ref, int D, RmIdentity *out) {
    memset(out, 0, sizeof(*out));
    const int n = set->n_subjects, K = set->n_seeds;
    // sim (n_images, n): every render against every reference
    double *sim = cg_malloc((size_t)set->n_images * n * sizeof(double));
    for (long i = 0; i < set->n_images; i++)
        for (int j = 0; j < n; j++) sim[(size_t)i * n + j] = score(emb + (size_t)i * D, ref + (size_t)j * D, D);
    long hit_ctx = 0, hit_prop = 0, ok_ctx = 0, ok_prop = 0;
    double sum_true = 0, sum2_true = 0, sum_other = 0, sum_true_prop = 0;
    long n_other = 0;
    for (int s = 0; s < n; s++)
        for (int t = 0; t < NT; t++)
            for (int k = 0; k < K; k++) {
                const double *row = sim + (size_t)img_index(set, s, t, k) * n;
                int best = 0;
                for (int j = 1; j < n; j++)
                    if (row[j] > row[best]) best = j;
                const int prop = t >= N_CTX;
                const int kind = (int)set->prompts[s * NT + t].kind;
                out->n_kind[kind]++, out->top1_kind[kind] += best == s;
                if (prop) {
                    out->n_prop++, hit_prop += best == s, sum_true_prop += row[s];
                } else {
                    out->n_ctx++, hit_ctx += best == s;
                    sum_true += row[s], sum2_true += row[s] * row[s];
                    for (int j = 0; j < n; j++)
                        if (j != s) sum_other += row[j], n_other++;
                }
                // ordering: the same prompt and placement on another subject, scored against s's reference
                for (int s2 = 0; s2 < n; s2++) {
                    if (s2 == s || !same_prompt_meaning(set, s, s2, t)) continue;
                    int ok = row[s] > sim[(size_t)img_index(set, s2, t, k) * n + s];
                    if (prop) out->pairs_prop++, ok_prop += ok;
                    else out->pairs_ctx++, ok_ctx += ok;
                }
            }
    out->top1_ctx = (double)hit_ctx / (double)out->n_ctx;
    out->top1_prop = (double)hit_prop / (double)out->n_prop;
    out->top1_all = (double)(hit_ctx + hit_prop) / (double)(out->n_ctx + out->n_prop);
    for (int kind = 0; kind < 4; kind++)
        out->top1_kind[kind] = out->n_kind[kind] ? out->top1_kind[kind] / (double)out->n_kind[kind] : 0;
    out->order_ctx = out->pairs_ctx ? (double)ok_ctx / (double)out->pairs_ctx : 0;
    out->order_prop = out->pairs_prop ? (double)ok_prop / (double)out->pairs_prop : 0;
    out->mean_true = sum_true / (double)out->n_ctx;
    double var = sum2_true / (double)out->n_ctx - out->mean_true * out->mean_true;
    out->std_true = sqrt(var > 0 ? var : 0);
    out->mean_other = n_other ? sum_other / (double)n_other : 0;
    out->mean_true_prop = sum_true_prop / (double)out->n_prop;
    free(sim);
}

void rm_prompt(EncModel *m, const RmSet *set, RmPrompt *out) {
    CG_CHECK(m->kind == ENC_CLIP, "prompt metrics need a clip model");
    const int D = m->img.cfg.embed_dim, n = set->n_subjects;
    float *emb = cg_malloc((size_t)set->n_images * D * sizeof(float));
    float *txt = cg_malloc((size_t)n * NT * D * sizeof(float));
    enc_embed_images(m, emb, set->images, (int)set->n_images);
    enc_embed_texts(m, txt, set->tokens, n * NT);
    rm_prompt_from_emb(set, emb, txt, D, out);
    free(emb), free(txt);
}

void rm_prompt_from_emb(const RmSet *set, const float *emb, const float *txt, int D, RmPrompt *out) {
    memset(out, 0, sizeof(*out));
    const int n = set->n_subjects, K = set->n_seeds;
    long hit = 0, hit_kind[4] = {0}, ok = 0;
    double sum_true = 0, sum2_true = 0, sum_other = 0;
    for (int s = 0; s < n; s++)
        for (int k = 0; k < K; k++) {
            // sc[t][t2]: render of template t against the subject's prompt t2
            double sc[NT][NT];
            for (int t = 0; t < NT; t++)
                for (int t2 = 0; t2 < NT; t2++)
                    sc[t][t2] = score(emb + (size_t)img_index(set, s, t, k) * D, txt + ((size_t)s * NT + t2) * D, D);
            for (int t = 0; t < NT; t++) {
                int best = 0;
                for (int t2 = 1; t2 < NT; t2++)
                    if (sc[t][t2] > sc[t][best]) best = t2;
                int kind = set->prompts[s * NT + t].kind;
                out->n++, out->n_kind[kind]++;
                hit += best == t, hit_kind[kind] += best == t;
                sum_true += sc[t][t], sum2_true += sc[t][t] * sc[t][t];
                for (int t2 = 0; t2 < NT; t2++)
                    if (t2 != t) {
                        sum_other += sc[t][t2];
                        out->pairs++, ok += sc[t][t] > sc[t2][t]; // prompt t: its render vs the render of t2
                    }
            }
        }
    out->top1_all = (double)hit / (double)out->n;
    for (int k = 0; k < 4; k++) out->top1_kind[k] = out->n_kind[k] ? (double)hit_kind[k] / (double)out->n_kind[k] : 0;
    out->order = (double)ok / (double)out->pairs;
    out->mean_true = sum_true / (double)out->n;
    double var = sum2_true / (double)out->n - out->mean_true * out->mean_true;
    out->std_true = sqrt(var > 0 ? var : 0);
    out->mean_other = sum_other / (double)(out->n * (NT - 1));
}

void rm_attr(EncModel *m, const RmSet *set, RmAttr *out) {
    CG_CHECK(m->kind == ENC_ATTR, "attribute metrics need an attr model");
    float *probs[ATTR_N_HEADS];
    for (int h = 0; h < ATTR_N_HEADS; h++)
        probs[h] = cg_malloc((size_t)set->n_images * attr_n_classes(h) * sizeof(float));
    enc_attr_probs(m, probs, set->images, (int)set->n_images);
    rm_attr_from_probs(set, (const float *const *)probs, out);
    for (int h = 0; h < ATTR_N_HEADS; h++) free(probs[h]);
}

void rm_attr_from_probs(const RmSet *set, const float *const probs[ATTR_N_HEADS], RmAttr *out) {
    memset(out, 0, sizeof(*out));
    long hit_all[ATTR_N_HEADS] = {0}, hit_present[ATTR_N_HEADS] = {0};
    for (long i = 0; i < set->n_images; i++) {
        int t = (int)(i / set->n_seeds % NT), s = (int)(i / set->n_seeds / NT);
        const Prompt *p = &set->prompts[s * NT + t];
        int labels[ATTR_N_HEADS];
        attr_labels(labels, p);
        out->n_all++;
        for (int h = 0; h < ATTR_N_HEADS; h++) {
            const int C = attr_n_classes(h);
            int hit = vit_argmax(probs[h] + (size_t)i * C, C) == labels[h];
            int present = h == ATTR_CLASS || (h == ATTR_SCENE && p->kind == PROMPT_SCENE) ||
                          (h == ATTR_ACCESSORY && p->kind == PROMPT_ACCESSORY) ||
                          (h == ATTR_PROPERTY && p->kind == PROMPT_PROPERTY);
            hit_all[h] += hit;
            if (present) out->n_present[h]++, hit_present[h] += hit;
        }
    }
    for (int h = 0; h < ATTR_N_HEADS; h++) {
        out->acc_all[h] = (double)hit_all[h] / (double)out->n_all;
        out->acc_present[h] = out->n_present[h] ? (double)hit_present[h] / (double)out->n_present[h] : 0;
    }
}

const char *rm_selection_name(int kind) {
    return kind == ENC_ID ? "id_top1_ctx" : kind == ENC_CLIP ? "prompt_top1" : "attr_acc_present";
}

double rm_selection_score(EncModel *m, const RmSet *set, const char **name) {
    *name = rm_selection_name(m->kind);
    if (m->kind == ENC_ID) {
        RmIdentity r;
        rm_identity(m, set, RM_REF_SEG, &r);
        return r.top1_ctx;
    }
    if (m->kind == ENC_CLIP) {
        RmPrompt r;
        rm_prompt(m, set, &r);
        return r.top1_all;
    }
    RmAttr r;
    rm_attr(m, set, &r);
    return (r.acc_present[ATTR_SCENE] + r.acc_present[ATTR_ACCESSORY] + r.acc_present[ATTR_PROPERTY]) / 3.0;
}
