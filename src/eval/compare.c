// compare.c: `cgrpo compare`: the runs, the evaluations and the resume logic (compare.h). The
// spec and the configs of a run are in compare_spec.c, the aggregation and the report (phase 3) in
// compare_report.c: this file calls both, and neither calls it.
#include "eval/compare.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "core/timer.h"
#include "io/atomic.h"
#include "io/config.h"
#include "io/png.h"
#include "io/rundir.h"
#include "world/render.h"

// ---- files of the evaluation ------------------------------------------------------------------------

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

// atlas.png: row s = subject s: [reference | image (ti, k) ...], S pixels each.
static int write_atlas(const EvalResult *r, const char *path, char *err, size_t errlen) {
    const int S = r->S, NS = r->cfg.n_subjects, cols = 1 + r->cfg.n_templates * r->cfg.K;
    const int W = S * cols, H = S * NS;
    const size_t n = (size_t)S * S * 3;
    unsigned char *rgb = cg_malloc((size_t)W * H * 3);
    for (int s = 0; s < NS; s++)
        for (int c = 0; c < cols; c++) {
            const float *img = c == 0 ? r->refs + (size_t)s * n
                                      : r->images + (size_t)eval_image_index(r, s, (c - 1) / r->cfg.K, (c - 1) % r->cfg.K) * n;
            for (int y = 0; y < S; y++)
                render_to_u8(rgb + ((size_t)(s * S + y) * W + (size_t)c * S) * 3, img + (size_t)y * S * 3, (long)S * 3);
        }
    int rc = cg_png_write_rgb8(path, rgb, W, H, err, errlen);
    free(rgb);
    return rc;
}

// Is atlas.png there with the size of this config?
static int atlas_ok(const char *path, const EvalConfig *c, int S) {
    if (!rundir_exists(path)) return 0;
    unsigned char *rgb = NULL;
    int W, H;
    char err[512];
    if (cg_png_read_rgb8(path, &rgb, &W, &H, err, sizeof err)) return 0;
    free(rgb);
    return W == S * (1 + c->n_templates * c->K) && H == S * c->n_subjects;
}

// Is DIR/results.json there with exactly these settings?
static int results_ok(const char *path, const char *settings) {
    if (!rundir_exists(path)) return 0;
    EvalSummary sum;
    char *have = NULL, err[512];
    if (eval_read_summary(path, &sum, &have, err, sizeof err)) return 0;
    cJSON *a = have ? cJSON_Parse(have) : NULL;
    char *canon = a ? cJSON_PrintUnformatted(a) : NULL; // the same printer as eval_settings_json
    const int same = canon && strcmp(canon, settings) == 0;
    free(canon), free(have);
    cJSON_Delete(a);
    return same;
}

typedef struct {
    const CompareSpec *s;
    EvalJudges judges;
    EvalProvenance prov;   // the judge files (model fields set per model)
    EvalConfig ec;         // the evaluation config (compare_eval_config)
    World *world;          // of ec.subjects_seed
    int live;              // a live images-done line on stderr (a terminal)
} EvalCtx;

static void live_progress(void *ctx, long done, long total) {
    fprintf(stderr, "\rcompare: evaluating %s: %ld/%ld images   ", (const char *)ctx, done, total);
    if (done == total) fputs("\r\033[K", stderr); // the per-model line follows
}

// Evaluates one model into DIR/eval/<name>/ unless it is up to date there. *skipped says which.
static CgStatus eval_one(EvalCtx *E, const char *name, const char *model_path, int *skipped, double *secs, char *err,
                    size_t errlen) {
    char dir[4096], path[4200], why[1024];
    *skipped = 0, *secs = 0.0;
    snprintf(dir, sizeof dir, "%s/eval/%s", E->s->out, name);
    const int guided = !(E->ec.cfg_ref == 1.0f && E->ec.cfg_txt == 1.0f);
    DiTModel m;
    if (dit_load(model_path, &m, guided ? 3 * E->ec.K : E->ec.K, why, sizeof why))
        return cg_fail(CG_EINPUT, err, errlen, "%s", why);
    EvalProvenance prov = E->prov;
    prov.model = base_name(model_path), prov.weights = "model";
    if (eval_fnv1a64_file(model_path, &prov.model_fnv, why, sizeof why)) {
        dit_free(&m);
        return cg_fail(CG_EINPUT, err, errlen, "%s", why);
    }
    char *settings = eval_settings_json(&E->ec, m.cfg.img, &prov);
    char results[4200], atlas[4200];
    rundir_join(results, sizeof results, dir, "results.json");
    rundir_join(atlas, sizeof atlas, dir, "atlas.png");
    *skipped = results_ok(results, settings) && atlas_ok(atlas, &E->ec, m.cfg.img);
    free(settings);
    if (*skipped) {
        dit_free(&m);
        return CG_OK;
    }
    if (rundir_mkdirs(dir, why, sizeof why)) {
        dit_free(&m);
        return cg_fail(CG_ERUNTIME, err, errlen, "%s", why);
    }
    const double t0 = cg_now();
    EvalResult r;
    if (eval_run(&r, &m, &E->judges, &E->ec, E->live ? live_progress : NULL, (void *)name, why, sizeof why)) {
        dit_free(&m);
        return cg_fail(CG_EINPUT, err, errlen, "evaluating %s: %s", name, why);
    }
    *secs = cg_now() - t0;
    dit_free(&m);
    // results.json last: its presence marks a complete evaluation
    char *lines = eval_images_jsonl(&r), *json = eval_results_json(&r, &prov), timing[128];
    snprintf(timing, sizeof timing, "{\"seconds\": %.3f, \"images\": %ld}\n", *secs, r.n_images);
    CgStatus rc = CG_OK;
    rundir_join(path, sizeof path, dir, "images.jsonl");
    if (atomic_write_text(path, lines, why, sizeof why)) rc = CG_ERUNTIME;
    if (rc == CG_OK && write_atlas(&r, atlas, why, sizeof why)) rc = CG_ERUNTIME;
    rundir_join(path, sizeof path, dir, "eval_time.json");
    if (rc == CG_OK && atomic_write_text(path, timing, why, sizeof why)) rc = CG_ERUNTIME;
    if (rc == CG_OK && atomic_write_text(results, json, why, sizeof why)) rc = CG_ERUNTIME;
    if (rc) cg_errf(err, errlen, "%s", why);
    free(lines), free(json);
    eval_result_free(&r);
    return rc;
}

// ---- the fingerprints of the inputs -----------------------------------------------------------------

static int reward_file_of(const char *reward_name, const char **file) {
    for (int b = 0; b < reward_n_builtin(); b++)
        if (strcmp(reward_builtin_name(b), reward_name) == 0) {
            *file = reward_builtin_file(b);
            return 0;
        }
    return -1;
}

// DIR/compare.json: written on the first call, checked on every later one.
static CgStatus check_fingerprints(const CompareSpec *s, const TrainConfig *cfg, char *err, size_t errlen) {
    char path[4200], why[1024], hex[32];
    uint64_t model_fnv;
    if (eval_fnv1a64_file(s->model, &model_fnv, why, sizeof why)) return cg_fail(CG_EINPUT, err, errlen, "--model: %s", why);
    const char *names[2] = {train_reward_id_name(cfg), train_reward_prompt_name(cfg)}, *files[2];
    uint64_t fnv[2];
    for (int i = 0; i < 2; i++) {
        if (reward_file_of(names[i], &files[i])) return cg_fail(CG_EINPUT, err, errlen, "reward %s has no file", names[i]);
        snprintf(path, sizeof path, "%s/%s", s->rewards_dir, files[i]);
        if (eval_fnv1a64_file(path, &fnv[i], why, sizeof why)) return cg_fail(CG_EINPUT, err, errlen, "--rewards-dir: %s", why);
    }
    rundir_join(path, sizeof path, s->out, "compare.json");
    if (!rundir_exists(path)) {
        cJSON *root = cJSON_CreateObject(), *rw = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "format", COMPARE_FORMAT);
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)model_fnv);
        cJSON_AddStringToObject(root, "base_model", base_name(s->model));
        cJSON_AddStringToObject(root, "base_model_fnv1a64", hex);
        for (int i = 0; i < 2; i++) {
            snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fnv[i]);
            if (!cJSON_GetObjectItemCaseSensitive(rw, files[i])) cJSON_AddStringToObject(rw, files[i], hex);
        }
        cJSON_AddItemToObject(root, "train_reward_files", rw);
        char *text = cJSON_Print(root);
        cJSON_Delete(root);
        size_t len = strlen(text);
        text = cg_realloc(text, len + 2);
        text[len] = '\n', text[len + 1] = '\0';
        int rc = atomic_write_text(path, text, why, sizeof why);
        free(text);
        return rc ? cg_fail(CG_ERUNTIME, err, errlen, "%s", why) : CG_OK;
    }
    char *text = compare_read_small_text(path, why, sizeof why);
    if (!text) return cg_fail(CG_EINPUT, err, errlen, "%s", why);
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *mf = cJSON_GetObjectItemCaseSensitive(root, "base_model_fnv1a64");
    const cJSON *rw = cJSON_GetObjectItemCaseSensitive(root, "train_reward_files");
    CgStatus rc = CG_OK;
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, COMPARE_FORMAT) != 0 || !cJSON_IsString(mf) || !cJSON_IsObject(rw))
        rc = cg_fail(CG_EINPUT, err, errlen, "%s is not a %s file", path, COMPARE_FORMAT);
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)model_fnv);
    if (rc == CG_OK && strcmp(mf->valuestring, hex) != 0)
        rc = cg_fail(CG_EINPUT, err, errlen, "--model: the runs in %s start from a base model with FNV-1a 64 %s, %s has %s "
                     "(choose another --out)", s->out, mf->valuestring, s->model, hex);
    for (int i = 0; i < 2 && rc == CG_OK; i++) {
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(rw, files[i]);
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)fnv[i]);
        if (cJSON_IsString(h) && strcmp(h->valuestring, hex) != 0)
            rc = cg_fail(CG_EINPUT, err, errlen, "--rewards-dir: the runs in %s were trained with a %s of FNV-1a 64 %s, "
                         "%s/%s has %s (choose another --out)", s->out, files[i], h->valuestring, s->rewards_dir, files[i], hex);
    }
    cJSON_Delete(root);
    return rc;
}

// ---- the runs -----------------------------------------------------------------------------------

typedef enum { RUN_NEW, RUN_RESUME, RUN_DONE } RunState;

// What is on disk for run dir, and may it serve `want`?
static int run_state(const char *dir, const char *name, const TrainConfig *want, RunState *st, char *err, size_t errlen) {
    char ckpt[4200], model[4200], cfgp[4200], why[1024];
    rundir_join(ckpt, sizeof ckpt, dir, TRAIN_CKPT_FILE);
    rundir_join(model, sizeof model, dir, TRAIN_MODEL_FILE);
    rundir_join(cfgp, sizeof cfgp, dir, TRAIN_CONFIG_FILE);
    const int has_ckpt = rundir_exists(ckpt), has_model = rundir_exists(model);
    if (!has_ckpt && !has_model) { // nothing trained yet (a config.cfg alone is rewritten)
        *st = RUN_NEW;
        return 0;
    }
    if (!has_ckpt)
        return cg_errf(err, errlen, "runs/%s has %s but no %s: not a cgrpo train run (remove it or choose another --out)", name,
                       TRAIN_MODEL_FILE, TRAIN_CKPT_FILE);
    int nk;
    const ConfigKey *keys = train_config_keys(&nk);
    TrainConfig stored = train_config_default();
    if (config_read_file(cfgp, &stored, keys, nk, why, sizeof why)) return cg_errf(err, errlen, "runs/%s: %s", name, why);
    if (compare_check_stored(want, &stored, why, sizeof why))
        return cg_errf(err, errlen, "runs/%s was trained with other settings: %s (rerun with its settings or choose another --out)",
                       name, why);
    *st = has_model && stored.iterations == want->iterations ? RUN_DONE : RUN_RESUME;
    return 0;
}

typedef struct {
    int preset;
    uint64_t seed;
    char name[96];      // "<preset>-s<seed>"
    char dir[4200];     // DIR/runs/<name>
    TrainConfig cfg;    // resolved (compare_train_config)
    RunState state;
} Run;

// Everything one compare_run holds.
typedef struct {
    const CompareSpec *s;
    int n_runs;             // n_presets * n_seeds, preset-major
    Run *runs;              // (n_runs)
    Reward *r_id, *r_pr;    // the training rewards, shared by every run
    EvalCtx E;
} Compare;

void compare_result_free(CompareResult *r) {
    free(r->table);
    r->table = NULL;
}

static void say(const CompareSpec *s, const char *fmt, ...) CG_PRINTF(2, 3);
static void say(const CompareSpec *s, const char *fmt, ...) {
    if (!s->progress) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("compare: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

// Phase 0: every config, the base model, the rewards and judges (and that they fit each other),
// the fingerprints, the stored state of every run. Nothing long has started when this fails.
static CgStatus phase_inputs(Compare *C, char *err, size_t errlen) {
    const CompareSpec *s = C->s;
    char why[2048];
    for (int i = 0; i < C->n_runs; i++) {
        Run *R = &C->runs[i];
        R->preset = s->presets[i / s->n_seeds], R->seed = s->seeds[i % s->n_seeds];
        compare_run_name(R->name, sizeof R->name, R->preset, R->seed);
        snprintf(R->dir, sizeof R->dir, "%s/runs/%s", s->out, R->name);
        if (compare_train_config(&R->cfg, s, R->preset, R->seed, why, sizeof why)) return cg_fail(CG_EINPUT, err, errlen, "%s", why);
    }
    const TrainConfig *cfg0 = &C->runs[0].cfg; // the keys the evaluation and the rewards take are shared
    compare_eval_config(&C->E.ec, s, cfg0);
    if (eval_config_check(&C->E.ec, why, sizeof why)) return cg_fail(CG_EINPUT, err, errlen, "eval: %s", why);
    DiTModel m;
    if (dit_load(s->model, &m, 1, why, sizeof why)) return cg_fail(CG_EINPUT, err, errlen, "--model: %s", why);
    const int img = m.cfg.img;
    dit_free(&m);
    if (eval_judges_load(&C->E.judges, s->rewards_dir, why, sizeof why) ||
        !(C->r_id = reward_create_by_name(train_reward_id_name(cfg0), s->rewards_dir, why, sizeof why)) ||
        !(C->r_pr = reward_create_by_name(train_reward_prompt_name(cfg0), s->rewards_dir, why, sizeof why)) ||
        eval_judge_files(&C->E.prov, s->rewards_dir, why, sizeof why))
        return cg_fail(CG_EINPUT, err, errlen, "--rewards-dir: %s", why);
    const Reward *all[EVAL_N_REWARDS + 2] = {C->r_id, C->r_pr};
    for (int i = 0; i < EVAL_N_REWARDS; i++) all[2 + i] = C->E.judges.r[i];
    for (int i = 0; i < EVAL_N_REWARDS + 2; i++)
        if (all[i]->S && all[i]->S != img)
            return cg_fail(CG_EINPUT, err, errlen, "the base model draws %dx%d images, reward %s takes %dx%d", img, img,
                           all[i]->name, all[i]->S, all[i]->S);
    if (rundir_mkdirs(s->out, why, sizeof why)) return cg_fail(CG_EINPUT, err, errlen, "--out: %s", why);
    const CgStatus rc = check_fingerprints(s, cfg0, err, errlen);
    if (rc) return rc;
    for (int i = 0; i < C->n_runs; i++)
        if (run_state(C->runs[i].dir, C->runs[i].name, &C->runs[i].cfg, &C->runs[i].state, why, sizeof why))
            return cg_fail(CG_EINPUT, err, errlen, "%s", why);
    return CG_OK;
}

// Phase 1: train (start or resume) every run that is not done, in preset-major order.
static CgStatus phase_train(Compare *C, CompareResult *res, char *err, size_t errlen) {
    const CompareSpec *s = C->s;
    char why[2048];
    int n_done = 0, n_resume = 0;
    for (int i = 0; i < C->n_runs; i++) n_done += C->runs[i].state == RUN_DONE, n_resume += C->runs[i].state == RUN_RESUME;
    say(s, "training: %d runs (%d presets x %d seeds): %d done, %d to resume, %d to start", C->n_runs, s->n_presets, s->n_seeds,
        n_done, n_resume, C->n_runs - n_done - n_resume);
    for (int i = 0; i < C->n_runs; i++) {
        Run *R = &C->runs[i];
        if (R->state == RUN_DONE) {
            res->runs_done++;
        } else {
            say(s, "[%d/%d] %s: %s", i + 1, C->n_runs, R->name, R->state == RUN_RESUME ? "resuming" : "starting");
            TrainRun tr = {R->dir, R->state == RUN_RESUME, s->progress, s->model, s->rewards_dir, C->r_id, C->r_pr, 0,
                           s->kill_at, 0, TRAIN_FORWARD_CACHE_MB, NULL, 0, TEST_FAULT_NONE};
            const int trc = train_run(&R->cfg, &tr, NULL, why, sizeof why);
            if (trc != TRAIN_OK)
                return cg_fail(trc == TRAIN_EINPUT ? CG_EINPUT : CG_ERUNTIME, err, errlen, "runs/%s: %s", R->name, why);
            if (R->state == RUN_RESUME) res->runs_resumed++;
            else res->runs_started++;
        }
        if (s->stop_after_runs > 0 && i + 1 == s->stop_after_runs) {
            res->stopped = 1;
            say(s, "stopped after %d of %d runs (--stop-after-runs); rerun the same command to continue", i + 1, C->n_runs);
            break;
        }
    }
    return CG_OK;
}

// Phase 2: evaluate the base model, then every run, unless up to date.
static CgStatus phase_eval(Compare *C, CompareResult *res, char *err, size_t errlen) {
    const CompareSpec *s = C->s;
    EvalCtx *E = &C->E;
    E->live = s->progress && isatty(STDERR_FILENO);
    E->world = cg_malloc(sizeof(World));
    world_init(E->world, E->ec.subjects_seed);
    res->evals_total = C->n_runs + 1;
    const long per_model = (long)E->ec.n_subjects * E->ec.n_templates * E->ec.K;
    say(s, "evaluation: %d models x %ld images (%d test subjects x %d prompts x %d), %d ODE steps", C->n_runs + 1, per_model,
        E->ec.n_subjects, E->ec.n_templates, E->ec.K, E->ec.steps);
    for (int i = -1; i < C->n_runs; i++) {
        const char *name = i < 0 ? "base" : C->runs[i].name;
        char model[4200];
        if (i < 0) snprintf(model, sizeof model, "%s", s->model);
        else rundir_join(model, sizeof model, C->runs[i].dir, TRAIN_MODEL_FILE);
        int skipped;
        double secs;
        const CgStatus rc = eval_one(E, name, model, &skipped, &secs, err, errlen);
        if (rc) return rc;
        if (skipped) res->evals_skipped++;
        else res->evals_run++;
        if (skipped) say(s, "[eval %d/%d] %s: up to date", i + 2, C->n_runs + 1, name);
        else say(s, "[eval %d/%d] %s: %ld images in %.1f s", i + 2, C->n_runs + 1, name, per_model, secs);
    }
    return CG_OK;
}

CgStatus compare_run(const CompareSpec *s, CompareResult *res, char *err, size_t errlen) {
    memset(res, 0, sizeof *res);
    const double t_start = cg_now();
    if (!s->out || !s->out[0]) return cg_fail(CG_EINPUT, err, errlen, "no output directory");
    if (s->n_presets < 1 || s->n_seeds < 1) return cg_fail(CG_EINPUT, err, errlen, "no presets or no seeds");
    Compare C;
    memset(&C, 0, sizeof C);
    C.s = s, C.E.s = s, C.n_runs = s->n_presets * s->n_seeds;
    C.runs = cg_calloc((size_t)C.n_runs, sizeof(Run));
    res->runs_total = C.n_runs;

    CgStatus rc = phase_inputs(&C, err, errlen);
    double t0 = cg_now();
    res->t_inputs = t0 - t_start;
    if (rc == CG_OK) rc = phase_train(&C, res, err, errlen);
    res->t_train = cg_now() - t0;
    if (rc == CG_OK && !res->stopped) {
        t0 = cg_now();
        rc = phase_eval(&C, res, err, errlen);
        res->t_eval = cg_now() - t0;
    }
    if (rc == CG_OK && !res->stopped) { // 3. the report, from the files
        t0 = cg_now();
        res->t_total = t0 - t_start; // so far: the report shows this call's times
        rc = compare_write_report(s, res, &res->table, err, errlen);
        res->t_report = cg_now() - t0;
        if (rc == CG_OK) say(s, "report: %s/report.md", s->out);
    }
    res->t_total = cg_now() - t_start;
    reward_free(C.r_id), reward_free(C.r_pr);
    eval_judges_free(&C.E.judges);
    free(C.E.world);
    free(C.runs);
    return rc;
}
