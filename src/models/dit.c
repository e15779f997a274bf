// dit.c: the subject-driven DiT (see dit.h): config, parameter table, init, forward, backward,
// the flow-matching loss, the sampler callback with two-condition guidance, and model files.
#include "models/dit.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "core/rng.h"
#include "flow/sampler.h"
#include "nn/embed.h"
#include "nn/layers.h"
#include "nn/loss.h"

// Below this many floats of work a loop stays serial (as in nn/layers.c).
#define PAR_MIN_WORK 32768

// ---- config ------------------------------------------------------------------------------------------

DiTConfig dit_config_default(void) {
    DiTConfig c = {.img = 32, .patch = 4, .channels = 3, .width = 128, .depth = 6, .heads = 4,
                   .text_len = 16, .vocab = 0, .tdim = 256};
    return c;
}

int dit_tokens_per_image(const DiTConfig *cfg) {
    int g = cfg->img / cfg->patch;
    return g * g;
}

int dit_seq_len(const DiTConfig *cfg) { return 2 * dit_tokens_per_image(cfg) + cfg->text_len; }

size_t dit_image_floats(const DiTConfig *cfg) {
    return (size_t)cfg->img * (size_t)cfg->img * (size_t)cfg->channels;
}

// Upper bounds: far above anything this project trains, low enough that no size overflows an int.
#define DIT_MAX_IMG 1024
#define DIT_MAX_CHANNELS 16
#define DIT_MAX_WIDTH 8192
#define DIT_MAX_DEPTH 256
#define DIT_MAX_TEXT 1024
#define DIT_MAX_VOCAB 10000000
#define DIT_MAX_TDIM 8192
#define DIT_MAX_SEQ 8192

static int in_range(int v, int lo, int hi) { return v >= lo && v <= hi; }

int dit_config_check(const DiTConfig *c, char *err, size_t errlen) {
    if (!in_range(c->img, 1, DIT_MAX_IMG)) return cg_errf(err, errlen, "dit img must be in [1, %d], got %d", DIT_MAX_IMG, c->img);
    if (!in_range(c->patch, 1, c->img)) return cg_errf(err, errlen, "dit patch must be in [1, img=%d], got %d", c->img, c->patch);
    if (c->img % c->patch != 0) return cg_errf(err, errlen, "dit img %d is not a multiple of patch %d", c->img, c->patch);
    if (!in_range(c->channels, 1, DIT_MAX_CHANNELS))
        return cg_errf(err, errlen, "dit channels must be in [1, %d], got %d", DIT_MAX_CHANNELS, c->channels);
    if (!in_range(c->width, 1, DIT_MAX_WIDTH)) return cg_errf(err, errlen, "dit width must be in [1, %d], got %d", DIT_MAX_WIDTH, c->width);
    if (!in_range(c->heads, 1, c->width)) return cg_errf(err, errlen, "dit heads must be in [1, width=%d], got %d", c->width, c->heads);
    if (c->width % c->heads != 0) return cg_errf(err, errlen, "dit width %d is not a multiple of heads %d", c->width, c->heads);
    if (!in_range(c->depth, 1, DIT_MAX_DEPTH)) return cg_errf(err, errlen, "dit depth must be in [1, %d], got %d", DIT_MAX_DEPTH, c->depth);
    if (!in_range(c->text_len, 1, DIT_MAX_TEXT))
        return cg_errf(err, errlen, "dit text_len must be in [1, %d], got %d", DIT_MAX_TEXT, c->text_len);
    if (!in_range(c->vocab, 2, DIT_MAX_VOCAB))
        return cg_errf(err, errlen, "dit vocab must be in [2, %d] (set it from the tokenizer), got %d", DIT_MAX_VOCAB, c->vocab);
    if (!in_range(c->tdim, 2, DIT_MAX_TDIM) || c->tdim % 2 != 0)
        return cg_errf(err, errlen, "dit tdim must be even and in [2, %d], got %d", DIT_MAX_TDIM, c->tdim);
    long g = c->img / c->patch, T = 2 * g * g + c->text_len;
    if (T > DIT_MAX_SEQ)
        return cg_errf(err, errlen, "dit sequence of %ld tokens (2 (img/patch)^2 + text_len) exceeds %d", T, DIT_MAX_SEQ);
    return 0;
}

// Field table for the metadata round trip: one place lists every field.
typedef struct {
    const char *key;
    size_t offset;
} ConfigField;
static const ConfigField CONFIG_FIELDS[] = {
    {"dit.img", offsetof(DiTConfig, img)},           {"dit.patch", offsetof(DiTConfig, patch)},
    {"dit.channels", offsetof(DiTConfig, channels)}, {"dit.width", offsetof(DiTConfig, width)},
    {"dit.depth", offsetof(DiTConfig, depth)},       {"dit.heads", offsetof(DiTConfig, heads)},
    {"dit.text_len", offsetof(DiTConfig, text_len)}, {"dit.vocab", offsetof(DiTConfig, vocab)},
    {"dit.tdim", offsetof(DiTConfig, tdim)},
};
#define N_CONFIG_FIELDS ((int)(sizeof(CONFIG_FIELDS) / sizeof(CONFIG_FIELDS[0])))

static int *config_field(DiTConfig *c, int i) { return (int *)((char *)c + CONFIG_FIELDS[i].offset); }
static int config_value(const DiTConfig *c, int i) { return *(const int *)((const char *)c + CONFIG_FIELDS[i].offset); }

void dit_config_to_meta(const DiTConfig *cfg, CkptMeta *meta) {
    ckpt_meta_set(meta, "kind", DIT_KIND);
    for (int i = 0; i < N_CONFIG_FIELDS; i++) ckpt_meta_set_int(meta, CONFIG_FIELDS[i].key, config_value(cfg, i));
}

static int check_kind(const CkptMeta *meta, char *err, size_t errlen) {
    const char *kind = ckpt_meta_get(meta, "kind");
    if (!kind) return cg_errf(err, errlen, "checkpoint has no 'kind' metadata (not a cgrpo DiT file?)");
    if (strcmp(kind, DIT_KIND) != 0) return cg_errf(err, errlen, "checkpoint has kind=%.64s, this run wants %s", kind, DIT_KIND);
    return 0;
}

int dit_config_from_meta(const CkptMeta *meta, DiTConfig *cfg, char *err, size_t errlen) {
    if (check_kind(meta, err, errlen)) return -1;
    DiTConfig c;
    memset(&c, 0, sizeof c);
    for (int i = 0; i < N_CONFIG_FIELDS; i++) {
        long v;
        if (ckpt_meta_get_int(meta, CONFIG_FIELDS[i].key, INT_MIN, INT_MAX, &v, err, errlen)) return -1;
        *config_field(&c, i) = (int)v;
    }
    char why[256];
    if (dit_config_check(&c, why, sizeof why)) return cg_errf(err, errlen, "checkpoint config: %s", why);
    *cfg = c;
    return 0;
}

int dit_config_match_meta(const CkptMeta *meta, const DiTConfig *cfg, char *err, size_t errlen) {
    if (check_kind(meta, err, errlen)) return -1;
    for (int i = 0; i < N_CONFIG_FIELDS; i++) { // by value, as dit_config_from_meta reads them ("08" is 8)
        const char *key = CONFIG_FIELDS[i].key, *got = ckpt_meta_get(meta, key);
        long v;
        const int want = config_value(cfg, i);
        if (!got) return cg_errf(err, errlen, "checkpoint has no %s, this run wants %s=%d", key, key, want);
        if (ckpt_meta_get_int(meta, key, INT_MIN, INT_MAX, &v, NULL, 0) || v != want)
            return cg_errf(err, errlen, "checkpoint has %s=%s, this run wants %d", key, got, want);
    }
    return 0;
}

// ---- parameter table ---------------------------------------------------------------------------------

// The model's own tensors in table order (names and shapes as in dit.h): the first
// DIT_N_BEFORE_BLOCKS rows before the blocks' ("blocks.<l>.*"), the rest after them.
#define DIT_N_DEFS 14
#define DIT_N_BEFORE_BLOCKS 10
#define W(field) offsetof(DiTWeights, field)
static void dit_defs(const DiTConfig *c, ParamDef d[DIT_N_DEFS]) {
    const int C = c->width, PPC = c->patch * c->patch * c->channels, Ti = dit_tokens_per_image(c);
    int n = 0;
    d[n++] = (ParamDef){"patch_embed.weight", C, PPC, 1, W(patch_w)};
    d[n++] = (ParamDef){"patch_embed.bias", C, 0, 0, W(patch_b)};
    d[n++] = (ParamDef){"pos_embed", Ti, C, 0, W(pos)};
    d[n++] = (ParamDef){"type_embed", 3, C, 0, W(type)};
    d[n++] = (ParamDef){"tok_embed.weight", c->vocab, C, 0, W(tok)};
    d[n++] = (ParamDef){"text_pos", c->text_len, C, 0, W(text_pos)};
    d[n++] = (ParamDef){"t_embed.fc1.weight", C, c->tdim, 1, W(t_w1)};
    d[n++] = (ParamDef){"t_embed.fc1.bias", C, 0, 0, W(t_b1)};
    d[n++] = (ParamDef){"t_embed.fc2.weight", C, C, 1, W(t_w2)};
    d[n++] = (ParamDef){"t_embed.fc2.bias", C, 0, 0, W(t_b2)};
    d[n++] = (ParamDef){"final.ada.weight", 2 * C, C, 1, W(f_ada_w)};
    d[n++] = (ParamDef){"final.ada.bias", 2 * C, 0, 0, W(f_ada_b)};
    d[n++] = (ParamDef){"final.linear.weight", PPC, C, 1, W(f_w)};
    d[n++] = (ParamDef){"final.linear.bias", PPC, 0, 0, W(f_b)};
}
#undef W

static void block_prefix(char *out, int l) {
    int n = snprintf(out, PARAM_NAME_MAX, "blocks.%d.", l);
    CG_CHECK(n > 0 && n < PARAM_NAME_MAX, "block prefix");
}

static void dit_register(ParamTable *t, const DiTConfig *c) {
    ParamDef d[DIT_N_DEFS];
    dit_defs(c, d);
    param_defs_add(t, "", d, DIT_N_BEFORE_BLOCKS);
    for (int l = 0; l < c->depth; l++) {
        char prefix[PARAM_NAME_MAX];
        block_prefix(prefix, l);
        dit_block_register(t, prefix, c->width);
    }
    param_defs_add(t, "", d + DIT_N_BEFORE_BLOCKS, DIT_N_DEFS - DIT_N_BEFORE_BLOCKS);
}

// w's fields point into buf (params or grads); w->blocks must hold depth entries.
static void dit_bind(DiTWeights *w, float *buf, const ParamTable *t, const DiTConfig *c) {
    ParamDef d[DIT_N_DEFS];
    dit_defs(c, d);
    param_defs_bind(w, buf, t, "", d, DIT_N_DEFS);
    for (int l = 0; l < c->depth; l++) {
        char prefix[PARAM_NAME_MAX];
        block_prefix(prefix, l);
        dit_block_bind(&w->blocks[l], buf, t, prefix, c->width);
    }
}

// ---- memory ------------------------------------------------------------------------------------------

// Lays buffers out one after another, each 64-byte aligned. With base == NULL it only counts, so one
// function both sizes and binds the arena (they cannot disagree).
typedef struct {
    unsigned char *base;
    size_t used;
} Carver;

static void *carve(Carver *cv, size_t count, size_t elem) {
    size_t bytes = cg_mul_size(count, elem);
    size_t off = cv->used;
    cv->used += (bytes + 63) & ~(size_t)63;
    CG_CHECK(cv->used >= off, "activation arena size overflows");
    return cv->base ? cv->base + off : NULL;
}
#define CARVE_F(cv, n) ((float *)carve((cv), (n), sizeof(float)))

// What forward saves, for max_B rows (a->blocks must hold depth entries when binding).
static void dit_layout_acts(DiTActs *a, const DiTConfig *c, int max_B, Carver *cv) {
    const size_t B = (size_t)max_B, C = (size_t)c->width, Ti = (size_t)dit_tokens_per_image(c);
    const size_t T = (size_t)dit_seq_len(c), Lt = (size_t)c->text_len, L = (size_t)c->depth;
    const size_t PPC = (size_t)c->patch * c->patch * c->channels;
    a->patches = CARVE_F(cv, B * 2 * Ti * PPC);
    a->ptok = CARVE_F(cv, B * 2 * Ti * C);
    a->txt = CARVE_F(cv, B * Lt * C);
    a->tokens = carve(cv, B * Lt, sizeof(int));
    a->mask = carve(cv, B * T, 1);
    a->tval = CARVE_F(cv, B);
    a->temb = CARVE_F(cv, B * (size_t)c->tdim);
    a->t_h = CARVE_F(cv, B * C);
    a->t_s = CARVE_F(cv, B * C);
    a->c = CARVE_F(cv, B * C);
    a->xs = CARVE_F(cv, cg_mul_size(L + 1, B * T * C));
    size_t block_floats = dit_block_acts_floats(max_B, (int)T, c->width, c->heads);
    for (size_t l = 0; l < L; l++) {
        float *buf = CARVE_F(cv, block_floats);
        if (buf) dit_block_acts_bind(&a->blocks[l], buf, max_B, (int)T, c->width, c->heads);
    }
    a->xf = CARVE_F(cv, B * Ti * C);
    a->lnf = CARVE_F(cv, B * Ti * C);
    a->lnf_mean = CARVE_F(cv, B * Ti);
    a->lnf_rstd = CARVE_F(cv, B * Ti);
    a->f_silu = CARVE_F(cv, B * C);
    a->f_mod = CARVE_F(cv, B * 2 * C);
    a->hf = CARVE_F(cv, B * Ti * C);
    a->out_tok = CARVE_F(cv, B * Ti * PPC);
}

// The arena of a model: its live activations, then the backward work and the staging buffers.
static void dit_layout(DiTModel *m, Carver *cv) {
    const DiTConfig *c = &m->cfg;
    const size_t B = (size_t)m->max_B, C = (size_t)c->width, Ti = (size_t)dit_tokens_per_image(c);
    const size_t T = (size_t)dit_seq_len(c), Lt = (size_t)c->text_len;
    const size_t PPC = (size_t)c->patch * c->patch * c->channels, n_img = dit_image_floats(c);
    dit_layout_acts(&m->acts, c, m->max_B, cv);

    m->block_scratch = CARVE_F(cv, dit_block_scratch_floats(m->max_B, (int)T, c->width, c->heads));
    m->dxa = CARVE_F(cv, B * T * C);
    m->dxb = CARVE_F(cv, B * T * C);
    m->dc = CARVE_F(cv, B * C);
    m->dfmod = CARVE_F(cv, B * 2 * C);
    m->dfsilu = CARVE_F(cv, B * C);
    m->dts = CARVE_F(cv, B * C);
    m->dth = CARVE_F(cv, B * C);
    m->dhf = CARVE_F(cv, B * Ti * C);
    m->dlnf = CARVE_F(cv, B * Ti * C);
    m->dxf = CARVE_F(cv, B * Ti * C);
    m->dout_tok = CARVE_F(cv, B * Ti * PPC);

    m->io_x = CARVE_F(cv, B * n_img);
    m->io_ref = CARVE_F(cv, B * n_img);
    m->io_target = CARVE_F(cv, B * n_img);
    m->io_v = CARVE_F(cv, B * n_img);
    m->io_dv = CARVE_F(cv, B * n_img);
    m->io_sigma = CARVE_F(cv, B);
    m->io_tokens = carve(cv, B * Lt, sizeof(int));
    m->io_drop_ref = carve(cv, B, 1);
    m->io_drop_txt = carve(cv, B, 1);
}

// The nn layers take int row counts; the largest product they form is B T 4C (the MLP input).
static int dit_batch_fits(const DiTConfig *cfg, int max_B) {
    const size_t T = (size_t)dit_seq_len(cfg);
    return max_B >= 1 && (size_t)max_B * T * 4 * (size_t)cfg->width <= (size_t)INT_MAX;
}

void dit_create(DiTModel *m, const DiTConfig *cfg, int max_B) {
    char err[256];
    CG_CHECK(dit_config_check(cfg, err, sizeof err) == 0, "DiT config: %s", err);
    memset(m, 0, sizeof(*m));
    m->cfg = *cfg;
    m->max_B = max_B;
    CG_CHECK(dit_batch_fits(cfg, max_B), "max batch %d: must be >= 1 and keep B*T*4C within an int", max_B);

    param_table_init(&m->table);
    dit_register(&m->table, cfg);
    const size_t n = m->table.total;
    m->param_mem = cg_calloc(cg_mul_size(n, 4), sizeof(float));
    m->params = m->param_mem;
    m->grads = m->param_mem + n;
    m->adam_m = m->param_mem + 2 * n;
    m->adam_v = m->param_mem + 3 * n;
    m->w.blocks = cg_calloc((size_t)cfg->depth, sizeof(DiTBlockWeights));
    m->g.blocks = cg_calloc((size_t)cfg->depth, sizeof(DiTBlockWeights));
    dit_bind(&m->w, m->params, &m->table, cfg);
    dit_bind(&m->g, m->grads, &m->table, cfg);

    m->acts.blocks = cg_calloc((size_t)cfg->depth, sizeof(DiTBlockActs));
    Carver count = {NULL, 0};
    dit_layout(m, &count);
    // calloc: zeroed pages arrive on first touch, so a generous max_B costs address space only
    m->arena_base = cg_calloc(count.used + 64, 1);
    m->arena_bytes = count.used;
    uintptr_t aligned = ((uintptr_t)m->arena_base + 63) & ~(uintptr_t)63;
    Carver bind = {(unsigned char *)aligned, 0};
    dit_layout(m, &bind);
}

size_t dit_activation_bytes(const DiTConfig *cfg, int max_B) {
    DiTModel tmp;
    memset(&tmp, 0, sizeof tmp);
    tmp.cfg = *cfg;
    tmp.max_B = max_B;
    Carver count = {NULL, 0}; // counting never touches tmp.acts.blocks
    dit_layout(&tmp, &count);
    return count.used;
}

size_t dit_saved_acts_bytes(const DiTConfig *cfg, int max_B) {
    DiTActs a;
    memset(&a, 0, sizeof a);
    Carver count = {NULL, 0};
    dit_layout_acts(&a, cfg, max_B, &count);
    return count.used;
}

void dit_saved_acts_create(DiTSavedActs *s, const DiTModel *m) {
    memset(s, 0, sizeof(*s));
    s->acts.blocks = cg_calloc((size_t)m->cfg.depth, sizeof(DiTBlockActs));
    s->bytes = dit_saved_acts_bytes(&m->cfg, m->max_B);
    s->mem = cg_calloc(s->bytes + 64, 1);
    uintptr_t aligned = ((uintptr_t)s->mem + 63) & ~(uintptr_t)63;
    Carver bind = {(unsigned char *)aligned, 0};
    dit_layout_acts(&s->acts, &m->cfg, m->max_B, &bind);
    s->cfg = m->cfg;
    s->max_B = m->max_B;
}

void dit_saved_acts_free(DiTSavedActs *s) {
    free(s->acts.blocks);
    free(s->mem);
    memset(s, 0, sizeof(*s));
}

void dit_acts_swap(DiTModel *m, DiTSavedActs *s) {
    CG_CHECK(s->max_B == m->max_B && memcmp(&s->cfg, &m->cfg, sizeof s->cfg) == 0,
             "saved activations of another model shape (max_B %d vs %d)", s->max_B, m->max_B);
    DiTActs a = m->acts;
    m->acts = s->acts, s->acts = a;
    int b = m->last_B;
    m->last_B = s->last_B, s->last_B = b;
}

void dit_free(DiTModel *m) {
    param_table_free(&m->table);
    free(m->param_mem);
    free(m->w.blocks);
    free(m->g.blocks);
    free(m->acts.blocks);
    free(m->arena_base);
    memset(m, 0, sizeof(*m));
}

void dit_zero_grad(DiTModel *m) { memset(m->grads, 0, m->table.total * sizeof(float)); }

// ---- init --------------------------------------------------------------------------------------------

#define DIT_INIT_PURPOSE 0x6469742d696e6974ULL // "dit-init"
enum { INIT_PATCH = 1, INIT_TYPE, INIT_TOK, INIT_TEXT_POS, INIT_T_FC1, INIT_T_FC2, INIT_BLOCK };

static cg_rng init_rng(uint64_t seed, int tag, int index) {
    return cg_rng_make(seed, cg_rng_stream(DIT_INIT_PURPOSE, (uint64_t)tag, (uint64_t)index));
}

// w (rows, cols) ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out)) (as dit_block_init)
static void xavier_uniform(float *w, int rows, int cols, cg_rng *rng) {
    double a = sqrt(6.0 / (double)(rows + cols));
    size_t n = (size_t)rows * (size_t)cols;
    for (size_t i = 0; i < n; i++) w[i] = (float)(a * (2.0 * cg_rng_uniform(rng) - 1.0));
}

static void normal_fill(float *w, size_t n, double std, cg_rng *rng) {
    for (size_t i = 0; i < n; i++) w[i] = (float)(std * cg_rng_normal(rng));
}

// 2-D sin-cos table (MAE / DiT): Q = C / 4 frequencies omega_i = 10000^(-i / Q); for the token at
// grid row gy, column gx: channels [0, Q) sin(gy omega), [Q, 2Q) cos(gy omega), [2Q, 3Q)
// sin(gx omega), [3Q, 4Q) cos(gx omega); channels from 4Q on (when C % 4 != 0) are 0.
static void sincos_2d(float *pos, int G, int C) {
    const int Q = C / 4;
    for (int gy = 0; gy < G; gy++)
        for (int gx = 0; gx < G; gx++) {
            float *p = pos + ((size_t)gy * G + gx) * C;
            memset(p, 0, (size_t)C * sizeof(float));
            for (int i = 0; i < Q; i++) {
                double omega = pow(10000.0, -(double)i / (double)Q);
                p[i] = (float)sin(gy * omega);
                p[Q + i] = (float)cos(gy * omega);
                p[2 * Q + i] = (float)sin(gx * omega);
                p[3 * Q + i] = (float)cos(gx * omega);
            }
        }
}

void dit_init(DiTModel *m, uint64_t seed) {
    const DiTConfig *c = &m->cfg;
    const int C = c->width, PPC = c->patch * c->patch * c->channels;
    memset(m->param_mem, 0, 4 * m->table.total * sizeof(float)); // every bias and zero-init head
    DiTWeights *w = &m->w;
    cg_rng r = init_rng(seed, INIT_PATCH, 0);
    xavier_uniform(w->patch_w, C, PPC, &r);
    sincos_2d(w->pos, c->img / c->patch, C);
    r = init_rng(seed, INIT_TYPE, 0);
    normal_fill(w->type, 3 * (size_t)C, 0.02, &r);
    r = init_rng(seed, INIT_TOK, 0);
    normal_fill(w->tok, (size_t)c->vocab * C, 0.02, &r);
    r = init_rng(seed, INIT_TEXT_POS, 0);
    normal_fill(w->text_pos, (size_t)c->text_len * C, 0.02, &r);
    r = init_rng(seed, INIT_T_FC1, 0);
    xavier_uniform(w->t_w1, C, c->tdim, &r);
    r = init_rng(seed, INIT_T_FC2, 0);
    xavier_uniform(w->t_w2, C, C, &r);
    for (int l = 0; l < c->depth; l++) {
        r = init_rng(seed, INIT_BLOCK, l);
        dit_block_init(&w->blocks[l], C, &r);
    }
    // final.ada and final.linear stay 0 (adaLN-Zero): the velocity starts at exactly 0
    m->last_B = 0;
}

// ---- forward -----------------------------------------------------------------------------------------

void dit_forward(DiTModel *m, float *v, const float *x_t, const float *sigma, const float *ref,
                 const int *tokens, const unsigned char *drop_ref, const unsigned char *drop_txt, int B) {
    const DiTConfig *cf = &m->cfg;
    CG_CHECK(B >= 1 && B <= m->max_B, "DiT batch %d outside [1, max_B=%d]", B, m->max_B);
    const int C = cf->width, NH = cf->heads, Ti = dit_tokens_per_image(cf), T = dit_seq_len(cf);
    const int Lt = cf->text_len, P = cf->patch, IMG = cf->img, CH = cf->channels, L = cf->depth;
    const int PPC = P * P * CH, C2 = 2 * C;
    const size_t n_img = dit_image_floats(cf), btc = (size_t)B * T * C, stride = (size_t)m->max_B * T * C;
    DiTActs *a = &m->acts;
    const DiTWeights *w = &m->w;

    // tokens: copied (backward needs them), PAD when none, every id checked against the table
    for (size_t i = 0; i < (size_t)B * Lt; i++) {
        int id = tokens ? tokens[i] : DIT_PAD_TOKEN;
        CG_CHECK(id >= 0 && id < cf->vocab, "token id %d at position %zu outside [0, vocab=%d)", id, i, cf->vocab);
        a->tokens[i] = id;
    }
    // key mask: target keys always; reference unless dropped; text unless PAD or dropped
    for (int b = 0; b < B; b++) {
        unsigned char *mk = a->mask + (size_t)b * T;
        const unsigned char use_ref = ref != NULL && !(drop_ref && drop_ref[b]);
        const unsigned char use_txt = tokens != NULL && !(drop_txt && drop_txt[b]);
        memset(mk, 1, (size_t)Ti);
        memset(mk + Ti, use_ref, (size_t)Ti);
        for (int j = 0; j < Lt; j++) mk[2 * Ti + j] = use_txt && a->tokens[(size_t)b * Lt + j] != DIT_PAD_TOKEN;
    }

    // patch tokens: per sample [x_t patches | ref patches] through one patch_embed
    const size_t tok_floats = (size_t)Ti * PPC;
    for (int b = 0; b < B; b++) {
        float *pb = a->patches + (size_t)b * 2 * tok_floats;
        patchify_forward(pb, x_t + (size_t)b * n_img, 1, IMG, IMG, CH, P);
        if (ref)
            patchify_forward(pb + tok_floats, ref + (size_t)b * n_img, 1, IMG, IMG, CH, P);
        else
            memset(pb + tok_floats, 0, tok_floats * sizeof(float));
    }
    linear_forward(a->ptok, a->patches, w->patch_w, w->patch_b, B * 2 * Ti, PPC, C);
    embedding_forward(a->txt, a->tokens, w->tok, B, Lt, C);

    // the embedded sequence xs[0] (B, T, C)
    float *x0 = a->xs;
    const float *ty_tgt = w->type, *ty_ref = w->type + C, *ty_txt = w->type + C2;
#pragma omp parallel for schedule(static) if (btc > PAR_MIN_WORK)
    for (int b = 0; b < B; b++) {
        float *xb = x0 + (size_t)b * T * C;
        const float *pt = a->ptok + (size_t)b * 2 * Ti * C;
        for (int t = 0; t < Ti; t++) {
            const float *pos = w->pos + (size_t)t * C;
            float *xt = xb + (size_t)t * C, *xr = xb + (size_t)(Ti + t) * C;
            const float *et = pt + (size_t)t * C, *er = pt + (size_t)(Ti + t) * C;
            for (int i = 0; i < C; i++) {
                xt[i] = et[i] + pos[i] + ty_tgt[i];
                xr[i] = er[i] + pos[i] + ty_ref[i];
            }
        }
        const float *tx = a->txt + (size_t)b * Lt * C;
        for (int j = 0; j < Lt; j++) {
            float *xj = xb + (size_t)(2 * Ti + j) * C;
            const float *e = tx + (size_t)j * C, *tp = w->text_pos + (size_t)j * C;
            for (int i = 0; i < C; i++) xj[i] = e[i] + tp[i] + ty_txt[i];
        }
    }

    // conditioning c (B, C) from sigma
    for (int b = 0; b < B; b++) a->tval[b] = DIT_TIME_SCALE * sigma[b];
    timestep_embedding_forward(a->temb, a->tval, B, cf->tdim, DIT_MAX_PERIOD);
    linear_forward(a->t_h, a->temb, w->t_w1, w->t_b1, B, cf->tdim, C);
    silu_forward(a->t_s, a->t_h, (long)B * C);
    linear_forward(a->c, a->t_s, w->t_w2, w->t_b2, B, C, C);

    // the blocks
    for (int l = 0; l < L; l++)
        dit_block_forward(a->xs + (size_t)(l + 1) * stride, &a->blocks[l], a->xs + (size_t)l * stride, a->c,
                          a->mask, &w->blocks[l], B, T, C, NH);

    // final layer on the target tokens (the first Ti of each sample)
    const float *xl = a->xs + (size_t)L * stride;
    for (int b = 0; b < B; b++)
        memcpy(a->xf + (size_t)b * Ti * C, xl + (size_t)b * T * C, (size_t)Ti * C * sizeof(float));
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, a->xf, NULL, NULL, B * Ti, C);
    silu_forward(a->f_silu, a->c, (long)B * C);
    linear_forward(a->f_mod, a->f_silu, w->f_ada_w, w->f_ada_b, B, C, C2);
    modulate_forward(a->hf, a->lnf, a->f_mod, a->f_mod + C, B, Ti, C, C2);
    linear_forward(a->out_tok, a->hf, w->f_w, w->f_b, B * Ti, C, PPC);
    unpatchify_forward(v, a->out_tok, B, IMG, IMG, CH, P);
    m->last_B = B;
}

// ---- backward ----------------------------------------------------------------------------------------

static void zero(float *p, size_t n) { memset(p, 0, n * sizeof(float)); }

void dit_backward(DiTModel *m, const float *dv, int B) {
    const DiTConfig *cf = &m->cfg;
    CG_CHECK(B == m->last_B, "dit_backward with batch %d after a forward of batch %d", B, m->last_B);
    const int C = cf->width, NH = cf->heads, Ti = dit_tokens_per_image(cf), T = dit_seq_len(cf);
    const int Lt = cf->text_len, P = cf->patch, IMG = cf->img, CH = cf->channels, L = cf->depth;
    const int PPC = P * P * CH, C2 = 2 * C;
    const size_t btc = (size_t)B * T * C, bic = (size_t)B * Ti * C, stride = (size_t)m->max_B * T * C;
    const DiTActs *a = &m->acts;
    const DiTWeights *w = &m->w;
    // under LoRA the base is frozen: no base gradient, and nothing below the blocks (dc, the
    // conditioning, the embeddings) is needed; NULL gradients are skipped by every layer
    const int frozen = m->lora_attached;
    DiTWeights none;
    DiTBlockWeights none_block;
    memset(&none, 0, sizeof none), memset(&none_block, 0, sizeof none_block);
    DiTWeights *g = frozen ? &none : &m->g;

    // final layer: v = unpatchify(linear(modulate(layernorm(xf), f_mod)))
    zero(m->dout_tok, (size_t)B * Ti * PPC);
    unpatchify_backward(m->dout_tok, dv, B, IMG, IMG, CH, P);
    zero(m->dhf, bic);
    linear_backward(m->dhf, g->f_w, g->f_b, m->dout_tok, a->hf, w->f_w, B * Ti, C, PPC);
    zero(m->dlnf, bic);
    zero(m->dfmod, (size_t)B * C2);
    modulate_backward(m->dlnf, frozen ? NULL : m->dfmod, frozen ? NULL : m->dfmod + C, m->dhf, a->lnf, a->f_mod + C, B,
                      Ti, C, C2);
    zero(m->dxf, bic);
    layernorm_backward(m->dxf, NULL, NULL, m->dlnf, a->xf, NULL, a->lnf_mean, a->lnf_rstd, B * Ti, C);
    if (!frozen) {
        zero(m->dfsilu, (size_t)B * C);
        linear_backward(m->dfsilu, g->f_ada_w, g->f_ada_b, m->dfmod, a->f_silu, w->f_ada_w, B, C, C2);
        zero(m->dc, (size_t)B * C);
        silu_backward(m->dc, m->dfsilu, a->c, (long)B * C);
    }

    // the gradient of xs[L]: dxf in the target rows, 0 elsewhere
    float *dcur = m->dxa, *dnext = m->dxb;
    zero(dcur, btc);
    for (int b = 0; b < B; b++)
        memcpy(dcur + (size_t)b * T * C, m->dxf + (size_t)b * Ti * C, (size_t)Ti * C * sizeof(float));

    // the blocks, last to first; dc accumulates over all of them
    for (int l = L - 1; l >= 0; l--) {
        zero(dnext, btc);
        dit_block_backward(frozen && l == 0 ? NULL : dnext, frozen ? NULL : m->dc, frozen ? &none_block : &g->blocks[l],
                           m->block_scratch, dcur, &a->blocks[l], a->xs + (size_t)l * stride, a->c, a->mask,
                           &w->blocks[l], B, T, C, NH);
        float *tmp = dcur;
        dcur = dnext, dnext = tmp;
    }
    if (frozen) return;
    const float *dx0 = dcur; // gradient of the embedded sequence (B, T, C)

    // conditioning: c = fc2(silu(fc1(temb)))
    zero(m->dts, (size_t)B * C);
    linear_backward(m->dts, g->t_w2, g->t_b2, m->dc, a->t_s, w->t_w2, B, C, C);
    zero(m->dth, (size_t)B * C);
    silu_backward(m->dth, m->dts, a->t_h, (long)B * C);
    linear_backward(NULL, g->t_w1, g->t_b1, m->dth, a->temb, w->t_w1, B, cf->tdim, C);

    // embeddings. Reductions over the batch run in a fixed order (b ascending), one thread per
    // output row, so the bits do not depend on the thread count.
    float *dptok = a->ptok, *dtxt = a->txt; // their forward values are no longer needed
    for (int b = 0; b < B; b++) {
        const float *db = dx0 + (size_t)b * T * C;
        memcpy(dptok + (size_t)b * 2 * Ti * C, db, (size_t)2 * Ti * C * sizeof(float));
        memcpy(dtxt + (size_t)b * Lt * C, db + (size_t)2 * Ti * C, (size_t)Lt * C * sizeof(float));
    }
    linear_backward(NULL, g->patch_w, g->patch_b, dptok, a->patches, w->patch_w, B * 2 * Ti, PPC, C);
    embedding_backward(g->tok, dtxt, a->tokens, B, Lt, C);
#pragma omp parallel for schedule(static) if (btc > PAR_MIN_WORK)
    for (int t = 0; t < Ti; t++) { // pos_embed: target and reference token t of every sample
        float *gp = g->pos + (size_t)t * C;
        for (int b = 0; b < B; b++) {
            const float *dt = dx0 + ((size_t)b * T + t) * C, *dr = dt + (size_t)Ti * C;
            for (int i = 0; i < C; i++) gp[i] += dt[i] + dr[i];
        }
    }
    for (int j = 0; j < Lt; j++) {
        float *gp = g->text_pos + (size_t)j * C;
        for (int b = 0; b < B; b++) {
            const float *d = dx0 + ((size_t)b * T + 2 * Ti + j) * C;
            for (int i = 0; i < C; i++) gp[i] += d[i];
        }
    }
    // type_embed rows: target tokens, reference tokens, text tokens
    for (int k = 0; k < 3; k++) {
        float *gt = g->type + (size_t)k * C;
        const int t0 = k * Ti, t1 = k < 2 ? (k + 1) * Ti : T;
        for (int b = 0; b < B; b++)
            for (int t = t0; t < t1; t++) {
                const float *d = dx0 + ((size_t)b * T + t) * C;
                for (int i = 0; i < C; i++) gt[i] += d[i];
            }
    }
}

// ---- flow-matching loss ------------------------------------------------------------------------------

float dit_flow_loss(DiTModel *m, const float *x0, const float *noise, const float *sigma,
                    const float *ref, const int *tokens, const unsigned char *drop_ref,
                    const unsigned char *drop_txt, int B) {
    CG_CHECK(B >= 1 && B <= m->max_B, "DiT batch %d outside [1, max_B=%d]", B, m->max_B);
    const size_t n = dit_image_floats(&m->cfg), N = (size_t)B * n;
#pragma omp parallel for schedule(static) if (N > PAR_MIN_WORK)
    for (int b = 0; b < B; b++) {
        const float s = sigma[b];
        const size_t o = (size_t)b * n;
        for (size_t i = o; i < o + n; i++) {
            m->io_x[i] = (1.0f - s) * x0[i] + s * noise[i];
            m->io_target[i] = noise[i] - x0[i];
        }
    }
    dit_forward(m, m->io_v, m->io_x, sigma, ref, tokens, drop_ref, drop_txt, B);
    float loss = mse_forward(m->io_v, m->io_target, (long)N);
    zero(m->io_dv, N);
    mse_backward(m->io_dv, 1.0f, m->io_v, m->io_target, (long)N);
    dit_backward(m, m->io_dv, B);
    return loss;
}

// ---- the sampler's callback --------------------------------------------------------------------------

static int cfg_is_plain(const DiTVelocity *ctx) { return ctx->s_ref == 1.0f && ctx->s_txt == 1.0f; }

void dit_velocity(void *vctx, float *v, const float *x, float sigma, int step, int B) {
    (void)step;
    DiTVelocity *ctx = vctx;
    DiTModel *m = ctx->model;
    const size_t n = dit_image_floats(&m->cfg), Bn = (size_t)B * n, Lt = (size_t)m->cfg.text_len;
    if (cfg_is_plain(ctx)) { // only the full condition
        CG_CHECK(B >= 1 && B <= m->max_B, "DiT batch %d outside [1, max_B=%d]", B, m->max_B);
        for (int b = 0; b < B; b++) m->io_sigma[b] = sigma;
        dit_forward(m, v, x, m->io_sigma, ctx->ref, ctx->tokens, NULL, NULL, B);
        return;
    }
    // one forward of 3B: [none | reference only | full]
    const int B3 = 3 * B;
    CG_CHECK(B >= 1 && B3 <= m->max_B, "guided DiT batch 3 x %d exceeds max_B=%d (create the model with max_B >= 3B)",
             B, m->max_B);
    for (int k = 0; k < 3; k++) {
        memcpy(m->io_x + (size_t)k * Bn, x, Bn * sizeof(float));
        if (ctx->ref) memcpy(m->io_ref + (size_t)k * Bn, ctx->ref, Bn * sizeof(float));
        if (ctx->tokens) memcpy(m->io_tokens + (size_t)k * B * Lt, ctx->tokens, (size_t)B * Lt * sizeof(int));
        memset(m->io_drop_ref + (size_t)k * B, k == 0, (size_t)B);
        memset(m->io_drop_txt + (size_t)k * B, k < 2, (size_t)B);
    }
    for (int b = 0; b < B3; b++) m->io_sigma[b] = sigma;
    dit_forward(m, m->io_v, m->io_x, m->io_sigma, ctx->ref ? m->io_ref : NULL, ctx->tokens ? m->io_tokens : NULL,
                m->io_drop_ref, m->io_drop_txt, B3);
    flow_cfg2(v, m->io_v, m->io_v + Bn, m->io_v + 2 * Bn, ctx->s_ref, ctx->s_txt, Bn);
}

void dit_velocity_backward(DiTVelocity *ctx, const float *dv, int B) {
    DiTModel *m = ctx->model;
    if (cfg_is_plain(ctx)) {
        dit_backward(m, dv, B);
        return;
    }
    const size_t Bn = (size_t)B * dit_image_floats(&m->cfg);
    CG_CHECK(3 * B == m->last_B, "dit_velocity_backward with batch %d after a guided forward of %d", B, m->last_B);
    zero(m->io_dv, 3 * Bn);
    flow_cfg2_backward(m->io_dv, m->io_dv + Bn, m->io_dv + 2 * Bn, dv, ctx->s_ref, ctx->s_txt, Bn);
    dit_backward(m, m->io_dv, 3 * B);
}

// ---- files -------------------------------------------------------------------------------------------

int dit_save(const DiTModel *m, const char *path, const CkptMeta *extra, char *err, size_t errlen) {
    CkptMeta meta;
    ckpt_meta_init(&meta);
    if (extra)
        for (int i = 0; i < extra->n; i++) ckpt_meta_set(&meta, extra->keys[i], extra->values[i]);
    dit_config_to_meta(&m->cfg, &meta); // the config always wins over an extra key of the same name
    CkptSection s = {"", &m->table, m->params};
    int rc = ckpt_save(path, &s, 1, &meta, err, errlen);
    ckpt_meta_free(&meta);
    return rc;
}

int dit_load_section(const char *path, const char *prefix, DiTModel *m, int max_B, char *err, size_t errlen) {
    memset(m, 0, sizeof(*m));
    if (max_B < 1) return cg_errf(err, errlen, "max batch must be >= 1, got %d", max_B);
    st_file f;
    if (st_open(path, &f, err, errlen)) return -1;
    CkptMeta meta;
    ckpt_meta_from_file(&f, &meta);
    DiTConfig cfg;
    char why[256];
    int rc = dit_config_from_meta(&meta, &cfg, why, sizeof why);
    if (rc) cg_errf(err, errlen, "%s: %s", path, why);
    ckpt_meta_free(&meta);
    if (rc == 0) {
        // refuse before allocating: a batch the layers cannot index, or a config asking for more
        // parameters than the file could possibly hold (2 bytes per value at the least)
        ParamTable t;
        param_table_init(&t);
        dit_register(&t, &cfg);
        size_t need = t.total;
        param_table_free(&t);
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        double phys = pages > 0 && page > 0 ? (double)pages * (double)page : 0;
        if (!dit_batch_fits(&cfg, max_B))
            rc = cg_errf(err, errlen, "%s: max batch %d is too large for this config", path, max_B);
        else if (phys > 0 && (double)dit_activation_bytes(&cfg, max_B) > 0.5 * phys)
            rc = cg_errf(err, errlen, "%s: its config needs %.1f GiB of activations at max batch %d, more than half of "
                         "this machine's %.1f GiB", path, (double)dit_activation_bytes(&cfg, max_B) / (1 << 30), max_B,
                         phys / (1 << 30));
        else if (need > f.data_len / 2)
            rc = cg_errf(err, errlen, "%s: its config needs %zu parameters, the file holds %zu bytes of data", path,
                         need, f.data_len);
    }
    if (rc == 0) {
        dit_create(m, &cfg, max_B);
        CkptSection s = {prefix, &m->table, m->params};
        rc = ckpt_load_file(&f, path, &s, 1, prefix[0] ? CKPT_IGNORE_EXTRA : 0, err, errlen);
        if (rc) dit_free(m);
    }
    st_close(&f);
    return rc;
}

int dit_load(const char *path, DiTModel *m, int max_B, char *err, size_t errlen) {
    return dit_load_section(path, "", m, max_B, err, errlen);
}

int dit_load_any(const char *path, DiTModel *m, int max_B, const char **weights, char *err, size_t errlen) {
    st_file f;
    if (st_open(path, &f, err, errlen)) return -1;
    const char *prefix = "", *w = "model";
    if (st_find(&f, "ema.patch_embed.weight")) prefix = "ema.", w = "ema";
    else if (st_find(&f, "model.patch_embed.weight")) prefix = "model.", w = "policy";
    const int adapters = f.n_tensors > 0 && strncmp(f.tensors[0].name, "lora.", 5) == 0;
    st_close(&f);
    if (adapters) // a LoRA run's lora.safetensors or ckpt.safetensors: no model of its own
        return cg_errf(err, errlen, "%s holds LoRA adapters, not a model: pass its base model as the model and this "
                       "file as --lora", path);
    if (weights) *weights = w;
    return dit_load_section(path, prefix, m, max_B, err, errlen);
}
