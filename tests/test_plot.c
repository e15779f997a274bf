// test_plot.c: the plot canvas (anti-aliased lines, markers, the bitmap font), 1-2-5 ticks, NaN
// gaps and auto ranges of the plot layer, the PNG output, and the JSONL column reader.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "eval/plot.h"
#include "io/jsonl.h"
#include "io/png.h"
#include "scratch.h"
#include "test.h"

static char dir[256];
static const PlotRGB WHITE = {255, 255, 255}, BLACK = {0, 0, 0};

static const char *tmp_path(const char *name) {
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

static const unsigned char *px(const PlotCanvas *c, int x, int y) { return c->rgb + ((size_t)y * c->w + x) * 3; }
static int is_white(const PlotCanvas *c, int x, int y) {
    const unsigned char *p = px(c, x, y);
    return p[0] == 255 && p[1] == 255 && p[2] == 255;
}
// the ink of a black drawing on white at (x, y), 0 (none) .. 1 (full)
static double ink(const PlotCanvas *c, int x, int y) { return (255 - px(c, x, y)[0]) / 255.0; }

static void test_line_covers_the_diagonal(void) {
    PlotCanvas c;
    char err[128];
    EXPECT(plot_canvas_init(&c, 10, 10, WHITE, err, sizeof(err)) == 0, "%s", err);
    plot_line(&c, 0, 0, 9, 9, 1.0, BLACK);
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 10; x++) {
            if (x == y) EXPECT(ink(&c, x, y) == 1.0, "diagonal pixel (%d,%d) has ink %g", x, y, ink(&c, x, y));
            if (abs(x - y) >= 2) EXPECT(is_white(&c, x, y), "pixel (%d,%d) off the line is not white", x, y);
        }
    // a neighbour's centre is 1/sqrt(2) from the line: coverage 1/2 + 1/2 - 0.7071 = 0.2929,
    // blended 255 * (1 - 0.2929) = 180.3 -> 180
    EXPECT(abs((int)px(&c, 4, 5)[0] - 180) <= 1, "anti-aliased neighbour %d, expected 180", px(&c, 4, 5)[0]);
    plot_canvas_free(&c);

    // width 3, horizontal: rows 4..6 fully covered between the ends, round caps reach 1.5 further
    plot_canvas_init(&c, 10, 10, WHITE, err, sizeof(err));
    plot_line(&c, 2, 5, 7, 5, 3.0, BLACK);
    for (int x = 2; x <= 7; x++)
        for (int y = 4; y <= 6; y++) EXPECT(ink(&c, x, y) == 1.0, "(%d,%d) ink %g", x, y, ink(&c, x, y));
    for (int x = 0; x < 10; x++) EXPECT(is_white(&c, x, 2) && is_white(&c, x, 8), "rows 2 and 8 must stay white");
    EXPECT(ink(&c, 1, 5) == 1.0 && is_white(&c, 0, 5) && is_white(&c, 9, 5), "caps end 1.5 past the ends");
    // non-finite coordinates draw nothing; huge ones are clipped, not walked
    unsigned char before[300];
    memcpy(before, c.rgb, 300);
    plot_line(&c, NAN, 1, 5, 1, 1.0, BLACK);
    plot_line(&c, 0, 1, INFINITY, 1, 1.0, BLACK);
    EXPECT(memcmp(before, c.rgb, 300) == 0, "non-finite line changed pixels");
    plot_line(&c, -1e300, 0, 1e300, 0, 1.0, BLACK);
    for (int x = 0; x < 10; x++) EXPECT(ink(&c, x, 0) == 1.0, "huge line misses (%d,0)", x);
    plot_canvas_free(&c);
}

static void test_markers_have_their_area(void) {
    // filled area (sum of coverage) against the shapes' areas for r = 6: circle pi r^2; square
    // (1.7 r)^2; triangle 1/2 * 2.2 r * 1.9 r; diamond 2 (1.25 r)^2. 4x4 supersampling can miss
    // up to 1/8 pixel along the outline: tolerance 0.15 * perimeter.
    const double r = 6, area[4] = {M_PI * r * r, 1.7 * r * 1.7 * r, 0.5 * 2.2 * r * 1.9 * r, 2 * 1.25 * r * 1.25 * r};
    const double perimeter[4] = {2 * M_PI * r, 4 * 1.7 * r, 2.2 * r + 2 * hypot(1.1 * r, 1.9 * r), 4 * sqrt(2.0) * 1.25 * r};
    for (int m = 0; m < PLOT_N_MARKERS; m++) {
        PlotCanvas c;
        char err[128];
        plot_canvas_init(&c, 31, 31, WHITE, err, sizeof(err));
        plot_marker(&c, 15, 15, r, (PlotMarker)m, BLACK);
        double sum = 0;
        for (int y = 0; y < 31; y++)
            for (int x = 0; x < 31; x++) sum += ink(&c, x, y);
        EXPECT(fabs(sum - area[m]) < 0.15 * perimeter[m], "marker %d: area %g, expected %g", m, sum, area[m]);
        EXPECT(ink(&c, 15, 15) == 1.0 && is_white(&c, 0, 0) && is_white(&c, 30, 30), "marker %d placement", m);
        plot_canvas_free(&c);
    }
}

// pixels that are not background inside [x0, x1) x [y0, y1) and outside it
static void count_ink(const PlotCanvas *c, int x0, int y0, int x1, int y1, int *in, int *out) {
    *in = *out = 0;
    for (int y = 0; y < c->h; y++)
        for (int x = 0; x < c->w; x++)
            if (!is_white(c, x, y)) (x >= x0 && x < x1 && y >= y0 && y < y1 ? (*in)++ : (*out)++);
}

static void test_text_stays_in_its_box(void) {
    PlotCanvas c;
    char err[128];
    plot_canvas_init(&c, 120, 60, WHITE, err, sizeof(err));
    const char *s = "Hg_1|~";
    int w = plot_text_width(s, 2), h = plot_text_height(2), in, out;
    EXPECT(w == 6 * 12 - 2 && h == 16, "text box %dx%d", w, h);
    plot_text(&c, 7, 9, s, 2, BLACK);
    count_ink(&c, 7, 9, 7 + w, 9 + h, &in, &out);
    EXPECT(in > 50 && out == 0, "inside %d, outside %d", in, out);
    int descender = 0, last = 0;
    for (int x = 7; x < 7 + w; x++) descender += !is_white(&c, x, 9 + h - 1), last += !is_white(&c, 7 + w - 1, 9 + x % h);
    EXPECT(descender > 0 && last > 0, "the box is tight: descender row %d, last column %d", descender, last);
    plot_canvas_free(&c);

    // turned text: [x, x + height) x (y - width, y]
    plot_canvas_init(&c, 40, 60, WHITE, err, sizeof(err));
    plot_text_up(&c, 10, 50, "Ab", 1, BLACK);
    w = plot_text_width("Ab", 1);
    count_ink(&c, 10, 50 - w + 1, 10 + plot_text_height(1), 51, &in, &out);
    EXPECT(in > 10 && out == 0, "turned text: inside %d, outside %d", in, out);
    plot_canvas_free(&c);

    // the 'H' glyph: both stems over rows 0..6, the bar on row 3, nothing on row 7
    plot_canvas_init(&c, 6, 8, WHITE, err, sizeof(err));
    plot_text(&c, 0, 0, "H", 1, BLACK);
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 6; x++) {
            int want = y < 7 && (x == 0 || x == 4 || (y == 3 && x < 5));
            EXPECT(want == !is_white(&c, x, y), "'H' pixel (%d,%d)", x, y);
        }
    plot_canvas_free(&c);

    // every printable character has a glyph, the space none, non-ASCII draws as '?'
    for (int ch = 32; ch < 128; ch++) {
        char one[2] = {(char)(ch == 127 ? 0x80 : ch), 0};
        plot_canvas_init(&c, 6, 8, WHITE, err, sizeof(err));
        plot_text(&c, 0, 0, one, 1, BLACK);
        count_ink(&c, 0, 0, 5, 8, &in, &out);
        EXPECT(out == 0 && (ch == ' ' ? in == 0 : in > 0), "glyph %d: inside %d, outside %d", ch, in, out);
        if (ch == 127) {
            PlotCanvas q;
            plot_canvas_init(&q, 6, 8, WHITE, err, sizeof(err));
            plot_text(&q, 0, 0, "?", 1, BLACK);
            EXPECT(memcmp(q.rgb, c.rgb, 6 * 8 * 3) == 0, "a non-ASCII byte is not drawn as '?'");
            plot_canvas_free(&q);
        }
        plot_canvas_free(&c);
    }
    EXPECT(plot_text_width("", 3) == 0, "empty text has width 0");
}

static int is_125(double step) { // 1, 2 or 5 times a power of ten
    double m = step / pow(10.0, floor(log10(step) + 1e-9));
    return fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9;
}

static void test_nice_ticks(void) {
    PlotTicks t;
    char buf[32];
    plot_nice_ticks(0, 1, 8, 1, &t);
    EXPECT(t.n == 6 && t.step == 0.2 && t.lo == 0 && t.hi == 1, "[0,1]: n %d step %g [%g, %g]", t.n, t.step, t.lo, t.hi);
    for (int i = 0; i < t.n && i < 6; i++) EXPECT_NEAR(t.v[i], 0.2 * i, 1e-15);
    plot_tick_label(&t, t.v[3], buf, sizeof(buf));
    EXPECT(strcmp(buf, "0.6") == 0, "label '%s'", buf);

    plot_nice_ticks(0.37, 0.81, 8, 1, &t);
    EXPECT(t.n == 7 && fabs(t.step - 0.1) < 1e-15, "[0.37,0.81]: n %d step %g", t.n, t.step);
    EXPECT_NEAR(t.lo, 0.3, 1e-15);
    EXPECT_NEAR(t.hi, 0.9, 1e-15);
    plot_tick_label(&t, t.v[1], buf, sizeof(buf));
    EXPECT(strcmp(buf, "0.4") == 0, "label '%s'", buf);
    plot_nice_ticks(0.37, 0.81, 8, 0, &t); // fixed range: kept, ticks 0.40, 0.45, ..., 0.80 inside
    EXPECT(t.lo == 0.37 && t.hi == 0.81 && t.n == 9 && fabs(t.step - 0.05) < 1e-15, "fixed: n %d step %g", t.n, t.step);
    EXPECT_NEAR(t.v[0], 0.40, 1e-15);
    plot_tick_label(&t, t.v[1], buf, sizeof(buf));
    EXPECT(strcmp(buf, "0.45") == 0, "label '%s'", buf);

    plot_nice_ticks(-3, 1200, 8, 1, &t);
    EXPECT(t.n == 8 && t.step == 200 && t.lo == -200 && t.hi == 1200, "[-3,1200]: n %d step %g [%g, %g]", t.n,
           t.step, t.lo, t.hi);
    plot_tick_label(&t, t.v[0], buf, sizeof(buf));
    EXPECT(strcmp(buf, "-200") == 0, "label '%s'", buf);

    plot_nice_ticks(5, 5, 8, 1, &t); // a constant series
    EXPECT(t.lo < 5 && t.hi > 5 && t.n >= 2 && t.step > 0 && is_125(t.step), "constant: [%g, %g] n %d", t.lo, t.hi, t.n);
    plot_nice_ticks(0, 0, 8, 1, &t);
    EXPECT(t.lo <= -1 && t.hi >= 1 && t.n >= 3, "constant 0: [%g, %g]", t.lo, t.hi);
    plot_nice_ticks(NAN, 1, 8, 1, &t);
    EXPECT(t.lo == 0 && t.hi == 1, "non-finite: [%g, %g]", t.lo, t.hi);

    plot_nice_ticks(-1, 1, 4, 1, &t); // step 0.5: the middle label is "0.0", never "-0.0"
    plot_tick_label(&t, -0.0, buf, sizeof(buf));
    EXPECT(strcmp(buf, "0.0") == 0, "label '%s'", buf);
    plot_nice_ticks(0, 3e6, 6, 1, &t);
    plot_tick_label(&t, 1.5e6, buf, sizeof(buf));
    EXPECT(strcmp(buf, "1.5e+06") == 0, "large label '%s'", buf);

    // a sweep: the step is 1-2-5, the range covers the data with at most max intervals, and the
    // next smaller 1-2-5 step would need more than max intervals
    for (int i = 0; i < 400; i++) {
        double lo = sin(i * 1.7) * pow(10.0, i % 9 - 4), hi = lo + fabs(cos(i * 0.3)) * pow(10.0, (i * 7) % 11 - 5) + 1e-7;
        int max = 2 + i % 9;
        plot_nice_ticks(lo, hi, max, 1, &t);
        double slack = 1e-9 * t.step; // the rounding allowance of plot_nice_ticks
        EXPECT(is_125(t.step) && t.lo <= lo + slack && t.hi >= hi - slack && t.n - 1 <= max, "sweep %d: [%g,%g] step %g [%g,%g] n %d",
               i, lo, hi, t.step, t.lo, t.hi, t.n);
        double mant = t.step / pow(10.0, floor(log10(t.step) + 1e-9));
        double smaller = t.step * (fabs(mant - 2) < 1e-9 ? 0.5 : fabs(mant - 5) < 1e-9 ? 0.4 : 0.5);
        EXPECT(ceil(hi / smaller - 1e-9) - floor(lo / smaller + 1e-9) > max, "sweep %d: step %g is not the smallest", i,
               t.step);
    }
}

// is the pixel near the series colour (red, 214, 39, 40)?
static int is_red(const PlotCanvas *c, double x, double y) {
    const unsigned char *p = px(c, (int)lround(x), (int)lround(y));
    return p[0] > 150 && p[1] < 120 && p[2] < 120;
}

static void test_nan_breaks_the_line(void) {
    const double x[5] = {0, 1, 2, 3, 4}, y[5] = {0, 0, NAN, 0, 0}, lx[1] = {5}, ly[1] = {0.5};
    PlotSeries s[2] = {{"line", x, y, NULL, NULL, NULL, 5, PLOT_STYLE_LINE, 3, -1},
                       {"lone", lx, ly, NULL, NULL, NULL, 1, PLOT_STYLE_LINE, 3, -1}};
    PlotSpec sp = plot_spec_default(240, 160);
    sp.xmin = -0.5, sp.xmax = 5.5, sp.ymin = -1, sp.ymax = 1, sp.line_width = 2, sp.legend = 0;
    PlotCanvas c;
    PlotFrame f;
    char err[128];
    EXPECT(plot_render(&c, &sp, s, 2, &f, err, sizeof(err)) == 0, "%s", err);
    EXPECT(f.xlo == -0.5 && f.xhi == 5.5 && f.ylo == -1 && f.yhi == 1, "fixed ranges not kept");
    double row = plot_frame_py(&f, 0);
    EXPECT(is_red(&c, plot_frame_px(&f, 0.5), row) && is_red(&c, plot_frame_px(&f, 3.5), row), "the line is missing");
    int red_in_gap = 0;
    for (double gx = plot_frame_px(&f, 1) + 3; gx <= plot_frame_px(&f, 3) - 3; gx += 1)
        red_in_gap += is_red(&c, gx, row);
    EXPECT(red_in_gap == 0, "%d red pixels across the NaN gap", red_in_gap);
    EXPECT(is_red(&c, plot_frame_px(&f, 5), plot_frame_py(&f, 0.5)), "a lone point between gaps is not drawn");
    plot_canvas_free(&c);
}

static void test_auto_ranges_and_layout(void) {
    const double x[3] = {10, 20, 30}, y[3] = {0.02, 0.5, 3.0}, e[3] = {0.01, 0.1, 1.0};
    const char *names[3] = {"a", NULL, "c"};
    PlotSeries s = {"pts", x, y, NULL, e, names, 3, PLOT_STYLE_MARKERS, -1, -1};
    PlotSpec sp = plot_spec_default(320, 240);
    sp.title = "T", sp.xlabel = "x", sp.ylabel = "y";
    PlotCanvas c;
    PlotFrame f;
    char err[128];
    EXPECT(plot_render(&c, &sp, &s, 1, &f, err, sizeof(err)) == 0, "%s", err);
    EXPECT(f.x0 > 0 && f.y0 > 0 && f.x1 < c.w - 1 && f.y1 < c.h - 1 && f.x1 - f.x0 > 150 && f.y1 - f.y0 > 100,
           "frame [%d,%d]x[%d,%d]", f.x0, f.x1, f.y0, f.y1);
    EXPECT(f.xlo < 10 && f.xhi > 30 && f.ylo <= 0.01 && f.yhi >= 4.0, "ranges [%g,%g] [%g,%g]", f.xlo,
           f.xhi, f.ylo, f.yhi);
    // markers are padded away from the frame
    EXPECT(plot_frame_px(&f, 10) - f.x0 >= 4 && f.x1 - plot_frame_px(&f, 30) >= 4, "markers touch the frame");
    int title_ink = 0;
    for (int yy = 0; yy < f.y0 - 2; yy++)
        for (int xx = 0; xx < c.w; xx++) title_ink += !is_white(&c, xx, yy);
    EXPECT(title_ink > 10, "no title drawn");
    plot_canvas_free(&c);

    sp.logy = 1; // log axis: y <= 0 left out; the range spans the positive values
    EXPECT(plot_render(&c, &sp, &s, 1, &f, err, sizeof(err)) == 0, "%s", err);
    EXPECT(f.logy && f.ylo <= log10(0.01) && f.yhi >= log10(4.0), "log range [%g, %g]", f.ylo, f.yhi);
    EXPECT(fabs(plot_frame_py(&f, 1.0) - (f.y1 - (0 - f.ylo) / (f.yhi - f.ylo) * (f.y1 - f.y0))) < 1e-9, "log map");
    EXPECT(isnan(plot_frame_py(&f, 0.0)), "y = 0 on a log axis must be missing");
    plot_canvas_free(&c);

    sp.width = 10;
    EXPECT(plot_render(&c, &sp, &s, 1, &f, err, sizeof(err)) == -1 && strstr(err, "10x240"), "bad size: '%s'", err);
}

static void test_png_output(void) {
    const double x[4] = {0, 1, 2, 3}, y[4] = {1, 3, 2, 4};
    PlotSeries s = {"s", x, y, NULL, NULL, NULL, 4, 0, -1, -1};
    PlotSpec sp = plot_spec_default(200, 150);
    char err[256];
    PlotCanvas c;
    EXPECT(plot_write_png(tmp_path("p.png"), &sp, &s, 1, err, sizeof(err)) == 0, "%s", err);
    EXPECT(plot_render(&c, &sp, &s, 1, NULL, err, sizeof(err)) == 0, "%s", err);
    unsigned char *back = NULL;
    int w = 0, h = 0;
    EXPECT(cg_png_read_rgb8(tmp_path("p.png"), &back, &w, &h, err, sizeof(err)) == 0 && w == 200 && h == 150, "%s", err);
    EXPECT(back && memcmp(back, c.rgb, (size_t)200 * 150 * 3) == 0, "the PNG differs from the canvas");
    free(back);
    plot_canvas_free(&c);
    remove(tmp_path("p.png"));
    EXPECT(plot_write_png("/nonexistent/dir/p.png", &sp, &s, 1, err, sizeof(err)) == -1 && strstr(err, "/nonexistent"),
           "unwritable: '%s'", err);
}

static const char *write_file(const char *name, const char *text) {
    const char *p = tmp_path(name);
    FILE *f = cg_fopen(p, "wb");
    cg_fwrite(text, 1, strlen(text), f);
    cg_fclose(f);
    return p;
}

static void test_jsonl_columns(void) {
    const char *p = write_file("good.jsonl",
                               "{\"step\": 0, \"loss\": 2.5, \"lr\": 1e-3}\n"
                               "\n"
                               "{\"step\": 1, \"lr\": 1e-3}\r\n"
                               "  {\"step\": 2, \"loss\": null}  \n"
                               "{\"step\": 3, \"loss\": 1.25, \"extra\": {\"a\": [1, 2]}, \"note\": \"NaN here\"}\n"
                               "{\"loss\": 9}\n"
                               "{\"step\": 5, \"loss\": NaN}\n"
                               "{\"step\": 6, \"loss\": -Infinity}");
    const char *keys[2] = {"step", "loss"};
    double *cols = NULL;
    size_t n = 0, seen[2];
    char err[256];
    EXPECT(cg_jsonl_read_columns(p, keys, 2, &cols, &n, seen, err, sizeof(err)) == 0, "%s", err);
    const double want_x[5] = {0, 2, 3, 5, 6}, want_y[5] = {2.5, NAN, 1.25, NAN, NAN};
    EXPECT(n == 5 && seen[0] == 6 && seen[1] == 6, "rows %zu, seen %zu %zu", n, seen[0], seen[1]);
    for (size_t i = 0; i < n && i < 5; i++) {
        EXPECT(cols[i] == want_x[i], "x[%zu] = %g", i, cols[i]);
        EXPECT(isnan(want_y[i]) ? isnan(cols[n + i]) : cols[n + i] == want_y[i], "y[%zu] = %g", i, cols[n + i]);
    }
    free(cols);
    const char *absent[1] = {"nope"};
    EXPECT(cg_jsonl_read_columns(p, absent, 1, &cols, &n, seen, err, sizeof(err)) == 0 && n == 0 && seen[0] == 0,
           "absent key: n %zu", n);
    free(cols);

    struct { const char *name, *text, *want; } bad[] = {
        {"bad1.jsonl", "{\"step\": 0}\n\n{\"step\": 1, \"loss\": }\n", ":3: malformed JSON"},
        {"bad2.jsonl", "{\"step\": 0}\n[1, 2]\n", ":2: not a JSON object"},
        {"bad3.jsonl", "{\"step\": 0, \"loss\": \"high\"}\n", ":1: 'loss' is not a number"},
        {"bad4.jsonl", "{\"step\": 0}\n{\"step\": 1} x\n", ":2: malformed JSON"},
        {"bad5.jsonl", "{\"step\": 0}\n{\"step\": 1, \"loss\": true}\n", ":2: 'loss' is not a number"},
    };
    for (size_t b = 0; b < sizeof(bad) / sizeof(bad[0]); b++) {
        cols = (double *)1;
        int rc = cg_jsonl_read_columns(write_file(bad[b].name, bad[b].text), keys, 2, &cols, &n, NULL, err, sizeof(err));
        EXPECT(rc == -1 && cols == NULL && strstr(err, bad[b].want) && strstr(err, bad[b].name), "%s: '%s'",
               bad[b].name, err);
        remove(tmp_path(bad[b].name));
    }
    // a NUL byte inside a line
    FILE *f = cg_fopen(tmp_path("nul.jsonl"), "wb");
    cg_fwrite("{\"step\": 1}\n{\"st\0ep\": 2}\n", 1, 24, f);
    cg_fclose(f);
    EXPECT(cg_jsonl_read_columns(tmp_path("nul.jsonl"), keys, 2, &cols, &n, NULL, err, sizeof(err)) == -1 &&
               strstr(err, ":2: contains a NUL"), "NUL: '%s'", err);
    remove(tmp_path("nul.jsonl"));
    EXPECT(cg_jsonl_read_columns(tmp_path("missing.jsonl"), keys, 2, &cols, &n, NULL, err, sizeof(err)) == -1 &&
               strstr(err, "missing.jsonl") && strstr(err, "No such file"), "missing: '%s'", err);
    remove(tmp_path("good.jsonl")); // not p: tmp_path's buffer now holds another name
}

int main(void) {
    snprintf(dir, sizeof(dir), "/tmp/cgrpo_test_plot_XXXXXX");
    scratch_dir(dir);
    RUN(test_line_covers_the_diagonal);
    RUN(test_markers_have_their_area);
    RUN(test_text_stays_in_its_box);
    RUN(test_nice_ticks);
    RUN(test_nan_breaks_the_line);
    RUN(test_auto_ranges_and_layout);
    RUN(test_png_output);
    RUN(test_jsonl_columns);
    scratch_remove(dir);
    return test_summary("plot");
}
