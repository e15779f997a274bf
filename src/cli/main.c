// main.c: the `cgrpo` binary: a table of subcommands, each in its own cmd_*.c file.
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/dist.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} Command;

static const Command COMMANDS[] = {
    {"world", cmd_world, "SubjectBench: list subjects, print prompts, render images and grids"},
    {"pretrain", cmd_pretrain, "pretrain the subject-driven DiT by rectified flow (config file, resume, metrics)"},
    {"sample", cmd_sample, "sample a grid of images of a subject with a DiT model (ODE/SDE, CFG)"},
    {"train", cmd_train, "GRPO fine-tuning of the generator (presets customized, naive-1-1, naive-1-1.5, sars-only, tdw-only)"},
    {"train-encoder", cmd_train_encoder, "train a reward or judge encoder (--kind id|clip|attr) on SubjectBench"},
    {"score", cmd_score, "score images with every reward and judge (one JSON object per image)"},
    {"eval", cmd_eval, "evaluate a generator on the held-out test subjects (DreamBench-shaped metrics, grids)"},
    {"compare", cmd_compare, "train every preset x seed from the base, evaluate all on the test subjects, write a report (resumable)"},
    {"eval-rewards", cmd_eval_rewards, "reward and judge metrics on the held-out test subjects"},
    {"advantages", cmd_advantages, "print GRPO advantages (naive/SARS, static/TDW) for CSV rewards on stdin"},
    {"plot", cmd_plot, "PNG plots: curves from JSONL metrics, a labelled scatter (Pareto) from CSV"},
    {"lora", cmd_lora, "LoRA adapters: merge a LoRA run's adapters into their base model (cgrpo lora merge)"},
    {"inspect", cmd_inspect, "list the tensors and metadata of a .safetensors file"},
    {"version", cmd_version, "the OpenBLAS build and kernel set, and the OpenMP threads, this binary computes with"},
};
#define N_COMMANDS (sizeof(COMMANDS) / sizeof(COMMANDS[0]))

static void usage(FILE *f) {
    fprintf(f, "usage: cgrpo <command> [options]   (cgrpo <command> --help for its options)\n\n");
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-13s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return cli_exit_code(CG_EINPUT);
    }
    if (strcmp(argv[1], "--version") == 0) return cmd_version(1, argv + 1);
    if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    // under mpirun -np N > 1 only `pretrain`, `train` and `eval` split their work over the ranks
    // (core/dist.h); any other command would run N times over the same files
    const int ranks = dist_launched_size();
    if (ranks > 1 && strcmp(argv[1], "train") != 0 && strcmp(argv[1], "eval") != 0 && strcmp(argv[1], "pretrain") != 0) {
        fprintf(stderr, "cgrpo: %s runs in one process, and mpirun started %d; only `cgrpo pretrain`, `cgrpo train` and "
                "`cgrpo eval` split their work over MPI ranks (run the others without mpirun)\n", argv[1], ranks);
        return cli_exit_code(CG_EINPUT);
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0) return COMMANDS[i].run(argc - 1, argv + 1);
    fprintf(stderr, "cgrpo: unknown command '%s' (try cgrpo --help)\n", argv[1]);
    return cli_exit_code(CG_EINPUT);
}
