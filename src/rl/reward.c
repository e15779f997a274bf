// reward.c: the reward registry and the built-in encoder rewards. See reward.h.
#include "rl/reward.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "world/tokenizer.h"

#define REWARD_MAX_B 64 // the encoders' batch; larger batches are scored in chunks

// What a built-in reward compares the image with.
// CMP_SEG_PIX: the identity embedding's cosine and the pixel cosine to the segmented reference,
// half and half (reward.h, "id-pix").
typedef enum { CMP_SEG, CMP_PLAIN, CMP_TEXT, CMP_ATTR, CMP_SEG_PIX } Compare;

typedef struct {
    const char *name, *file;
    EncKind kind;
    Compare cmp;
    const char *description;
} Builtin;

static const Builtin BUILTINS[] = {
    {"id", "id.safetensors", ENC_ID, CMP_SEG, "identity reward: 100 cos to the segmented reference"},
    {"prompt", "prompt.safetensors", ENC_CLIP, CMP_TEXT, "prompt reward: 100 cos between image and prompt"},
    {"judge-id", "judge_id.safetensors", ENC_ID, CMP_SEG, "DINO judge: 100 cos to the segmented reference"},
    {"judge-id-plain", "judge_id.safetensors", ENC_ID, CMP_PLAIN, "DINO judge: 100 cos to the plain reference"},
    {"judge-clip-i", "judge_clip.safetensors", ENC_CLIP, CMP_PLAIN, "CLIP-I judge: 100 cos to the plain reference"},
    {"judge-clip-t", "judge_clip.safetensors", ENC_CLIP, CMP_TEXT, "CLIP-T judge: 100 cos between image and prompt"},
    {"attr", "attr.safetensors", ENC_ATTR, CMP_ATTR, "attribute judge: 100 P(the prompt's scene, accessory, property)"},
    {"id-pix", "id.safetensors", ENC_ID, CMP_SEG_PIX,
     "copy-sensitive identity reward: 50 cos to the segmented reference + 50 pixel cosine to it"},
};
#define N_BUILTINS ((int)(sizeof(BUILTINS) / sizeof(BUILTINS[0])))

int reward_n_builtin(void) { return N_BUILTINS; }
const char *reward_builtin_name(int i) { return i >= 0 && i < N_BUILTINS ? BUILTINS[i].name : NULL; }
const char *reward_builtin_file(int i) { return i >= 0 && i < N_BUILTINS ? BUILTINS[i].file : NULL; }
const char *reward_builtin_description(int i) { return i >= 0 && i < N_BUILTINS ? BUILTINS[i].description : NULL; }

typedef struct {
    const Builtin *spec;
    EncModel model;
    float *emb_a, *emb_b; // (REWARD_MAX_B, D) scratch
    float *probs[ATTR_N_HEADS]; // (REWARD_MAX_B, n_h) attr only
} EncReward;

// Embed the rows of x (n rows of `row` elements) into emb (n, D), computing each run of equal
// consecutive rows once. texts 0: rows are images, 1: rows are token ids.
static void embed_dedup(EncModel *m, float *emb, const void *x, size_t row_bytes, int n, int texts, int D) {
    const unsigned char *bytes = x;
    int i = 0;
    while (i < n) {
        // the longest run of distinct rows starting at i that fits one forward; copies for repeats
        int uniq[REWARD_MAX_B] = {0}, nu = 0, owner[REWARD_MAX_B], j = i;
        for (; j < n && nu < REWARD_MAX_B; j++) {
            if (j > i && memcmp(bytes + (size_t)j * row_bytes, bytes + (size_t)(j - 1) * row_bytes, row_bytes) == 0) {
                owner[j - i] = owner[j - 1 - i];
                continue;
            }
            owner[j - i] = nu;
            uniq[nu++] = j;
        }
        // gather the unique rows (they are usually contiguous already: then no copy)
        int contiguous = uniq[nu - 1] - uniq[0] == nu - 1;
        const void *src = bytes + (size_t)uniq[0] * row_bytes;
        void *tmp = NULL;
        if (!contiguous) {
            tmp = cg_malloc((size_t)nu * row_bytes);
            for (int u = 0; u < nu; u++) memcpy((unsigned char *)tmp + (size_t)u * row_bytes, bytes + (size_t)uniq[u] * row_bytes, row_bytes);
            src = tmp;
        }
        float *e = cg_malloc((size_t)nu * D * sizeof(float));
        if (texts) enc_embed_texts(m, e, src, nu);
        else enc_embed_images(m, e, src, nu);
        for (int r = i; r < j; r++) memcpy(emb + (size_t)r * D, e + (size_t)owner[r - i] * D, (size_t)D * sizeof(float));
        free(e);
        free(tmp);
        i = j;
    }
}

double reward_pixel_cosine(const float *a, const float *b, size_t n) {
    double ma = 0.0, mb = 0.0;
    for (size_t i = 0; i < n; i++) ma += a[i], mb += b[i];
    ma /= (double)n, mb /= (double)n;
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double x = a[i] - ma, y = b[i] - mb;
        ab += x * y, aa += x * x, bb += y * y;
    }
    return aa > 0.0 && bb > 0.0 ? ab / sqrt(aa * bb) : 0.0;
}

static int enc_reward_score(Reward *r, const RewardBatch *b, float *scores, char *err, size_t errlen) {
    (void)err, (void)errlen;
    EncReward *st = r->state;
    EncModel *m = &st->model;
    const int D = m->img.cfg.embed_dim, S = b->S;
    const size_t img_bytes = (size_t)S * S * 3 * sizeof(float);
    for (int i0 = 0; i0 < b->B; i0 += REWARD_MAX_B) {
        const int n = b->B - i0 < REWARD_MAX_B ? b->B - i0 : REWARD_MAX_B;
        const float *imgs = b->images + (size_t)i0 * S * S * 3;
        if (st->spec->cmp == CMP_ATTR) {
            enc_attr_probs(m, st->probs, imgs, n);
            for (int i = 0; i < n; i++) {
                int labels[ATTR_N_HEADS];
                attr_labels(labels, &b->prompts[i0 + i]);
                double p = 1.0;
                for (int h = 0; h < ATTR_N_HEADS; h++)
                    if (h != ATTR_CLASS) p *= st->probs[h][(size_t)i * attr_n_classes(h) + labels[h]];
                scores[i0 + i] = (float)(100.0 * p);
            }
            continue;
        }
        enc_embed_images(m, st->emb_a, imgs, n);
        if (st->spec->cmp == CMP_TEXT)
            embed_dedup(m, st->emb_b, b->tokens + (size_t)i0 * TOK_MAX_TOKENS, TOK_MAX_TOKENS * sizeof(int), n, 1, D);
        else {
            const float *refs = st->spec->cmp == CMP_PLAIN ? b->ref_plain : b->ref_seg;
            embed_dedup(m, st->emb_b, refs + (size_t)i0 * S * S * 3, img_bytes, n, 0, D);
        }
        for (int i = 0; i < n; i++) {
            const float *a = st->emb_a + (size_t)i * D, *c = st->emb_b + (size_t)i * D;
            double dot = 0;
            for (int d = 0; d < D; d++) dot += (double)a[d] * c[d];
            if (st->spec->cmp == CMP_SEG_PIX) {
                const size_t o = (size_t)(i0 + i) * S * S * 3;
                dot = 0.5 * dot + 0.5 * reward_pixel_cosine(b->images + o, b->ref_seg + o, (size_t)S * S * 3);
            }
            scores[i0 + i] = (float)(100.0 * dot);
        }
    }
    return 0;
}

static void enc_reward_free(Reward *r) {
    EncReward *st = r->state;
    if (!st) return;
    enc_model_free(&st->model);
    free(st->emb_a), free(st->emb_b);
    for (int h = 0; h < ATTR_N_HEADS; h++) free(st->probs[h]);
    free(st);
    r->state = NULL;
}

Reward *reward_create_by_name(const char *name, const char *models_dir, char *err, size_t errlen) {
    const Builtin *spec = NULL;
    for (int i = 0; i < N_BUILTINS; i++)
        if (strcmp(name, BUILTINS[i].name) == 0) spec = &BUILTINS[i];
    if (!spec) {
        char known[256] = "";
        for (int i = 0; i < N_BUILTINS; i++) {
            size_t len = strlen(known);
            snprintf(known + len, sizeof(known) - len, "%s%s", i ? ", " : "", BUILTINS[i].name);
        }
        cg_errf(err, errlen, "unknown reward '%s' (known: %s)", name, known);
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", models_dir, spec->file);
    EncReward *st = cg_calloc(1, sizeof(EncReward));
    st->spec = spec;
    if (enc_model_load(&st->model, path, spec->kind, REWARD_MAX_B, NULL, err, errlen)) {
        free(st);
        return NULL;
    }
    const int D = st->model.img.cfg.embed_dim;
    st->emb_a = cg_malloc((size_t)REWARD_MAX_B * D * sizeof(float));
    st->emb_b = cg_malloc((size_t)REWARD_MAX_B * D * sizeof(float));
    if (spec->kind == ENC_ATTR)
        for (int h = 0; h < ATTR_N_HEADS; h++) st->probs[h] = cg_malloc((size_t)REWARD_MAX_B * attr_n_classes(h) * sizeof(float));
    Reward *r = cg_calloc(1, sizeof(Reward));
    snprintf(r->name, sizeof(r->name), "%s", spec->name);
    r->needs = spec->cmp == CMP_SEG || spec->cmp == CMP_SEG_PIX ? REWARD_NEEDS_SEG
             : spec->cmp == CMP_PLAIN ? REWARD_NEEDS_PLAIN
             : spec->cmp == CMP_TEXT ? REWARD_NEEDS_TOKENS
                                     : REWARD_NEEDS_PROMPTS;
    r->S = st->model.img.cfg.img;
    r->score = enc_reward_score;
    r->free = enc_reward_free;
    r->state = st;
    return r;
}

int reward_score(Reward *r, const RewardBatch *b, float *scores, char *err, size_t errlen) {
    if (b->B < 0) return cg_errf(err, errlen, "reward %s: batch of %d images", r->name, b->B);
    if (b->B == 0) return 0;
    if (!b->images) return cg_errf(err, errlen, "reward %s: the batch has no images", r->name);
    if (r->S && b->S != r->S)
        return cg_errf(err, errlen, "reward %s takes %dx%d images, the batch has %dx%d", r->name, r->S, r->S, b->S, b->S);
    if ((r->needs & REWARD_NEEDS_SEG) && !b->ref_seg)
        return cg_errf(err, errlen, "reward %s needs segmented references (RewardBatch.ref_seg)", r->name);
    if ((r->needs & REWARD_NEEDS_PLAIN) && !b->ref_plain)
        return cg_errf(err, errlen, "reward %s needs plain references (RewardBatch.ref_plain)", r->name);
    if ((r->needs & REWARD_NEEDS_TOKENS) && !b->tokens)
        return cg_errf(err, errlen, "reward %s needs prompt tokens (RewardBatch.tokens)", r->name);
    if ((r->needs & REWARD_NEEDS_PROMPTS) && !b->prompts)
        return cg_errf(err, errlen, "reward %s needs parsed prompts (RewardBatch.prompts)", r->name);
    if (r->needs & REWARD_NEEDS_TOKENS)
        for (size_t i = 0; i < (size_t)b->B * TOK_MAX_TOKENS; i++)
            if (b->tokens[i] < 0 || b->tokens[i] >= TOK_VOCAB_SIZE)
                return cg_errf(err, errlen, "reward %s: token id %d outside [0, %d)", r->name, b->tokens[i], TOK_VOCAB_SIZE);
    return r->score(r, b, scores, err, errlen);
}

void reward_free(Reward *r) {
    if (!r) return;
    if (r->free) r->free(r);
    free(r);
}

EncModel *reward_encoder(Reward *r) {
    return r->score == enc_reward_score ? &((EncReward *)r->state)->model : NULL;
}

int reward_set_create(RewardSet *set, const char *names, const char *models_dir, char *err, size_t errlen) {
    memset(set, 0, sizeof(*set));
    size_t len = strlen(names);
    char *copy = cg_malloc(len + 1);
    memcpy(copy, names, len + 1);
    for (char *tok = copy, *next; tok; tok = next) {
        next = strchr(tok, ',');
        if (next) *next++ = '\0';
        if (!*tok) {
            cg_errf(err, errlen, "empty reward name in '%s'", names);
            goto fail;
        }
        for (int k = 0; k < set->n; k++)
            if (strcmp(set->r[k]->name, tok) == 0) {
                cg_errf(err, errlen, "reward '%s' is listed twice", tok);
                goto fail;
            }
        Reward *r = reward_create_by_name(tok, models_dir, err, errlen);
        if (!r) goto fail;
        set->r = cg_realloc(set->r, (size_t)(set->n + 1) * sizeof(Reward *));
        set->r[set->n++] = r;
    }
    free(copy);
    return 0;
fail:
    free(copy);
    reward_set_free(set);
    return -1;
}

int reward_set_score(RewardSet *set, const RewardBatch *b, float *scores, char *err, size_t errlen) {
    for (int k = 0; k < set->n; k++)
        if (reward_score(set->r[k], b, scores + (size_t)k * b->B, err, errlen)) return -1;
    return 0;
}

void reward_set_free(RewardSet *set) {
    for (int k = 0; k < set->n; k++) reward_free(set->r[k]);
    free(set->r);
    memset(set, 0, sizeof(*set));
}

// ---- inputs ---------------------------------------------------------------------------------------

void reward_from_render(float *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = 2.0f * src[i] - 1.0f;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void reward_estimate_mask(unsigned char *mask, const float *img, int S) {
    // border pixels: the top and bottom rows and the left and right columns
    int nb = S > 1 ? 4 * S - 4 : 1;
    float *border = cg_malloc((size_t)nb * sizeof(float));
    float bg[3];
    for (int ch = 0; ch < 3; ch++) {
        int k = 0;
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                if (y == 0 || y == S - 1 || x == 0 || x == S - 1) border[k++] = img[((size_t)y * S + x) * 3 + ch];
        qsort(border, (size_t)k, sizeof(float), cmp_float);
        bg[ch] = border[k / 2];
    }
    free(border);
    const size_t n = (size_t)S * S;
    unsigned char *exact_bg = cg_calloc(n, 1); // within REWARD_MASK_LO / 2 of the background colour
    for (size_t i = 0; i < n; i++) {
        float d2 = 0;
        for (int ch = 0; ch < 3; ch++) {
            float d = img[i * 3 + ch] - bg[ch];
            d2 += d * d;
        }
        exact_bg[i] = sqrtf(d2) < 0.5f * REWARD_MASK_LO;
        float t = (sqrtf(d2) - REWARD_MASK_LO) / (REWARD_MASK_HI - REWARD_MASK_LO);
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        mask[i] = (unsigned char)(t * 255.0f + 0.5f);
    }
    // holes: near-background pixels that the border cannot reach through near-background pixels lie
    // inside the subject (a white patch on a light subject): they are subject, unless they have the
    // background colour itself (the gap between a teapot's handle and its body)
    unsigned char *reached = cg_calloc(n, 1);
    int *queue = cg_malloc(n * sizeof(int));
    size_t head = 0, tail = 0;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            int i = y * S + x;
            if ((y == 0 || y == S - 1 || x == 0 || x == S - 1) && mask[i] < 128) reached[i] = 1, queue[tail++] = i;
        }
    while (head < tail) {
        int i = queue[head++], x = i % S, y = i / S;
        const int nb[4][2] = {{x - 1, y}, {x + 1, y}, {x, y - 1}, {x, y + 1}};
        for (int k = 0; k < 4; k++) {
            int nx = nb[k][0], ny = nb[k][1];
            if (nx < 0 || ny < 0 || nx >= S || ny >= S) continue;
            int j = ny * S + nx;
            if (!reached[j] && mask[j] < 128) reached[j] = 1, queue[tail++] = j;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!reached[i] && mask[i] < 128 && !exact_bg[i]) mask[i] = 255;
    free(exact_bg);
    free(queue);
    free(reached);
}
