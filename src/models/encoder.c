// encoder.c: the encoder models: kinds, the heads' label spaces, create / init / free, config
// metadata, save / load, embeddings and attribute probabilities. See encoder.h.
#include "models/encoder.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "world/tokenizer.h"

// ---- kinds ------------------------------------------------------------------------------------------

static const char *const KIND_NAMES[ENC_N_KINDS] = {"id", "clip", "attr"};

const char *enc_kind_name(EncKind k) { return k >= 0 && k < ENC_N_KINDS ? KIND_NAMES[k] : "?"; }

int enc_kind_from_name(const char *name) {
    for (int k = 0; k < ENC_N_KINDS; k++)
        if (strcmp(name, KIND_NAMES[k]) == 0) return k;
    return -1;
}

// ---- attributes -------------------------------------------------------------------------------------

int attr_n_classes(int head) {
    switch (head) {
    case ATTR_SCENE: return PROMPT_N_SCENES + 1;
    case ATTR_ACCESSORY: return PROMPT_N_ACCESSORIES + 1;
    case ATTR_PROPERTY: return PROMPT_N_PROPERTIES + 1;
    case ATTR_CLASS: return WORLD_N_CLASSES;
    default: cg_die("attribute head %d does not exist", head);
    }
}

const char *attr_head_name(int head) {
    static const char *const names[ATTR_N_HEADS] = {"scene", "accessory", "property", "class"};
    CG_CHECK(head >= 0 && head < ATTR_N_HEADS, "attribute head %d", head);
    return names[head];
}

const char *attr_label_name(int head, int label) {
    CG_CHECK(label >= 0 && label < attr_n_classes(head), "label %d of head %d", label, head);
    switch (head) {
    case ATTR_SCENE: return label == ATTR_SCENE_NONE ? "none" : prompt_item_name(PROMPT_SCENE, label);
    case ATTR_ACCESSORY: return label == ATTR_ACCESSORY_NONE ? "none" : prompt_item_name(PROMPT_ACCESSORY, label);
    case ATTR_PROPERTY: return label == ATTR_PROPERTY_NONE ? "none" : prompt_item_name(PROMPT_PROPERTY, label);
    default: return world_class_word(label);
    }
}

void attr_labels(int labels[ATTR_N_HEADS], const Prompt *p) {
    labels[ATTR_SCENE] = p->kind == PROMPT_SCENE ? p->item : ATTR_SCENE_NONE;
    labels[ATTR_ACCESSORY] = p->kind == PROMPT_ACCESSORY ? p->item : ATTR_ACCESSORY_NONE;
    labels[ATTR_PROPERTY] = p->kind == PROMPT_PROPERTY ? p->item : ATTR_PROPERTY_NONE;
    labels[ATTR_CLASS] = p->cls;
}

// ---- identity-attribute heads -------------------------------------------------------------------------

int id_aux_n_classes(int head) {
    switch (head) {
    case IDA_BODY: return WORLD_N_CLASSES * WORLD_N_SHAPES;
    case IDA_MAIN: return WORLD_N_MAIN_COLOURS;
    case IDA_PATTERN: return WORLD_N_PATTERNS;
    case IDA_SECOND: return WORLD_N_COLOURS + 1;
    default: cg_die("identity head %d does not exist", head);
    }
}

void id_aux_labels(int labels[ID_AUX_N_HEADS], const Subject *s) {
    labels[IDA_BODY] = s->cls * WORLD_N_SHAPES + s->shape;
    labels[IDA_MAIN] = s->main_colour;
    labels[IDA_PATTERN] = s->pattern;
    labels[IDA_SECOND] = s->pattern == PAT_NONE ? WORLD_N_COLOURS : s->second_colour;
}

// ---- models -----------------------------------------------------------------------------------------

void enc_default_configs(EncKind kind, ViTConfig *v, TextEncConfig *t) {
    *v = (ViTConfig){.img = 32, .patch = 8, .channels = 3, .width = 96, .depth = 4, .n_heads = 4,
                     .embed_dim = 64, .logit_scale = kind != ENC_ATTR};
    if (kind == ENC_ATTR) {
        v->n_cls_heads = ATTR_N_HEADS;
        for (int h = 0; h < ATTR_N_HEADS; h++) v->n_classes[h] = attr_n_classes(h);
    }
    if (t)
        *t = (TextEncConfig){.max_len = TOK_MAX_TOKENS, .vocab = TOK_VOCAB_SIZE, .width = 64, .depth = 2,
                             .n_heads = 4, .embed_dim = v->embed_dim};
}

int enc_model_config_check(EncKind kind, const ViTConfig *v, const TextEncConfig *t, char *err, size_t errlen) {
    if (kind < 0 || kind >= ENC_N_KINDS) return cg_errf(err, errlen, "unknown encoder kind %d", (int)kind);
    if (v->channels != 3) return cg_errf(err, errlen, "encoders take RGB images, not %d channels", v->channels);
    if (kind == ENC_ATTR) {
        if (v->n_cls_heads != ATTR_N_HEADS) return cg_errf(err, errlen, "an attr model needs %d heads", ATTR_N_HEADS);
        for (int h = 0; h < ATTR_N_HEADS; h++)
            if (v->n_classes[h] != attr_n_classes(h))
                return cg_errf(err, errlen, "attr head %s has %d classes, want %d", attr_head_name(h),
                               v->n_classes[h], attr_n_classes(h));
    } else {
        if (!v->logit_scale) return cg_errf(err, errlen, "a contrastive encoder needs logit_scale");
        // optional heads: the identity attributes on an id encoder, the prompt attributes on clip
        int aux_ok = v->n_cls_heads == (kind == ENC_ID ? ID_AUX_N_HEADS : ATTR_N_HEADS);
        for (int h = 0; aux_ok && h < v->n_cls_heads; h++)
            aux_ok = v->n_classes[h] == (kind == ENC_ID ? id_aux_n_classes(h) : attr_n_classes(h));
        if (v->n_cls_heads && !aux_ok)
            return cg_errf(err, errlen, "an %s encoder has no classification heads but the %s ones", enc_kind_name(kind),
                           kind == ENC_ID ? "identity-attribute" : "prompt-attribute");
    }
    if (kind == ENC_CLIP) {
        if (!t) return cg_errf(err, errlen, "a clip model needs a text encoder config");
        if (t->embed_dim != v->embed_dim)
            return cg_errf(err, errlen, "text embed_dim %d != image embed_dim %d", t->embed_dim, v->embed_dim);
        if (t->max_len != TOK_MAX_TOKENS || t->vocab != TOK_VOCAB_SIZE)
            return cg_errf(err, errlen, "text encoder takes %d tokens of a %d-word vocabulary, the tokenizer %d of %d",
                           t->max_len, t->vocab, TOK_MAX_TOKENS, TOK_VOCAB_SIZE);
    }
    return 0;
}

int enc_model_create(EncModel *m, EncKind kind, const ViTConfig *v, const TextEncConfig *t, int max_B,
                     char *err, size_t errlen) {
    memset(m, 0, sizeof(*m));
    if (enc_model_config_check(kind, v, t, err, errlen)) return -1;
    m->kind = kind;
    if (vit_create(&m->img, v, max_B, err, errlen)) return -1;
    if (kind == ENC_CLIP && textenc_create(&m->txt, t, max_B, err, errlen)) {
        vit_free(&m->img);
        return -1;
    }
    return 0;
}

void enc_model_init(EncModel *m, uint64_t seed) {
    vit_init(&m->img, seed);
    if (m->kind == ENC_CLIP) textenc_init(&m->txt, seed + 1);
}

void enc_model_free(EncModel *m) {
    vit_free(&m->img);
    if (m->kind == ENC_CLIP) textenc_free(&m->txt);
    memset(m, 0, sizeof(*m));
}

void enc_model_zero_grad(EncModel *m) {
    vit_zero_grad(&m->img);
    if (m->kind == ENC_CLIP) textenc_zero_grad(&m->txt);
}

size_t enc_model_n_params(const EncModel *m) {
    return m->img.table.total + (m->kind == ENC_CLIP ? m->txt.table.total : 0);
}

int enc_model_sections(const EncModel *m, CkptSection out[2], char names[2][64], const char *prefix,
                       float *img_buf, float *txt_buf) {
    if (m->kind != ENC_CLIP) {
        snprintf(names[0], 64, "%s", prefix);
        out[0] = (CkptSection){names[0], &m->img.table, img_buf};
        return 1;
    }
    snprintf(names[0], 64, "%simage.", prefix);
    snprintf(names[1], 64, "%stext.", prefix);
    out[0] = (CkptSection){names[0], &m->img.table, img_buf};
    out[1] = (CkptSection){names[1], &m->txt.table, txt_buf};
    return 2;
}

// The integer fields of the two configs as checkpoint metadata, in the order they are written and
// read, with the range a file may hold. text: 0 for a ViTConfig field, 1 for a TextEncConfig one.
typedef struct {
    const char *key;
    int text;
    size_t offset;
    long lo, hi;
} IntMeta;
#define V(field) 0, offsetof(ViTConfig, field)
#define T(field) 1, offsetof(TextEncConfig, field)
static const IntMeta INT_META[] = {
    {"vit.img", V(img), 1, 4096},          {"vit.patch", V(patch), 1, 4096},
    {"vit.width", V(width), 1, 8192},      {"vit.depth", V(depth), 0, 64},
    {"vit.heads", V(n_heads), 1, 8192},    {"vit.embed_dim", V(embed_dim), 1, 8192},
    {"vit.logit_scale", V(logit_scale), 0, 1},
    {"text.max_len", T(max_len), 1, 4096}, {"text.vocab", T(vocab), 2, 1 << 20},
    {"text.width", T(width), 1, 8192},     {"text.depth", T(depth), 0, 64},
    {"text.heads", T(n_heads), 1, 8192},   {"text.embed_dim", T(embed_dim), 1, 8192},
};
#undef V
#undef T
#define N_INT_META (int)(sizeof INT_META / sizeof INT_META[0])

// The field of INT_META[i] in v or t.
static const int *int_field(int i, const ViTConfig *v, const TextEncConfig *t) {
    return (const int *)((const char *)(INT_META[i].text ? (const void *)t : (const void *)v) + INT_META[i].offset);
}

void enc_config_meta(CkptMeta *meta, EncKind kind, const ViTConfig *v, const TextEncConfig *t) {
    ckpt_meta_setf(meta, "kind", "encoder-%s", enc_kind_name(kind));
    for (int i = 0; i < N_INT_META; i++) {
        if (INT_META[i].text) break; // the text keys: below, for clip models only
        ckpt_meta_set_int(meta, INT_META[i].key, *int_field(i, v, t));
    }
    char classes[64] = "";
    for (int k = 0; k < v->n_cls_heads; k++) {
        size_t len = strlen(classes);
        snprintf(classes + len, sizeof(classes) - len, "%s%d", k ? "," : "", v->n_classes[k]);
    }
    ckpt_meta_set(meta, "vit.classes", classes);
    if (kind == ENC_CLIP)
        for (int i = 0; i < N_INT_META; i++)
            if (INT_META[i].text) ckpt_meta_set_int(meta, INT_META[i].key, *int_field(i, v, t));
}

void enc_model_config_meta(const EncModel *m, CkptMeta *meta) { enc_config_meta(meta, m->kind, &m->img.cfg, &m->txt.cfg); }

// Reads the keys of INT_META with text == `text` into v or t.
static int read_int_meta(const CkptMeta *meta, int text, ViTConfig *v, TextEncConfig *t, char *err, size_t errlen) {
    for (int i = 0; i < N_INT_META; i++) {
        if (INT_META[i].text != text) continue;
        long x;
        if (ckpt_meta_get_int(meta, INT_META[i].key, INT_META[i].lo, INT_META[i].hi, &x, err, errlen)) return -1;
        *(int *)((char *)(text ? (void *)t : (void *)v) + INT_META[i].offset) = (int)x;
    }
    return 0;
}

int enc_model_config_from_meta(const CkptMeta *meta, EncKind *kind, ViTConfig *v, TextEncConfig *t, char *err,
                               size_t errlen) {
    const char *k = ckpt_meta_get(meta, "kind");
    if (!k || strncmp(k, "encoder-", 8) != 0 || enc_kind_from_name(k + 8) < 0)
        return cg_errf(err, errlen, "not an encoder model (kind=%s, want encoder-id, encoder-clip or encoder-attr)",
                       k ? k : "(none)");
    *kind = (EncKind)enc_kind_from_name(k + 8);
    memset(v, 0, sizeof(*v));
    v->channels = 3;
    if (read_int_meta(meta, 0, v, t, err, errlen)) return -1;
    const char *classes = ckpt_meta_get(meta, "vit.classes");
    if (!classes) return cg_errf(err, errlen, "model metadata has no vit.classes");
    for (const char *p = classes; *p;) {
        if (v->n_cls_heads == VIT_MAX_CLS_HEADS) return cg_errf(err, errlen, "vit.classes '%s': too many heads", classes);
        char *end;
        long n = strtol(p, &end, 10);
        if (end == p || n < 2 || n > 65536 || (*end && *end != ','))
            return cg_errf(err, errlen, "vit.classes '%s' is not a list of class counts", classes);
        v->n_classes[v->n_cls_heads++] = (int)n;
        p = *end ? end + 1 : end;
    }
    if (*kind == ENC_CLIP) {
        memset(t, 0, sizeof(*t));
        if (read_int_meta(meta, 1, v, t, err, errlen)) return -1;
    }
    return 0;
}

int enc_model_save(const EncModel *m, const char *path, const CkptMeta *extra, char *err, size_t errlen) {
    CkptMeta meta;
    ckpt_meta_init(&meta);
    enc_model_config_meta(m, &meta);
    if (extra)
        for (int i = 0; i < extra->n; i++) ckpt_meta_set(&meta, extra->keys[i], extra->values[i]);
    CkptSection s[2];
    char names[2][64];
    int n = enc_model_sections(m, s, names, "", m->img.params, m->kind == ENC_CLIP ? m->txt.params : NULL);
    int rc = ckpt_save(path, s, n, &meta, err, errlen);
    ckpt_meta_free(&meta);
    return rc;
}

int enc_model_load(EncModel *m, const char *path, int want_kind, int max_B, CkptMeta *meta_out, char *err,
                   size_t errlen) {
    memset(m, 0, sizeof(*m));
    if (meta_out) ckpt_meta_init(meta_out);
    st_file f;
    if (st_open(path, &f, err, errlen)) return -1;
    CkptMeta meta;
    ckpt_meta_from_file(&f, &meta);
    EncKind kind;
    ViTConfig v;
    TextEncConfig t;
    char why[256];
    int rc = -1;
    if (enc_model_config_from_meta(&meta, &kind, &v, &t, why, sizeof(why))) {
        cg_errf(err, errlen, "%s: %s", path, why);
        goto done;
    }
    // before allocating for the config: its weights must fit in the file (2-byte floats at least)
    size_t need = cg_mul_size(cg_mul_size((size_t)v.depth * 12, (size_t)v.width), (size_t)v.width) +
                  cg_mul_size((size_t)v.embed_dim, (size_t)v.width);
    if (kind == ENC_CLIP)
        need += cg_mul_size(cg_mul_size((size_t)t.depth * 12, (size_t)t.width), (size_t)t.width) +
                cg_mul_size((size_t)t.vocab, (size_t)t.width);
    if (need > f.data_len / 2) {
        cg_errf(err, errlen, "%s: its config needs at least %zu weights, the file holds %zu bytes of tensors", path, need,
                f.data_len);
        goto done;
    }
    if (want_kind >= 0 && (int)kind != want_kind) {
        cg_errf(err, errlen, "%s holds an encoder-%s model, not encoder-%s", path, enc_kind_name(kind),
                enc_kind_name((EncKind)want_kind));
        goto done;
    }
    if (enc_model_create(m, kind, &v, &t, max_B, why, sizeof(why))) {
        cg_errf(err, errlen, "%s: %s", path, why);
        goto done;
    }
    CkptSection s[2];
    char names[2][64];
    int n = enc_model_sections(m, s, names, "", m->img.params, kind == ENC_CLIP ? m->txt.params : NULL);
    if (ckpt_load_file(&f, path, s, n, 0, err, errlen)) {
        enc_model_free(m);
        goto done;
    }
    rc = 0;
    if (meta_out) {
        *meta_out = meta;
        ckpt_meta_init(&meta);
    }
done:
    ckpt_meta_free(&meta);
    st_close(&f);
    return rc;
}

void enc_embed_images(EncModel *m, float *emb, const float *img, int N) { vit_embed(&m->img, emb, img, N); }

void enc_embed_texts(EncModel *m, float *emb, const int *tokens, int N) {
    CG_CHECK(m->kind == ENC_CLIP, "text embeddings of an encoder-%s model", enc_kind_name(m->kind));
    textenc_embed(&m->txt, emb, tokens, N);
}

void enc_attr_probs(EncModel *m, float *const probs[ATTR_N_HEADS], const float *img, int N) {
    CG_CHECK(m->kind == ENC_ATTR, "attribute probabilities of an encoder-%s model", enc_kind_name(m->kind));
    const ViTConfig *c = &m->img.cfg;
    size_t per_img = (size_t)c->img * c->img * c->channels;
    for (int i0 = 0; i0 < N; i0 += m->img.max_B) {
        int n = N - i0 < m->img.max_B ? N - i0 : m->img.max_B;
        vit_forward(&m->img, img + (size_t)i0 * per_img, n);
        for (int h = 0; h < ATTR_N_HEADS; h++) {
            int K = c->n_classes[h];
            for (int b = 0; b < n; b++) {
                const float *z = m->img.logits[h] + (size_t)b * K;
                float *p = probs[h] + (size_t)(i0 + b) * K;
                float mx = z[0];
                for (int j = 1; j < K; j++) mx = z[j] > mx ? z[j] : mx;
                double sum = 0;
                for (int j = 0; j < K; j++) sum += p[j] = expf(z[j] - mx);
                for (int j = 0; j < K; j++) p[j] = (float)(p[j] / sum);
            }
        }
    }
}
