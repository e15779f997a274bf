// cmd_lora.c: `cgrpo lora merge --model BASE --lora A --out MERGED`: the base with LoRA adapters
// (a LoRA run's lora.safetensors, or its ckpt.safetensors) folded into its weights, W + (alpha / R)
// B A, written as a full model file that every command reads. Also the --lora option of `cgrpo
// sample` and `cgrpo eval` (cli_attach_lora). Adapters of another base (their lora.base_fnv1a64
// is not the hash of BASE's weights) are refused in one line, exit 2.
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/check.h"
#include "io/checkpoint.h"
#include "models/dit.h"
#include "models/dit_lora.h"

void cli_attach_lora(DiTModel *m, DiTLora *a, const char *lora_path, const char *model_path) {
    char err[1400];
    if (dit_lora_load(lora_path, m, model_path, a, m->max_B, err, sizeof err)) cg_usage("--lora: %s", err);
    dit_lora_attach(m, a);
}

static const char *USAGE =
    "usage: cgrpo lora merge --model BASE --lora ADAPTERS --out MERGED\n"
    "Folds LoRA adapters into their base model: every adapted linear's weight becomes W + (alpha / R) B A,\n"
    "and MERGED is a full model file (`cgrpo sample --model MERGED` gives the images of\n"
    "`--model BASE --lora ADAPTERS`, to float rounding).\n"
    "  --model BASE        the base model the adapters were trained on (a model file)\n"
    "  --lora ADAPTERS     a LoRA run's lora.safetensors or ckpt.safetensors (cgrpo train --lora-rank R)\n"
    "  --out MERGED        the merged model (.safetensors)\n"
    "Adapters of another base (their lora.base_fnv1a64 is not BASE's weights' hash) are refused.\n"
    "Exit status: 0 done, 1 the file could not be written, 2 bad usage or input.\n";

static int lora_merge_cmd(int argc, char **argv) {
    const char *model = NULL, *lora = NULL, *out = NULL;
    const CliOpt opts[] = {CLI_S("--model", &model), CLI_S("--lora", &lora), CLI_S("--out", &out)};
    const CliCommand cmd = {.name = "lora merge", .usage = USAGE, .needs_hint = " (see cgrpo lora merge --help)",
                            .unknown_hint = " (see cgrpo lora merge --help)", .no_positional = 1};
    cli_parse(&cmd, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (!model || !lora || !out) cg_usage("lora merge: --model BASE, --lora ADAPTERS and --out MERGED are required");
    cli_check_file_dest("--out", out);
    char err[1400];
    DiTModel m;
    if (dit_load(model, &m, 1, err, sizeof err)) cg_usage("--model: %s", err);
    DiTLora a;
    cli_attach_lora(&m, &a, lora, model);
    dit_lora_merge(&m, &a);
    CkptMeta extra;
    ckpt_meta_init(&extra);
    ckpt_meta_set(&extra, "source", "cgrpo lora merge");
    ckpt_meta_set(&extra, "base_model", model);
    ckpt_meta_set(&extra, "lora", lora);
    dit_lora_to_meta(&a, &extra);
    const int rc = dit_save(&m, out, &extra, err, sizeof err);
    ckpt_meta_free(&extra);
    dit_lora_free(&a);
    dit_free(&m);
    return cli_finish(rc ? CG_ERUNTIME : CG_OK, "", err);
}

int cmd_lora(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "merge") == 0) return lora_merge_cmd(argc - 1, argv + 1);
    if (argc >= 2 && cli_is_help(argv[1])) {
        fputs(USAGE, stdout);
        return 0;
    }
    cg_usage("lora: expected the subcommand merge (see cgrpo lora --help)");
}
