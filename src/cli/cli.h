// cli.h: the subcommands of the `cgrpo` binary. Each takes the arguments after its own name
// (argv[0] is the subcommand name) and returns the process exit status:
// 0 success, 1 runtime failure, 2 bad usage or bad input (with one line on stderr).
#ifndef CGRPO_CLI_H
#define CGRPO_CLI_H

#include "core/check.h"

int cmd_inspect(int argc, char **argv); // cmd_inspect.c: list the tensors of a safetensors file
int cmd_world(int argc, char **argv);   // cmd_world.c: SubjectBench (list, prompts, render, grid)
int cmd_advantages(int argc, char **argv); // cmd_advantages.c: GRPO advantages from CSV rewards
int cmd_pretrain(int argc, char **argv); // cmd_pretrain.c: rectified-flow pretraining of the DiT
int cmd_sample(int argc, char **argv);   // cmd_sample.c: sample a grid of images of a subject with a DiT
int cmd_train(int argc, char **argv);         // cmd_train.c: Customized-GRPO fine-tuning of the generator
int cmd_train_encoder(int argc, char **argv); // cmd_train_encoder.c: train a reward / judge encoder
int cmd_score(int argc, char **argv);         // cmd_score.c: every reward and judge score of images
int cmd_eval(int argc, char **argv);          // cmd_eval.c: evaluate a generator on the test subjects
int cmd_compare(int argc, char **argv);      // cmd_compare.c: presets x seeds -> trained, evaluated, reported
int cmd_eval_rewards(int argc, char **argv);  // cmd_eval_rewards.c: reward and judge metrics on test subjects
int cmd_version(int argc, char **argv);    // cmd_version.c: the BLAS kernels and threads this binary runs
int cmd_plot(int argc, char **argv);       // cmd_plot.c: PNG plots of JSONL metrics and CSV scatters

// The exit status of a library call's outcome: 0 for CG_OK, 2 for CG_EINPUT, 1 for CG_ERUNTIME
// (the one place that maps CgStatus to exit codes).
int cli_exit_code(CgStatus st);
// The end of a command whose last call returned st: unless st is CG_OK, prints "cgrpo: WHAT ERR" as
// one line on stderr (WHAT e.g. "compare: " or ""). Returns cli_exit_code(st).
int cli_finish(CgStatus st, const char *what, const char *err);

// Shared argument helpers (args.c). Each parses or dies with cg_usage() naming the flag.
long cli_parse_long(const char *flag, const char *value, long lo, long hi);
double cli_parse_double(const char *flag, const char *value, double lo, double hi);
// A file the command writes at its end: PATH must name a file (not empty, no trailing '/') in a
// directory that exists and is writable; checked up front so that no work is lost to a bad path.
// Dies with "FLAG PATH: ..." otherwise.
void cli_check_file_dest(const char *flag, const char *path);
// Is argv[i] a --help or -h?
int cli_is_help(const char *arg);

#endif
