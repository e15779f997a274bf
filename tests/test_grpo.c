// test_grpo.c: the GRPO trainer's pieces (rl/rollout.h, rl/grpo.h, rl/trainer.h) on a tiny DiT:
//   - ratio exactly 1: recomputing every step of a rollout with the rollout's layout and unchanged
//     weights gives the stored log-probs bit for bit (plain and guided, dance and flow SDEs);
//   - at r = 1 the loss gradient w.r.t. v is exactly flow_step_logprob_backward of -A / count, and
//     the parameter gradient equals dit_velocity_backward of that dv (bits);
//   - finite differences (double probe) of the whole micro-batch loss, clip inactive (large eps),
//     with the KL term to a perturbed reference and with guidance;
//   - the clip: the objective against hand-computed values for each (sign of A, side of the
//     range); with perturbed weights, advantages of the clipped sign give exactly zero gradient;
//   - equal rewards: zero advantages, zero loss and gradient, no NaN;
//   - the forward cache: kept rollout forwards give the recomputed update's bits, and training with
//     and without it ends in the same checkpoint;
//   - rollouts: shared initial noise within a group, a group's trajectory independent of P, pair
//     draws from the TRAIN split;
//   - the trainer: presets, timestep subsets, a NaN reward stops with a one-line message and keeps
//     the last good checkpoint (bits), NaN weights stop the run, a run stopped and resumed ends
//     bit-identical (with guidance and the KL reference), constant rewards train without NaN.
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GC_REL_FLOOR 1e-4
#include "core/check.h"
#include "core/rng.h"
#include "io/jsonl.h"
#include "flow/schedule.h"
#include "gradcheck.h"
#include "rl/advantage.h"
#include "rl/forward_cache.h"
#include "rl/grpo.h"
#include "rl/rollout.h"
#include "rl/trainer.h"
#include "scratch.h"
#include "test.h"

// ---- helpers ---------------------------------------------------------------------------------------

static char g_dir_template[] = "/tmp/cgrpo_grpo_test.XXXXXX";
static const char *g_dir;
static World *g_world;

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", g_dir, name); }

// The tiny generator: 8x8 images (n = 192), patch 4, width 8, the SubjectBench vocabulary.
static DiTConfig tiny_dit(int depth) {
    DiTConfig c = {.img = 8, .patch = 4, .channels = 3, .width = 8, .depth = depth, .heads = 2,
                   .text_len = TOK_MAX_TOKENS, .vocab = TOK_VOCAB_SIZE, .tdim = 8};
    return c;
}

// dit_init, then every parameter nudged by N(0, scale^2), so that the adaLN-Zero gates and the
// output layer are not zero and every weight has a gradient.
static void tiny_model(DiTModel *m, int depth, int max_B, uint64_t seed, float scale) {
    DiTConfig c = tiny_dit(depth);
    dit_create(m, &c, max_B);
    dit_init(m, seed);
    float *e = cg_malloc(m->table.total * sizeof(float));
    cg_rng_fill_normal(e, m->table.total, seed, 77, 0);
    for (size_t j = 0; j < m->table.total; j++) m->params[j] += scale * e[j];
    free(e);
}

// A rollout of P pairs of the TRAIN split (iteration 1) with model m.
static void tiny_rollout(RolloutBatch *rb, DiTModel *m, const RolloutConfig *rc, int P, float *sigmas) {
    char err[256];
    rollout_batch_alloc(rb, P, rc->group_size, rc->n_steps, m->cfg.img, m->cfg.text_len);
    RolloutPair pairs[8];
    for (int p = 0; p < P; p++) rollout_draw_pair(&pairs[p], 5, 1, p, rc->ref_poses);
    EXPECT(rollout_fill_inputs(rb, g_world, pairs, err, sizeof err) == 0, "%s", err);
    flow_sigmas(sigmas, rc->n_steps, rc->shift);
    rollout_sample(rb, m, rc, sigmas, 5, 1, NULL);
}

static DiTVelocity velocity_of(DiTModel *m, const RolloutBatch *rb, const RolloutConfig *rc, int p) {
    const size_t r0 = (size_t)p * rb->G;
    DiTVelocity v = {m, rb->ref + r0 * rb->n, rb->model_tokens + r0 * (size_t)rb->text_len, rc->s_ref, rc->s_txt};
    return v;
}

// ---- ratio exactly 1 ---------------------------------------------------------------------------------

static void check_ratio_one(flow_kind kind, float s_ref, float s_txt) {
    RolloutConfig rc = rollout_config_default();
    rc.kind = kind, rc.eta = flow_kind_default_eta(kind), rc.n_steps = 5, rc.group_size = 3;
    rc.s_ref = s_ref, rc.s_txt = s_txt;
    DiTModel m;
    tiny_model(&m, 2, rollout_model_rows(&rc), 3, 0.1f);
    RolloutBatch rb;
    float sigmas[6];
    tiny_rollout(&rb, &m, &rc, 2, sigmas);
    GrpoWork w;
    grpo_work_alloc(&w, rc.group_size, rb.n);
    GrpoConfig gc = {1e-4, 0.0};
    GrpoStats st;
    grpo_stats_init(&st);
    float adv[3] = {1.0f, -0.5f, 0.25f};
    int bad = 0, finite = 1;
    for (int p = 0; p < rb.P; p++) {
        DiTVelocity pol = velocity_of(&m, &rb, &rc, p);
        for (int i = 0; i < rc.n_steps; i++) {
            flow_step_coef c = flow_step_coef_make(kind, sigmas, rc.n_steps, i, rc.eta);
            grpo_group_step(&st, &w, &pol, NULL, &c, rollout_x(&rb, p, i), rollout_x(&rb, p, i + 1),
                            rollout_logp(&rb, p, i), adv, 3, &gc, 0);
            const float *old = rollout_logp(&rb, p, i);
            for (int g = 0; g < rc.group_size; g++) finite &= isfinite(old[g]) && old[g] != 0.0f;
            if (memcmp(w.logp_new, old, sizeof(float) * (size_t)rc.group_size) != 0) bad++;
            for (int g = 0; g < rc.group_size; g++)
                if (w.ratio[g] != 1.0f) bad++;
        }
    }
    EXPECT(finite, "the rollout stored non-finite or zero log-probs");
    EXPECT(bad == 0, "%s, guidance %g/%g: %d recomputed log-probs or ratios differ from the rollout's", flow_kind_name(kind),
           (double)s_ref, (double)s_txt, bad);
    EXPECT(st.n_clipped == 0 && st.approx_kl == 0.0 && st.ratio_min == 1.0 && st.ratio_max == 1.0,
           "clipped %ld, approx_kl %g, ratios [%g, %g]", st.n_clipped, st.approx_kl, st.ratio_min, st.ratio_max);
    grpo_work_free(&w);
    rollout_batch_free(&rb);
    dit_free(&m);
}

static void test_ratio_exactly_one(void) {
    check_ratio_one(FLOW_SDE_DANCE, 1.0f, 1.0f);
    check_ratio_one(FLOW_SDE_FLOW, 1.0f, 1.0f);
    check_ratio_one(FLOW_SDE_DANCE, 1.5f, 2.0f); // 3G rows per forward
}

// ---- the gradient at r = 1 -------------------------------------------------------------------------

static void test_gradient_at_ratio_one(void) {
    RolloutConfig rc = rollout_config_default();
    rc.n_steps = 4, rc.group_size = 3, rc.s_ref = 1.5f, rc.s_txt = 2.0f;
    DiTModel m;
    tiny_model(&m, 1, rollout_model_rows(&rc), 4, 0.1f);
    RolloutBatch rb;
    float sigmas[5];
    tiny_rollout(&rb, &m, &rc, 1, sigmas);
    const int G = rc.group_size, i = 2, count = 7; // as if 7 samples shared the optimizer step
    const size_t n = rb.n, Gn = (size_t)G * n, total = m.table.total;
    GrpoWork w;
    grpo_work_alloc(&w, G, n);
    GrpoConfig gc = {1e-4, 0.0};
    GrpoStats st;
    grpo_stats_init(&st);
    const float adv[3] = {1.25f, -0.75f, 0.3f};
    DiTVelocity pol = velocity_of(&m, &rb, &rc, 0);
    flow_step_coef c = flow_step_coef_make(rc.kind, sigmas, rc.n_steps, i, rc.eta);
    const float *x = rollout_x(&rb, 0, i), *y = rollout_x(&rb, 0, i + 1);
    dit_zero_grad(&m);
    double loss = grpo_group_step(&st, &w, &pol, NULL, &c, x, y, rollout_logp(&rb, 0, i), adv, count, &gc, 1);
    float *g1 = cg_malloc(total * sizeof(float));
    memcpy(g1, m.grads, total * sizeof(float));

    // expected: dlogp = -A / count, dv = flow_step_logprob_backward(dlogp), grads = backward(dv)
    float dlogp[3], *dv = cg_calloc(Gn, sizeof(float)), *v = cg_malloc(Gn * sizeof(float));
    double want_loss = 0.0;
    for (int g = 0; g < G; g++) {
        dlogp[g] = (float)(-(double)adv[g] / count);
        want_loss -= adv[g];
    }
    want_loss /= count;
    EXPECT(memcmp(dlogp, w.dlogp, sizeof dlogp) == 0, "dlogp %g %g %g, want %g %g %g", (double)w.dlogp[0],
           (double)w.dlogp[1], (double)w.dlogp[2], (double)dlogp[0], (double)dlogp[1], (double)dlogp[2]);
    EXPECT(loss == want_loss, "loss %.17g, want -mean(A) = %.17g", loss, want_loss);
    dit_velocity(&pol, v, x, sigmas[i], i, G);
    EXPECT(memcmp(v, w.v, Gn * sizeof(float)) == 0, "the velocity is not the rollout layout's");
    flow_step_logprob_backward(dv, dlogp, x, v, y, &c, G, n);
    EXPECT(memcmp(dv, w.dv, Gn * sizeof(float)) == 0, "dv differs from flow_step_logprob_backward(-A / count)");
    size_t nz = 0;
    for (size_t j = 0; j < Gn; j++) nz += dv[j] != 0.0f;
    EXPECT(nz > Gn / 2, "dv is mostly zero (%zu of %zu nonzero)", nz, Gn);
    dit_zero_grad(&m);
    dit_velocity_backward(&pol, dv, G);
    EXPECT(memcmp(g1, m.grads, total * sizeof(float)) == 0, "parameter gradients differ from backward(dv)");
    double gn = grad_global_norm(g1, total);
    EXPECT(gn > 0.0 && isfinite(gn), "gradient norm %g", gn);
    free(g1), free(dv), free(v);
    grpo_work_free(&w);
    rollout_batch_free(&rb);
    dit_free(&m);
}

// ---- the forward cache (rl/forward_cache.h) ---------------------------------------------------------

// A rollout that keeps the planned forwards samples exactly what a plain one samples, and the update
// run on a kept forward gives the loss, v and parameter gradients of the recomputed one, bit for bit
// (plain and guided, with the KL reference); a kept forward serves two backwards alike; a budget for
// one slot keeps group 0's first step alone; invalidation empties the cache.
static void check_forward_cache(float s_ref, float s_txt, double beta) {
    RolloutConfig rc = rollout_config_default();
    rc.n_steps = 4, rc.group_size = 3, rc.s_ref = s_ref, rc.s_txt = s_txt;
    const int P = 2, K = 2, G = rc.group_size;
    const int subset[4] = {1, 3, 0, 2}; // (P, K)
    DiTModel m, ref;
    tiny_model(&m, 2, rollout_model_rows(&rc), 6, 0.1f);
    tiny_model(&ref, 2, rollout_model_rows(&rc), 7, 0.1f);
    RolloutBatch plain, kept;
    float sigmas[5];
    tiny_rollout(&plain, &m, &rc, P, sigmas);
    ForwardCache fc;
    forward_cache_create(&fc, &m, P, K, G, (size_t)1 << 30);
    EXPECT(fc.n_slots == P * K, "%d slots, want %d", fc.n_slots, P * K);
    forward_cache_plan(&fc, subset);
    EXPECT(forward_cache_find(&fc, 0, 1, 1) == NULL && forward_cache_find(&fc, 0, 1, 0) != NULL, "planned, not filled");
    char err[256];
    rollout_batch_alloc(&kept, P, G, rc.n_steps, m.cfg.img, m.cfg.text_len);
    RolloutPair pairs[2];
    for (int p = 0; p < P; p++) rollout_draw_pair(&pairs[p], 5, 1, p, rc.ref_poses);
    EXPECT(rollout_fill_inputs(&kept, g_world, pairs, err, sizeof err) == 0, "%s", err);
    rollout_sample(&kept, &m, &rc, sigmas, 5, 1, &fc);
    const size_t traj = (size_t)P * (rc.n_steps + 1) * G * kept.n;
    EXPECT(memcmp(plain.traj, kept.traj, traj * sizeof(float)) == 0 &&
               memcmp(plain.logprobs, kept.logprobs, (size_t)P * rc.n_steps * G * sizeof(float)) == 0,
           "keeping forwards changed the rollout");

    const size_t total = m.table.total, Gn = (size_t)G * kept.n;
    float *g_new = cg_malloc(total * sizeof(float)), *v_new = cg_malloc(Gn * sizeof(float));
    GrpoWork w;
    grpo_work_alloc(&w, G, kept.n);
    GrpoConfig gc = {1e-4, beta};
    const float adv[3] = {0.9f, -1.1f, 0.4f};
    int found = 0;
    for (int p = 0; p < P; p++) {
        DiTVelocity pol = velocity_of(&m, &kept, &rc, p), rv = velocity_of(&ref, &kept, &rc, p);
        for (int k = 0; k < K; k++) {
            const int i = subset[p * K + k];
            ForwardSlot *sl = forward_cache_find(&fc, p, i, 1);
            found += sl != NULL;
            if (!sl) continue;
            flow_step_coef c = flow_step_coef_make(rc.kind, sigmas, rc.n_steps, i, rc.eta);
            const float *x = rollout_x(&kept, p, i), *y = rollout_x(&kept, p, i + 1), *lp = rollout_logp(&kept, p, i);
            GrpoStats st;
            grpo_stats_init(&st);
            dit_zero_grad(&m);
            const double l_new = grpo_group_step(&st, &w, &pol, beta > 0 ? &rv : NULL, &c, x, y, lp, adv, 5, &gc, 1);
            memcpy(g_new, m.grads, total * sizeof(float));
            memcpy(v_new, w.v, Gn * sizeof(float));
            for (int rep = 0; rep < 2; rep++) {
                dit_zero_grad(&m);
                const double l_kept = grpo_group_step_saved(&st, &w, &pol, beta > 0 ? &rv : NULL, &sl->acts, sl->v, &c,
                                                            x, y, lp, adv, 5, &gc, 1);
                EXPECT(l_kept == l_new && memcmp(v_new, w.v, Gn * sizeof(float)) == 0 &&
                           memcmp(g_new, m.grads, total * sizeof(float)) == 0,
                       "group %d step %d (use %d): the kept forward's loss %.17g / gradients differ from the recomputed "
                       "%.17g", p, i, rep, l_kept, l_new);
            }
        }
    }
    EXPECT(found == P * K, "%d of %d planned forwards kept", found, P * K);
    EXPECT(grad_global_norm(g_new, total) > 0.0, "no gradient");
    forward_cache_invalidate(&fc);
    EXPECT(forward_cache_find(&fc, 0, 1, 1) == NULL && forward_cache_find(&fc, 0, 1, 0) == NULL, "invalidated");
    forward_cache_free(&fc);

    // a budget of one and a half slots: one slot, group 0's first trained step
    forward_cache_create(&fc, &m, P, K, G, forward_cache_slot_bytes(&m, G) * 3 / 2);
    forward_cache_plan(&fc, subset);
    EXPECT(fc.n_slots == 1 && forward_cache_find(&fc, 0, 1, 0) && !forward_cache_find(&fc, 0, 3, 0) &&
               !forward_cache_find(&fc, 1, 0, 0),
           "one slot: %d", fc.n_slots);
    forward_cache_free(&fc);
    forward_cache_create(&fc, &m, P, K, G, 0);
    EXPECT(fc.n_slots == 0 && forward_cache_find(&fc, 0, 1, 0) == NULL, "no budget, no slots");
    forward_cache_free(&fc);
    free(g_new), free(v_new);
    grpo_work_free(&w);
    rollout_batch_free(&plain), rollout_batch_free(&kept);
    dit_free(&m), dit_free(&ref);
}

static void test_forward_cache_bits(void) {
    check_forward_cache(1.0f, 1.0f, 0.0);
    check_forward_cache(1.5f, 2.0f, 0.5);
}

// ---- finite differences ----------------------------------------------------------------------------

typedef struct {
    GrpoWork *w;
    DiTVelocity *pol, *ref;
    const flow_step_coef *c;
    const float *x, *y, *logp_old, *adv;
    int count;
    const GrpoConfig *gc;
} LossProbe;

static double loss_probe(void *ctx) {
    LossProbe *p = ctx;
    GrpoStats st;
    grpo_stats_init(&st);
    return grpo_group_step(&st, p->w, p->pol, p->ref, p->c, p->x, p->y, p->logp_old, p->adv, p->count, p->gc, 0);
}

static void check_fd(float s_ref, float s_txt, double beta) {
    RolloutConfig rc = rollout_config_default();
    rc.n_steps = 4, rc.group_size = 3, rc.s_ref = s_ref, rc.s_txt = s_txt;
    // Float rounding of the log-prob (~6e-8 |logp|) is the noise floor of the differences: pick eta
    // so that the last step's std is exp(-1/2) / sqrt(2 pi), where logp = -e^2/2 - log std -
    // log sqrt(2 pi) is near 0 and its rounding error tiny.
    float sg[5];
    flow_sigmas(sg, rc.n_steps, rc.shift);
    rc.eta = (float)(exp(-0.5) / sqrt(2.0 * M_PI) / sqrt((double)sg[rc.n_steps - 1] - sg[rc.n_steps]));
    DiTModel m, ref;
    tiny_model(&m, 1, rollout_model_rows(&rc), 6, 0.2f);
    tiny_model(&ref, 1, rollout_model_rows(&rc), 6, 0.2f);
    RolloutBatch rb;
    float sigmas[5];
    tiny_rollout(&rb, &m, &rc, 1, sigmas);
    // move the policy away from the rollout's weights (r != 1) and the reference away from both
    float *e = cg_malloc(m.table.total * sizeof(float));
    cg_rng_fill_normal(e, m.table.total, 9, 9, 0);
    for (size_t j = 0; j < m.table.total; j++) m.params[j] += 0.01f * e[j], ref.params[j] += 0.05f * e[j] * e[j];
    free(e);
    const int G = rc.group_size, i = rc.n_steps - 1; // the last step: the largest d logp / d v
    GrpoWork w;
    grpo_work_alloc(&w, G, rb.n);
    GrpoConfig gc = {100.0, beta}; // the clip never engages
    const float adv[3] = {2.0f, -1.5f, 0.5f};
    DiTVelocity pol = velocity_of(&m, &rb, &rc, 0), rv = velocity_of(&ref, &rb, &rc, 0);
    flow_step_coef c = flow_step_coef_make(rc.kind, sigmas, rc.n_steps, i, rc.eta);
    LossProbe probe = {&w, &pol, beta > 0 ? &rv : NULL, &c, rollout_x(&rb, 0, i), rollout_x(&rb, 0, i + 1),
                       rollout_logp(&rb, 0, i), adv, 1, &gc};
    GrpoStats st;
    grpo_stats_init(&st);
    dit_zero_grad(&m);
    grpo_group_step(&st, &w, &pol, probe.ref, &c, probe.x, probe.y, probe.logp_old, adv, 1, &gc, 1);
    EXPECT(st.ratio_min != 1.0 || st.ratio_max != 1.0, "the policy was not moved off the rollout's weights");
    if (beta > 0) {
        EXPECT(st.kl_ref > 0.0, "KL to the reference %g", st.kl_ref);
        // the KL's value by its formula (DESIGN.md section 7): sum_b mean_j (mu_new - mu_ref)_j^2 / (2 std^2),
        // with the two Gaussian means from the sampler's own flow_step_mean
        const size_t n = rb.n;
        float *vp = cg_malloc((size_t)G * n * sizeof(float)), *vr = cg_malloc((size_t)G * n * sizeof(float));
        float *mp = cg_malloc((size_t)G * n * sizeof(float)), *mr = cg_malloc((size_t)G * n * sizeof(float));
        dit_velocity(&pol, vp, probe.x, sigmas[i], i, G);
        dit_velocity(&rv, vr, probe.x, sigmas[i], i, G);
        flow_step_mean(mp, probe.x, vp, &c, G, n);
        flow_step_mean(mr, probe.x, vr, &c, G, n);
        double kl = 0.0;
        for (int b = 0; b < G; b++) {
            double ss = 0.0;
            for (size_t j = 0; j < n; j++) {
                const double d = (double)mp[(size_t)b * n + j] - mr[(size_t)b * n + j];
                ss += d * d;
            }
            kl += ss / (double)n / (2.0 * c.std * c.std);
        }
        EXPECT(fabs(st.kl_ref - kl) <= 1e-4 * kl, "KL %.9g, by its formula %.9g", st.kl_ref, kl);
        EXPECT(fabs((st.loss - st.policy_loss) - beta * kl) <= 1e-4 * beta * kl + 1e-12, "loss - policy loss %.9g, beta KL %.9g",
               st.loss - st.policy_loss, beta * kl);
        free(vp), free(vr), free(mp), free(mr);
    }
    // a few tensors from the input end to the output end
    const char *names[] = {"patch_embed.weight", "t_embed.fc1.weight", "blocks.0.attn.qkv.weight", "final.ada.weight",
                           "final.linear.weight", "final.linear.bias"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        const ParamSpec *sp = param_table_find(&m.table, names[k]);
        if (!sp) { // the block names are the DiT's business: fall back to any tensor of block 0
            for (int t = 0; t < m.table.n && !sp; t++)
                if (strncmp(m.table.specs[t].name, "blocks.0.", 9) == 0 && m.table.specs[t].ndim == 2) sp = &m.table.specs[t];
        }
        EXPECT(sp != NULL, "no tensor %s", names[k]);
        if (!sp) continue;
        const size_t cnt = sp->count < 6 ? sp->count : 6;
        double worst = gradcheck(sp->name, m.params + sp->offset, m.grads + sp->offset, cnt, loss_probe, &probe, 3e-2f, 3e-2);
        EXPECT(worst < 3e-2, "%s (guidance %g/%g, beta %g): worst relative error %g", sp->name, (double)s_ref,
               (double)s_txt, beta, worst);
    }
    grpo_work_free(&w);
    rollout_batch_free(&rb);
    dit_free(&m), dit_free(&ref);
}

static void test_finite_differences(void) {
    check_fd(1.0f, 1.0f, 0.0);
    check_fd(1.0f, 1.0f, 50.0);
    check_fd(1.5f, 2.0f, 20.0);
}

// ---- the clip ---------------------------------------------------------------------------------------

static void test_clip_objective(void) {
    const double eps = 0.1;
    // ratios 1.3 (above), 0.7 (below), 1.05 (inside) with both signs of A
    const float lr[6] = {logf(1.3f), logf(1.3f), logf(0.7f), logf(0.7f), logf(1.05f), logf(1.05f)};
    const float adv[6] = {2.0f, -2.0f, 2.0f, -2.0f, 2.0f, -2.0f};
    float old[6], nw[6], dlogp[6], ratio[6];
    for (int b = 0; b < 6; b++) old[b] = -1.5f, nw[b] = old[b] + lr[b];
    long clipped = 0;
    double kl = 0.0;
    const int count = 4;
    double loss = grpo_clip_objective(dlogp, ratio, nw, old, adv, 6, eps, count, &clipped, &kl);
    double want = 0.0, want_kl = 0.0;
    for (int b = 0; b < 6; b++) {
        double r = exp((double)nw[b] - (double)old[b]), A = adv[b];
        double rc = r < 1 - eps ? 1 - eps : (r > 1 + eps ? 1 + eps : r);
        want += fmax(-A * r, -A * rc);
        want_kl += (r - 1) - log(r);
        EXPECT_NEAR(ratio[b], r, 1e-6);
    }
    EXPECT_NEAR(loss, want / count, 1e-12);
    EXPECT_NEAR(kl, want_kl, 1e-12);
    EXPECT(clipped == 4, "%ld samples outside the clip range, want 4", clipped);
    // zero gradient exactly where the clipped term is the max: r > 1 + eps with A > 0, r < 1 - eps with A < 0
    const int zero[6] = {1, 0, 0, 1, 0, 0};
    for (int b = 0; b < 6; b++) {
        if (zero[b]) {
            EXPECT(dlogp[b] == 0.0f, "sample %d (r %g, A %g): gradient %g, want 0", b, (double)ratio[b], (double)adv[b],
                   (double)dlogp[b]);
        } else {
            double r = exp((double)nw[b] - (double)old[b]);
            EXPECT(dlogp[b] == (float)(-(double)adv[b] * r / count), "sample %d: gradient %g, want -A r / count = %g", b,
                   (double)dlogp[b], -(double)adv[b] * r / count);
        }
    }
}

// With weights moved away from the rollout's, samples whose advantage has the clipped sign get no
// gradient at all: all of them clipped -> the model's gradient is exactly zero.
static void test_clip_engages_on_the_model(void) {
    RolloutConfig rc = rollout_config_default();
    rc.n_steps = 3, rc.group_size = 4;
    DiTModel m;
    tiny_model(&m, 1, rollout_model_rows(&rc), 8, 0.2f);
    RolloutBatch rb;
    float sigmas[4];
    tiny_rollout(&rb, &m, &rc, 1, sigmas);
    float *e = cg_malloc(m.table.total * sizeof(float));
    cg_rng_fill_normal(e, m.table.total, 10, 10, 0);
    for (size_t j = 0; j < m.table.total; j++) m.params[j] += 0.05f * e[j];
    free(e);
    const int G = rc.group_size, i = 1;
    GrpoWork w;
    grpo_work_alloc(&w, G, rb.n);
    GrpoConfig gc = {1e-4, 0.0};
    DiTVelocity pol = velocity_of(&m, &rb, &rc, 0);
    flow_step_coef c = flow_step_coef_make(rc.kind, sigmas, rc.n_steps, i, rc.eta);
    const float *x = rollout_x(&rb, 0, i), *y = rollout_x(&rb, 0, i + 1), *old = rollout_logp(&rb, 0, i);
    GrpoStats st;
    grpo_stats_init(&st);
    float adv[4] = {1, 1, 1, 1};
    grpo_group_step(&st, &w, &pol, NULL, &c, x, y, old, adv, G, &gc, 0);
    int outside = 0;
    for (int g = 0; g < G; g++) outside += fabs((double)w.ratio[g] - 1.0) > 1e-4;
    EXPECT(outside == G && st.n_clipped == G, "only %d of %d ratios left [1 - eps, 1 + eps] (%ld counted)", outside, G,
           st.n_clipped);
    // the clipped sign: A > 0 where r > 1 + eps, A < 0 where r < 1 - eps
    for (int g = 0; g < G; g++) adv[g] = w.ratio[g] > 1.0f ? 1.0f : -1.0f;
    dit_zero_grad(&m);
    grpo_group_step(&st, &w, &pol, NULL, &c, x, y, old, adv, G, &gc, 1);
    size_t nz = 0;
    for (size_t j = 0; j < m.table.total; j++) nz += m.grads[j] != 0.0f;
    for (int g = 0; g < G; g++) EXPECT(w.dlogp[g] == 0.0f, "sample %d: clipped but gradient %g", g, (double)w.dlogp[g]);
    EXPECT(nz == 0, "%zu nonzero parameter gradients with every sample clipped", nz);
    // the other sign: the unclipped term, a real gradient
    for (int g = 0; g < G; g++) adv[g] = -adv[g];
    dit_zero_grad(&m);
    grpo_group_step(&st, &w, &pol, NULL, &c, x, y, old, adv, G, &gc, 1);
    double gn = grad_global_norm(m.grads, m.table.total);
    EXPECT(gn > 0.0 && isfinite(gn), "unclipped side: gradient norm %g", gn);
    grpo_work_free(&w);
    rollout_batch_free(&rb);
    dit_free(&m);
}

// ---- equal rewards ----------------------------------------------------------------------------------

static void test_equal_rewards(void) {
    RolloutConfig rc = rollout_config_default();
    rc.n_steps = 3, rc.group_size = 4;
    DiTModel m;
    tiny_model(&m, 1, rollout_model_rows(&rc), 11, 0.2f);
    RolloutBatch rb;
    float sigmas[4];
    tiny_rollout(&rb, &m, &rc, 1, sigmas);
    const int G = 4, N = 3;
    float rewards[8], z[8], adv[12];
    for (int g = 0; g < G; g++) rewards[g * 2] = 42.0f, rewards[g * 2 + 1] = -3.5f;
    AdvConfig ac = adv_config_default(); // SARS + TDW
    char err[256];
    EXPECT(adv_group_advantages(&ac, adv, z, rewards, G, N, err, sizeof err) == 0, "%s", err);
    for (int k = 0; k < G * N; k++) EXPECT(adv[k] == 0.0f, "advantage %d = %g", k, (double)adv[k]);
    GrpoWork w;
    grpo_work_alloc(&w, G, rb.n);
    GrpoConfig gc = {1e-4, 0.0};
    GrpoStats st;
    grpo_stats_init(&st);
    DiTVelocity pol = velocity_of(&m, &rb, &rc, 0);
    dit_zero_grad(&m);
    double loss = 0.0;
    for (int i = 0; i < N; i++) {
        flow_step_coef c = flow_step_coef_make(rc.kind, sigmas, N, i, rc.eta);
        float col[4];
        for (int g = 0; g < G; g++) col[g] = adv[g * N + i];
        loss += grpo_group_step(&st, &w, &pol, NULL, &c, rollout_x(&rb, 0, i), rollout_x(&rb, 0, i + 1),
                                rollout_logp(&rb, 0, i), col, G * N, &gc, 1);
    }
    size_t nz = 0, nonfinite = 0;
    for (size_t j = 0; j < m.table.total; j++) nz += m.grads[j] != 0.0f, nonfinite += !isfinite(m.grads[j]);
    EXPECT(loss == 0.0, "loss %g", loss);
    EXPECT(nz == 0 && nonfinite == 0, "%zu nonzero and %zu non-finite gradients", nz, nonfinite);
    grpo_work_free(&w);
    rollout_batch_free(&rb);
    dit_free(&m);
}

// ---- rollouts ---------------------------------------------------------------------------------------

static void test_rollouts(void) {
    RolloutConfig rc = rollout_config_default();
    rc.n_steps = 3, rc.group_size = 3;
    DiTModel m;
    tiny_model(&m, 1, rollout_model_rows(&rc), 12, 0.1f);
    RolloutBatch a, b;
    float sigmas[4];
    tiny_rollout(&a, &m, &rc, 3, sigmas);
    tiny_rollout(&b, &m, &rc, 1, sigmas); // group 0 alone
    const size_t n = a.n, Gn = (size_t)rc.group_size * n;
    for (int g = 1; g < rc.group_size; g++)
        EXPECT(memcmp(rollout_x(&a, 0, 0), rollout_x(&a, 0, 0) + (size_t)g * n, n * sizeof(float)) == 0,
               "sample %d does not share the group's initial noise", g);
    EXPECT(memcmp(rollout_x(&a, 0, 0), rollout_x(&a, 1, 0), n * sizeof(float)) != 0, "two groups share their noise");
    EXPECT(memcmp(rollout_x(&a, 0, 1), rollout_x(&a, 0, 1) + n, n * sizeof(float)) != 0, "the SDE steps are not per sample");
    EXPECT(memcmp(rollout_x(&a, 0, 0), rollout_x(&b, 0, 0), (size_t)(rc.n_steps + 1) * Gn * sizeof(float)) == 0,
           "group 0's trajectory depends on the number of pairs");
    EXPECT(memcmp(a.images, rollout_x(&a, 0, rc.n_steps), Gn * sizeof(float)) == 0, "images are not x_N");
    for (int p = 0; p < a.P; p++) {
        const RolloutPair *pr = &a.pairs[p];
        EXPECT(pr->split == SPLIT_TRAIN && pr->subject >= 0 && pr->subject < WORLD_N_TRAIN && pr->template_index >= 0 &&
                   pr->template_index < PROMPT_N_TEMPLATES && pr->pose >= 0 && pr->pose < rc.ref_poses,
               "pair %d: split %d subject %d template %d pose %d", p, pr->split, pr->subject, pr->template_index, pr->pose);
        EXPECT(a.subjects[p * rc.group_size] == world_subject(g_world, SPLIT_TRAIN, pr->subject), "pair %d: wrong subject", p);
        EXPECT(a.ref[(size_t)p * Gn] >= -1.0f && a.ref[(size_t)p * Gn] <= 1.0f, "reference outside [-1, 1]");
    }
    RolloutPair again;
    rollout_draw_pair(&again, 5, 1, 2, rc.ref_poses);
    EXPECT(memcmp(&again, &a.pairs[2], sizeof again) == 0, "pair draws are not pure");
    rollout_batch_free(&a), rollout_batch_free(&b);
    dit_free(&m);
}

// ---- the trainer -------------------------------------------------------------------------------------

// Test rewards: deterministic functions of the image (any size). "id": 100 mean(image * ref_seg);
// "prompt": 100 mean of the red channel minus the blue one; kind 2 ("bright"): 100 mean pixel; kind 3 ("anti-id"):
// minus the "id" score. nan_at > 0: the nan_at-th call returns
// a NaN for sample 1; nan_at < 0: the (-nan_at)-th call returns +Inf for sample 1. constant: every score is 7.
typedef struct {
    int kind, calls, nan_at, constant;
} TestRewardState;

static int test_reward_score(Reward *r, const RewardBatch *b, float *scores, char *err, size_t errlen) {
    (void)err, (void)errlen;
    TestRewardState *st = r->state;
    st->calls++;
    const size_t n = (size_t)b->S * b->S * 3;
    for (int i = 0; i < b->B; i++) {
        const float *img = b->images + (size_t)i * n, *ref = b->ref_seg + (size_t)i * n;
        double s = 0.0;
        for (size_t j = 0; j < n; j++)
            s += st->kind == 0 || st->kind == 3 ? (double)img[j] * ref[j]
                 : st->kind == 2                ? img[j]
                                                : (j % 3 == 0 ? img[j] : j % 3 == 2 ? -img[j] : 0);
        if (st->kind == 3) s = -s;
        scores[i] = st->constant ? 7.0f : (float)(100.0 * s / (double)n);
    }
    if (st->nan_at > 0 && st->calls == st->nan_at && b->B > 1) scores[1] = NAN;
    if (st->nan_at < 0 && st->calls == -st->nan_at && b->B > 1) scores[1] = INFINITY;
    return 0;
}

static void test_reward_free(Reward *r) { free(r->state); }

static Reward *test_reward(int kind, int nan_at, int constant) {
    Reward *r = cg_calloc(1, sizeof(Reward));
    snprintf(r->name, sizeof r->name, "%s", kind == 0 ? "test-id" : kind == 2 ? "bright" : kind == 3 ? "anti-id" : "test-prompt");
    r->needs = REWARD_NEEDS_SEG;
    r->S = 0;
    r->score = test_reward_score;
    r->free = test_reward_free;
    TestRewardState *st = cg_calloc(1, sizeof *st);
    st->kind = kind, st->nan_at = nan_at, st->constant = constant;
    r->state = st;
    return r;
}

static TrainConfig tiny_train_config(void) {
    TrainConfig c = train_config_default();
    c.iterations = 3, c.pairs = 2, c.group_size = 3, c.steps = 4, c.lr = 1e-3f;
    c.ckpt_every = 1, c.sample_every = 0, c.cos_every = 2, c.inner_epochs = 2;
    return c;
}

// Run the trainer into DIR/name with the base model and cache_mb for the forward cache. Returns the
// status; err receives the reason.
static int run_train_cache(const TrainConfig *c, const char *name, int resume, int stop_after, int nan_at,
                           int constant, int cache_mb, TrainResult *res, char *err, size_t errlen) {
    char dir[512], model[512];
    path_in(dir, sizeof dir, name);
    path_in(model, sizeof model, "base.safetensors");
    Reward *rid = test_reward(0, nan_at, constant), *rpr = test_reward(1, 0, constant);
    TrainRun run = {dir, resume, 0, model, "test-rewards", rid, rpr, stop_after, 0, 0, cache_mb, NULL, 0, TEST_FAULT_NONE};
    int rc = train_run(c, &run, res, err, errlen);
    reward_free(rid), reward_free(rpr);
    return rc;
}

// The same with the CLI's default cache.
static int run_train(const TrainConfig *c, const char *name, int resume, int stop_after, int nan_at, int constant,
                     TrainResult *res, char *err, size_t errlen) {
    return run_train_cache(c, name, resume, stop_after, nan_at, constant, TRAIN_FORWARD_CACHE_MB, res, err, errlen);
}

static void file_of(char *out, size_t n, const char *run, const char *file) {
    char d[512];
    path_in(d, sizeof d, run);
    snprintf(out, n, "%s/%s", d, file);
}

// Training with and without the cache ends in the same checkpoint, bit for bit: one optimizer step
// per iteration (every trained forward kept), several (only the first step's), two epochs, the
// gradient-cosine diagnostic, guidance and the KL reference, and a cache too small for all.
static void test_forward_cache_trains_alike(void) {
    struct { const char *tag; int groups_per_step; float s_ref, kl; int mb; } cases[] = {
        {"one_step", 0, 1.0f, 0.0f, TRAIN_FORWARD_CACHE_MB},
        {"per_group", 1, 1.0f, 0.0f, TRAIN_FORWARD_CACHE_MB},
        {"guided_kl", 0, 1.5f, 0.5f, TRAIN_FORWARD_CACHE_MB},
        {"one_mb", 0, 1.0f, 0.0f, 1},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        TrainConfig c = tiny_train_config();
        c.groups_per_step = cases[k].groups_per_step, c.cfg_ref = cases[k].s_ref, c.cfg_txt = cases[k].s_ref;
        c.kl_beta = cases[k].kl;
        char a[64], b[64], fa[600], fb[600], err[1024];
        snprintf(a, sizeof a, "fc_%s_on", cases[k].tag);
        snprintf(b, sizeof b, "fc_%s_off", cases[k].tag);
        TrainResult ra, rb;
        EXPECT(run_train_cache(&c, a, 0, 0, 0, 0, cases[k].mb, &ra, err, sizeof err) == TRAIN_OK, "%s", err);
        EXPECT(run_train_cache(&c, b, 0, 0, 0, 0, 0, &rb, err, sizeof err) == TRAIN_OK, "%s", err);
        file_of(fa, sizeof fa, a, TRAIN_CKPT_FILE);
        file_of(fb, sizeof fb, b, TRAIN_CKPT_FILE);
        EXPECT(scratch_same_file(fa, fb) && ra.last_loss == rb.last_loss && ra.last_grad_norm == rb.last_grad_norm,
               "%s: with the cache %.17g / %.17g, without %.17g / %.17g", cases[k].tag, ra.last_loss, ra.last_grad_norm,
               rb.last_loss, rb.last_grad_norm);
    }
}

static void test_presets(void) {
    struct {
        const char *name;
        int shaping, weighting;
        float w_id, w_prompt;
    } want[] = {{"customized", SHAPING_SARS, WEIGHTING_TDW, 0.5f, 0.5f},
                {"naive-1-1", SHAPING_NAIVE, WEIGHTING_STATIC, 0.5f, 0.5f},
                {"naive-1-1.5", SHAPING_NAIVE, WEIGHTING_STATIC, 0.4f, 0.6f},
                {"sars-only", SHAPING_SARS, WEIGHTING_STATIC, 0.5f, 0.5f},
                {"tdw-only", SHAPING_NAIVE, WEIGHTING_TDW, 0.5f, 0.5f}};
    for (size_t k = 0; k < sizeof want / sizeof *want; k++) {
        int p = train_preset_parse(want[k].name);
        EXPECT(p >= 0 && strcmp(train_preset_name(p), want[k].name) == 0, "preset %s", want[k].name);
        if (p < 0) continue;
        TrainConfig c = train_config_default();
        train_preset_apply(&c, p);
        EXPECT(c.shaping == want[k].shaping && c.weighting == want[k].weighting && c.w_id == want[k].w_id &&
                   c.w_prompt == want[k].w_prompt && c.gamma == 0.4f,
               "%s: shaping %d weighting %d w %g/%g gamma %g", want[k].name, c.shaping, c.weighting, (double)c.w_id,
               (double)c.w_prompt, (double)c.gamma);
        EXPECT(c.w_id + c.w_prompt == 1.0f, "%s: weights do not sum to 1", want[k].name);
        char err[256];
        EXPECT(train_config_check(&c, err, sizeof err) == 0, "%s: %s", want[k].name, err);
    }
    EXPECT(train_preset_parse("naive") == -1, "an unknown preset parsed");
    TrainConfig d = train_config_default();
    train_config_resolve(&d);
    EXPECT(d.preset == TRAIN_PRESET_CUSTOMIZED && d.eta == 0.7f && train_steps_per_epoch(&d) == 6,
           "defaults: preset %d eta %g K %d", d.preset, (double)d.eta, train_steps_per_epoch(&d));
    d.eta = 0.0f;
    train_config_resolve(&d);
    EXPECT(d.eta == 0.4f, "dance's default eta %g", (double)d.eta);
    d.sampler = 1, d.eta = 0.0f;
    train_config_resolve(&d);
    EXPECT(d.eta == 0.7f, "flow's default eta %g", (double)d.eta);
    d.timestep_fraction = 0.7f, d.steps = 10;
    EXPECT(train_steps_per_epoch(&d) == 7, "0.7 of 10 steps -> %d", train_steps_per_epoch(&d));
    d.timestep_fraction = 0.01f;
    EXPECT(train_steps_per_epoch(&d) == 1, "at least one step");
    char err[256];
    d = train_config_default();
    d.groups_per_step = 5;
    EXPECT(train_config_check(&d, err, sizeof err) == -1 && strstr(err, "groups_per_step"), "groups_per_step > pairs: %s", err);
    d = train_config_default();
    d.steps = 0;
    EXPECT(train_config_check(&d, err, sizeof err) == -1 && strstr(err, "steps"), "steps 0: %s", err);
}

// A run stopped after 1 iteration and resumed ends bit-identical to an uninterrupted run; also with
// guidance and the KL reference.
static void check_resume(const char *tag, float cfg_ref, float cfg_txt, float kl_beta) {
    TrainConfig c = tiny_train_config();
    c.cfg_ref = cfg_ref, c.cfg_txt = cfg_txt, c.kl_beta = kl_beta;
    char err[1024], a[64], b[64], fa[600], fb[600];
    snprintf(a, sizeof a, "resume_%s_a", tag);
    snprintf(b, sizeof b, "resume_%s_b", tag);
    TrainResult r;
    EXPECT(run_train(&c, a, 0, 0, 0, 0, &r, err, sizeof err) == TRAIN_OK, "%s", err);
    EXPECT(r.iterations_run == 3 && isfinite(r.last_loss) && r.last_grad_norm > 0.0, "ran %d, loss %g, grad norm %g",
           r.iterations_run, r.last_loss, r.last_grad_norm);
    EXPECT(run_train(&c, b, 0, 1, 0, 0, &r, err, sizeof err) == TRAIN_OK && r.end_iteration == 1, "%s", err);
    file_of(fb, sizeof fb, b, TRAIN_MODEL_FILE);
    EXPECT(access(fb, F_OK) != 0, "a stopped run wrote its final model");
    EXPECT(run_train(&c, b, 1, 0, 0, 0, &r, err, sizeof err) == TRAIN_OK && r.start_iteration == 1 && r.end_iteration == 3,
           "%s", err);
    const char *files[] = {TRAIN_MODEL_FILE, TRAIN_CKPT_FILE, TRAIN_CONFIG_FILE};
    for (int k = 0; k < 3; k++) {
        file_of(fa, sizeof fa, a, files[k]);
        file_of(fb, sizeof fb, b, files[k]);
        EXPECT(scratch_same_file(fa, fb), "%s: %s of 3 iterations != 1 + 2 resumed", tag, files[k]);
    }
    // the policy moved away from the base model
    DiTModel base, tuned;
    char model[512];
    path_in(model, sizeof model, "base.safetensors");
    file_of(fa, sizeof fa, a, TRAIN_MODEL_FILE);
    EXPECT(dit_load(model, &base, 1, err, sizeof err) == 0, "%s", err);
    EXPECT(dit_load(fa, &tuned, 1, err, sizeof err) == 0, "%s", err);
    if (base.params && tuned.params)
        EXPECT(memcmp(base.params, tuned.params, base.table.total * sizeof(float)) != 0, "training did not change the weights");
    dit_free(&base), dit_free(&tuned);
    // metrics: one line per iteration, kept across the resume
    file_of(fb, sizeof fb, b, TRAIN_METRICS_FILE);
    size_t len = 0;
    char *m = (char *)test_read_file(fb, &len);
    int lines = 0;
    for (size_t k = 0; m && k < len; k++) lines += m[k] == '\n';
    EXPECT(m && lines == 3 && strstr(m, "{\"iteration\":3") && strstr(m, "\"grad_cos_id_prompt\":") &&
               strstr(m, "\"adv_mean_step\":[") && !strstr(m, "nan"),
           "%s: metrics of the resumed run:\n%s", tag, m ? m : "(none)");
    free(m);
}

static void test_resume_bit_exact(void) {
    check_resume("plain", 1.0f, 1.0f, 0.0f);
    check_resume("guided_kl", 1.5f, 2.0f, 0.5f);
}

static void test_nan_reward_keeps_checkpoint(void) {
    TrainConfig c = tiny_train_config();
    c.iterations = 4;
    char err[1024], ck_a[600], ck_b[600];
    TrainResult r;
    // the reference: the same run stopped after iteration 2
    EXPECT(run_train(&c, "nan_ref", 0, 2, 0, 0, &r, err, sizeof err) == TRAIN_OK, "%s", err);
    // the identity reward returns a NaN on its 3rd call: iteration 3
    err[0] = '\0';
    int rc = run_train(&c, "nan_run", 0, 0, 3, 0, &r, err, sizeof err);
    EXPECT(rc == TRAIN_ERUNTIME, "status %d (%s)", rc, err);
    EXPECT(one_line(err) && strstr(err, "iteration 3") && strstr(err, "test-id") && strstr(err, "nan") &&
               strstr(err, "iteration 2) is kept"),
           "message: %s", err);
    EXPECT(r.end_iteration == 2, "completed %d iterations", r.end_iteration);
    file_of(ck_a, sizeof ck_a, "nan_ref", TRAIN_CKPT_FILE);
    file_of(ck_b, sizeof ck_b, "nan_run", TRAIN_CKPT_FILE);
    EXPECT(scratch_same_file(ck_a, ck_b), "the checkpoint after the NaN is not the iteration-2 checkpoint");
    file_of(ck_b, sizeof ck_b, "nan_run", TRAIN_MODEL_FILE);
    EXPECT(access(ck_b, F_OK) != 0, "a failed run wrote a final model");
    // resuming the failed run with sane rewards finishes it like an uninterrupted run
    EXPECT(run_train(&c, "nan_run", 1, 0, 0, 0, &r, err, sizeof err) == TRAIN_OK, "%s", err);
    EXPECT(run_train(&c, "nan_full", 0, 0, 0, 0, &r, err, sizeof err) == TRAIN_OK, "%s", err);
    file_of(ck_a, sizeof ck_a, "nan_full", TRAIN_MODEL_FILE);
    EXPECT(scratch_same_file(ck_a, ck_b), "resuming after the NaN does not match the uninterrupted run");
}

// An Inf reward stops the run like a NaN one; a NaN loss (the trainer's test hook nan_loss_at)
// stops it in the update, before the optimizer step, and keeps the last good checkpoint.
static void test_inf_reward_and_nan_loss_stop(void) {
    TrainConfig c = tiny_train_config();
    c.iterations = 4;
    char err[1024], ck_a[600], ck_b[600], model[512], dir[512];
    TrainResult r;
    EXPECT(run_train(&c, "stop_ref", 0, 2, 0, 0, &r, err, sizeof err) == TRAIN_OK, "%s", err);
    file_of(ck_a, sizeof ck_a, "stop_ref", TRAIN_CKPT_FILE);
    err[0] = '\0';
    int rc = run_train(&c, "inf_run", 0, 0, -3, 0, &r, err, sizeof err);
    EXPECT(rc == TRAIN_ERUNTIME && one_line(err) && strstr(err, "iteration 3") && strstr(err, "inf") &&
               strstr(err, "iteration 2) is kept"),
           "Inf reward: status %d, message: %s", rc, err);
    file_of(ck_b, sizeof ck_b, "inf_run", TRAIN_CKPT_FILE);
    EXPECT(r.end_iteration == 2 && scratch_same_file(ck_a, ck_b), "Inf reward: the iteration-2 checkpoint is not what was kept");

    path_in(dir, sizeof dir, "nan_loss");
    path_in(model, sizeof model, "base.safetensors");
    Reward *rid = test_reward(0, 0, 0), *rpr = test_reward(1, 0, 0);
    TrainRun run = {dir, 0, 0, model, "test-rewards", rid, rpr, 0, 0, 0, TRAIN_FORWARD_CACHE_MB, NULL, 0, TEST_FAULT_NONE};
    run.nan_loss_at = 3;
    err[0] = '\0';
    rc = train_run(&c, &run, &r, err, sizeof err);
    reward_free(rid), reward_free(rpr);
    EXPECT(rc == TRAIN_ERUNTIME && one_line(err) && strstr(err, "iteration 3, epoch 0") && strstr(err, "loss = nan") &&
               strstr(err, "diverged") && strstr(err, "iteration 2) is kept"),
           "NaN loss: status %d, message: %s", rc, err);
    file_of(ck_b, sizeof ck_b, "nan_loss", TRAIN_CKPT_FILE);
    EXPECT(r.end_iteration == 2 && scratch_same_file(ck_a, ck_b), "NaN loss: the iteration-2 checkpoint is not what was kept");
    file_of(ck_b, sizeof ck_b, "nan_loss", TRAIN_MODEL_FILE);
    EXPECT(access(ck_b, F_OK) != 0, "a diverged run wrote a final model");
}

// The gradient-cosine diagnostic measured: with the same reward in both slots (naive, static 0.5 / 0.5)
// the identity and prompt parts of the advantage are equal, so their policy gradients are too (cos 1);
// with the negated reward in the prompt slot they are opposite (cos -1).
static void test_gradient_cosine_signs(void) {
    TrainConfig c = tiny_train_config();
    c.iterations = 2, c.cos_every = 1, c.shaping = SHAPING_NAIVE, c.weighting = WEIGHTING_STATIC;
    c.w_id = 0.5f, c.w_prompt = 0.5f;
    char err[1024], dir[512], model[512], f[600];
    path_in(model, sizeof model, "base.safetensors");
    const char *names[2] = {"cos_same", "cos_opposite"};
    const double want[2] = {1.0, -1.0};
    for (int k = 0; k < 2; k++) {
        path_in(dir, sizeof dir, names[k]);
        Reward *rid = test_reward(0, 0, 0), *rpr = test_reward(k == 0 ? 0 : 3, 0, 0);
        TrainRun run = {dir, 0, 0, model, "test-rewards", rid, rpr, 0, 0, 0, TRAIN_FORWARD_CACHE_MB, NULL, 0, TEST_FAULT_NONE};
        TrainResult r;
        EXPECT(train_run(&c, &run, &r, err, sizeof err) == TRAIN_OK, "%s", err);
        reward_free(rid), reward_free(rpr);
        file_of(f, sizeof f, names[k], TRAIN_METRICS_FILE);
        static const char *const KEYS[1] = {"grad_cos_id_prompt"};
        double *col = NULL;
        size_t rows = 0;
        EXPECT(cg_jsonl_read_columns(f, KEYS, 1, &col, &rows, NULL, err, sizeof err) == 0 && rows == 2, "%s", err);
        for (size_t i = 0; col && i < rows; i++)
            EXPECT(fabs(col[i] - want[k]) < 1e-5, "%s: iteration %zu cos %.9g, expected %g", names[k], i + 1, col[i], want[k]);
        free(col);
    }
}

static void test_nan_weights_stop(void) {
    // a base model with a NaN weight: the first loss is NaN; nothing is written as a checkpoint
    DiTModel m;
    tiny_model(&m, 1, 1, 21, 0.1f);
    const ParamSpec *sp = param_table_find(&m.table, "final.linear.bias");
    m.params[sp->offset] = NAN;
    char model[512], err[1024], ck[600];
    path_in(model, sizeof model, "nan_base.safetensors");
    EXPECT(dit_save(&m, model, NULL, err, sizeof err) == 0, "%s", err);
    dit_free(&m);
    TrainConfig c = tiny_train_config();
    char dir[512];
    path_in(dir, sizeof dir, "nan_weights");
    Reward *rid = test_reward(0, 0, 0), *rpr = test_reward(1, 0, 0);
    TrainRun run = {dir, 0, 0, model, NULL, rid, rpr, 0, 0, 0, TRAIN_FORWARD_CACHE_MB, NULL, 0, TEST_FAULT_NONE};
    TrainResult r;
    int rc = train_run(&c, &run, &r, err, sizeof err);
    EXPECT(rc == TRAIN_ERUNTIME && one_line(err) && strstr(err, "no checkpoint was written"), "status %d: %s", rc, err);
    file_of(ck, sizeof ck, "nan_weights", TRAIN_CKPT_FILE);
    EXPECT(access(ck, F_OK) != 0, "a checkpoint was written from NaN weights");
    reward_free(rid), reward_free(rpr);
}

static void test_constant_rewards(void) {
    TrainConfig c = tiny_train_config();
    c.iterations = 2, c.kl_beta = 0.0f; // (weight decay moves the policy off the reference, so a KL term would not be 0)
    char err[1024], f[600];
    TrainResult r;
    EXPECT(run_train(&c, "constant", 0, 0, 0, 1, &r, err, sizeof err) == TRAIN_OK, "%s", err);
    EXPECT(r.last_loss == 0.0 && r.last_grad_norm == 0.0, "loss %g, grad norm %g", r.last_loss, r.last_grad_norm);
    file_of(f, sizeof f, "constant", TRAIN_METRICS_FILE);
    size_t len;
    char *m = (char *)test_read_file(f, &len);
    EXPECT(m && strstr(m, "\"zero\":1,") && strstr(m, "\"adv_abs_mean\":0,") && strstr(m, "\"grad_cos_id_prompt\":null") &&
               !strstr(m, "nan"),
           "metrics:\n%s", m ? m : "(none)");
    free(m);
}

// ---- end to end: GRPO climbs a reward it can climb ----------------------------------------------------

// The mean of "reward_id_mean" over the metrics lines of iterations [from, to].
static double mean_reward_id(const char *metrics, int from, int to) {
    double sum = 0.0;
    int n = 0, it = 0;
    for (const char *l = metrics; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *k = strstr(l, "\"reward_id_mean\":");
        if (sscanf(l, "{\"iteration\":%d", &it) == 1 && k && it >= from && it <= to) sum += strtod(k + 17, NULL), n++;
    }
    return n ? sum / n : NAN;
}

// The identity slot holds "bright" (100 x the mean pixel) at weight +1 or -1 and the prompt weight is
// 0: the rollouts' brightness must rise, or fall, by a wide margin over 24 iterations. A sign error in
// the advantage, the log-prob's gradient or the update would move it the wrong way.
static void test_learns_a_simple_reward(void) {
    for (int sign = 1; sign >= -1; sign -= 2) {
        TrainConfig c = train_config_default();
        train_preset_apply(&c, TRAIN_PRESET_NAIVE_1_1);
        c.w_id = (float)sign, c.w_prompt = 0.0f;
        c.iterations = 24, c.pairs = 2, c.group_size = 6, c.steps = 4, c.lr = 3e-2f, c.kl_beta = 0.0f;
        c.ckpt_every = 0, c.sample_every = 0, c.cos_every = 0;
        char dir[512], model[512], err[1024], f[600];
        path_in(dir, sizeof dir, sign > 0 ? "bright_up" : "bright_down");
        path_in(model, sizeof model, "base.safetensors");
        Reward *rid = test_reward(2, 0, 0), *rpr = test_reward(1, 0, 0);
        TrainRun run = {dir, 0, 0, model, NULL, rid, rpr, 0, 0, 0, TRAIN_FORWARD_CACHE_MB, NULL, 0, TEST_FAULT_NONE};
        TrainResult r;
        EXPECT(train_run(&c, &run, &r, err, sizeof err) == TRAIN_OK, "%s", err);
        reward_free(rid), reward_free(rpr);
        file_of(f, sizeof f, sign > 0 ? "bright_up" : "bright_down", TRAIN_METRICS_FILE);
        size_t len;
        char *m = (char *)test_read_file(f, &len);
        const double first = mean_reward_id(m, 1, 4), last = mean_reward_id(m, 21, 24);
        EXPECT(isfinite(first) && isfinite(last) && sign * (last - first) > 20.0,
               "weight %+d: brightness %.2f over iterations 1-4, %.2f over 21-24", sign, first, last);
        free(m);
    }
}

static void test_bad_inputs(void) {
    TrainConfig c = tiny_train_config();
    char err[1024], dir[512], model[512];
    Reward *rid = test_reward(0, 0, 0), *rpr = test_reward(1, 0, 0);
    TrainResult r;
    // missing model
    path_in(dir, sizeof dir, "bad1");
    TrainRun run = {dir, 0, 0, "/nonexistent/base.safetensors", NULL, rid, rpr, 0, 0, 0, TRAIN_FORWARD_CACHE_MB, NULL, 0, TEST_FAULT_NONE};
    EXPECT(train_run(&c, &run, &r, err, sizeof err) == TRAIN_EINPUT && one_line(err), "missing model: %s", err);
    // a reward for another image size
    path_in(model, sizeof model, "base.safetensors");
    run.model_path = model;
    rid->S = 16;
    EXPECT(train_run(&c, &run, &r, err, sizeof err) == TRAIN_EINPUT && one_line(err) && strstr(err, "8x8") &&
               strstr(err, "16x16"),
           "size mismatch: %s", err);
    rid->S = 0;
    // resume without a checkpoint, and with a changed non-resumable key
    path_in(dir, sizeof dir, "bad2");
    run.dir = dir, run.resume = 1;
    EXPECT(train_run(&c, &run, &r, err, sizeof err) == TRAIN_EINPUT && strstr(err, "does not exist"), "%s", err);
    run.resume = 0, run.stop_after = 1;
    EXPECT(train_run(&c, &run, &r, err, sizeof err) == TRAIN_OK, "%s", err);
    EXPECT(train_run(&c, &run, &r, err, sizeof err) == TRAIN_EINPUT && strstr(err, "already holds a run"), "%s", err);
    TrainConfig c2 = c;
    c2.lr = 2e-3f;
    run.resume = 1, run.stop_after = 0;
    EXPECT(train_run(&c2, &run, &r, err, sizeof err) == TRAIN_EINPUT && strstr(err, "cfg.lr"), "%s", err);
    reward_free(rid), reward_free(rpr);
}

int main(void) {
    g_dir = scratch_dir(g_dir_template);
    g_world = cg_malloc(sizeof(World));
    world_init(g_world, 1);
    {   // the base model of the trainer tests
        DiTModel m;
        tiny_model(&m, 1, 1, 20, 0.1f);
        char path[512], err[256];
        path_in(path, sizeof path, "base.safetensors");
        CG_CHECK(dit_save(&m, path, NULL, err, sizeof err) == 0, "%s", err);
        dit_free(&m);
    }
    // tiny models: one thread (a parallel region costs more than the work)
    omp_set_num_threads(1);
    RUN(test_ratio_exactly_one);
    RUN(test_forward_cache_bits);
    RUN(test_forward_cache_trains_alike);
    RUN(test_gradient_at_ratio_one);
    RUN(test_finite_differences);
    RUN(test_clip_objective);
    RUN(test_clip_engages_on_the_model);
    RUN(test_equal_rewards);
    RUN(test_rollouts);
    RUN(test_presets);
    RUN(test_resume_bit_exact);
    RUN(test_nan_reward_keeps_checkpoint);
    RUN(test_nan_weights_stop);
    RUN(test_inf_reward_and_nan_loss_stop);
    RUN(test_gradient_cosine_signs);
    RUN(test_constant_rewards);
    RUN(test_bad_inputs);
    RUN(test_learns_a_simple_reward);
    free(g_world);
    scratch_remove(g_dir);
    return test_summary("grpo");
}
