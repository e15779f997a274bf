// cmd_compare.c: `cgrpo compare`: does Customized-GRPO beat naive GRPO? Every preset x seed trained
// as `cgrpo train` does, the base model and every run evaluated as `cgrpo eval` does, one report
// (eval/compare.h does the work; this file turns the command line into a CompareSpec).
//
// Test hook: CGRPO_TEST_KILL_AT_ITER=N kills the process with SIGKILL after the first optimizer
// step of iteration N of the first run this call trains (as for cgrpo train).
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/check.h"
#include "eval/compare.h"

static void print_usage(FILE *f) {
    fprintf(f,
            "usage: cgrpo compare --out DIR [--presets LIST] [--seeds LIST] [--model FILE] [--rewards-dir DIR]\n"
            "                     [--config FILE] [--KEY VALUE ...] [--eval-prompts LIST] [--eval-k K]\n"
            "                     [--eval-steps N] [--eval-subjects N] [--stop-after-runs N] [--headline] [--quiet]\n"
            "Does Customized-GRPO beat naive GRPO? Trains every preset x seed (DIR/runs/<preset>-s<seed>/, a cgrpo train\n"
            "run directory), evaluates the base model and every run on the held-out TEST subjects (DIR/eval/*/, as\n"
            "cgrpo eval), and writes DIR/report.md with a results table (mean ± half-range over seeds), tables by\n"
            "prompt kind, pareto.png, curves_rewards.png, curves_rewards_rel.png, curves_conflict.png,\n"
            "curves_gradcos.png and grid.png, and DIR/report.json (the same numbers machine-readable: means, per\n"
            "seed, and paired changes against the base and the naive presets with seed-level standard errors).\n"
            "Resumable: rerun the same command after an interruption and it continues (finished runs and evaluations\n"
            "are kept, an interrupted run resumes from its checkpoint); a rerun whose training settings differ from a\n"
            "stored run's is refused, naming the key (iterations may grow: the runs continue).\n"
            "  --out DIR             the compare directory (created)\n"
            "  --presets LIST        presets to compare (default %s)\n"
            "  --seeds LIST          training seeds of every preset (default %s)\n"
            "  --model FILE          the base generator (default models/base.safetensors)\n"
            "  --rewards-dir DIR     reward and judge weights (default models)\n"
            "  --config FILE         training keys shared by every run (`key = value`, as for cgrpo train)\n"
            "  --KEY VALUE           a training key for every run (cgrpo train --help lists them); preset, seed,\n"
            "                        shaping, weighting, w_id and w_prompt are set per run and cannot be given\n"
            "  --eval-prompts LIST   template indices 0..24 (default %s: scenes, accessories\n"
            "                        or object scenes, property edits)\n"
            "  --eval-k K            images per (subject, prompt) (default 1)\n"
            "  --eval-steps N        ODE steps of the evaluation (default 20)\n"
            "  --eval-subjects N     the first N of the 30 test subjects (default 30)\n"
            "  --stop-after-runs N   return after the first N runs are trained, before the evaluations\n"
            "  --headline            mark report.json as the project's headline result (\"headline\": true)\n"
            "  --quiet               no progress on stderr\n"
            "Training config of each run: defaults, preset, --config FILE, --KEY VALUE options, seed. The evaluation\n"
            "uses the training config's subjects_seed, shift and guidance scales.\n"
            "Prints the results table on stdout. Exit status: 0 done (or stopped by --stop-after-runs), 1 a run\n"
            "diverged or I/O failed, 2 bad usage, input files, or a stored run with other settings.\n",
            COMPARE_DEFAULT_PRESETS, COMPARE_DEFAULT_SEEDS, COMPARE_DEFAULT_TEMPLATES);
}


int cmd_compare(int argc, char **argv) {
    CompareSpec s = compare_spec_default();
    char err[2048];
    const char *presets = NULL, *seeds = NULL, *prompts = NULL;
    int nk;
    const ConfigKey *keys = train_config_keys(&nk);
    int quiet = 0;
    const CliOpt opts[] = {
        CLI_F("--quiet", &quiet), CLI_F("--headline", &s.headline),
        CLI_S("--out", &s.out), CLI_S("--presets", &presets), CLI_S("--seeds", &seeds),
        CLI_S("--model", &s.model), CLI_S("--rewards-dir", &s.rewards_dir), CLI_S("--config", &s.config_file),
        CLI_S("--eval-prompts", &prompts),
        CLI_I("--eval-k", &s.eval.K, 1, EVAL_MAX_K), CLI_I("--eval-steps", &s.eval.steps, 1, 1000),
        CLI_I("--eval-subjects", &s.eval.n_subjects, 1, WORLD_N_TEST),
        CLI_I("--stop-after-runs", &s.stop_after_runs, 1, INT_MAX),
    };
    const CliCommand cmd = {.name = "compare", .print_usage = print_usage, .lookup_first = 1, .no_positional = 1,
                            .keys = keys, .n_keys = nk, .key_word = "training key", .over_key = s.over_key,
                            .over_val = s.over_val, .n_over = &s.n_over, .max_over = COMPARE_MAX_OVERRIDES,
                            .over_word = "training options"};
    cli_parse(&cmd, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (quiet) s.progress = 0;
    if (!s.out) cg_usage("compare: --out DIR is required (see cgrpo compare --help)");
    if (presets && compare_parse_presets(presets, s.presets, &s.n_presets, err, sizeof err)) cg_usage("--presets: %s", err);
    if (seeds && compare_parse_seeds(seeds, s.seeds, &s.n_seeds, err, sizeof err)) cg_usage("--seeds: %s", err);
    if (prompts && eval_parse_templates(prompts, s.eval.templates, &s.eval.n_templates, err, sizeof err))
        cg_usage("--eval-prompts: %s", err);
    const char *kill_env = getenv("CGRPO_TEST_KILL_AT_ITER");
    if (kill_env && kill_env[0]) s.kill_at = (int)cli_parse_long("CGRPO_TEST_KILL_AT_ITER", kill_env, 1, INT_MAX);

    CompareResult res;
    const CgStatus st = compare_run(&s, &res, err, sizeof err);
    if (st != CG_OK) {
        compare_result_free(&res);
        return cli_finish(st, "compare: ", err);
    }
    if (res.stopped)
        printf("compare: stopped after %d of %d runs; rerun the same command to continue\n", s.stop_after_runs, res.runs_total);
    else printf("%s\nwrote %s/report.md\n", res.table, s.out);
    compare_result_free(&res);
    return 0;
}
