// checkpoint.c: named float sections + string metadata in one safetensors file. See checkpoint.h.
#include "io/checkpoint.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CKPT_NAME_MAX 512 // prefix + table name, plus room for the terminating 0

// ---- metadata ----------------------------------------------------------------------------------------

void ckpt_meta_init(CkptMeta *m) {
    m->keys = m->values = NULL;
    m->n = m->cap = 0;
}

void ckpt_meta_free(CkptMeta *m) {
    for (int i = 0; i < m->n; i++) free(m->keys[i]), free(m->values[i]);
    free(m->keys);
    free(m->values);
    ckpt_meta_init(m);
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = cg_malloc(n);
    memcpy(d, s, n);
    return d;
}

static int meta_index(const CkptMeta *m, const char *key) {
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0) return i;
    return -1;
}

void ckpt_meta_set(CkptMeta *m, const char *key, const char *value) {
    CG_CHECK(key && value, "metadata key and value must not be NULL");
    int i = meta_index(m, key);
    if (i >= 0) {
        char *v = dup_str(value); // (value may point into the old one)
        free(m->values[i]);
        m->values[i] = v;
        return;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 16;
        m->keys = cg_realloc(m->keys, cg_mul_size((size_t)m->cap, sizeof(char *)));
        m->values = cg_realloc(m->values, cg_mul_size((size_t)m->cap, sizeof(char *)));
    }
    m->keys[m->n] = dup_str(key);
    m->values[m->n] = dup_str(value);
    m->n++;
}

void ckpt_meta_setf(CkptMeta *m, const char *key, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    CG_CHECK(n >= 0, "formatting metadata '%s'", key);
    char *buf = cg_malloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(buf, (size_t)n + 1, fmt, ap);
    va_end(ap);
    ckpt_meta_set(m, key, buf);
    free(buf);
}

void ckpt_meta_set_u64(CkptMeta *m, const char *key, uint64_t value) {
    ckpt_meta_setf(m, key, "%llu", (unsigned long long)value);
}

void ckpt_meta_set_int(CkptMeta *m, const char *key, long value) { ckpt_meta_setf(m, key, "%ld", value); }

const char *ckpt_meta_get(const CkptMeta *m, const char *key) {
    int i = meta_index(m, key);
    return i >= 0 ? m->values[i] : NULL;
}

int ckpt_meta_get_u64(const CkptMeta *m, const char *key, uint64_t *out, char *err, size_t errlen) {
    const char *s = ckpt_meta_get(m, key);
    if (!s) return cg_errf(err, errlen, "checkpoint metadata has no '%s'", key);
    // digits only: strtoull would accept leading spaces, a sign and wrap "-1" around
    if (s[0] == '\0') return cg_errf(err, errlen, "checkpoint metadata '%s' is empty", key);
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return cg_errf(err, errlen, "checkpoint metadata '%s' = '%s' is not a decimal integer", key, s);
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return cg_errf(err, errlen, "checkpoint metadata '%s' = '%s' does not fit in 64 bits", key, s);
        v = 10 * v + d;
    }
    *out = v;
    return 0;
}

int ckpt_meta_get_int(const CkptMeta *m, const char *key, long lo, long hi, long *out, char *err,
                      size_t errlen) {
    const char *s = ckpt_meta_get(m, key);
    if (!s) return cg_errf(err, errlen, "checkpoint metadata has no '%s'", key);
    const char *p = s + (s[0] == '-');
    if (*p == '\0') return cg_errf(err, errlen, "checkpoint metadata '%s' = '%s' is not an integer", key, s);
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return cg_errf(err, errlen, "checkpoint metadata '%s' = '%s' is not an integer", key, s);
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno == ERANGE || v < lo || v > hi)
        return cg_errf(err, errlen, "checkpoint metadata '%s' = '%s' is outside [%ld, %ld]", key, s, lo, hi);
    *out = v;
    return 0;
}

static void rng_key(char *out, size_t n, const char *prefix, const char *field) {
    int k = snprintf(out, n, "%s.%s", prefix, field);
    CG_CHECK(k >= 0 && (size_t)k < n, "metadata key '%s.%s' too long", prefix, field);
}

void ckpt_meta_set_rng(CkptMeta *m, const char *prefix, const cg_rng *r) {
    char key[256];
    rng_key(key, sizeof key, prefix, "seed");
    ckpt_meta_set_u64(m, key, r->seed);
    rng_key(key, sizeof key, prefix, "stream");
    ckpt_meta_set_u64(m, key, r->stream);
    rng_key(key, sizeof key, prefix, "index");
    ckpt_meta_set_u64(m, key, r->index);
}

int ckpt_meta_get_rng(const CkptMeta *m, const char *prefix, cg_rng *out, char *err, size_t errlen) {
    char key[256];
    cg_rng r;
    rng_key(key, sizeof key, prefix, "seed");
    if (ckpt_meta_get_u64(m, key, &r.seed, err, errlen)) return -1;
    rng_key(key, sizeof key, prefix, "stream");
    if (ckpt_meta_get_u64(m, key, &r.stream, err, errlen)) return -1;
    rng_key(key, sizeof key, prefix, "index");
    if (ckpt_meta_get_u64(m, key, &r.index, err, errlen)) return -1;
    *out = r;
    return 0;
}

int ckpt_meta_expect(const CkptMeta *m, const char *key, const char *want, char *err, size_t errlen) {
    const char *have = ckpt_meta_get(m, key);
    if (!have) return cg_errf(err, errlen, "checkpoint has no %s, this run wants %s=%s", key, key, want);
    if (strcmp(have, want) != 0)
        return cg_errf(err, errlen, "checkpoint has %s=%s, this run wants %s", key, have, want);
    return 0;
}

// ---- helpers -----------------------------------------------------------------------------------------

// FNV-1a, 64 bit, continued from h over n bytes.
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL
static uint64_t fnv1a64(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

uint64_t ckpt_fnv1a64(uint64_t h, const void *data, size_t n) { return fnv1a64(h, data, n); }

static void full_name(char *out, const char *prefix, const char *name) {
    int k = snprintf(out, CKPT_NAME_MAX, "%s%s", prefix, name);
    CG_CHECK(k >= 0 && k < CKPT_NAME_MAX, "tensor name '%s%s' too long", prefix, name);
}

// "[768, 128]" into out
static void fmt_shape(char *out, size_t n, int ndim, const size_t *shape) {
    size_t used = 0;
    out[0] = '\0';
    for (int d = 0; d <= ndim && used < n; d++) {
        int k;
        if (d == ndim)
            k = snprintf(out + used, n - used, "]");
        else
            k = snprintf(out + used, n - used, "%s%zu", d ? ", " : "[", shape[d]);
        if (k < 0) break;
        used += (size_t)k;
    }
    if (ndim == 0) snprintf(out, n, "[]");
}

static void spec_shape(const ParamSpec *s, size_t *shape) {
    for (int d = 0; d < s->ndim; d++) shape[d] = (size_t)s->shape[d];
}

static void check_sections(const CkptSection *sections, int n) {
    CG_CHECK(n >= 0 && (n == 0 || sections), "%d checkpoint sections", n);
    for (int i = 0; i < n; i++)
        CG_CHECK(sections[i].prefix && sections[i].table && (sections[i].data || sections[i].table->total == 0),
                 "checkpoint section %d is incomplete", i);
}

// ---- save --------------------------------------------------------------------------------------------

int ckpt_save(const char *path, const CkptSection *sections, int n_sections, const CkptMeta *meta,
              char *err, size_t errlen) {
    check_sections(sections, n_sections);
    size_t nt = 0;
    for (int i = 0; i < n_sections; i++) nt += (size_t)sections[i].table->n;

    // one st_write_tensor per table entry, names and shapes owned here
    st_write_tensor *ts = cg_calloc(nt ? nt : 1, sizeof(st_write_tensor));
    char **names = cg_calloc(nt ? nt : 1, sizeof(char *));
    size_t *shapes = cg_calloc(nt ? nt * PARAM_MAX_DIMS : 1, sizeof(size_t));
    uint64_t h = FNV_OFFSET;
    size_t k = 0;
    for (int i = 0; i < n_sections; i++) {
        const CkptSection *s = &sections[i];
        for (int j = 0; j < s->table->n; j++, k++) {
            const ParamSpec *p = &s->table->specs[j];
            char name[CKPT_NAME_MAX];
            full_name(name, s->prefix, p->name);
            names[k] = dup_str(name);
            spec_shape(p, shapes + k * PARAM_MAX_DIMS);
            const float *data = s->data + p->offset;
            ts[k] = (st_write_tensor){names[k], ST_F32, p->ndim, shapes + k * PARAM_MAX_DIMS, data};
            // the data buffer is the tensors' bytes back to back in this order (little-endian host)
            h = fnv1a64(h, (const unsigned char *)data, p->count * sizeof(float));
        }
    }

    // metadata: the caller's, minus any stale checksum, plus ours
    int nm_in = meta ? meta->n : 0;
    const char **mk = cg_calloc((size_t)nm_in + 1, sizeof(char *));
    const char **mv = cg_calloc((size_t)nm_in + 1, sizeof(char *));
    size_t nm = 0;
    for (int i = 0; i < nm_in; i++) {
        if (strcmp(meta->keys[i], CKPT_CHECKSUM_KEY) == 0) continue;
        mk[nm] = meta->keys[i];
        mv[nm++] = meta->values[i];
    }
    char sum[32];
    snprintf(sum, sizeof sum, "%016llx", (unsigned long long)h);
    mk[nm] = CKPT_CHECKSUM_KEY;
    mv[nm++] = sum;

    int rc = st_write(path, ts, nt, mk, mv, nm, err, errlen);
    for (size_t i = 0; i < nt; i++) free(names[i]);
    free(names), free(shapes), free(ts), free((void *)mk), free((void *)mv);
    return rc;
}

// ---- load --------------------------------------------------------------------------------------------

void ckpt_meta_from_file(const st_file *f, CkptMeta *meta_out) {
    ckpt_meta_init(meta_out);
    for (size_t i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta_keys[i], CKPT_CHECKSUM_KEY) != 0)
            ckpt_meta_set(meta_out, f->meta_keys[i], f->meta_values[i]);
}

static int is_float_dtype(st_dtype d) { return d == ST_F32 || d == ST_F16 || d == ST_BF16 || d == ST_F64; }

// Whether tensor `name` is one that some section expects.
static int expected_by_sections(const char *name, const CkptSection *sections, int n) {
    for (int i = 0; i < n; i++) {
        size_t pl = strlen(sections[i].prefix);
        if (strncmp(name, sections[i].prefix, pl) == 0 && param_table_find(sections[i].table, name + pl))
            return 1;
    }
    return 0;
}

static int verify_checksum(const st_file *f, const char *what, char *err, size_t errlen) {
    const char *want = st_meta(f, CKPT_CHECKSUM_KEY);
    if (!want) return 0; // not written by ckpt_save (e.g. by Python): nothing to check
    uint64_t w = 0;
    int ok = strlen(want) == 16;
    for (int i = 0; ok && i < 16; i++) {
        char c = want[i];
        unsigned d = (c >= '0' && c <= '9') ? (unsigned)(c - '0') : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10) : 16u;
        ok = d < 16;
        w = (w << 4) | (d & 15u);
    }
    if (!ok) return cg_errf(err, errlen, "checkpoint %s: malformed %s value '%.40s'", what, CKPT_CHECKSUM_KEY, want);
    uint64_t h = fnv1a64(FNV_OFFSET, f->data, f->data_len);
    if (h != w)
        return cg_errf(err, errlen,
                       "checkpoint %s is corrupt: its tensor data has checksum %016llx, the header records %016llx",
                       what, (unsigned long long)h, (unsigned long long)w);
    return 0;
}

int ckpt_load_file(const st_file *f, const char *what, const CkptSection *sections, int n_sections,
                   int flags, char *err, size_t errlen) {
    check_sections(sections, n_sections);
    char name[CKPT_NAME_MAX], have[160], want[160];
    size_t shape[PARAM_MAX_DIMS];
    // 1. every expected tensor, with its exact shape and a float dtype
    for (int i = 0; i < n_sections; i++) {
        const CkptSection *s = &sections[i];
        for (int j = 0; j < s->table->n; j++) {
            const ParamSpec *p = &s->table->specs[j];
            full_name(name, s->prefix, p->name);
            spec_shape(p, shape);
            fmt_shape(want, sizeof want, p->ndim, shape);
            const st_tensor *t = st_find(f, name);
            if (!t) return cg_errf(err, errlen, "checkpoint %s has no tensor '%s' (expected shape %s)", what, name, want);
            int same = t->ndim == p->ndim;
            for (int d = 0; same && d < p->ndim; d++) same = t->shape[d] == shape[d];
            if (!same) {
                fmt_shape(have, sizeof have, t->ndim, t->shape);
                return cg_errf(err, errlen, "checkpoint %s: tensor '%s' has shape %s, expected %s", what, name, have, want);
            }
            if (!is_float_dtype(t->dtype))
                return cg_errf(err, errlen, "checkpoint %s: tensor '%s' has dtype %s, expected a float type (F32)",
                               what, name, st_dtype_name(t->dtype));
        }
    }
    // 2. nothing else, unless asked to skip extras
    if (!(flags & CKPT_IGNORE_EXTRA)) {
        for (size_t i = 0; i < f->n_tensors; i++) {
            const st_tensor *t = &f->tensors[i];
            if (!expected_by_sections(t->name, sections, n_sections)) {
                fmt_shape(have, sizeof have, t->ndim, t->shape);
                return cg_errf(err, errlen, "checkpoint %s has an unexpected tensor '%.200s' (shape %s)", what,
                               t->name, have);
            }
        }
    }
    // 3. the data bytes are the ones that were written
    if (verify_checksum(f, what, err, errlen)) return -1;
    // 4. copy (cannot fail any more: names, counts and dtypes were checked above)
    for (int i = 0; i < n_sections; i++) {
        const CkptSection *s = &sections[i];
        for (int j = 0; j < s->table->n; j++) {
            const ParamSpec *p = &s->table->specs[j];
            full_name(name, s->prefix, p->name);
            if (st_get_f32(f, name, s->data + p->offset, p->count, err, errlen)) return -1;
        }
    }
    return 0;
}

int ckpt_load(const char *path, const CkptSection *sections, int n_sections, CkptMeta *meta_out,
              int flags, char *err, size_t errlen) {
    if (meta_out) ckpt_meta_init(meta_out);
    st_file f;
    if (st_open(path, &f, err, errlen)) return -1;
    int rc = ckpt_load_file(&f, path, sections, n_sections, flags, err, errlen);
    if (rc == 0 && meta_out) ckpt_meta_from_file(&f, meta_out);
    st_close(&f);
    return rc;
}

int ckpt_read_meta(const char *path, CkptMeta *meta_out, char *err, size_t errlen) {
    ckpt_meta_init(meta_out);
    st_file f;
    if (st_open(path, &f, err, errlen)) return -1;
    ckpt_meta_from_file(&f, meta_out);
    st_close(&f);
    return 0;
}
