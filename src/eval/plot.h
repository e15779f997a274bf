// plot.h: PNG-ready plots in plain C, in two layers.
//   canvas: an RGB8 raster (H, W, 3) with anti-aliased lines, filled markers, rectangles and a
//           built-in 5x8 bitmap font scaled by an integer factor;
//   plot:   axes with 1-2-5 ticks and labels, axis titles, a title, a legend, line series (NaN
//           breaks a line), scatter series with per-point labels, error bars, log-y.
// Coordinates on the canvas are in pixels, x to the right and y down; pixel (i, j) is the unit
// square centred on (i, j), so a line from (0, 0) to (9, 9) runs through the centres of the
// diagonal pixels. Nothing here exits on bad data: non-finite coordinates are skipped.
#ifndef CGRPO_EVAL_PLOT_H
#define CGRPO_EVAL_PLOT_H

#include <stddef.h>

typedef struct {
    unsigned char r, g, b;
} PlotRGB;

typedef struct {
    int w, h;
    unsigned char *rgb;         // (h, w, 3), row-major
    int clip_x0, clip_y0;       // drawing is limited to [clip_x0, clip_x1] x [clip_y0, clip_y1]
    int clip_x1, clip_y1;       // (inclusive; the whole canvas after plot_canvas_init)
} PlotCanvas;

typedef enum { PLOT_CIRCLE, PLOT_SQUARE, PLOT_TRIANGLE, PLOT_DIAMOND, PLOT_N_MARKERS } PlotMarker;

#define PLOT_N_COLORS 8
PlotRGB plot_color(int i); // the palette, cycling: blue, orange, green, red, purple, brown, pink, teal

// ---- canvas -------------------------------------------------------------------------------------
int plot_canvas_init(PlotCanvas *c, int w, int h, PlotRGB bg, char *err, size_t errlen); // -1: bad size
void plot_canvas_free(PlotCanvas *c);
void plot_canvas_clip(PlotCanvas *c, int x0, int y0, int x1, int y1); // intersected with the canvas
// mixes col into pixel (x, y) with weight alpha in [0, 1] (outside the clip rectangle: nothing)
void plot_blend(PlotCanvas *c, int x, int y, PlotRGB col, float alpha);
void plot_fill_rect(PlotCanvas *c, int x0, int y0, int x1, int y1, PlotRGB col);   // inclusive corners
void plot_stroke_rect(PlotCanvas *c, int x0, int y0, int x1, int y1, PlotRGB col); // 1-pixel outline
// anti-aliased segment of the given width with round ends (coverage from the distance to the segment)
void plot_line(PlotCanvas *c, double x0, double y0, double x1, double y1, double width, PlotRGB col);
// filled marker centred on (x, y), about 2r across, anti-aliased by 4x4 supersampling
void plot_marker(PlotCanvas *c, double x, double y, double r, PlotMarker m, PlotRGB col);

// ---- text (ASCII 32..126; anything else draws as '?') -----------------------------------------------
#define PLOT_GLYPH_W 5   // glyph bitmap size; a character advances (PLOT_GLYPH_W + 1) * scale
#define PLOT_GLYPH_H 8   // rows 0..6 hold capitals and digits, row 7 the descenders
int plot_text_width(const char *s, int scale);          // pixels from the first to the last column
static inline int plot_text_height(int scale) { return PLOT_GLYPH_H * scale; }
// draws s with its top-left corner at (x, y): it covers [x, x + width) x [y, y + height)
void plot_text(PlotCanvas *c, int x, int y, const char *s, int scale, PlotRGB col);
// the same text turned 90 degrees counter-clockwise (reads bottom to top), its bottom-left corner
// at (x, y): it covers [x, x + height) x (y - width, y]
void plot_text_up(PlotCanvas *c, int x, int y, const char *s, int scale, PlotRGB col);

// ---- ticks ----------------------------------------------------------------------------------------
#define PLOT_MAX_TICKS 32
typedef struct {
    double lo, hi;             // the axis range
    double step;               // distance between ticks: 1, 2 or 5 times a power of ten
    int n;                     // number of ticks
    double v[PLOT_MAX_TICKS];  // tick values, increasing, lo <= v <= hi
    int decimals;              // digits after the point the labels need
} PlotTicks;
// Ticks for data in [lo, hi] with at most max_intervals (1..PLOT_MAX_TICKS-1) gaps between ticks:
// the smallest 1-2-5 step that fits. loose = 1 widens the range to multiples of the step (auto
// ranges), loose = 0 keeps [lo, hi] and puts the ticks inside (fixed ranges). lo == hi (a
// constant series) is widened around the value first; non-finite input gives [0, 1]. Data within
// 1e-9 of a step beyond a tick counts as on it (so that 1.0 / 0.2 makes 5 intervals, not 6).
void plot_nice_ticks(double lo, double hi, int max_intervals, int loose, PlotTicks *t);
void plot_tick_label(const PlotTicks *t, double v, char *buf, size_t n); // "0.25", "1200", "1e+06"

// ---- plots ----------------------------------------------------------------------------------------
enum { PLOT_STYLE_LINE = 1, PLOT_STYLE_MARKERS = 2 };

typedef struct {
    const char *label;               // legend entry; NULL or "" for none
    const double *x, *y;             // (n,); a NaN in x or y breaks a line / skips a point
    const double *xerr, *yerr;       // (n,) half-lengths of error bars, or NULL
    const char *const *point_labels; // (n,) text beside each point (NULL entries skipped), or NULL
    int n;
    int style;                       // PLOT_STYLE_LINE and/or PLOT_STYLE_MARKERS; 0 means LINE
    int color;                       // palette index; -1 picks the series index
    int marker;                      // PlotMarker; -1 picks the series index
} PlotSeries;

typedef struct {
    int width, height;              // pixels (>= 64 each)
    const char *title, *xlabel, *ylabel;  // NULL or "" for none
    int logy;                       // log10 y axis; y <= 0 is treated as missing
    int legend;                     // draw a legend of the labelled series
    double xmin, xmax, ymin, ymax;  // fixed range where both ends are finite, else automatic (NaN)
    int text_scale;                 // font scale of tick labels, 0 = from the size (title is +1)
    double line_width;              // pixels, 0 = 1.6 * text scale
} PlotSpec;

PlotSpec plot_spec_default(int width, int height); // auto ranges, legend on, no titles

// Where the data went, for tests and for callers that draw on top.
typedef struct {
    int x0, y0, x1, y1;             // the plot area's frame, in pixels (inclusive)
    double xlo, xhi, ylo, yhi;      // the data range it shows (log10 values when logy)
    int logy;
} PlotFrame;
double plot_frame_px(const PlotFrame *f, double x);
double plot_frame_py(const PlotFrame *f, double y); // takes y itself, also when logy

// Draws the whole figure on a new canvas of spec->width x spec->height (freed with
// plot_canvas_free). frame may be NULL. Returns -1 with a reason in err for a bad size only.
int plot_render(PlotCanvas *c, const PlotSpec *spec, const PlotSeries *series, int n_series,
                PlotFrame *frame, char *err, size_t errlen);
// plot_render, then the PNG (src/io/png.h); -1 with the reason when it cannot be written
int plot_write_png(const char *path, const PlotSpec *spec, const PlotSeries *series, int n_series,
                   char *err, size_t errlen);

#endif
