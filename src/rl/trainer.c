// trainer.c: the Customized-GRPO training loop. See trainer.h; train_run at the bottom reads top to
// bottom in the order of an iteration.
#include "rl/trainer.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "core/rng.h"
#include "core/timer.h"
#include "flow/schedule.h"
#include "io/checkpoint.h"
#include "io/rundir.h"
#include "io/sheet.h"
#include "models/dit_lora.h"
#include "nn/blas_info.h"
#include "rl/diagnostics.h"
#include "rl/reward_http.h"
#include "train/data.h"

// ---- small helpers -----------------------------------------------------------------------------------

// A JSON number, or null when it is not finite.
static void json_num(FILE *f, const char *key, double v) {
    if (isfinite(v)) fprintf(f, ",\"%s\":%.7g", key, v);
    else fprintf(f, ",\"%s\":null", key);
}

// A JSON array of n numbers (null where not finite).
static void json_array(FILE *f, const char *key, const double *v, int n) {
    fprintf(f, ",\"%s\":[", key);
    for (int t = 0; t < n; t++) {
        if (isfinite(v[t])) fprintf(f, "%s%.6g", t ? "," : "", v[t]);
        else fprintf(f, "%snull", t ? "," : "");
    }
    fputc(']', f);
}

// ---- the trainer's state -----------------------------------------------------------------------------

typedef struct {
    const TrainConfig *cfg;
    const TrainRun *run;
    const Dist *dist;         // the ranks (run->dist, or one process)
    int p0, p1;               // this rank's groups [p0, p1) (core/dist.h dist_block)
    RolloutConfig rc;
    AdvConfig ac;
    GrpoConfig gc;
    int P, G, N, K;           // pairs, group size, steps, steps trained per group and epoch
    size_t n;                 // floats per image
    DiTModel policy, ref;     // the policy and (kl_beta > 0) the frozen reference
    int has_ref;
    DiTLora lora;             // lora_rank > 0: the adapters, attached to the policy (the base frozen)
    int has_lora;
    // what the optimizer trains: the policy's buffers, or the adapters' with LoRA (the gradients
    // that the update clips, sums over the ranks and steps with AdamW)
    const ParamTable *tt;
    float *tp, *tg, *tm, *tv; // (tt->total) params, grads, AdamW moments
    World *world;
    float *sigmas;            // (N + 1)
    RolloutBatch rb;          // this iteration's rollouts
    RolloutBatch preview;     // the sample grids' VAL pairs (sample_every > 0)
    float *scores;            // (2, P G) rows: identity, prompt
    float *z;                 // (P, G, 2) group z-scores
    float *adv;               // (P, G, N) advantages
    float *part_id, *part_pr; // (P, G, N) identity and prompt parts of the advantage (diagnostic)
    float *adv_col;           // (G) advantages of one group at one step
    int *subset;              // (P, K) the steps each group trains in the current epoch, ascending
    float *g_id;              // (params) the diagnostic's identity-part gradient
    float **g_group;          // grad_order groups: (p1 - p0) x (params) this rank's per-group gradients
    GrpoStats *st_group;      // grad_order groups: (P) per-group statistics of one micro-batch
    float *theta_prev;        // (params) the policy before this iteration's update (update_norm)
    float *theta_base;        // (params) the base generator (drift_norm), NULL when unknown on resume
    GrpoWork work;
    ForwardCache fc;          // the rollout's forwards of epoch 0's trained steps (rl/forward_cache.h)
    int opt_step;             // AdamW steps taken (1-based inside adamw_step)
    double t_comm;            // seconds in the gradient reduction across ranks this iteration
    int saved_iter;           // iteration of the checkpoint on disk, -1 when none
    char base_model[1024], rewards_dir[1024];
    char ckpt_path[4200], model_path[4200], lora_path[4200], config_path[4200], metrics_path[4200], samples_dir[4200];
    RunLog log;               // DIR/metrics.jsonl (rank 0)
    int lock_fd;              // DIR/.lock (rank 0; -1 when not held)
} Trainer;

typedef struct { // what one iteration logs
    double r_mean[2], r_std[2];
    int quad[ADV_N_QUADRANTS];
    double *adv_step;         // (N) mean advantage per step
    double *adv_abs_step;     // (N) mean |advantage| per step
    double adv_abs;
    GrpoStats gs;
    double gn_sum;
    int n_opt;
    double cos;
    double cos_halves;        // gradient cosine between the two halves of the groups (trainer.h)
    RolloutDiag diag;         // within-group spread, copy correlations (rl/diagnostics.h)
    double update_norm;       // ||theta after - theta before|| of this iteration
    double drift_norm;        // ||theta - theta base|| after it
    double t_rollout, t_reward, t_diag, t_update;
    double t_allreduce;       // of t_diag + t_update: the gradient sums across ranks (and waiting for them)
} IterStats;

static void kept_note(char *buf, size_t len, const Trainer *T) {
    rundir_kept_note(buf, len, "iteration", T->saved_iter, T->ckpt_path);
}

// The DiTVelocity of group p with model m (the policy or the reference).
static DiTVelocity group_velocity(const Trainer *T, DiTModel *m, int p) {
    const size_t r0 = (size_t)p * T->G;
    DiTVelocity v = {m, T->rb.ref + r0 * T->n, T->rb.model_tokens + r0 * (size_t)T->rb.text_len, T->rc.s_ref,
                     T->rc.s_txt};
    return v;
}

// ---- checkpoints -------------------------------------------------------------------------------------

static void config_to_meta(const TrainConfig *c, CkptMeta *meta) {
    int nk;
    const ConfigKey *keys = train_config_keys(&nk);
    for (int i = 0; i < nk; i++) {
        char key[96], v[CONFIG_MAX_VALUE];
        snprintf(key, sizeof key, "cfg.%s", keys[i].key);
        config_format(v, sizeof v, c, &keys[i]);
        ckpt_meta_set(meta, key, v);
    }
}

static int ckpt_sections(Trainer *T, CkptSection s[4]) {
    s[0] = (CkptSection){T->has_lora ? DIT_LORA_PREFIX : "model.", T->tt, T->tp};
    s[1] = (CkptSection){"adam_m.", T->tt, T->tm};
    s[2] = (CkptSection){"adam_v.", T->tt, T->tv};
    if (!T->has_ref || T->has_lora) return 3; // with LoRA the reference is the base
    s[3] = (CkptSection){"ref.", &T->ref.table, T->ref.params};
    return 4;
}

static int save_ckpt(Trainer *T, int iteration, char *err, size_t errlen) {
    CkptMeta meta;
    ckpt_meta_init(&meta);
    ckpt_meta_set(&meta, "format", TRAIN_CKPT_FORMAT);
    dit_config_to_meta(&T->policy.cfg, &meta);
    ckpt_meta_set_int(&meta, "iteration", iteration);
    ckpt_meta_set_int(&meta, "opt_step", T->opt_step);
    ckpt_meta_set(&meta, BLAS_CORE_KEY, blas_core());
    cg_rng cursor = {T->cfg->seed, ROLLOUT_STREAM_PAIRS, (uint64_t)iteration}; // every draw is keyed by the iteration
    ckpt_meta_set_rng(&meta, "rng", &cursor);
    config_to_meta(T->cfg, &meta);
    ckpt_meta_set(&meta, "base_model", T->base_model);
    ckpt_meta_set(&meta, "rewards_dir", T->rewards_dir);
    if (T->has_lora) dit_lora_to_meta(&T->lora, &meta);
    CkptSection s[4];
    int rc = ckpt_save(T->ckpt_path, s, ckpt_sections(T, s), &meta, err, errlen);
    ckpt_meta_free(&meta);
    return rc;
}

// The buffers the optimizer trains: the policy's, or the adapters' with LoRA.
static void bind_trainable(Trainer *T) {
    if (T->has_lora) T->tt = &T->lora.table, T->tp = T->lora.params, T->tg = T->lora.grads, T->tm = T->lora.adam_m,
                     T->tv = T->lora.adam_v;
    else T->tt = &T->policy.table, T->tp = T->policy.params, T->tg = T->policy.grads, T->tm = T->policy.adam_m,
         T->tv = T->policy.adam_v;
}

static void zero_grad(Trainer *T) { memset(T->tg, 0, T->tt->total * sizeof(float)); }

// The reference (kl_beta > 0): a copy of the policy's weights, the base's.
static void copy_ref(Trainer *T, int rows) {
    dit_create(&T->ref, &T->policy.cfg, rows);
    memcpy(T->ref.params, T->policy.params, T->policy.table.total * sizeof(float));
}

// LoRA: fresh adapters of the config (seeded by cfg.seed) for a DiT of shape cfg, batches of rows.
static void lora_fresh(DiTLora *a, const TrainConfig *c, const DiTConfig *cfg, int rows) {
    int targets = DIT_LORA_ALL;
    dit_lora_parse_targets(c->lora_targets, &targets, NULL, 0); // train_config_check accepted it
    dit_lora_create(a, cfg, c->lora_rank, c->lora_alpha > 0.0f ? c->lora_alpha : (float)c->lora_rank, targets, rows);
    dit_lora_init(a, c->seed);
}

// LoRA: the adapters on the policy, which holds the base; want its hash.
static void attach_adapters(Trainer *T, int rows) {
    lora_fresh(&T->lora, T->cfg, &T->policy.cfg, rows);
    T->lora.base_hash = dit_params_hash(&T->policy);
    dit_lora_attach(&T->policy, &T->lora);
    T->has_lora = 1;
}

// Resume of a LoRA run: the base from base_model (its shape and hash those of the checkpoint), the
// adapters on it, the reference a copy of it.
static int load_lora_base(Trainer *T, int rows, const DiTConfig *dcfg, uint64_t want_hash, char *err, size_t errlen) {
    char why[1200];
    if (dit_load(T->base_model, &T->policy, rows, why, sizeof why))
        return cg_errf(err, errlen, "%s: the base model of this LoRA run: %s", T->ckpt_path, why);
    if (memcmp(&T->policy.cfg, dcfg, sizeof *dcfg) != 0 ||
        dit_lora_check_base(want_hash, &T->policy, T->ckpt_path, T->base_model, err, errlen)) {
        if (memcmp(&T->policy.cfg, dcfg, sizeof *dcfg) != 0)
            cg_errf(err, errlen, "%s: the base model %s has another shape than the checkpoint's", T->ckpt_path,
                    T->base_model);
        dit_free(&T->policy);
        return -1;
    }
    attach_adapters(T, rows);
    if (T->has_ref) copy_ref(T, rows);
    return 0;
}

// Resume: validate DIR/ckpt.safetensors against the config, create the models from its DiT config
// and load everything. *iteration receives the checkpoint's iteration.
static int load_ckpt(Trainer *T, int rows, int *iteration, char *err, size_t errlen) {
    CkptMeta meta;
    char why[600];
    if (ckpt_read_meta(T->ckpt_path, &meta, why, sizeof why)) return cg_errf(err, errlen, "%s", why);
    int rc = 0;
    const char *fmt = ckpt_meta_get(&meta, "format");
    if (!fmt || strcmp(fmt, TRAIN_CKPT_FORMAT) != 0)
        rc = cg_errf(err, errlen, "%s: not a GRPO checkpoint (format = %s, want %s)", T->ckpt_path, fmt ? fmt : "none",
                     TRAIN_CKPT_FORMAT);
    const TrainConfig defaults = train_config_default();
    int nk;
    const ConfigKey *keys = train_config_keys(&nk);
    for (int i = 0; rc == 0 && i < nk; i++) {
        if (train_key_is_resumable(keys[i].key)) continue;
        char key[96], v[CONFIG_MAX_VALUE];
        snprintf(key, sizeof key, "cfg.%s", keys[i].key);
        // a checkpoint written before the key existed: it ran with the key's default
        if (!ckpt_meta_get(&meta, key) && config_same(T->cfg, &defaults, &keys[i])) continue;
        config_format(v, sizeof v, T->cfg, &keys[i]);
        if (ckpt_meta_expect(&meta, key, v, why, sizeof why)) rc = cg_errf(err, errlen, "%s: %s", T->ckpt_path, why);
    }
    long it = 0, opt = 0;
    if (rc == 0 && (ckpt_meta_get_int(&meta, "iteration", 0, INT_MAX, &it, why, sizeof why) ||
                    ckpt_meta_get_int(&meta, "opt_step", 0, INT_MAX, &opt, why, sizeof why)))
        rc = cg_errf(err, errlen, "%s: %s", T->ckpt_path, why);
    DiTConfig dcfg;
    if (rc == 0 && dit_config_from_meta(&meta, &dcfg, why, sizeof why)) rc = cg_errf(err, errlen, "%s: %s", T->ckpt_path, why);
    int l_rank, l_targets;
    float l_alpha;
    uint64_t base_hash = 0;
    if (rc == 0 && T->cfg->lora_rank > 0 &&
        dit_lora_from_meta(&meta, &l_rank, &l_alpha, &l_targets, &base_hash, why, sizeof why))
        rc = cg_errf(err, errlen, "%s: %s", T->ckpt_path, why);
    if (rc == 0) {
        const char *b = ckpt_meta_get(&meta, "base_model"), *r = ckpt_meta_get(&meta, "rewards_dir");
        snprintf(T->base_model, sizeof T->base_model, "%s", b ? b : "");
        if (!T->run->rewards_dir) snprintf(T->rewards_dir, sizeof T->rewards_dir, "%s", r ? r : "");
        blas_core_warn("train", ckpt_meta_get(&meta, BLAS_CORE_KEY));
    }
    ckpt_meta_free(&meta);
    if (rc) return rc;
    if (T->cfg->lora_rank > 0) {
        if (load_lora_base(T, rows, &dcfg, base_hash, err, errlen)) return -1;
    } else {
        dit_create(&T->policy, &dcfg, rows);
        if (T->has_ref) dit_create(&T->ref, &dcfg, rows);
    }
    bind_trainable(T);
    CkptSection s[4];
    if (ckpt_load(T->ckpt_path, s, ckpt_sections(T, s), NULL, 0, why, sizeof why)) {
        dit_free(&T->policy);
        if (T->has_ref) dit_free(&T->ref);
        if (T->has_lora) dit_lora_free(&T->lora), T->has_lora = 0;
        return cg_errf(err, errlen, "%s", why);
    }
    *iteration = (int)it;
    T->opt_step = (int)opt;
    return 0;
}

// A fresh run: the policy (and the reference) from the base model file.
static int load_base(Trainer *T, int rows, char *err, size_t errlen) {
    if (!T->run->model_path) return cg_errf(err, errlen, "no base model given");
    if (dit_load(T->run->model_path, &T->policy, rows, err, errlen)) return -1;
    snprintf(T->base_model, sizeof T->base_model, "%s", T->run->model_path);
    if (T->has_ref) copy_ref(T, rows);
    if (T->cfg->lora_rank > 0) attach_adapters(T, rows);
    bind_trainable(T);
    return 0;
}

// A copy of the base generator's parameters for drift_norm: the policy of a fresh run, the
// reference when there is one, else the base model file of the checkpoint; NULL when that file
// cannot be read (drift_norm is then logged as null). With LoRA: the adapters' initial values.
static float *base_params(Trainer *T) {
    const size_t bytes = T->tt->total * sizeof(float);
    float *p = cg_malloc(bytes);
    if (!T->run->resume) memcpy(p, T->tp, bytes);
    else if (T->has_lora) {
        DiTLora a;
        lora_fresh(&a, T->cfg, &T->policy.cfg, 1);
        memcpy(p, a.params, bytes);
        dit_lora_free(&a);
    } else if (T->has_ref) memcpy(p, T->ref.params, bytes);
    else {
        DiTModel b;
        char why[600];
        memset(&b, 0, sizeof b);
        if (dit_load(T->base_model, &b, 1, why, sizeof why) || b.table.total != T->policy.table.total) {
            if (b.params) dit_free(&b);
            free(p);
            return NULL;
        }
        memcpy(p, b.params, bytes);
        dit_free(&b);
    }
    return p;
}

// The model and the rewards must fit SubjectBench and each other.
static int check_models(const Trainer *T, char *err, size_t errlen) {
    const DiTConfig *d = &T->policy.cfg;
    if (d->channels != 3) return cg_errf(err, errlen, "the generator has %d channels, SubjectBench images have 3", d->channels);
    if (d->vocab != TOK_VOCAB_SIZE)
        return cg_errf(err, errlen, "the generator has a vocabulary of %d tokens, the SubjectBench tokenizer has %d", d->vocab,
                       TOK_VOCAB_SIZE);
    if (d->text_len < data_max_prompt_words())
        return cg_errf(err, errlen, "the generator reads %d prompt tokens, SubjectBench prompts have up to %d words",
                       d->text_len, data_max_prompt_words());
    Reward *r[2] = {T->run->reward_id, T->run->reward_prompt};
    for (int k = 0; k < 2; k++) {
        if (!r[k]) return cg_errf(err, errlen, "no %s reward given", k ? "prompt" : "identity");
        if (r[k]->S && r[k]->S != d->img)
            return cg_errf(err, errlen, "the generator makes %dx%d images, reward '%s' takes %dx%d", d->img, d->img, r[k]->name,
                           r[k]->S, r[k]->S);
    }
    return 0;
}

// subset (P, K) <- the steps group p trains in `epoch` of iteration `it`: K distinct steps of N
// (a partial Fisher-Yates shuffle), ascending.
static void draw_subsets(Trainer *T, int it, int epoch) {
    int *perm = cg_malloc((size_t)T->N * sizeof(int));
    for (int p = 0; p < T->P; p++) {
        cg_rng r = cg_rng_make(T->cfg->seed, cg_rng_stream(TRAIN_STREAM_STEPS, (uint64_t)it, ((uint64_t)epoch << 32) | (uint64_t)p));
        for (int i = 0; i < T->N; i++) perm[i] = i;
        for (int k = 0; k < T->K; k++) {
            int j = k + (int)cg_rng_below(&r, (uint32_t)(T->N - k)), t = perm[k];
            perm[k] = perm[j], perm[j] = t;
        }
        int *out = T->subset + (size_t)p * T->K;
        for (int k = 0; k < T->K; k++) { // insertion sort: K is small
            int v = perm[k], j = k;
            for (; j > 0 && out[j - 1] > v; j--) out[j] = out[j - 1];
            out[j] = v;
        }
    }
    free(perm);
}

// ---- 1. rollouts ----------------------------------------------------------------------------------------

static int rollout_phase(Trainer *T, int it, char *err, size_t errlen) {
    RolloutPair *pairs = cg_malloc((size_t)T->P * sizeof(RolloutPair));
    for (int p = 0; p < T->P; p++) rollout_draw_pair(&pairs[p], T->cfg->seed, (uint64_t)it, p, T->rc.ref_poses);
    int rc = rollout_fill_inputs(&T->rb, T->world, pairs, err, errlen) ? TRAIN_EINPUT : TRAIN_OK;
    free(pairs);
    if ((rc = dist_agree(T->dist, rc, err, errlen))) return rc;
    // epoch 0's step subsets are known before the rollout: keep those forwards for the update
    draw_subsets(T, it, 0);
    forward_cache_plan(&T->fc, T->subset);
    rollout_sample_groups(&T->rb, &T->policy, &T->rc, T->sigmas, T->cfg->seed, (uint64_t)it,
                          T->fc.n_slots ? &T->fc : NULL, T->p0, T->p1);
    // every rank sees every image (the diagnostics); trajectories stay with their rank
    dist_allgather_items(T->dist, T->rb.images, (size_t)T->G * T->n, T->P);
    return TRAIN_OK;
}

// ---- 2. rewards and 3. advantages -----------------------------------------------------------------------

// scores (2, P G) <- the identity and the prompt reward of this rank's rollout images (rows of its
// groups); a reward that fails or is not finite stops the run.
static int score_rewards_own(Trainer *T, int it, char *err, size_t errlen) {
    const int B = T->P * T->G, b0 = T->p0 * T->G, b1 = T->p1 * T->G; // this rank scores rows [b0, b1)
    const RolloutBatch *rb = &T->rb;
    const size_t o = (size_t)b0 * rb->n;
    RewardBatch batch = {.B = b1 - b0, .S = rb->S, .images = rb->images + o, .ref_seg = rb->ref_seg + o,
                         .ref_plain = rb->ref + o, .tokens = rb->tokens + (size_t)b0 * TOK_MAX_TOKENS,
                         .prompts = rb->prompts + b0, .subjects = rb->subjects + b0};
    Reward *r[2] = {T->run->reward_id, T->run->reward_prompt};
    char why[600], kept[4400];
    kept_note(kept, sizeof kept, T);
    for (int k = 0; k < 2 && b1 > b0; k++)
        if (reward_score(r[k], &batch, T->scores + (size_t)k * B + b0, why, sizeof why))
            return cg_fail(TRAIN_ERUNTIME, err, errlen, "iteration %d: %s; training stopped, %s", it, why, kept);
    if (fault_at(&T->run->fault, FAULT_REWARD, it) && b0 == 0) T->scores[0] = T->run->fault.value; // tests
    for (int k = 0; k < 2; k++)
        for (int b = b0; b < b1; b++) {
            const float s = T->scores[(size_t)k * B + b];
            if (!isfinite(s)) {
                const RolloutPair *pr = &rb->pairs[b / T->G];
                return cg_fail(TRAIN_ERUNTIME, err, errlen,
                            "iteration %d: reward '%s' is %g for sample %d of group %d (train subject %d, '%s'); "
                            "training stopped, %s", it, r[k]->name, (double)s, b % T->G, b / T->G, pr->subject,
                            rb->prompts[b].text, kept);
            }
        }
    return TRAIN_OK;
}

// score_rewards_own on every rank, then every rank holds all the scores (2, P G).
static int score_rewards(Trainer *T, int it, char *err, size_t errlen) {
    const int rc = dist_agree(T->dist, score_rewards_own(T, it, err, errlen), err, errlen);
    if (rc == TRAIN_OK)
        for (int k = 0; k < 2; k++) dist_allgather_items(T->dist, T->scores + (size_t)k * T->P * T->G, (size_t)T->G, T->P);
    return rc;
}

// Per group: z-scores, shaping, weighting and clamp into adv (P, G, N) and z; the quadrant counts;
// the identity and prompt parts of the advantage for the gradient-cosine diagnostic (trainer.h).
static int group_advantages(Trainer *T, int it, IterStats *is, char *err, size_t errlen) {
    const int P = T->P, G = T->G, N = T->N, B = P * G;
    char why[600], kept[4400];
    float *rew = cg_malloc((size_t)G * 2 * sizeof(float));
    int rc = TRAIN_OK;
    for (int p = 0; p < P && rc == TRAIN_OK; p++) {
        for (int g = 0; g < G; g++) {
            rew[g * 2 + ADV_REWARD_ID] = T->scores[(size_t)p * G + g];
            rew[g * 2 + ADV_REWARD_PROMPT] = T->scores[(size_t)B + (size_t)p * G + g];
        }
        float *adv = T->adv + (size_t)p * G * N, *z = T->z + (size_t)p * G * 2;
        if (adv_group_advantages(&T->ac, adv, z, rew, G, N, why, sizeof why)) {
            kept_note(kept, sizeof kept, T);
            rc = cg_fail(TRAIN_ERUNTIME, err, errlen, "iteration %d, group %d: %s; training stopped, %s", it, p, why, kept);
            break;
        }
        if (fault_at(&T->run->fault, FAULT_ADVANTAGE, it) && p == 0) adv[0] = T->run->fault.value; // tests
        const size_t bad = buffer_first_nonfinite(adv, (size_t)G * N);
        if (bad < (size_t)G * N) {
            kept_note(kept, sizeof kept, T);
            rc = cg_fail(TRAIN_ERUNTIME, err, errlen, "iteration %d, group %d: advantage is %g for sample %d at step %d; "
                         "training stopped, %s", it, p, (double)adv[bad], (int)(bad / N), (int)(bad % N), kept);
            break;
        }
        adv_quadrant_counts(is->quad, z, G, 2);
        for (int g = 0; g < G; g++)
            for (int t = 0; t < N; t++) {
                double wi, wp;
                weighting_id_prompt(T->ac.weighting, T->ac.w_id, T->ac.w_prompt, t, N, &wi, &wp);
                const size_t o = (size_t)(p * G + g) * N + t;
                T->part_id[o] = (float)(wi * z[g * 2 + ADV_REWARD_ID]);
                T->part_pr[o] = (float)(wp * z[g * 2 + ADV_REWARD_PROMPT]);
            }
    }
    free(rew);
    return rc;
}

// What the log reports of the rewards and advantages over the P G samples: each reward's mean and
// (unbiased) std, the mean advantage and mean |advantage| per step and overall.
static void reward_statistics(const Trainer *T, IterStats *is) {
    const int N = T->N, B = T->P * T->G;
    for (int k = 0; k < 2; k++) {
        double s = 0.0, ss = 0.0;
        for (int b = 0; b < B; b++) s += T->scores[(size_t)k * B + b];
        const double mean = s / B;
        for (int b = 0; b < B; b++) {
            const double d = T->scores[(size_t)k * B + b] - mean;
            ss += d * d;
        }
        is->r_mean[k] = mean;
        is->r_std[k] = B > 1 ? sqrt(ss / (B - 1)) : 0.0;
    }
    double abs_sum = 0.0;
    for (int t = 0; t < N; t++) {
        double s = 0.0, sa = 0.0;
        for (int b = 0; b < B; b++) {
            s += T->adv[(size_t)b * N + t];
            sa += fabs(T->adv[(size_t)b * N + t]);
        }
        is->adv_step[t] = s / B;
        is->adv_abs_step[t] = sa / B;
        abs_sum += sa;
    }
    is->adv_abs = abs_sum / ((double)B * N);
}

// ---- 4. the gradient-cosine diagnostic and 5. the update ------------------------------------------------

// The advantages (G) of group p at step i, from adv (P, G, N).
static const float *column(Trainer *T, const float *adv, int p, int i) {
    for (int g = 0; g < T->G; g++) T->adv_col[g] = adv[(size_t)(p * T->G + g) * T->N + i];
    return T->adv_col;
}

// Accumulate into the policy's grads the gradient of the clipped loss of groups [p0, p1) over
// their current step subsets, with advantages `adv` (P, G, N), each sample's term divided by count
// (the micro-batch's samples). Returns the summed loss (NaN stops).
static double accumulate(Trainer *T, const float *adv, int p0, int p1, int count, const GrpoConfig *gc, GrpoStats *st) {
    double loss = 0.0;
    for (int p = p0; p < p1; p++) {
        DiTVelocity pol = group_velocity(T, &T->policy, p), ref = group_velocity(T, &T->ref, p);
        for (int k = 0; k < T->K; k++) {
            const int i = T->subset[(size_t)p * T->K + k];
            const flow_step_coef c = flow_step_coef_make(T->rc.kind, T->sigmas, T->N, i, T->rc.eta);
            const float *x = rollout_x(&T->rb, p, i), *x_next = rollout_x(&T->rb, p, i + 1);
            const float *logp_old = rollout_logp(&T->rb, p, i), *a = column(T, adv, p, i);
            DiTVelocity *r = T->has_ref ? &ref : NULL;
            ForwardSlot *kept = forward_cache_find(&T->fc, p, i, 1); // the rollout's forward, same weights
            loss += kept ? grpo_group_step_saved(st, &T->work, &pol, r, &kept->acts, kept->v, &c, x, x_next, logp_old, a,
                                                 count, gc, 1)
                         : grpo_group_step(st, &T->work, &pol, r, &c, x, x_next, logp_old, a, count, gc, 1);
            if (!isfinite(loss)) return loss;
        }
    }
    return loss;
}

// The policy's grads <- the gradient of the clipped loss of the micro-batch of groups [q0, q1), on
// every rank; st += its statistics; returns its loss (NaN stops the caller). grad_order steps: one
// buffer in (group, step) order, in one process. groups: each of this rank's groups from zero, then
// the groups summed in group order over the ranks (core/dist.h dist_chain_sum), and the statistics
// likewise, so that any number of ranks gives the same bits.
static double micro_batch_gradient(Trainer *T, const float *adv, int q0, int q1, const GrpoConfig *gc, GrpoStats *st) {
    const int count = (q1 - q0) * T->K * T->G;
    zero_grad(T);
    if (T->cfg->grad_order == TRAIN_GRAD_ORDER_STEPS) return accumulate(T, adv, q0, q1, count, gc, st);
    const size_t total = T->tt->total;
    const int a = q0 > T->p0 ? q0 : T->p0, b = q1 < T->p1 ? q1 : T->p1;
    for (int p = a; p < b; p++) {
        GrpoStats *sp = &T->st_group[p];
        grpo_stats_init(sp);
        if (p > a) zero_grad(T);
        accumulate(T, adv, p, p + 1, count, gc, sp); // its loss is sp->loss
        memcpy(T->g_group[p - T->p0], T->tg, total * sizeof(float));
    }
    const double t0 = cg_now();
    dist_chain_sum(T->dist, T->tg, T->g_group, T->P, q0, q1, total);
    dist_allgather_bytes(T->dist, T->st_group, sizeof(GrpoStats), T->P);
    T->t_comm += cg_now() - t0;
    double loss = 0.0;
    for (int p = q0; p < q1; p++) {
        grpo_stats_add(st, &T->st_group[p]);
        loss += T->st_group[p].loss;
    }
    return loss;
}

// The cosine between the loss gradients of (advantages a, groups [a0, a1)) and (b, [b0, b1)) at the
// rollout's weights over epoch 0's micro-batches, policy-gradient term alone (no KL). NaN when a
// gradient is zero or not finite. Leaves the policy's grads zeroed.
static double gradient_cosine_of(Trainer *T, int it, const float *a, int a0, int a1, const float *b, int b0, int b1) {
    const size_t total = T->tt->total;
    const float *g = T->tg;
    const GrpoConfig gc = {T->gc.clip_eps, 0.0};
    GrpoStats st;
    grpo_stats_init(&st);
    draw_subsets(T, it, 0);
    micro_batch_gradient(T, a, a0, a1, &gc, &st);
    memcpy(T->g_id, g, total * sizeof(float));
    micro_batch_gradient(T, b, b0, b1, &gc, &st);
    double dot = 0.0, na = 0.0, nb = 0.0;
    for (size_t j = 0; j < total; j++) {
        dot += (double)T->g_id[j] * g[j];
        na += (double)T->g_id[j] * T->g_id[j];
        nb += (double)g[j] * g[j];
    }
    zero_grad(T);
    return na > 0.0 && nb > 0.0 ? dot / (sqrt(na) * sqrt(nb)) : NAN;
}

// The two diagnostics of trainer.h: cos(g_id, g_pr) over all groups, and the cosine between the
// full advantage's gradients of the first and the second half of the groups (NaN for P < 2).
static void gradient_diagnostics(Trainer *T, int it, IterStats *is) {
    is->cos = gradient_cosine_of(T, it, T->part_id, 0, T->P, T->part_pr, 0, T->P);
    const int h = T->P / 2;
    is->cos_halves = h >= 1 ? gradient_cosine_of(T, it, T->adv, 0, h, T->adv, h, 2 * h) : NAN;
}

static int update_phase(Trainer *T, int it, IterStats *is, char *err, size_t errlen) {
    const TrainConfig *cfg = T->cfg;
    const size_t total = T->tt->total;
    const int per_step = cfg->groups_per_step == 0 ? T->P : cfg->groups_per_step;
    AdamWConfig opt = {cfg->lr, cfg->beta1, cfg->beta2, cfg->adam_eps, cfg->weight_decay};
    char kept[4400];
    for (int e = 0; e < cfg->inner_epochs; e++) {
        draw_subsets(T, it, e);
        for (int p0 = 0; p0 < T->P; p0 += per_step) {
            const int p1 = p0 + per_step < T->P ? p0 + per_step : T->P;
            double loss = micro_batch_gradient(T, T->adv, p0, p1, &T->gc, &is->gs);
            if (T->run->nan_loss_at == it && e == 0 && p0 == 0) loss = NAN; // tests: a diverged loss
            if (fault_at(&T->run->fault, FAULT_LOSS, it) && e == 0 && p0 == 0) loss = T->run->fault.value;
            const double gn = cfg->grad_clip > 0.0f ? clip_grad_norm(T->tg, total, (double)cfg->grad_clip)
                                                    : grad_global_norm(T->tg, total);
            if (!isfinite(loss) || !isfinite(gn)) {
                kept_note(kept, sizeof kept, T);
                return cg_fail(TRAIN_ERUNTIME, err, errlen,
                            "iteration %d, epoch %d, groups %d-%d: loss = %g, gradient norm = %g: training diverged; %s", it,
                            e, p0, p1 - 1, loss, gn, kept);
            }
            T->opt_step++;
            adamw_step(T->tp, T->tg, T->tm, T->tv, T->tt, T->opt_step, &opt);
            forward_cache_invalidate(&T->fc); // the kept forwards were of the old weights
            is->gn_sum += gn;
            is->n_opt++;
            if (T->run->kill_at == it && T->dist->rank == T->run->kill_rank) // tests: a kill -9 mid-iteration
                raise(SIGKILL);
        }
    }
    return TRAIN_OK;
}

// ---- 6. log, 7. samples, 8. checkpoint ----------------------------------------------------------------

static int log_iteration(Trainer *T, int it, const IterStats *is, double elapsed, char *err, size_t errlen) {
    FILE *f = T->log.f;
    const int B = T->P * T->G;
    const double ns = is->gs.n_samples > 0 ? (double)is->gs.n_samples : NAN;
    fprintf(f, "{\"iteration\":%d", it);
    json_num(f, "reward_id_mean", is->r_mean[0]);
    json_num(f, "reward_id_std", is->r_std[0]);
    json_num(f, "reward_prompt_mean", is->r_mean[1]);
    json_num(f, "reward_prompt_std", is->r_std[1]);
    json_num(f, "both_pos", (double)is->quad[ADV_Q_BOTH_POS] / B);
    json_num(f, "conflict", (double)is->quad[ADV_Q_CONFLICT] / B);
    json_num(f, "both_neg", (double)is->quad[ADV_Q_BOTH_NEG] / B);
    json_num(f, "zero", (double)is->quad[ADV_Q_ZERO] / B);
    json_array(f, "adv_mean_step", is->adv_step, T->N);
    json_array(f, "adv_abs_step", is->adv_abs_step, T->N);
    json_num(f, "adv_abs_mean", is->adv_abs);
    json_num(f, "loss", is->n_opt > 0 ? is->gs.loss / is->n_opt : NAN);
    json_num(f, "policy_loss", is->n_opt > 0 ? is->gs.policy_loss / is->n_opt : NAN);
    json_num(f, "clip_frac", (double)is->gs.n_clipped / ns);
    json_num(f, "approx_kl", is->gs.approx_kl / ns);
    json_num(f, "kl_ref", is->gs.kl_ref / ns);
    json_num(f, "ratio_min", is->gs.ratio_min);
    json_num(f, "ratio_max", is->gs.ratio_max);
    json_num(f, "grad_norm", is->n_opt > 0 ? is->gn_sum / is->n_opt : NAN);
    json_num(f, "grad_cos_id_prompt", is->cos);
    json_num(f, "grad_cos_halves", is->cos_halves);
    json_num(f, "reward_id_gstd", is->diag.gstd[0]);
    json_num(f, "reward_prompt_gstd", is->diag.gstd[1]);
    json_num(f, "copy_dist", is->diag.copy_dist);
    json_num(f, "copy_corr_id", is->diag.copy_corr[DIAG_CORR_ID]);
    json_num(f, "copy_corr_prompt", is->diag.copy_corr[DIAG_CORR_PROMPT]);
    json_num(f, "copy_corr_adv", is->diag.copy_corr[DIAG_CORR_ADV]);
    json_num(f, "update_norm", is->update_norm);
    json_num(f, "drift_norm", is->drift_norm);
    json_num(f, "lr", T->cfg->lr);
    fprintf(f, ",\"opt_step\":%d", T->opt_step);
    json_num(f, "t_rollout", is->t_rollout);
    json_num(f, "t_reward", is->t_reward);
    json_num(f, "t_diag", is->t_diag);
    json_num(f, "t_update", is->t_update);
    json_num(f, "t_allreduce", is->t_allreduce);
    fprintf(f, ",\"elapsed_s\":%.3f}\n", elapsed);
    char why[4400], kept[4400];
    if (rundir_log_commit(&T->log, why, sizeof why) == 0) return TRAIN_OK;
    kept_note(kept, sizeof kept, T);
    return cg_fail(TRAIN_ERUNTIME, err, errlen, "iteration %d: %s; training stopped, %s", it, why, kept);
}

// DIR/samples/iter_NNNNNN.png: 4 VAL subjects x [reference | G samples], ODE from fixed noise
// (iteration 0 of the rollout streams, which training never uses), upscaled to >= 64 pixels.
static int write_samples_lead(Trainer *T, int it, char *err, size_t errlen) {
    RolloutBatch *pb = &T->preview;
    const int rows = pb->P, G = T->G, S = pb->S;
    RolloutPair pairs[4];
    for (int k = 0; k < rows; k++) pairs[k] = (RolloutPair){SPLIT_VAL, k, (7 * k) % PROMPT_N_TEMPLATES, 0};
    if (rollout_fill_inputs(pb, T->world, pairs, err, errlen)) return TRAIN_EINPUT;
    RolloutConfig ode = T->rc;
    ode.kind = FLOW_ODE;
    ode.shared_noise = 0;
    rollout_sample(pb, &T->policy, &ode, T->sigmas, T->cfg->seed, 0, NULL);
    const int zoom = S >= 64 ? 1 : (64 + S - 1) / S, cell = S * zoom, gap = 2;
    const int W = gap + (G + 1) * (cell + gap) + gap, H = gap + rows * (cell + gap);
    char path[4400], why[512];
    Sheet sheet;
    if (sheet_create(&sheet, W, H, 40, why, sizeof why)) return cg_fail(TRAIN_ERUNTIME, err, errlen, "samples: %s", why);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c <= G; c++) { // the reference, then the G samples of row r
            const float *img = c == 0 ? pb->ref + (size_t)r * G * pb->n : pb->images + ((size_t)r * G + c - 1) * pb->n;
            const int x0 = gap + c * (cell + gap) + (c > 0 ? gap : 0), y0 = gap + r * (cell + gap);
            sheet_put_float(&sheet, x0, y0, img, S, zoom, SHEET_MODEL_RANGE);
        }
    snprintf(path, sizeof path, "%s/iter_%06d.png", T->samples_dir, it);
    int rc = sheet_write_png(&sheet, path, why, sizeof why) ? cg_fail(TRAIN_ERUNTIME, err, errlen, "%s", why) : TRAIN_OK;
    sheet_free(&sheet);
    return rc;
}

// The sample grid, drawn and written by rank 0 (the others wait for its outcome).
static int write_samples(Trainer *T, int it, char *err, size_t errlen) {
    const int rc = T->dist->rank == 0 ? write_samples_lead(T, it, err, errlen) : TRAIN_OK;
    return dist_agree(T->dist, rc, err, errlen);
}

// The trained weights after iteration `it`'s update must be finite (every rank holds the same).
static int check_weights(Trainer *T, int it, char *err, size_t errlen) {
    if (fault_at(&T->run->fault, FAULT_WEIGHT, it)) T->tp[0] = T->run->fault.value; // tests
    const size_t total = T->tt->total, bad = buffer_first_nonfinite(T->tp, total);
    if (bad == total) return TRAIN_OK;
    char kept[4400];
    kept_note(kept, sizeof kept, T);
    return cg_fail(TRAIN_ERUNTIME, err, errlen, "iteration %d: non-finite weights (%s = %g): training diverged; %s", it,
                   param_table_name_at(T->tt, bad), (double)T->tp[bad], kept);
}

// Checkpoint after iteration `it` (weights checked once more); rank 0 writes it.
static int checkpoint(Trainer *T, int it, char *err, size_t errlen) {
    int rc = check_weights(T, it, err, errlen);
    if (rc) return rc;
    char why[4400], kept[4400];
    kept_note(kept, sizeof kept, T);
    rc = T->dist->rank == 0 && save_ckpt(T, it, why, sizeof why)
             ? cg_fail(TRAIN_ERUNTIME, err, errlen, "%s; training stopped, %s", why, kept)
             : TRAIN_OK;
    rc = dist_agree(T->dist, rc, err, errlen);
    if (rc == TRAIN_OK) T->saved_iter = it;
    return rc;
}

// ---- the loop -----------------------------------------------------------------------------------------

static void trainer_free(Trainer *T) {
    rundir_log_close(&T->log);
    rundir_unlock(T->lock_fd);
    if (T->policy.params) dit_free(&T->policy);
    if (T->ref.params) dit_free(&T->ref);
    if (T->has_lora) dit_lora_free(&T->lora);
    if (T->rb.traj) rollout_batch_free(&T->rb);
    if (T->preview.traj) rollout_batch_free(&T->preview);
    if (T->work.v) grpo_work_free(&T->work);
    forward_cache_free(&T->fc);
    free(T->world), free(T->sigmas), free(T->scores), free(T->z), free(T->adv), free(T->part_id), free(T->part_pr);
    free(T->adv_col), free(T->subset), free(T->g_id), free(T->theta_prev), free(T->theta_base);
    for (int p = T->p0; T->g_group && p < T->p1; p++) free(T->g_group[p - T->p0]);
    free(T->g_group), free(T->st_group);
}

static void progress_line(const Trainer *T, int it, const IterStats *is, double eta_s) {
    const int B = T->P * T->G;
    char eta[32];
    rundir_fmt_duration(eta, sizeof eta, eta_s);
    fprintf(stderr, "train: iter %d/%d r_id %.2f+-%.2f r_prompt %.2f+-%.2f conflict %.0f%% loss %.4g clip %.3f kl %.2g "
            "gnorm %.3g", it, T->cfg->iterations, is->r_mean[0], is->r_std[0], is->r_mean[1], is->r_std[1],
            100.0 * is->quad[ADV_Q_CONFLICT] / B, is->n_opt ? is->gs.loss / is->n_opt : NAN,
            is->gs.n_samples ? (double)is->gs.n_clipped / (double)is->gs.n_samples : NAN,
            is->gs.n_samples ? is->gs.approx_kl / (double)is->gs.n_samples : NAN, is->n_opt ? is->gn_sum / is->n_opt : NAN);
    if (isfinite(is->cos)) fprintf(stderr, " cos(id,prompt) %.3f", is->cos);
    fprintf(stderr, " | rollout %.2fs reward %.2fs update %.2fs", is->t_rollout, is->t_reward, is->t_update);
    if (is->t_diag > 0.0) fprintf(stderr, " diag %.2fs", is->t_diag);
    fprintf(stderr, " | ETA %s\n", eta);
}

// LoRA's outputs: DIR/lora.safetensors (the adapters) and DIR/model.safetensors (merged into the base).
static int save_lora_model(const Trainer *T, const CkptMeta *extra, char *err, size_t errlen) {
    if (dit_lora_save(&T->lora, T->lora_path, extra, err, errlen)) return -1;
    DiTModel merged;
    dit_create(&merged, &T->policy.cfg, 1);
    memcpy(merged.params, T->policy.params, T->policy.table.total * sizeof(float));
    dit_lora_merge(&merged, &T->lora);
    const int rc = dit_save(&merged, T->model_path, extra, err, errlen);
    dit_free(&merged);
    return rc;
}

static int save_model(Trainer *T, int it, char *err, size_t errlen) {
    CkptMeta extra;
    ckpt_meta_init(&extra);
    ckpt_meta_set(&extra, "source", "cgrpo train (GRPO policy)");
    ckpt_meta_set_int(&extra, "iteration", it);
    ckpt_meta_set(&extra, "base_model", T->base_model);
    config_to_meta(T->cfg, &extra);
    char why[600];
    int rc = T->dist->rank == 0 && (T->has_lora ? save_lora_model(T, &extra, why, sizeof why)
                                                : dit_save(&T->policy, T->model_path, &extra, why, sizeof why))
                 ? cg_fail(TRAIN_ERUNTIME, err, errlen, "%s", why)
                 : TRAIN_OK;
    ckpt_meta_free(&extra);
    return dist_agree(T->dist, rc, err, errlen);
}

// DIR/.lock (rank 0): another training in DIR is bad usage, a lock that cannot be made an I/O failure.
static int lock_run(Trainer *T, char *err, size_t errlen) {
    int busy;
    T->lock_fd = rundir_lock(T->run->dir, &busy, err, errlen);
    return T->lock_fd >= 0 ? TRAIN_OK : busy ? TRAIN_EINPUT : TRAIN_ERUNTIME;
}

// The run directory and the models: the base generator for a fresh run, the checkpoint to resume;
// then (rank 0) the resolved config, the metrics file and the samples directory. *start: the
// checkpoint's iteration (0 fresh); *elapsed0: the seconds the metrics already count.
static int open_run(Trainer *T, int *start, double *elapsed0, char *err, size_t errlen) {
    const TrainConfig *cfg = T->cfg;
    const TrainRun *run = T->run;
    const int rows = rollout_model_rows(&T->rc), lead = T->dist->rank == 0;
    char why[4400];
    int rc;
    if (run->resume) {
        if (!rundir_exists(T->ckpt_path)) return cg_fail(TRAIN_EINPUT, err, errlen, "cannot resume: %s does not exist", T->ckpt_path);
        if (lead && (rc = lock_run(T, err, errlen))) return rc;
        if (load_ckpt(T, rows, start, why, sizeof why)) return cg_fail(TRAIN_EINPUT, err, errlen, "cannot resume: %s", why);
        T->saved_iter = *start;
        if (*start > cfg->iterations)
            return cg_fail(TRAIN_EINPUT, err, errlen, "iterations = %d is below the checkpoint's iteration %d",
                           cfg->iterations, *start);
    } else {
        if (lead && rundir_mkdirs(run->dir, why, sizeof why)) return cg_fail(TRAIN_EINPUT, err, errlen, "%s", why);
        if (lead && (rc = lock_run(T, err, errlen))) return rc;
        if (rundir_exists(T->ckpt_path))
            return cg_fail(TRAIN_EINPUT, err, errlen, "%s already holds a run (%s): continue it with --resume %s or choose "
                        "another directory", run->dir, TRAIN_CKPT_FILE, run->dir);
        if (load_base(T, rows, why, sizeof why)) return cg_fail(TRAIN_EINPUT, err, errlen, "%s", why);
    }
    if (check_models(T, why, sizeof why)) return cg_fail(TRAIN_EINPUT, err, errlen, "%s", why);
    zero_grad(T);
    T->n = dit_image_floats(&T->policy.cfg);
    if (!lead) return TRAIN_OK;
    int nk;
    const ConfigKey *keys = train_config_keys(&nk);
    if (config_write_file(T->config_path, cfg, keys, nk,
                          "# cgrpo train: the resolved config of this run (cgrpo train --resume reads it)\n", why,
                          sizeof why))
        return cg_fail(TRAIN_ERUNTIME, err, errlen, "%s", why);
    if (rundir_log_open(&T->log, T->metrics_path, "iteration", run->resume ? *start : -1, elapsed0, why, sizeof why))
        return cg_fail(TRAIN_ERUNTIME, err, errlen, "%s", why);
    if (cfg->sample_every > 0 && rundir_mkdirs(T->samples_dir, why, sizeof why))
        return cg_fail(TRAIN_ERUNTIME, err, errlen, "%s", why);
    if (cfg->sample_every > 0) rundir_remove_temps(T->samples_dir);
    return TRAIN_OK;
}

int train_run(const TrainConfig *cfg_in, const TrainRun *run, TrainResult *res, char *err, size_t errlen) {
    TrainResult r;
    memset(&r, 0, sizeof r);
    r.last_loss = r.last_grad_norm = NAN;
    TrainConfig cfg = *cfg_in;
    train_config_resolve(&cfg);
    char why[1200];
    if (train_config_check(&cfg, why, sizeof why)) return cg_fail(TRAIN_EINPUT, err, errlen, "%s", why);

    const Dist *dist = dist_or_one(run->dist);
    const int lead = dist->rank == 0; // rank 0 alone writes the run directory
    if (dist->size > 1 && cfg.grad_order != TRAIN_GRAD_ORDER_GROUPS) {
        cfg.grad_order = TRAIN_GRAD_ORDER_GROUPS; // the order that any number of ranks reproduces
        if (run->progress && lead)
            fprintf(stderr, "train: %d ranks: grad_order = groups (each group's gradient, then the groups in order)\n",
                    dist->size);
    }

    Trainer T;
    memset(&T, 0, sizeof T);
    T.cfg = &cfg, T.run = run, T.dist = dist;
    T.rc = train_rollout_config(&cfg);
    T.ac = train_adv_config(&cfg);
    T.gc = (GrpoConfig){cfg.clip_eps, cfg.kl_beta};
    T.P = cfg.pairs, T.G = cfg.group_size, T.N = cfg.steps, T.K = train_steps_per_epoch(&cfg);
    T.has_ref = cfg.kl_beta > 0.0f;
    T.saved_iter = -1;
    T.lock_fd = -1;
    snprintf(T.rewards_dir, sizeof T.rewards_dir, "%s", run->rewards_dir ? run->rewards_dir : "");
    rundir_join(T.ckpt_path, sizeof T.ckpt_path, run->dir, TRAIN_CKPT_FILE);
    rundir_join(T.model_path, sizeof T.model_path, run->dir, TRAIN_MODEL_FILE);
    rundir_join(T.lora_path, sizeof T.lora_path, run->dir, TRAIN_LORA_FILE);
    rundir_join(T.config_path, sizeof T.config_path, run->dir, TRAIN_CONFIG_FILE);
    rundir_join(T.metrics_path, sizeof T.metrics_path, run->dir, TRAIN_METRICS_FILE);
    rundir_join(T.samples_dir, sizeof T.samples_dir, run->dir, TRAIN_SAMPLES_DIR);

    // the run directory and the models (every rank loads them; rank 0 alone writes the directory)
    int start = 0;
    double elapsed0 = 0.0;
    int rc = dist_agree(dist, open_run(&T, &start, &elapsed0, err, errlen), err, errlen);
    if (rc) {
        trainer_free(&T);
        return rc;
    }

    // buffers
    const int P = T.P, G = T.G, N = T.N, S = T.policy.cfg.img;
    T.world = cg_malloc(sizeof(World));
    world_init(T.world, cfg.subjects_seed);
    T.sigmas = cg_malloc((size_t)(N + 1) * sizeof(float));
    flow_sigmas(T.sigmas, N, cfg.shift);
    rollout_batch_alloc(&T.rb, P, G, N, S, T.policy.cfg.text_len);
    if (cfg.sample_every > 0) rollout_batch_alloc(&T.preview, 4, G, N, S, T.policy.cfg.text_len);
    T.scores = cg_malloc((size_t)2 * P * G * sizeof(float));
    T.z = cg_malloc((size_t)P * G * 2 * sizeof(float));
    T.adv = cg_malloc((size_t)P * G * N * sizeof(float));
    T.part_id = cg_malloc((size_t)P * G * N * sizeof(float));
    T.part_pr = cg_malloc((size_t)P * G * N * sizeof(float));
    T.adv_col = cg_malloc((size_t)G * sizeof(float));
    T.subset = cg_malloc((size_t)P * T.K * sizeof(int));
    const size_t n_train = T.tt->total;
    if (cfg.cos_every > 0) T.g_id = cg_malloc(n_train * sizeof(float));
    T.theta_prev = cg_malloc(n_train * sizeof(float));
    T.theta_base = base_params(&T);
    grpo_work_alloc(&T.work, G, T.n);
    dist_block(dist, P, &T.p0, &T.p1);
    if (run->forward_cache_mb > 0 && T.p1 > T.p0) { // the forwards of this rank's groups
        forward_cache_create(&T.fc, &T.policy, T.p1 - T.p0, T.K, G, (size_t)run->forward_cache_mb << 20);
        T.fc.p_first = T.p0;
    }
    if (cfg.grad_order == TRAIN_GRAD_ORDER_GROUPS) {
        T.g_group = cg_calloc((size_t)(T.p1 - T.p0) + 1, sizeof(float *));
        for (int p = T.p0; p < T.p1; p++) T.g_group[p - T.p0] = cg_malloc(n_train * sizeof(float));
        T.st_group = cg_calloc((size_t)P, sizeof(GrpoStats));
    }
    double *adv_step = cg_malloc((size_t)N * sizeof(double)), *adv_abs_step = cg_malloc((size_t)N * sizeof(double));

    if (run->progress) {
        fprintf(stderr, "train: %s %s: %s + %s, P %d x G %d, %d %s steps (eta %g), %d steps per group and epoch, "
                "%zu parameters\n", run->resume ? "resuming" : "starting", run->dir, shaping_name(T.ac.shaping),
                weighting_name(T.ac.weighting), P, G, N, flow_kind_name(T.rc.kind), (double)T.rc.eta, T.K,
                T.policy.table.total);
        if (T.has_lora)
            fprintf(stderr, "train: LoRA rank %d, alpha %g, targets %s: %zu trainable parameters (the base's are frozen)\n",
                    T.lora.rank, (double)T.lora.alpha, cfg.lora_targets, n_train);
        if (run->resume) fprintf(stderr, "train: continuing after iteration %d of %d\n", start, cfg.iterations);
    }
    if (!run->resume && cfg.sample_every > 0) rc = write_samples(&T, 0, err, errlen); // the base model

    // the iterations
    int end = cfg.iterations;
    if (run->stop_after > 0 && run->stop_after < end) end = run->stop_after;
    r.start_iteration = r.end_iteration = start;
    const double t_start = cg_now();
    for (int it = start + 1; it <= end && rc == TRAIN_OK; it++) {
        IterStats is;
        memset(&is, 0, sizeof is);
        is.adv_step = adv_step;
        is.adv_abs_step = adv_abs_step;
        is.cos = is.cos_halves = NAN;
        grpo_stats_init(&is.gs);
        // 1. rollouts
        T.t_comm = 0.0;
        double t0 = cg_now();
        rc = rollout_phase(&T, it, err, errlen);
        double t1 = cg_now();
        is.t_rollout = t1 - t0;
        if (rc) break;
        // 2. rewards, 3. advantages (and what they say: rl/diagnostics.h)
        rc = score_rewards(&T, it, err, errlen);
        if (rc == TRAIN_OK) rc = group_advantages(&T, it, &is, err, errlen);
        double t2 = cg_now();
        is.t_reward = t2 - t1;
        if (rc) break;
        reward_statistics(&T, &is);
        diag_rollouts(&is.diag, T.scores, T.adv, N, T.rb.images, T.rb.ref, T.n, P, G);
        // 4. the gradient-cosine diagnostic (at the rollout's weights)
        if (cfg.cos_every > 0 && it % cfg.cos_every == 0) gradient_diagnostics(&T, it, &is);
        double t3 = cg_now();
        is.t_diag = t3 - t2;
        // 5. the policy update
        memcpy(T.theta_prev, T.tp, n_train * sizeof(float));
        rc = update_phase(&T, it, &is, err, errlen);
        if (rc == TRAIN_OK) rc = check_weights(&T, it, err, errlen);
        is.update_norm = diag_l2_distance(T.tp, T.theta_prev, n_train);
        is.drift_norm = T.theta_base ? diag_l2_distance(T.tp, T.theta_base, n_train) : NAN;
        double t4 = cg_now();
        is.t_update = t4 - t3;
        is.t_allreduce = T.t_comm;
        if (rc) break;
        // 6. log
        r.iterations_run++;
        r.end_iteration = it;
        r.t_rollout += is.t_rollout, r.t_reward += is.t_reward, r.t_diag += is.t_diag, r.t_update += is.t_update;
        r.last_loss = is.n_opt ? is.gs.loss / is.n_opt : NAN;
        r.last_grad_norm = is.n_opt ? is.gn_sum / is.n_opt : NAN;
        const double wall = cg_now() - t_start;
        rc = T.log.f ? log_iteration(&T, it, &is, elapsed0 + wall, err, errlen) : TRAIN_OK; // rank 0 logs
        if ((rc = dist_agree(dist, rc, err, errlen))) break;
        if (run->progress) progress_line(&T, it, &is, (cfg.iterations - it) * wall / r.iterations_run);
        // 7. samples, 8. checkpoint
        if (cfg.sample_every > 0 && (it % cfg.sample_every == 0 || it == cfg.iterations))
            rc = write_samples(&T, it, err, errlen);
        if (rc == TRAIN_OK && ((cfg.ckpt_every > 0 && it % cfg.ckpt_every == 0) || it == end))
            rc = checkpoint(&T, it, err, errlen);
    }
    r.t_total = cg_now() - t_start;
    if (rc == TRAIN_OK && end == cfg.iterations) { // finished: the last checkpoint and the model file
        if (T.saved_iter != end) rc = checkpoint(&T, end, err, errlen);
        if (rc == TRAIN_OK) rc = save_model(&T, end, err, errlen);
        if (rc == TRAIN_OK && run->progress)
            fprintf(stderr, "train: done at iteration %d: %s, %s\n", end, T.model_path, T.ckpt_path);
    } else if (rc == TRAIN_OK && run->progress) {
        fprintf(stderr, "train: stopped after iteration %d (checkpoint %s); continue with --resume %s\n", r.end_iteration,
                T.ckpt_path, run->dir);
    }
    free(adv_step), free(adv_abs_step);
    trainer_free(&T);
    if (res) *res = r;
    return rc;
}
