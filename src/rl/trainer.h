// trainer.h: the Customized-GRPO training loop (docs/design.md, issue 6), as a library
// function over a config struct so that tests drive it exactly as `cgrpo train` does.
//
// One iteration it = 1, 2, ... (trainer.c reads top to bottom in this order):
//   1. rollouts    P (subject, prompt) pairs from the TRAIN subjects, a group of G images each
//                  from the SDE sampler, every transition and its log-prob stored (rl/rollout.h)
//   2. rewards     the identity reward and the prompt reward by name (rl/reward.h) on all P G images
//   3. advantages  per group: z-scores, shaping (naive / SARS / ...), weighting (static / TDW by
//                  the TRUE step index of each transition), clamp (rl/advantage.h); (G, N) per group
//   4. diagnostic  every cos_every iterations, before the update: the cosine between the policy
//                  gradients of the identity part and of the prompt part of the advantage (below)
//   5. update      inner_epochs epochs; in each, every group trains on a random subset of
//                  floor(timestep_fraction N) of its N steps (one subset per GROUP: the recompute
//                  must use the group's batch layout, so the G samples share their steps;
//                  DanceGRPO draws one per sample); micro-batch = one group at one step
//                  (rl/grpo.h); the micro-batches of groups_per_step groups are accumulated into
//                  one optimizer step (gradient accumulation; 0 = all groups: one step per epoch),
//                  then the global gradient norm is clipped and AdamW steps
//   6. log         one JSON line in DIR/metrics.jsonl, a progress line on stderr
//   7. samples     every sample_every iterations: DIR/samples/iter_NNNNNN.png
//   8. checkpoint  every ckpt_every iterations and at the end, atomically
//
// Gradient-cosine diagnostic. The advantage of sample b at step t is split into
//   identity part  w_id(t) A_id,   prompt part  w_pr(t) A_pr,   rest  A - both
// (A_id, A_pr the group z-scores, w the static or TDW weights; the rest is the SARS / harmonic
// bonus and whatever the clamp or min / max shaping change). With the rollout's weights (r = 1)
// the loss gradient is linear in the advantage, so g_id and g_pr are the gradients of the loss with
// the advantage replaced by the identity part alone and by the prompt part alone, over the
// micro-batches of epoch 0, no KL term. grad_cos_id_prompt = <g_id, g_pr> / (|g_id| |g_pr|): near
// -1 the two rewards pull the generator in opposite directions (null when a gradient is zero).
//
// Gradient signal. At the same iterations, grad_cos_halves is the cosine between the gradients of
// the full advantage over the first floor(P/2) groups and over the next floor(P/2) (null for P < 2).
// Each half's gradient is signal s plus independent noise n_h, so E cos ~ |s|^2 / (|s|^2 + E|n_h|^2):
// near 0 the update is mostly noise; the share of signal in the full batch's squared gradient is
// about 2c / (1 + c) for cosine c.
// Both cost four extra forward + backward passes of one epoch, hence every cos_every iterations.
//
// Randomness: every draw is a pure function of (seed, iteration, index): pairs and rollout noise
// (rollout.h), step subsets cg_rng_stream(TRAIN_STREAM_STEPS, iteration, epoch << 32 | p). The
// checkpoint holds the policy, both AdamW moments, the reference policy (when kl_beta > 0), the
// AdamW step and the iteration, so a run resumed from iteration k ends bit-identical to an
// uninterrupted one (tests/cli_train.sh kills a run with SIGKILL and compares files with cmp).
//
// Run directory (held with rundir_lock, DIR/.lock, for the whole run: a second training in DIR is
// refused with TRAIN_EINPUT):
//   DIR/config.cfg        the resolved config (`--resume` reads it back)
//   DIR/metrics.jsonl     one line per iteration: {"iteration", "reward_id_mean", "reward_id_std",
//                         "reward_prompt_mean", "reward_prompt_std", "both_pos", "conflict",
//                         "both_neg", "zero" (shares of the P G samples per quadrant of
//                         (A_id, A_pr)), "adv_mean_step" ([N] mean advantage per denoising step:
//                         the z-scores have group mean 0, so this is the mean SARS bonus, step by
//                         step only where the clamp acts), "adv_abs_step" ([N] mean |advantage|
//                         per step: TDW's shift shows here), "adv_abs_mean", "loss", "policy_loss", "clip_frac", "approx_kl" (k3,
//                         see grpo.h), "kl_ref", "ratio_min", "ratio_max", "grad_norm" (mean of the
//                         optimizer steps, before clipping), "grad_cos_id_prompt", "grad_cos_halves" (or null),
//                         "reward_id_gstd", "reward_prompt_gstd" (mean within-group std),
//                         "copy_dist", "copy_corr_id", "copy_corr_prompt", "copy_corr_adv" (does
//                         copying the reference pay? rl/diagnostics.h), "update_norm" (||delta
//                         theta|| of the iteration), "drift_norm" (||theta - theta_base||; with
//                         LoRA theta is the adapters', theta_base their initial values),
//                         "lr", "opt_step", "t_rollout", "t_reward", "t_diag", "t_update",
//                         "t_allreduce" (seconds; the last: the gradient sums across MPI ranks),
//                         "elapsed_s"}; a value that is not finite is written as null
//   DIR/ckpt.safetensors  sections model., adam_m., adam_v. (+ ref. with kl_beta > 0) and metadata:
//                         format, dit.*, iteration, opt_step, rng.*, cfg.<key> for every key,
//                         base_model, rewards_dir. With lora_rank > 0: sections lora., adam_m.,
//                         adam_v. of the adapters alone (no ref.: the reference is the base) and the
//                         lora.* keys with the base's hash; a resume reads the base from base_model
//                         and refuses one whose hash differs
//   DIR/model.safetensors at the end: the policy's weights (dit_save; `cgrpo sample --model` reads it);
//                         with LoRA the base with the adapters merged in
//   DIR/lora.safetensors  at the end, with LoRA: the adapters (`cgrpo sample --model BASE --lora`)
//   DIR/samples/iter_NNNNNN.png  4 VAL subjects (rows; templates 0, 7, 14, 21) x [reference | G
//                         ODE samples from fixed noise], at iteration 0 (the base model, fresh runs),
//                         every sample_every iterations and at the last iteration
//
// Failures: a NaN or Inf in a reward, an advantage, a loss, a gradient norm or the weights (checked
// after every update) stops the run with a one-line reason (TRAIN_ERUNTIME) naming the iteration
// and what was not finite, and leaves the last good checkpoint as it was; so does a failed write (a
// full disk: the metrics line, a sample grid or the checkpoint); so does a reward
// that fails (an http reward whose server does not answer in time, answers 5xx after the retries,
// or answers something else than one finite score per image: rl/reward_http.h). The iteration's
// metrics line, samples and checkpoint are then not written: `--resume DIR` redoes it.
#ifndef CGRPO_RL_TRAINER_H
#define CGRPO_RL_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "core/dist.h"
#include "core/fault.h"
#include "io/config.h"
#include "rl/advantage.h"
#include "rl/grpo.h"
#include "rl/reward.h"
#include "rl/rollout.h"

#define TRAIN_CKPT_FORMAT "cgrpo-grpo-ckpt-1"
#define TRAIN_CKPT_FILE "ckpt.safetensors"
#define TRAIN_MODEL_FILE "model.safetensors"
#define TRAIN_LORA_FILE "lora.safetensors"
#define TRAIN_CONFIG_FILE "config.cfg"
#define TRAIN_METRICS_FILE "metrics.jsonl"
#define TRAIN_SAMPLES_DIR "samples"
#define TRAIN_STREAM_STEPS 0x4752504f00000001ull // "GRPO" 1: timestep subsets

// Presets: the shaping and weighting of the paper's runs. Every preset has weights summing to 1,
// so all give advantages on the same scale (naive-1-1.5 is the paper's 1:1.5 id:prompt ratio
// normalized: 0.4 / 0.6).
//   customized   SARS (gamma 0.4) + TDW                     (the default; Customized-GRPO)
//   naive-1-1    naive, static w_id 0.5, w_prompt 0.5       (baseline 1:1)
//   naive-1-1.5  naive, static w_id 0.4, w_prompt 0.6       (baseline 1:1.5)
//   sars-only    SARS (gamma 0.4), static 0.5 / 0.5          (ablation)
//   tdw-only     naive + TDW                                 (ablation)
enum { TRAIN_PRESET_CUSTOMIZED, TRAIN_PRESET_NAIVE_1_1, TRAIN_PRESET_NAIVE_1_1_5, TRAIN_PRESET_SARS_ONLY,
       TRAIN_PRESET_TDW_ONLY, TRAIN_N_PRESETS };
#define TRAIN_PRESET_WORDS "customized|naive-1-1|naive-1-1.5|sars-only|tdw-only"
#define TRAIN_SAMPLER_WORDS "dance|flow"
#define TRAIN_REWARD_ID_WORDS "id|judge-id|judge-id-plain|judge-clip-i|id-pix|http"
#define TRAIN_REWARD_PROMPT_WORDS "prompt|judge-clip-t|attr|http"

typedef struct {
    int preset;              // TRAIN_PRESET_*: applied first, the keys below may override it
    uint64_t seed;           // rollouts, step subsets (the policy starts from the base model)
    uint64_t subjects_seed;  // the SubjectBench population
    int iterations;          // total iterations
    // rollouts
    int pairs;               // P, (subject, prompt) pairs per iteration
    int group_size;          // G, images per pair
    int steps;               // N, denoising steps
    float shift;             // sigma schedule time shift
    int sampler;             // 0 dance, 1 flow (TRAIN_SAMPLER_WORDS)
    float eta;               // SDE noise level; 0 = the sampler's default (dance 0.4, flow 0.7)
    int shared_noise;        // 1: a group starts from one shared noise
    float cfg_ref, cfg_txt;  // guidance scales (1 1 = none)
    int ref_poses;           // reference pose drawn from [0, ref_poses)
    // rewards and advantages
    int reward_id;           // index into TRAIN_REWARD_ID_WORDS
    int reward_prompt;       // index into TRAIN_REWARD_PROMPT_WORDS
    // the http reward (rl/reward_http.h) of reward_id = http and / or reward_prompt = http: one
    // server, which computes the reward named http_id_reward or http_prompt_reward
    char http_url[CONFIG_MAX_VALUE];
    char http_id_reward[CONFIG_MAX_VALUE], http_prompt_reward[CONFIG_MAX_VALUE];
    int http_format;         // REWARD_HTTP_PNG / REWARD_HTTP_F32
    int http_batch;          // images per request
    int http_timeout_ms, http_retries;
    char http_api_key_env[CONFIG_MAX_VALUE]; // "" or the environment variable holding the API key
    int shaping;             // ShapingKind
    int weighting;           // WeightingKind
    float gamma, w_id, w_prompt, adv_clamp;
    // policy update
    float timestep_fraction; // share of each trajectory's steps trained per epoch
    int inner_epochs;
    int groups_per_step;     // groups accumulated per optimizer step; 0 = all P
    float clip_eps, kl_beta;
    float lr, beta1, beta2, adam_eps, weight_decay, grad_clip;
    // output
    int ckpt_every;          // 0: only at the end
    int sample_every;        // 0: no sample grids
    int cos_every;           // 0: no gradient-cosine diagnostic
    int grad_order;          // TRAIN_GRAD_ORDER_*: how the update sums the gradients of its groups
    // LoRA (models/dit_lora.h): lora_rank 0 fine-tunes every weight; R > 0 trains rank-R adapters of
    // the lora_targets linears on the frozen base, scale lora_alpha / R (lora_alpha 0: the rank).
    // The optimizer, the clipping, the diagnostics' gradients and the sums over MPI ranks then run
    // over the adapters' buffers alone; every rank builds the same adapters from seed.
    int lora_rank;
    float lora_alpha;
    char lora_targets[CONFIG_MAX_VALUE];
} TrainConfig;

// grad_order: "steps" adds every (group, step) term into one gradient buffer as it comes (one process
// only; the order of the results published so far); "groups" sums each group's terms from zero and
// then the groups in group order, which a data-parallel run reproduces bit for bit on any number of
// ranks (core/dist.h). Under mpirun with more than one rank, train_run uses "groups".
#define TRAIN_GRAD_ORDER_WORDS "steps|groups"
#define TRAIN_GRAD_ORDER_STEPS 0
#define TRAIN_GRAD_ORDER_GROUPS 1

// The defaults (the main job's, chosen on VAL; trainer.c): preset customized, seed 1, P 4, G 8,
// N 10, dance with eta 0.7, own noise per sample (shared_noise 0), no guidance, 6 reference poses,
// fraction 0.6, 1 epoch, all groups in one optimizer step (groups_per_step 0), eps 1e-4, KL beta 1,
// lr 1e-4, AdamW 0.9 / 0.999 / 1e-8 / 1e-4, clip 1; ckpt every 10, samples every 50, cosine every
// 10, 40 iterations. (eta 0 would mean the sampler's default, 0.4 for dance, once
// train_config_resolve ran; train_run resolves its copy.)
TrainConfig train_config_default(void);
const ConfigKey *train_config_keys(int *n);
// Set the shaping, weighting, gamma and weights of preset `p` (and cfg->preset).
void train_preset_apply(TrainConfig *cfg, int preset);
// The preset index of a name, or -1.
int train_preset_parse(const char *name);
const char *train_preset_name(int preset);
// Replace eta = 0 by the sampler's default (idempotent).
void train_config_resolve(TrainConfig *cfg);
// 0, or -1 with a one-line reason naming the key.
int train_config_check(const TrainConfig *cfg, char *err, size_t errlen);
// 1 for the keys a resumed run may change (TRAIN_RESUMABLE_TEXT: the http reward's transport may
// move, the results do not depend on it).
int train_key_is_resumable(const char *key);
#define TRAIN_RESUMABLE_TEXT "iterations, ckpt_every, sample_every, cos_every, http_url, http_timeout_ms, " \
                             "http_retries and http_api_key_env"
// The reward names of the config ("id", "prompt", ..., "http").
const char *train_reward_id_name(const TrainConfig *cfg);
const char *train_reward_prompt_name(const TrainConfig *cfg);
// The identity (which 0) or prompt (which 1) reward of the config: a built-in one from rewards_dir,
// or the http reward on the config's http_* keys. NULL with a one-line reason.
Reward *train_reward_create(const TrainConfig *cfg, int which, const char *rewards_dir, char *err, size_t errlen);
// The pieces of the config as the modules take them.
RolloutConfig train_rollout_config(const TrainConfig *cfg);
AdvConfig train_adv_config(const TrainConfig *cfg);
// Steps trained per group and epoch: floor(timestep_fraction N), at least 1.
int train_steps_per_epoch(const TrainConfig *cfg);

typedef struct {
    const char *dir;          // the run directory (created; a fresh run refuses one holding a checkpoint)
    int resume;               // 1: continue from DIR/ckpt.safetensors (cfg: DIR/config.cfg, resumable keys changed)
    int progress;             // 1: a progress line per iteration on stderr
    const char *model_path;   // base generator: the initial policy and the KL reference (fresh runs)
    const char *rewards_dir;  // recorded in the checkpoint (may be NULL)
    Reward *reward_id;        // borrowed; train_reward_create(cfg, 0, ...) or a custom one
    Reward *reward_prompt;    // borrowed
    int stop_after;           // > 0: stop after this iteration with a checkpoint, as if interrupted
    int kill_at;              // > 0 (tests): raise(SIGKILL) after the first optimizer step of this iteration
    int nan_loss_at;          // > 0 (tests): the first micro-batch loss of this iteration reads as NaN
    int forward_cache_mb;     // memory for the rollout's forwards that the update reuses instead of
                              // recomputing (rl/forward_cache.h; the results are the same); 0: none
    const Dist *dist;         // the data-parallel processes (core/dist.h); NULL: one process
    int kill_rank;            // the rank that kill_at kills (tests; 0 in one process)
    TestFault fault;          // tests: a NaN or Inf in a loss, reward, advantage or weight (core/fault.h)
} TrainRun;

// The CLI's default for TrainRun.forward_cache_mb: 15 of the defaults' 24 trained forwards (a slot
// is about 100 MiB), so that the main job stays within 2 GiB (issue 19).
#define TRAIN_FORWARD_CACHE_MB 1536

typedef struct {
    int start_iteration, end_iteration; // 0 or the checkpoint's; the last one completed
    int iterations_run;
    double t_rollout, t_reward, t_diag, t_update, t_total; // seconds summed over this call's iterations
    double last_loss, last_grad_norm;
} TrainResult;

#define TRAIN_OK 0
#define TRAIN_ERUNTIME 1 // NaN/Inf, I/O failure: exit status 1
#define TRAIN_EINPUT 2   // bad config, model, rewards or checkpoint: exit status 2

int train_run(const TrainConfig *cfg, const TrainRun *run, TrainResult *res, char *err, size_t errlen);

#endif
