// encoders.h: the SubjectBench data that trains the reward and evaluator encoders (the models are
// models/encoder.h), and their training loop (`cgrpo train-encoder --kind id|clip|attr`). See
// docs/design.md and docs/rewards.md.
//
// Populations. The rewards and the evaluators train on disjoint halves of the TRAIN subjects of a
// subjects seed: ENC_POP_REWARD holds train subject i when i % 4 is 0 or 1, ENC_POP_JUDGE when it
// is 2 or 3. (Not "even / odd": world.h makes every even subject an object and every odd one a
// live subject, so an even/odd split would give the rewards no cat, dog or accessory at all. With
// i % 4 each half holds 100 objects and 100 live subjects.) VAL subjects select the model
// (the best validation score is what gets exported); TEST subjects are never seen in training.
//
// Determinism: batch `step` is a pure function of (seed, step) (item b of its renders and noise
// of (seed, step, b)), the model init of seed, and every layer is bit-identical for any thread
// count, so a run resumed from a checkpoint ends bit-identical to an uninterrupted one
// (tests/cli_train_encoder.sh compares the files with cmp).
#ifndef CGRPO_TRAIN_ENCODERS_H
#define CGRPO_TRAIN_ENCODERS_H

#include <stddef.h>
#include <stdint.h>

#include "io/checkpoint.h"
#include "models/encoder.h"
#include "world/prompts.h"
#include "world/world.h"

// ---- populations --------------------------------------------------------------------------------
typedef enum { ENC_POP_REWARD = 0, ENC_POP_JUDGE = 1, ENC_POP_ALL = 2 } EncPopulation;
const char *enc_population_name(EncPopulation p); // "reward", "judge", "all"
int enc_population_from_name(const char *name);   // -1 when unknown
// Does train subject `index` belong to population p?
int enc_population_has(EncPopulation p, int index);

// ---- training data ------------------------------------------------------------------------------

typedef struct {
    const Subject **pop; // (n) the population: TRAIN subjects of the worlds given to enc_data_init
    int n;
    int n_excluded;      // subjects of the extra worlds left out as too close to a VAL / TEST subject
    int S;              // image side
    uint64_t seed;      // data seed
    float noise;        // augmentation: each image gets N(0, sigma^2) pixel noise, sigma ~ U(0, noise)
    int property_views; // id: property-edited renders (red, purple, shiny, wet, cube) may be views
    long curriculum;    // id: > 0: the share of target views in a scene (not the plain studio)
                        // grows from 1/4 at step 0 to the uniform 20/21 at this step
    int look_alikes;    // id: > 0: a batch holds groups of this many subjects of one class (hard
                        // negatives side by side); 0: subjects drawn uniformly
    float focus;        // clip, attr: weight of accessory and property templates (others 1)
} EncData;

// The population is the `pop` half of the TRAIN split of worlds[0], then of worlds[1..n_worlds-1]
// (more subjects of the same kinds, for encoders that must generalize to unseen subjects). A
// subject of an extra world that differs from a VAL or TEST subject of worlds[0] in fewer than 2
// identity attributes is left out (n_excluded), the same margin the world keeps between its own
// TRAIN and TEST subjects (world.h), so that validation and test stay unseen. worlds must outlive d.
void enc_data_init(EncData *d, const World *worlds, int n_worlds, EncPopulation pop, int S, uint64_t seed,
                   float noise, int property_views);
// Subjects seed of world j of an encoder trained with `worlds`: subjects_seed + j.
uint64_t enc_world_seed(uint64_t subjects_seed, int j);
void enc_data_free(EncData *d);

// The B distinct population subjects of identity step `step` (B <= d->n). look_alikes k = 0: a
// uniform draw. k > 0: classes in a random order, each giving up to k of its subjects (drawn
// without replacement, adjacent in out), round after round until B are chosen.
void enc_id_subjects(const EncData *d, const Subject **out, long step, int B);

// Identity batch of step `step`: V views of the B subjects of enc_id_subjects, views (V B, S, S, 3) with row
// v B + b = view v of subject b, and labels (V B, ID_AUX_N_HEADS) their identity attributes, or
// NULL. View 0 is a segmented reference (40%), a plain reference (10%) or a target render (50%);
// views 1.. are target renders: poses 0..5, prompts of the subject's kind (scenes, accessories, the
// plain prompt; property edits only with property_views), random placements. B <= d->n.
void enc_id_batch(const EncData *d, float *views, int *labels, long step, int B, int V);

// CLIP batch: images (B, S, S, 3), tokens (B, TOK_MAX_TOKENS) and labels (B, ATTR_N_HEADS) or
// NULL: ENC_CLIP_GROUP prompts per subject (distinct templates among the 25 and the plain one,
// accessory and property templates weighted by d->focus), so that every image meets other prompts
// of the same subject in its batch, and no two equal prompt texts in one batch (unless one class
// has 7 or more subjects in it: 26 templates cannot go round, and its texts may then repeat).
#define ENC_CLIP_GROUP 4
void enc_clip_batch(const EncData *d, float *images, int *tokens, int *labels, long step, int B);
// Attribute batch: images (B, S, S, 3) and labels (B, ATTR_N_HEADS); templates drawn from the
// subject's 25 and the plain prompt, accessory and property ones with weight d->focus.
void enc_attr_batch(const EncData *d, float *images, int *labels, long step, int B);

// ---- training -----------------------------------------------------------------------------------

#define ENC_MAX_WORLDS 64

typedef struct {
    EncKind kind;
    ViTConfig vit;
    TextEncConfig text;     // clip only
    uint64_t subjects_seed; // the world (VAL subjects for model selection; TRAIN subjects)
    int worlds;             // TRAIN subjects of subjects seeds subjects_seed .. + worlds - 1 (default 1)
    EncPopulation population;
    uint64_t seed;          // model init and data
    long steps;             // total optimizer steps (the cosine schedule spans them)
    int batch;              // pairs (id, clip) or images (attr) per step
    int warmup;             // linear warmup steps
    float lr, lr_min;       // peak and final learning rate (cosine decay)
    float weight_decay, grad_clip;
    float noise;            // see EncData
    int property_views;     // see EncData (id)
    int aux_heads;          // id: identity-attribute heads (ID_AUX_*) trained next to InfoNCE;
                            // clip: prompt-attribute heads (ATTR_*) on the image tower
    float aux_weight;       // weight of their summed cross-entropies
    long curriculum;        // id: see EncData (0: off)
    int look_alikes;        // id: see EncData (0: off; stored in checkpoints only when > 0)
    int views;              // id: views per subject (2: InfoNCE between the two; more: enc_supcon, nn/loss.h)
    float focus;            // clip, attr: see EncData
    int eval_every;         // validation (and model selection) every N steps and at the end
    int ckpt_every;         // checkpoint every N steps and at the end
    int log_every;          // a JSONL metrics line every N steps
    int val_seeds;          // renders per (val subject, prompt) in validation
} EncTrainConfig;

// Defaults of the reward recipe of `kind` (see configs/*.cfg for the shipped recipes).
void enc_train_defaults(EncTrainConfig *c, EncKind kind);
int enc_train_config_check(const EncTrainConfig *c, char *err, size_t errlen);
// Every key that defines the run (the model config too): stored in checkpoints, compared on resume.
void enc_train_config_meta(const EncTrainConfig *c, CkptMeta *meta);

// The learning rate at 1-based `step`: linear warmup to lr, then cosine to lr_min at c->steps.
float enc_lr_at(const EncTrainConfig *c, long step);

typedef struct {
    int resume;              // continue from run_dir/ckpt.safetensors (its config must match)
    long stop_at;            // > 0: stop after this step (with a checkpoint), as if interrupted
    int progress;            // 1: a live progress line on stderr (a terminal); 0: one line per eval
    const char *export_path; // also write the exported weights here (NULL: only run_dir/model.safetensors)
} EncTrainOptions;

// Train into run_dir (created if needed): config.txt, metrics.jsonl, ckpt.safetensors and, at the
// end, model.safetensors (the weights of the best validation score, with provenance metadata).
// Returns 0; -2 with a reason for bad input (unusable run directory, missing, damaged or mismatched
// checkpoint on resume); -1 with a reason for a runtime failure (non-finite loss, failed write).
int enc_train(const EncTrainConfig *c, const char *run_dir, const EncTrainOptions *o, char *err,
              size_t errlen);

#endif
