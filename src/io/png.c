// png.c: the PNG reader and writers of png.h, on libpng's simplified (png_image) API.
#include "io/png.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "io/atomic.h"

static int check_size(int W, int H, char *err, size_t errlen) {
    if (W <= 0 || H <= 0 || W > CG_PNG_MAX_SIDE || H > CG_PNG_MAX_SIDE || (long)W * (long)H > CG_PNG_MAX_PIXELS)
        return cg_errf(err, errlen, "bad PNG size %dx%d (at most %d a side, %ld pixels)", W, H, CG_PNG_MAX_SIDE,
                       CG_PNG_MAX_PIXELS);
    return 0;
}

// data (W x H, `channels` bytes per pixel in `format`) -> a malloc'd PNG file image
static int encode_png(const void *data, int W, int H, png_uint_32 format, int channels, unsigned char **png,
                      size_t *len, char *err, size_t errlen) {
    *png = NULL, *len = 0;
    if (check_size(W, H, err, errlen)) return -1;
    png_image image;
    memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
    image.width = (png_uint_32)W;
    image.height = (png_uint_32)H;
    image.format = format;
    png_alloc_size_t size = 0; // the first call measures, the second writes
    int ok = png_image_write_to_memory(&image, NULL, &size, 0, data, (png_int_32)(W * channels), NULL);
    unsigned char *buf = ok ? cg_malloc(size) : NULL;
    if (ok) ok = png_image_write_to_memory(&image, buf, &size, 0, data, (png_int_32)(W * channels), NULL);
    char why[128];
    snprintf(why, sizeof(why), "%s", ok ? "" : image.message);
    png_image_free(&image);
    if (!ok) {
        free(buf);
        return cg_errf(err, errlen, "cannot encode a %dx%d PNG: %s", W, H, why);
    }
    *png = buf, *len = (size_t)size;
    return 0;
}

// Encoded in memory, then written whole with a temp file and a rename (io/atomic.h): a reader, or
// a run killed in the middle, never sees half an image.
static int write_png(const char *path, const void *data, int W, int H, png_uint_32 format, int channels, char *err,
                     size_t errlen) {
    unsigned char *png;
    size_t len;
    char why[600];
    if (encode_png(data, W, H, format, channels, &png, &len, why, sizeof why))
        return cg_errf(err, errlen, "cannot write PNG '%s': %s", path, why);
    const int rc = atomic_write_bytes(path, png, len, err, errlen);
    free(png);
    return rc;
}

int cg_png_write_rgb8(const char *path, const unsigned char *rgb, int W, int H, char *err, size_t errlen) {
    return write_png(path, rgb, W, H, PNG_FORMAT_RGB, 3, err, errlen);
}

int cg_png_write_gray8(const char *path, const unsigned char *gray, int W, int H, char *err, size_t errlen) {
    return write_png(path, gray, W, H, PNG_FORMAT_GRAY, 1, err, errlen);
}

void cg_png_float_to_rgb8(unsigned char *dst, const float *src, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = src[i];
        v = v > 0.f ? (v < 1.f ? v : 1.f) : 0.f; // NaN -> 0
        dst[i] = (unsigned char)(v * 255.f + 0.5f);
    }
}

int cg_png_write_float_rgb(const char *path, const float *img, int W, int H, char *err, size_t errlen) {
    if (check_size(W, H, err, errlen)) return -1;
    size_t n = (size_t)W * (size_t)H * 3;
    unsigned char *b = cg_malloc(n);
    cg_png_float_to_rgb8(b, img, n);
    int rc = cg_png_write_rgb8(path, b, W, H, err, errlen);
    free(b);
    return rc;
}

// The second half of both readers: size check, conversion to RGB8 over white. `what` names the
// source in messages ("PNG 'x.png'", "the PNG"). Frees the image's resources in every case.
static int finish_read(png_image *image, const char *what, unsigned char **rgb, int *W, int *H, char *err, size_t errlen) {
    if (image->width > CG_PNG_MAX_SIDE || image->height > CG_PNG_MAX_SIDE ||
        check_size((int)image->width, (int)image->height, err, errlen)) {
        png_image_free(image);
        return cg_errf(err, errlen, "%s is %ux%u, too large (at most %d a side, %ld pixels)", what, image->width,
                       image->height, CG_PNG_MAX_SIDE, CG_PNG_MAX_PIXELS);
    }
    image->format = PNG_FORMAT_RGB;
    size_t n = (size_t)image->width * (size_t)image->height * 3;
    unsigned char *buf = cg_malloc(n);
    png_color white = {255, 255, 255};
    if (!png_image_finish_read(image, &white, buf, (png_int_32)(image->width * 3), NULL)) {
        char why[128];
        snprintf(why, sizeof(why), "%s", image->message);
        png_image_free(image);
        free(buf);
        return cg_errf(err, errlen, "cannot decode %s: %s", what, why);
    }
    png_image_free(image);
    *rgb = buf;
    *W = (int)image->width;
    *H = (int)image->height;
    return 0;
}

int cg_png_read_rgb8(const char *path, unsigned char **rgb, int *W, int *H, char *err, size_t errlen) {
    *rgb = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return cg_errf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
    unsigned char sig[8];
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(f);
        return cg_errf(err, errlen, "'%s' is not a PNG file (bad signature)", path);
    }
    rewind(f);
    png_image image;
    memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_stdio(&image, f)) {
        fclose(f);
        return cg_errf(err, errlen, "cannot read PNG '%s': %s", path, image.message);
    }
    char what[4200];
    snprintf(what, sizeof what, "PNG '%s'", path);
    const int rc = finish_read(&image, what, rgb, W, H, err, errlen);
    fclose(f);
    return rc;
}

int cg_png_encode_rgb8(const unsigned char *rgb, int W, int H, unsigned char **png, size_t *len, char *err, size_t errlen) {
    return encode_png(rgb, W, H, PNG_FORMAT_RGB, 3, png, len, err, errlen);
}

int cg_png_decode_rgb8(const void *png, size_t len, unsigned char **rgb, int *W, int *H, char *err, size_t errlen) {
    *rgb = NULL;
    if (len < 8 || png_sig_cmp((png_const_bytep)png, 0, 8) != 0) return cg_errf(err, errlen, "not a PNG (bad signature)");
    png_image image;
    memset(&image, 0, sizeof(image));
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, png, len)) return cg_errf(err, errlen, "cannot read the PNG: %s", image.message);
    return finish_read(&image, "the PNG", rgb, W, H, err, errlen);
}
