// cmd_pretrain.c: `cgrpo pretrain`: rectified-flow pretraining of the subject-driven DiT on
// SubjectBench (train/pretrain.h does the work; this file turns the command line into a config).
//
// The config is resolved in this order: built-in defaults, then --config FILE, then --KEY VALUE
// options (any key of the config file, '-' or '_' alike). --resume DIR starts from DIR/config.cfg
// instead; there an option may only change a key that pretrain_key_is_resumable accepts.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/dist.h"
#include "core/check.h"
#include "io/config.h"
#include "train/pretrain.h"

static const char *USAGE =
    "usage: cgrpo pretrain --out DIR [--config FILE] [--KEY VALUE ...] [--stop-at N] [--quiet]\n"
    "       cgrpo pretrain --resume DIR [--steps N] [--log-every N] [--val-every N] [--ckpt-every N] [--stop-at N] [--quiet]\n"
    "       cgrpo pretrain --print-config [--config FILE] [--KEY VALUE ...]\n"
    "Rectified-flow pretraining of the subject-driven DiT on (reference, prompt, target) triples drawn on\n"
    "the fly from the SubjectBench TRAIN subjects. DIR receives config.cfg (the resolved config),\n"
    "metrics.jsonl, ckpt.safetensors (every ckpt_every steps, atomically) and model.safetensors (the EMA\n"
    "weights, at the end). --resume continues bit-exactly from DIR/ckpt.safetensors; --steps may be raised.\n"
    "--stop-at N ends this call after step N of the schedule (validation, checkpoint and model.safetensors of\n"
    "step N), so a long schedule can run in pieces; on a checkpoint already at step N it only writes the model.\n"
    "Exit status: 0 done, 1 diverged (NaN/Inf) or I/O failure, 2 bad usage, config or checkpoint.\n"
    "Keys (in a config file as `key = value`, on the command line as --key VALUE), with their defaults:\n";

int cmd_pretrain(int argc, char **argv) {
    long stop_at = 0;
    int nk;
    const ConfigKey *keys = pretrain_config_keys(&nk);
    const CliOpt opts[] = {CLI_L("--stop-at", &stop_at, 1, 1000000000)};
    const PretrainConfig defaults = pretrain_config_default();
    CliRun r;
    cli_parse_run(&r, "pretrain", USAGE, keys, nk, &defaults, 14, opts, 1, argc, argv);
    const char *out = r.out, *resume = r.resume, *config = r.config;
    if (resume && config) cg_usage("pretrain: --resume uses DIR/%s; --config applies to new runs only", PRETRAIN_CONFIG_FILE);
    if (!out && !resume && !r.print_config) cg_usage("pretrain: --out DIR or --resume DIR is required (see --help)");

    PretrainConfig cfg = pretrain_config_default();
    char err[1024];
    char path[4200];
    if (resume) {
        snprintf(path, sizeof path, "%s/%s", resume, PRETRAIN_CONFIG_FILE);
        if (config_read_file(path, &cfg, keys, nk, err, sizeof err)) cg_usage("cannot resume: %s", err);
    } else if (config && config_read_file(config, &cfg, keys, nk, err, sizeof err)) {
        cg_usage("%s", err);
    }
    const PretrainConfig stored = cfg;
    cli_apply_overrides(&cfg, &stored, keys, nk, r.over_key, r.over_val, r.n_over, resume, pretrain_key_is_resumable,
                        "steps, log_every, val_every and ckpt_every", sizeof err);
    if (pretrain_config_check(&cfg, err, sizeof err)) cg_usage("pretrain: %s", err);
    if (r.print_config) {
        config_print_values(stdout, &cfg, keys, nk);
        return 0;
    }
    if (stop_at > cfg.steps) cg_usage("pretrain: --stop-at %ld is beyond steps = %d", stop_at, cfg.steps);
    // under mpirun the ranks split every batch (train/pretrain.h); rank 0 alone writes and prints
    Dist dist;
    dist_init(&dist, &argc, &argv);
    PretrainRun run = {resume ? resume : out, resume != NULL, !r.quiet && dist.rank == 0, (int)stop_at,
                       cli_test_fault("pretrain", 1u << FAULT_LOSS | 1u << FAULT_WEIGHT), &dist};
    const CgStatus st = pretrain_run(&cfg, &run, NULL, err, sizeof err);
    dist_finalize(&dist);
    return dist.rank == 0 ? cli_finish(st, "", err) : cli_exit_code(st); // every rank holds rank 0's message
}
