// sheet.h: image sheets (contact sheets, sample grids): an RGB8 canvas on a flat background that
// square float images are copied into, each pixel drawn as a z x z block (nearest), then written
// as one PNG. The callers keep their own layouts (where each cell goes); the sheet does the
// allocation, the quantization of a float image and the file. Used by `cgrpo world grid`, the
// grids of `cgrpo eval`, compare's grid.png and the trainer's samples/iter_*.png (rl/trainer.c
// write_samples_lead, images in [-1, 1]: SHEET_MODEL_RANGE).
//
//   Sheet s;
//   if (sheet_create(&s, W, H, 40, err, sizeof err)) ...;    // dark grey background
//   sheet_put_float(&s, x, y, img, S, zoom, SHEET_UNIT_RANGE); // img (S, S, 3) in [0, 1]
//   int rc = sheet_write_png(&s, path, err, sizeof err);
//   sheet_free(&s);
#ifndef CGRPO_IO_SHEET_H
#define CGRPO_IO_SHEET_H

#include <stddef.h>

typedef struct {
    unsigned char *rgb; // (h, w, 3), row-major
    int w, h;
    int owned;          // 1: sheet_free frees rgb (sheet_create); 0: a view (sheet_wrap)
} Sheet;

typedef enum {
    SHEET_UNIT_RANGE = 0,  // images in [0, 1]: byte = round(clamp(v, 0, 1) * 255)
    SHEET_MODEL_RANGE = 1, // images in [-1, 1] (model range): v' = 0.5 (v + 1), then as above
} SheetRange;

// A w x h sheet filled with the grey level bg. -1 with a reason when a side is not in
// [1, CG_PNG_MAX_SIDE] or the sheet has more than CG_PNG_MAX_PIXELS pixels (io/png.h).
int sheet_create(Sheet *s, int w, int h, unsigned char bg, char *err, size_t errlen);
// A sheet over a caller's (h, w, 3) buffer (e.g. a plot canvas); sheet_free leaves it alone.
Sheet sheet_wrap(unsigned char *rgb, int w, int h);
void sheet_free(Sheet *s);

// img (S, S, 3) floats with its top-left corner at (x, y), zoomed z >= 1 times; the cell
// (S z, S z) must lie inside the sheet (a bug otherwise).
void sheet_put_float(Sheet *s, int x, int y, const float *img, int S, int z, SheetRange range);
// The w x h block at (sx, sy) of an RGB8 image src whose rows are src_w pixels wide, to (x, y).
void sheet_put_rgb8(Sheet *s, int x, int y, const unsigned char *src, int src_w, int sx, int sy, int w, int h);

// The sheet as an 8-bit RGB PNG (io/png.h). 0, or -1 with a reason.
int sheet_write_png(const Sheet *s, const char *path, char *err, size_t errlen);

#endif
