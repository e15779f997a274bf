// png.h: PNG files through libpng's simplified API (no hand-written encoder).
//   write: 8-bit RGB or 8-bit grey, from bytes or from [0,1] floats;
//          (atomically: a temp file next to the target, then a rename, io/atomic.h);
//   read:  any PNG (grey, palette, 16-bit, alpha) converted to 8-bit RGB, alpha composited over
//          white, with its size reported.
//   memory: the same writer and reader on a byte buffer instead of a file.
// Buffers are row-major: rgb (H, W, 3), grey (H, W), float img (H, W, 3).
// Every function returns 0, or -1 with a one-line reason in err (never exits): the caller decides
// whether that is a usage error (exit 2) or a runtime failure.
#ifndef CGRPO_IO_PNG_H
#define CGRPO_IO_PNG_H

#include <stddef.h>

#define CG_PNG_MAX_SIDE 65535          // a side longer than this is refused
#define CG_PNG_MAX_PIXELS (1L << 26)   // so is an image of more pixels than this (64 Mpixel)

int cg_png_write_rgb8(const char *path, const unsigned char *rgb, int W, int H, char *err, size_t errlen);
int cg_png_write_gray8(const char *path, const unsigned char *gray, int W, int H, char *err, size_t errlen);
// img (H, W, 3) floats, each rounded to round(clamp(x, 0, 1) * 255).
int cg_png_write_float_rgb(const char *path, const float *img, int W, int H, char *err, size_t errlen);
// That rounding alone: dst (n) = round(clamp(src, 0, 1) * 255), NaN -> 0.
void cg_png_float_to_rgb8(unsigned char *dst, const float *src, size_t n);

// Read any PNG into a new malloc'd (H, W, 3) RGB8 buffer (*rgb, freed by the caller).
int cg_png_read_rgb8(const char *path, unsigned char **rgb, int *W, int *H, char *err, size_t errlen);

// The same in memory (the reward server protocol, docs/reward_protocol.md): encode writes the
// bytes of an RGB8 PNG file into a new malloc'd buffer (*png, *len); decode reads any PNG from
// `len` bytes as cg_png_read_rgb8 reads a file.
int cg_png_encode_rgb8(const unsigned char *rgb, int W, int H, unsigned char **png, size_t *len, char *err, size_t errlen);
int cg_png_decode_rgb8(const void *png, size_t len, unsigned char **rgb, int *W, int *H, char *err, size_t errlen);

#endif
