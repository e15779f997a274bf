// cli.h: the subcommands of the `cgrpo` binary. Each takes the arguments after its own name
// (argv[0] is the subcommand name) and returns the process exit status:
// 0 success, 1 runtime failure, 2 bad usage or bad input (with one line on stderr).
#ifndef CGRPO_CLI_H
#define CGRPO_CLI_H

#include <stdio.h>

#include "core/check.h"
#include "core/fault.h"
#include "io/config.h"
#include "models/dit_lora.h"

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
int cmd_lora(int argc, char **argv);       // cmd_lora.c: LoRA adapters (merge into the base)

// The exit status of a library call's outcome: 0 for CG_OK, 2 for CG_EINPUT, 1 for CG_ERUNTIME
// (the one place that maps CgStatus to exit codes).
int cli_exit_code(CgStatus st);
// The end of a command whose last call returned st: unless st is CG_OK, prints "cgrpo: WHAT ERR" as
// one line on stderr (WHAT e.g. "compare: " or ""). Returns cli_exit_code(st).
int cli_finish(CgStatus st, const char *what, const char *err);

// Shared argument helpers (args.c). Each parses or dies with cg_usage() naming the flag.
long cli_parse_long(const char *flag, const char *value, long lo, long hi);
// The tests' numeric fault (core/fault.h) from CGRPO_TEST_FAULT, zeroed when unset; a malformed
// value or a kind outside `allowed` (a mask of 1 << FaultKind) is a usage error naming the command.
TestFault cli_test_fault(const char *command, unsigned allowed);
double cli_parse_double(const char *flag, const char *value, double lo, double hi);
// A file the command writes at its end: PATH must name a file (not empty, no trailing '/') in a
// directory that exists and is writable; checked up front so that no work is lost to a bad path.
// Dies with "FLAG PATH: ..." otherwise.
void cli_check_file_dest(const char *flag, const char *path);
// --lora of sample and eval (cmd_lora.c): loads the adapters at lora_path for the base m (read from
// model_path, named in messages), attaches them (models/dit_lora.h) or dies with exit 2: a file
// that holds no adapters, another DiT shape, or another base (hash mismatch).
void cli_attach_lora(DiTModel *m, DiTLora *a, const char *lora_path, const char *model_path);
// Is argv[i] a --help or -h?
int cli_is_help(const char *arg);
// --split VALUE: train, val or test into *(int *)dst, or exit 2 "--split: 'X' is not a split ...".
void cli_parse_split(const char *flag, const char *value, void *dst);

// ---- option tables (args.c) ----------------------------------------------------------------------
// A command lists its options as CliOpt rows and cli_parse walks argv over them. Values are parsed
// with cli_parse_long / cli_parse_double (messages name the flag); every error exits 2 with one line.

typedef enum { CLI_STR, CLI_LONG, CLI_INT, CLI_DOUBLE, CLI_FLAG, CLI_FN } CliOptKind;

typedef struct {
    const char *name; // "--model"
    CliOptKind kind;
    void *dst;        // const char ** | long * | int * (CLI_INT, and CLI_FLAG: set to 1) | double * | fn's
    long lo, hi;      // CLI_LONG, CLI_INT: the range
    double dlo, dhi;  // CLI_DOUBLE: the range
    int *given;       // NULL, or set to 1 when the option is seen
    void (*fn)(const char *flag, const char *value, void *dst); // CLI_FN: parse value into dst or exit 2
} CliOpt;

#define CLI_S(n, d) {.name = (n), .kind = CLI_STR, .dst = (d)}
#define CLI_L(n, d, a, b) {.name = (n), .kind = CLI_LONG, .dst = (d), .lo = (a), .hi = (b)}
#define CLI_LG(n, d, a, b, g) {.name = (n), .kind = CLI_LONG, .dst = (d), .lo = (a), .hi = (b), .given = (g)}
#define CLI_I(n, d, a, b) {.name = (n), .kind = CLI_INT, .dst = (d), .lo = (a), .hi = (b)}
#define CLI_D(n, d, a, b) {.name = (n), .kind = CLI_DOUBLE, .dst = (d), .dlo = (a), .dhi = (b)}
#define CLI_DG(n, d, a, b, g) {.name = (n), .kind = CLI_DOUBLE, .dst = (d), .dlo = (a), .dhi = (b), .given = (g)}
#define CLI_F(n, d) {.name = (n), .kind = CLI_FLAG, .dst = (d)}
#define CLI_FN(n, f, d) {.name = (n), .kind = CLI_FN, .dst = (d), .fn = (f)}

// How a command reads its arguments (argv[0] is its name; --help or -h prints the usage and exits 0).
// Messages begin "NAME: ", e.g. "eval: --steps needs a value (see cgrpo eval --help)".
typedef struct {
    const char *name;             // "eval", "world list"
    const char *usage;            // printed by --help, or
    void (*print_usage)(FILE *f); // this prints it (when usage is NULL)
    int lookup_first;             // 0: an argument that is no flag needs a value before it is looked up
                                  // 1: it is looked up first ("unknown option" even as the last one)
    int needs_bare;               // 1: "FLAG needs a value" without "NAME: "
    const char *needs_hint;       // after "needs a value" (NULL: nothing)
    const char *unknown_hint;     // after "NAME: unknown option 'FLAG'" (NULL: nothing)
    const char **positional;      // arguments that do not start with "--" are collected here (room for
    int *n_positional;            //   argc), or with no_positional are "NAME: unexpected argument 'A'
    int no_positional;            //   (see cgrpo NAME --help)"; else they are taken as unknown options
    // --KEY VALUE of a config key table (keys != NULL), kept as overrides in over_key / over_val
    const ConfigKey *keys;
    int n_keys;
    const char *key_word;         // unknown: "NAME: unknown option 'F' (nearest KEY_WORD: --K; see cgrpo NAME --help)"
    const void *key_defaults;     // non-NULL: --help lists the keys after the usage with these defaults,
    int key_width;                //   names padded to key_width (config_print_help)
    const char **over_key, **over_val; // (max_over) each: the key (without "--") and its value
    int *n_over, max_over;
    const char *over_word;        // "NAME: more than MAX_OVER OVER_WORD"
} CliCommand;

// Parses argv[1..argc) with opts[0..n); see CliCommand.
void cli_parse(const CliCommand *c, const CliOpt *opts, int n, int argc, char **argv);

// ---- commands that train into a run directory over a config key table (pretrain, train) ----------

#define CLI_MAX_OVERRIDES 128
typedef struct {
    const char *out, *resume, *config; // --out DIR, --resume DIR, --config FILE
    int quiet, print_config;           // --quiet, --print-config
    const char *over_key[CLI_MAX_OVERRIDES], *over_val[CLI_MAX_OVERRIDES]; // --KEY VALUE (key without "--")
    int n_over;
} CliRun;
// Parses argv into r with those options, the command's own opts[0..n) and --KEY VALUE for the keys
// (--help prints usage, then the keys with their defaults, names padded to key_width). Exits 2
// "NAME: give --out DIR for a new run or --resume DIR to continue one, not both" when both are given.
void cli_parse_run(CliRun *r, const char *name, const char *usage, const ConfigKey *keys, int nk, const void *defaults,
                   int key_width, const CliOpt *opts, int n, int argc, char **argv);

// Sets the --KEY VALUE overrides over_key/over_val[0..n) in cfg, in order; a bad value exits 2 with
// "--KEY: REASON" (the reason cut to errlen - 1 characters, as the command's buffer held it). On a
// resume (resume: the run directory, else NULL) a key that resumable() refuses must keep its value
// in stored (the run's config): else exit 2, "cannot resume with --KEY VALUE: the run in DIR has
// KEY = X (a resumed run may change only RESUMABLE_TEXT)".
void cli_apply_overrides(void *cfg, const void *stored, const ConfigKey *keys, int nk, const char *const *over_key,
                         const char *const *over_val, int n, const char *resume, int (*resumable)(const char *key),
                         const char *resumable_text, size_t errlen);

#endif
