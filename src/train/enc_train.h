// enc_train.h: the training loop of the reward and evaluator encoders (`cgrpo train-encoder --kind
// id|clip|attr`): the models are models/encoder.h, their batches train/enc_data.h. See
// docs/design.md and docs/rewards.md.
//
// Determinism: batch `step` is a pure function of (seed, step) (item b of its renders and noise
// of (seed, step, b)), the model init of seed, and every layer is bit-identical for any thread
// count, so a run resumed from a checkpoint ends bit-identical to an uninterrupted one
// (tests/cli_train_encoder.sh compares the files with cmp).
#ifndef CGRPO_TRAIN_ENC_TRAIN_H
#define CGRPO_TRAIN_ENC_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/check.h"
#include "core/fault.h"
#include "io/checkpoint.h"
#include "io/config.h"
#include "models/encoder.h"
#include "train/enc_data.h"

// ---- training -----------------------------------------------------------------------------------

typedef struct {
    EncKind kind;
    ViTConfig vit;
    TextEncConfig text;     // clip only
    uint64_t subjects_seed; // the world (VAL subjects for model selection; TRAIN subjects)
    int worlds;             // TRAIN subjects of subjects seeds subjects_seed .. + worlds - 1 (default 1)
    EncPopulation population;
    uint64_t seed;          // model init and data
    int steps;              // total optimizer steps (the cosine schedule spans them)
    int batch;              // pairs (id, clip) or images (attr) per step
    int warmup;             // linear warmup steps
    float lr, lr_min;       // peak and final learning rate (cosine decay)
    float weight_decay, grad_clip;
    float noise;            // see EncData
    int property_views;     // see EncData (id)
    int aux_heads;          // id: identity-attribute heads (ID_AUX_*) trained next to InfoNCE;
                            // clip: prompt-attribute heads (ATTR_*) on the image tower
    float aux_weight;       // weight of their summed cross-entropies
    int curriculum;         // id: see EncData (0: off)
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
// The settings as a config table (io/config.h): RUN_DIR/config.cfg, --config files and the
// command line (`--embed-dim 64`) use these names. Keys: kind, population, worlds, subjects_seed,
// seed, the image tower (img, patch, width, depth, heads, embed_dim), the text tower (text_width,
// text_depth, text_heads), the data, optimization and schedule settings.
const ConfigKey *enc_train_config_keys(int *n);
// After setting keys: the fields that follow from them (the image tower's classification heads
// from aux_heads and kind, the text tower's embed_dim from the image tower's).
void enc_train_config_derive(EncTrainConfig *c);
// The stored config of a run directory for a resume, as `key = value` settings in the table's
// names handed to fn in file order: RUN_DIR/config.cfg, or RUN_DIR/config.txt for a run made
// before config.cfg existed; *file (may be NULL) names the one read. 0, 1 when the directory holds
// neither, -1 with a reason.
int enc_train_read_run_config(const char *run_dir, ConfigLineFn fn, void *ctx, const char **file, char *err,
                              size_t errlen);
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
    TestFault fault;         // tests: a NaN or Inf in the loss or the weights of one step (core/fault.h)
} EncTrainOptions;

// Train into run_dir (created if needed): config.cfg, metrics.jsonl, ckpt.safetensors and, at the
// end, model.safetensors (the weights of the best validation score, with provenance metadata).
// Returns CG_OK; CG_EINPUT with a reason for bad input (a config enc_train_config_check refuses, an
// unusable run directory, a missing, damaged or mismatched checkpoint on resume); CG_ERUNTIME with a
// reason for a runtime failure (non-finite loss or weights, checked after every step; a failed
// write), the last good checkpoint kept. run_dir is held with rundir_lock for the whole run (a
// second training in it is refused with CG_EINPUT).
CgStatus enc_train(const EncTrainConfig *c, const char *run_dir, const EncTrainOptions *o, char *err,
              size_t errlen);

#endif
