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
// with SIGKILL after the first optimizer step of iteration N (tests/cli_train.sh resumes from there);
// under mpirun only rank CGRPO_TEST_KILL_RANK (default 0) does. CGRPO_TEST_FAULT=WHAT@N[=VALUE]
// puts a NaN or Inf into a loss, reward, advantage or weight of iteration N (core/fault.h).
//
// --lora-rank R (a config key, as lora_alpha and lora_targets) trains LoRA adapters on the frozen
// base instead of every weight (rl/trainer.h, models/dit_lora.h); under mpirun too, where the
// gradients summed over the ranks are then the adapters'.
//
// Under `mpirun -np N` (a `make MPI=1` build) every rank parses the same command line, then the
// ranks split each iteration's groups (rl/trainer.h, core/dist.h); rank 0 alone prints and writes.
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli/cli.h"
#include "core/check.h"
#include "core/dist.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "rl/trainer.h"

static const char *USAGE =
    "usage: cgrpo train --out DIR [--preset NAME] [--config FILE] [--model FILE] [--rewards-dir DIR]\n"
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
    "                      model.safetensors (the fine-tuned generator, at the end); with --lora-rank R also\n"
    "                      lora.safetensors (the adapters; model.safetensors is then the base with them merged)\n"
    "  --resume DIR        continue DIR bit-exactly from its checkpoint\n"
    "  --stop-after N      stop after iteration N with a checkpoint, as if interrupted\n"
    "  --forward-cache-mb N  memory (MiB, default 1536; 0 = none) for keeping the rollout's forwards\n"
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
    "Keys (in a config file as `key = value`, on the command line as --key VALUE), with their defaults:\n";

int cmd_train(int argc, char **argv) {
    const char *preset_name = NULL, *model = "models/base.safetensors", *rewards_dir = NULL;
    long stop_after = 0, forward_cache_mb = TRAIN_FORWARD_CACHE_MB;
    int nk;
    const ConfigKey *keys = train_config_keys(&nk);
    const CliOpt opts[] = {
        CLI_S("--preset", &preset_name), CLI_S("--model", &model), CLI_S("--rewards-dir", &rewards_dir),
        CLI_L("--stop-after", &stop_after, 1, INT_MAX), CLI_L("--forward-cache-mb", &forward_cache_mb, 0, 1L << 30),
    };
    const TrainConfig defaults = train_config_default();
    CliRun r;
    cli_parse_run(&r, "train", USAGE, keys, nk, &defaults, 18, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    const char *out = r.out, *resume = r.resume, *config = r.config;
    if (resume && (config || preset_name))
        cg_usage("train: --resume uses DIR/%s; --config and --preset apply to new runs only", TRAIN_CONFIG_FILE);
    if (!out && !resume && !r.print_config) cg_usage("train: --out DIR or --resume DIR is required (see --help)");

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
    cli_apply_overrides(&cfg, &stored, keys, nk, r.over_key, r.over_val, r.n_over, resume, train_key_is_resumable,
                        TRAIN_RESUMABLE_TEXT, sizeof err);
    train_config_resolve(&cfg);
    if (train_config_check(&cfg, err, sizeof err)) cg_usage("train: %s", err);
    if (r.print_config) {
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
    Reward *r_id = train_reward_create(&cfg, 0, rewards_dir, err, sizeof err);
    if (!r_id) cg_usage("train: identity reward: %s", err);
    Reward *r_pr = train_reward_create(&cfg, 1, rewards_dir, err, sizeof err);
    if (!r_pr) {
        reward_free(r_id);
        cg_usage("train: prompt reward: %s", err);
    }

    long kill_at = 0;
    const char *kill_env = getenv("CGRPO_TEST_KILL_AT_ITER");
    if (kill_env && kill_env[0]) kill_at = cli_parse_long("CGRPO_TEST_KILL_AT_ITER", kill_env, 1, INT_MAX);

    long kill_rank = 0;
    const char *rank_env = getenv("CGRPO_TEST_KILL_RANK");
    if (rank_env && rank_env[0]) kill_rank = cli_parse_long("CGRPO_TEST_KILL_RANK", rank_env, 0, INT_MAX);

    Dist dist;
    dist_init(&dist, &argc, &argv);
    TrainRun run = {resume ? resume : out, resume != NULL, !r.quiet && dist.rank == 0, model, rewards_dir, r_id, r_pr,
                    (int)stop_after, (int)kill_at, 0, (int)forward_cache_mb, &dist, (int)kill_rank,
                    cli_test_fault("train", 1u << FAULT_LOSS | 1u << FAULT_REWARD | 1u << FAULT_ADVANTAGE | 1u << FAULT_WEIGHT)};
    const int rc = train_run(&cfg, &run, NULL, err, sizeof err); // rl/trainer.h's TRAIN_* codes
    reward_free(r_id);
    reward_free(r_pr);
    struct rusage ru;
    if (rc == TRAIN_OK && run.progress && getrusage(RUSAGE_SELF, &ru) == 0) // Linux: ru_maxrss in KiB
        fprintf(stderr, "train: peak memory (RSS) %.0f MiB%s\n", (double)ru.ru_maxrss / 1024.0,
                dist.size > 1 ? " (rank 0)" : "");
    dist_finalize(&dist);
    const CgStatus st = rc == TRAIN_OK ? CG_OK : rc == TRAIN_EINPUT ? CG_EINPUT : CG_ERUNTIME;
    return dist.rank == 0 ? cli_finish(st, "", err) : cli_exit_code(st); // every rank holds rank 0's message
}
