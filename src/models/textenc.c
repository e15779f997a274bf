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

static float *falloc(size_t n) { return cg_calloc(n, sizeof(float)); }
static void zero(float *p, size_t n) { memset(p, 0, n * sizeof(float)); }

int textenc_config_check(const TextEncConfig *c, char *err, size_t errlen) {
    if (c->max_len < 1 || c->max_len > 1024) return cg_errf(err, errlen, "max_len %d outside [1, 1024]", c->max_len);
    if (c->vocab < 2 || c->vocab > 1000000) return cg_errf(err, errlen, "vocab %d outside [2, 1000000]", c->vocab);
    return vit_tower_config_check(c->width, c->depth, c->n_heads, c->embed_dim, err, errlen);
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
    ParamDef d[4];
    text_defs(cfg, d);
    vit_tower_params(t, d, 2, 4, cfg->depth, C, &m->params, &m->grads, &m->m, &m->v);
    param_defs_bind(&m->w, m->params, t, "", d, 4);
    param_defs_bind(&m->g, m->grads, t, "", d, 4);
    vit_trunk_create(&m->trunk, t, m->params, m->grads, cfg->depth, Lt, C, cfg->n_heads, max_B);
    size_t b = (size_t)max_B, bl = b * (size_t)Lt;
    m->tokens = cg_calloc(bl, sizeof(int));
    m->mask = cg_calloc(bl, 1);
    m->count = cg_calloc(b, sizeof(int));
    vit_head_create(&m->head, max_B, C, D);
    m->emb = falloc(b * (size_t)D);
    m->demb = falloc(b * (size_t)D);
    return 0;
}

void textenc_free(TextEnc *m) {
    vit_tower_free(&m->table, m->params, m->grads, m->m, m->v);
    vit_trunk_free(&m->trunk);
    vit_head_free(&m->head);
    free(m->tokens), free(m->mask), free(m->count), free(m->emb), free(m->demb);
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
    vit_tower_zero_state(&m->table, m->grads, m->m, m->v);
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
    vit_add_pos(x0, m->w.pos, B, Lt, C);
    vit_trunk_forward(&m->trunk, m->mask, B);
    // pooled = mean of the final LayerNorm output over the masked-in positions, in t order
    vit_pool_forward(m->head.pooled, m->trunk.lnf, m->mask, m->count, B, Lt, C);
    vit_head_forward(&m->head, m->emb, m->w.proj_w, m->w.proj_b, B, C, D);
}

void textenc_backward(TextEnc *m, const float *demb) {
    const TextEncConfig *c = &m->cfg;
    const int B = m->B, Lt = c->max_len, C = c->width, D = c->embed_dim;
    CG_CHECK(B >= 1, "textenc_backward before textenc_forward");
    zero(m->head.dpooled, (size_t)B * C);
    vit_head_backward(&m->head, m->g.proj_w, m->g.proj_b, demb, m->emb, m->w.proj_w, B, C, D);
    // masked mean pool backward: d(lnf)[b, t] = dpooled[b] / count[b] where masked in, else 0
    vit_pool_backward(m->trunk.dlnf, m->head.dpooled, m->mask, m->count, B, Lt, C);
    const float *dx0 = vit_trunk_backward(&m->trunk, m->mask);
    vit_add_pos_backward(m->g.pos, dx0, B, Lt, C); // pos_embed: summed over the batch
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
