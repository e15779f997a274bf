// evaluate.h: the DreamBench-shaped evaluation of a generator (docs/design.md), behind
// `cgrpo eval`: every held-out TEST subject x chosen prompt templates x K images, drawn with the
// ODE sampler from fixed noise, scored by the evaluator models (judges) and the training rewards.
//
// Generation. Image (s, t, k) (test subject s, template t, image k) starts from the noise of Philox
// stream eval_noise_stream(s, t, k) under the seed, is conditioned on subject s's plain reference
// photo (pose 0) and template t's prompt text, and is integrated by the ODE over the shifted sigma
// schedule (flow/schedule.h) with the two-condition guidance of dit_velocity.
// One model batch is the K images of one (subject, template), always in k order: a sample's
// forward is bit-exact only for the same batch layout (nn/layers.c: OpenBLAS rounds a row by its
// position in the call), so this fixed composition makes image (s, t, k) and its scores the same
// bits whichever other subjects and prompts are evaluated (a subset reproduces the full run). On
// CPU the batch size does not change the throughput (measured: 3.7-4.4 images/s for B = 1..16 at
// width 128), so nothing is lost.
//
// What is scored is the image a user would save: clamped to [0, 1] and quantized to 8 bits, so
// `cgrpo score` on a saved PNG gives the same numbers.
//
// Metrics (per image, then means per prompt kind and overall):
//   identity       judge-id:       100 cos(judge_id(image), judge_id(segmented reference))  "DINO-Seg"
//   dino           judge-id-plain: the same against the plain reference                     "DINO"
//   clip_i         judge-clip-i:   100 cos(judge_clip image tower, plain reference)           "CLIP-I"
//   clip_t         judge-clip-t:   100 cos(judge_clip image, judge_clip text of the prompt)   "CLIP-T"
//   reward_id      id:     the training identity reward   } next to the judges, reward hacking
//   reward_prompt  prompt: the training prompt reward     } shows as reward up, judge flat
//   id_top1        identity retrieval with the judge-id encoder among the segmented references of
//                  the EVALUATED test subjects: credit 1 when the image's own subject scores
//                  highest; a tie at the top between m subjects (own one included) gives 1/m
//                  (the expected hit of a random tie break), so ties neither flatter nor punish
//   attr_acc       1 when the attr judge's head of the prompt's kind (scene head for scene prompts,
//                  accessory head for accessory prompts, property head for property prompts)
//                  predicts the prompt's item (argmax; ties go to the lower label), else 0
// Kinds: templates 0..9 are scenes; 10..19 scenes for objects and accessories for live subjects;
// 20..24 property edits (world/prompts.h). id_top1 depends on which subjects are evaluated; the
// other metrics of an image do not.
#ifndef CGRPO_EVAL_EVALUATE_H
#define CGRPO_EVAL_EVALUATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/dist.h"
#include "models/dit.h"
#include "rl/reward.h"
#include "world/prompts.h"
#include "world/world.h"

#define EVAL_STREAM_INIT 0x4556414c00000001ull // "EVAL" 1: initial noise of image (s, t, k)
#define EVAL_MAX_K 32                           // images per (subject, prompt)
#define EVAL_FORMAT "cgrpo-eval-1"               // "format" of results.json

// Metrics, in the order of results.json and the table.
enum {
    EM_IDENTITY, EM_DINO, EM_CLIP_I, EM_CLIP_T, EM_REWARD_ID, EM_REWARD_PROMPT, EM_ID_TOP1, EM_ATTR_ACC,
    EVAL_N_METRICS
};
const char *eval_metric_name(int metric); // "identity", "dino", ..., "attr_acc"

// Groups of images: overall, then by PromptKind (the values line up: PROMPT_SCENE = 1, ...).
enum { EVAL_OVERALL = 0, EVAL_SCENE = PROMPT_SCENE, EVAL_ACCESSORY = PROMPT_ACCESSORY,
       EVAL_PROPERTY = PROMPT_PROPERTY, EVAL_N_GROUPS = 4 };
const char *eval_group_name(int group); // "overall", "scene", "accessory", "property"

// The rewards the evaluation loads (rl/reward.h built-ins), in this order: the first six give
// metrics 0..5 directly, "attr" gives attr_acc, and judge-id's encoder gives id_top1.
#define EVAL_N_REWARDS 7
const char *eval_reward_name(int i); // "judge-id", "judge-id-plain", "judge-clip-i", "judge-clip-t", "id", "prompt", "attr"

typedef struct {
    Reward *r[EVAL_N_REWARDS];
} EvalJudges;
// Loads every reward of the list from models_dir. 0, or -1 with a reason (the reward's own: a
// missing or malformed file names it); on failure nothing stays allocated.
int eval_judges_load(EvalJudges *j, const char *models_dir, char *err, size_t errlen);
void eval_judges_free(EvalJudges *j);

typedef struct {
    uint64_t subjects_seed;                // the SubjectBench population (world.h)
    int split;                             // SPLIT_TEST (the benchmark) or SPLIT_VAL: settings are chosen
                                           // on VAL so that the test subjects stay unseen; never TRAIN
    int n_subjects;                        // the first N subjects of the split, 1..its size
    int templates[PROMPT_N_TEMPLATES];     // template indices, increasing, distinct
    int n_templates;                       // 1..25
    int K;                                 // images per (subject, template), 1..EVAL_MAX_K
    int steps;                             // ODE steps
    float shift;                           // time shift of the sigma schedule
    float cfg_ref, cfg_txt;                // guidance scales (dit.h DiTVelocity); 1 1 = none
    uint64_t seed;                         // of the initial noise
    const Dist *dist;                      // MPI ranks splitting the subjects (core/dist.h); NULL: one process
} EvalConfig;

// TEST split, all 25 templates, 30 subjects, K 1, 20 steps, shift 3, no guidance, seed 0, subjects seed 1.
EvalConfig eval_config_default(void);
// 0, or -1 with a one-line reason (ranges, template list, schedule).
int eval_config_check(const EvalConfig *c, char *err, size_t errlen);
// "0,5,10,20" -> templates (sorted increasing), *n. An empty item, a non-integer, an index outside
// 0..24 or an index listed twice is an error: -1 with the reason.
int eval_parse_templates(const char *list, int templates[PROMPT_N_TEMPLATES], int *n, char *err, size_t errlen);

// The Philox stream of image (s, t, k)'s initial noise (element j is counter j, cg_rng_fill_normal).
uint64_t eval_noise_stream(int s, int t, int k);

// One evaluated image.
typedef struct {
    int subject;                  // index in the test split
    int template_index;           // 0..24
    int k;                        // 0..K-1
    PromptKind kind;              // scene, accessory or property
    int item;                     // the prompt's scene / accessory / property
    int attr_pred;                // the attr head of `kind`: predicted label
    double value[EVAL_N_METRICS]; // the per-image metrics (header comment)
} EvalImage;

typedef struct {
    long n[EVAL_N_GROUPS];                        // images per group
    double mean[EVAL_N_GROUPS][EVAL_N_METRICS];   // NaN for a group without images
} EvalSummary;

typedef struct {
    EvalConfig cfg;
    int S;                             // image side
    World *world;                      // the population of cfg.subjects_seed (owned)
    const Subject *subjects[WORLD_N_VAL]; // (cfg.n_subjects) the evaluated subjects: world_subject(split, i)
    long n_images;                     // n_subjects * n_templates * K
    EvalImage *img;                    // (n_images), index eval_image_index(r, s, ti, k)
    float *images;                     // (n_images, S, S, 3) in [0, 1], 8-bit values: what was scored
    float *refs;                       // (n_subjects, S, S, 3) in [0, 1]: plain references, pose 0
    EvalSummary summary;
} EvalResult;

// ti is the position of the template in cfg.templates.
static inline long eval_image_index(const EvalResult *r, int s, int ti, int k) {
    return ((long)s * r->cfg.n_templates + ti) * r->cfg.K + k;
}

// Called after each (subject, template) batch; may be NULL.
typedef void (*eval_progress_fn)(void *ctx, long done, long total);

// Runs the evaluation of model m (max_B >= K, or >= 3K with guidance) with the judges. The model's
// image side must be the judges' and its prompt length must hold every prompt. 0, or -1 with a
// reason (then *r holds nothing to free).
int eval_run(EvalResult *r, DiTModel *m, EvalJudges *j, const EvalConfig *c, eval_progress_fn progress,
             void *ctx, char *err, size_t errlen);
void eval_result_free(EvalResult *r);

// ---- metric helpers (pure; what eval_run uses) ----------------------------------------------------

// Retrieval credit of one image: row (n) its scores against n references, own the true one.
// 1 when row[own] is strictly the highest, 1/m when m references (own among them) share the
// maximum, 0 otherwise.
double eval_top1_credit(const double *row, int n, int own);
// The attr head that a prompt kind is judged by (ATTR_SCENE / ATTR_ACCESSORY / ATTR_PROPERTY).
int eval_kind_head(PromptKind kind);
// Means of every metric over each group, summed in double in image order. n images.
void eval_summarize(const EvalImage *img, long n, EvalSummary *out);

// ---- files --------------------------------------------------------------------------------------

// FNV-1a 64 of a file's bytes. 0, or -1 with a reason (cannot open / read).
int eval_fnv1a64_file(const char *path, uint64_t *hash, char *err, size_t errlen);
uint64_t eval_fnv1a64(uint64_t h, const void *data, size_t n); // continue h (start: EVAL_FNV_OFFSET)
#define EVAL_FNV_OFFSET 0xcbf29ce484222325ull

// Provenance written into results.json next to the config.
typedef struct {
    const char *model;       // the model file's name (no directory)
    uint64_t model_fnv;      // FNV-1a 64 of its bytes
    const char *weights;     // which weights of the file: "model", "ema" (pretraining checkpoint), "policy"
    int n_files;
    const char *files[8];    // reward and judge files (names) and their checksums
    uint64_t file_fnv[8];
} EvalProvenance;

// The distinct weights files behind the judges of EvalJudges (in their order) and their FNV-1a 64
// checksums, into p->files / file_fnv / n_files (names point at static strings). 0, or -1 with a
// reason (a file that cannot be read).
int eval_judge_files(EvalProvenance *p, const char *models_dir, char *err, size_t errlen);

// results.json as text (malloc'd): format, settings, the evaluated subjects, metrics per group.
// Fixed key order and number formats (%.6f; null for NaN), so equal runs give equal bytes.
char *eval_results_json(const EvalResult *r, const EvalProvenance *p);
// Its "settings" object alone as compact JSON (malloc'd): what a results.json of this config, image
// side and provenance holds, so a caller can tell whether a stored evaluation is still valid.
char *eval_settings_json(const EvalConfig *c, int S, const EvalProvenance *p);
// One JSON object per image (images.jsonl), in image order. malloc'd text.
char *eval_images_jsonl(const EvalResult *r);
// The image grid of one kind: per evaluated subject with images of that kind (up to 10 rows) the
// reference, then its first (up to 6) images of that kind in (template, k) order, zoomed z times.
// Returns 1 when written, 0 when no image has that kind (nothing written), -1 with a reason.
int eval_write_grid(const EvalResult *r, PromptKind kind, int zoom, const char *path, char *err, size_t errlen);
// Every evaluated subject (a row: reference, then its first max_cols images of any kind in (template,
// k) order): the overview grid (grid_all.png). 1 when written, -1 with a reason.
int eval_write_grid_all(const EvalResult *r, int max_cols, int zoom, const char *path, char *err, size_t errlen);

// Read the metrics of a results.json (another run: the baseline). Every group and metric must be
// present (a number, or null for NaN). settings (may be NULL) receives its "settings" object as
// compact JSON text (malloc'd; NULL when the file has none). 0, or -1 with a reason.
int eval_read_summary(const char *path, EvalSummary *out, char **settings, char *err, size_t errlen);
// v as results.json stores it (printed with 6 decimals and read back), so that a value computed now
// compares with a stored one like with like: the same images give a delta of exactly 0.
double eval_as_stored(double v);
// Paired standard errors against a baseline run's images.jsonl: for every metric and group, the
// standard error sd(d) / sqrt(n) of the per-image differences d = this - baseline over the images
// of r (matched by subject, template and k). The runs draw image (s, t, k) from the same noise, so
// the paired error is far below the spread of the images themselves. Only when the file holds every
// image of r: returns r->n_images; when the file is missing or lacks an image of r: 0 and se all
// NaN (no pairing possible); a group with fewer than 2 images gets NaN. -1 with a reason for a
// malformed line.
long eval_paired_se(const char *images_jsonl, const EvalResult *r, double se[EVAL_N_GROUPS][EVAL_N_METRICS], char *err,
                    size_t errlen);
// Compare two "settings" objects (JSON text, or whole results.json texts) key by key, ignoring the
// model's own keys (model, model_fnv1a64, weights): writes "steps 10 vs 20; seed 0 vs 1" into out
// and returns the number of keys that differ (-1 when a text is not a JSON object).
int eval_settings_diff(const char *a, const char *b, char *out, size_t len);

#endif
