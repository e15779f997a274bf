// dit_lora.c: LoRA adapters of the DiT blocks (see dit_lora.h): the table, init, attaching them to
// a model, merging, and files.
#include "models/dit_lora.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"

// The adaptable linears of a block: name, tensor prefix, (out, in) in multiples of C, and where
// the base weight and the adapter live in DiTBlockWeights and DiTBlockLora.
typedef struct {
    const char *name, *tensor;
    int out_c, in_c;
    size_t weight_field, lora_field;
} LoraTarget;
#define WF(f) offsetof(DiTBlockWeights, f)
#define LF(f) offsetof(DiTBlockLora, f)
static const LoraTarget TARGETS[DIT_LORA_N_TARGETS] = {
    {"qkv", "attn.qkv", 3, 1, WF(qkv_w), LF(qkv)},
    {"proj", "attn.proj", 1, 1, WF(proj_w), LF(proj)},
    {"fc1", "mlp.fc1", 4, 1, WF(fc1_w), LF(fc1)},
    {"fc2", "mlp.fc2", 1, 4, WF(fc2_w), LF(fc2)},
};
#undef WF
#undef LF

// ---- targets -----------------------------------------------------------------------------------------

int dit_lora_parse_targets(const char *list, int *mask, char *err, size_t errlen) {
    int m = 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int k = 0;
        while (k < DIT_LORA_N_TARGETS && !(strlen(TARGETS[k].name) == len && strncmp(p, TARGETS[k].name, len) == 0)) k++;
        if (k == DIT_LORA_N_TARGETS)
            return cg_errf(err, errlen, "lora_targets: unknown target '%.*s' (known: %s)", (int)(len < 32 ? len : 32), p,
                           DIT_LORA_TARGETS_DEFAULT);
        if (m & (1 << k)) return cg_errf(err, errlen, "lora_targets: '%s' is listed twice", TARGETS[k].name);
        m |= 1 << k;
        p += len;
        if (*p == ',') {
            p++;
            if (!*p) return cg_errf(err, errlen, "lora_targets: '%s' ends with a comma", list);
        }
    }
    if (!m) return cg_errf(err, errlen, "lora_targets: empty (choose from %s)", DIT_LORA_TARGETS_DEFAULT);
    *mask = m;
    return 0;
}

void dit_lora_format_targets(char *out, size_t n, int mask) {
    size_t used = 0;
    out[0] = '\0';
    for (int k = 0; k < DIT_LORA_N_TARGETS; k++)
        if (mask & (1 << k)) {
            int w = snprintf(out + used, n - used, "%s%s", used ? "," : "", TARGETS[k].name);
            if (w < 0 || (size_t)w >= n - used) return;
            used += (size_t)w;
        }
}

// ---- the table -----------------------------------------------------------------------------------------

static void lora_register(ParamTable *t, const DiTConfig *cfg, int rank, int targets) {
    const int C = cfg->width;
    for (int l = 0; l < cfg->depth; l++)
        for (int k = 0; k < DIT_LORA_N_TARGETS; k++) {
            if (!(targets & (1 << k))) continue;
            char prefix[PARAM_NAME_MAX];
            snprintf(prefix, sizeof prefix, "blocks.%d.%s.", l, TARGETS[k].tensor);
            param_table_add2(t, prefix, "lora_A", rank, TARGETS[k].in_c * C, 1);
            param_table_add2(t, prefix, "lora_B", TARGETS[k].out_c * C, rank, 1);
        }
}

size_t dit_lora_param_count(const DiTConfig *cfg, int rank, int targets) {
    ParamTable t;
    param_table_init(&t);
    lora_register(&t, cfg, rank, targets);
    size_t n = t.total;
    param_table_free(&t);
    return n;
}

void dit_lora_create(DiTLora *a, const DiTConfig *cfg, int rank, float alpha, int targets, int max_B) {
    char why[256];
    CG_CHECK(dit_config_check(cfg, why, sizeof why) == 0, "DiT config: %s", why);
    CG_CHECK(rank >= 1 && rank <= DIT_LORA_MAX_RANK && targets > 0 && targets <= DIT_LORA_ALL && alpha > 0.0f &&
                 max_B >= 1, "LoRA rank %d, targets %d, alpha %g, max_B %d", rank, targets, (double)alpha, max_B);
    memset(a, 0, sizeof *a);
    a->cfg = *cfg, a->rank = rank, a->alpha = alpha, a->targets = targets, a->max_B = max_B;
    param_table_init(&a->table);
    lora_register(&a->table, cfg, rank, targets);
    const size_t n = a->table.total, L = (size_t)cfg->depth;
    const size_t rows = (size_t)max_B * (size_t)dit_seq_len(cfg);
    a->mem = cg_calloc(cg_mul_size(n, 4) + 2 * cg_mul_size(rows, (size_t)rank), sizeof(float));
    a->params = a->mem, a->grads = a->mem + n, a->adam_m = a->mem + 2 * n, a->adam_v = a->mem + 3 * n;
    a->work = a->mem + 4 * n;
    a->lin = cg_calloc(L * DIT_LORA_N_TARGETS, sizeof(LoraLinear));
    a->blocks = cg_calloc(L, sizeof(DiTBlockLora));
    int j = 0; // the table holds (A, B) per adapted linear, in lora_register's order
    for (int l = 0; l < cfg->depth; l++)
        for (int k = 0; k < DIT_LORA_N_TARGETS; k++) {
            if (!(targets & (1 << k))) continue;
            const ParamSpec *sa = &a->table.specs[j++], *sb = &a->table.specs[j++];
            LoraLinear *x = &a->lin[(size_t)l * DIT_LORA_N_TARGETS + (size_t)k];
            x->A = a->params + sa->offset, x->dA = a->grads + sa->offset;
            x->B = a->params + sb->offset, x->dB = a->grads + sb->offset;
            x->u = a->work, x->du = a->work + rows * (size_t)rank; // every linear shares the work
            x->R = rank;
            x->s = alpha / (float)rank;
            *(const LoraLinear **)((char *)&a->blocks[l] + TARGETS[k].lora_field) = x;
        }
}

void dit_lora_free(DiTLora *a) {
    param_table_free(&a->table);
    free(a->mem), free(a->lin), free(a->blocks);
    memset(a, 0, sizeof *a);
}

#define LORA_INIT_PURPOSE 0x6c6f72612d696e69ULL // "lora-ini"

void dit_lora_init(DiTLora *a, uint64_t seed) {
    memset(a->mem, 0, 4 * a->table.total * sizeof(float)); // B = 0, gradients and moments 0
    const int C = a->cfg.width;
    for (int l = 0; l < a->cfg.depth; l++)
        for (int k = 0; k < DIT_LORA_N_TARGETS; k++) {
            if (!(a->targets & (1 << k))) continue;
            const int in = TARGETS[k].in_c * C;
            float *A = (float *)a->lin[(size_t)l * DIT_LORA_N_TARGETS + (size_t)k].A;
            cg_rng r = cg_rng_make(seed, cg_rng_stream(LORA_INIT_PURPOSE, (uint64_t)l, (uint64_t)k));
            const double bound = 1.0 / sqrt((double)in);
            for (size_t i = 0; i < (size_t)a->rank * (size_t)in; i++) A[i] = (float)(bound * (2.0 * cg_rng_uniform(&r) - 1.0));
        }
}

void dit_lora_zero_grad(DiTLora *a) { memset(a->grads, 0, a->table.total * sizeof(float)); }

uint64_t dit_params_hash(const DiTModel *m) {
    return ckpt_fnv1a64(CKPT_FNV_OFFSET, m->params, m->table.total * sizeof(float));
}

// ---- a model with adapters ----------------------------------------------------------------------------

void dit_lora_attach(DiTModel *m, DiTLora *a) {
    CG_CHECK(memcmp(&m->cfg, &a->cfg, sizeof m->cfg) == 0 && m->max_B <= a->max_B,
             "LoRA adapters for another model shape or for batches of %d (the model's: %d)", a->max_B, m->max_B);
    for (int l = 0; l < m->cfg.depth; l++) m->w.blocks[l].lora = &a->blocks[l];
    m->lora_attached = 1;
}

void dit_lora_detach(DiTModel *m) {
    for (int l = 0; l < m->cfg.depth; l++) m->w.blocks[l].lora = NULL;
    m->lora_attached = 0;
}

void dit_lora_merge(DiTModel *m, const DiTLora *a) {
    CG_CHECK(memcmp(&m->cfg, &a->cfg, sizeof m->cfg) == 0, "LoRA adapters for another model shape");
    dit_lora_detach(m);
    const int C = m->cfg.width;
    for (int l = 0; l < m->cfg.depth; l++)
        for (int k = 0; k < DIT_LORA_N_TARGETS; k++) {
            if (!(a->targets & (1 << k))) continue;
            const LoraLinear *x = &a->lin[(size_t)l * DIT_LORA_N_TARGETS + (size_t)k];
            float *W = *(float **)((char *)&m->w.blocks[l] + TARGETS[k].weight_field);
            lora_merge(W, x->A, x->B, x->s, TARGETS[k].out_c * C, TARGETS[k].in_c * C, x->R);
        }
}

// ---- files ---------------------------------------------------------------------------------------------

void dit_lora_to_meta(const DiTLora *a, CkptMeta *meta) {
    char t[64];
    dit_lora_format_targets(t, sizeof t, a->targets);
    ckpt_meta_set_int(meta, "lora.rank", a->rank);
    ckpt_meta_setf(meta, "lora.alpha", "%.9g", (double)a->alpha);
    ckpt_meta_set(meta, "lora.targets", t);
    ckpt_meta_setf(meta, "lora.base_fnv1a64", "%016" PRIx64, a->base_hash);
}

int dit_lora_from_meta(const CkptMeta *meta, int *rank, float *alpha, int *targets, uint64_t *base_hash, char *err,
                       size_t errlen) {
    long r;
    if (ckpt_meta_get_int(meta, "lora.rank", 1, DIT_LORA_MAX_RANK, &r, err, errlen)) return -1;
    const char *al = ckpt_meta_get(meta, "lora.alpha"), *t = ckpt_meta_get(meta, "lora.targets");
    const char *h = ckpt_meta_get(meta, "lora.base_fnv1a64");
    char *end = NULL;
    errno = 0;
    const double a = al ? strtod(al, &end) : 0.0;
    if (!al || end == al || *end || errno || !(a > 0.0 && a < 1e30))
        return cg_errf(err, errlen, "lora.alpha = '%.40s' is not a positive number", al ? al : "(missing)");
    if (!t) return cg_errf(err, errlen, "no lora.targets");
    if (dit_lora_parse_targets(t, targets, err, errlen)) return -1;
    end = NULL;
    errno = 0;
    const unsigned long long hv = h && strlen(h) == 16 ? strtoull(h, &end, 16) : 0;
    if (!h || !end || *end || errno) return cg_errf(err, errlen, "lora.base_fnv1a64 = '%.40s' is not 16 hex digits", h ? h : "(missing)");
    *rank = (int)r, *alpha = (float)a, *base_hash = (uint64_t)hv;
    return 0;
}

int dit_lora_check_base(uint64_t want, const DiTModel *base, const char *what, const char *base_name, char *err,
                        size_t errlen) {
    const uint64_t have = dit_params_hash(base);
    if (have == want) return 0;
    return cg_errf(err, errlen, "%s holds adapters of another base model (its base has fnv1a64 %016" PRIx64
                   ", %s has %016" PRIx64 ")", what, want, base_name, have);
}

int dit_lora_save(const DiTLora *a, const char *path, const CkptMeta *extra, char *err, size_t errlen) {
    CkptMeta meta;
    ckpt_meta_init(&meta);
    if (extra)
        for (int i = 0; i < extra->n; i++) ckpt_meta_set(&meta, extra->keys[i], extra->values[i]);
    dit_config_to_meta(&a->cfg, &meta);
    dit_lora_to_meta(a, &meta);
    CkptSection s = {DIT_LORA_PREFIX, &a->table, a->params};
    int rc = ckpt_save(path, &s, 1, &meta, err, errlen);
    ckpt_meta_free(&meta);
    return rc;
}

int dit_lora_load(const char *path, const DiTModel *base, const char *base_name, DiTLora *a, int max_B, char *err,
                  size_t errlen) {
    memset(a, 0, sizeof *a);
    CkptMeta meta;
    char why[600];
    if (ckpt_read_meta(path, &meta, why, sizeof why)) return cg_errf(err, errlen, "%s", why);
    int rank = 0, targets = 0, rc = 0;
    float alpha = 0.0f;
    uint64_t hash = 0;
    if (!ckpt_meta_get(&meta, "lora.rank"))
        rc = cg_errf(err, errlen, "%s holds no LoRA adapters (no lora.rank)", path);
    else if (dit_lora_from_meta(&meta, &rank, &alpha, &targets, &hash, why, sizeof why) ||
             dit_config_match_meta(&meta, &base->cfg, why, sizeof why))
        rc = cg_errf(err, errlen, "%s: %s", path, why);
    else if (dit_lora_check_base(hash, base, path, base_name, err, errlen))
        rc = -1;
    ckpt_meta_free(&meta);
    if (rc) return rc;
    dit_lora_create(a, &base->cfg, rank, alpha, targets, max_B);
    a->base_hash = hash;
    CkptSection s = {DIT_LORA_PREFIX, &a->table, a->params};
    if (ckpt_load(path, &s, 1, NULL, CKPT_IGNORE_EXTRA, err, errlen)) {
        dit_lora_free(a);
        return -1;
    }
    return 0;
}
