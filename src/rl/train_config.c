// train_config.c: the trainer's config (rl/trainer.h): the key table that config files, the command
// line and checkpoints share, the presets, the defaults (the main job's; how they were chosen is in
// docs/tuning.md), resolution and checks, and the pieces of the config as the modules take them.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/check.h"
#include "flow/schedule.h"
#include "models/dit_lora.h"
#include "rl/reward_http.h"
#include "rl/trainer.h"
#include "train/data.h"

// ---- the config --------------------------------------------------------------------------------------

#define K(name, type, lo, hi, help) {#name, type, offsetof(TrainConfig, name), lo, hi, NULL, help}
#define C(name, words, help) {#name, CONFIG_CHOICE, offsetof(TrainConfig, name), 0, 0, words, help}
#define STR(name, help) {#name, CONFIG_STRING, offsetof(TrainConfig, name), 0, 0, NULL, help}
static const ConfigKey TRAIN_KEYS[] = {
    C(preset, TRAIN_PRESET_WORDS, "sets shaping, weighting, gamma, w_id, w_prompt first; keys override"),
    K(seed, CONFIG_U64, 0, 0, "rollouts and timestep subsets"),
    K(subjects_seed, CONFIG_U64, 0, 0, "SubjectBench population"),
    K(iterations, CONFIG_INT, 0, 1000000000, "total iterations"),
    K(pairs, CONFIG_INT, 1, 4096, "P: (subject, prompt) pairs per iteration"),
    K(group_size, CONFIG_INT, 2, 1024, "G: images per pair (one group)"),
    K(steps, CONFIG_INT, 1, 1000, "N: denoising steps of a rollout"),
    K(shift, CONFIG_FLOAT, 0.01, 100, "time shift of the sigma schedule"),
    C(sampler, TRAIN_SAMPLER_WORDS, "rollout SDE: dance (DanceGRPO) or flow (Flow-GRPO)"),
    K(eta, CONFIG_FLOAT, 0, 10, "SDE noise level; 0 = the sampler's default (dance 0.4, flow 0.7)"),
    K(shared_noise, CONFIG_INT, 0, 1, "1: the samples of a group start from the same noise"),
    K(cfg_ref, CONFIG_FLOAT, -100, 100, "guidance scale of the reference (1 1 = no guidance)"),
    K(cfg_txt, CONFIG_FLOAT, -100, 100, "guidance scale of the prompt"),
    K(ref_poses, CONFIG_INT, 1, DATA_MAX_POSES, "reference photo drawn from [0, ref_poses)"),
    C(reward_id, TRAIN_REWARD_ID_WORDS, "identity reward (its file in the rewards directory)"),
    C(reward_prompt, TRAIN_REWARD_PROMPT_WORDS, "prompt reward"),
    STR(http_url, "reward server of the http rewards (docs/reward_protocol.md)"),
    STR(http_id_reward, "the server's name of the identity reward (reward_id = http)"),
    STR(http_prompt_reward, "the server's name of the prompt reward (reward_prompt = http)"),
    C(http_format, REWARD_HTTP_FORMAT_WORDS, "images sent as 8-bit PNG or exact float32"),
    K(http_batch, CONFIG_INT, 1, 65536, "images per request to the reward server"),
    K(http_timeout_ms, CONFIG_INT, 1, 86400000, "timeout of one request (ms)"),
    K(http_retries, CONFIG_INT, 0, 100, "retries of a request without answer or with HTTP 5xx"),
    STR(http_api_key_env, "environment variable with the server's API key (bearer); empty: none"),
    C(shaping, "naive|sars|harmonic|min|max", "advantage aggregation"),
    C(weighting, "static|tdw", "per-step weights of the two rewards"),
    K(gamma, CONFIG_FLOAT, -100, 100, "bonus scale of sars / harmonic"),
    K(w_id, CONFIG_FLOAT, -100, 100, "static weight of the identity advantage"),
    K(w_prompt, CONFIG_FLOAT, -100, 100, "static weight of the prompt advantage"),
    K(adv_clamp, CONFIG_FLOAT, 1e-6, 1e6, "advantages are clamped to [-adv_clamp, adv_clamp]"),
    K(timestep_fraction, CONFIG_FLOAT, 1e-6, 1, "share of each trajectory's steps trained per epoch"),
    K(inner_epochs, CONFIG_INT, 1, 1000, "update epochs over each iteration's rollouts"),
    K(groups_per_step, CONFIG_INT, 0, 4096, "groups accumulated per optimizer step; 0 = all"),
    K(clip_eps, CONFIG_FLOAT, 0, 10, "PPO clip range: ratio clipped to [1 - eps, 1 + eps]"),
    K(kl_beta, CONFIG_FLOAT, 0, 1e6, "KL to the frozen base policy; 0 = none"),
    K(lr, CONFIG_FLOAT, 0, 1, "AdamW learning rate (constant)"),
    K(beta1, CONFIG_FLOAT, 0, 0.99999, "AdamW"),
    K(beta2, CONFIG_FLOAT, 0, 0.9999999, "AdamW"),
    K(adam_eps, CONFIG_FLOAT, 0, 1, "AdamW"),
    K(weight_decay, CONFIG_FLOAT, 0, 10, "AdamW, matrices only"),
    K(grad_clip, CONFIG_FLOAT, 0, 1e6, "global gradient norm clip; 0 = off"),
    K(ckpt_every, CONFIG_INT, 0, 1000000000, "iterations between checkpoints; 0 = only at the end"),
    K(sample_every, CONFIG_INT, 0, 1000000000, "iterations between sample grids; 0 = none"),
    K(cos_every, CONFIG_INT, 0, 1000000000, "iterations between gradient-cosine diagnostics; 0 = none"),
    C(grad_order, TRAIN_GRAD_ORDER_WORDS, "gradient sum: steps (one process) or groups (any number of MPI ranks)"),
    K(lora_rank, CONFIG_INT, 0, DIT_LORA_MAX_RANK, "0: fine-tune every weight; R: train rank-R LoRA adapters, base frozen"),
    K(lora_alpha, CONFIG_FLOAT, 0, 1e6, "LoRA scale alpha / R; 0 = the rank (scale 1)"),
    STR(lora_targets, "the linears of every block that get adapters: any of " DIT_LORA_TARGETS_DEFAULT),
};
#undef K
#undef C
#undef STR
#define N_TRAIN_KEYS ((int)(sizeof(TRAIN_KEYS) / sizeof(TRAIN_KEYS[0])))

const ConfigKey *train_config_keys(int *n) {
    *n = N_TRAIN_KEYS;
    return TRAIN_KEYS;
}

static const char *const PRESET_NAMES[TRAIN_N_PRESETS] = {"customized", "naive-1-1", "naive-1-1.5", "sars-only",
                                                           "tdw-only"};
static const char *const REWARD_ID_NAMES[] = {"id", "judge-id", "judge-id-plain", "judge-clip-i", "id-pix", "http"};
static const char *const REWARD_PROMPT_NAMES[] = {"prompt", "judge-clip-t", "attr", "http"};

int train_preset_parse(const char *name) {
    for (int p = 0; p < TRAIN_N_PRESETS; p++)
        if (strcmp(name, PRESET_NAMES[p]) == 0) return p;
    return -1;
}

const char *train_preset_name(int preset) {
    return preset >= 0 && preset < TRAIN_N_PRESETS ? PRESET_NAMES[preset] : NULL;
}

void train_preset_apply(TrainConfig *c, int preset) {
    CG_CHECK(preset >= 0 && preset < TRAIN_N_PRESETS, "preset %d", preset);
    c->preset = preset;
    c->gamma = 0.4f, c->w_id = 0.5f, c->w_prompt = 0.5f;
    switch (preset) {
    case TRAIN_PRESET_CUSTOMIZED: c->shaping = SHAPING_SARS, c->weighting = WEIGHTING_TDW; break;
    case TRAIN_PRESET_NAIVE_1_1: c->shaping = SHAPING_NAIVE, c->weighting = WEIGHTING_STATIC; break;
    case TRAIN_PRESET_NAIVE_1_1_5:
        c->shaping = SHAPING_NAIVE, c->weighting = WEIGHTING_STATIC, c->w_id = 0.4f, c->w_prompt = 0.6f;
        break;
    case TRAIN_PRESET_SARS_ONLY: c->shaping = SHAPING_SARS, c->weighting = WEIGHTING_STATIC; break;
    case TRAIN_PRESET_TDW_ONLY: c->shaping = SHAPING_NAIVE, c->weighting = WEIGHTING_TDW; break;
    }
}

TrainConfig train_config_default(void) {
    TrainConfig c;
    memset(&c, 0, sizeof c);
    train_preset_apply(&c, TRAIN_PRESET_CUSTOMIZED);
    // The defaults are the main job's; how they were chosen (on VAL, never on TEST) is in
    // docs/tuning.md. One optimizer step per iteration (groups_per_step 0) keeps every ratio at 1, so
    // the 1e-4 clip never discards a group.
    c.seed = 1, c.subjects_seed = WORLD_DEFAULT_SUBJECTS_SEED, c.iterations = 40;
    c.pairs = 4, c.group_size = 8, c.steps = 10, c.shift = FLOW_DEFAULT_SHIFT, c.sampler = 0, c.eta = 0.7f;
    c.shared_noise = 0, c.cfg_ref = 1.0f, c.cfg_txt = 1.0f, c.ref_poses = 6;
    c.reward_id = 0, c.reward_prompt = 0, c.adv_clamp = 5.0f;
    snprintf(c.http_url, sizeof c.http_url, "http://127.0.0.1:8123/score");
    snprintf(c.http_id_reward, sizeof c.http_id_reward, "id");
    snprintf(c.http_prompt_reward, sizeof c.http_prompt_reward, "prompt");
    c.http_format = REWARD_HTTP_PNG, c.http_batch = 64, c.http_timeout_ms = 60000, c.http_retries = 2;
    c.timestep_fraction = 0.6f, c.inner_epochs = 1, c.groups_per_step = 0, c.clip_eps = 1e-4f, c.kl_beta = 1.0f;
    c.lr = 1e-4f, c.beta1 = 0.9f, c.beta2 = 0.999f, c.adam_eps = 1e-8f, c.weight_decay = 1e-4f, c.grad_clip = 1.0f;
    c.ckpt_every = 10, c.sample_every = 50, c.cos_every = 10;
    c.lora_rank = 0, c.lora_alpha = 0.0f;
    snprintf(c.lora_targets, sizeof c.lora_targets, "%s", DIT_LORA_TARGETS_DEFAULT);
    return c;
}

static flow_kind sampler_kind(const TrainConfig *c) { return c->sampler == 1 ? FLOW_SDE_FLOW : FLOW_SDE_DANCE; }

void train_config_resolve(TrainConfig *c) {
    if (c->eta == 0.0f) c->eta = flow_kind_default_eta(sampler_kind(c));
}

const char *train_reward_id_name(const TrainConfig *c) {
    CG_CHECK(c->reward_id >= 0 && c->reward_id < (int)(sizeof REWARD_ID_NAMES / sizeof *REWARD_ID_NAMES), "reward_id %d",
             c->reward_id);
    return REWARD_ID_NAMES[c->reward_id];
}

const char *train_reward_prompt_name(const TrainConfig *c) {
    CG_CHECK(c->reward_prompt >= 0 && c->reward_prompt < (int)(sizeof REWARD_PROMPT_NAMES / sizeof *REWARD_PROMPT_NAMES),
             "reward_prompt %d", c->reward_prompt);
    return REWARD_PROMPT_NAMES[c->reward_prompt];
}

Reward *train_reward_create(const TrainConfig *c, int which, const char *rewards_dir, char *err, size_t errlen) {
    const char *name = which ? train_reward_prompt_name(c) : train_reward_id_name(c);
    if (strcmp(name, "http") != 0) return reward_create_by_name(name, rewards_dir, err, errlen);
    const RewardHttpConfig h = {c->http_url, which ? c->http_prompt_reward : c->http_id_reward, c->http_format,
                                c->http_batch, c->http_timeout_ms, c->http_retries, c->http_api_key_env};
    return reward_http_create(&h, err, errlen);
}

RolloutConfig train_rollout_config(const TrainConfig *c) {
    TrainConfig r = *c;
    train_config_resolve(&r);
    RolloutConfig rc = {sampler_kind(&r), r.eta, r.shared_noise, r.steps, r.shift, r.cfg_ref, r.cfg_txt, r.group_size,
                        r.ref_poses};
    return rc;
}

AdvConfig train_adv_config(const TrainConfig *c) {
    AdvConfig a = adv_config_default();
    a.shaping = (ShapingKind)c->shaping;
    a.weighting = (WeightingKind)c->weighting;
    a.n_rewards = 2;
    a.gamma = c->gamma, a.w_id = c->w_id, a.w_prompt = c->w_prompt, a.clamp = c->adv_clamp;
    return a;
}

int train_steps_per_epoch(const TrainConfig *c) {
    int k = (int)floor((double)c->timestep_fraction * c->steps + 1e-6);
    return k < 1 ? 1 : (k > c->steps ? c->steps : k);
}

int train_config_check(const TrainConfig *c, char *err, size_t errlen) {
    for (int i = 0; i < N_TRAIN_KEYS; i++) { // every key within its range (a struct filled by code)
        const ConfigKey *k = &TRAIN_KEYS[i];
        const char *f = (const char *)c + k->offset;
        if (k->type == CONFIG_INT || k->type == CONFIG_FLOAT) {
            double v = k->type == CONFIG_INT ? *(const int *)f : *(const float *)f;
            if (!(v >= k->lo && v <= k->hi))
                return cg_errf(err, errlen, "%s = %g is out of range [%g, %g]", k->key, v, k->lo, k->hi);
        } else if (k->type == CONFIG_CHOICE) {
            char w[CONFIG_MAX_VALUE];
            config_format(w, sizeof w, c, k);
            if (strcmp(w, "?") == 0) return cg_errf(err, errlen, "%s = %d is not one of %s", k->key, *(const int *)f, k->choices);
        }
    }
    RolloutConfig rc = train_rollout_config(c);
    if (rollout_config_check(&rc, err, errlen)) return -1;
    AdvConfig ac = train_adv_config(c);
    if (adv_config_check(&ac, err, errlen)) return -1;
    if (c->groups_per_step > c->pairs)
        return cg_errf(err, errlen, "groups_per_step = %d exceeds pairs = %d (0 = all groups)", c->groups_per_step, c->pairs);
    int targets;
    if (dit_lora_parse_targets(c->lora_targets, &targets, err, errlen)) return -1;
    return 0;
}

int train_key_is_resumable(const char *key) {
    static const char *const OK[] = {"iterations", "ckpt_every", "sample_every", "cos_every",
                                     "http_url", "http_timeout_ms", "http_retries", "http_api_key_env"};
    for (size_t i = 0; i < sizeof OK / sizeof OK[0]; i++)
        if (strcmp(key, OK[i]) == 0) return 1;
    return 0;
}
