// plot.c: the canvas, the bitmap font, 1-2-5 ticks and the figure layout of plot.h.
#include "eval/plot.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "io/png.h"

#define MAX_SIDE 16384

static const PlotRGB PALETTE[PLOT_N_COLORS] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
    {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {23, 170, 190},
};
static const PlotRGB WHITE = {255, 255, 255}, INK = {30, 30, 30}, AXIS = {90, 90, 90};
static const PlotRGB GRID = {228, 228, 228}, GRID_MINOR = {243, 243, 243}, LEGEND_EDGE = {190, 190, 190};

PlotRGB plot_color(int i) {
    i %= PLOT_N_COLORS;
    return PALETTE[i < 0 ? i + PLOT_N_COLORS : i];
}

static double clampd(double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); }
static int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }
static int imax(int a, int b) { return a > b ? a : b; }
// a double pixel coordinate as an int within [lo, hi] (also for +-inf)
static int to_pixel(double v, int lo, int hi) { return v <= lo ? lo : (v >= hi ? hi : (int)v); }

// ---- canvas -------------------------------------------------------------------------------------

int plot_canvas_init(PlotCanvas *c, int w, int h, PlotRGB bg, char *err, size_t errlen) {
    memset(c, 0, sizeof(*c));
    if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE)
        return cg_errf(err, errlen, "bad canvas size %dx%d (1 to %d pixels a side)", w, h, MAX_SIDE);
    c->w = w;
    c->h = h;
    c->rgb = cg_malloc((size_t)w * (size_t)h * 3);
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
        c->rgb[3 * i] = bg.r;
        c->rgb[3 * i + 1] = bg.g;
        c->rgb[3 * i + 2] = bg.b;
    }
    plot_canvas_clip(c, 0, 0, w - 1, h - 1);
    return 0;
}

void plot_canvas_free(PlotCanvas *c) {
    free(c->rgb);
    c->rgb = NULL;
}

void plot_canvas_clip(PlotCanvas *c, int x0, int y0, int x1, int y1) {
    c->clip_x0 = clampi(x0, 0, c->w - 1);
    c->clip_y0 = clampi(y0, 0, c->h - 1);
    c->clip_x1 = clampi(x1, 0, c->w - 1);
    c->clip_y1 = clampi(y1, 0, c->h - 1);
}

void plot_blend(PlotCanvas *c, int x, int y, PlotRGB col, float a) {
    if (x < c->clip_x0 || x > c->clip_x1 || y < c->clip_y0 || y > c->clip_y1 || !(a > 0.f)) return;
    if (a > 1.f) a = 1.f;
    unsigned char *p = c->rgb + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    p[0] = (unsigned char)(p[0] * (1.f - a) + col.r * a + 0.5f);
    p[1] = (unsigned char)(p[1] * (1.f - a) + col.g * a + 0.5f);
    p[2] = (unsigned char)(p[2] * (1.f - a) + col.b * a + 0.5f);
}

void plot_fill_rect(PlotCanvas *c, int x0, int y0, int x1, int y1, PlotRGB col) {
    x0 = clampi(x0, c->clip_x0, c->clip_x1 + 1), x1 = clampi(x1, c->clip_x0 - 1, c->clip_x1);
    y0 = clampi(y0, c->clip_y0, c->clip_y1 + 1), y1 = clampi(y1, c->clip_y0 - 1, c->clip_y1);
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) plot_blend(c, x, y, col, 1.f);
}

void plot_stroke_rect(PlotCanvas *c, int x0, int y0, int x1, int y1, PlotRGB col) {
    plot_fill_rect(c, x0, y0, x1, y0, col);
    plot_fill_rect(c, x0, y1, x1, y1, col);
    plot_fill_rect(c, x0, y0, x0, y1, col);
    plot_fill_rect(c, x1, y0, x1, y1, col);
}

// Walks the major axis u of the segment; in each column (or row) only the band of the minor axis v
// that the thick line can reach is visited. Coverage of a pixel = clamp(w/2 + 1/2 - distance).
// Liang-Barsky: cuts the segment down to the part inside [bx0, bx1] x [by0, by1]; 0 if none. A
// cut end is put exactly on the side it crosses (huge coordinates would lose it to rounding).
static int clip_segment(double *x0, double *y0, double *x1, double *y1, double bx0, double by0, double bx1,
                        double by1) {
    double t0 = 0, t1 = 1, dx = *x1 - *x0, dy = *y1 - *y0;
    double p[4] = {-dx, dx, -dy, dy}, q[4] = {*x0 - bx0, bx1 - *x0, *y0 - by0, by1 - *y0};
    double side[4] = {bx0, bx1, by0, by1};
    int s0 = -1, s1 = -1; // the sides that cut each end
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0) return 0;
            continue;
        }
        double r = q[i] / p[i];
        if (p[i] < 0 && r > t0) t0 = r, s0 = i;
        if (p[i] > 0 && r < t1) t1 = r, s1 = i;
    }
    if (t0 > t1) return 0;
    double ax = *x0 + t0 * dx, ay = *y0 + t0 * dy, bx = *x0 + t1 * dx, by = *y0 + t1 * dy;
    if (s0 >= 0) *(s0 < 2 ? &ax : &ay) = side[s0];
    if (s1 >= 0) *(s1 < 2 ? &bx : &by) = side[s1];
    *x0 = ax, *y0 = ay, *x1 = bx, *y1 = by;
    return 1;
}

void plot_line(PlotCanvas *c, double x0, double y0, double x1, double y1, double width, PlotRGB col) {
    if (!isfinite(x1 - x0) || !isfinite(y1 - y0) || !(width > 0) || width > MAX_SIDE) return;
    double hw = 0.5 * width, m = hw + 2; // the cut ends lie m outside the clip rectangle: unseen
    if (!clip_segment(&x0, &y0, &x1, &y1, c->clip_x0 - m, c->clip_y0 - m, c->clip_x1 + m, c->clip_y1 + m)) return;
    double dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
    int steep = fabs(dy) > fabs(dx);
    double u0 = steep ? y0 : x0, u1 = steep ? y1 : x1, v0 = steep ? x0 : y0, v1 = steep ? x1 : y1;
    if (u0 > u1) {
        double t = u0; u0 = u1; u1 = t;
        t = v0; v0 = v1; v1 = t;
    }
    double slope = u1 > u0 ? (v1 - v0) / (u1 - u0) : 0.0;
    double reach = hw * sqrt(1.0 + slope * slope) + 1.0;
    int ulo_c = steep ? c->clip_y0 : c->clip_x0, uhi_c = steep ? c->clip_y1 : c->clip_x1;
    int vlo_c = steep ? c->clip_x0 : c->clip_y0, vhi_c = steep ? c->clip_x1 : c->clip_y1;
    int ulo = to_pixel(ceil(u0 - hw - 1), ulo_c, uhi_c + 1), uhi = to_pixel(floor(u1 + hw + 1), ulo_c - 1, uhi_c);
    for (int u = ulo; u <= uhi; u++) {
        double vc = v0 + (clampd(u, u0, u1) - u0) * slope;
        int vlo = to_pixel(floor(vc - reach), vlo_c, vhi_c + 1), vhi = to_pixel(ceil(vc + reach), vlo_c - 1, vhi_c);
        for (int v = vlo; v <= vhi; v++) {
            double px = steep ? v : u, py = steep ? u : v;
            double t = len2 > 0 ? clampd(((px - x0) * dx + (py - y0) * dy) / len2, 0.0, 1.0) : 0.0;
            double ex = px - (x0 + t * dx), ey = py - (y0 + t * dy);
            plot_blend(c, (int)px, (int)py, col, (float)(hw + 0.5 - sqrt(ex * ex + ey * ey)));
        }
    }
}

static int marker_inside(int m, double dx, double dy, double r) {
    switch (m) {
    case PLOT_SQUARE: return fabs(dx) <= 0.85 * r && fabs(dy) <= 0.85 * r;
    case PLOT_TRIANGLE: return dy <= 0.8 * r && fabs(dx) <= 1.1 * r * (dy + 1.1 * r) / (1.9 * r);
    case PLOT_DIAMOND: return fabs(dx) + fabs(dy) <= 1.25 * r;
    default: return dx * dx + dy * dy <= r * r;
    }
}

void plot_marker(PlotCanvas *c, double x, double y, double r, PlotMarker m, PlotRGB col) {
    if (!isfinite(x) || !isfinite(y) || !(r > 0) || r > MAX_SIDE) return;
    int xa = to_pixel(floor(x - 1.3 * r - 1), c->clip_x0, c->clip_x1 + 1);
    int xb = to_pixel(ceil(x + 1.3 * r + 1), c->clip_x0 - 1, c->clip_x1);
    int ya = to_pixel(floor(y - 1.3 * r - 1), c->clip_y0, c->clip_y1 + 1);
    int yb = to_pixel(ceil(y + 1.3 * r + 1), c->clip_y0 - 1, c->clip_y1);
    for (int py = ya; py <= yb; py++)
        for (int px = xa; px <= xb; px++) {
            int hits = 0;
            for (int sy = 0; sy < 4; sy++)
                for (int sx = 0; sx < 4; sx++)
                    hits += marker_inside((int)m, px + (sx - 1.5) * 0.25 - x, py + (sy - 1.5) * 0.25 - y, r);
            plot_blend(c, px, py, col, hits / 16.f);
        }
}

// ---- text ---------------------------------------------------------------------------------------
// One glyph per character 32..126: 8 rows, the top row in the most significant byte; in a row,
// bit 4 is the leftmost of the 5 columns. Drawn for this project (rows 0..6 capitals, 7 descenders).
static const uint64_t FONT[95] = {
    0x0000000000000000, 0x0404040404000400, 0x0A0A0A0000000000, 0x0A0A1F0A1F0A0A00, // ' ' '!' '"' '#'
    0x040F140E051E0400, 0x1819020408130300, 0x0C12140815120D00, 0x0404080000000000, // '$' '%' '&' "'"
    0x0204080808040200, 0x0804020202040800, 0x0004150E15040000, 0x0004041F04040000, // '(' ')' '*' '+'
    0x00000000000C0408, 0x0000001F00000000, 0x00000000000C0C00, 0x0101020408101000, // ',' '-' '.' '/'
    0x0E11131519110E00, 0x040C040404040E00, 0x0E11010204081F00, 0x1F02040201110E00, // '0' '1' '2' '3'
    0x02060A121F020200, 0x1F101E0101110E00, 0x0608101E11110E00, 0x1F01020408080800, // '4' '5' '6' '7'
    0x0E11110E11110E00, 0x0E11110F01020C00, 0x000C0C000C0C0000, 0x000C0C000C040800, // '8' '9' ':' ';'
    0x0204081008040200, 0x00001F001F000000, 0x0804020102040800, 0x0E11010204000400, // '<' '=' '>' '?'
    0x0E11171517100E00, 0x0E11111F11111100, 0x1E11111E11111E00, 0x0E11101010110E00, // '@' 'A' 'B' 'C'
    0x1C12111111121C00, 0x1F10101E10101F00, 0x1F10101E10101000, 0x0E11101711110F00, // 'D' 'E' 'F' 'G'
    0x1111111F11111100, 0x0E04040404040E00, 0x0702020202120C00, 0x1112141814121100, // 'H' 'I' 'J' 'K'
    0x1010101010101F00, 0x111B151511111100, 0x1111191513111100, 0x0E11111111110E00, // 'L' 'M' 'N' 'O'
    0x1E11111E10101000, 0x0E11111115120D00, 0x1E11111E14121100, 0x0F10100E01011E00, // 'P' 'Q' 'R' 'S'
    0x1F04040404040400, 0x1111111111110E00, 0x11111111110A0400, 0x1111111515150A00, // 'T' 'U' 'V' 'W'
    0x11110A040A111100, 0x11110A0404040400, 0x1F01020408101F00, 0x0E08080808080E00, // 'X' 'Y' 'Z' '['
    0x1010080402010100, 0x0E02020202020E00, 0x040A110000000000, 0x000000000000001F, // '\\' ']' '^' '_'
    0x0804020000000000, 0x00000E010F110F00, 0x1010161911111E00, 0x00000E1010110E00, // '`' 'a' 'b' 'c'
    0x01010D1311110F00, 0x00000E111F100E00, 0x0609081C08080800, 0x00000F11110F010E, // 'd' 'e' 'f' 'g'
    0x1010161911111100, 0x04000C0404040E00, 0x020006020202120C, 0x1010121418141200, // 'h' 'i' 'j' 'k'
    0x0C04040404040E00, 0x00001A1515151500, 0x0000161911111100, 0x00000E1111110E00, // 'l' 'm' 'n' 'o'
    0x00001E11111E1010, 0x00000F11110F0101, 0x0000161910101000, 0x00000F100E011E00, // 'p' 'q' 'r' 's'
    0x08081C0808090600, 0x0000111111130D00, 0x00001111110A0400, 0x0000111115150A00, // 't' 'u' 'v' 'w'
    0x0000110A040A1100, 0x00001111110F010E, 0x00001F0204081F00, 0x0304040804040300, // 'x' 'y' 'z' '{'
    0x0404040404040400, 0x1804040204041800, 0x0000081502000000,                    // '|' '}' '~'
};

static void text_draw(PlotCanvas *c, int x, int y, const char *s, int scale, PlotRGB col, int up) {
    if (scale < 1) scale = 1;
    for (size_t i = 0; s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];
        uint64_t g = FONT[(ch < 32 || ch > 126 ? '?' : ch) - 32];
        for (int row = 0; row < PLOT_GLYPH_H; row++) {
            unsigned bits = (unsigned)(g >> (8 * (PLOT_GLYPH_H - 1 - row))) & 0x1Fu;
            for (int col_i = 0; col_i < PLOT_GLYPH_W; col_i++) {
                if (!(bits & (0x10u >> col_i))) continue;
                long gx = ((long)i * (PLOT_GLYPH_W + 1) + col_i) * scale, gy = (long)row * scale; // offsets in the text
                if (gx > 2L * MAX_SIDE) return;
                for (int a = 0; a < scale; a++)
                    for (int b = 0; b < scale; b++)
                        if (up) plot_blend(c, x + (int)gy + b, y - (int)gx - a, col, 1.f);
                        else plot_blend(c, x + (int)gx + a, y + (int)gy + b, col, 1.f);
            }
        }
    }
}

int plot_text_width(const char *s, int scale) {
    size_t n = strlen(s);
    if (scale < 1) scale = 1;
    if (n > 100000) n = 100000;
    return n ? (int)n * (PLOT_GLYPH_W + 1) * scale - scale : 0;
}

void plot_text(PlotCanvas *c, int x, int y, const char *s, int scale, PlotRGB col) {
    text_draw(c, x, y, s, scale, col, 0);
}

void plot_text_up(PlotCanvas *c, int x, int y, const char *s, int scale, PlotRGB col) {
    text_draw(c, x, y, s, scale, col, 1);
}

// ---- ticks --------------------------------------------------------------------------------------

// k * m * 10^e, dividing for negative e so that 3 * 0.1 prints as 0.3
static double tick_value(double k, int m, int e) { return e < 0 ? k * m / pow(10.0, -e) : k * m * pow(10.0, e); }

void plot_nice_ticks(double lo, double hi, int max_intervals, int loose, PlotTicks *t) {
    static const int MANT[3] = {1, 2, 5};
    if (!isfinite(lo) || !isfinite(hi)) lo = 0, hi = 1;
    if (lo > hi) { double s = lo; lo = hi; hi = s; }
    max_intervals = clampi(max_intervals, 1, PLOT_MAX_TICKS - 1);
    double mag = fmax(fabs(lo), fabs(hi));
    if (!(hi - lo > mag * 1e-12)) { // a constant: widen around it
        double d = mag > 0 ? 0.1 * mag : 1.0;
        lo -= d, hi += d;
    }
    if (!isfinite(hi - lo)) lo *= 0.5, hi *= 0.5;
    int e = (int)floor(log10((hi - lo) / max_intervals)) - 1, m = 1;
    double klo = 0, khi = 1;
    for (int tries = 0; tries < 60; tries++) {
        m = MANT[tries % 3];
        double s = tick_value(1, m, e + tries / 3);
        klo = loose ? floor(lo / s + 1e-9) : ceil(lo / s - 1e-9);
        khi = loose ? ceil(hi / s - 1e-9) : floor(hi / s + 1e-9);
        if (khi - klo <= max_intervals) { e += tries / 3; break; }
    }
    t->step = tick_value(1, m, e);
    t->lo = loose ? tick_value(klo, m, e) : lo;
    t->hi = loose ? tick_value(khi, m, e) : hi;
    t->n = 0;
    for (double k = klo; k <= khi && t->n < PLOT_MAX_TICKS; k++) t->v[t->n++] = tick_value(k, m, e);
    t->decimals = e < 0 ? -e : 0;
}

void plot_tick_label(const PlotTicks *t, double v, char *buf, size_t n) {
    if (fabs(v) < t->step * 1e-6) v = 0; // no "-0"
    double mag = fmax(fabs(t->lo), fabs(t->hi));
    if (mag >= 1e6 || t->decimals > 5) {
        int digits = (int)(floor(log10(mag)) - floor(log10(t->step))) + 1;
        snprintf(buf, n, "%.*g", clampi(digits, 1, 15), v);
    } else {
        snprintf(buf, n, "%.*f", t->decimals, v);
    }
}

// the exponents of {1}, {1, 2, 5} or {1, ..., 9} times the powers of ten within [lo, hi]
static void log_fill(PlotTicks *t, double lo, double hi, int set) {
    static const int SETS[3][9] = {{1}, {1, 2, 5}, {1, 2, 3, 4, 5, 6, 7, 8, 9}};
    static const int SET_N[3] = {1, 3, 9};
    t->n = 0;
    for (int k = (int)floor(lo); k <= (int)ceil(hi); k++)
        for (int j = 0; j < SET_N[set]; j++) {
            double v = k + log10(SETS[set][j]);
            if (v >= lo - 1e-9 && v <= hi + 1e-9 && t->n < PLOT_MAX_TICKS) t->v[t->n++] = v;
        }
}

// Ticks of a log10 axis (lo, hi are exponents). Loose ranges widen to 1, 2 or 5 times a power of
// ten. Ticks are the decades, or 1-2-5 / 1..9 times them when fewer than three decades fall inside,
// or every 2nd/5th/... decade when there are too many.
static void log_ticks(double lo, double hi, int max_intervals, int loose, PlotTicks *t) {
    if (loose) {
        double k = floor(lo + 1e-9), fr = lo - k, l2 = log10(2.0), l5 = log10(5.0);
        lo = k + (fr >= l5 - 1e-9 ? l5 : fr >= l2 - 1e-9 ? l2 : 0.0);
        k = floor(hi - 1e-9), fr = hi - k;
        hi = fr <= 1e-9 ? k : fr <= l2 + 1e-9 ? k + l2 : fr <= l5 + 1e-9 ? k + l5 : k + 1;
        if (hi <= lo) hi = lo + 1;
    }
    if (hi - lo > max_intervals) {
        plot_nice_ticks(lo, hi, max_intervals, loose, t);
        if (t->step >= 1) return;
    }
    t->lo = lo, t->hi = hi, t->step = 1, t->decimals = 0;
    int fallback = -1;
    for (int set = 0; set < 3; set++) {
        log_fill(t, lo, hi, set);
        if (t->n >= 3 && t->n <= max_intervals + 1) return;
        if (t->n >= 2 && fallback < 0) fallback = set;
    }
    log_fill(t, lo, hi, fallback >= 0 ? fallback : 2);
}

static void log_label(double v, char *buf, size_t n) {
    double p = pow(10.0, v);
    if (fabs(v) <= 4.5) snprintf(buf, n, "%.4g", p);
    else snprintf(buf, n, "%.0e", p);
}

// ---- figure -------------------------------------------------------------------------------------

PlotSpec plot_spec_default(int width, int height) {
    PlotSpec s = {width, height, NULL, NULL, NULL, 0, 1, NAN, NAN, NAN, NAN, 0, 0.0};
    return s;
}

double plot_frame_px(const PlotFrame *f, double x) {
    return f->x0 + (x - f->xlo) / (f->xhi - f->xlo) * (f->x1 - f->x0);
}

double plot_frame_py(const PlotFrame *f, double y) {
    if (f->logy) y = y > 0 ? log10(y) : NAN;
    return f->y1 - (y - f->ylo) / (f->yhi - f->ylo) * (f->y1 - f->y0);
}

static int has_text(const char *s) { return s && *s; }
static int series_style(const PlotSeries *s) { return s->style ? s->style : PLOT_STYLE_LINE; }
static PlotRGB series_color(const PlotSeries *s, int i) { return plot_color(s->color >= 0 ? s->color : i); }
static PlotMarker series_marker(const PlotSeries *s, int i) {
    return (PlotMarker)((s->marker >= 0 ? s->marker : i) % PLOT_N_MARKERS);
}
static double err_at(const double *e, int i) { return e && isfinite(e[i]) && e[i] > 0 ? e[i] : 0.0; }

typedef struct {
    int x0, y0, x1, y1;
} Box;
static int box_overlap(Box a, Box b) { return a.x0 <= b.x1 && b.x0 <= a.x1 && a.y0 <= b.y1 && b.y0 <= a.y1; }
static int box_inside(Box a, Box b) { return a.x0 >= b.x0 && a.x1 <= b.x1 && a.y0 >= b.y0 && a.y1 <= b.y1; }
static int in_box(double x, double y, const Box *b, double margin) { // NaN: no
    return x >= b->x0 - margin && x <= b->x1 + margin && y >= b->y0 - margin && y <= b->y1 + margin;
}

// the data range over all finite points, error bars included (y as log10 when logy)
static void data_range(const PlotSeries *series, int ns, int logy, double r[4], int *markers) {
    r[0] = r[2] = INFINITY, r[1] = r[3] = -INFINITY;
    *markers = 0;
    for (int k = 0; k < ns; k++) {
        const PlotSeries *s = &series[k];
        if (series_style(s) & PLOT_STYLE_MARKERS) *markers = 1;
        for (int i = 0; i < s->n; i++) {
            double x = s->x[i], y = s->y[i], ex = err_at(s->xerr, i), ey = err_at(s->yerr, i);
            double ya = y - ey, yb = y + ey;
            if (logy) ya = ya > 0 ? log10(ya) : log10(y), yb = log10(yb), y = y > 0 ? log10(y) : NAN;
            if (!isfinite(x) || !isfinite(y)) continue;
            r[0] = fmin(r[0], x - ex), r[1] = fmax(r[1], x + ex);
            r[2] = fmin(r[2], ya), r[3] = fmax(r[3], yb);
        }
    }
    if (!(r[0] <= r[1])) r[0] = 0, r[1] = 1;
    if (!(r[2] <= r[3])) r[2] = 0, r[3] = 1;
}

static void draw_series(PlotCanvas *c, const PlotFrame *f, const PlotSeries *s, int k, double lw, double mr) {
    PlotRGB col = series_color(s, k);
    int style = series_style(s);
    double ew = fmax(1.0, 0.6 * lw), cap = 1.5 * mr;
    for (int i = 0; i < s->n; i++) { // error bars under everything else
        double px = plot_frame_px(f, s->x[i]), py = plot_frame_py(f, s->y[i]);
        double ex = err_at(s->xerr, i), ey = err_at(s->yerr, i);
        if (!isfinite(px) || !isfinite(py)) continue;
        if (ey > 0) {
            double ya = plot_frame_py(f, s->y[i] - ey), yb = plot_frame_py(f, s->y[i] + ey);
            if (!isfinite(ya)) ya = f->y1 + 2 * lw; // log axis: the bar runs off the bottom
            plot_line(c, px, ya, px, yb, ew, col);
            plot_line(c, px - cap, ya, px + cap, ya, ew, col);
            plot_line(c, px - cap, yb, px + cap, yb, ew, col);
        }
        if (ex > 0) {
            double xa = plot_frame_px(f, s->x[i] - ex), xb = plot_frame_px(f, s->x[i] + ex);
            plot_line(c, xa, py, xb, py, ew, col);
            plot_line(c, xa, py - cap, xa, py + cap, ew, col);
            plot_line(c, xb, py - cap, xb, py + cap, ew, col);
        }
    }
    if (style & PLOT_STYLE_LINE) { // segments between neighbours that are both there
        int prev_ok = 0;
        for (int i = 0; i < s->n; i++) {
            double px = plot_frame_px(f, s->x[i]), py = plot_frame_py(f, s->y[i]), qx = NAN, qy = NAN;
            if (i + 1 < s->n) qx = plot_frame_px(f, s->x[i + 1]), qy = plot_frame_py(f, s->y[i + 1]);
            int ok = isfinite(px) && isfinite(py), next_ok = isfinite(qx) && isfinite(qy);
            if (ok && next_ok) plot_line(c, px, py, qx, qy, lw, col);
            if (ok && !prev_ok && !next_ok) plot_marker(c, px, py, lw, PLOT_CIRCLE, col); // a lone point
            prev_ok = ok;
        }
    }
    if (style & PLOT_STYLE_MARKERS)
        for (int i = 0; i < s->n; i++) {
            double px = plot_frame_px(f, s->x[i]), py = plot_frame_py(f, s->y[i]);
            plot_marker(c, px, py, mr + 1, series_marker(s, k), WHITE); // a thin halo separates overlaps
            plot_marker(c, px, py, mr, series_marker(s, k), col);
        }
}

static Box box_around(double x0, double y0, double x1, double y1) {
    return (Box){(int)lround(clampd(fmin(x0, x1), -1e6, 1e6)), (int)lround(clampd(fmin(y0, y1), -1e6, 1e6)),
                 (int)lround(clampd(fmax(x0, x1), -1e6, 1e6)), (int)lround(clampd(fmax(y0, y1), -1e6, 1e6))};
}

// Point labels: of 8 places around the marker (right, left, above, below, then the diagonals),
// the first that stays inside the frame and covers no marker, error bar or earlier label; when
// every place covers something, the one that covers least.
static void draw_point_labels(PlotCanvas *c, const PlotFrame *f, const PlotSeries *series, int ns, int ts, double mr) {
    int total = 0;
    for (int k = 0; k < ns; k++) total += series[k].n;
    Box *taken = cg_malloc(sizeof(Box) * (size_t)(4 * total + 1));
    int nt = 0, th = plot_text_height(ts), m = (int)ceil(mr) + 1;
    double cap = 1.5 * mr;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < series[k].n; i++) {
            const PlotSeries *s = &series[k];
            double px = plot_frame_px(f, s->x[i]), py = plot_frame_py(f, s->y[i]);
            double ex = err_at(s->xerr, i), ey = err_at(s->yerr, i);
            if (!isfinite(px) || !isfinite(py)) continue;
            taken[nt++] = box_around(px - m, py - m, px + m, py + m);
            double xa = plot_frame_px(f, s->x[i] - ex), xb = plot_frame_px(f, s->x[i] + ex);
            double ya = plot_frame_py(f, s->y[i] - ey), yb = plot_frame_py(f, s->y[i] + ey);
            if (ex > 0) taken[nt++] = box_around(xa, py - cap, xb, py + cap);
            if (ey > 0) taken[nt++] = box_around(px - cap, isfinite(ya) ? ya : f->y1, px + cap, yb);
        }
    Box frame = {f->x0 + 2, f->y0 + 2, f->x1 - 2, f->y1 - 2};
    for (int k = 0; k < ns; k++) {
        const PlotSeries *s = &series[k];
        if (!s->point_labels) continue;
        for (int i = 0; i < s->n; i++) {
            double fx = plot_frame_px(f, s->x[i]), fy = plot_frame_py(f, s->y[i]);
            if (!has_text(s->point_labels[i]) || !isfinite(fx) || !isfinite(fy)) continue;
            int px = (int)lround(clampd(fx, -1e6, 1e6)), py = (int)lround(clampd(fy, -1e6, 1e6));
            int w = plot_text_width(s->point_labels[i], ts), g = m + 2 * ts, d = (int)ceil(cap) + 2 * ts;
            int xr = px + g, xl = px - g - w, xc = px - w / 2, yc = py - (7 * ts) / 2, ya = py - g - th, yb = py + g;
            int xs[8] = {xr, xl, xc, xc, xr, xr, xl, xl}; // diagonals clear the caps of error bars
            int ys[8] = {yc, yc, ya, yb, py - d - th, py + d, py - d - th, py + d};
            int pick = 0, best = -1;
            for (int j = 0; j < 8 && best != 0; j++) {
                Box b = {xs[j], ys[j], xs[j] + w, ys[j] + th};
                int cost = box_inside(b, frame) ? 0 : 1000;
                for (int q = 0; q < nt; q++) cost += box_overlap(b, taken[q]);
                if (best < 0 || cost < best) best = cost, pick = j;
            }
            plot_text(c, xs[pick], ys[pick], s->point_labels[i], ts, INK);
            taken[nt++] = (Box){xs[pick], ys[pick], xs[pick] + w, ys[pick] + th};
        }
    }
    free(taken);
}

static void draw_legend(PlotCanvas *c, const PlotFrame *f, const PlotSeries *series, int ns, int ts, double lw,
                        double mr) {
    int n = 0, wmax = 0;
    for (int k = 0; k < ns; k++)
        if (has_text(series[k].label)) n++, wmax = imax(wmax, plot_text_width(series[k].label, ts));
    if (n == 0) return;
    int rowh = plot_text_height(ts) + 4 * ts, sample = 20 * ts, in = 6 * ts;
    int bw = sample + wmax + 10 * ts, bh = n * rowh + 4 * ts;
    Box corners[4] = {{f->x1 - in - bw, f->y0 + in, f->x1 - in, f->y0 + in + bh},
                      {f->x0 + in, f->y0 + in, f->x0 + in + bw, f->y0 + in + bh},
                      {f->x1 - in - bw, f->y1 - in - bh, f->x1 - in, f->y1 - in},
                      {f->x0 + in, f->y1 - in - bh, f->x0 + in + bw, f->y1 - in}};
    long best_hits = -1;
    Box b = corners[0];
    double margin = mr + 2;
    for (int j = 0; j < 4; j++) { // the corner that hides the fewest data points (8 samples a segment)
        long hits = 0;
        for (int k = 0; k < ns; k++)
            for (int i = 0; i < series[k].n; i++) {
                const PlotSeries *s = &series[k];
                double ax = plot_frame_px(f, s->x[i]), ay = plot_frame_py(f, s->y[i]);
                double bx = ax, by = ay, ey = err_at(s->yerr, i), ex = err_at(s->xerr, i);
                double ends[4][2] = {{ax, plot_frame_py(f, s->y[i] + ey)}, {ax, plot_frame_py(f, s->y[i] - ey)},
                                     {plot_frame_px(f, s->x[i] - ex), ay}, {plot_frame_px(f, s->x[i] + ex), ay}};
                for (int q = 0; q < 4 && (ex > 0 || ey > 0); q++) // the ends of error bars
                    hits += in_box(ends[q][0], ends[q][1], &corners[j], margin);
                if (i + 1 < s->n && (series_style(s) & PLOT_STYLE_LINE))
                    bx = plot_frame_px(f, s->x[i + 1]), by = plot_frame_py(f, s->y[i + 1]);
                if (!isfinite(bx) || !isfinite(by)) bx = ax, by = ay;
                for (int q = 0; q < 8 && isfinite(ax) && isfinite(ay); q++) {
                    double x = ax + (bx - ax) * q / 8.0, y = ay + (by - ay) * q / 8.0;
                    hits += in_box(x, y, &corners[j], margin);
                }
            }
        if (best_hits < 0 || hits < best_hits) best_hits = hits, b = corners[j];
    }
    plot_fill_rect(c, b.x0, b.y0, b.x1, b.y1, WHITE);
    plot_stroke_rect(c, b.x0, b.y0, b.x1, b.y1, LEGEND_EDGE);
    int row = 0;
    for (int k = 0; k < ns; k++) {
        const PlotSeries *s = &series[k];
        if (!has_text(s->label)) continue;
        int ty = b.y0 + 2 * ts + row * rowh + 2 * ts, cy = ty + (7 * ts) / 2;
        double sx0 = b.x0 + 4 * ts, sx1 = sx0 + sample - 4 * ts;
        PlotRGB col = series_color(s, k);
        if (series_style(s) & PLOT_STYLE_LINE) plot_line(c, sx0, cy, sx1, cy, lw, col);
        if (series_style(s) & PLOT_STYLE_MARKERS) plot_marker(c, 0.5 * (sx0 + sx1), cy, mr, series_marker(s, k), col);
        plot_text(c, b.x0 + sample + 4 * ts, ty, s->label, ts, INK);
        row++;
    }
}

static void label_of(const PlotTicks *t, int logy, double v, char *buf, size_t n) {
    if (logy) log_label(v, buf, n);
    else plot_tick_label(t, v, buf, n);
}

// s, or its start and "..", in at most max_w pixels at this scale
static void fit_text(char *out, size_t n, const char *s, int max_w, int scale) {
    size_t fit = (size_t)((max_w + scale) / ((PLOT_GLYPH_W + 1) * scale)), len = strlen(s);
    if (fit > n - 1) fit = n - 1;
    if (len <= fit) {
        memcpy(out, s, len + 1);
        return;
    }
    size_t keep = fit >= 2 ? fit - 2 : 0;
    memcpy(out, s, keep);
    memcpy(out + keep, "..", fit - keep);
    out[fit] = '\0';
}

static int max_label_width(const PlotTicks *t, int logy, int ts) {
    int w = 0;
    char buf[64];
    for (int i = 0; i < t->n; i++) {
        label_of(t, logy, t->v[i], buf, sizeof(buf));
        w = imax(w, plot_text_width(buf, ts));
    }
    return w;
}

int plot_render(PlotCanvas *c, const PlotSpec *sp, const PlotSeries *series, int ns, PlotFrame *frame_out,
                char *err, size_t errlen) {
    if (sp->width < 64 || sp->height < 64 || sp->width > MAX_SIDE || sp->height > MAX_SIDE)
        return cg_errf(err, errlen, "bad plot size %dx%d (64 to %d pixels a side)", sp->width, sp->height, MAX_SIDE);
    if (plot_canvas_init(c, sp->width, sp->height, WHITE, err, errlen)) return -1;
    int W = sp->width, H = sp->height, logy = sp->logy;
    int ts = sp->text_scale > 0 ? sp->text_scale : clampi((W < H ? W : H) / 400, 1, 8);
    int tts = ts + 1, th = plot_text_height(ts), pad = 8 * ts, tick = 4 * ts, gap = 4 * ts;
    double lw = sp->line_width > 0 ? sp->line_width : 1.6 * ts, mr = 4.0 * ts;

    // ranges: fixed where given, else the data's widened to ticks (and by a marker's size, below)
    double r[4];
    int markers;
    data_range(series, ns, logy, r, &markers);
    double fix[4] = {sp->xmin, sp->xmax, sp->ymin, sp->ymax};
    if (logy) fix[2] = fix[2] > 0 ? log10(fix[2]) : NAN, fix[3] = fix[3] > 0 ? log10(fix[3]) : NAN;
    int loose[2];
    for (int a = 0; a < 2; a++) {
        loose[a] = !(isfinite(fix[2 * a]) && isfinite(fix[2 * a + 1]) && fix[2 * a + 1] > fix[2 * a]);
        if (!loose[a]) r[2 * a] = fix[2 * a], r[2 * a + 1] = fix[2 * a + 1];
    }

    // layout: title, then the frame; below it tick labels and the x title; left of it the y title
    // and tick labels. The y ticks are chosen from the height, the x ticks so that labels fit.
    int top = pad + (has_text(sp->title) ? plot_text_height(tts) + 2 * gap : th / 2);
    int bottom = pad + tick + gap + th + (has_text(sp->xlabel) ? 2 * gap + th : 0);
    int ph = H - top - bottom;
    PlotTicks yt, xt;
    int ymax = clampi(ph / (5 * th), 2, 10);
    if (logy) log_ticks(r[2], r[3], ymax, loose[1], &yt);
    else plot_nice_ticks(r[2], r[3], ymax, loose[1], &yt);
    int left = pad + (has_text(sp->ylabel) ? th + 2 * gap : 0) + max_label_width(&yt, logy, ts) + gap + tick;
    int pw = W - left - pad - 3 * 6 * ts, xlw = 0;
    for (int xmax = 10; xmax >= 1; xmax--) {
        plot_nice_ticks(r[0], r[1], xmax, loose[0], &xt);
        xlw = max_label_width(&xt, 0, ts);
        if ((xt.n - 1) * (xlw + 4 * 6 * ts) <= pw) break;
    }
    PlotFrame f = {left, top, W - 1 - (pad + xlw / 2), H - 1 - bottom, xt.lo, xt.hi, yt.lo, yt.hi, logy};
    if (f.x1 - f.x0 < 8 || f.y1 - f.y0 < 8) { // tiny canvas: give the frame whatever is left
        f.x0 = clampi(f.x0, 0, W / 2 - 4), f.x1 = W - 1;
        f.y0 = clampi(f.y0, 0, H / 2 - 4), f.y1 = H - 1;
    }
    if (markers) { // keep markers off the frame: automatic ranges grow by a marker and a bit
        double mx = (mr + 2 * ts) / fmax(1.0, f.x1 - f.x0 - 2 * (mr + 2 * ts)) * (f.xhi - f.xlo);
        double my = (mr + 2 * ts) / fmax(1.0, f.y1 - f.y0 - 2 * (mr + 2 * ts)) * (f.yhi - f.ylo);
        if (loose[0]) f.xlo -= mx, f.xhi += mx;
        if (loose[1]) f.ylo -= my, f.yhi += my;
    }
    if (frame_out) *frame_out = f;

    // grid, data, frame, ticks with labels
    char buf[64];
    if (logy && yt.step == 1 && yt.hi - yt.lo <= 8)
        for (int k = (int)floor(yt.lo); k < (int)ceil(yt.hi); k++)
            for (int m = 2; m <= 9; m++) {
                double y = f.y1 - (k + log10(m) - f.ylo) / (f.yhi - f.ylo) * (f.y1 - f.y0);
                if (y > f.y0 && y < f.y1) plot_fill_rect(c, f.x0, (int)lround(y), f.x1, (int)lround(y), GRID_MINOR);
            }
    for (int i = 0; i < xt.n; i++) {
        int x = (int)lround(plot_frame_px(&f, xt.v[i]));
        plot_fill_rect(c, x, f.y0, x, f.y1, GRID);
        plot_fill_rect(c, x, f.y1, x, f.y1 + tick, AXIS);
        plot_tick_label(&xt, xt.v[i], buf, sizeof(buf));
        plot_text(c, x - plot_text_width(buf, ts) / 2, f.y1 + tick + gap, buf, ts, INK);
    }
    for (int i = 0; i < yt.n; i++) {
        int y = (int)lround(f.y1 - (yt.v[i] - f.ylo) / (f.yhi - f.ylo) * (f.y1 - f.y0));
        plot_fill_rect(c, f.x0, y, f.x1, y, GRID);
        plot_fill_rect(c, f.x0 - tick, y, f.x0, y, AXIS);
        label_of(&yt, logy, yt.v[i], buf, sizeof(buf));
        plot_text(c, f.x0 - tick - gap - plot_text_width(buf, ts), y - (7 * ts) / 2, buf, ts, INK);
    }
    plot_canvas_clip(c, f.x0, f.y0, f.x1, f.y1);
    for (int k = 0; k < ns; k++) draw_series(c, &f, &series[k], k, lw, mr);
    plot_canvas_clip(c, 0, 0, W - 1, H - 1);
    plot_stroke_rect(c, f.x0, f.y0, f.x1, f.y1, AXIS);
    draw_point_labels(c, &f, series, ns, ts, mr);
    if (sp->legend) draw_legend(c, &f, series, ns, ts, lw, mr);

    // titles, centred on the frame, shortened with ".." where they would not fit
    char text[256];
    if (has_text(sp->title)) {
        int s = plot_text_width(sp->title, tts) <= W - 2 * pad ? tts : ts;
        fit_text(text, sizeof(text), sp->title, W - 2 * pad, s);
        int x = clampi((f.x0 + f.x1) / 2 - plot_text_width(text, s) / 2, pad, W - pad - plot_text_width(text, s));
        plot_text(c, x, pad + (plot_text_height(tts) - plot_text_height(s)) / 2, text, s, INK);
    }
    if (has_text(sp->xlabel)) {
        fit_text(text, sizeof(text), sp->xlabel, W - 2 * pad, ts);
        int x = clampi((f.x0 + f.x1) / 2 - plot_text_width(text, ts) / 2, pad, W - pad - plot_text_width(text, ts));
        plot_text(c, x, H - pad - th, text, ts, INK);
    }
    if (has_text(sp->ylabel)) {
        fit_text(text, sizeof(text), sp->ylabel, H - 2 * pad, ts);
        int y = clampi((f.y0 + f.y1) / 2 + plot_text_width(text, ts) / 2, pad + plot_text_width(text, ts), H - pad);
        plot_text_up(c, pad, y, text, ts, INK);
    }
    return 0;
}

int plot_write_png(const char *path, const PlotSpec *spec, const PlotSeries *series, int n_series, char *err,
                   size_t errlen) {
    PlotCanvas c;
    if (plot_render(&c, spec, series, n_series, NULL, err, errlen)) return -1;
    int rc = cg_png_write_rgb8(path, c.rgb, c.w, c.h, err, errlen);
    plot_canvas_free(&c);
    return rc;
}
