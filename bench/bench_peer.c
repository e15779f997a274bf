// bench_peer.c: cgrpo's side of the PyTorch peer (bench/peer.sh, bench/torch_twin.py).
//
//   build/bench/bench_peer check OUT.safetensors [--model FILE]
//       Runs the shipped generator on fixed inputs and writes inputs, outputs and gradients to one
//       safetensors file, so that the twin can be checked against cgrpo on identical inputs:
//         gen.*    dit_forward + dit_backward at B = 8 (v, and the gradient of sum(v * dv) for
//                  every parameter), with one reference dropped, one prompt dropped and PAD tokens
//         block.*  block 0 alone on the generator's own embedded sequence and conditioning
//                  (y, dx, dc and its weight gradients for a random dy)
//         grpo.*   one SDE group rollout of the default config (dance, eta 0.7, 10 steps, own
//                  noise) with a policy that differs from the reference (base + 1e-3 noise), its
//                  trajectory, log-probs and step noise; then grpo_group_step at one step with
//                  the KL to the reference (the update's micro-batch: loss, new log-probs,
//                  gradients) and one clip + AdamW step (the new parameters)
//   build/bench/bench_peer time [--model FILE] [--min-s S]
//       Prints one JSON object: seconds of one DiT block forward, forward + backward, the whole
//       generator forward, forward + backward (B = 8 rows, the rollout's layout), each the best
//       of 3 rounds of the mean over >= S seconds; the matrix-product FLOPs of each item (2 M N K
//       summed over its products) and the seconds plain OpenBLAS sgemm takes for exactly those
//       products in the same run (one threaded call per product, products that come in batches,
//       such as attention's per-head ones, as an OpenMP loop of single-threaded calls); and the
//       same FLOP and sgemm seconds for one GRPO iteration of the default config, counted from
//       its forwards and backwards (rollout forwards, the update's policy backwards and reference
//       forwards; "recompute" adds the policy forwards that cgrpo train keeps from the rollout).
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "core/timer.h"
#include "flow/sampler.h"
#include "flow/schedule.h"
#include "io/safetensors.h"
#include "models/dit.h"
#include "nn/blas_info.h"
#include "nn/optim.h"
#include "rl/grpo.h"
#include "rl/trainer.h"

#define B_ROWS 8                 // the rollout's batch layout: one group of G = 8 rows
#define PERTURB 1e-3f            // policy = base + PERTURB * N(0, 1) in the GRPO check
#define CHECK_STEP 3             // the trained step of the GRPO check
#define CHECK_SEED 1
#define CHECK_STREAM 0x5045455200000001ull // "PEER" 1

// ---- inputs ---------------------------------------------------------------------------------------

typedef struct {
    int B;
    size_t n;
    float *x, *sigma, *ref, *dv; // (B, n), (B), (B, n), (B, n)
    int *tokens;                 // (B, Lt)
    unsigned char drop_ref[B_ROWS], drop_txt[B_ROWS];
} GenInputs;

static void fill_normal(float *p, size_t n, uint64_t stream, float scale) {
    cg_rng_fill_normal(p, n, 1234, stream, 0);
    for (size_t i = 0; i < n; i++) p[i] *= scale;
}

// Fixed inputs: x ~ N(0, 1), sigma on the default schedule, ref ~ U(-1, 1), prompts of 4..8
// words then PAD; row 2 has its reference dropped, row 3 its prompt (drop = 1 only with `drops`).
static void gen_inputs(GenInputs *in, const DiTConfig *cfg, int drops) {
    const int B = B_ROWS, Lt = cfg->text_len;
    in->B = B;
    in->n = dit_image_floats(cfg);
    const size_t Bn = (size_t)B * in->n;
    in->x = cg_malloc(Bn * sizeof(float));
    in->ref = cg_malloc(Bn * sizeof(float));
    in->dv = cg_malloc(Bn * sizeof(float));
    in->sigma = cg_malloc((size_t)B * sizeof(float));
    in->tokens = cg_calloc((size_t)B * Lt, sizeof(int));
    fill_normal(in->x, Bn, 1, 1.0f);
    fill_normal(in->dv, Bn, 2, 1.0f);
    cg_rng_fill_uniform(in->ref, Bn, 1234, 3, 0);
    for (size_t i = 0; i < Bn; i++) in->ref[i] = 2.0f * in->ref[i] - 1.0f;
    float sig[11];
    flow_sigmas(sig, 10, FLOW_DEFAULT_SHIFT);
    cg_rng r = cg_rng_make(1234, 4);
    for (int b = 0; b < B; b++) {
        in->sigma[b] = sig[b % 10];
        const int words = 4 + b % 5;
        for (int j = 0; j < words && j < Lt; j++) in->tokens[(size_t)b * Lt + j] = 1 + (int)cg_rng_below(&r, (uint32_t)(cfg->vocab - 1));
        in->drop_ref[b] = drops && b == 2;
        in->drop_txt[b] = drops && b == 3;
    }
}

static void gen_inputs_free(GenInputs *in) { free(in->x), free(in->sigma), free(in->ref), free(in->dv), free(in->tokens); }

static DiTModel load_model(const char *path) {
    DiTModel m;
    char err[512];
    if (dit_load(path, &m, B_ROWS, err, sizeof err)) cg_usage("%s", err);
    return m;
}

// ---- the dump -------------------------------------------------------------------------------------

#define DUMP_MAX 1024
typedef struct {
    int n;
    char *names[DUMP_MAX];
    size_t shapes[DUMP_MAX][4];
    int ndims[DUMP_MAX];
    float *data[DUMP_MAX]; // owned copies
} Dump;

static void dump_add(Dump *d, const char *name, const float *p, int ndim, size_t d0, size_t d1, size_t d2, size_t d3) {
    CG_CHECK(d->n < DUMP_MAX && ndim >= 1 && ndim <= 4, "dump of %s", name);
    const size_t dims[4] = {d0, d1, d2, d3};
    size_t count = 1;
    for (int k = 0; k < ndim; k++) d->shapes[d->n][k] = dims[k], count *= dims[k];
    d->names[d->n] = strdup(name);
    d->ndims[d->n] = ndim;
    d->data[d->n] = cg_malloc(count * sizeof(float));
    memcpy(d->data[d->n], p, count * sizeof(float));
    d->n++;
}

static void dump_ints(Dump *d, const char *name, const int *p, size_t rows, size_t cols) {
    float *f = cg_malloc(rows * cols * sizeof(float));
    for (size_t i = 0; i < rows * cols; i++) f[i] = (float)p[i];
    dump_add(d, name, f, 2, rows, cols, 0, 0);
    free(f);
}

static void dump_scalar(Dump *d, const char *name, double v) {
    float f = (float)v;
    dump_add(d, name, &f, 1, 1, 0, 0, 0);
}

// Every tensor of a parameter-shaped buffer under prefix + its table name, with the table's shape.
static void dump_table(Dump *d, const char *prefix, const ParamTable *t, const float *buf) {
    for (int i = 0; i < t->n; i++) {
        const ParamSpec *s = &t->specs[i];
        char name[PARAM_NAME_MAX + 32];
        snprintf(name, sizeof name, "%s%s", prefix, s->name);
        dump_add(d, name, buf + s->offset, s->ndim, (size_t)s->shape[0], s->ndim > 1 ? (size_t)s->shape[1] : 0, 0, 0);
    }
}

static void dump_write(Dump *d, const char *path) {
    const size_t *shapes[DUMP_MAX];
    const float *data[DUMP_MAX];
    for (int i = 0; i < d->n; i++) shapes[i] = d->shapes[i], data[i] = d->data[i];
    const char *keys[1] = {"blas.core"}, *vals[1] = {blas_core()};
    char err[512];
    if (st_write_f32(path, (const char *const *)d->names, shapes, d->ndims, data, (size_t)d->n, keys, vals, 1, err, sizeof err))
        cg_die("%s", err);
    for (int i = 0; i < d->n; i++) free(d->names[i]), free(d->data[i]);
    d->n = 0;
}

// ---- check ----------------------------------------------------------------------------------------

static void check_generator(Dump *d, DiTModel *m, const GenInputs *in) {
    const DiTConfig *cf = &m->cfg;
    const int B = in->B, S = cf->img, CH = cf->channels, T = dit_seq_len(cf), C = cf->width, NH = cf->heads;
    float *v = cg_malloc((size_t)B * in->n * sizeof(float));
    dit_zero_grad(m);
    dit_forward(m, v, in->x, in->sigma, in->ref, in->tokens, in->drop_ref, in->drop_txt, B);
    dit_backward(m, in->dv, B);
    dump_add(d, "gen.x", in->x, 4, B, S, S, CH);
    dump_add(d, "gen.sigma", in->sigma, 1, B, 0, 0, 0);
    dump_add(d, "gen.ref", in->ref, 4, B, S, S, CH);
    dump_ints(d, "gen.tokens", in->tokens, B, cf->text_len);
    float drops[2 * B_ROWS];
    for (int b = 0; b < B; b++) drops[b] = in->drop_ref[b], drops[B + b] = in->drop_txt[b];
    dump_add(d, "gen.drop_ref", drops, 1, B, 0, 0, 0);
    dump_add(d, "gen.drop_txt", drops + B, 1, B, 0, 0, 0);
    dump_add(d, "gen.dv", in->dv, 4, B, S, S, CH);
    dump_add(d, "gen.v", v, 4, B, S, S, CH);
    dump_table(d, "gen.grad.", &m->table, m->grads);

    // block 0 on the embedded sequence xs[0] and the conditioning of this forward
    const size_t btc = (size_t)B * T * C;
    float *x = cg_malloc(btc * sizeof(float)), *c = cg_malloc((size_t)B * C * sizeof(float));
    memcpy(x, m->acts.xs, btc * sizeof(float));
    memcpy(c, m->acts.c, (size_t)B * C * sizeof(float));
    float *mask = cg_malloc((size_t)B * T * sizeof(float));
    for (size_t i = 0; i < (size_t)B * T; i++) mask[i] = m->acts.mask[i];
    unsigned char *kmask = cg_malloc((size_t)B * T);
    memcpy(kmask, m->acts.mask, (size_t)B * T);
    float *y = cg_malloc(btc * sizeof(float)), *dy = cg_malloc(btc * sizeof(float));
    float *dx = cg_calloc(btc, sizeof(float)), *dc = cg_calloc((size_t)B * C, sizeof(float));
    fill_normal(dy, btc, 5, 1.0f);
    float *acts = cg_calloc(dit_block_acts_floats(B, T, C, NH), sizeof(float));
    float *scratch = cg_calloc(dit_block_scratch_floats(B, T, C, NH), sizeof(float));
    DiTBlockActs a;
    dit_block_acts_bind(&a, acts, B, T, C, NH);
    dit_zero_grad(m);
    dit_block_forward(y, &a, x, c, kmask, &m->w.blocks[0], B, T, C, NH);
    dit_block_backward(dx, dc, &m->g.blocks[0], scratch, dy, &a, x, c, kmask, &m->w.blocks[0], B, T, C, NH);
    dump_add(d, "block.x", x, 3, B, T, C, 0);
    dump_add(d, "block.c", c, 2, B, C, 0, 0);
    dump_add(d, "block.mask", mask, 2, B, T, 0, 0);
    dump_add(d, "block.dy", dy, 3, B, T, C, 0);
    dump_add(d, "block.y", y, 3, B, T, C, 0);
    dump_add(d, "block.dx", dx, 3, B, T, C, 0);
    dump_add(d, "block.dc", dc, 2, B, C, 0, 0);
    for (int i = 0; i < m->table.n; i++) {
        const ParamSpec *s = &m->table.specs[i];
        if (strncmp(s->name, "blocks.0.", 9) != 0) continue;
        char name[PARAM_NAME_MAX + 32];
        snprintf(name, sizeof name, "block.grad.%s", s->name + 9);
        dump_add(d, name, m->grads + s->offset, s->ndim, (size_t)s->shape[0], s->ndim > 1 ? (size_t)s->shape[1] : 0, 0, 0);
    }
    dit_zero_grad(m);
    free(v), free(x), free(c), free(mask), free(kmask), free(y), free(dy), free(dx), free(dc), free(acts), free(scratch);
}

static void check_grpo(Dump *d, const char *model_path, const GenInputs *in) {
    DiTModel pol = load_model(model_path), ref = load_model(model_path);
    const DiTConfig *cf = &pol.cfg;
    const TrainConfig tc = train_config_default();
    const int G = B_ROWS, N = tc.steps, S = cf->img, CH = cf->channels, Lt = cf->text_len;
    const size_t n = in->n, Gn = (size_t)G * n, total = pol.table.total;
    CG_CHECK(tc.group_size == G, "the default group size is %d, this check assumes %d", tc.group_size, G);
    float *noise = cg_malloc(total * sizeof(float));
    fill_normal(noise, total, 6, PERTURB);
    for (size_t i = 0; i < total; i++) pol.params[i] += noise[i];
    free(noise);

    // the group: row 0's reference and prompt for every row, as a GRPO group shares them
    float *gref = cg_malloc(Gn * sizeof(float));
    int *gtok = cg_malloc((size_t)G * Lt * sizeof(int));
    for (int g = 0; g < G; g++) {
        memcpy(gref + (size_t)g * n, in->ref, n * sizeof(float));
        memcpy(gtok + (size_t)g * Lt, in->tokens, (size_t)Lt * sizeof(int));
    }
    float *sigmas = cg_malloc((size_t)(N + 1) * sizeof(float));
    flow_sigmas(sigmas, N, tc.shift);
    float *traj = cg_malloc((size_t)(N + 1) * Gn * sizeof(float)), *logp = cg_malloc((size_t)N * G * sizeof(float));
    float *img = cg_malloc(Gn * sizeof(float)), *e = cg_malloc((size_t)N * Gn * sizeof(float));
    DiTVelocity pv = {&pol, gref, gtok, tc.cfg_ref, tc.cfg_txt}, rv = {&ref, gref, gtok, tc.cfg_ref, tc.cfg_txt};
    flow_sampler fs = {FLOW_SDE_DANCE, tc.eta, tc.shared_noise ? FLOW_INIT_SHARED : FLOW_INIT_NOISE, CHECK_SEED,
                       CHECK_STREAM};
    flow_sample(img, traj, logp, dit_velocity, &pv, sigmas, N, &fs, G, n);
    for (int i = 0; i < N; i++) flow_step_noise(e + (size_t)i * Gn, CHECK_SEED, CHECK_STREAM, i, G, n);

    // one micro-batch of the update at CHECK_STEP, with the KL to the reference
    const int K = train_steps_per_epoch(&tc), count = tc.pairs * K * G;
    float adv[B_ROWS];
    fill_normal(adv, G, 7, 1.0f);
    const flow_step_coef c = flow_step_coef_make(FLOW_SDE_DANCE, sigmas, N, CHECK_STEP, tc.eta);
    GrpoWork w;
    grpo_work_alloc(&w, G, n);
    GrpoStats st;
    grpo_stats_init(&st);
    const GrpoConfig gc = {tc.clip_eps, tc.kl_beta};
    dit_zero_grad(&pol);
    const double loss = grpo_group_step(&st, &w, &pv, &rv, &c, traj + (size_t)CHECK_STEP * Gn,
                                        traj + (size_t)(CHECK_STEP + 1) * Gn, logp + (size_t)CHECK_STEP * G, adv, count,
                                        &gc, 1);

    dump_table(d, "grpo.policy.", &pol.table, pol.params);
    dump_add(d, "grpo.ref", gref, 4, G, S, S, CH);
    dump_ints(d, "grpo.tokens", gtok, G, Lt);
    dump_add(d, "grpo.sigmas", sigmas, 1, (size_t)N + 1, 0, 0, 0);
    dump_add(d, "grpo.traj", traj, 3, (size_t)N + 1, G, n, 0);
    dump_add(d, "grpo.noise", e, 3, N, G, n, 0);
    dump_add(d, "grpo.logprobs", logp, 2, N, G, 0, 0);
    dump_add(d, "grpo.adv", adv, 1, G, 0, 0, 0);
    dump_scalar(d, "grpo.step", CHECK_STEP);
    dump_scalar(d, "grpo.eta", tc.eta);
    dump_scalar(d, "grpo.count", count);
    dump_scalar(d, "grpo.clip_eps", tc.clip_eps);
    dump_scalar(d, "grpo.kl_beta", tc.kl_beta);
    dump_scalar(d, "grpo.loss", loss);
    dump_scalar(d, "grpo.kl_sum", st.kl_ref);
    dump_add(d, "grpo.logp_new", w.logp_new, 1, G, 0, 0, 0);
    dump_table(d, "grpo.grad.", &pol.table, pol.grads);

    // the optimizer step of an iteration: clip the global norm, one AdamW step from zero moments
    const double gn = clip_grad_norm(pol.grads, total, tc.grad_clip);
    const AdamWConfig opt = {tc.lr, tc.beta1, tc.beta2, tc.adam_eps, tc.weight_decay};
    adamw_step(pol.params, pol.grads, pol.adam_m, pol.adam_v, &pol.table, 1, &opt);
    dump_scalar(d, "grpo.grad_norm", gn);
    dump_scalar(d, "grpo.lr", tc.lr);
    dump_scalar(d, "grpo.weight_decay", tc.weight_decay);
    dump_scalar(d, "grpo.grad_clip", tc.grad_clip);
    dump_table(d, "grpo.adamw.", &pol.table, pol.params);

    grpo_work_free(&w);
    free(gref), free(gtok), free(sigmas), free(traj), free(logp), free(img), free(e);
    dit_free(&pol), dit_free(&ref);
}

static int cmd_check(const char *out, const char *model_path) {
    DiTModel m = load_model(model_path);
    GenInputs in;
    gen_inputs(&in, &m.cfg, 1);
    Dump *d = cg_calloc(1, sizeof(Dump));
    check_generator(d, &m, &in);
    check_grpo(d, model_path, &in);
    const int nt = d->n;
    dump_write(d, out);
    fprintf(stderr, "bench_peer: wrote %d tensors to %s (blas.core %s, %d threads)\n", nt, out, blas_core(),
            omp_get_max_threads());
    free(d);
    gen_inputs_free(&in);
    dit_free(&m);
    return 0;
}

// ---- sgemm at the items' shapes --------------------------------------------------------------------

typedef struct {
    int count, ta, tb, M, N, K; // `count` independent products C (M, N) = op(A) op(B)
} Gemm;

#define GEMM_MAX 256
typedef struct {
    int n;
    Gemm g[GEMM_MAX];
    float *a[GEMM_MAX], *b[GEMM_MAX], *c[GEMM_MAX]; // count consecutive operands each
} GemmList;

static void gl_add(GemmList *l, int count, int ta, int tb, int M, int N, int K) {
    CG_CHECK(l->n < GEMM_MAX, "too many products");
    l->g[l->n++] = (Gemm){count, ta, tb, M, N, K};
}

// The products of linear_forward and linear_backward (nn/layers.c) for in (rows, C) -> out (rows, OC).
static void gl_linear_fwd(GemmList *l, int rows, int C, int OC) { gl_add(l, 1, 0, 1, rows, OC, C); }
static void gl_linear_bwd(GemmList *l, int rows, int C, int OC, int din) {
    if (din) gl_add(l, 1, 0, 0, rows, C, OC);
    gl_add(l, 1, 1, 0, OC, C, rows);
}

// The products of dit_block_forward / dit_block_backward.
static void gl_block(GemmList *l, int B, int T, int C, int NH, int backward) {
    const int BT = B * T, hs = C / NH, BH = B * NH;
    if (!backward) {
        gl_linear_fwd(l, B, C, 6 * C);
        gl_linear_fwd(l, BT, C, 3 * C);
        gl_add(l, BH, 0, 1, T, T, hs);
        gl_add(l, BH, 0, 0, T, hs, T);
        gl_linear_fwd(l, BT, C, C);
        gl_linear_fwd(l, BT, C, 4 * C);
        gl_linear_fwd(l, BT, 4 * C, C);
        return;
    }
    gl_linear_bwd(l, BT, 4 * C, C, 1);
    gl_linear_bwd(l, BT, C, 4 * C, 1);
    gl_linear_bwd(l, BT, C, C, 1);
    gl_add(l, BH, 0, 1, T, T, hs);
    gl_add(l, BH, 1, 0, T, hs, T);
    gl_add(l, BH, 0, 0, T, hs, T);
    gl_add(l, BH, 1, 0, T, hs, T);
    gl_linear_bwd(l, BT, C, 3 * C, 1);
    gl_linear_bwd(l, B, C, 6 * C, 1);
}

// The products of dit_forward / dit_backward.
static void gl_generator(GemmList *l, const DiTConfig *cf, int B, int backward) {
    const int C = cf->width, Ti = dit_tokens_per_image(cf), T = dit_seq_len(cf);
    const int PPC = cf->patch * cf->patch * cf->channels;
    if (!backward) {
        gl_linear_fwd(l, B * 2 * Ti, PPC, C);
        gl_linear_fwd(l, B, cf->tdim, C);
        gl_linear_fwd(l, B, C, C);
        for (int k = 0; k < cf->depth; k++) gl_block(l, B, T, C, cf->heads, 0);
        gl_linear_fwd(l, B, C, 2 * C);
        gl_linear_fwd(l, B * Ti, C, PPC);
        return;
    }
    gl_linear_bwd(l, B * Ti, C, PPC, 1);
    gl_linear_bwd(l, B, C, 2 * C, 1);
    for (int k = 0; k < cf->depth; k++) gl_block(l, B, T, C, cf->heads, 1);
    gl_linear_bwd(l, B, C, C, 1);
    gl_linear_bwd(l, B, cf->tdim, C, 0);
    gl_linear_bwd(l, B * 2 * Ti, PPC, C, 0);
}

static double gl_flop(const GemmList *l) {
    double f = 0.0;
    for (int i = 0; i < l->n; i++) f += 2.0 * l->g[i].count * l->g[i].M * l->g[i].N * (double)l->g[i].K;
    return f;
}

static void gl_alloc(GemmList *l) {
    for (int i = 0; i < l->n; i++) {
        const Gemm *g = &l->g[i];
        const size_t na = (size_t)g->count * g->M * g->K, nb = (size_t)g->count * g->K * g->N;
        l->a[i] = cg_malloc(na * sizeof(float));
        l->b[i] = cg_malloc(nb * sizeof(float));
        l->c[i] = cg_calloc((size_t)g->count * g->M * g->N, sizeof(float));
        fill_normal(l->a[i], na, 100 + (uint64_t)i, 0.1f);
        fill_normal(l->b[i], nb, 300 + (uint64_t)i, 0.1f);
    }
}

static void gl_free(GemmList *l) {
    for (int i = 0; i < l->n; i++) free(l->a[i]), free(l->b[i]), free(l->c[i]);
}

static void one_gemm(const Gemm *g, const float *a, const float *b, float *c) {
    const int lda = g->ta ? g->M : g->K, ldb = g->tb ? g->K : g->N;
    cblas_sgemm(CblasRowMajor, g->ta ? CblasTrans : CblasNoTrans, g->tb ? CblasTrans : CblasNoTrans, g->M, g->N, g->K,
                1.0f, a, lda, b, ldb, 0.0f, c, g->N);
}

static void gl_run(const GemmList *l) {
    for (int i = 0; i < l->n; i++) {
        const Gemm *g = &l->g[i];
        if (g->count == 1) {
            one_gemm(g, l->a[i], l->b[i], l->c[i]);
            continue;
        }
        const size_t sa = (size_t)g->M * g->K, sb = (size_t)g->K * g->N, sc = (size_t)g->M * g->N;
#pragma omp parallel for schedule(static)
        for (int k = 0; k < g->count; k++) one_gemm(g, l->a[i] + k * sa, l->b[i] + k * sb, l->c[i] + k * sc);
    }
}

// ---- time -----------------------------------------------------------------------------------------

// Best of 3 rounds of the mean over >= min_s seconds (after one warm-up run): var = seconds per run.
#define TIME_IT(var, min_s, stmt)                                                                  \
    do {                                                                                           \
        stmt;                                                                                      \
        var = INFINITY;                                                                            \
        for (int round_ = 0; round_ < 3; round_++) {                                               \
            int reps_ = 0;                                                                         \
            double t0_ = cg_now(), el_;                                                            \
            do { stmt; reps_++; el_ = cg_now() - t0_; } while (el_ < (min_s));                     \
            if (el_ / reps_ < var) var = el_ / reps_;                                              \
        }                                                                                          \
    } while (0)

static double time_gemms(GemmList *l, double min_s) {
    gl_alloc(l);
    double s;
    TIME_IT(s, min_s, gl_run(l));
    gl_free(l);
    return s;
}

// One item's JSON line; returns the sgemm seconds of its products.
static double print_item(const char *name, double s, GemmList *l, double min_s, int last) {
    const double flop = gl_flop(l), gs = time_gemms(l, min_s);
    printf("    \"%s\": {\"s\": %.6e, \"flop\": %.6e, \"sgemm_s\": %.6e, \"gflops\": %.2f, \"sgemm_gflops\": %.2f}%s\n", name,
           s, flop, gs, flop / s * 1e-9, flop / gs * 1e-9, last ? "" : ",");
    return gs;
}

static int cmd_time(const char *model_path, double min_s) {
    DiTModel m = load_model(model_path);
    const DiTConfig *cf = &m.cfg;
    const int B = B_ROWS, T = dit_seq_len(cf), C = cf->width, NH = cf->heads;
    GenInputs in;
    gen_inputs(&in, cf, 0);
    float *v = cg_malloc((size_t)B * in.n * sizeof(float));

    double g_f, g_fb;
    TIME_IT(g_f, min_s, dit_forward(&m, v, in.x, in.sigma, in.ref, in.tokens, NULL, NULL, B));
    TIME_IT(g_fb, min_s, {
        dit_forward(&m, v, in.x, in.sigma, in.ref, in.tokens, NULL, NULL, B);
        dit_backward(&m, in.dv, B);
    });

    // block 0 on the embedded sequence of the last forward
    const size_t btc = (size_t)B * T * C;
    float *x = cg_malloc(btc * sizeof(float)), *c = cg_malloc((size_t)B * C * sizeof(float));
    unsigned char *mask = cg_malloc((size_t)B * T);
    memcpy(x, m.acts.xs, btc * sizeof(float));
    memcpy(c, m.acts.c, (size_t)B * C * sizeof(float));
    memcpy(mask, m.acts.mask, (size_t)B * T);
    float *y = cg_malloc(btc * sizeof(float)), *dy = cg_malloc(btc * sizeof(float));
    float *dx = cg_calloc(btc, sizeof(float)), *dc = cg_calloc((size_t)B * C, sizeof(float));
    fill_normal(dy, btc, 5, 1.0f);
    float *acts = cg_calloc(dit_block_acts_floats(B, T, C, NH), sizeof(float));
    float *scratch = cg_calloc(dit_block_scratch_floats(B, T, C, NH), sizeof(float));
    DiTBlockActs a;
    dit_block_acts_bind(&a, acts, B, T, C, NH);
    const DiTBlockWeights *w = &m.w.blocks[0];
    DiTBlockWeights *gw = &m.g.blocks[0];
    double b_f, b_fb;
    TIME_IT(b_f, min_s, dit_block_forward(y, &a, x, c, mask, w, B, T, C, NH));
    TIME_IT(b_fb, min_s, {
        dit_block_forward(y, &a, x, c, mask, w, B, T, C, NH);
        dit_block_backward(dx, dc, gw, scratch, dy, &a, x, c, mask, w, B, T, C, NH);
    });

    GemmList *bf = cg_calloc(1, sizeof(GemmList)), *bfb = cg_calloc(1, sizeof(GemmList));
    GemmList *gf = cg_calloc(1, sizeof(GemmList)), *gfb = cg_calloc(1, sizeof(GemmList));
    gl_block(bf, B, T, C, NH, 0);
    gl_block(bfb, B, T, C, NH, 0), gl_block(bfb, B, T, C, NH, 1);
    gl_generator(gf, cf, B, 0);
    gl_generator(gfb, cf, B, 0), gl_generator(gfb, cf, B, 1);

    // one GRPO iteration of the default config, from its forwards and backwards: P N rollout
    // forwards; per trained (group, step) a policy backward and (KL) a reference forward. `cgrpo
    // train` keeps the rollout's forwards of the trained steps for the update (--forward-cache-mb,
    // rl/forward_cache.h), so the policy forward is not run again; "recompute" counts it.
    const TrainConfig tc = train_config_default();
    const int K = train_steps_per_epoch(&tc);
    const double trained = (double)tc.pairs * K * tc.inner_epochs;
    const double n_fwd = (double)tc.pairs * tc.steps + (tc.kl_beta > 0.0f ? trained : 0.0), n_bwd = trained;
    CG_CHECK(tc.group_size == B && tc.cfg_ref == 1.0f && tc.cfg_txt == 1.0f && tc.inner_epochs == 1 &&
                 tc.groups_per_step == 0,
             "the default config has changed its layout or its number of optimizer steps");
    printf("{\n  \"threads\": %d,\n  \"blas_core\": \"%s\",\n  \"min_s\": %g,\n", omp_get_max_threads(), blas_core(), min_s);
    printf("  \"config\": {\"B\": %d, \"T\": %d, \"C\": %d, \"heads\": %d, \"depth\": %d, \"params\": %zu},\n", B, T, C, NH,
           cf->depth, m.table.total);
    printf("  \"items\": {\n");
    print_item("block_fwd", b_f, bf, min_s, 0);
    print_item("block_fwd_bwd", b_fb, bfb, min_s, 0);
    const double f_sg = print_item("generator_fwd", g_f, gf, min_s, 0);
    print_item("generator_fwd_bwd", g_fb, gfb, min_s, 1);
    GemmList *gb = cg_calloc(1, sizeof(GemmList));
    gl_generator(gb, cf, B, 1);
    const double f_flop = gl_flop(gf), b_flop = gl_flop(gb), b_sg = time_gemms(gb, min_s);
    printf("  },\n  \"generator_bwd\": {\"flop\": %.6e, \"sgemm_s\": %.6e},\n", b_flop, b_sg);
    printf("  \"grpo_iteration\": {\"forwards\": %.0f, \"backwards\": %.0f, \"flop\": %.6e, \"sgemm_s\": %.6e,\n",
           n_fwd, n_bwd, n_fwd * f_flop + n_bwd * b_flop, n_fwd * f_sg + n_bwd * b_sg);
    printf("    \"recompute\": {\"forwards\": %.0f, \"backwards\": %.0f, \"flop\": %.6e, \"sgemm_s\": %.6e}}\n}\n",
           n_fwd + trained, n_bwd, (n_fwd + trained) * f_flop + n_bwd * b_flop, (n_fwd + trained) * f_sg + n_bwd * b_sg);
    free(gb);

    free(bf), free(bfb), free(gf), free(gfb);
    free(v), free(x), free(c), free(mask), free(y), free(dy), free(dx), free(dc), free(acts), free(scratch);
    gen_inputs_free(&in);
    dit_free(&m);
    return 0;
}

int main(int argc, char **argv) {
    const char *usage = "usage: bench_peer check OUT.safetensors [--model FILE] | bench_peer time [--model FILE] [--min-s S]";
    if (argc < 2) cg_usage("%s", usage);
    const char *model = "models/base.safetensors", *out = NULL;
    double min_s = 0.5;
    int i = 2;
    if (strcmp(argv[1], "check") == 0) {
        if (argc < 3) cg_usage("%s", usage);
        out = argv[2];
        i = 3;
    } else if (strcmp(argv[1], "time") != 0) {
        cg_usage("%s", usage);
    }
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model = argv[++i];
        else if (strcmp(argv[i], "--min-s") == 0 && i + 1 < argc) min_s = atof(argv[++i]);
        else cg_usage("%s", usage);
    }
    if (!(min_s > 0.0)) cg_usage("--min-s must be > 0");
    return out ? cmd_check(out, model) : cmd_time(model, min_s);
}
