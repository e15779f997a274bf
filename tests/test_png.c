// test_png.c: PNG writing and reading through libpng: exact round trips, grey and RGBA and
// 16-bit inputs converted to RGB8, float quantization, and errors with reasons for bad files;
// image sheets (io/sheet.h): background, zoomed float cells in both ranges, copied blocks, sizes.
#include <png.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "core/rng.h"
#include "io/png.h"
#include "io/sheet.h"
#include "scratch.h"
#include "test.h"

static char dir[256];

static const char *tmp_path(const char *name) {
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

static void test_rgb_round_trip_is_exact(void) {
    const int W = 37, H = 23;
    unsigned char *rgb = cg_malloc((size_t)W * H * 3), *back = NULL;
    cg_rng r = cg_rng_make(5, 0);
    for (int i = 0; i < W * H * 3; i++) rgb[i] = (unsigned char)cg_rng_below(&r, 256);
    char err[256];
    const char *path = tmp_path("rt.png");
    EXPECT(cg_png_write_rgb8(path, rgb, W, H, err, sizeof(err)) == 0, "write: %s", err);
    int w = 0, h = 0;
    EXPECT(cg_png_read_rgb8(path, &back, &w, &h, err, sizeof(err)) == 0, "read: %s", err);
    EXPECT(w == W && h == H, "size %dx%d", w, h);
    EXPECT(back && memcmp(rgb, back, (size_t)W * H * 3) == 0, "pixels differ after the round trip");
    // writing the same pixels twice gives the same bytes
    unsigned char *b1 = NULL;
    FILE *f = fopen(path, "rb");
    EXPECT(f != NULL, "reopen");
    if (f) {
        fseek(f, 0, SEEK_END);
        long n1 = ftell(f);
        rewind(f);
        b1 = cg_malloc((size_t)n1);
        EXPECT(fread(b1, 1, (size_t)n1, f) == (size_t)n1, "read bytes");
        fclose(f);
        EXPECT(cg_png_write_rgb8(tmp_path("rt2.png"), rgb, W, H, err, sizeof(err)) == 0, "write 2");
        FILE *g = fopen(tmp_path("rt2.png"), "rb");
        unsigned char *b2 = cg_malloc((size_t)n1 + 1);
        size_t n2 = g ? fread(b2, 1, (size_t)n1 + 1, g) : 0;
        if (g) fclose(g);
        EXPECT(n2 == (size_t)n1 && memcmp(b1, b2, (size_t)n1) == 0, "two writes differ");
        free(b2);
    }
    free(b1);
    free(rgb);
    free(back);
}

static void test_gray_and_float_writers(void) {
    unsigned char gray[6] = {0, 1, 127, 128, 254, 255}, *back = NULL;
    char err[256];
    EXPECT(cg_png_write_gray8(tmp_path("g.png"), gray, 3, 2, err, sizeof(err)) == 0, "write gray: %s", err);
    int w, h;
    EXPECT(cg_png_read_rgb8(tmp_path("g.png"), &back, &w, &h, err, sizeof(err)) == 0 && w == 3 && h == 2, "read: %s", err);
    for (int i = 0; i < 6 && back; i++)
        EXPECT(back[3 * i] == gray[i] && back[3 * i + 1] == gray[i] && back[3 * i + 2] == gray[i], "gray %d -> %d %d %d",
               gray[i], back[3 * i], back[3 * i + 1], back[3 * i + 2]);
    free(back);
    const float img[6] = {0.f, 1.f, 0.5f, -1.f, 2.f, NAN};
    const unsigned char want[6] = {0, 255, 128, 0, 255, 0};
    EXPECT(cg_png_write_float_rgb(tmp_path("f.png"), img, 2, 1, err, sizeof(err)) == 0, "write float: %s", err);
    EXPECT(cg_png_read_rgb8(tmp_path("f.png"), &back, &w, &h, err, sizeof(err)) == 0 && w == 2 && h == 1, "read");
    for (int i = 0; i < 6 && back; i++) EXPECT(back[i] == want[i], "float %g -> %d, want %d", img[i], back[i], want[i]);
    free(back);
}

// Files written with other formats (RGBA, 16-bit grey) by libpng directly come back as RGB8.
static void test_reads_any_png(void) {
    png_image im;
    memset(&im, 0, sizeof(im));
    im.version = PNG_IMAGE_VERSION;
    im.width = 2;
    im.height = 1;
    im.format = PNG_FORMAT_RGBA;
    const unsigned char rgba[8] = {255, 0, 0, 255, 0, 0, 255, 0}; // opaque red, transparent blue
    EXPECT(png_image_write_to_file(&im, tmp_path("a.png"), 0, rgba, 0, NULL), "libpng RGBA write: %s", im.message);
    unsigned char *back = NULL;
    int w, h;
    char err[256];
    EXPECT(cg_png_read_rgb8(tmp_path("a.png"), &back, &w, &h, err, sizeof(err)) == 0 && w == 2 && h == 1, "read: %s", err);
    if (back) {
        EXPECT(back[0] == 255 && back[1] == 0 && back[2] == 0, "opaque red -> %d %d %d", back[0], back[1], back[2]);
        EXPECT(back[3] == 255 && back[4] == 255 && back[5] == 255, "transparent -> white, got %d %d %d", back[3], back[4],
               back[5]);
    }
    free(back);
    memset(&im, 0, sizeof(im));
    im.version = PNG_IMAGE_VERSION;
    im.width = 2;
    im.height = 1;
    im.format = PNG_FORMAT_LINEAR_Y; // 16-bit linear grey
    const uint16_t grey16[2] = {0, 65535};
    EXPECT(png_image_write_to_file(&im, tmp_path("g16.png"), 0, grey16, 0, NULL), "libpng 16-bit write: %s", im.message);
    back = NULL;
    EXPECT(cg_png_read_rgb8(tmp_path("g16.png"), &back, &w, &h, err, sizeof(err)) == 0 && w == 2, "read 16-bit: %s", err);
    if (back) EXPECT(back[0] == 0 && back[3] == 255 && back[4] == 255, "16-bit grey -> %d %d", back[0], back[3]);
    free(back);
}

static void test_errors_have_reasons(void) {
    char err[256] = "";
    unsigned char *back = (unsigned char *)1;
    int w, h;
    EXPECT(cg_png_read_rgb8(tmp_path("missing.png"), &back, &w, &h, err, sizeof(err)) == -1 && back == NULL,
           "missing file read");
    EXPECT(strstr(err, "cannot open") && strstr(err, "missing.png"), "reason: %s", err);
    FILE *f = fopen(tmp_path("text.png"), "w");
    fputs("this is not a png file at all\n", f);
    fclose(f);
    EXPECT(cg_png_read_rgb8(tmp_path("text.png"), &back, &w, &h, err, sizeof(err)) == -1, "text accepted");
    EXPECT(strstr(err, "not a PNG"), "reason: %s", err);
    // a truncated PNG: the first 40 bytes of a valid file
    unsigned char rgb[3 * 16] = {0};
    EXPECT(cg_png_write_rgb8(tmp_path("ok.png"), rgb, 4, 4, err, sizeof(err)) == 0, "write");
    unsigned char head[40];
    f = fopen(tmp_path("ok.png"), "rb");
    size_t n = fread(head, 1, sizeof(head), f);
    fclose(f);
    f = fopen(tmp_path("cut.png"), "wb");
    fwrite(head, 1, n, f);
    fclose(f);
    EXPECT(cg_png_read_rgb8(tmp_path("cut.png"), &back, &w, &h, err, sizeof(err)) == -1 && back == NULL, "cut accepted");
    EXPECT(strlen(err) > 0 && strchr(err, '\n') == NULL, "reason: %s", err);
    EXPECT(cg_png_write_rgb8("/nonexistent/dir/x.png", rgb, 4, 4, err, sizeof(err)) == -1, "unwritable path accepted");
    EXPECT(strstr(err, "/nonexistent/dir/x.png") && strstr(err, "No such file"), "reason: %s", err);
    EXPECT(cg_png_write_rgb8(tmp_path("z.png"), rgb, 0, 4, err, sizeof(err)) == -1 && strstr(err, "size"), "size 0: %s",
           err);
    EXPECT(cg_png_write_rgb8(tmp_path("z.png"), rgb, 100000, 4, err, sizeof(err)) == -1, "huge width accepted");
}

static void test_sheet(void) {
    char err[256];
    Sheet s;
    EXPECT(sheet_create(&s, 7, 5, 40, err, sizeof(err)) == 0 && s.w == 7 && s.h == 5, "create: %s", err);
    for (int i = 0; i < 7 * 5 * 3 && s.rgb; i++) EXPECT(s.rgb[i] == 40, "background %d at %d", s.rgb[i], i);
    // a 2 x 2 image zoomed twice at (1, 1): pixel (j, i) of the image covers rows 1 + 2j.., cols 1 + 2i..
    const float img[12] = {0.0f, 0.5f, 1.0f, -0.25f, 1.5f, 0.2f, 0.1f, 0.3f, 0.9f, 0.004f, 0.998f, 0.6f};
    sheet_put_float(&s, 1, 1, img, 2, 2, SHEET_UNIT_RANGE);
    const unsigned char want_unit[12] = {0, 128, 255, 0, 255, 51, 26, 77, 230, 1, 254, 153};
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < 4; i++)
            for (int c = 0; c < 3; c++) {
                const int got = s.rgb[((1 + j) * 7 + 1 + i) * 3 + c], want = want_unit[((j / 2) * 2 + i / 2) * 3 + c];
                EXPECT(got == want, "unit range: pixel (%d, %d) channel %d is %d, want %d", j, i, c, got, want);
            }
    EXPECT(s.rgb[0] == 40 && s.rgb[(5 * 7 - 1) * 3] == 40, "outside the cell: background");
    // model range [-1, 1]: 0.5 (v + 1) first
    const float m[3] = {-1.0f, 0.0f, 1.0f};
    sheet_put_float(&s, 6, 0, m, 1, 1, SHEET_MODEL_RANGE);
    EXPECT(s.rgb[6 * 3] == 0 && s.rgb[6 * 3 + 1] == 128 && s.rgb[6 * 3 + 2] == 255, "model range -> %d %d %d", s.rgb[18],
           s.rgb[19], s.rgb[20]);
    // a block of an RGB8 image: the 2 x 1 block at (1, 1) of a 3 x 2 source to (5, 4)
    const unsigned char src[18] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18};
    sheet_put_rgb8(&s, 5, 4, src, 3, 1, 1, 2, 1);
    EXPECT(memcmp(s.rgb + (4 * 7 + 5) * 3, src + 4 * 3, 6) == 0, "copied block");
    EXPECT(sheet_write_png(&s, tmp_path("sheet.png"), err, sizeof(err)) == 0, "write: %s", err);
    unsigned char *back = NULL;
    int w = 0, h = 0;
    EXPECT(cg_png_read_rgb8(tmp_path("sheet.png"), &back, &w, &h, err, sizeof(err)) == 0 && w == 7 && h == 5, "read: %s", err);
    EXPECT(back && memcmp(back, s.rgb, 7 * 5 * 3) == 0, "the PNG holds the sheet");
    free(back);
    sheet_free(&s);
    EXPECT(s.rgb == NULL, "freed");
    // a view over a caller's buffer is not freed
    unsigned char buf[12] = {0};
    const float white[3] = {1.0f, 1.0f, 1.0f};
    Sheet v = sheet_wrap(buf, 2, 2);
    sheet_put_float(&v, 1, 1, white, 1, 1, SHEET_UNIT_RANGE);
    sheet_free(&v);
    EXPECT(buf[9] == 255 && buf[11] == 255 && buf[0] == 0, "wrapped buffer written in place");
    // sizes beyond PNG's limits are refused with a reason
    EXPECT(sheet_create(&s, 0, 5, 0, err, sizeof(err)) == -1 && strstr(err, "0x5") && s.rgb == NULL, "empty sheet: %s", err);
    EXPECT(sheet_create(&s, CG_PNG_MAX_SIDE + 1, 1, 0, err, sizeof(err)) == -1, "too wide");
    EXPECT(sheet_create(&s, 10000, 10000, 0, err, sizeof(err)) == -1 && strstr(err, "too large"), "too many pixels: %s", err);
}

int main(void) {
    snprintf(dir, sizeof(dir), "/tmp/cgrpo_test_png_XXXXXX");
    scratch_dir(dir);
    RUN(test_rgb_round_trip_is_exact);
    RUN(test_gray_and_float_writers);
    RUN(test_reads_any_png);
    RUN(test_errors_have_reasons);
    RUN(test_sheet);
    scratch_remove(dir);
    return test_summary("png");
}
