// compare.h: `cgrpo compare` as a library: does Customized-GRPO beat naive GRPO? One resumable
// call trains every preset x seed (rl/trainer.h, exactly as `cgrpo train` does), evaluates the base
// model and every run on the held-out TEST subjects (eval/evaluate.h, exactly as `cgrpo eval` does)
// and writes a report: tables (mean and spread over seeds), a Pareto plot, training curves and an
// image grid.
//
// Phases (each skips what is already on disk, so a killed compare rerun with the same arguments
// continues where it stopped and ends with the same files as an uninterrupted one):
//   0. inputs     the configs of every run, the base model, the rewards and judges, the stored
//                 state of every run: anything wrong exits before the long part (CG_EINPUT)
//   1. training   DIR/runs/<preset>-s<seed>/: done when model.safetensors exists (and its config
//                 has the requested iterations), resumed from ckpt.safetensors, else started. A run
//                 whose stored config.cfg differs from the requested one in any key other than
//                 ckpt_every and sample_every is refused, naming the key (iterations may grow: the
//                 run is continued from its checkpoint; fewer iterations are refused)
//   2. evaluation DIR/eval/base/ and DIR/eval/<preset>-s<seed>/: skipped when results.json exists
//                 with the same "settings" (model checksum, judges' checksums, subjects, prompts,
//                 K, steps, ...) and atlas.png is complete
//   3. report     DIR/report.md and its PNGs, from the files alone (compare_write_report)
//
// Training config of run (preset p, seed s), in cgrpo train's order: built-in defaults, preset p,
// the shared config file, the --KEY VALUE overrides, then seed = s. The file and the overrides may
// set any training key except the ones that define a run of the comparison (preset, seed, shaping,
// weighting, w_id, w_prompt): compare sets those, and letting a file change them would silently
// turn every preset into the same run. gamma may be set (it scales the SARS bonus of customized and
// sars-only alike).
//
// Evaluation: the spec's EvalConfig (subjects, templates, K, steps, seed) with the sigma schedule
// shift and the guidance scales (cfg_ref, cfg_txt) and the subjects seed of the training config, so
// a policy is evaluated under the conditions it was trained for; the base model under the same.
//
// Directory layout:
//   DIR/compare.json                 fingerprints (FNV-1a 64) of the base model and of the training
//                                    reward files: a rerun with other files is refused (the runs were
//                                    trained from these)
//   DIR/runs/<name>/                 a cgrpo train run directory (config.cfg, metrics.jsonl, ckpt, model)
//   DIR/eval/<name>/results.json     as cgrpo eval writes it: the same bytes for the same model and settings
//   DIR/eval/<name>/images.jsonl     every image's scores
//   DIR/eval/<name>/atlas.png        every evaluated image, exactly what was scored (8-bit): row s =
//                                    test subject s, columns [plain reference | image (template, k) for
//                                    the templates in order, k inner], S pixels each, no gaps. The grid
//                                    of the report is cut from these, so it never re-samples
//   DIR/eval/<name>/eval_time.json   {"seconds": wall time of the evaluation, "images": n}
//   DIR/report.md                    tables, settings, wall times; links to the PNGs below
//   DIR/report.json                  the headline numbers, machine-readable (compare_report_json)
//   DIR/pareto.png                   identity (judge) vs clip_t (prompt judge), base + one point per
//                                    preset (mean over seeds, error bars = half-range)
//   DIR/curves_rewards.png           reward_id_mean (top) and reward_prompt_mean (bottom) per preset
//   DIR/curves_rewards_rel.png       the same relative to the mean over presets, as a running mean
//                                    (compare_relative_running_mean): which preset pulls ahead
//   DIR/curves_conflict.png          share of conflicted samples per preset
//   DIR/curves_gradcos.png           grad_cos_id_prompt per preset (its non-null iterations only)
//   DIR/grid.png                     first 6 test subjects x 2 prompts: reference | base | presets
// Curves are means over seeds at each iteration; rewards and conflict are then smoothed by a centred
// moving average of COMPARE_SMOOTH iterations. The report's content is a function of the files in
// DIR and the spec, except its last section (## Wall time).
//
// Files, each calling only those below it: compare.c (phases 0-2, compare_run) -> compare_report.c
// (the aggregation, phase 3) -> compare_json.c (report.json) and compare_spec.c (the spec, the
// configs of a run). The constants and
// types they share are all in this header.
#ifndef CGRPO_EVAL_COMPARE_H
#define CGRPO_EVAL_COMPARE_H

#include <stddef.h>
#include <stdint.h>

#include "core/check.h"
#include "eval/evaluate.h"
#include "rl/trainer.h"

// ---- constants and the spec ---------------------------------------------------------------------

#define COMPARE_MAX_SEEDS 16
#define COMPARE_MAX_OVERRIDES 128
#define COMPARE_DEFAULT_PRESETS "customized,naive-1-1,naive-1-1.5,sars-only,tdw-only"
#define COMPARE_DEFAULT_SEEDS "1,2"
// Three common scenes (jungle, pink fabric, blue house), two of templates 10..19 (scenes for
// objects, accessories for live subjects), three property edits (red, shiny, cube shaped): every
// kind, with the identity-conflicting property edits at 3/8 instead of DreamBench's 5/25.
#define COMPARE_DEFAULT_TEMPLATES "0,4,8,12,16,20,22,24"
#define COMPARE_SMOOTH 5         // moving-average window of the curves (iterations)
#define COMPARE_GRID_SUBJECTS 6  // rows of grid.png
#define COMPARE_FORMAT "cgrpo-compare-1"

typedef struct {
    const char *out;                   // DIR
    const char *model;                 // the base generator file
    const char *rewards_dir;           // reward and judge weights
    int presets[TRAIN_N_PRESETS];      // TRAIN_PRESET_*, distinct, in report order
    int n_presets;
    uint64_t seeds[COMPARE_MAX_SEEDS]; // distinct
    int n_seeds;
    const char *config_file;           // shared training keys, or NULL
    int n_over;                        // --KEY VALUE training overrides ('-' and '_' alike)
    const char *over_key[COMPARE_MAX_OVERRIDES], *over_val[COMPARE_MAX_OVERRIDES];
    EvalConfig eval;                   // subjects, templates, K, steps, seed (shift, guidance and
                                       // subjects_seed are taken from the training config)
    int progress;                      // 1: phase lines (and the trainer's lines) on stderr
    int stop_after_runs;               // > 0: return after the first N runs are trained, before any
                                       // evaluation (stopped = 1); N >= the number of runs: all of them
    int kill_at;                       // tests: TrainRun.kill_at of every run this call trains
    int headline;                      // 1: report.json says "headline": true (the one report that
                                       // carries the project's headline result)
} CompareSpec;

// ---- the spec and the configs of a run (compare_spec.c) -----------------------------------------

// Every preset, seeds 1 and 2, models/base.safetensors, rewards in models, the default templates
// on all 30 test subjects, K 1, 20 steps; out NULL.
CompareSpec compare_spec_default(void);

// "customized,naive-1-1" -> presets, *n. An unknown name (the message lists the known ones), an
// empty item or a name listed twice is an error: -1 with the reason.
int compare_parse_presets(const char *list, int presets[TRAIN_N_PRESETS], int *n, char *err, size_t errlen);
// "1,2,3" -> seeds, *n: decimal integers >= 0, distinct, at most COMPARE_MAX_SEEDS. -1 with the reason.
int compare_parse_seeds(const char *list, uint64_t seeds[COMPARE_MAX_SEEDS], int *n, char *err, size_t errlen);
// 1 for the keys compare sets per run (preset, seed, shaping, weighting, w_id, w_prompt).
int compare_is_run_key(const char *key);
// "customized-s1"
void compare_run_name(char *buf, size_t len, int preset, uint64_t seed);

// The resolved training config of run (preset, seed): defaults, preset, config file, overrides,
// seed (header comment). 0, or -1 with a reason naming the file, key or value.
int compare_train_config(TrainConfig *cfg, const CompareSpec *s, int preset, uint64_t seed, char *err, size_t errlen);
// May a run stored with config `stored` serve a compare that asks for `want`? Every key must match
// except ckpt_every and sample_every; iterations may be larger in `want` (the run continues).
// 0, or -1 with a reason naming the first key that differs ("lr = 0.001 in the stored run, 0.002 asked").
int compare_check_stored(const TrainConfig *want, const TrainConfig *stored, char *err, size_t errlen);

// A small text file (a config, compare.json) as a malloc'd NUL-terminated string: at most
// 1 MiB and no NUL byte. NULL with a reason naming the file otherwise.
char *compare_read_small_text(const char *path, char *err, size_t errlen);

// The evaluation config of the compare: s->eval with the subjects seed, the sigma schedule shift
// and the guidance scales of training config t.
void compare_eval_config(EvalConfig *out, const CompareSpec *s, const TrainConfig *t);

// ---- aggregation (pure; compare_report.c) -------------------------------------------------------

// Mean and spread of n values, NaN ones skipped: spread = half-range (max - min) / 2, so that
// "mean ± spread" covers every seed. n = the finite values; mean and spread NaN when none.
typedef struct {
    double mean, spread;
    int n;
} CompareStat;
CompareStat compare_stat(const double *v, int n);
// stats[g][m] over the seeds' summaries (n): compare_stat of summaries[0..n-1].mean[g][m].
void compare_aggregate(CompareStat stats[EVAL_N_GROUPS][EVAL_N_METRICS], const EvalSummary *summaries, int n);
// out[i] = mean of the finite in[j] for |j - i| <= window / 2 (a centred window, cut at the ends);
// NaN where none is finite. out may not alias in.
void compare_moving_average(double *out, const double *in, int n, int window);
// in, out: (n_series, n). d[p][i] = in[p][i] - the mean over the series of in[.][i] (the finite ones);
// out[p][i] = the mean of the finite d[p][0..i], NaN while there is none. Every preset of a seed draws
// the same training pairs at iteration i, so d removes what the pairs contribute and out[p][i] is how far
// series p is ahead of the others, on average over the iterations so far. out may not alias in.
void compare_relative_running_mean(double *out, const double *in, int n_series, int n);
// "12.34 ± 0.56" (spread shown when s.n > 1), "12.34" (one value), "-" (none); `decimals` digits.
void compare_format_stat(char *buf, size_t len, CompareStat s, int decimals);

// ---- report.json (compare_json.c) ----------------------------------------------------------------

// A paired change over seeds: delta = the mean of the per-seed changes d (n), se = their sample
// std / sqrt(n) (seed-level: training noise is the uncertainty that matters); se NaN for n = 1.
typedef struct {
    double delta, se;
} CompareDelta;
CompareDelta compare_seed_delta(const double *d, int n);

// The text of DIR/report.json (malloc'd, ends with a newline):
//   {"headline": s->headline, "split", "subjects_seed", "seeds": [...],
//    "train_config": {every training key of cfg0 except the run keys (compare_is_run_key)},
//    "models": {"base": {"identity", "clip_t", "clip_i", "attr_acc"},
//               "<preset>": {the same four as means over the seeds, "per_seed": {"<seed>": {...}},
//                            "vs": {"base": {"<metric>": {"delta", "se"}}, "naive-1-1": {...},
//                                   "naive-1-1.5": {...}}}}}
// (overall means; "vs" names each naive preset that was run, other than the preset itself). The
// per-seed change is the difference of the overall means, which is the mean per-image difference:
// every model of a compare is evaluated on the same images from the same noise. sum is
// (n_presets * n_seeds), preset-major as Report holds it; split is the evaluated split.
char *compare_report_json(const CompareSpec *s, const TrainConfig *cfg0, int split, const EvalSummary *base,
                          const EvalSummary *sum);

// ---- the whole compare (compare.c; phase 3 alone: compare_report.c) -----------------------------

typedef struct {
    int runs_total, runs_done, runs_resumed, runs_started; // found done / resumed / started by this call
    int evals_total, evals_skipped, evals_run;
    int stopped;                       // 1: stop_after_runs ended the call before the evaluations
    double t_inputs, t_train, t_eval, t_report, t_total; // seconds of this call per phase
    char *table;                       // malloc'd results table (markdown), NULL when stopped
} CompareResult;

// Runs the phases (header comment). CG_OK; CG_EINPUT (bad spec, files, or a stored run with other
// settings) or CG_ERUNTIME (a run diverged, I/O failure) with a one-line reason in err. *res is
// filled in every case (free with compare_result_free).
CgStatus compare_run(const CompareSpec *s, CompareResult *res, char *err, size_t errlen);
void compare_result_free(CompareResult *r);

// Phase 3 alone: report.md and the PNGs from the files in s->out (every run trained, every model
// evaluated with the spec's settings). times (may be NULL) gives this call's phase times for the wall
// time section. *table receives the results table (malloc'd) when table is not NULL.
// CG_OK, or CG_EINPUT (a file missing or malformed) / CG_ERUNTIME (cannot write).
CgStatus compare_write_report(const CompareSpec *s, const CompareResult *times, char **table, char *err, size_t errlen);

#endif
