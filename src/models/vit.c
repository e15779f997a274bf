// vit.c: the image encoder (patch embed -> ViT blocks -> LayerNorm -> mean pool -> projection ->
// L2 normalize, optional classification heads), the transformer trunk it shares with the text
// encoder, and the identity / attribute training steps. See vit.h.
#include "models/vit.h"

#include <limits.h>
#include <stddef.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "nn/embed.h"
#include "nn/layers.h"
#include "nn/loss.h"

// Below this many floats of work our own loops stay serial (a parallel region costs more).
#define PAR_MIN_WORK 32768
// Column blocks for the positional-embedding gradient (a sum over the batch).
#define COL_BLOCK 64

static float *falloc(size_t n) { return cg_calloc(n, sizeof(float)); }
static void zero(float *p, size_t n) { memset(p, 0, n * sizeof(float)); }

// ---- helpers shared with textenc.c -----------------------------------------------------------------

void vit_normal_init(float *p, size_t n, float std, cg_rng *rng) {
    for (size_t i = 0; i < n; i++) p[i] = (float)(std * cg_rng_normal(rng));
}

int vit_tower_config_check(int width, int depth, int n_heads, int embed_dim, char *err, size_t errlen) {
    if (width < 1 || width > 8192) return cg_errf(err, errlen, "width %d outside [1, 8192]", width);
    if (depth < 0 || depth > 64) return cg_errf(err, errlen, "depth %d outside [0, 64]", depth);
    if (n_heads < 1 || width % n_heads) return cg_errf(err, errlen, "width %d is not a multiple of n_heads %d", width, n_heads);
    if (embed_dim < 1 || embed_dim > 8192) return cg_errf(err, errlen, "embed_dim %d outside [1, 8192]", embed_dim);
    return 0;
}

void vit_tower_params(ParamTable *t, const ParamDef *own, int n_before, int n, int depth, int C, float **params,
                      float **grads, float **m, float **v) {
    param_table_init(t);
    param_defs_add(t, "", own, n_before);
    vit_trunk_register(t, depth, C);
    param_defs_add(t, "", own + n_before, n - n_before);
    *params = falloc(t->total);
    *grads = falloc(t->total);
    *m = falloc(t->total);
    *v = falloc(t->total);
}

void vit_tower_free(ParamTable *t, float *params, float *grads, float *m, float *v) {
    param_table_free(t);
    free(params), free(grads), free(m), free(v);
}

void vit_tower_zero_state(const ParamTable *t, float *grads, float *m, float *v) {
    zero(grads, t->total);
    zero(m, t->total);
    zero(v, t->total);
}

void vit_add_pos(float *x, const float *pos, int B, int T, int C) {
    size_t tc = (size_t)T * (size_t)C;
#pragma omp parallel for schedule(static) if ((size_t)B * tc > PAR_MIN_WORK)
    for (int b = 0; b < B; b++) {
        float *xb = x + (size_t)b * tc;
        for (size_t i = 0; i < tc; i++) xb[i] += pos[i];
    }
}

// each element by one thread (column blocks)
void vit_add_pos_backward(float *dpos, const float *dx, int B, int T, int C) {
    size_t tc = (size_t)T * (size_t)C;
    long nblocks = (long)((tc + COL_BLOCK - 1) / COL_BLOCK);
#pragma omp parallel for schedule(static) if ((size_t)B * tc > PAR_MIN_WORK)
    for (long blk = 0; blk < nblocks; blk++) {
        size_t i0 = (size_t)blk * COL_BLOCK, n = tc - i0 < COL_BLOCK ? tc - i0 : COL_BLOCK;
        double acc[COL_BLOCK] = {0};
        for (int b = 0; b < B; b++) {
            const float *row = dx + (size_t)b * tc + i0;
            for (size_t j = 0; j < n; j++) acc[j] += row[j];
        }
        for (size_t j = 0; j < n; j++) dpos[i0 + j] += (float)acc[j];
    }
}

void vit_pool_forward(float *pooled, const float *x, const unsigned char *mask, const int *count, int B, int T, int C) {
#pragma omp parallel for schedule(static) if ((size_t)B * T * C > PAR_MIN_WORK)
    for (int b = 0; b < B; b++) {
        float *p = pooled + (size_t)b * C;
        for (int c = 0; c < C; c++) p[c] = 0.0f;
        for (int t = 0; t < T; t++) {
            if (mask && !mask[(size_t)b * T + t]) continue;
            const float *row = x + ((size_t)b * T + t) * C;
            for (int c = 0; c < C; c++) p[c] += row[c];
        }
        float inv = 1.0f / (float)(count ? count[b] : T);
        for (int c = 0; c < C; c++) p[c] *= inv;
    }
}

void vit_pool_backward(float *dx, const float *dpooled, const unsigned char *mask, const int *count, int B, int T,
                       int C) {
#pragma omp parallel for schedule(static) if ((size_t)B * T * C > PAR_MIN_WORK)
    for (int b = 0; b < B; b++) {
        const float inv = 1.0f / (float)(count ? count[b] : T);
        const float *dp = dpooled + (size_t)b * C;
        for (int t = 0; t < T; t++) {
            float *row = dx + ((size_t)b * T + t) * C;
            const int in = !mask || mask[(size_t)b * T + t];
            for (int c = 0; c < C; c++) row[c] = in ? dp[c] * inv : 0.0f;
        }
    }
}

void vit_head_create(ViTHead *h, int max_B, int C, int D) {
    const size_t b = (size_t)max_B;
    h->pooled = falloc(b * (size_t)C);
    h->dpooled = falloc(b * (size_t)C);
    h->feat = falloc(b * (size_t)D);
    h->dfeat = falloc(b * (size_t)D);
    h->feat_norm = falloc(b);
}

void vit_head_free(ViTHead *h) {
    free(h->pooled), free(h->dpooled), free(h->feat), free(h->dfeat), free(h->feat_norm);
    memset(h, 0, sizeof(*h));
}

void vit_head_forward(ViTHead *h, float *emb, const float *proj_w, const float *proj_b, int B, int C, int D) {
    linear_forward(h->feat, h->pooled, proj_w, proj_b, B, C, D);
    l2norm_forward(emb, h->feat_norm, h->feat, B, D);
}

void vit_head_backward(ViTHead *h, float *gproj_w, float *gproj_b, const float *demb, const float *emb,
                       const float *proj_w, int B, int C, int D) {
    zero(h->dfeat, (size_t)B * D);
    l2norm_backward(h->dfeat, demb, emb, h->feat_norm, B, D);
    linear_backward(h->dpooled, gproj_w, gproj_b, h->dfeat, h->pooled, proj_w, B, C, D);
}

// ---- the trunk: L ViT blocks + final LayerNorm ------------------------------------------------------

static void block_prefix(char *out, size_t len, int l) { snprintf(out, len, "blocks.%d.", l); }

void vit_trunk_register(ParamTable *t, int L, int C) {
    char prefix[32];
    for (int l = 0; l < L; l++) {
        block_prefix(prefix, sizeof(prefix), l);
        vit_block_register(t, prefix, C);
    }
    param_table_add2(t, "", "norm.weight", C, 0, 0);
    param_table_add2(t, "", "norm.bias", C, 0, 0);
}

void vit_trunk_create(ViTTrunk *tr, const ParamTable *t, float *params, float *grads, int L, int T,
                      int C, int NH, int max_B) {
    memset(tr, 0, sizeof(*tr));
    tr->L = L, tr->T = T, tr->C = C, tr->NH = NH, tr->max_B = max_B;
    size_t nl = (size_t)(L > 0 ? L : 1);
    tr->w = cg_calloc(nl, sizeof(ViTBlockWeights));
    tr->g = cg_calloc(nl, sizeof(ViTBlockWeights));
    tr->acts = cg_calloc(nl, sizeof(ViTBlockActs));
    char prefix[32];
    for (int l = 0; l < L; l++) {
        block_prefix(prefix, sizeof(prefix), l);
        vit_block_bind(&tr->w[l], params, t, prefix, C);
        vit_block_bind(&tr->g[l], grads, t, prefix, C);
    }
    tr->norm_w = param_table_bind(params, t, "", "norm.weight", C, 0);
    tr->norm_b = param_table_bind(params, t, "", "norm.bias", C, 0);
    tr->gnorm_w = param_table_bind(grads, t, "", "norm.weight", C, 0);
    tr->gnorm_b = param_table_bind(grads, t, "", "norm.bias", C, 0);
    size_t bt = cg_mul_size((size_t)max_B, (size_t)T), btc = cg_mul_size(bt, (size_t)C);
    tr->xs = falloc(cg_mul_size((size_t)L + 1, btc));
    tr->acts_buf = falloc(cg_mul_size((size_t)L, vit_block_acts_floats(max_B, T, C, NH)));
    tr->lnf = falloc(btc);
    tr->lnf_mean = falloc(bt);
    tr->lnf_rstd = falloc(bt);
    tr->dlnf = falloc(btc);
    tr->dx[0] = falloc(btc);
    tr->dx[1] = falloc(btc);
    tr->scratch = falloc(vit_block_scratch_floats(max_B, T, C, NH));
}

void vit_trunk_free(ViTTrunk *tr) {
    free(tr->w), free(tr->g), free(tr->acts);
    free(tr->xs), free(tr->acts_buf), free(tr->lnf), free(tr->lnf_mean), free(tr->lnf_rstd);
    free(tr->dlnf), free(tr->dx[0]), free(tr->dx[1]), free(tr->scratch);
    memset(tr, 0, sizeof(*tr));
}

void vit_trunk_init(ViTTrunk *tr, cg_rng *rng) {
    for (int l = 0; l < tr->L; l++) vit_block_init(&tr->w[l], tr->C, rng);
    for (int c = 0; c < tr->C; c++) tr->norm_w[c] = 1.0f, tr->norm_b[c] = 0.0f;
}

// slot l of xs: (max_B, T, C) floats apart, so that the slots do not move with B
static float *trunk_slot(const ViTTrunk *tr, int l) {
    return tr->xs + (size_t)l * (size_t)tr->max_B * (size_t)tr->T * (size_t)tr->C;
}

void vit_trunk_forward(ViTTrunk *tr, const unsigned char *key_mask, int B) {
    CG_CHECK(B >= 1 && B <= tr->max_B, "batch %d outside [1, %d]", B, tr->max_B);
    tr->B = B;
    const int T = tr->T, C = tr->C, NH = tr->NH;
    size_t per_block = vit_block_acts_floats(tr->max_B, T, C, NH);
    for (int l = 0; l < tr->L; l++) {
        // the activations of block l are laid out for this B inside its max_B-sized region
        vit_block_acts_bind(&tr->acts[l], tr->acts_buf + (size_t)l * per_block, B, T, C, NH);
        vit_block_forward(trunk_slot(tr, l + 1), &tr->acts[l], trunk_slot(tr, l), key_mask, &tr->w[l],
                          B, T, C, NH);
    }
    layernorm_forward(tr->lnf, tr->lnf_mean, tr->lnf_rstd, trunk_slot(tr, tr->L), tr->norm_w,
                      tr->norm_b, B * T, C);
}

const float *vit_trunk_backward(ViTTrunk *tr, const unsigned char *key_mask) {
    const int B = tr->B, T = tr->T, C = tr->C, NH = tr->NH;
    CG_CHECK(B >= 1, "backward before any forward");
    size_t btc = (size_t)B * (size_t)T * (size_t)C;
    float *d = tr->dx[0], *dprev = tr->dx[1];
    zero(d, btc);
    layernorm_backward(d, tr->gnorm_w, tr->gnorm_b, tr->dlnf, trunk_slot(tr, tr->L), tr->norm_w,
                       tr->lnf_mean, tr->lnf_rstd, B * T, C);
    for (int l = tr->L - 1; l >= 0; l--) {
        zero(dprev, btc);
        vit_block_backward(dprev, &tr->g[l], tr->scratch, d, &tr->acts[l], trunk_slot(tr, l), key_mask,
                           &tr->w[l], B, T, C, NH);
        float *tmp = d;
        d = dprev, dprev = tmp;
    }
    return d;
}

// ---- config -----------------------------------------------------------------------------------------

int vit_config_check(const ViTConfig *c, char *err, size_t errlen) {
    if (c->img < 1 || c->img > 4096) return cg_errf(err, errlen, "img %d outside [1, 4096]", c->img);
    if (c->patch < 1 || c->patch > c->img) return cg_errf(err, errlen, "patch %d outside [1, img %d]", c->patch, c->img);
    if (c->img % c->patch) return cg_errf(err, errlen, "img %d is not a multiple of patch %d", c->img, c->patch);
    if (c->channels < 1 || c->channels > 16) return cg_errf(err, errlen, "channels %d outside [1, 16]", c->channels);
    if (vit_tower_config_check(c->width, c->depth, c->n_heads, c->embed_dim, err, errlen)) return -1;
    if (c->n_cls_heads < 0 || c->n_cls_heads > VIT_MAX_CLS_HEADS)
        return cg_errf(err, errlen, "n_cls_heads %d outside [0, %d]", c->n_cls_heads, VIT_MAX_CLS_HEADS);
    for (int k = 0; k < c->n_cls_heads; k++)
        if (c->n_classes[k] < 2 || c->n_classes[k] > 65536)
            return cg_errf(err, errlen, "head %d has %d classes, want [2, 65536]", k, c->n_classes[k]);
    if (c->logit_scale != 0 && c->logit_scale != 1)
        return cg_errf(err, errlen, "logit_scale %d is neither 0 nor 1", c->logit_scale);
    int tokens_side = c->img / c->patch;
    if (tokens_side > 256) return cg_errf(err, errlen, "%d x %d tokens is too many", tokens_side, tokens_side);
    return 0;
}

// ---- the image encoder ------------------------------------------------------------------------------

// The encoder's own tensors in table order: *n_before rows before the trunk's ("blocks.*", "norm.*"),
// the rest after it. names holds the heads' names.
#define VIT_MAX_DEFS (5 + 2 * VIT_MAX_CLS_HEADS + 1)
#define W(field) offsetof(ViTWeights, field)
static int vit_defs(const ViT *m, ParamDef d[VIT_MAX_DEFS], char names[2 * VIT_MAX_CLS_HEADS][PARAM_NAME_MAX],
                    int *n_before) {
    const int C = m->cfg.width, D = m->cfg.embed_dim;
    int n = 0;
    d[n++] = (ParamDef){"patch_embed.weight", C, m->PD, 1, W(patch_w)};
    d[n++] = (ParamDef){"patch_embed.bias", C, 0, 0, W(patch_b)};
    d[n++] = (ParamDef){"pos_embed", m->T, C, 0, W(pos)};
    *n_before = n;
    d[n++] = (ParamDef){"proj.weight", D, C, 1, W(proj_w)};
    d[n++] = (ParamDef){"proj.bias", D, 0, 0, W(proj_b)};
    for (int k = 0; k < m->cfg.n_cls_heads; k++) {
        const int nk = m->cfg.n_classes[k];
        snprintf(names[2 * k], PARAM_NAME_MAX, "heads.%d.weight", k);
        snprintf(names[2 * k + 1], PARAM_NAME_MAX, "heads.%d.bias", k);
        d[n++] = (ParamDef){names[2 * k], nk, C, 1, W(head_w) + (size_t)k * sizeof(float *)};
        d[n++] = (ParamDef){names[2 * k + 1], nk, 0, 0, W(head_b) + (size_t)k * sizeof(float *)};
    }
    if (m->cfg.logit_scale) d[n++] = (ParamDef){"logit_scale", 1, 0, 0, W(logit_scale)};
    return n;
}
#undef W

int vit_create(ViT *m, const ViTConfig *cfg, int max_B, char *err, size_t errlen) {
    memset(m, 0, sizeof(*m));
    if (vit_config_check(cfg, err, errlen)) return -1;
    const int side = cfg->img / cfg->patch, T = side * side;
    if (max_B < 1 || max_B > INT_MAX / 16 / T)
        return cg_errf(err, errlen, "max batch %d outside [1, %d]", max_B, INT_MAX / 16 / T);
    m->cfg = *cfg;
    m->T = T;
    m->PD = cfg->patch * cfg->patch * cfg->channels;
    m->max_B = max_B;
    const int C = cfg->width, D = cfg->embed_dim, K = cfg->n_cls_heads;

    ParamTable *t = &m->table;
    ParamDef d[VIT_MAX_DEFS];
    char names[2 * VIT_MAX_CLS_HEADS][PARAM_NAME_MAX];
    int n_before;
    const int n_defs = vit_defs(m, d, names, &n_before);
    vit_tower_params(t, d, n_before, n_defs, cfg->depth, C, &m->params, &m->grads, &m->m, &m->v);
    param_defs_bind(&m->w, m->params, t, "", d, n_defs);
    param_defs_bind(&m->g, m->grads, t, "", d, n_defs);
    vit_trunk_create(&m->trunk, t, m->params, m->grads, cfg->depth, T, C, cfg->n_heads, max_B);

    size_t b = (size_t)max_B;
    m->tokens = falloc(cg_mul_size(b * (size_t)T, (size_t)m->PD));
    m->dtokens = falloc(cg_mul_size(b * (size_t)T, (size_t)m->PD));
    vit_head_create(&m->head, max_B, C, D);
    m->emb = falloc(b * (size_t)D);
    m->demb = falloc(b * (size_t)D);
    m->probs_ab = falloc(cg_mul_size(b, b));
    m->probs_ba = falloc(cg_mul_size(b, b));
    for (int k = 0; k < K; k++) {
        size_t n = b * (size_t)cfg->n_classes[k];
        m->logits[k] = falloc(n);
        m->probs[k] = falloc(n);
        m->dlogits[k] = falloc(n);
    }
    m->targets = cg_calloc(b, sizeof(int));
    return 0;
}

void vit_free(ViT *m) {
    vit_tower_free(&m->table, m->params, m->grads, m->m, m->v);
    vit_trunk_free(&m->trunk);
    vit_head_free(&m->head);
    free(m->tokens), free(m->dtokens), free(m->emb), free(m->demb), free(m->probs_ab), free(m->probs_ba);
    for (int k = 0; k < VIT_MAX_CLS_HEADS; k++) free(m->logits[k]), free(m->probs[k]), free(m->dlogits[k]);
    free(m->targets);
    memset(m, 0, sizeof(*m));
}

void vit_init(ViT *m, uint64_t seed) {
    const ViTConfig *c = &m->cfg;
    const int C = c->width, D = c->embed_dim;
    cg_rng rng = cg_rng_make(seed, cg_rng_stream(VIT_RNG_PURPOSE, 0, 0));
    param_xavier_uniform(m->w.patch_w, C, m->PD, &rng);
    zero(m->w.patch_b, (size_t)C);
    vit_normal_init(m->w.pos, (size_t)m->T * C, 0.02f, &rng);
    vit_trunk_init(&m->trunk, &rng);
    param_xavier_uniform(m->w.proj_w, D, C, &rng);
    zero(m->w.proj_b, (size_t)D);
    for (int k = 0; k < c->n_cls_heads; k++) {
        param_xavier_uniform(m->w.head_w[k], c->n_classes[k], C, &rng);
        zero(m->w.head_b[k], (size_t)c->n_classes[k]);
    }
    if (m->w.logit_scale) *m->w.logit_scale = VIT_LOGIT_SCALE_INIT;
    vit_tower_zero_state(&m->table, m->grads, m->m, m->v);
}

void vit_zero_grad(ViT *m) { zero(m->grads, m->table.total); }

void vit_forward(ViT *m, const float *img, int B) {
    CG_CHECK(B >= 1 && B <= m->max_B, "batch %d outside [1, max_B %d]", B, m->max_B);
    const ViTConfig *c = &m->cfg;
    const int T = m->T, C = c->width, D = c->embed_dim;
    m->B = B;
    patchify_forward(m->tokens, img, B, c->img, c->img, c->channels, c->patch);
    float *x0 = m->trunk.xs; // slot 0 of the trunk
    linear_forward(x0, m->tokens, m->w.patch_w, m->w.patch_b, B * T, m->PD, C);
    vit_add_pos(x0, m->w.pos, B, T, C);
    vit_trunk_forward(&m->trunk, NULL, B);
    vit_pool_forward(m->head.pooled, m->trunk.lnf, NULL, NULL, B, T, C);
    vit_head_forward(&m->head, m->emb, m->w.proj_w, m->w.proj_b, B, C, D);
    for (int k = 0; k < c->n_cls_heads; k++)
        linear_forward(m->logits[k], m->head.pooled, m->w.head_w[k], m->w.head_b[k], B, C, c->n_classes[k]);
}

void vit_backward(ViT *m, const float *demb, const float *const *dlogits, float *dimg) {
    const ViTConfig *c = &m->cfg;
    const int B = m->B, T = m->T, C = c->width, D = c->embed_dim;
    CG_CHECK(B >= 1, "vit_backward before vit_forward");
    // the pooled feature collects the gradients of the embedding branch and of every head
    zero(m->head.dpooled, (size_t)B * C);
    if (demb) vit_head_backward(&m->head, m->g.proj_w, m->g.proj_b, demb, m->emb, m->w.proj_w, B, C, D);
    for (int k = 0; k < c->n_cls_heads; k++)
        if (dlogits && dlogits[k])
            linear_backward(m->head.dpooled, m->g.head_w[k], m->g.head_b[k], dlogits[k], m->head.pooled,
                            m->w.head_w[k], B, C, c->n_classes[k]);
    vit_pool_backward(m->trunk.dlnf, m->head.dpooled, NULL, NULL, B, T, C);
    const float *dx0 = vit_trunk_backward(&m->trunk, NULL);
    vit_add_pos_backward(m->g.pos, dx0, B, T, C);
    if (dimg) zero(m->dtokens, (size_t)B * T * m->PD);
    linear_backward(dimg ? m->dtokens : NULL, m->g.patch_w, m->g.patch_b, dx0, m->tokens, m->w.patch_w,
                    B * T, m->PD, C);
    if (dimg) patchify_backward(dimg, m->dtokens, B, c->img, c->img, c->channels, c->patch);
}

void vit_embed(ViT *m, float *emb, const float *img, int N) {
    const ViTConfig *c = &m->cfg;
    size_t per_img = (size_t)c->img * c->img * c->channels, D = (size_t)c->embed_dim;
    for (int i0 = 0; i0 < N; i0 += m->max_B) {
        int n = N - i0 < m->max_B ? N - i0 : m->max_B;
        vit_forward(m, img + (size_t)i0 * per_img, n);
        memcpy(emb + (size_t)i0 * D, m->emb, (size_t)n * D * sizeof(float));
    }
}

// ---- training steps ---------------------------------------------------------------------------------

float vit_logit_scale(const ViT *m) {
    CG_CHECK(m->w.logit_scale != NULL, "this encoder has no logit_scale (ViTConfig.logit_scale = 0)");
    float p = *m->w.logit_scale;
    return expf(p < VIT_LOGIT_SCALE_MAX ? p : VIT_LOGIT_SCALE_MAX);
}

float vit_clamp_logit_scale(ViT *m) {
    CG_CHECK(m->w.logit_scale != NULL, "this encoder has no logit_scale (ViTConfig.logit_scale = 0)");
    if (*m->w.logit_scale > VIT_LOGIT_SCALE_MAX) *m->w.logit_scale = VIT_LOGIT_SCALE_MAX;
    return expf(*m->w.logit_scale);
}

// 1 when P[i, i] is strictly larger than every other entry of row i of P (N, N)
static int diagonal_wins(const float *P, int N, int i) {
    const float *row = P + (size_t)i * N;
    for (int j = 0; j < N; j++)
        if (j != i && !(row[j] < row[i])) return 0;
    return 1;
}

float vit_infonce_accuracy(const ViT *m, int N) {
    int correct = 0;
    for (int i = 0; i < N; i++) correct += diagonal_wins(m->probs_ab, N, i) + diagonal_wins(m->probs_ba, N, i);
    return (float)correct / (float)(2 * N);
}

ContrastiveResult vit_identity_step(ViT *m, const float *views, int B) {
    CG_CHECK(B >= 1 && 2 * B <= m->max_B, "identity step: 2 x %d views, max batch %d", B, m->max_B);
    const int D = m->cfg.embed_dim;
    ContrastiveResult r;
    r.scale = vit_clamp_logit_scale(m);
    vit_forward(m, views, 2 * B);
    const float *a = m->emb, *b = m->emb + (size_t)B * D; // view a rows, view b rows
    r.loss = infonce_forward(m->probs_ab, m->probs_ba, a, b, r.scale, B, D);
    r.acc = vit_infonce_accuracy(m, B);
    zero(m->demb, (size_t)2 * B * D);
    float dscale = 0.0f;
    infonce_backward(m->demb, m->demb + (size_t)B * D, &dscale, 1.0f, m->probs_ab, m->probs_ba, a, b,
                     r.scale, B, D);
    *m->g.logit_scale += dscale * r.scale; // scale = exp(p): dp = dscale * scale
    vit_backward(m, m->demb, NULL, NULL);
    return r;
}

int vit_argmax(const float *row, int n) {
    int best = 0;
    for (int j = 1; j < n; j++)
        if (row[j] > row[best]) best = j;
    return best;
}

float vit_heads_loss(ViT *m, const float **dl, const int *labels, int N, float w, float acc[VIT_MAX_CLS_HEADS]) {
    const ViTConfig *c = &m->cfg;
    const int K = c->n_cls_heads;
    float loss = 0.0f;
    for (int k = 0; k < K; k++) {
        const int n = c->n_classes[k];
        for (int b = 0; b < N; b++) m->targets[b] = labels[(size_t)b * K + k];
        loss += crossentropy_forward(m->probs[k], m->logits[k], m->targets, N, n);
        zero(m->dlogits[k], (size_t)N * n);
        crossentropy_backward(m->dlogits[k], w, m->probs[k], m->targets, N, n);
        dl[k] = m->dlogits[k];
        int correct = 0;
        for (int b = 0; b < N; b++) {
            correct += vit_argmax(m->logits[k] + (size_t)b * n, n) == m->targets[b];
        }
        acc[k] = (float)correct / (float)N;
    }
    return loss;
}

ClassifyResult vit_classify_step(ViT *m, const float *imgs, const int *labels, int B) {
    CG_CHECK(m->cfg.n_cls_heads >= 1, "classify step on an encoder without classification heads");
    vit_forward(m, imgs, B);
    ClassifyResult r;
    memset(&r, 0, sizeof(r));
    const float *dl[VIT_MAX_CLS_HEADS] = {0};
    r.loss = vit_heads_loss(m, dl, labels, B, 1.0f, r.acc);
    vit_backward(m, NULL, dl, NULL);
    return r;
}
