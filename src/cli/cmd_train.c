// cmd_train.c: `cgrpo train`: Customized-GRPO fine-tuning of the subject-driven generator
// (rl/trainer.h does the work; this file turns the command line into a config and the reward
// names into Reward objects).
//
// The config is resolved in this order: built-in defaults, then the preset (--preset NAME, else
// the config file's `preset`, else customized), then --config FILE, then --KEY VALUE options (any
// key of the config file, '-' or '_' alike). --resume DIR starts from DIR/config.cfg instead; there
// an option may only change a key that train_key_is_resumable accepts.
//
// Test hook: the environment variable CGRPO_TEST_KILL_AT_ITER=N makes the process kill itself
// with SIGKILL after the first optimizer step of iteration N (tests/cli_train.sh resumes from there).
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/check.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "rl/trainer.h"

static void print_usage(FILE *f) {
    fputs("usage: cgrpo train --out DIR [--preset NAME] [--config FILE] [--model FILE] [--rewards-dir DIR]\n"
          "                   [--KEY VALUE ...] [--stop-after N] [--forward-cache-mb N] [--quiet]\n"
          "       cgrpo train --resume DIR [--iterations N] [--ckpt-every N] [--sample-every N] [--cos-every N]\n"
          "                   [--rewards-dir DIR] [--stop-after N] [--forward-cache-mb N] [--quiet]\n"
          "       cgrpo train --print-config [--preset NAME] [--config FILE] [--KEY VALUE ...]\n"
          "GRPO fine-tuning of the generator with an identity reward and a prompt reward: SDE rollouts of\n"
          "groups of images for (subject, prompt) pairs of the TRAIN subjects, group advantages (naive or SARS,\n"
          "static or time-dependent weights), a PPO-clipped policy update (rl/trainer.h, docs/design.md).\n"
          "  --model FILE        the base generator (default models/base.safetensors, made by cgrpo pretrain)\n"
          "  --rewards-dir DIR   where the reward weights are (default models; id.safetensors, prompt.safetensors)\n"
          "  --out DIR           the run directory: config.cfg, metrics.jsonl, ckpt.safetensors, samples/,\n"
          "                      model.safetensors (the fine-tuned generator, at the end)\n"
          "  --resume DIR        continue DIR bit-exactly from its checkpoint\n"
          "  --stop-after N      stop after iteration N with a checkpoint, as if interrupted\n"
          "  --forward-cache-mb N  memory (MiB, default 4096; 0 = none) for keeping the rollout's forwards\n"
          "                      of the trained steps, which the update then does not recompute; the\n"
          "                      results are the same bit for bit, only faster (rl/forward_cache.h)\n"
          "Presets (applied first; keys override them; weights sum to 1, so every preset has the same\n"
          "advantage scale):\n"
          "  customized          SARS (gamma 0.4) + TDW                    the default, Customized-GRPO\n"
          "  naive-1-1           naive, static w_id 0.5 w_prompt 0.5       baseline 1:1 (id:prompt)\n"
          "  naive-1-1.5         naive, static w_id 0.4 w_prompt 0.6       baseline 1:1.5, normalized\n"
          "  sars-only           SARS (gamma 0.4), static 0.5 / 0.5         ablation\n"
          "  tdw-only            naive + TDW                                ablation\n"
          "Exit status: 0 done, 1 diverged (NaN/Inf in a reward, loss or weights) or I/O failure, 2 bad usage,\n"
          "config, model, rewards or checkpoint.\n"
          "Keys (in a config file as `key = value`, on the command line as --key VALUE), with their defaults:\n",
          f);
    int n;
    const ConfigKey *keys = train_config_keys(&n);
    TrainConfig def = train_config_default();
    config_print_help(f, &def, keys, n, 18);
}

static int is_flag(const char *a, const char *name) { return strcmp(a, name) == 0; }

#define MAX_OVERRIDES 128

int cmd_train(int argc, char **argv) {
    const char *out = NULL, *resume = NULL, *config = NULL, *preset_name = NULL;
    const char *model = "models/base.safetensors", *rewards_dir = NULL;
    long stop_after = 0, forward_cache_mb = TRAIN_FORWARD_CACHE_MB;
    int quiet = 0, print_config = 0, n_over = 0;
    const char *over_key[MAX_OVERRIDES], *over_val[MAX_OVERRIDES];
    int nk;
    const ConfigKey *keys = train_config_keys(&nk);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(a)) {
            print_usage(stdout);
            return 0;
        }
        if (is_flag(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (is_flag(a, "--print-config")) {
            print_config = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) cg_usage("train: unexpected argument '%s' (see cgrpo train --help)", a);
        const int known = is_flag(a, "--out") || is_flag(a, "--resume") || is_flag(a, "--config") ||
                          is_flag(a, "--preset") || is_flag(a, "--model") || is_flag(a, "--rewards-dir") ||
                          is_flag(a, "--stop-after") || is_flag(a, "--forward-cache-mb");
        if (!known && !config_find(keys, nk, a + 2))
            cg_usage("train: unknown option '%s' (nearest key: --%s; see cgrpo train --help)", a,
                     config_nearest(keys, nk, a + 2));
        if (!v) cg_usage("train: %s needs a value", a);
        if (is_flag(a, "--out")) out = v;
        else if (is_flag(a, "--resume")) resume = v;
        else if (is_flag(a, "--config")) config = v;
        else if (is_flag(a, "--preset")) preset_name = v;
        else if (is_flag(a, "--model")) model = v;
        else if (is_flag(a, "--rewards-dir")) rewards_dir = v;
        else if (is_flag(a, "--stop-after")) stop_after = cli_parse_long(a, v, 1, INT_MAX);
        else if (is_flag(a, "--forward-cache-mb")) forward_cache_mb = cli_parse_long(a, v, 0, 1L << 30);
        else {
            if (n_over == MAX_OVERRIDES) cg_usage("train: more than %d options", MAX_OVERRIDES);
            over_key[n_over] = a + 2, over_val[n_over] = v, n_over++;
        }
        i++;
    }
    if (out && resume) cg_usage("train: give --out DIR for a new run or --resume DIR to continue one, not both");
    if (resume && (config || preset_name))
        cg_usage("train: --resume uses DIR/%s; --config and --preset apply to new runs only", TRAIN_CONFIG_FILE);
    if (!out && !resume && !print_config) cg_usage("train: --out DIR or --resume DIR is required (see --help)");

    // the config: defaults, preset, file, options
    TrainConfig cfg = train_config_default();
    char err[2048], path[4200];
    if (resume) {
        snprintf(path, sizeof path, "%s/%s", resume, TRAIN_CONFIG_FILE);
        if (config_read_file(path, &cfg, keys, nk, err, sizeof err)) cg_usage("cannot resume: %s", err);
    } else {
        int preset = -1;
        if (preset_name) {
            preset = train_preset_parse(preset_name);
            if (preset < 0)
                cg_usage("train: unknown preset '%s' (known: %s)", preset_name, TRAIN_PRESET_WORDS);
        }
        if (config) { // the file's preset counts when --preset is not given
            TrainConfig probe = train_config_default();
            if (config_read_file(config, &probe, keys, nk, err, sizeof err)) cg_usage("%s", err);
            if (preset < 0) preset = probe.preset;
        }
        train_preset_apply(&cfg, preset < 0 ? TRAIN_PRESET_CUSTOMIZED : preset);
        if (config && config_read_file(config, &cfg, keys, nk, err, sizeof err)) cg_usage("%s", err);
        cfg.preset = preset < 0 ? TRAIN_PRESET_CUSTOMIZED : preset;
    }
    const TrainConfig stored = cfg;
    for (int i = 0; i < n_over; i++) {
        if (config_set(&cfg, keys, nk, over_key[i], over_val[i], err, sizeof err)) cg_usage("--%s: %s", over_key[i], err);
        const ConfigKey *k = config_find(keys, nk, over_key[i]);
        if (resume && !train_key_is_resumable(k->key) && !config_same(&cfg, &stored, k)) {
            char have[CONFIG_MAX_VALUE];
            config_format(have, sizeof have, &stored, k);
            cg_usage("cannot resume with --%s %s: the run in %s has %s = %s (a resumed run may change only iterations, "
                     "ckpt_every, sample_every and cos_every)", over_key[i], over_val[i], resume, k->key, have);
        }
    }
    train_config_resolve(&cfg);
    if (train_config_check(&cfg, err, sizeof err)) cg_usage("train: %s", err);
    if (print_config) {
        config_print_values(stdout, &cfg, keys, nk);
        return 0;
    }

    // the base model (fresh runs) and the rewards
    if (!resume) {
        FILE *f = fopen(model, "rb");
        if (!f) cg_usage("--model: cannot open '%s': %s (make one with cgrpo pretrain)", model, strerror(errno));
        fclose(f);
    }
    char stored_rewards[1024] = "models";
    if (!rewards_dir && resume) { // the directory the run was started with
        CkptMeta meta;
        snprintf(path, sizeof path, "%s/%s", resume, TRAIN_CKPT_FILE);
        if (ckpt_read_meta(path, &meta, err, sizeof err)) cg_usage("cannot resume: %s", err);
        const char *d = ckpt_meta_get(&meta, "rewards_dir");
        if (d && d[0]) snprintf(stored_rewards, sizeof stored_rewards, "%s", d);
        ckpt_meta_free(&meta);
    }
    if (!rewards_dir) rewards_dir = stored_rewards;
    Reward *r_id = reward_create_by_name(train_reward_id_name(&cfg), rewards_dir, err, sizeof err);
    if (!r_id) cg_usage("train: identity reward: %s", err);
    Reward *r_pr = reward_create_by_name(train_reward_prompt_name(&cfg), rewards_dir, err, sizeof err);
    if (!r_pr) {
        reward_free(r_id);
        cg_usage("train: prompt reward: %s", err);
    }

    long kill_at = 0;
    const char *kill_env = getenv("CGRPO_TEST_KILL_AT_ITER");
    if (kill_env && kill_env[0]) kill_at = cli_parse_long("CGRPO_TEST_KILL_AT_ITER", kill_env, 1, INT_MAX);

    TrainRun run = {resume ? resume : out, resume != NULL, !quiet, model, rewards_dir, r_id, r_pr, (int)stop_after,
                    (int)kill_at, 0, (int)forward_cache_mb};
    const int rc = train_run(&cfg, &run, NULL, err, sizeof err); // rl/trainer.h's TRAIN_* codes
    reward_free(r_id);
    reward_free(r_pr);
    return cli_finish(rc == TRAIN_OK ? CG_OK : rc == TRAIN_EINPUT ? CG_EINPUT : CG_ERUNTIME, "", err);
}
