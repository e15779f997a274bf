// textenc.c: the text encoder (token + pos embed -> ViT blocks with a PAD key mask -> LayerNorm ->
// masked mean pool -> projection -> L2 normalize) and the CLIP contrastive step. See textenc.h.
#include "models/textenc.h"

#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "nn/embed.h"
#include "nn/layers.h"
#include "nn/loss.h"

#define PAR_MIN_WORK 32768
#define COL_BLOCK 64

static float *falloc(size_t n) { return cg_calloc(n, sizeof(float)); }
static void zero(float *p, size_t n) { memset(p, 0, n * sizeof(float)); }

int textenc_config_check(const TextEncConfig *c, char *err, size_t errlen) {
    if (c->max_len < 1 || c->max_len > 1024) return cg_errf(err, errlen, "max_len %d outside [1, 1024]", c->max_len);
    if (c->vocab < 2 || c->vocab > 1000000) return cg_errf(err, errlen, "vocab %d outside [2, 1000000]", c->vocab);
    if (c->width < 1 || c->width > 8192) return cg_errf(err, errlen, "width %d outside [1, 8192]", c->width);
    if (c->depth < 0 || c->depth > 64) return cg_errf(err, errlen, "depth %d outside [0, 64]", c->depth);
    if (c->n_heads < 1 || c->width % c->n_heads)
        return cg_errf(err, errlen, "width %d is not a multiple of n_heads %d", c->width, c->n_heads);
    if (c->embed_dim < 1 || c->embed_dim > 8192)
        return cg_errf(err, errlen, "embed_dim %d outside [1, 8192]", c->embed_dim);
    return 0;
}

// The text tower's own tensors in table order: the first 2 before the trunk's, the rest after.
#define W(field) offsetof(TextEncWeights, field)
static void text_defs(const TextEncConfig *c, ParamDef d[4]) {
    d[0] = (ParamDef){"tok_embed.weight", c->vocab, c->width, 0, W(tok)};
    d[1] = (ParamDef){"pos_embed", c->max_len, c->width, 0, W(pos)};
    d[2] = (ParamDef){"proj.weight", c->embed_dim, c->width, 1, W(proj_w)};
    d[3] = (ParamDef){"proj.bias", c->embed_dim, 0, 0, W(proj_b)};
}
#undef W

int textenc_create(TextEnc *m, const TextEncConfig *cfg, int max_B, char *err, size_t errlen) {
    memset(m, 0, sizeof(*m));
    if (textenc_config_check(cfg, err, errlen)) return -1;
    const int Lt = cfg->max_len, C = cfg->width, D = cfg->embed_dim;
    if (max_B < 1 || max_B > INT_MAX / 16 / Lt)
        return cg_errf(err, errlen, "max batch %d outside [1, %d]", max_B, INT_MAX / 16 / Lt);
    m->cfg = *cfg;
    m->max_B = max_B;
    ParamTable *t = &m->table;
    param_table_init(t);
    ParamDef d[4];
    text_defs(cfg, d);
    param_defs_add(t, "", d, 2);
    vit_trunk_register(t, cfg->depth, C);
    param_defs_add(t, "", d + 2, 2);
    m->params = falloc(t->total);
    m->grads = falloc(t->total);
    m->m = falloc(t->total);
    m->v = falloc(t->total);
    param_defs_bind(&m->w, m->params, t, "", d, 4);
    param_defs_bind(&m->g, m->grads, t, "", d, 4);
    vit_trunk_create(&m->trunk, t, m->params, m->grads, cfg->depth, Lt, C, cfg->n_heads, max_B);
    size_t b = (size_t)max_B, bl = b * (size_t)Lt;
    m->tokens = cg_calloc(bl, sizeof(int));
    m->mask = cg_calloc(bl, 1);
    m->count = cg_calloc(b, sizeof(int));
    m->pooled = falloc(b * (size_t)C);
    m->dpooled = falloc(b * (size_t)C);
    m->feat = falloc(b * (size_t)D);
    m->dfeat = falloc(b * (size_t)D);
    m->feat_norm = falloc(b);
    m->emb = falloc(b * (size_t)D);
    m->demb = falloc(b * (size_t)D);
    return 0;
}

void textenc_free(TextEnc *m) {
    param_table_free(&m->table);
    free(m->params), free(m->grads), free(m->m), free(m->v);
    vit_trunk_free(&m->trunk);
    free(m->tokens), free(m->mask), free(m->count), free(m->pooled), free(m->dpooled);
    free(m->feat), free(m->dfeat), free(m->feat_norm), free(m->emb), free(m->demb);
    memset(m, 0, sizeof(*m));
}

void textenc_init(TextEnc *m, uint64_t seed) {
    const TextEncConfig *c = &m->cfg;
    cg_rng rng = cg_rng_make(seed, cg_rng_stream(TEXTENC_RNG_PURPOSE, 0, 0));
    vit_normal_init(m->w.tok, (size_t)c->vocab * c->width, 0.02f, &rng);
    vit_normal_init(m->w.pos, (size_t)c->max_len * c->width, 0.02f, &rng);
    vit_trunk_init(&m->trunk, &rng);
    param_xavier_uniform(m->w.proj_w, c->embed_dim, c->width, &rng);
    zero(m->w.proj_b, (size_t)c->embed_dim);
    zero(m->grads, m->table.total);
    zero(m->m, m->table.total);
    zero(m->v, m->table.total);
}

void textenc_zero_grad(TextEnc *m) { zero(m->grads, m->table.total); }

void textenc_forward(TextEnc *m, const int *tokens, int B) {
    CG_CHECK(B >= 1 && B <= m->max_B, "batch %d outside [1, max_B %d]", B, m->max_B);
    const TextEncConfig *c = &m->cfg;
    const int Lt = c->max_len, C = c->width, D = c->embed_dim;
    m->B = B;
    // ids, key mask and pooled counts
    for (int b = 0; b < B; b++) {
        const int *ids = tokens + (size_t)b * Lt;
        int n = 0;
        for (int t = 0; t < Lt; t++) {
            CG_CHECK(ids[t] >= 0 && ids[t] < c->vocab, "token id %d (prompt %d, position %d) outside [0, %d)",
                     ids[t], b, t, c->vocab);
            m->tokens[(size_t)b * Lt + t] = ids[t];
            m->mask[(size_t)b * Lt + t] = ids[t] != TEXTENC_PAD;
            n += ids[t] != TEXTENC_PAD;
        }
        if (n == 0) { // an empty prompt: attend to and pool over every position (see textenc.h)
            memset(m->mask + (size_t)b * Lt, 1, (size_t)Lt);
            n = Lt;
        }
        m->count[b] = n;
    }
    // x0 = tok_embed[ids] + pos_embed
    float *x0 = m->trunk.xs;
    embedding_forward(x0, m->tokens, m->w.tok, B, Lt, C);
    size_t lc = (size_t)Lt * C;
    for (int b = 0; b < B; b++)
        for (size_t i = 0; i < lc; i++) x0[(size_t)b * lc + i] += m->w.pos[i];
    vit_trunk_forward(&m->trunk, m->mask, B);
    // pooled = mean of the final LayerNorm output over the masked-in positions, in t order
    const float *lnf = m->trunk.lnf;
#pragma omp parallel for schedule(static) if ((size_t)B * lc > PAR_MIN_WORK)
    for (int b = 0; b < B; b++) {
        float *p = m->pooled + (size_t)b * C;
        for (int ch = 0; ch < C; ch++) p[ch] = 0.0f;
        for (int t = 0; t < Lt; t++) {
            if (!m->mask[(size_t)b * Lt + t]) continue;
            const float *row = lnf + ((size_t)b * Lt + t) * C;
            for (int ch = 0; ch < C; ch++) p[ch] += row[ch];
        }
        float inv = 1.0f / (float)m->count[b];
        for (int ch = 0; ch < C; ch++) p[ch] *= inv;
    }
    linear_forward(m->feat, m->pooled, m->w.proj_w, m->w.proj_b, B, C, D);
    l2norm_forward(m->emb, m->feat_norm, m->feat, B, D);
}

void textenc_backward(TextEnc *m, const float *demb) {
    const TextEncConfig *c = &m->cfg;
    const int B = m->B, Lt = c->max_len, C = c->width, D = c->embed_dim;
    CG_CHECK(B >= 1, "textenc_backward before textenc_forward");
    zero(m->dfeat, (size_t)B * D);
    l2norm_backward(m->dfeat, demb, m->emb, m->feat_norm, B, D);
    zero(m->dpooled, (size_t)B * C);
    linear_backward(m->dpooled, m->g.proj_w, m->g.proj_b, m->dfeat, m->pooled, m->w.proj_w, B, C, D);
    // masked mean pool backward: d(lnf)[b, t] = dpooled[b] / count[b] where masked in, else 0
    float *dlnf = m->trunk.dlnf;
    for (int b = 0; b < B; b++) {
        float inv = 1.0f / (float)m->count[b];
        const float *dp = m->dpooled + (size_t)b * C;
        for (int t = 0; t < Lt; t++) {
            float *row = dlnf + ((size_t)b * Lt + t) * C;
            int in = m->mask[(size_t)b * Lt + t];
            for (int ch = 0; ch < C; ch++) row[ch] = in ? dp[ch] * inv : 0.0f;
        }
    }
    const float *dx0 = vit_trunk_backward(&m->trunk, m->mask);
    // pos_embed: sum over the batch, one thread per column block, b in order
    size_t lc = (size_t)Lt * C;
    long nblocks = (long)((lc + COL_BLOCK - 1) / COL_BLOCK);
#pragma omp parallel for schedule(static) if ((size_t)B * lc > PAR_MIN_WORK)
    for (long blk = 0; blk < nblocks; blk++) {
        size_t i0 = (size_t)blk * COL_BLOCK, n = lc - i0 < COL_BLOCK ? lc - i0 : COL_BLOCK;
        double acc[COL_BLOCK] = {0};
        for (int b = 0; b < B; b++)
            for (size_t j = 0; j < n; j++) acc[j] += dx0[(size_t)b * lc + i0 + j];
        for (size_t j = 0; j < n; j++) m->g.pos[i0 + j] += (float)acc[j];
    }
    embedding_backward(m->g.tok, dx0, m->tokens, B, Lt, C);
}

void textenc_embed(TextEnc *m, float *emb, const int *tokens, int N) {
    const size_t Lt = (size_t)m->cfg.max_len, D = (size_t)m->cfg.embed_dim;
    for (int i0 = 0; i0 < N; i0 += m->max_B) {
        int n = N - i0 < m->max_B ? N - i0 : m->max_B;
        textenc_forward(m, tokens + (size_t)i0 * Lt, n);
        memcpy(emb + (size_t)i0 * D, m->emb, (size_t)n * D * sizeof(float));
    }
}

ContrastiveResult clip_loss(ViT *img, TextEnc *txt, const float *images, const int *tokens, int B) {
    const int D = img->cfg.embed_dim;
    CG_CHECK(txt->cfg.embed_dim == D, "image embed_dim %d != text embed_dim %d", D, txt->cfg.embed_dim);
    CG_CHECK(B >= 1 && B <= img->max_B && B <= txt->max_B, "clip step batch %d, max batches %d / %d", B,
             img->max_B, txt->max_B);
    ContrastiveResult r;
    r.scale = vit_clamp_logit_scale(img);
    vit_forward(img, images, B);
    textenc_forward(txt, tokens, B);
    r.loss = infonce_forward(img->probs_ab, img->probs_ba, img->emb, txt->emb, r.scale, B, D);
    r.acc = vit_infonce_accuracy(img, B);
    zero(img->demb, (size_t)B * D);
    zero(txt->demb, (size_t)B * D);
    float dscale = 0.0f;
    infonce_backward(img->demb, txt->demb, &dscale, 1.0f, img->probs_ab, img->probs_ba, img->emb, txt->emb,
                     r.scale, B, D);
    *img->g.logit_scale += dscale * r.scale; // scale = exp(p)
    return r;
}

ContrastiveResult clip_step(ViT *img, TextEnc *txt, const float *images, const int *tokens, int B) {
    ContrastiveResult r = clip_loss(img, txt, images, tokens, B);
    vit_backward(img, img->demb, NULL, NULL);
    textenc_backward(txt, txt->demb);
    return r;
}
