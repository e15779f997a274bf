// fixture.h: reader for the reference fixtures that the Python twins (tools/twin_*.py) write.
//
// Format, little-endian, version 1:
//   "CGFX"  u32 version  u32 n_tensors
//   n_tensors times: u32 name_len, name bytes (no NUL), u32 ndim, u32 dims[ndim], f32 data[prod(dims)]
//
// Header-only (static functions) because only test programs use it. Every size read from the
// file is checked against the bytes that remain before anything is allocated or copied; a
// malformed file gives -1 and a one-line reason, never a crash.
#ifndef CGRPO_TESTS_FIXTURE_H
#define CGRPO_TESTS_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

#define FIXTURE_VERSION 1
#define FIXTURE_MAX_DIMS 8
#define FIXTURE_NAME_MAX 128

typedef struct {
    char name[FIXTURE_NAME_MAX];
    int ndim;
    int dims[FIXTURE_MAX_DIMS];
    size_t count; // product of dims
    float *data;  // (count) owned
} FixtureTensor;

typedef struct {
    FixtureTensor *t; // (n) owned
    int n;
} Fixture;

static void fixture_free(Fixture *fx) {
    for (int i = 0; i < fx->n; i++) free(fx->t[i].data);
    free(fx->t);
    fx->t = NULL;
    fx->n = 0;
}

// reads a u32 at *pos if 4 bytes remain; returns 0 on success
static int fixture_u32_(const unsigned char *buf, size_t len, size_t *pos, uint32_t *out) {
    if (len - *pos < 4) return -1;
    const unsigned char *p = buf + *pos;
    *out = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    *pos += 4;
    return 0;
}

static int fixture_parse_(Fixture *fx, const unsigned char *buf, size_t len, char *err, size_t errlen) {
    size_t pos = 0;
    uint32_t version = 0, n = 0;
    if (len < 12 || memcmp(buf, "CGFX", 4) != 0) return cg_errf(err, errlen, "not a CGFX fixture");
    pos = 4;
    fixture_u32_(buf, len, &pos, &version);
    fixture_u32_(buf, len, &pos, &n);
    if (version != FIXTURE_VERSION)
        return cg_errf(err, errlen, "fixture version %u, this reader knows %d", version, FIXTURE_VERSION);
    if (n > (len - pos) / 8) return cg_errf(err, errlen, "tensor count %u does not fit the file", n);
    fx->t = calloc(n ? n : 1, sizeof(FixtureTensor));
    if (!fx->t) return cg_errf(err, errlen, "out of memory");
    for (uint32_t i = 0; i < n; i++) {
        FixtureTensor *t = &fx->t[i];
        fx->n = (int)i + 1; // so that fixture_free releases what was read so far
        uint32_t name_len, ndim;
        if (fixture_u32_(buf, len, &pos, &name_len) || name_len == 0 || name_len >= FIXTURE_NAME_MAX ||
            name_len > len - pos)
            return cg_errf(err, errlen, "tensor %u: bad name length", i);
        memcpy(t->name, buf + pos, name_len);
        t->name[name_len] = '\0';
        pos += name_len;
        if (fixture_u32_(buf, len, &pos, &ndim) || ndim > FIXTURE_MAX_DIMS)
            return cg_errf(err, errlen, "tensor '%s': bad ndim", t->name);
        t->ndim = (int)ndim;
        size_t count = 1;
        for (uint32_t d = 0; d < ndim; d++) {
            uint32_t dim;
            if (fixture_u32_(buf, len, &pos, &dim) || dim > (1u << 30))
                return cg_errf(err, errlen, "tensor '%s': bad dims", t->name);
            t->dims[d] = (int)dim;
            if (dim && count > (len - pos) / 4 / dim)
                return cg_errf(err, errlen, "tensor '%s': data runs past the end of the file", t->name);
            count *= dim;
        }
        if (count > (len - pos) / 4)
            return cg_errf(err, errlen, "tensor '%s': data runs past the end of the file", t->name);
        t->count = count;
        t->data = malloc(count ? count * sizeof(float) : 1);
        if (!t->data) return cg_errf(err, errlen, "out of memory");
        for (size_t k = 0; k < count; k++) {
            uint32_t bits = 0;
            fixture_u32_(buf, len, &pos, &bits);
            memcpy(&t->data[k], &bits, 4);
        }
    }
    if (pos != len) return cg_errf(err, errlen, "%zu trailing bytes after the last tensor", len - pos);
    return 0;
}

// Loads path into fx; returns 0, or -1 with a reason in err (fx is then empty).
static int fixture_load(Fixture *fx, const char *path, char *err, size_t errlen) {
    fx->t = NULL;
    fx->n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return cg_errf(err, errlen, "cannot open %s", path);
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len == cap) {
            cap = cap ? 2 * cap : 65536;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return cg_errf(err, errlen, "out of memory reading %s", path);
            }
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return cg_errf(err, errlen, "read error on %s", path);
    }
    int rc = fixture_parse_(fx, buf, len, err, errlen);
    free(buf);
    if (rc) fixture_free(fx);
    return rc;
}

static const FixtureTensor *fixture_get(const Fixture *fx, const char *name) {
    for (int i = 0; i < fx->n; i++)
        if (strcmp(fx->t[i].name, name) == 0) return &fx->t[i];
    return NULL;
}

#endif
