// sheet.c: see sheet.h.
#include "io/sheet.h"

#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "io/png.h"

int sheet_create(Sheet *s, int w, int h, unsigned char bg, char *err, size_t errlen) {
    memset(s, 0, sizeof(*s));
    if (w < 1 || h < 1 || w > CG_PNG_MAX_SIDE || h > CG_PNG_MAX_SIDE || (long)w * (long)h > CG_PNG_MAX_PIXELS)
        return cg_errf(err, errlen, "an image sheet of %dx%d pixels is too large (at most %d a side, %ld pixels)", w, h,
                       CG_PNG_MAX_SIDE, CG_PNG_MAX_PIXELS);
    const size_t n = (size_t)w * (size_t)h * 3;
    s->rgb = cg_malloc(n);
    memset(s->rgb, bg, n);
    s->w = w, s->h = h, s->owned = 1;
    return 0;
}

Sheet sheet_wrap(unsigned char *rgb, int w, int h) { return (Sheet){rgb, w, h, 0}; }

void sheet_free(Sheet *s) {
    if (s->owned) free(s->rgb);
    memset(s, 0, sizeof(*s));
}

void sheet_put_float(Sheet *s, int x, int y, const float *img, int S, int z, SheetRange range) {
    CG_CHECK(z >= 1 && x >= 0 && y >= 0 && (long)x + (long)S * z <= s->w && (long)y + (long)S * z <= s->h,
             "a %dx%d cell (zoom %d) at (%d, %d) outside the %dx%d sheet", S, S, z, x, y, s->w, s->h);
    for (int j = 0; j < S * z; j++)
        for (int i = 0; i < S * z; i++) {
            const float *p = img + 3 * ((size_t)(j / z) * (size_t)S + (size_t)(i / z));
            unsigned char *q = s->rgb + 3 * ((size_t)(y + j) * (size_t)s->w + (size_t)(x + i));
            for (int c = 0; c < 3; c++) {
                float v = range == SHEET_MODEL_RANGE ? 0.5f * (p[c] + 1.0f) : p[c];
                v = v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
                q[c] = (unsigned char)(v * 255.f + 0.5f);
            }
        }
}

void sheet_put_rgb8(Sheet *s, int x, int y, const unsigned char *src, int src_w, int sx, int sy, int w, int h) {
    CG_CHECK(x >= 0 && y >= 0 && (long)x + w <= s->w && (long)y + h <= s->h && sx >= 0 && sy >= 0 && sx + w <= src_w,
             "a %dx%d block to (%d, %d) outside the %dx%d sheet", w, h, x, y, s->w, s->h);
    for (int j = 0; j < h; j++)
        memcpy(s->rgb + ((size_t)(y + j) * (size_t)s->w + (size_t)x) * 3,
               src + ((size_t)(sy + j) * (size_t)src_w + (size_t)sx) * 3, (size_t)w * 3);
}

int sheet_write_png(const Sheet *s, const char *path, char *err, size_t errlen) {
    return cg_png_write_rgb8(path, s->rgb, s->w, s->h, err, errlen);
}
