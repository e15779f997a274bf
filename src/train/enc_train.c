// enc_train.c: the training loop of the encoders (models/encoder.h) on their SubjectBench batches
// (train/enc_data.h). See enc_train.h.
#include "train/enc_train.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/timer.h"
#include "io/rundir.h"
#include "nn/blas_info.h"
#include "nn/loss.h"
#include "nn/optim.h"
#include "train/enc_metrics.h"
#include "world/tokenizer.h"

#define ENC_VAL_SEED 0 // render seeds of the validation set (fixed for every run)
#define ENC_CONFIG_FILE "config.cfg"
#define ENC_CONFIG_FILE_OLD "config.txt" // what runs wrote before config.cfg (read on resume only)

// ---- training configuration -------------------------------------------------------------------------

void enc_train_defaults(EncTrainConfig *c, EncKind kind) {
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    enc_default_configs(kind, &c->vit, &c->text);
    c->subjects_seed = WORLD_DEFAULT_SUBJECTS_SEED;
    c->population = ENC_POP_REWARD;
    c->seed = 1;
    c->steps = 1000;
    c->batch = 32;
    c->warmup = 50;
    c->lr = 1e-3f;
    c->lr_min = 5e-5f;
    c->weight_decay = 1e-4f;
    c->grad_clip = 1.0f;
    c->noise = 0.05f;
    c->property_views = 0;
    c->aux_heads = 0;
    c->aux_weight = 1.0f;
    c->curriculum = 0;
    c->look_alikes = 0;
    c->worlds = 1;
    c->views = 2;
    c->focus = 1.0f;
    c->eval_every = 100;
    c->ckpt_every = 100;
    c->log_every = 10;
    c->val_seeds = 1;
}

// CONFIG_CHOICE fields are written as int
_Static_assert(sizeof(EncKind) == sizeof(int) && sizeof(EncPopulation) == sizeof(int), "enum fields as int");

// The order of config.cfg. Float lower bounds are floats (1e-8f) so that the float parsed from
// "1e-8" is within range.
#define K(name, field, type, lo, hi, help) {name, type, offsetof(EncTrainConfig, field), lo, hi, NULL, help}
static const ConfigKey ENC_KEYS[] = {
    {"kind", CONFIG_CHOICE, offsetof(EncTrainConfig, kind), 0, 0, "id|clip|attr", "encoder kind (it picks the defaults)"},
    {"population", CONFIG_CHOICE, offsetof(EncTrainConfig, population), 0, 0, "reward|judge|all",
     "TRAIN subjects i % 4 in {0, 1} | {2, 3} | all"},
    K("worlds", worlds, CONFIG_INT, 1, ENC_MAX_WORLDS, "TRAIN subjects of subjects seeds subjects_seed .. + worlds - 1"),
    K("subjects_seed", subjects_seed, CONFIG_U64, 0, 0, "SubjectBench population (VAL subjects for selection)"),
    K("seed", seed, CONFIG_U64, 0, 0, "model init and data"),
    K("img", vit.img, CONFIG_INT, 8, 256, "image side in pixels"),
    K("patch", vit.patch, CONFIG_INT, 1, 64, "image encoder patch side"),
    K("width", vit.width, CONFIG_INT, 4, 1024, "image encoder width"),
    K("depth", vit.depth, CONFIG_INT, 0, 24, "image encoder blocks"),
    K("heads", vit.n_heads, CONFIG_INT, 1, 64, "image encoder attention heads"),
    K("embed_dim", vit.embed_dim, CONFIG_INT, 2, 1024, "embedding size (both towers)"),
    K("text_width", text.width, CONFIG_INT, 4, 1024, "clip: text encoder width"),
    K("text_depth", text.depth, CONFIG_INT, 0, 24, "clip: text encoder blocks"),
    K("text_heads", text.n_heads, CONFIG_INT, 1, 64, "clip: text encoder attention heads"),
    K("noise", noise, CONFIG_FLOAT, 0, 1, "pixel-noise augmentation, sigma ~ U(0, noise)"),
    K("property_views", property_views, CONFIG_INT, 0, 1, "id: property-edited renders as positive views"),
    K("aux_heads", aux_heads, CONFIG_INT, 0, 1, "id: identity-attribute heads; clip: prompt-attribute heads"),
    K("aux_weight", aux_weight, CONFIG_FLOAT, 0, 100, "weight of the heads' cross-entropy"),
    K("focus", focus, CONFIG_FLOAT, 0.01f, 100, "clip, attr: weight of accessory and property templates"),
    K("curriculum", curriculum, CONFIG_INT, 0, INT_MAX, "id: steps over which target views move into scenes; 0: off"),
    K("look_alikes", look_alikes, CONFIG_INT, 0, 4096, "id: groups of K subjects of one class per batch; 0: off"),
    K("views", views, CONFIG_INT, 2, 16, "id: views per subject (more than 2: supervised contrastive)"),
    K("steps", steps, CONFIG_INT, 1, INT_MAX, "optimizer steps (the cosine spans them)"),
    K("batch", batch, CONFIG_INT, 2, 4096, "pairs (id, clip) or images (attr) per step"),
    K("warmup", warmup, CONFIG_INT, 0, INT_MAX, "linear warmup steps"),
    K("lr", lr, CONFIG_FLOAT, 1e-8f, 1, "peak learning rate"),
    K("lr_min", lr_min, CONFIG_FLOAT, 0, 1, "final learning rate of the cosine"),
    K("weight_decay", weight_decay, CONFIG_FLOAT, 0, 10, "AdamW, matrices only"),
    K("grad_clip", grad_clip, CONFIG_FLOAT, 1e-6f, 1e6, "global gradient-norm clip (both towers)"),
    K("eval_every", eval_every, CONFIG_INT, 1, INT_MAX, "validation and model selection every N steps and at the end"),
    K("ckpt_every", ckpt_every, CONFIG_INT, 1, INT_MAX, "checkpoint every N steps and at the end"),
    K("log_every", log_every, CONFIG_INT, 1, INT_MAX, "a metrics line every N steps"),
    K("val_seeds", val_seeds, CONFIG_INT, 1, 16, "renders per (VAL subject, prompt) in validation"),
};
#undef K
#define N_ENC_KEYS ((int)(sizeof(ENC_KEYS) / sizeof(ENC_KEYS[0])))

const ConfigKey *enc_train_config_keys(int *n) {
    *n = N_ENC_KEYS;
    return ENC_KEYS;
}

void enc_train_config_derive(EncTrainConfig *c) {
    c->text.embed_dim = c->vit.embed_dim;
    if (c->kind == ENC_ATTR) return; // its heads are fixed; aux_heads is refused by the config check
    c->vit.n_cls_heads = c->aux_heads ? (c->kind == ENC_ID ? ID_AUX_N_HEADS : ATTR_N_HEADS) : 0;
    for (int h = 0; h < c->vit.n_cls_heads; h++)
        c->vit.n_classes[h] = c->kind == ENC_ID ? id_aux_n_classes(h) : attr_n_classes(h);
}

// config.txt, written by runs before config.cfg, holds the checkpoint's config metadata
// (enc_train_config_meta) as key=value lines: "kind=encoder-id", "vit.width=96",
// "train.lr=0.00200000009". legacy_line hands them on in the table's names; the keys that follow
// from others (vit.classes, vit.logit_scale, text.embed_dim) or are fixed (text.max_len,
// text.vocab) are skipped, the float values (%.9g) read back to the same bits.
typedef struct {
    ConfigLineFn fn;
    void *ctx;
} LegacyCtx;

static int legacy_line(void *ctx, const char *key, const char *value, int line, char *err, size_t errlen) {
    static const char *const RENAMED[][2] = {
        {"vit.img", "img"},     {"vit.patch", "patch"}, {"vit.width", "width"},           {"vit.depth", "depth"},
        {"vit.heads", "heads"}, {"vit.embed_dim", "embed_dim"}, {"text.width", "text_width"}, {"text.depth", "text_depth"},
        {"text.heads", "text_heads"},
    };
    static const char *const SKIPPED[] = {"vit.classes", "vit.logit_scale", "text.embed_dim", "text.max_len", "text.vocab"};
    const LegacyCtx *L = ctx;
    for (size_t i = 0; i < sizeof SKIPPED / sizeof SKIPPED[0]; i++)
        if (strcmp(key, SKIPPED[i]) == 0) return 0;
    if (strcmp(key, "kind") == 0)
        return L->fn(L->ctx, key, strncmp(value, "encoder-", 8) == 0 ? value + 8 : value, line, err, errlen);
    if (strncmp(key, "train.", 6) == 0) return L->fn(L->ctx, key + 6, value, line, err, errlen);
    for (size_t i = 0; i < sizeof RENAMED / sizeof RENAMED[0]; i++)
        if (strcmp(key, RENAMED[i][0]) == 0) return L->fn(L->ctx, RENAMED[i][1], value, line, err, errlen);
    return L->fn(L->ctx, key, value, line, err, errlen); // unknown: the caller names it
}

int enc_train_read_run_config(const char *run_dir, ConfigLineFn fn, void *ctx, const char **file, char *err,
                              size_t errlen) {
    char path[4200];
    rundir_join(path, sizeof path, run_dir, ENC_CONFIG_FILE);
    if (file) *file = ENC_CONFIG_FILE;
    if (rundir_exists(path)) return config_read_file_lines(path, fn, ctx, err, errlen);
    // a run directory from before config.cfg: its config.txt, in the checkpoint's key names
    rundir_join(path, sizeof path, run_dir, ENC_CONFIG_FILE_OLD);
    if (file) *file = ENC_CONFIG_FILE_OLD;
    if (!rundir_exists(path)) return 1;
    LegacyCtx L = {fn, ctx};
    return config_read_file_lines(path, legacy_line, &L, err, errlen);
}

int enc_train_config_check(const EncTrainConfig *c, char *err, size_t errlen) {
    if (enc_model_config_check(c->kind, &c->vit, &c->text, err, errlen)) return -1;
    char why[256];
    if (vit_config_check(&c->vit, why, sizeof(why))) return cg_errf(err, errlen, "image encoder: %s", why);
    if (c->kind == ENC_CLIP && textenc_config_check(&c->text, why, sizeof(why)))
        return cg_errf(err, errlen, "text encoder: %s", why);
    if (c->population < 0 || c->population > ENC_POP_ALL) return cg_errf(err, errlen, "bad population");
    if (c->steps < 1) return cg_errf(err, errlen, "steps %d < 1", c->steps);
    if (c->worlds < 1 || c->worlds > ENC_MAX_WORLDS)
        return cg_errf(err, errlen, "worlds %d outside [1, %d]", c->worlds, ENC_MAX_WORLDS);
    int max_batch = c->kind == ENC_ID ? WORLD_N_TRAIN / 2 : c->kind == ENC_CLIP ? WORLD_N_TRAIN / 2 * ENC_CLIP_GROUP : 4096;
    if (c->batch < 2 || c->batch > max_batch) return cg_errf(err, errlen, "batch %d outside [2, %d]", c->batch, max_batch);
    if (c->warmup < 0) return cg_errf(err, errlen, "warmup %d < 0", c->warmup);
    if (!(c->lr > 0) || !(c->lr_min >= 0) || c->lr_min > c->lr)
        return cg_errf(err, errlen, "want 0 <= lr_min <= lr and lr > 0 (lr %g, lr_min %g)", c->lr, c->lr_min);
    if (!(c->weight_decay >= 0) || !(c->grad_clip > 0) || !(c->noise >= 0))
        return cg_errf(err, errlen, "weight_decay and noise must be >= 0, grad_clip > 0");
    if (c->eval_every < 1 || c->ckpt_every < 1 || c->log_every < 1)
        return cg_errf(err, errlen, "eval_every, ckpt_every and log_every must be >= 1");
    if (c->views < 2 || c->views > 16 || (c->views != 2 && c->kind != ENC_ID))
        return cg_errf(err, errlen, "views %d: id encoders take 2..16 views per subject, the others 2", c->views);
    if (c->aux_heads && c->kind == ENC_ATTR) return cg_errf(err, errlen, "aux_heads is for id and clip encoders");
    if (c->aux_heads != (c->vit.n_cls_heads > 0) && c->kind != ENC_ATTR)
        return cg_errf(err, errlen, "aux_heads %d but the image encoder has %d heads", c->aux_heads, c->vit.n_cls_heads);
    if (!(c->focus > 0)) return cg_errf(err, errlen, "focus %g must be > 0", c->focus);
    if (!(c->aux_weight >= 0)) return cg_errf(err, errlen, "aux_weight %g < 0", c->aux_weight);
    if (c->val_seeds < 1 || c->val_seeds > 16) return cg_errf(err, errlen, "val_seeds %d outside [1, 16]", c->val_seeds);
    if (c->look_alikes != 0 && (c->kind != ENC_ID || c->look_alikes < 2 || c->look_alikes > c->batch))
        return cg_errf(err, errlen, "look_alikes %d: id encoders only, 0 (off) or 2..batch (%d)", c->look_alikes, c->batch);
    return 0;
}

void enc_train_config_meta(const EncTrainConfig *c, CkptMeta *meta) {
    enc_config_meta(meta, c->kind, &c->vit, &c->text);
    ckpt_meta_set_u64(meta, "train.subjects_seed", c->subjects_seed);
    ckpt_meta_set(meta, "train.population", enc_population_name(c->population));
    ckpt_meta_set_u64(meta, "train.seed", c->seed);
    ckpt_meta_set_int(meta, "train.steps", c->steps);
    ckpt_meta_set_int(meta, "train.batch", c->batch);
    ckpt_meta_set_int(meta, "train.warmup", c->warmup);
    ckpt_meta_setf(meta, "train.lr", "%.9g", c->lr);
    ckpt_meta_setf(meta, "train.lr_min", "%.9g", c->lr_min);
    ckpt_meta_setf(meta, "train.weight_decay", "%.9g", c->weight_decay);
    ckpt_meta_setf(meta, "train.grad_clip", "%.9g", c->grad_clip);
    ckpt_meta_setf(meta, "train.noise", "%.9g", c->noise);
    ckpt_meta_set_int(meta, "train.property_views", c->property_views);
    ckpt_meta_set_int(meta, "train.aux_heads", c->aux_heads);
    ckpt_meta_setf(meta, "train.aux_weight", "%.9g", c->aux_weight);
    ckpt_meta_set_int(meta, "train.curriculum", c->curriculum);
    if (c->look_alikes) ckpt_meta_set_int(meta, "train.look_alikes", c->look_alikes); // absent = 0: older files match
    if (c->worlds > 1) ckpt_meta_set_int(meta, "train.worlds", c->worlds); // absent = 1: older files match
    ckpt_meta_set_int(meta, "train.views", c->views);
    ckpt_meta_setf(meta, "train.focus", "%.9g", c->focus);
    ckpt_meta_set_int(meta, "train.eval_every", c->eval_every);
    ckpt_meta_set_int(meta, "train.ckpt_every", c->ckpt_every);
    ckpt_meta_set_int(meta, "train.log_every", c->log_every);
    ckpt_meta_set_int(meta, "train.val_seeds", c->val_seeds);
}

float enc_lr_at(const EncTrainConfig *c, long step) {
    if (step <= c->warmup) return c->lr * (float)step / (float)(c->warmup + 1);
    double span = (double)(c->steps - c->warmup);
    double t = span > 0 ? (double)(step - c->warmup) / span : 1.0;
    if (t > 1) t = 1;
    return (float)(c->lr_min + 0.5 * (c->lr - c->lr_min) * (1.0 + cos(M_PI * t)));
}

// ---- the training loop --------------------------------------------------------------------------------

typedef struct {
    float loss, acc, scale;
    float acc_heads[ATTR_N_HEADS];
} StepStats;

// The identity step, one forward and one backward over the V x B views (rows v B + b: view v of
// subject b): the contrastive loss (V = 2: InfoNCE between the two views, as vit_identity_step;
// V > 2: enc_supcon over all views) plus, when the encoder has the identity-attribute heads,
// aux_weight x the sum over heads of their mean cross-entropy (labels (V B, ID_AUX_N_HEADS)).
// The returned loss is the contrastive part; acc_heads gets the heads' accuracies.
static ContrastiveResult id_step(ViT *m, const float *views, const int *labels, int B, int V, float aux_weight,
                                 float acc_heads[VIT_MAX_CLS_HEADS]) {
    const int D = m->cfg.embed_dim, N = V * B, K = m->cfg.n_cls_heads;
    CG_CHECK(N <= m->max_B, "id step: %d x %d views, max batch %d", V, B, m->max_B);
    ContrastiveResult r;
    r.scale = vit_clamp_logit_scale(m);
    vit_forward(m, views, N);
    memset(m->demb, 0, (size_t)N * D * sizeof(float));
    float dscale = 0.0f;
    if (V == 2) {
        const float *a = m->emb, *b = m->emb + (size_t)B * D;
        r.loss = infonce_forward(m->probs_ab, m->probs_ba, a, b, r.scale, B, D);
        r.acc = vit_infonce_accuracy(m, B);
        infonce_backward(m->demb, m->demb + (size_t)B * D, &dscale, 1.0f, m->probs_ab, m->probs_ba, a, b, r.scale, B, D);
    } else {
        int *group = cg_malloc((size_t)N * sizeof(int));
        for (int i = 0; i < N; i++) group[i] = i % B;
        r.loss = enc_supcon(m->demb, &dscale, &r.acc, m->emb, group, N, D, r.scale);
        free(group);
    }
    *m->g.logit_scale += dscale * r.scale; // scale = exp(p)
    const float *dl[VIT_MAX_CLS_HEADS] = {0};
    vit_heads_loss(m, dl, labels, N, aux_weight, acc_heads);
    vit_backward(m, m->demb, K ? dl : NULL, NULL);
    return r;
}

// clip_step plus the prompt-attribute heads (ATTR_*) on the image tower, one forward and backward
// of each tower: loss = InfoNCE(images, prompts) + aux_weight x the heads' cross-entropies.
static ContrastiveResult clip_aux_step(EncModel *em, const float *images, const int *tokens, const int *labels, int B,
                                       float aux_weight, float acc_heads[VIT_MAX_CLS_HEADS]) {
    ContrastiveResult r = clip_loss(&em->img, &em->txt, images, tokens, B);
    const float *dl[VIT_MAX_CLS_HEADS] = {0};
    vit_heads_loss(&em->img, dl, labels, B, aux_weight, acc_heads);
    vit_backward(&em->img, em->img.demb, dl, NULL);
    textenc_backward(&em->txt, em->txt.demb);
    return r;
}

// One optimizer step on the batch of `step`. bufs: images (max_B, S, S, 3), tokens, labels.
static StepStats train_step(EncModel *m, const EncTrainConfig *c, const EncData *d, long step, float *images,
                            int *tokens, int *labels, double *grad_norm) {
    StepStats st;
    memset(&st, 0, sizeof(st));
    enc_model_zero_grad(m);
    if (c->kind == ENC_ID) {
        enc_id_batch(d, images, c->aux_heads ? labels : NULL, step, c->batch, c->views);
        ContrastiveResult r = id_step(&m->img, images, labels, c->batch, c->views, c->aux_weight, st.acc_heads);
        st.loss = r.loss, st.acc = r.acc, st.scale = r.scale;
    } else if (c->kind == ENC_CLIP) {
        enc_clip_batch(d, images, tokens, c->aux_heads ? labels : NULL, step, c->batch);
        ContrastiveResult r = c->aux_heads ? clip_aux_step(m, images, tokens, labels, c->batch, c->aux_weight, st.acc_heads)
                                           : clip_step(&m->img, &m->txt, images, tokens, c->batch);
        st.loss = r.loss, st.acc = r.acc, st.scale = r.scale;
    } else {
        enc_attr_batch(d, images, labels, step, c->batch);
        ClassifyResult r = vit_classify_step(&m->img, images, labels, c->batch);
        st.loss = r.loss;
        for (int h = 0; h < ATTR_N_HEADS; h++) st.acc_heads[h] = r.acc[h], st.acc += r.acc[h] / ATTR_N_HEADS;
    }
    // one global gradient norm over both towers, clipped together
    double n_img = grad_global_norm(m->img.grads, m->img.table.total);
    double n_txt = c->kind == ENC_CLIP ? grad_global_norm(m->txt.grads, m->txt.table.total) : 0.0;
    double norm = sqrt(n_img * n_img + n_txt * n_txt);
    *grad_norm = norm;
    if (norm > c->grad_clip) {
        float k = (float)(c->grad_clip / norm);
        for (size_t i = 0; i < m->img.table.total; i++) m->img.grads[i] *= k;
        if (c->kind == ENC_CLIP)
            for (size_t i = 0; i < m->txt.table.total; i++) m->txt.grads[i] *= k;
    }
    AdamWConfig a = {enc_lr_at(c, step), 0.9f, 0.999f, 1e-8f, c->weight_decay};
    adamw_step(m->img.params, m->img.grads, m->img.m, m->img.v, &m->img.table, (int)step, &a);
    if (c->kind == ENC_CLIP) adamw_step(m->txt.params, m->txt.grads, m->txt.m, m->txt.v, &m->txt.table, (int)step, &a);
    return st;
}

// Write the metrics line(s) printed since the last commit; a failure stops the run.
static int enc_log_commit(RunLog *log, long step, const char *kept, char *err, size_t errlen) {
    char why[4400];
    if (rundir_log_commit(log, why, sizeof why) == 0) return 0;
    return cg_errf(err, errlen, "step %ld: %s; training stopped, %s", step, why, kept);
}

// The checkpoint: model, AdamW moments and the best-so-far weights, plus config and counters.
typedef struct {
    CkptSection s[8];
    char names[8][64];
    int n;
} CkptLayout;

static void ckpt_layout(CkptLayout *L, EncModel *m, float *best_img, float *best_txt) {
    L->n = 0;
    L->n += enc_model_sections(m, L->s + L->n, L->names + L->n, "model.", m->img.params, m->txt.params);
    L->n += enc_model_sections(m, L->s + L->n, L->names + L->n, "adam_m.", m->img.m, m->txt.m);
    L->n += enc_model_sections(m, L->s + L->n, L->names + L->n, "adam_v.", m->img.v, m->txt.v);
    L->n += enc_model_sections(m, L->s + L->n, L->names + L->n, "best.", best_img, best_txt);
}

CgStatus enc_train(const EncTrainConfig *c, const char *run_dir, const EncTrainOptions *o, char *err, size_t errlen) {
    if (enc_train_config_check(c, err, errlen)) return CG_EINPUT;
    if (rundir_mkdirs(run_dir, err, errlen)) return CG_EINPUT;
    int busy;
    const int lock_fd = rundir_lock(run_dir, &busy, err, errlen); // held to the end
    if (lock_fd < 0) return busy ? CG_EINPUT : CG_ERUNTIME;
    char p_ckpt[4200], p_metrics[4200], p_model[4200], p_config[4200];
    rundir_join(p_ckpt, sizeof(p_ckpt), run_dir, "ckpt.safetensors");
    rundir_join(p_metrics, sizeof(p_metrics), run_dir, "metrics.jsonl");
    rundir_join(p_model, sizeof(p_model), run_dir, "model.safetensors");
    rundir_join(p_config, sizeof(p_config), run_dir, ENC_CONFIG_FILE);

    World *world = cg_malloc((size_t)c->worlds * sizeof(World)); // world[0]: VAL subjects and TRAIN; the rest TRAIN
    for (int j = 0; j < c->worlds; j++) world_init(&world[j], enc_world_seed(c->subjects_seed, j));
    EncData data;
    enc_data_init(&data, world, c->worlds, c->population, c->vit.img, c->seed, c->noise, c->property_views);
    data.curriculum = c->curriculum;
    data.look_alikes = c->look_alikes;
    data.focus = c->focus;
    int max_B = c->kind == ENC_ID ? c->views * c->batch : c->batch;
    if (max_B < 64) max_B = 64; // validation embeds in chunks of max_B
    EncModel m;
    CG_CHECK(enc_model_create(&m, c->kind, &c->vit, &c->text, max_B, err, errlen) == 0, "%s", err);
    enc_model_init(&m, c->seed);
    float *best_img = cg_calloc(m.img.table.total, sizeof(float));
    float *best_txt = c->kind == ENC_CLIP ? cg_calloc(m.txt.table.total, sizeof(float)) : NULL;
    CkptLayout L;
    ckpt_layout(&L, &m, best_img, best_txt);
    CkptMeta cfg_meta;
    ckpt_meta_init(&cfg_meta);
    enc_train_config_meta(c, &cfg_meta);

    long start = 0, best_step = 0;
    double best_score = -1.0;
    CgStatus rc = CG_ERUNTIME; // until the end: the failures after the resume checks are runtime ones
    RunLog log = {0};
    RmSet val;
    memset(&val, 0, sizeof(val));
    float *images = NULL;
    int *tokens = NULL, *labels = NULL;
    if (o->resume) {
        CkptMeta got;
        char why[512];
        if (ckpt_load(p_ckpt, L.s, L.n, &got, 0, why, sizeof(why))) {
            cg_errf(err, errlen, "resume: %s", why);
            rc = CG_EINPUT;
            goto done;
        }
        int bad = 0;
        for (int i = 0; i < cfg_meta.n && !bad; i++)
            bad = ckpt_meta_expect(&got, cfg_meta.keys[i], cfg_meta.values[i], why, sizeof(why)) != 0;
        if (!bad && !c->look_alikes && ckpt_meta_get(&got, "train.look_alikes")) // written only when > 0
            bad = 1, snprintf(why, sizeof(why), "train.look_alikes: checkpoint has %s, config has 0",
                              ckpt_meta_get(&got, "train.look_alikes"));
        if (!bad && c->worlds == 1 && ckpt_meta_get(&got, "train.worlds")) // written only when > 1
            bad = 1, snprintf(why, sizeof(why), "train.worlds: checkpoint has %s, config has 1",
                              ckpt_meta_get(&got, "train.worlds"));
        long bs;
        const char *score = ckpt_meta_get(&got, "best.score");
        if (!bad) bad = ckpt_meta_get_int(&got, "step", 0, c->steps, &start, why, sizeof(why)) != 0;
        if (!bad) bad = ckpt_meta_get_int(&got, "best.step", 0, c->steps, &bs, why, sizeof(why)) != 0;
        if (!bad && !score) bad = 1, snprintf(why, sizeof(why), "checkpoint has no best.score");
        if (!bad) blas_core_warn("train-encoder", ckpt_meta_get(&got, BLAS_CORE_KEY));
        if (!bad) best_score = strtod(score, NULL);
        ckpt_meta_free(&got);
        if (bad) {
            cg_errf(err, errlen, "resume from %s: %s", p_ckpt, why);
            rc = CG_EINPUT;
            goto done;
        }
        best_step = bs;
    }
    // the resolved config, also on a resume (an old run directory gains its config.cfg)
    if (config_write_file(p_config, c, ENC_KEYS, N_ENC_KEYS,
                          "# cgrpo train-encoder: the resolved config of this run (cgrpo train-encoder --resume reads it)\n",
                          err, errlen))
        goto done;
    double elapsed; // the steps after the checkpoint run again
    if (rundir_log_open(&log, p_metrics, "step", o->resume ? start : -1, &elapsed, err, errlen)) goto done;
    FILE *mf = log.f;
    char kept[4400];
    long saved = o->resume ? start : -1; // the step of the checkpoint on disk
    rm_set_build(&val, world, SPLIT_VAL, c->vit.img, c->val_seeds, ENC_VAL_SEED);
    images = cg_malloc(cg_mul_size((size_t)max_B, (size_t)c->vit.img * c->vit.img * 3) * sizeof(float));
    tokens = cg_calloc((size_t)max_B * TOK_MAX_TOKENS, sizeof(int));
    labels = cg_calloc((size_t)max_B * VIT_MAX_CLS_HEADS, sizeof(int)); // attr or identity-attribute labels

    const long end = o->stop_at > 0 && o->stop_at < c->steps ? o->stop_at : c->steps;
    const int imgs_per_step = c->kind == ENC_ID ? c->views * c->batch : c->batch;
    const double t0 = cg_now();
    double t_last = t0;
    const char *metric = rm_selection_name(c->kind); // also when a resume has no step left to evaluate
    StepStats st = {0};
    if (o->progress)
        fprintf(stderr, "train-encoder %s: %zu parameters, steps %ld..%ld of %d, %d subjects (%d world%s, %d left out)\n",
                enc_kind_name(c->kind), enc_model_n_params(&m), start + 1, end, c->steps, data.n, c->worlds,
                c->worlds > 1 ? "s" : "", data.n_excluded);
    for (long step = start + 1; step <= end; step++) {
        double gnorm;
        st = train_step(&m, c, &data, step, images, tokens, labels, &gnorm);
        if (fault_at(&o->fault, FAULT_LOSS, step)) st.loss = o->fault.value; // tests
        if (fault_at(&o->fault, FAULT_WEIGHT, step)) m.img.params[0] = o->fault.value;
        rundir_kept_note(kept, sizeof kept, "step", saved, p_ckpt);
        if (!isfinite(st.loss)) {
            cg_errf(err, errlen, "step %ld: loss is %g: training diverged (try a lower --lr); %s", step, st.loss, kept);
            goto done;
        }
        const size_t bad_img = buffer_first_nonfinite(m.img.params, m.img.table.total);
        const size_t bad_txt = c->kind == ENC_CLIP ? buffer_first_nonfinite(m.txt.params, m.txt.table.total) : 0;
        if (bad_img < m.img.table.total || (c->kind == ENC_CLIP && bad_txt < m.txt.table.total)) {
            cg_errf(err, errlen, "step %ld: non-finite %s weights (%s): training diverged; %s", step,
                    bad_img < m.img.table.total ? "image" : "text",
                    bad_img < m.img.table.total ? param_table_name_at(&m.img.table, bad_img)
                                                : param_table_name_at(&m.txt.table, bad_txt), kept);
            goto done;
        }
        double now = cg_now(), rate = (double)(step - start) * imgs_per_step / (now - t0 > 1e-9 ? now - t0 : 1e-9);
        if (step % c->log_every == 0 || step == c->steps) {
            fprintf(mf, "{\"step\":%ld,\"loss\":%.6f,\"acc\":%.4f,\"lr\":%.6g,\"grad_norm\":%.5g", step, st.loss,
                    st.acc, enc_lr_at(c, step), gnorm);
            if (c->kind == ENC_ATTR)
                for (int h = 0; h < ATTR_N_HEADS; h++) fprintf(mf, ",\"acc_%s\":%.4f", attr_head_name(h), st.acc_heads[h]);
            else fprintf(mf, ",\"scale\":%.4f", st.scale);
            if (c->kind == ENC_ID && c->aux_heads)
                fprintf(mf, ",\"acc_body\":%.4f,\"acc_main\":%.4f,\"acc_pattern\":%.4f,\"acc_second\":%.4f",
                        st.acc_heads[0], st.acc_heads[1], st.acc_heads[2], st.acc_heads[3]);
            if (c->kind == ENC_CLIP && c->aux_heads)
                for (int h = 0; h < ATTR_N_HEADS; h++) fprintf(mf, ",\"acc_%s\":%.4f", attr_head_name(h), st.acc_heads[h]);
            fprintf(mf, ",\"img_per_s\":%.1f}\n", rate);
            if (enc_log_commit(&log, step, kept, err, errlen)) goto done;
        }
        if (step % c->eval_every == 0 || step == c->steps) {
            double score = rm_selection_score(&m, &val, &metric);
            if (score > best_score) {
                best_score = score, best_step = step;
                memcpy(best_img, m.img.params, m.img.table.total * sizeof(float));
                if (best_txt) memcpy(best_txt, m.txt.params, m.txt.table.total * sizeof(float));
            }
            fprintf(mf, "{\"step\":%ld,\"val_metric\":\"%s\",\"val\":%.4f,\"best\":%.4f,\"best_step\":%ld}\n", step,
                    metric, score, best_score, best_step);
            if (enc_log_commit(&log, step, kept, err, errlen)) goto done;
            char eta[32];
            rundir_fmt_duration(eta, sizeof(eta), (double)(end - step) * (cg_now() - t0) / (double)(step - start));
            fprintf(stderr, "%sstep %ld/%d  loss %.4f  acc %.3f  val %s %.4f (best %.4f @ %ld)  %.0f img/s  ETA %s\n",
                    o->progress ? "\r\033[K" : "", step, c->steps, st.loss, st.acc, metric, score, best_score,
                    best_step, rate, eta);
        } else if (o->progress && (now - t_last > 0.5 || step == end)) {
            char eta[32];
            rundir_fmt_duration(eta, sizeof(eta), (double)(end - step) * (now - t0) / (double)(step - start));
            fprintf(stderr, "\r\033[Kstep %ld/%d  loss %.4f  acc %.3f  %.0f img/s  ETA %s", step, c->steps, st.loss,
                    st.acc, rate, eta);
            t_last = now;
        }
        if (step % c->ckpt_every == 0 || step == end) {
            CkptMeta meta;
            ckpt_meta_init(&meta);
            for (int i = 0; i < cfg_meta.n; i++) ckpt_meta_set(&meta, cfg_meta.keys[i], cfg_meta.values[i]);
            ckpt_meta_set_int(&meta, "step", step);
            ckpt_meta_set(&meta, BLAS_CORE_KEY, blas_core());
            ckpt_meta_set_int(&meta, "best.step", best_step);
            ckpt_meta_setf(&meta, "best.score", "%.17g", best_score);
            char why[4400];
            int bad = ckpt_save(p_ckpt, L.s, L.n, &meta, why, sizeof why);
            ckpt_meta_free(&meta);
            if (bad) {
                cg_errf(err, errlen, "%s; training stopped, %s", why, kept);
                goto done;
            }
            saved = step;
        }
    }
    if (o->progress) fprintf(stderr, "\r\033[K");
    if (end == c->steps) {
        // export the weights with the best validation score (the final ones when none was better)
        EncModel *src = &m;
        memcpy(m.img.params, best_img, m.img.table.total * sizeof(float));
        if (best_txt) memcpy(m.txt.params, best_txt, m.txt.table.total * sizeof(float));
        CkptMeta extra;
        ckpt_meta_init(&extra);
        for (int i = 0; i < cfg_meta.n; i++)
            if (strncmp(cfg_meta.keys[i], "train.", 6) == 0) ckpt_meta_set(&extra, cfg_meta.keys[i], cfg_meta.values[i]);
        ckpt_meta_set_int(&extra, "train.best_step", best_step);
        ckpt_meta_set(&extra, "train.val_metric", metric);
        ckpt_meta_setf(&extra, "train.val_score", "%.4f", best_score);
        int bad = enc_model_save(src, p_model, &extra, err, errlen);
        if (!bad && o->export_path) bad = enc_model_save(src, o->export_path, &extra, err, errlen);
        ckpt_meta_free(&extra);
        if (bad) goto done;
        fprintf(stderr, "train-encoder %s: done in %.1f s; best %s %.4f at step %ld -> %s\n", enc_kind_name(c->kind),
                cg_now() - t0, metric, best_score, best_step, o->export_path ? o->export_path : p_model);
    } else {
        fprintf(stderr, "train-encoder %s: stopped at step %ld (checkpoint %s)\n", enc_kind_name(c->kind), end, p_ckpt);
    }
    rc = CG_OK;
done:
    rundir_log_close(&log);
    rundir_unlock(lock_fd);
    free(images), free(tokens), free(labels);
    rm_set_free(&val);
    ckpt_meta_free(&cfg_meta);
    free(best_img), free(best_txt);
    enc_model_free(&m);
    enc_data_free(&data);
    free(world);
    return rc;
}
