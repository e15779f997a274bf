// test_pretrain.c: the pretraining pieces (train/data.h, train/pretrain.h, io/config.h):
//   - config files: unknown key names the nearest one, bad values name key and value, set twice,
//     round trip write -> read gives the same bits;
//   - the batch maker: same (seed, step, b) -> same bits with 1 and 2 threads and for any batch
//     size; dropout rates ~0.1 and independent; sigma logit-normal; templates valid for the
//     subject's kind with the right tokens; only TRAIN subjects in training batches (the rendered
//     reference is checked against the renderer), only VAL subjects in the validation set;
//   - schedules: warm-up and cosine learning rates, the EMA formula;
//   - training works: the validation loss of a tiny model drops below 0.8x its initial value;
//   - resume: N steps + resume for N more equals 2N steps, byte for byte, also across thread counts;
//   - bad runs: missing, corrupt and other-config checkpoints, a directory that holds a run, and a
//     divergence that keeps the last good checkpoint: error codes with one-line reasons.
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "scratch.h"
#include "test.h"
#include "train/data.h"
#include "train/pretrain.h"
#include "world/prompts.h"
#include "world/render.h"
#include "world/tokenizer.h"

// ---- helpers ---------------------------------------------------------------------------------------

static char g_dir_template[] = "/tmp/cgrpo_pretrain_test.XXXXXX";
static const char *g_dir;

static void path_in(char *out, size_t n, const char *a, const char *b) {
    snprintf(out, n, "%s/%s%s%s", g_dir, a, b ? "/" : "", b ? b : "");
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

// A config that trains in a fraction of a second.
static PretrainConfig tiny_config(void) {
    PretrainConfig c = pretrain_config_default();
    c.width = 16, c.depth = 1, c.heads = 2, c.batch = 2, c.steps = 6, c.warmup = 2;
    c.val_samples = 4, c.val_every = 3, c.log_every = 2, c.ckpt_every = 2;
    return c;
}

static CgStatus run_quiet(const PretrainConfig *c, const char *dir, int resume, PretrainResult *res, char *err, size_t n) {
    PretrainRun run = {dir, resume, 0, 0, TEST_FAULT_NONE, NULL};
    err[0] = '\0';
    return pretrain_run(c, &run, res, err, n);
}

// ---- config files ----------------------------------------------------------------------------------

static void test_config_errors(void) {
    int n;
    const ConfigKey *keys = pretrain_config_keys(&n);
    PretrainConfig c = pretrain_config_default();
    char err[512];
    EXPECT(config_parse_text(&c, keys, n, "width = 64\nwidht = 32\n", "x.cfg", NULL, err, sizeof err) == -1, "unknown key");
    EXPECT(strstr(err, "x.cfg:2") && strstr(err, "widht") && strstr(err, "nearest: width"), "message: %s", err);
    EXPECT(c.width == 64, "the line before the error was applied: %d", c.width);
    EXPECT(config_parse_text(&c, keys, n, "# comment\n\nbatch = 1x6\n", "x.cfg", NULL, err, sizeof err) == -1, "bad int");
    EXPECT(strstr(err, "x.cfg:3") && strstr(err, "batch") && strstr(err, "1x6"), "message: %s", err);
    EXPECT(config_parse_text(&c, keys, n, "lr = fast", "x.cfg", NULL, err, sizeof err) == -1, "bad float");
    EXPECT(strstr(err, "lr") && strstr(err, "fast"), "message: %s", err);
    EXPECT(config_parse_text(&c, keys, n, "lr = nan", "x.cfg", NULL, err, sizeof err) == -1, "nan");
    EXPECT(config_parse_text(&c, keys, n, "seed = -1", "x.cfg", NULL, err, sizeof err) == -1, "negative seed");
    EXPECT(config_parse_text(&c, keys, n, "lr_schedule = linear", "x.cfg", NULL, err, sizeof err) == -1, "choice");
    EXPECT(strstr(err, "constant|cosine"), "message: %s", err);
    EXPECT(config_parse_text(&c, keys, n, "depth = 0", "x.cfg", NULL, err, sizeof err) == -1, "range");
    EXPECT(strstr(err, "out of range"), "message: %s", err);
    EXPECT(config_parse_text(&c, keys, n, "depth = 2\ndepth = 3", "x.cfg", NULL, err, sizeof err) == -1, "twice");
    EXPECT(strstr(err, "twice"), "message: %s", err);
    EXPECT(config_parse_text(&c, keys, n, "depth 2", "x.cfg", NULL, err, sizeof err) == -1, "no '='");
    EXPECT(config_set(&c, keys, n, "p-drop-ref", "0.25", err, sizeof err) == 0 && c.p_drop_ref == 0.25f,
           "dashes spell underscores");
    EXPECT(strcmp(config_nearest(keys, n, "ckpt_evry"), "ckpt_every") == 0, "nearest key");
    char path[512];
    path_in(path, sizeof path, "missing.cfg", NULL);
    EXPECT(config_read_file(path, &c, keys, n, err, sizeof err) == -1 && one_line(err), "missing file: %s", err);
    PretrainConfig bad = tiny_config();
    bad.width = 18; // 18 % 4 heads... tiny has 2 heads: 18 % 2 == 0, so break the heads instead
    bad.heads = 4;
    EXPECT(pretrain_config_check(&bad, err, sizeof err) == -1 && strstr(err, "heads"), "width %% heads: %s", err);
    bad = tiny_config();
    bad.text_len = 8;
    EXPECT(pretrain_config_check(&bad, err, sizeof err) == -1 && strstr(err, "text_len"), "text_len: %s", err);
}

static void test_config_round_trip(void) {
    int n;
    const ConfigKey *keys = pretrain_config_keys(&n);
    PretrainConfig a = pretrain_config_default(), b = pretrain_config_default();
    a.seed = UINT64_MAX, a.lr = 3e-4f, a.sigma_loc = -0.1f, a.lr_schedule = LR_COSINE, a.beta2 = 0.98765432f;
    a.width = 96, a.val_seed = 12345678901234ull;
    char path[512], err[512], v[CONFIG_MAX_VALUE];
    path_in(path, sizeof path, "rt.cfg", NULL);
    EXPECT(config_write_file(path, &a, keys, n, "# header\n", err, sizeof err) == 0, "write: %s", err);
    EXPECT(config_read_file(path, &b, keys, n, err, sizeof err) == 0, "read: %s", err);
    for (int i = 0; i < n; i++) EXPECT(config_same(&a, &b, &keys[i]), "key %s differs after a round trip", keys[i].key);
    EXPECT(memcmp(&a.lr, &b.lr, sizeof(float)) == 0 && memcmp(&a.beta2, &b.beta2, sizeof(float)) == 0, "float bits");
    EXPECT(a.seed == b.seed && b.lr_schedule == LR_COSINE, "seed %llu schedule %d", (unsigned long long)b.seed,
           b.lr_schedule);
    config_format(v, sizeof v, &a, config_find(keys, n, "lr"));
    EXPECT(strcmp(v, "0.0003") == 0, "shortest float form: %s", v);
}

// ---- the batch maker -------------------------------------------------------------------------------

static int batches_equal(const DataBatch *a, const DataBatch *b, int B) {
    const size_t N = (size_t)B * a->n;
    return memcmp(a->x0, b->x0, N * sizeof(float)) == 0 && memcmp(a->ref, b->ref, N * sizeof(float)) == 0 &&
           memcmp(a->noise, b->noise, N * sizeof(float)) == 0 && memcmp(a->sigma, b->sigma, (size_t)B * sizeof(float)) == 0 &&
           memcmp(a->tokens, b->tokens, (size_t)B * a->text_len * sizeof(int)) == 0 &&
           memcmp(a->drop_ref, b->drop_ref, (size_t)B) == 0 && memcmp(a->drop_txt, b->drop_txt, (size_t)B) == 0;
}

static void test_data_deterministic(void) {
    DataConfig c = data_config_default();
    World *w = cg_malloc(sizeof(World));
    world_init(w, 1);
    const int B = 6;
    DataBatch one, two, small, other;
    data_batch_alloc(&one, &c, B);
    data_batch_alloc(&two, &c, B);
    data_batch_alloc(&small, &c, B);
    data_batch_alloc(&other, &c, B);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    data_make_train(&one, &c, w, 7, 123, B);
    omp_set_num_threads(2);
    data_make_train(&two, &c, w, 7, 123, B);
    omp_set_num_threads(saved);
    EXPECT(batches_equal(&one, &two, B), "1 and 2 threads give different batches");
    data_make_train(&small, &c, w, 7, 123, 3); // sample b does not depend on the batch size
    EXPECT(batches_equal(&one, &small, 3), "the first 3 samples of a batch of 6 differ from a batch of 3");
    data_make_train(&other, &c, w, 7, 124, B);
    EXPECT(memcmp(one.noise, other.noise, one.n * sizeof(float)) != 0, "another step, same noise");
    data_make_train(&other, &c, w, 8, 123, B);
    EXPECT(memcmp(one.noise, other.noise, one.n * sizeof(float)) != 0, "another seed, same noise");
    // values: images in [-1, 1], the noise roughly standard normal
    double s1 = 0, s2 = 0;
    int in_range = 1;
    for (size_t i = 0; i < (size_t)B * one.n; i++) {
        in_range &= one.x0[i] >= -1.0f && one.x0[i] <= 1.0f && one.ref[i] >= -1.0f && one.ref[i] <= 1.0f;
        s1 += one.noise[i], s2 += (double)one.noise[i] * one.noise[i];
    }
    const double N = (double)B * (double)one.n;
    EXPECT(in_range, "images outside [-1, 1]");
    EXPECT_NEAR(s1 / N, 0.0, 0.05);
    EXPECT_NEAR(s2 / N, 1.0, 0.05);
    data_batch_free(&one), data_batch_free(&two), data_batch_free(&small), data_batch_free(&other);
    free(w);
}

static void test_data_dropout_and_sigma(void) {
    DataConfig c = data_config_default();
    const int N = 20000;
    int ref = 0, txt = 0, both = 0;
    double m1 = 0, m2 = 0;
    int sig_ok = 1;
    for (int i = 0; i < N; i++) {
        DataDraw d;
        data_draw(&d, &c, 3, DATA_STREAM_TRAIN_DRAWS, (uint64_t)(i / 16), i % 16, WORLD_N_TRAIN);
        ref += d.drop_ref, txt += d.drop_txt, both += d.drop_ref && d.drop_txt;
        sig_ok &= d.sigma > 0.0f && d.sigma < 1.0f;
        double l = log(d.sigma / (1.0 - d.sigma));
        m1 += l, m2 += l * l;
    }
    // binomial standard deviations: 0.0021 for p = 0.1, 0.0007 for p = 0.01 (tolerances ~4-5 sd)
    EXPECT_NEAR(ref / (double)N, 0.1, 0.01);
    EXPECT_NEAR(txt / (double)N, 0.1, 0.01);
    EXPECT_NEAR(both / (double)N, 0.01, 0.0035);
    EXPECT(sig_ok, "sigma outside (0, 1)");
    m1 /= N;
    EXPECT_NEAR(m1, 0.0, 0.04);                 // logit(sigma) ~ N(0, 1)
    EXPECT_NEAR(sqrt(m2 / N - m1 * m1), 1.0, 0.04);
    c.p_drop_ref = 0.0f, c.p_drop_txt = 1.0f;
    int never = 1, always = 1;
    for (int i = 0; i < 2000; i++) {
        DataDraw d;
        data_draw(&d, &c, 3, DATA_STREAM_TRAIN_DRAWS, 5, i, WORLD_N_TRAIN);
        never &= !d.drop_ref, always &= d.drop_txt;
    }
    EXPECT(never && always, "p = 0 / p = 1 not respected");
}

// Templates valid for the subject's kind with the right tokens; only TRAIN subjects in training
// batches and only VAL subjects in the validation set (each reference compared with the renderer).
static void test_data_subjects_and_templates(void) {
    DataConfig c = data_config_default();
    c.img = 16; // smaller renders, same logic
    World *w = cg_malloc(sizeof(World));
    world_init(w, 1);
    const int B = 16, steps = 40;
    DataBatch bt;
    data_batch_alloc(&bt, &c, B);
    unsigned char seen_subject[WORLD_N_TRAIN] = {0};
    int seen_template[PROMPT_N_TEMPLATES + 1] = {0}, bad_tokens = 0, bad_ref = 0, bad_kind = 0, bad_index = 0;
    float *img = cg_malloc(bt.n * sizeof(float));
    for (int s = 1; s <= steps; s++) {
        data_make_train(&bt, &c, w, 11, (uint64_t)s, B);
        for (int b = 0; b < B; b++) {
            const DataDraw *d = &bt.draws[b];
            if (d->subject < 0 || d->subject >= WORLD_N_TRAIN || d->template_index < -1 ||
                d->template_index >= PROMPT_N_TEMPLATES) {
                bad_index++;
                continue;
            }
            const Subject *sub = world_subject(w, SPLIT_TRAIN, d->subject);
            seen_subject[d->subject] = 1;
            seen_template[d->template_index + 1]++;
            Prompt p;
            char err[256];
            prompt_make(&p, sub->cls, d->template_index);
            // the template is one of the subject's kind: its text parses back for the class, and
            // templates 10..19 are accessories exactly for live subjects
            Prompt q;
            if (prompt_parse(&q, p.text, sub->cls, err, sizeof err) || q.template_index != d->template_index) bad_kind++;
            if (d->template_index >= 10 && d->template_index < 20 &&
                (p.kind == PROMPT_ACCESSORY) != (sub->kind == KIND_LIVE))
                bad_kind++;
            int ids[TOK_MAX_TOKENS];
            tok_encode(ids, p.text, err, sizeof err);
            if (memcmp(ids, bt.tokens + (size_t)b * bt.text_len, (size_t)bt.text_len * sizeof(int)) != 0) bad_tokens++;
            render_reference(img, NULL, sub, d->pose, c.img);
            data_to_model_range(img, img, bt.n);
            if (memcmp(img, bt.ref + (size_t)b * bt.n, bt.n * sizeof(float)) != 0) bad_ref++;
        }
    }
    EXPECT(bad_index == 0, "%d draws outside the TRAIN split or the templates", bad_index);
    EXPECT(bad_kind == 0, "%d templates not valid for the subject's kind", bad_kind);
    EXPECT(bad_tokens == 0, "%d token rows differ from the tokenizer", bad_tokens);
    EXPECT(bad_ref == 0, "%d references are not the drawn TRAIN subject's", bad_ref);
    int n_subjects = 0, n_templates = 0;
    for (int i = 0; i < WORLD_N_TRAIN; i++) n_subjects += seen_subject[i];
    for (int t = 0; t <= PROMPT_N_TEMPLATES; t++) n_templates += seen_template[t] > 0;
    EXPECT(n_subjects > 300, "only %d of 400 train subjects in 640 draws", n_subjects); // expected ~320
    EXPECT(n_templates == PROMPT_N_TEMPLATES + 1, "only %d of the 26 prompts drawn", n_templates);

    // the validation set: VAL subjects, nothing dropped, the same bits when made in other chunks
    DataBatch val, val2;
    data_batch_alloc(&val, &c, 8);
    data_batch_alloc(&val2, &c, 8);
    data_make_val(&val, &c, w, 0, 0, 8);
    data_make_val(&val2, &c, w, 0, 4, 4);
    int val_bad = 0, dropped = 0;
    for (int b = 0; b < 8; b++) {
        const DataDraw *d = &val.draws[b];
        dropped += val.drop_ref[b] + val.drop_txt[b];
        if (d->subject < 0 || d->subject >= WORLD_N_VAL) {
            val_bad++;
            continue;
        }
        render_reference(img, NULL, world_subject(w, SPLIT_VAL, d->subject), d->pose, c.img);
        data_to_model_range(img, img, val.n);
        val_bad += memcmp(img, val.ref + (size_t)b * val.n, val.n * sizeof(float)) != 0;
    }
    EXPECT(val_bad == 0, "%d validation samples are not VAL subjects", val_bad);
    EXPECT(dropped == 0, "the validation set drops conditions");
    EXPECT(memcmp(val.x0 + 4 * val.n, val2.x0, 4 * val.n * sizeof(float)) == 0 &&
               memcmp(val.noise + 4 * val.n, val2.noise, 4 * val.n * sizeof(float)) == 0,
           "validation sample 4.. depends on the chunk it was made in");
    free(img);
    data_batch_free(&bt), data_batch_free(&val), data_batch_free(&val2);
    free(w);
}

// ---- schedules -------------------------------------------------------------------------------------

static void test_schedules(void) {
    PretrainConfig c = pretrain_config_default();
    c.lr = 1e-3f, c.warmup = 100, c.steps = 1100;
    EXPECT_NEAR(pretrain_lr_at(&c, 1), 1e-5, 1e-9);
    EXPECT_NEAR(pretrain_lr_at(&c, 50), 5e-4, 1e-9);
    EXPECT_NEAR(pretrain_lr_at(&c, 100), 1e-3, 1e-9);
    EXPECT_NEAR(pretrain_lr_at(&c, 5000), 1e-3, 1e-9); // constant, also beyond steps
    c.lr_schedule = LR_COSINE, c.lr_min_ratio = 0.1f;
    EXPECT_NEAR(pretrain_lr_at(&c, 100), 1e-3, 1e-9);
    EXPECT_NEAR(pretrain_lr_at(&c, 600), 1e-4 + 0.5 * 9e-4, 1e-8); // half way: the mean of peak and floor
    EXPECT_NEAR(pretrain_lr_at(&c, 1100), 1e-4, 1e-9);
    EXPECT_NEAR(pretrain_lr_at(&c, 350), 1e-4 + 0.5 * 9e-4 * (1 + cos(M_PI * 0.25)), 1e-8);

    EXPECT_NEAR(pretrain_ema_decay_at(0.999f, 1, 1), 2.0 / 11.0, 1e-7);
    EXPECT_NEAR(pretrain_ema_decay_at(0.999f, 1, 90), 91.0 / 100.0, 1e-7);
    EXPECT_NEAR(pretrain_ema_decay_at(0.999f, 1, 100000), 0.999, 1e-7);
    EXPECT_NEAR(pretrain_ema_decay_at(0.999f, 0, 1), 0.999, 1e-7);
    float ema[3] = {1.0f, -2.0f, 0.5f};
    const float p[3] = {3.0f, 2.0f, 0.5f};
    pretrain_ema_update(ema, p, 3, 0.75f);
    EXPECT_NEAR(ema[0], 0.75 * 1.0 + 0.25 * 3.0, 1e-7);
    EXPECT_NEAR(ema[1], 0.75 * -2.0 + 0.25 * 2.0, 1e-7);
    EXPECT_NEAR(ema[2], 0.5, 1e-7);
}

// ---- training --------------------------------------------------------------------------------------

// A tiny model must learn: its validation loss (EMA and raw weights) falls below 0.8 x the
// initial one within 50 steps. The initial velocity is exactly 0 (adaLN-Zero), so the initial
// loss is E|e - x0|^2 = 1 + E[x0^2].
static void test_loss_decreases(void) {
    PretrainConfig c = pretrain_config_default();
    c.width = 32, c.depth = 1, c.heads = 2, c.batch = 8, c.steps = 50, c.lr = 3e-3f, c.warmup = 10;
    c.ema_decay = 0.9f, c.val_samples = 32, c.val_every = 25, c.log_every = 10, c.ckpt_every = 0;
    char dir[512], err[1024];
    path_in(dir, sizeof dir, "learn", NULL);
    PretrainResult r;
    CgStatus rc = run_quiet(&c, dir, 0, &r, err, sizeof err);
    EXPECT(rc == CG_OK, "rc %d: %s", rc, err);
    EXPECT(r.end_step == 50 && r.steps_run == 50, "ran %d steps to %d", r.steps_run, r.end_step);
    EXPECT(r.first_val_ema > 1.0 && r.first_val_ema < 2.0, "initial val loss %g", r.first_val_ema);
    EXPECT(r.first_val_ema == r.first_val_raw, "EMA and raw weights differ at step 0");
    EXPECT(r.last_val_raw < 0.8 * r.first_val_raw, "raw val loss %g -> %g", r.first_val_raw, r.last_val_raw);
    EXPECT(r.last_val_ema < 0.8 * r.first_val_ema, "EMA val loss %g -> %g", r.first_val_ema, r.last_val_ema);
    // the run directory: config, metrics with one line per logged step, checkpoint and model
    char path[600];
    const char *files[] = {PRETRAIN_CONFIG_FILE, PRETRAIN_METRICS_FILE, PRETRAIN_CKPT_FILE, PRETRAIN_MODEL_FILE};
    for (int i = 0; i < 4; i++) {
        path_in(path, sizeof path, "learn", files[i]);
        EXPECT(exists(path), "%s missing", files[i]);
    }
    path_in(path, sizeof path, "learn", PRETRAIN_METRICS_FILE);
    size_t len = 0;
    char *m = (char *)test_read_file(path, &len);
    int lines = 0, with_val = 0;
    for (size_t i = 0; m && i < len; i++) lines += m[i] == '\n';
    for (char *q = m; q && (q = strstr(q, "val_loss_ema")); q++) with_val++;
    EXPECT(lines == 7 && with_val == 3, "%d metrics lines (want 7: steps 0 10 20 25 30 40 50), %d with val (want 3)", lines,
           with_val);
    free(m);
    // the model file is the EMA weights: loading it gives the EMA validation loss again
    path_in(path, sizeof path, "learn", PRETRAIN_MODEL_FILE);
    DiTModel model;
    EXPECT(dit_load(path, &model, c.batch, err, sizeof err) == 0, "load: %s", err);
    if (model.params) {
        DataConfig dc = pretrain_data_config(&c);
        World *w = cg_malloc(sizeof(World));
        world_init(w, c.subjects_seed);
        DataBatch val;
        data_batch_alloc(&val, &dc, c.val_samples);
        data_make_val(&val, &dc, w, c.val_seed, 0, c.val_samples);
        float *xt = cg_malloc((size_t)c.batch * val.n * sizeof(float)), *v = cg_malloc((size_t)c.batch * val.n * sizeof(float));
        double loss = pretrain_val_loss(&model, &val, c.val_samples, xt, v);
        EXPECT(loss == r.last_val_ema, "model file val loss %.9g, EMA during training %.9g", loss, r.last_val_ema);
        free(xt), free(v), free(w);
        data_batch_free(&val);
        dit_free(&model);
    }
}

// 2N steps == N steps + resume for N more, byte for byte (checkpoint, model, config); and the
// same with a different thread count for the second half.
static void test_resume_bit_exact(void) {
    PretrainConfig c = tiny_config();
    char a[512], b[512], t[512], pa[600], pb[600], pt[600], err[1024];
    path_in(a, sizeof a, "full", NULL);
    path_in(b, sizeof b, "half", NULL);
    path_in(t, sizeof t, "threads", NULL);
    PretrainResult r;
    EXPECT(run_quiet(&c, a, 0, &r, err, sizeof err) == CG_OK, "full run: %s", err);
    PretrainConfig h = c;
    h.steps = 3; // stops between checkpoints (every 2): the resume starts from step 3's final checkpoint
    EXPECT(run_quiet(&h, b, 0, &r, err, sizeof err) == CG_OK, "half run: %s", err);
    EXPECT(run_quiet(&h, t, 0, &r, err, sizeof err) == CG_OK, "half run: %s", err);
    EXPECT(run_quiet(&c, b, 1, &r, err, sizeof err) == CG_OK, "resume: %s", err);
    EXPECT(r.start_step == 3 && r.end_step == 6 && r.steps_run == 3, "resumed %d -> %d (%d steps)", r.start_step,
           r.end_step, r.steps_run);
    int saved = omp_get_max_threads();
    omp_set_num_threads(saved > 1 ? 1 : 2);
    EXPECT(run_quiet(&c, t, 1, &r, err, sizeof err) == CG_OK, "resume: %s", err);
    omp_set_num_threads(saved);
    const char *files[] = {PRETRAIN_CKPT_FILE, PRETRAIN_MODEL_FILE, PRETRAIN_CONFIG_FILE};
    for (int i = 0; i < 3; i++) {
        path_in(pa, sizeof pa, "full", files[i]);
        path_in(pb, sizeof pb, "half", files[i]);
        path_in(pt, sizeof pt, "threads", files[i]);
        EXPECT(scratch_same_file(pa, pb), "%s: 6 steps != 3 + 3 resumed", files[i]);
        EXPECT(scratch_same_file(pa, pt), "%s: 6 steps != 3 + 3 resumed with another thread count", files[i]);
    }
    // the checkpoint's EMA section loads as a model equal to model.safetensors
    DiTModel m1, m2;
    path_in(pa, sizeof pa, "full", PRETRAIN_CKPT_FILE);
    path_in(pb, sizeof pb, "full", PRETRAIN_MODEL_FILE);
    int ok1 = dit_load_section(pa, "ema.", &m1, 1, err, sizeof err) == 0;
    EXPECT(ok1, "ema section: %s", err);
    int ok2 = dit_load(pb, &m2, 1, err, sizeof err) == 0;
    EXPECT(ok2, "model: %s", err);
    if (ok1 && ok2) {
        EXPECT(memcmp(m1.params, m2.params, m1.table.total * sizeof(float)) == 0, "EMA section != model file");
        dit_free(&m2);
    }
    if (ok1) dit_free(&m1);
    // resuming a finished run with the same steps does nothing and leaves the files as they were
    EXPECT(run_quiet(&c, a, 1, &r, err, sizeof err) == CG_OK && r.steps_run == 0, "resume a finished run: %s",
           err);
    path_in(pb, sizeof pb, "half", PRETRAIN_CKPT_FILE);
    EXPECT(scratch_same_file(pa, pb), "a no-op resume changed the checkpoint");
}

static void test_bad_runs(void) {
    PretrainConfig c = tiny_config();
    char dir[512], ck[600], copy[600], err[1024];
    PretrainResult r;
    path_in(dir, sizeof dir, "nothing-here", NULL);
    EXPECT(run_quiet(&c, dir, 1, &r, err, sizeof err) == CG_EINPUT && one_line(err) && strstr(err, "resume"),
           "resume of a missing dir: %s", err);
    path_in(dir, sizeof dir, "bad", NULL);
    EXPECT(run_quiet(&c, dir, 0, &r, err, sizeof err) == CG_OK, "run: %s", err);
    EXPECT(run_quiet(&c, dir, 0, &r, err, sizeof err) == CG_EINPUT && strstr(err, "--resume"),
           "a fresh run over an existing one: %s", err);
    PretrainConfig other = c;
    other.width = 32;
    EXPECT(run_quiet(&other, dir, 1, &r, err, sizeof err) == CG_EINPUT && one_line(err) && strstr(err, "width"),
           "resume with another width: %s", err);
    other = c;
    other.lr = 1e-3f;
    EXPECT(run_quiet(&other, dir, 1, &r, err, sizeof err) == CG_EINPUT && strstr(err, "cfg.lr"),
           "resume with another lr: %s", err);
    other = c;
    other.steps = 4;
    EXPECT(run_quiet(&other, dir, 1, &r, err, sizeof err) == CG_EINPUT && strstr(err, "below"),
           "resume with fewer steps: %s", err);

    // damaged checkpoints: truncated, a flipped data byte, a flipped header byte, garbage
    path_in(ck, sizeof ck, "bad", PRETRAIN_CKPT_FILE);
    path_in(copy, sizeof copy, "ckpt.orig", NULL);
    size_t len = 0;
    unsigned char *orig = test_read_file(ck, &len);
    scratch_write(copy, orig, len);
    unsigned char *buf = cg_malloc(len);
    const size_t cut[] = {len / 2, 20, 4};
    for (int i = 0; i < 3; i++) {
        scratch_write(ck, orig, cut[i]);
        EXPECT(run_quiet(&c, dir, 1, &r, err, sizeof err) == CG_EINPUT && one_line(err), "truncated to %zu: %s",
               cut[i], err);
    }
    const size_t at[] = {len - 7, len / 2, 40};
    for (int i = 0; i < 3; i++) {
        memcpy(buf, orig, len);
        buf[at[i]] ^= 0x40;
        scratch_write(ck, buf, len);
        EXPECT(run_quiet(&c, dir, 1, &r, err, sizeof err) == CG_EINPUT && one_line(err), "byte %zu flipped: %s",
               at[i], err);
    }
    // a model file is not a training checkpoint
    char model[600];
    path_in(model, sizeof model, "bad", PRETRAIN_MODEL_FILE);
    size_t mlen = 0;
    unsigned char *mb = test_read_file(model, &mlen);
    scratch_write(ck, mb, mlen);
    EXPECT(run_quiet(&c, dir, 1, &r, err, sizeof err) == CG_EINPUT && strstr(err, "not a pretraining checkpoint"),
           "model file as checkpoint: %s", err);
    free(mb);
    scratch_write(ck, orig, len);
    free(buf);

    // divergence: a NaN weight in the checkpoint shows up as a NaN loss in the next step; the run
    // stops with CG_ERUNTIME and leaves the checkpoint and model files as they were
    {
        DiTConfig d = pretrain_dit_config(&c);
        DiTModel m;
        dit_create(&m, &d, 1);
        float *ema = cg_malloc(m.table.total * sizeof(float));
        CkptSection s[4] = {{"model.", &m.table, m.params}, {"ema.", &m.table, ema},
                            {"adam_m.", &m.table, m.adam_m}, {"adam_v.", &m.table, m.adam_v}};
        CkptMeta meta;
        EXPECT(ckpt_load(ck, s, 4, &meta, 0, err, sizeof err) == 0, "load: %s", err);
        m.params[0] = NAN;
        EXPECT(ckpt_save(ck, s, 4, &meta, err, sizeof err) == 0, "save: %s", err);
        ckpt_meta_free(&meta);
        free(ema);
        dit_free(&m);
        size_t l1 = 0, l2 = 0;
        unsigned char *before = test_read_file(ck, &l1), *model_before = test_read_file(model, &l2);
        other = c;
        other.steps = 10;
        EXPECT(run_quiet(&other, dir, 1, &r, err, sizeof err) == CG_ERUNTIME && one_line(err) &&
                   strstr(err, "diverged") && strstr(err, "step 6"),
               "NaN: %s", err);
        size_t l3 = 0, l4 = 0;
        unsigned char *after = test_read_file(ck, &l3), *model_after = test_read_file(model, &l4);
        EXPECT(l1 == l3 && memcmp(before, after, l1) == 0, "the checkpoint changed after a divergence");
        EXPECT(l2 == l4 && memcmp(model_before, model_after, l2) == 0, "the model changed after a divergence");
        free(before), free(after), free(model_before), free(model_after);
    }
    free(orig);
}

int main(void) {
    g_dir = scratch_dir(g_dir_template);
    RUN(test_config_errors);
    RUN(test_config_round_trip);
    RUN(test_data_deterministic);
    RUN(test_data_dropout_and_sigma);
    RUN(test_data_subjects_and_templates);
    RUN(test_schedules);
    RUN(test_loss_decreases);
    RUN(test_resume_bit_exact);
    RUN(test_bad_runs);
    scratch_remove(g_dir);
    return test_summary("pretrain");
}
