// pretrain.c: the rectified-flow pretraining loop of the DiT. See pretrain.h.
#include "train/pretrain.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "core/timer.h"
#include "io/checkpoint.h"
#include "io/rundir.h"
#include "nn/blas_info.h"
#include "world/tokenizer.h"

// ---- the config --------------------------------------------------------------------------------------

#define K(name, type, lo, hi, help) {#name, type, offsetof(PretrainConfig, name), lo, hi, NULL, help}
static const ConfigKey PRETRAIN_KEYS[] = {
    K(img, CONFIG_INT, 8, 256, "image side in pixels"),
    K(patch, CONFIG_INT, 1, 64, "patch side; img % patch == 0"),
    K(width, CONFIG_INT, 4, 4096, "DiT width C"),
    K(depth, CONFIG_INT, 1, 64, "DiT blocks"),
    K(heads, CONFIG_INT, 1, 64, "attention heads; width % heads == 0"),
    K(text_len, CONFIG_INT, 1, TOK_MAX_TOKENS, "prompt tokens per sample"),
    K(tdim, CONFIG_INT, 2, 4096, "sinusoidal timestep embedding size (even)"),
    K(seed, CONFIG_U64, 0, 0, "model init and data stream"),
    K(subjects_seed, CONFIG_U64, 0, 0, "SubjectBench population"),
    K(batch, CONFIG_INT, 1, 4096, "samples per step"),
    K(ref_poses, CONFIG_INT, 1, DATA_MAX_POSES, "reference photo index drawn from [0, ref_poses)"),
    K(p_drop_ref, CONFIG_FLOAT, 0, 1, "CFG: probability of dropping the reference"),
    K(p_drop_txt, CONFIG_FLOAT, 0, 1, "CFG: probability of dropping the prompt (independent)"),
    K(sigma_loc, CONFIG_FLOAT, -10, 10, "sigma = sigmoid(sigma_loc + sigma_scale z), z ~ N(0, 1)"),
    K(sigma_scale, CONFIG_FLOAT, 0.001, 10, "logit-normal scale"),
    K(steps, CONFIG_INT, 0, 1000000000, "total optimizer steps"),
    K(lr, CONFIG_FLOAT, 0, 1, "peak learning rate"),
    K(warmup, CONFIG_INT, 0, 1000000000, "linear warm-up steps"),
    {"lr_schedule", CONFIG_CHOICE, offsetof(PretrainConfig, lr_schedule), 0, 0, "constant|cosine",
     "after the warm-up"},
    K(lr_min_ratio, CONFIG_FLOAT, 0, 1, "cosine: final lr as a fraction of lr"),
    CONFIG_ADAMW_KEYS(PretrainConfig),
    K(grad_clip, CONFIG_FLOAT, 0, 1e6, "global gradient norm clip; 0: off"),
    K(ema_decay, CONFIG_FLOAT, 0, 1, "EMA of the weights"),
    K(ema_warmup, CONFIG_INT, 0, 1, "1: decay min(ema_decay, (1 + s) / (10 + s))"),
    K(val_samples, CONFIG_INT, 1, 4096, "fixed validation samples (VAL subjects)"),
    K(val_seed, CONFIG_U64, 0, 0, "validation set draws"),
    K(val_every, CONFIG_INT, 0, 1000000000, "steps between validations; 0: only at start and end"),
    K(log_every, CONFIG_INT, 1, 1000000000, "steps between metrics lines"),
    K(ckpt_every, CONFIG_INT, 0, 1000000000, "steps between checkpoints; 0: only at the end"),
};
#undef K
#define N_PRETRAIN_KEYS ((int)(sizeof(PRETRAIN_KEYS) / sizeof(PRETRAIN_KEYS[0])))

const ConfigKey *pretrain_config_keys(int *n) {
    *n = N_PRETRAIN_KEYS;
    return PRETRAIN_KEYS;
}

PretrainConfig pretrain_config_default(void) {
    PretrainConfig c;
    memset(&c, 0, sizeof c);
    c.img = 32, c.patch = 4, c.width = 128, c.depth = 6, c.heads = 4, c.text_len = TOK_MAX_TOKENS, c.tdim = 256;
    c.seed = 1, c.subjects_seed = WORLD_DEFAULT_SUBJECTS_SEED, c.batch = 16, c.ref_poses = 6;
    c.p_drop_ref = 0.1f, c.p_drop_txt = 0.1f, c.sigma_loc = 0.0f, c.sigma_scale = 1.0f;
    c.steps = 20000, c.lr = 3e-4f, c.warmup = 500, c.lr_schedule = LR_CONSTANT, c.lr_min_ratio = 0.1f;
    c.beta1 = 0.9f, c.beta2 = 0.999f, c.adam_eps = 1e-8f, c.weight_decay = 1e-4f, c.grad_clip = 1.0f;
    c.ema_decay = 0.999f, c.ema_warmup = 1;
    c.val_samples = 128, c.val_seed = 0, c.val_every = 500, c.log_every = 50, c.ckpt_every = 1000;
    return c;
}

DiTConfig pretrain_dit_config(const PretrainConfig *c) {
    DiTConfig d = dit_config_default();
    d.img = c->img, d.patch = c->patch, d.channels = DATA_CHANNELS, d.width = c->width, d.depth = c->depth;
    d.heads = c->heads, d.text_len = c->text_len, d.vocab = TOK_VOCAB_SIZE, d.tdim = c->tdim;
    return d;
}

DataConfig pretrain_data_config(const PretrainConfig *c) {
    DataConfig d = {c->img, c->text_len, c->ref_poses, c->p_drop_ref, c->p_drop_txt, c->sigma_loc, c->sigma_scale};
    return d;
}

int pretrain_config_check(const PretrainConfig *c, char *err, size_t errlen) {
    // every key within its table range (a struct filled by code rather than by config_set)
    for (int i = 0; i < N_PRETRAIN_KEYS; i++) {
        const ConfigKey *k = &PRETRAIN_KEYS[i];
        const char *f = (const char *)c + k->offset;
        double v = k->type == CONFIG_INT ? *(const int *)f : k->type == CONFIG_FLOAT ? *(const float *)f : 0.0;
        if ((k->type == CONFIG_INT || k->type == CONFIG_FLOAT) && !(v >= k->lo && v <= k->hi))
            return cg_errf(err, errlen, "%s = %g is out of range [%g, %g]", k->key, v, k->lo, k->hi);
    }
    if (c->lr_schedule != LR_CONSTANT && c->lr_schedule != LR_COSINE)
        return cg_errf(err, errlen, "lr_schedule = %d is not constant or cosine", c->lr_schedule);
    DiTConfig d = pretrain_dit_config(c);
    if (dit_config_check(&d, err, errlen)) return -1;
    DataConfig dc = pretrain_data_config(c);
    if (data_config_check(&dc, err, errlen)) return -1;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double phys = pages > 0 && page > 0 ? (double)pages * (double)page : 0.0;
    double need = (double)dit_activation_bytes(&d, c->batch);
    if (phys > 0 && need > 0.5 * phys)
        return cg_errf(err, errlen, "batch = %d needs %.1f GiB of activations at this size, more than half of the "
                       "machine's %.1f GiB", c->batch, need / (1 << 30), phys / (1 << 30));
    return 0;
}

int pretrain_key_is_resumable(const char *key) {
    static const char *const OK[] = {"steps", "log_every", "val_every", "ckpt_every"};
    return config_name_in(key, OK, (int)(sizeof OK / sizeof OK[0]));
}

// ---- schedules ---------------------------------------------------------------------------------------

float pretrain_lr_at(const PretrainConfig *c, int step) {
    if (c->warmup > 0 && step < c->warmup) return c->lr * (float)step / (float)c->warmup;
    if (c->lr_schedule == LR_CONSTANT) return c->lr;
    int span = c->steps - c->warmup;
    if (span <= 0) return c->lr;
    double t = (double)(step - c->warmup) / (double)span;
    if (t > 1.0) t = 1.0;
    double lo = (double)c->lr * (double)c->lr_min_ratio;
    return (float)(lo + 0.5 * ((double)c->lr - lo) * (1.0 + cos(M_PI * t)));
}

float pretrain_ema_decay_at(float decay, int warmup, int step) {
    if (!warmup) return decay;
    float w = (float)(1.0 + step) / (float)(10.0 + step);
    return w < decay ? w : decay;
}

void pretrain_ema_update(float *ema, const float *p, size_t n, float d) {
    const float e = 1.0f - d;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) ema[i] = d * ema[i] + e * p[i];
}

// ---- validation --------------------------------------------------------------------------------------

double pretrain_val_loss(DiTModel *m, const DataBatch *val, int n, float *work_xt, float *work_v) {
    const size_t ni = val->n;
    double sum = 0.0;
    for (int first = 0; first < n; first += m->max_B) {
        const int B = n - first < m->max_B ? n - first : m->max_B;
        const size_t o = (size_t)first * ni, N = (size_t)B * ni;
        for (int b = 0; b < B; b++) {
            const float s = val->sigma[first + b];
            const size_t ob = o + (size_t)b * ni;
            for (size_t i = 0; i < ni; i++)
                work_xt[(size_t)b * ni + i] = (1.0f - s) * val->x0[ob + i] + s * val->noise[ob + i];
        }
        dit_forward(m, work_v, work_xt, val->sigma + first, val->ref + o, val->tokens + (size_t)first * val->text_len,
                    NULL, NULL, B);
        for (size_t i = 0; i < N; i++) {
            double d = (double)work_v[i] - ((double)val->noise[o + i] - (double)val->x0[o + i]);
            sum += d * d;
        }
    }
    return sum / ((double)n * (double)ni);
}

// ---- files of the run directory ----------------------------------------------------------------------

static int save_ckpt(const char *path, const DiTModel *m, float *ema, const PretrainConfig *c, int step, char *err,
                     size_t errlen) {
    CkptMeta meta;
    ckpt_meta_init(&meta);
    ckpt_meta_set(&meta, "format", PRETRAIN_CKPT_FORMAT);
    dit_config_to_meta(&m->cfg, &meta);
    ckpt_meta_set_int(&meta, "step", step);
    ckpt_meta_set(&meta, BLAS_CORE_KEY, blas_core());
    cg_rng data_rng = {c->seed, DATA_STREAM_TRAIN_DRAWS, (uint64_t)step}; // the data cursor
    ckpt_meta_set_rng(&meta, "rng", &data_rng);
    config_meta_set(&meta, c, PRETRAIN_KEYS, N_PRETRAIN_KEYS);
    CkptSection s[4] = {{"model.", &m->table, m->params},
                        {"ema.", &m->table, ema},
                        {"adam_m.", &m->table, m->adam_m},
                        {"adam_v.", &m->table, m->adam_v}};
    int rc = ckpt_save(path, s, 4, &meta, err, errlen);
    ckpt_meta_free(&meta);
    return rc;
}

// Validate the checkpoint against the run's config, then load it. On failure nothing is loaded.
static int load_ckpt(const char *path, DiTModel *m, float *ema, const PretrainConfig *c, int *step, int *ckpt_steps,
                     char *err, size_t errlen) {
    CkptMeta meta;
    char why[512];
    if (ckpt_read_meta(path, &meta, why, sizeof why)) return cg_errf(err, errlen, "%s", why);
    int rc = 0;
    const char *fmt = ckpt_meta_get(&meta, "format");
    if (!fmt || strcmp(fmt, PRETRAIN_CKPT_FORMAT) != 0)
        rc = cg_errf(err, errlen, "%s: not a pretraining checkpoint (format = %s, want %s)", path, fmt ? fmt : "none",
                     PRETRAIN_CKPT_FORMAT);
    if (rc == 0 && dit_config_match_meta(&meta, &m->cfg, why, sizeof why)) rc = cg_errf(err, errlen, "%s: %s", path, why);
    if (rc == 0 && config_meta_expect(&meta, c, PRETRAIN_KEYS, N_PRETRAIN_KEYS, pretrain_key_is_resumable, why, sizeof why))
        rc = cg_errf(err, errlen, "%s: %s", path, why);
    long st = 0, total = 0;
    if (rc == 0 && ckpt_meta_get_int(&meta, "step", 0, INT_MAX, &st, why, sizeof why))
        rc = cg_errf(err, errlen, "%s: %s", path, why);
    if (rc == 0 && ckpt_meta_get_int(&meta, "cfg.steps", 0, INT_MAX, &total, why, sizeof why))
        rc = cg_errf(err, errlen, "%s: %s", path, why);
    if (rc == 0) blas_core_warn("pretrain", ckpt_meta_get(&meta, BLAS_CORE_KEY));
    ckpt_meta_free(&meta);
    if (rc) return rc;
    CkptSection s[4] = {{"model.", &m->table, m->params},
                        {"ema.", &m->table, ema},
                        {"adam_m.", &m->table, m->adam_m},
                        {"adam_v.", &m->table, m->adam_v}};
    if (ckpt_load(path, s, 4, NULL, 0, why, sizeof why)) return cg_errf(err, errlen, "%s", why);
    *step = (int)st;
    *ckpt_steps = (int)total;
    return 0;
}



// ---- progress ----------------------------------------------------------------------------------------




// The end of a divergence message: where the last good checkpoint is, if any.
static void kept_note(char *buf, size_t len, int saved_step, const char *ckpt_path) {
    if (saved_step >= 0) snprintf(buf, len, "the last good checkpoint (step %d) is kept in %s", saved_step, ckpt_path);
    else snprintf(buf, len, "no checkpoint was written yet (try a lower lr or a longer warmup)");
}

// ---- the loop ----------------------------------------------------------------------------------------

typedef struct { // what a run holds besides the model
    DataBatch batch, val;
    float *ema, *swap;      // (total) EMA weights; scratch for swapping them into the model
    float *work_xt, *work_v; // (batch, n) validation scratch
    World *world;
    RunLog log;              // DIR/metrics.jsonl
} RunState;

// Validation loss with the EMA weights (swapped into the model for the forward) and the raw ones.
static void validate(DiTModel *m, RunState *st, int n, double *val_ema, double *val_raw) {
    const size_t bytes = m->table.total * sizeof(float);
    *val_raw = pretrain_val_loss(m, &st->val, n, st->work_xt, st->work_v);
    memcpy(st->swap, m->params, bytes);
    memcpy(m->params, st->ema, bytes);
    *val_ema = pretrain_val_loss(m, &st->val, n, st->work_xt, st->work_v);
    memcpy(m->params, st->swap, bytes);
}

static int save_model(const char *path, DiTModel *m, RunState *st, const PretrainConfig *c, int step, char *err,
                      size_t errlen) {
    const size_t bytes = m->table.total * sizeof(float);
    CkptMeta extra;
    ckpt_meta_init(&extra);
    ckpt_meta_set(&extra, "source", "cgrpo pretrain (EMA weights)");
    ckpt_meta_set_int(&extra, "step", step);
    config_meta_set(&extra, c, PRETRAIN_KEYS, N_PRETRAIN_KEYS);
    memcpy(st->swap, m->params, bytes);
    memcpy(m->params, st->ema, bytes);
    int rc = dit_save(m, path, &extra, err, errlen);
    memcpy(m->params, st->swap, bytes);
    ckpt_meta_free(&extra);
    return rc;
}

// Data-parallel loss (more than one rank): this rank's block of the batch's B rows, its gradient
// scaled by rows / B so that the ranks' terms add up to the gradient of the batch mean, summed in
// rank order into every rank's grads (core/dist.h). Returns the batch's mean loss, the ranks' means
// weighted alike and added in rank order. The sums run in another order than one process's, so
// the weights agree with a one-process run within float rounding, not bit for bit.
static float rows_loss(DiTModel *m, RunState *st, const Dist *d, int B) {
    const DataBatch *b = &st->batch;
    int b0, b1;
    dist_block(d, B, &b0, &b1);
    const size_t n = b->n, total = m->table.total;
    const float share = (float)(b1 - b0) / (float)B;
    double *part = cg_calloc((size_t)d->size, sizeof(double)); // (ranks) weighted losses
    if (b1 > b0) {
        const float l = dit_flow_loss(m, b->x0 + (size_t)b0 * n, b->noise + (size_t)b0 * n, b->sigma + b0,
                                      b->ref + (size_t)b0 * n, b->tokens + (size_t)b0 * b->text_len, b->drop_ref + b0,
                                      b->drop_txt + b0, b1 - b0);
        for (size_t j = 0; j < total; j++) m->grads[j] *= share;
        part[d->rank] = (double)l * share;
    }
    float *own[1] = {m->grads};
    dist_chain_sum(d, st->swap, own, d->size, 0, d->size, total); // rank r owns item r
    memcpy(m->grads, st->swap, total * sizeof(float));
    dist_allgather_bytes(d, part, sizeof(double), d->size);
    double loss = 0.0;
    for (int r = 0; r < d->size; r++) loss += part[r];
    free(part);
    return (float)loss;
}

CgStatus pretrain_run(const PretrainConfig *cfg, const PretrainRun *run, PretrainResult *res, char *err, size_t errlen) {
    PretrainResult r = {0, 0, NAN, NAN, NAN, NAN, NAN, 0.0, 0};
    char why[600];
    if (pretrain_config_check(cfg, why, sizeof why)) return cg_fail(CG_EINPUT, err, errlen, "%s", why);
    char ckpt_path[4200], model_path[4200], config_path[4200], metrics_path[4200];
    rundir_join(ckpt_path, sizeof ckpt_path, run->dir, PRETRAIN_CKPT_FILE);
    rundir_join(model_path, sizeof model_path, run->dir, PRETRAIN_MODEL_FILE);
    rundir_join(config_path, sizeof config_path, run->dir, PRETRAIN_CONFIG_FILE);
    rundir_join(metrics_path, sizeof metrics_path, run->dir, PRETRAIN_METRICS_FILE);
    const Dist *d = dist_or_one(run->dist);
    const int lead = d->rank == 0; // rank 0 alone writes the run directory
    if (run->resume && !rundir_exists(ckpt_path))
        return cg_fail(CG_EINPUT, err, errlen, "cannot resume: %s does not exist", ckpt_path);
    int busy, lock_fd = -1;
    CgStatus rc0 = CG_OK;
    if (lead && !run->resume && rundir_mkdirs(run->dir, why, sizeof why)) rc0 = cg_fail(CG_EINPUT, err, errlen, "%s", why);
    if (lead && rc0 == CG_OK && (lock_fd = rundir_lock(run->dir, &busy, err, errlen)) < 0) // held to the end
        rc0 = busy ? CG_EINPUT : CG_ERUNTIME;
    if (rc0 == CG_OK && !run->resume && rundir_exists(ckpt_path))
        rc0 = cg_fail(CG_EINPUT, err, errlen, "%s already holds a run (%s): continue it with --resume %s or choose another "
                      "directory", run->dir, PRETRAIN_CKPT_FILE, run->dir);
    if ((rc0 = (CgStatus)dist_agree(d, rc0, err, errlen))) {
        rundir_unlock(lock_fd);
        return rc0;
    }

    DiTConfig dcfg = pretrain_dit_config(cfg);
    DataConfig data = pretrain_data_config(cfg);
    const int B = cfg->batch;
    DiTModel m;
    dit_create(&m, &dcfg, B);
    RunState st;
    memset(&st, 0, sizeof st);
    st.ema = cg_malloc(m.table.total * sizeof(float));
    st.swap = cg_malloc(m.table.total * sizeof(float));
    int step0 = 0, ckpt_steps = 0;
    CgStatus rc = CG_OK;
    double elapsed0 = 0.0;
    if (run->resume) {
        if (load_ckpt(ckpt_path, &m, st.ema, cfg, &step0, &ckpt_steps, why, sizeof why)) {
            rc = CG_EINPUT;
            cg_errf(err, errlen, "cannot resume: %s", why);
        } else if (step0 > cfg->steps) {
            rc = CG_EINPUT;
            cg_errf(err, errlen, "steps = %d is below the checkpoint's step %d", cfg->steps,
                    step0);
        } else if (run->stop_at > 0 && run->stop_at < step0) {
            rc = CG_EINPUT;
            cg_errf(err, errlen, "--stop-at %d is below the checkpoint's step %d", run->stop_at, step0);
        }
    } else {
        dit_init(&m, cfg->seed);
        memcpy(st.ema, m.params, m.table.total * sizeof(float));
    }
    if (rc == CG_OK && lead && config_write_file(config_path, cfg, PRETRAIN_KEYS, N_PRETRAIN_KEYS,
                                         "# cgrpo pretrain: the resolved config of this run (cgrpo pretrain --resume "
                                         "reads it)\n", why, sizeof why))
        rc = cg_fail(CG_ERUNTIME, err, errlen, "%s", why);
    if (rc == CG_OK && lead && rundir_log_open(&st.log, metrics_path, "step", run->resume ? step0 : -1, &elapsed0, why, sizeof why))
        rc = cg_fail(CG_ERUNTIME, err, errlen, "%s", why);
    rc = (CgStatus)dist_agree(d, rc, err, errlen);
    if (rc) {
        dit_free(&m);
        free(st.ema), free(st.swap);
        rundir_unlock(lock_fd);
        return rc;
    }
    r.start_step = r.end_step = step0;

    st.world = cg_malloc(sizeof(World));
    world_init(st.world, cfg->subjects_seed);
    data_batch_alloc(&st.batch, &data, B);
    data_batch_alloc(&st.val, &data, cfg->val_samples);
    data_make_val(&st.val, &data, st.world, cfg->val_seed, 0, cfg->val_samples);
    st.work_xt = cg_malloc((size_t)B * st.batch.n * sizeof(float));
    st.work_v = cg_malloc((size_t)B * st.batch.n * sizeof(float));

    const double t_start = cg_now();
    const int tty = run->progress && isatty(STDERR_FILENO);
    int line_open = 0;      // a self-overwriting progress line is on the terminal
    double loss_shown = NAN; // running average of the loss for the terminal line
    if (run->progress && run->resume)
        fprintf(stderr, "pretrain: resuming %s at step %d of %d\n", run->dir, step0, cfg->steps);
    if (run->progress && run->resume && cfg->lr_schedule == LR_COSINE && ckpt_steps != cfg->steps)
        fprintf(stderr, "pretrain: note: the cosine schedule now spans %d steps instead of %d: the rest of it is stretched\n",
                cfg->steps, ckpt_steps);
    if (!run->resume) { // the starting point of the validation curve
        double ve, vr;
        validate(&m, &st, cfg->val_samples, &ve, &vr);
        r.first_val_ema = r.last_val_ema = ve, r.first_val_raw = r.last_val_raw = vr;
        if (lead) {
            fprintf(st.log.f, "{\"step\":0,\"val_loss_ema\":%.7g,\"val_loss_raw\":%.7g,\"elapsed_s\":%.3f}\n", ve, vr,
                    cg_now() - t_start);
            if (rundir_log_commit(&st.log, why, sizeof why)) rc = cg_fail(CG_ERUNTIME, err, errlen, "step 0: %s", why);
        }
        rc = (CgStatus)dist_agree(d, rc, err, errlen);
        if (run->progress && rc == CG_OK) fprintf(stderr, "pretrain: step 0/%d val %.4f\n", cfg->steps, ve);
    }

    AdamWConfig opt = {cfg->lr, cfg->beta1, cfg->beta2, cfg->adam_eps, cfg->weight_decay};
    const size_t total = m.table.total;
    int saved_step = run->resume ? step0 : -1;
    double sum_loss = 0.0, sum_gn = 0.0, t_interval = 0.0;
    int n_interval = 0;
    const double t_loop = cg_now();
    const int end = run->stop_at > 0 && run->stop_at < cfg->steps ? run->stop_at : cfg->steps;
    for (int s = step0 + 1; s <= end && rc == CG_OK; s++) {
        const double t0 = cg_now();
        data_make_train(&st.batch, &data, st.world, cfg->seed, (uint64_t)s, B);
        dit_zero_grad(&m);
        float loss = d->size == 1 ? dit_flow_loss(&m, st.batch.x0, st.batch.noise, st.batch.sigma, st.batch.ref,
                                                  st.batch.tokens, st.batch.drop_ref, st.batch.drop_txt, B)
                                  : rows_loss(&m, &st, d, B);
        if (fault_at(&run->fault, FAULT_LOSS, s)) loss = run->fault.value; // tests
        const double gn = cfg->grad_clip > 0.0f ? clip_grad_norm(m.grads, total, (double)cfg->grad_clip)
                                                : grad_global_norm(m.grads, total);
        if (!isfinite(loss) || !isfinite(gn)) {
            if (line_open) fputc('\n', stderr);
            rc = CG_ERUNTIME;
            char kept[4400];
            kept_note(kept, sizeof kept, saved_step, ckpt_path);
            cg_errf(err, errlen, "step %d: loss = %g, gradient norm = %g: training diverged; %s", s, (double)loss, gn, kept);
            break;
        }
        opt.lr = pretrain_lr_at(cfg, s);
        adamw_step(m.params, m.grads, m.adam_m, m.adam_v, &m.table, s, &opt);
        pretrain_ema_update(st.ema, m.params, total, pretrain_ema_decay_at(cfg->ema_decay, cfg->ema_warmup, s));
        if (fault_at(&run->fault, FAULT_WEIGHT, s)) m.params[0] = run->fault.value; // tests
        // the weights after every update: a NaN there would show in the loss only at the next step,
        // and is never written over the last good checkpoint
        const size_t bad = buffer_first_nonfinite(m.params, total), bad_ema = buffer_first_nonfinite(st.ema, total);
        if (bad < total || bad_ema < total) {
            if (line_open) fputc('\n', stderr);
            line_open = 0;
            char kept[4400];
            kept_note(kept, sizeof kept, saved_step, ckpt_path);
            rc = cg_fail(CG_ERUNTIME, err, errlen, "step %d: non-finite %s weights (%s): training diverged; %s", s,
                         bad < total ? "model" : "EMA", param_table_name_at(&m.table, bad < total ? bad : bad_ema), kept);
            break;
        }
        const double dt = cg_now() - t0;
        r.train_seconds += dt;
        t_interval += dt;
        sum_loss += loss, sum_gn += gn, n_interval++;
        r.last_loss = loss, r.end_step = s, r.steps_run++;

        const int last = s == end;
        const int do_val = last || (cfg->val_every > 0 && s % cfg->val_every == 0);
        const int do_log = last || do_val || s % cfg->log_every == 0;
        double ve = NAN, vr = NAN;
        if (do_val) {
            validate(&m, &st, cfg->val_samples, &ve, &vr);
            if (isnan(r.first_val_ema)) r.first_val_ema = ve, r.first_val_raw = vr;
            r.last_val_ema = ve, r.last_val_raw = vr;
        }
        const double wall = cg_now() - t_start;
        const double rate = r.steps_run / (cg_now() - t_loop); // steps/s, validation and checkpoints included
        if (do_log) {
            const double img_s = (double)B * n_interval / t_interval;
            int bad = 0;
            if (lead) {
                fprintf(st.log.f, "{\"step\":%d,\"loss\":%.7g,\"lr\":%.7g,\"grad_norm\":%.7g", s, sum_loss / n_interval,
                        (double)opt.lr, sum_gn / n_interval);
                if (do_val) fprintf(st.log.f, ",\"val_loss_ema\":%.7g,\"val_loss_raw\":%.7g", ve, vr);
                fprintf(st.log.f, ",\"images_per_s\":%.4g,\"elapsed_s\":%.3f}\n", img_s, elapsed0 + wall);
                bad = rundir_log_commit(&st.log, why, sizeof why) != 0;
            }
            if (dist_agree(d, bad, why, sizeof why)) {
                char kept[4400];
                kept_note(kept, sizeof kept, saved_step, ckpt_path);
                rc = cg_fail(CG_ERUNTIME, err, errlen, "step %d: %s; training stopped, %s", s, why, kept);
                break;
            }
            if (run->progress && !tty) {
                char eta[32];
                rundir_fmt_duration(eta, sizeof eta, (cfg->steps - s) / rate);
                fprintf(stderr, "pretrain: step %d/%d loss %.4f lr %.3g gnorm %.3f", s, cfg->steps, sum_loss / n_interval,
                        (double)opt.lr, sum_gn / n_interval);
                if (do_val) fprintf(stderr, " val_ema %.4f val_raw %.4f", ve, vr);
                fprintf(stderr, " | %.2f step/s %.1f img/s | ETA %s\n", rate, img_s, eta);
            }
            sum_loss = sum_gn = t_interval = 0.0;
            n_interval = 0;
        }
        if (tty) {
            char eta[32];
            rundir_fmt_duration(eta, sizeof eta, (cfg->steps - s) / rate);
            loss_shown = isnan(loss_shown) ? loss : 0.9 * loss_shown + 0.1 * loss;
            fprintf(stderr, "\rstep %d/%d  loss %.4f  %.2f step/s  %.1f img/s  ETA %s   ", s, cfg->steps, loss_shown,
                    rate, rate * B, eta);
            line_open = 1;
            if (do_val) {
                fprintf(stderr, "\rstep %d/%d  val_ema %.4f  val_raw %.4f%30s\n", s, cfg->steps, ve, vr, "");
                line_open = 0;
            }
        }
        if (last || (cfg->ckpt_every > 0 && s % cfg->ckpt_every == 0)) {
            int bad = lead && save_ckpt(ckpt_path, &m, st.ema, cfg, s, why, sizeof why);
            if (dist_agree(d, bad, why, sizeof why)) {
                if (line_open) fputc('\n', stderr);
                line_open = 0;
                char kept[4400];
                kept_note(kept, sizeof kept, saved_step, ckpt_path);
                rc = cg_fail(CG_ERUNTIME, err, errlen, "%s; training stopped, %s", why, kept);
                break;
            }
            saved_step = s;
        }
    }
    if (line_open) fputc('\n', stderr);
    if (rc == CG_OK && saved_step != r.end_step) { // a run of 0 steps still leaves a checkpoint
        if (lead && save_ckpt(ckpt_path, &m, st.ema, cfg, r.end_step, why, sizeof why))
            rc = cg_fail(CG_ERUNTIME, err, errlen, "%s", why);
        rc = (CgStatus)dist_agree(d, rc, err, errlen);
    }
    if (rc == CG_OK && lead && save_model(model_path, &m, &st, cfg, r.end_step, why, sizeof why))
        rc = cg_fail(CG_ERUNTIME, err, errlen, "%s", why);
    rc = (CgStatus)dist_agree(d, rc, err, errlen);
    if (rc == CG_OK && run->progress)
        fprintf(stderr, "pretrain: %s at step %d of %d: %s (EMA weights), %s\n", r.end_step < cfg->steps ? "stopped" : "done",
                r.end_step, cfg->steps, model_path, ckpt_path);

    rundir_log_close(&st.log);
    rundir_unlock(lock_fd);
    data_batch_free(&st.batch);
    data_batch_free(&st.val);
    free(st.work_xt), free(st.work_v), free(st.ema), free(st.swap), free(st.world);
    dit_free(&m);
    if (res) *res = r;
    return rc;
}
