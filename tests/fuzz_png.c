// fuzz_png.c: libFuzzer target for PNG references (io/png.h, what --ref and the reward server's
// images go through): cg_png_decode_rgb8 over arbitrary bytes; a decoded image must have the
// size it reports, and (when small) encode and decode back to the same pixels.
//   make fuzz && build-fuzz/fuzz_png -dict=tests/fuzz_png.dict CORPUS tests/fuzz/png
#include "fuzz.h"
#include "io/png.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned char *rgb = NULL, *png = NULL, *back = NULL;
    int W = 0, H = 0, W2 = 0, H2 = 0;
    size_t len = 0;
    char err[512];
    err[0] = '\0';
    if (cg_png_decode_rgb8(data, size, &rgb, &W, &H, err, sizeof err)) {
        fuzz_one_line(err);
        if (rgb) abort();
        return 0;
    }
    if (!rgb || W < 1 || H < 1) abort();
    const size_t n = (size_t)W * (size_t)H * 3;
    volatile unsigned char sink = rgb[n - 1]; // the whole buffer is there (ASan)
    (void)sink;
    if (n <= 3 * 4096) {
        if (cg_png_encode_rgb8(rgb, W, H, &png, &len, err, sizeof err)) abort();
        if (cg_png_decode_rgb8(png, len, &back, &W2, &H2, err, sizeof err) || W2 != W || H2 != H ||
            memcmp(rgb, back, n) != 0)
            abort();
    }
    free(rgb), free(png), free(back);
    return 0;
}
