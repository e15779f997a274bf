// pretrain.h: rectified-flow pretraining of the subject-driven DiT (issue 4, docs/design.md),
// as a library function over a config struct so that tests drive it like `cgrpo pretrain` does.
//
// One step s = 1, 2, ...:
//   batch    data_make_train(seed, s) (train/data.h): B (reference, prompt, target) triples from the
//            TRAIN subjects, sigma ~ logit-normal, noise, CFG dropout of reference and prompt
//   loss     dit_flow_loss: mean (v(x_s) - (e - x0))^2, x_s = (1 - sigma) x0 + sigma e
//   clip     global gradient norm to grad_clip (the norm before clipping is logged)
//   AdamW    lr(s) = lr * min(1, s / warmup), then constant or cosine down to lr * lr_min_ratio
//            at s = steps; weight decay only on matrices (the table's decay flag)
//   EMA      ema = d ema + (1 - d) params with d(s) = min(ema_decay, (1 + s) / (10 + s)) when
//            ema_warmup (the decay warms up so that early EMA weights are not stuck at the
//            random init), else d = ema_decay
//   every val_every steps (and at step 0): the loss on a FIXED validation set (val_samples
//            samples of VAL subjects, their noise and sigma from val_seed; no dropout) with the
//            EMA weights and with the raw weights
//   every log_every steps: one JSON line in DIR/metrics.jsonl and a progress line
//   every ckpt_every steps and at the end: DIR/ckpt.safetensors, atomically
//   at the end: DIR/model.safetensors = the EMA weights (dit_save), the recipe in its metadata.
//   PretrainRun.stop_at ends a call early at a given step with the same outputs (the shipped base
//   model is the step-K model of the configs/pretrain_base.cfg schedule; see README).
//
// Run directory:
//   DIR/config.cfg        the resolved config (io/config.h format; `--resume` reads it back)
//   DIR/metrics.jsonl     {"step":..,"loss":..,"lr":..,"grad_norm":..,["val_loss_ema":..,
//                          "val_loss_raw":..,]"images_per_s":..,"elapsed_s":..}; loss and grad_norm
//                         are means over the steps since the previous line
//   DIR/ckpt.safetensors  sections model., ema., adam_m., adam_v. + metadata: dit.* and kind (so
//                         dit_load_section(path, "ema.") reads the EMA model out of it), cfg.<key>
//                         for every config key, step, rng.* (the data stream's counter state:
//                         seed, stream tag, index = step), format = PRETRAIN_CKPT_FORMAT
//   DIR/model.safetensors the EMA weights under their plain names + dit.* + cfg.<key> + step
//
// Resume: every draw of step s is a pure function of (seed, s, b), so the checkpoint's step is the
// whole data cursor; weights, EMA and both AdamW moments are restored exactly, and a run of 2N
// steps is bit-identical to a run of N steps resumed for N more (tests/cli_pretrain.sh compares
// the files with cmp). Results are bit-identical for any thread count. Only the keys that
// pretrain_key_is_resumable accepts may differ between the checkpoint and the resumed config;
// with lr_schedule = cosine, raising `steps` stretches the remaining schedule (a note says so).
#ifndef CGRPO_TRAIN_PRETRAIN_H
#define CGRPO_TRAIN_PRETRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "core/dist.h"
#include "core/check.h"
#include "core/fault.h"
#include "io/config.h"
#include "models/dit.h"
#include "train/data.h"

#define PRETRAIN_CKPT_FORMAT "cgrpo-pretrain-ckpt-1" // metadata "format" of DIR/ckpt.safetensors
#define PRETRAIN_CKPT_FILE "ckpt.safetensors"
#define PRETRAIN_MODEL_FILE "model.safetensors"
#define PRETRAIN_CONFIG_FILE "config.cfg"
#define PRETRAIN_METRICS_FILE "metrics.jsonl"

enum { LR_CONSTANT = 0, LR_COSINE = 1 };

typedef struct {
    // architecture (DiTConfig; vocab comes from the tokenizer, channels are 3)
    int img, patch, width, depth, heads, text_len, tdim;
    // data
    uint64_t seed;          // model init and the data stream
    uint64_t subjects_seed; // the SubjectBench population
    int batch;
    int ref_poses;
    float p_drop_ref, p_drop_txt;
    float sigma_loc, sigma_scale;
    // optimization
    int steps;
    float lr;
    int warmup;            // linear warm-up steps
    int lr_schedule;       // LR_CONSTANT or LR_COSINE (after the warm-up)
    float lr_min_ratio;    // cosine floor as a fraction of lr
    float beta1, beta2, adam_eps, weight_decay;
    float grad_clip;       // global norm; 0 disables clipping
    float ema_decay;
    int ema_warmup;        // 0/1
    // validation, logging, checkpoints
    int val_samples;
    uint64_t val_seed;
    int val_every, log_every, ckpt_every; // 0 disables val / ckpt (log_every >= 1)
} PretrainConfig;

// The defaults above (width 128, depth 6, heads 4, batch 16, lr 3e-4, warm-up 500, constant,
// clip 1, EMA 0.999 with warm-up, logit-normal(0, 1), dropout 0.1 / 0.1, 128 val samples).
PretrainConfig pretrain_config_default(void);
// The key table (io/config.h) of PretrainConfig, in file order.
const ConfigKey *pretrain_config_keys(int *n);
// 0, or -1 with a one-line reason naming the key (ranges, width % heads, img % patch, ...).
int pretrain_config_check(const PretrainConfig *c, char *err, size_t errlen);
// 1 for the keys a resumed run may change (steps, log_every, val_every, ckpt_every).
int pretrain_key_is_resumable(const char *key);
DiTConfig pretrain_dit_config(const PretrainConfig *c);
DataConfig pretrain_data_config(const PretrainConfig *c);

// Learning rate of step s (1-based).
float pretrain_lr_at(const PretrainConfig *c, int step);
// EMA decay after step s (1-based): min(decay, (1 + s) / (10 + s)) when warmup, else decay.
float pretrain_ema_decay_at(float decay, int warmup, int step);
// ema (n) = d ema + (1 - d) p
void pretrain_ema_update(float *ema, const float *p, size_t n, float d);

typedef struct {
    const char *dir; // the run directory (created if missing; a fresh run refuses one holding a checkpoint)
    int resume;      // 1: continue from dir/ckpt.safetensors (cfg must be the run's config.cfg, possibly
                     // with resumable keys changed)
    int progress;    // 0: silent; 1: progress on stderr (a self-overwriting line on a terminal,
                     // a plain line per log interval otherwise)
    int stop_at;     // > 0: stop after this step (below cfg->steps) as if the run ended there: a
                     // validation, DIR/ckpt.safetensors and DIR/model.safetensors (the EMA weights of
                     // that step, metadata step = stop_at); --resume continues the schedule later.
                     // A checkpoint already at stop_at only writes the model. 0: run to cfg->steps
    TestFault fault; // tests: a NaN or Inf in the loss or the weights of one step (core/fault.h)
    const Dist *dist; // MPI ranks (core/dist.h): each trains its block of every batch's rows, the
                      // gradients are summed in rank order; rank 0 alone writes. NULL: one process
} PretrainRun;

typedef struct {
    int start_step, end_step;     // the step the run started from (0 or the checkpoint's) and reached
    double first_val_ema, first_val_raw; // the first validation of this run (NAN when none)
    double last_val_ema, last_val_raw;   // the last one (NAN when none)
    double last_loss;             // the loss of the last step (NAN when no step ran)
    double train_seconds;         // wall time of the training steps alone (no validation or I/O)
    int steps_run;                // steps this call ran
} PretrainResult;

// Runs the training described above. Returns CG_OK; CG_EINPUT with a one-line reason in err for a
// bad config or a missing, corrupt or mismatching checkpoint; CG_ERUNTIME for NaN/Inf or an I/O
// failure. res may be NULL.
CgStatus pretrain_run(const PretrainConfig *cfg, const PretrainRun *run, PretrainResult *res, char *err, size_t errlen);

// Loss of the fixed validation set (val batch slots [0, n)) for the model's current weights, in
// chunks of the model's max_B. Exposed for tests.
double pretrain_val_loss(DiTModel *m, const DataBatch *val, int n, float *work_xt, float *work_v);

#endif
