// cmd_eval.c: `cgrpo eval`: the DreamBench-shaped evaluation of a generator (eval/evaluate.h) on
// the held-out TEST subjects: writes DIR/results.json (settings and metrics per prompt kind),
// DIR/images.jsonl (every image's scores) and DIR/grid_<kind>.png, prints a table, and with
// --baseline a comparison with another run's results.json.
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli/cli.h"
#include "core/dist.h"
#include "core/check.h"
#include "core/timer.h"
#include "eval/evaluate.h"
#include "flow/schedule.h"
#include "io/atomic.h"
#include "io/checkpoint.h"
#include "io/rundir.h"
#include "models/dit.h"
#include "rl/trainer.h"
#include "train/pretrain.h"

static const char *USAGE =
    "usage: cgrpo eval --model FILE [--lora ADAPTERS] --out DIR [options]\n"
    "Evaluates a generator on the held-out TEST subjects (DreamBench-shaped): for every test subject, prompt\n"
    "template and image k, one ODE sample from fixed noise (a function of seed, subject, template, k), scored by\n"
    "the judges (identity = DINO-Seg, dino, clip_i, clip_t), the training rewards (reward_id, reward_prompt),\n"
    "identity retrieval top-1 among the evaluated subjects (id_top1) and prompt attribute accuracy (attr_acc).\n"
    "Writes DIR/results.json, DIR/images.jsonl and DIR/grid_{scene,accessory,property}.png (10 subjects each) and\n"
    "DIR/grid_all.png (every subject: reference, then its first 12 images); prints a table.\n"
    "  --model FILE            a model.safetensors (pretrain, train) or a pretraining / GRPO ckpt.safetensors\n"
    "  --lora ADAPTERS         LoRA adapters of FILE (a LoRA run's lora.safetensors or ckpt.safetensors) on top\n"
    "  --out DIR               output directory (created)\n"
    "  --models DIR            reward and judge weights (default models)\n"
    "  --subjects-seed N       SubjectBench population (default 1)\n"
    "  --subjects N            the first N subjects of the split (default all: 30 test, 40 val)\n"
    "  --split test|val        test (default): the benchmark; val: for choosing settings without seeing test\n"
    "  --prompts LIST          template indices 0..24, e.g. 0,5,10,20 (default all 25)\n"
    "  --images-per-prompt K   images per (subject, prompt) (default 1, at most 32)\n"
    "  --steps N               ODE steps (default 20)\n"
    "  --shift S               time shift of the sigma schedule (default 3)\n"
    "  --cfg-ref R, --cfg-txt T  guidance scales (default 1 1 = no guidance)\n"
    "  --seed S                seed of the initial noise (default 0)\n"
    "  --baseline FILE         another run's results.json: print baseline, this model and the delta, with the\n"
    "                          paired standard error of the delta when the baseline's images.jsonl matches\n"
    "  --quiet                 no progress or rate on stderr\n"
    "Bad input exits with status 2 and one line on stderr.\n";

#define GRID_ZOOM 2

typedef struct {
    const char *model, *lora, *out, *models, *prompts, *baseline;
    long subjects_seed, subjects, k, steps, seed;
    int split;
    double shift, cfg_ref, cfg_txt;
    int quiet;
} Opts;

// --split: test or val only
static void parse_split(const char *flag, const char *v, void *dst) {
    (void)flag;
    int *split = dst;
    *split = world_split_from_name(v);
    if (*split != SPLIT_TEST && *split != SPLIT_VAL)
        cg_usage("eval: --split %s: evaluation runs on test (the benchmark) or val (for choosing settings), never on train",
                 v);
}

static void parse(Opts *o, int argc, char **argv) {
    *o = (Opts){0};
    o->models = "models", o->subjects_seed = WORLD_DEFAULT_SUBJECTS_SEED, o->subjects = 0, o->k = 1, o->split = SPLIT_TEST;
    o->steps = 20, o->shift = FLOW_DEFAULT_SHIFT, o->cfg_ref = 1.0, o->cfg_txt = 1.0;
    const CliOpt opts[] = {
        CLI_F("--quiet", &o->quiet),
        CLI_S("--model", &o->model), CLI_S("--lora", &o->lora), CLI_S("--out", &o->out), CLI_S("--models", &o->models),
        CLI_S("--prompts", &o->prompts), CLI_S("--baseline", &o->baseline),
        CLI_L("--subjects-seed", &o->subjects_seed, 0, LONG_MAX), CLI_L("--subjects", &o->subjects, 1, WORLD_N_VAL),
        CLI_FN("--split", parse_split, &o->split),
        CLI_L("--images-per-prompt", &o->k, 1, EVAL_MAX_K), CLI_L("--steps", &o->steps, 1, 1000),
        CLI_L("--seed", &o->seed, 0, LONG_MAX),
        CLI_D("--shift", &o->shift, 1e-3, 1e3), CLI_D("--cfg-ref", &o->cfg_ref, -100.0, 100.0),
        CLI_D("--cfg-txt", &o->cfg_txt, -100.0, 100.0),
    };
    const CliCommand cmd = {.name = "eval", .usage = USAGE, .needs_hint = " (see cgrpo eval --help)",
                            .unknown_hint = " (see cgrpo eval --help)"};
    cli_parse(&cmd, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (!o->model) cg_usage("eval: --model FILE is required");
    if (o->subjects == 0) o->subjects = world_split_count(o->split);
    if (o->subjects > world_split_count(o->split))
        cg_usage("eval: --subjects %ld: the %s split has %d subjects", o->subjects, world_split_name(o->split),
                 world_split_count(o->split));
    if (!o->out) cg_usage("eval: --out DIR is required");
}

// A model file, or the weights inside a pretraining ("ema.") or GRPO ("model.") checkpoint; *weights
// names which. Exits 2 with the reason.
static void load_model(DiTModel *m, const char *path, int max_B, const char **weights) {
    char err[1024];
    if (dit_load_any(path, m, max_B, weights, err, sizeof err)) cg_usage("--model: %s", err);
}

typedef struct {
    double t0;
    int show; // a live line on a terminal
} Progress;

static void on_progress(void *ctx, long done, long total) {
    Progress *p = ctx;
    if (!p->show) return;
    const double dt = cg_now() - p->t0, rate = done / (dt > 0 ? dt : 1e-9);
    char eta[32];
    rundir_fmt_duration(eta, sizeof eta, (double)(total - done) / rate);
    fprintf(stderr, "\reval: %ld/%ld images, %.2f images/s, ETA %s   ", done, total, rate, eta);
    if (done == total) fputc('\n', stderr);
}

static void print_value(double v) {
    if (isfinite(v)) printf(" %10.4f", v);
    else printf(" %10s", "-");
}

static void print_table(const EvalSummary *s) {
    printf("%-14s", "metric");
    for (int g = 0; g < EVAL_N_GROUPS; g++) printf(" %10s", eval_group_name(g));
    printf("\n%-14s", "n_images");
    for (int g = 0; g < EVAL_N_GROUPS; g++) printf(" %10ld", s->n[g]);
    printf("\n");
    for (int m = 0; m < EVAL_N_METRICS; m++) {
        printf("%-14s", eval_metric_name(m));
        for (int g = 0; g < EVAL_N_GROUPS; g++) print_value(s->mean[g][m]);
        printf("\n");
    }
}

// se: paired standard errors of the deltas (eval_paired_se), printed when finite.
static void print_comparison(const EvalSummary *base, const EvalSummary *cur, double se[EVAL_N_GROUPS][EVAL_N_METRICS]) {
    printf("%-14s %-10s %10s %10s %10s %9s\n", "metric", "group", "baseline", "this", "delta", "paired SE");
    for (int m = 0; m < EVAL_N_METRICS; m++)
        for (int g = 0; g < EVAL_N_GROUPS; g++) {
            const double b = base->mean[g][m], c = eval_as_stored(cur->mean[g][m]); // b was read from results.json
            printf("%-14s %-10s", g == 0 ? eval_metric_name(m) : "", eval_group_name(g));
            print_value(b), print_value(c);
            if (isfinite(b) && isfinite(c)) printf(" %+10.4f", c - b);
            else printf(" %10s", "-");
            if (isfinite(se[g][m])) printf(" %9.4f\n", se[g][m]);
            else printf(" %9s\n", "-");
        }
}

// The model's name as results.json stores it: the last path component.
static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

// An output that cannot be written (a full disk, a read-only directory): one line, exit 1.
static void write_failed(const char *err) { exit(cli_finish(CG_ERUNTIME, "eval: ", err)); }

int cmd_eval(int argc, char **argv) {
    Opts o;
    parse(&o, argc, argv);
    char err[1024];
    EvalConfig c = eval_config_default();
    c.subjects_seed = (uint64_t)o.subjects_seed, c.split = o.split, c.n_subjects = (int)o.subjects, c.K = (int)o.k;
    c.steps = (int)o.steps, c.shift = (float)o.shift, c.cfg_ref = (float)o.cfg_ref, c.cfg_txt = (float)o.cfg_txt;
    c.seed = (uint64_t)o.seed;
    if (o.prompts && eval_parse_templates(o.prompts, c.templates, &c.n_templates, err, sizeof err))
        cg_usage("--prompts: %s", err);
    if (eval_config_check(&c, err, sizeof err)) cg_usage("eval: %s", err);

    // every input is checked before the long part: baseline, output directory, model, judges
    EvalSummary base;
    char *base_settings = NULL;
    if (o.baseline && eval_read_summary(o.baseline, &base, &base_settings, err, sizeof err)) cg_usage("--baseline: %s", err);
    const int guided = !(c.cfg_ref == 1.0f && c.cfg_txt == 1.0f);
    DiTModel m;
    const char *weights;
    load_model(&m, o.model, guided ? 3 * c.K : c.K, &weights);
    DiTLora lora;
    if (o.lora) {
        cli_attach_lora(&m, &lora, o.lora, o.model);
        weights = "model+lora";
    }
    EvalJudges judges;
    if (eval_judges_load(&judges, o.models, err, sizeof err)) cg_usage("--models: %s", err);
    if (rundir_mkdirs(o.out, err, sizeof err)) cg_usage("--out: %s", err);
    if (access(o.out, W_OK | X_OK) != 0) cg_usage("--out: cannot write into '%s': %s", o.out, strerror(errno));

    EvalProvenance prov = {0};
    prov.model = base_name(o.model), prov.weights = weights;
    if (eval_fnv1a64_file(o.model, &prov.model_fnv, err, sizeof err)) cg_usage("--model: %s", err);
    if (eval_judge_files(&prov, o.models, err, sizeof err)) cg_usage("--models: %s", err);
    if (o.lora && prov.n_files < (int)(sizeof prov.files / sizeof prov.files[0])) { // the adapters' provenance
        prov.files[prov.n_files] = base_name(o.lora);
        if (eval_fnv1a64_file(o.lora, &prov.file_fnv[prov.n_files++], err, sizeof err)) cg_usage("--lora: %s", err);
    }

    // under mpirun the ranks split the subjects (core/dist.h); rank 0 alone writes and prints
    Dist dist;
    dist_init(&dist, &argc, &argv);
    c.dist = &dist;
    Progress prog = {cg_now(), !o.quiet && isatty(STDERR_FILENO)};
    EvalResult r;
    if (eval_run(&r, &m, &judges, &c, on_progress, &prog, err, sizeof err)) {
        dist_finalize(&dist);
        if (dist.rank == 0) cg_usage("eval: %s", err);
        return cli_exit_code(CG_EINPUT); // every rank holds the message, rank 0 printed it
    }
    const double secs = cg_now() - prog.t0;
    if (dist.rank != 0) {
        eval_result_free(&r);
        eval_judges_free(&judges);
        dit_free(&m);
        free(base_settings);
        dist_finalize(&dist);
        return 0;
    }

    char path[4096];
    char *json = eval_results_json(&r, &prov), *lines = eval_images_jsonl(&r);
    rundir_join(path, sizeof path, o.out, "results.json");
    if (atomic_write_text(path, json, err, sizeof err)) write_failed(err);
    rundir_join(path, sizeof path, o.out, "images.jsonl");
    if (atomic_write_text(path, lines, err, sizeof err)) write_failed(err);
    static const struct {
        PromptKind kind;
        const char *file;
    } GRIDS[] = {{PROMPT_SCENE, "grid_scene.png"}, {PROMPT_ACCESSORY, "grid_accessory.png"},
                 {PROMPT_PROPERTY, "grid_property.png"}};
    for (size_t g = 0; g < sizeof GRIDS / sizeof GRIDS[0]; g++) {
        rundir_join(path, sizeof path, o.out, GRIDS[g].file);
        int rc = eval_write_grid(&r, GRIDS[g].kind, GRID_ZOOM, path, err, sizeof err);
        if (rc < 0) write_failed(err);
        if (rc == 0) unlink(path); // no image of that kind: no stale grid of an earlier run either
    }
    rundir_join(path, sizeof path, o.out, "grid_all.png"); // every subject: reference | its first 12 images
    if (eval_write_grid_all(&r, 12, GRID_ZOOM, path, err, sizeof err) < 0) write_failed(err);
    if (!o.quiet)
        fprintf(stderr, "eval: %ld images in %.1f s (%.2f images/s)\n", r.n_images, secs, r.n_images / (secs > 0 ? secs : 1e-9));

    printf("eval: %s (%s weights), %d %s subjects (subjects seed %llu) x %d prompts x %d = %ld images; %d ode steps, "
           "shift %g, cfg %g/%g, seed %llu\n",
           prov.model, weights, c.n_subjects, world_split_name(c.split), (unsigned long long)c.subjects_seed, c.n_templates, c.K, r.n_images,
           c.steps, c.shift, c.cfg_ref, c.cfg_txt, (unsigned long long)c.seed);
    print_table(&r.summary);
    if (o.baseline) {
        const char *bmodel = "?";
        cJSON *bs = base_settings ? cJSON_Parse(base_settings) : NULL;
        const cJSON *bm = cJSON_GetObjectItemCaseSensitive(bs, "model");
        if (cJSON_IsString(bm)) bmodel = bm->valuestring;
        printf("\nbaseline: %s (model %s)\n", o.baseline, bmodel);
        char diff[1024];
        if (base_settings && eval_settings_diff(base_settings, json, diff, sizeof diff) > 0)
            printf("note: the settings differ (baseline vs this): %s\n", diff);
        // the baseline's images.jsonl next to its results.json: paired errors of the deltas
        char bimg[4200];
        const char *slash = strrchr(o.baseline, '/');
        snprintf(bimg, sizeof bimg, "%.*simages.jsonl", slash ? (int)(slash - o.baseline + 1) : 0, o.baseline);
        double se[EVAL_N_GROUPS][EVAL_N_METRICS];
        long paired = eval_paired_se(bimg, &r, se, err, sizeof err);
        if (paired < 0) printf("note: no paired errors: %s\n", err);
        else if (paired == 0) printf("note: no paired errors: %s does not hold every image of this run\n", bimg);
        print_comparison(&base, &r.summary, se);
        cJSON_Delete(bs);
    }
    printf("wrote %s/results.json, images.jsonl and the grids\n", o.out);

    free(json), free(lines), free(base_settings);
    eval_result_free(&r);
    eval_judges_free(&judges);
    if (o.lora) dit_lora_free(&lora);
    dit_free(&m);
    dist_finalize(&dist);
    return 0;
}
