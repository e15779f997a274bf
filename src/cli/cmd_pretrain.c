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
#include "core/check.h"
#include "io/config.h"
#include "train/pretrain.h"

static void print_usage(FILE *f) {
    fputs("usage: cgrpo pretrain --out DIR [--config FILE] [--KEY VALUE ...] [--stop-at N] [--quiet]\n"
          "       cgrpo pretrain --resume DIR [--steps N] [--log-every N] [--val-every N] [--ckpt-every N] [--stop-at N] [--quiet]\n"
          "       cgrpo pretrain --print-config [--config FILE] [--KEY VALUE ...]\n"
          "Rectified-flow pretraining of the subject-driven DiT on (reference, prompt, target) triples drawn on\n"
          "the fly from the SubjectBench TRAIN subjects. DIR receives config.cfg (the resolved config),\n"
          "metrics.jsonl, ckpt.safetensors (every ckpt_every steps, atomically) and model.safetensors (the EMA\n"
          "weights, at the end). --resume continues bit-exactly from DIR/ckpt.safetensors; --steps may be raised.\n"
          "--stop-at N ends this call after step N of the schedule (validation, checkpoint and model.safetensors of\n"
          "step N), so a long schedule can run in pieces; on a checkpoint already at step N it only writes the model.\n"
          "Exit status: 0 done, 1 diverged (NaN/Inf) or I/O failure, 2 bad usage, config or checkpoint.\n"
          "Keys (in a config file as `key = value`, on the command line as --key VALUE), with their defaults:\n",
          f);
    int n;
    const ConfigKey *keys = pretrain_config_keys(&n);
    PretrainConfig def = pretrain_config_default();
    config_print_help(f, &def, keys, n, 14);
}

#define MAX_OVERRIDES 128

int cmd_pretrain(int argc, char **argv) {
    const char *out = NULL, *resume = NULL, *config = NULL;
    int quiet = 0, print_config = 0, n_over = 0;
    long stop_at = 0;
    const char *over_key[MAX_OVERRIDES], *over_val[MAX_OVERRIDES];
    int nk;
    const ConfigKey *keys = pretrain_config_keys(&nk);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(a)) {
            print_usage(stdout);
            return 0;
        }
        if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
            continue;
        }
        if (strcmp(a, "--print-config") == 0) {
            print_config = 1;
            continue;
        }
        if (strcmp(a, "--stop-at") == 0) {
            if (!v) cg_usage("pretrain: --stop-at needs a value");
            stop_at = cli_parse_long(a, v, 1, 1000000000);
            i++;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) cg_usage("pretrain: unexpected argument '%s' (see cgrpo pretrain --help)", a);
        if (strcmp(a, "--out") != 0 && strcmp(a, "--resume") != 0 && strcmp(a, "--config") != 0 &&
            !config_find(keys, nk, a + 2))
            cg_usage("pretrain: unknown option '%s' (nearest key: --%s; see cgrpo pretrain --help)", a,
                     config_nearest(keys, nk, a + 2));
        if (!v) cg_usage("pretrain: %s needs a value", a);
        if (strcmp(a, "--out") == 0) out = v;
        else if (strcmp(a, "--resume") == 0) resume = v;
        else if (strcmp(a, "--config") == 0) config = v;
        else {
            if (n_over == MAX_OVERRIDES) cg_usage("pretrain: more than %d options", MAX_OVERRIDES);
            over_key[n_over] = a + 2, over_val[n_over] = v, n_over++;
        }
        i++;
    }
    if (out && resume) cg_usage("pretrain: give --out DIR for a new run or --resume DIR to continue one, not both");
    if (resume && config) cg_usage("pretrain: --resume uses DIR/%s; --config applies to new runs only", PRETRAIN_CONFIG_FILE);
    if (!out && !resume && !print_config) cg_usage("pretrain: --out DIR or --resume DIR is required (see --help)");

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
    for (int i = 0; i < n_over; i++) {
        if (config_set(&cfg, keys, nk, over_key[i], over_val[i], err, sizeof err)) cg_usage("--%s: %s", over_key[i], err);
        const ConfigKey *k = config_find(keys, nk, over_key[i]);
        if (resume && !pretrain_key_is_resumable(k->key) && !config_same(&cfg, &stored, k)) {
            char have[CONFIG_MAX_VALUE];
            config_format(have, sizeof have, &stored, k);
            cg_usage("cannot resume with --%s %s: the run in %s has %s = %s (a resumed run may change only steps, "
                     "log_every, val_every and ckpt_every)", over_key[i], over_val[i], resume, k->key, have);
        }
    }
    if (pretrain_config_check(&cfg, err, sizeof err)) cg_usage("pretrain: %s", err);
    if (print_config) {
        config_print_values(stdout, &cfg, keys, nk);
        return 0;
    }
    if (stop_at > cfg.steps) cg_usage("pretrain: --stop-at %ld is beyond steps = %d", stop_at, cfg.steps);
    PretrainRun run = {resume ? resume : out, resume != NULL, !quiet, (int)stop_at};
    return cli_finish(pretrain_run(&cfg, &run, NULL, err, sizeof err), "", err);
}
