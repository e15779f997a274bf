// test_safetensors.c: safetensors round trips (bit-exact), F16/BF16 conversions against hand-encoded
// values and exhaustively, a table of malformed files that must each be rejected with a one-line
// reason, and the atomic writer's failure paths (the original file is never touched).
//
// Two extra modes serve tests/cli_interop.sh (Python's safetensors on the other side):
//   test_safetensors --write-pattern PATH   write the shared pattern file (F32, F16, F64, metadata)
//   test_safetensors --check-pattern PATH   verify a pattern file, e.g. one written by Python
// The pattern is defined identically in tools/safetensors_interop.py.
#include <float.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "core/rng.h"
#include "io/safetensors.h"
#include "scratch.h"
#include "test.h"

// ---- helpers ---------------------------------------------------------------------------------------

static char g_dir_template[] = "/tmp/cgrpo_st_test.XXXXXX";
static const char *g_dir; // a scratch directory for this run, removed at the end

static void path_in(char *out, size_t n, const char *name) { snprintf(out, n, "%s/%s", g_dir, name); }

// ---- round trips -----------------------------------------------------------------------------------

static void test_roundtrip_f32_bit_exact(void) {
    enum { NT = 5 };
    const char *names[NT] = {"embed.weight", "blocks.0.attn.qkv", "scale", "empty", "héllo.wörld"};
    size_t s0[] = {3, 5}, s1[] = {4, 4, 2}, s3[] = {2, 0, 3}, s4[] = {7};
    const size_t *shapes[NT] = {s0, s1, NULL, s3, s4};
    int ndims[NT] = {2, 3, 0, 3, 1};
    size_t counts[NT] = {15, 32, 1, 0, 7};
    float *data[NT];
    cg_rng r = cg_rng_make(1234, 7);
    for (int k = 0; k < NT; k++) {
        data[k] = cg_malloc((counts[k] ? counts[k] : 1) * sizeof(float));
        for (size_t i = 0; i < counts[k]; i++) {
            uint32_t bits = cg_rng_u32(&r); // any bit pattern: NaN payloads, -0, subnormals, inf
            memcpy(&data[k][i], &bits, 4);
        }
    }
    const char *mk[] = {"format", "step", "note"};
    const char *mv[] = {"pt", "1200", "quote \" backslash \\ newline \n tab \t ctl \x01 ünï"};
    char path[512], err[256] = "";
    path_in(path, sizeof path, "rt.safetensors");
    int rc = st_write_f32(path, names, shapes, ndims, (const float *const *)data, NT, mk, mv, 3, err, sizeof err);
    EXPECT(rc == 0, "write failed: %s", err);

    st_file f;
    rc = st_open(path, &f, err, sizeof err);
    EXPECT(rc == 0, "open failed: %s", err);
    if (rc == 0) {
        EXPECT(f.n_tensors == NT, "%zu tensors", f.n_tensors);
        EXPECT(f.header_len % 8 == 0, "header length %zu not padded to 8", f.header_len);
        EXPECT(f.n_meta == 3, "%zu metadata entries", f.n_meta);
        for (int m = 0; m < 3 && m < (int)f.n_meta; m++) {
            EXPECT(strcmp(f.meta_keys[m], mk[m]) == 0, "meta key %d '%s'", m, f.meta_keys[m]);
            EXPECT(strcmp(f.meta_values[m], mv[m]) == 0, "meta value %d '%s'", m, f.meta_values[m]);
        }
        size_t expect_off = 0;
        for (int k = 0; k < NT && k < (int)f.n_tensors; k++) {
            const st_tensor *t = &f.tensors[k]; // written order is header order
            EXPECT(strcmp(t->name, names[k]) == 0, "tensor %d is '%s'", k, t->name);
            EXPECT(t->dtype == ST_F32 && t->ndim == ndims[k] && t->numel == counts[k], "tensor %d dtype/ndim/numel", k);
            for (int d = 0; d < t->ndim && d < ndims[k]; d++) EXPECT(t->shape[d] == shapes[k][d], "tensor %d dim %d", k, d);
            EXPECT(t->offset == expect_off, "tensor %d offset %zu, want %zu (contiguous)", k, t->offset, expect_off);
            expect_off += counts[k] * 4;
            float *back = cg_malloc((counts[k] ? counts[k] : 1) * sizeof(float));
            rc = st_get_f32(&f, names[k], back, counts[k], err, sizeof err);
            EXPECT(rc == 0, "get %s: %s", names[k], err);
            EXPECT(memcmp(back, data[k], counts[k] * sizeof(float)) == 0, "tensor %s differs", names[k]);
            free(back);
        }
        EXPECT(f.data_len == expect_off, "data length %zu", f.data_len);
        EXPECT(st_total_params(&f) == 15 + 32 + 1 + 0 + 7, "total params %zu", st_total_params(&f));
        EXPECT(st_meta(&f, "step") && strcmp(st_meta(&f, "step"), "1200") == 0, "st_meta(step)");
        EXPECT(st_meta(&f, "absent") == NULL, "st_meta(absent)");
        st_close(&f);
    }

    // Overwriting an existing file replaces it completely and leaves no temp file behind.
    float one = 1.0f;
    const float *d1[] = {&one};
    const char *n1[] = {"only"};
    const size_t *sh1[] = {NULL};
    int nd1[] = {0};
    rc = st_write_f32(path, n1, sh1, nd1, d1, 1, NULL, NULL, 0, err, sizeof err);
    EXPECT(rc == 0, "overwrite failed: %s", err);
    rc = st_open(path, &f, err, sizeof err);
    EXPECT(rc == 0 && f.n_tensors == 1 && f.n_meta == 0, "reopen after overwrite: %s", err);
    float got = 0;
    EXPECT(rc == 0 && st_get_f32(&f, "only", &got, 1, err, sizeof err) == 0 && got == 1.0f, "scalar value");
    st_close(&f);
    EXPECT(scratch_count_entries(g_dir) == 1, "directory has %d entries, want 1", scratch_count_entries(g_dir));
    unlink(path);
    for (int k = 0; k < NT; k++) free(data[k]);
}

// An exact-size heap copy, so AddressSanitizer sees any read past the end.
static int parse_exact(const unsigned char *bytes, size_t len, st_file *f, char *err, size_t errlen) {
    unsigned char *copy = cg_malloc(len ? len : 1);
    memcpy(copy, bytes, len);
    int rc = st_parse(len ? copy : NULL, len, f, err, errlen);
    if (rc == 0) {
        // f->data points into copy: move it into f->owned so st_close frees it
        f->owned = copy;
    } else {
        free(copy);
    }
    return rc;
}

// ---- half-precision conversions --------------------------------------------------------------------

static uint32_t fbits(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static void test_f16_bf16_known_values(void) {
    // Hand-encoded f16: sign | exponent (bias 15) | 10-bit mantissa.
    const struct { uint16_t h; float v; } f16[] = {
        {0x3C00, 1.0f},          {0xC100, -2.5f},          {0x7BFF, 65504.0f},
        {0x0001, 0x1p-24f},      {0x03FF, 1023 * 0x1p-24f}, {0x0400, 0x1p-14f},
        {0x3555, 0.333251953125f}, {0x7C00, INFINITY},     {0xFC00, -INFINITY},
        {0x0000, 0.0f},          {0xC000, -2.0f},          {0x3800, 0.5f},
    };
    // Hand-encoded bf16: the top 16 bits of an f32.
    const struct { uint16_t h; float v; } bf16[] = {
        {0x3F80, 1.0f},     {0xC020, -2.5f},   {0x477F, 65280.0f}, {0x0001, 0x1p-133f},
        {0x7F80, INFINITY}, {0xFF80, -INFINITY}, {0x4049, 3.140625f}, {0x7F7F, 0x1.FEp127f},
    };
    enum { N16 = sizeof(f16) / sizeof(f16[0]), NB = sizeof(bf16) / sizeof(bf16[0]) };
    // Little-endian bytes in a file written with our writer (raw dtypes), plus a NaN and a -0.
    unsigned char raw16[2 * (N16 + 2)], rawb[2 * NB];
    for (int i = 0; i < N16; i++) raw16[2 * i] = f16[i].h & 0xFF, raw16[2 * i + 1] = f16[i].h >> 8;
    raw16[2 * N16] = 0x00, raw16[2 * N16 + 1] = 0x7E;     // 0x7E00: NaN
    raw16[2 * N16 + 2] = 0x00, raw16[2 * N16 + 3] = 0x80; // 0x8000: -0
    for (int i = 0; i < NB; i++) rawb[2 * i] = bf16[i].h & 0xFF, rawb[2 * i + 1] = bf16[i].h >> 8;
    size_t s16[] = {N16 + 2}, sb[] = {NB};
    st_write_tensor ts[] = {{"h", ST_F16, 1, s16, raw16}, {"b", ST_BF16, 1, sb, rawb}};
    char path[512], err[256] = "";
    path_in(path, sizeof path, "half.safetensors");
    EXPECT(st_write(path, ts, 2, NULL, NULL, 0, err, sizeof err) == 0, "write: %s", err);
    st_file f;
    int rc = st_open(path, &f, err, sizeof err);
    EXPECT(rc == 0, "open: %s", err);
    if (rc != 0) return;
    EXPECT(f.tensors[0].dtype == ST_F16 && f.tensors[1].dtype == ST_BF16, "dtypes");
    float out16[N16 + 2], outb[NB];
    EXPECT(st_get_f32(&f, "h", out16, N16 + 2, err, sizeof err) == 0, "get h: %s", err);
    EXPECT(st_get_f32(&f, "b", outb, NB, err, sizeof err) == 0, "get b: %s", err);
    for (int i = 0; i < N16; i++) {
        EXPECT(fbits(out16[i]) == fbits(f16[i].v), "f16 0x%04x -> %.9g, want %.9g", f16[i].h, out16[i], f16[i].v);
        EXPECT(st_f32_to_f16(f16[i].v) == f16[i].h, "f32 %.9g -> f16 0x%04x, want 0x%04x", f16[i].v,
               st_f32_to_f16(f16[i].v), f16[i].h);
    }
    EXPECT(isnan(out16[N16]), "f16 0x7E00 -> %g, want NaN", out16[N16]);
    EXPECT(fbits(out16[N16 + 1]) == 0x80000000u, "f16 0x8000 -> bits 0x%08x, want -0", fbits(out16[N16 + 1]));
    for (int i = 0; i < NB; i++) {
        EXPECT(fbits(outb[i]) == fbits(bf16[i].v), "bf16 0x%04x -> %.9g, want %.9g", bf16[i].h, outb[i], bf16[i].v);
        EXPECT(st_f32_to_bf16(bf16[i].v) == bf16[i].h, "f32 %.9g -> bf16 0x%04x, want 0x%04x", bf16[i].v,
               st_f32_to_bf16(bf16[i].v), bf16[i].h);
    }
    st_close(&f);
    unlink(path);

    // Narrowing: rounding to nearest even at hand-picked boundaries.
    EXPECT(st_f32_to_f16(65519.0f) == 0x7BFF, "65519 -> 0x%04x", st_f32_to_f16(65519.0f));
    EXPECT(st_f32_to_f16(65520.0f) == 0x7C00, "65520 -> 0x%04x (tie to even = inf)", st_f32_to_f16(65520.0f));
    EXPECT(st_f32_to_f16(1.0f + 0x1p-11f) == 0x3C00, "1 + 2^-11 (tie) -> 0x%04x", st_f32_to_f16(1.0f + 0x1p-11f));
    EXPECT(st_f32_to_f16(1.0f + 3 * 0x1p-11f) == 0x3C02, "1 + 3*2^-11 (tie) -> 0x%04x", st_f32_to_f16(1.0f + 3 * 0x1p-11f));
    EXPECT(st_f32_to_f16(0x1p-25f) == 0x0000, "2^-25 (tie) -> 0x%04x", st_f32_to_f16(0x1p-25f));
    EXPECT(st_f32_to_f16(0x1.000002p-25f) == 0x0001, "just above 2^-25 -> 0x%04x", st_f32_to_f16(0x1.000002p-25f));
    EXPECT(st_f32_to_f16(3 * 0x1p-25f) == 0x0002, "1.5 * 2^-24 (tie) -> 0x%04x", st_f32_to_f16(3 * 0x1p-25f));
    EXPECT(st_f32_to_f16(-1e-30f) == 0x8000, "-1e-30 -> 0x%04x", st_f32_to_f16(-1e-30f));
    EXPECT(st_f32_to_f16(1e10f) == 0x7C00, "1e10 -> inf");
    EXPECT((st_f32_to_f16(NAN) & 0x7C00) == 0x7C00 && (st_f32_to_f16(NAN) & 0x3FF), "NaN stays NaN");
    EXPECT(st_f32_to_bf16(1.0f + 0x1p-8f) == 0x3F80, "bf16 1 + 2^-8 (tie) -> 0x%04x", st_f32_to_bf16(1.0f + 0x1p-8f));
    EXPECT(st_f32_to_bf16(1.0f + 3 * 0x1p-8f) == 0x3F82, "bf16 1 + 3*2^-8 -> 0x%04x", st_f32_to_bf16(1.0f + 3 * 0x1p-8f));
    EXPECT(st_f32_to_bf16(FLT_MAX) == 0x7F80, "bf16 of f32 max rounds to inf");
    EXPECT(isnan(st_bf16_to_f32(st_f32_to_bf16(NAN))), "bf16 NaN stays NaN");
}

// Every f16 / bf16 code widens and narrows back to itself (NaNs stay NaN), and random floats
// narrow to the nearest representable value with ties to even (checked against both neighbours).
static void test_half_exhaustive_and_rounding(void) {
    int bad16 = 0, badb = 0;
    for (uint32_t c = 0; c < 65536; c++) {
        uint16_t h = (uint16_t)c;
        float x = st_f16_to_f32(h), y = st_bf16_to_f32(h);
        int nan16 = (h & 0x7C00) == 0x7C00 && (h & 0x3FF), nanb = (h & 0x7F80) == 0x7F80 && (h & 0x7F);
        if (nan16 ? !isnan(x) || !isnan(st_f16_to_f32(st_f32_to_f16(x))) : st_f32_to_f16(x) != h) bad16++;
        if (nanb ? !isnan(y) || !isnan(st_bf16_to_f32(st_f32_to_bf16(y))) : st_f32_to_bf16(y) != h) badb++;
    }
    EXPECT(bad16 == 0, "%d f16 codes do not round-trip", bad16);
    EXPECT(badb == 0, "%d bf16 codes do not round-trip", badb);

    cg_rng r = cg_rng_make(99, 1);
    int bad = 0;
    for (int it = 0; it < 200000; it++) {
        // magnitudes from 2^-27 (below the f16 subnormals) to 2^16 (near the f16 maximum)
        double e = -27 + 43 * cg_rng_uniform(&r);
        float x = (float)(ldexp(1.0 + cg_rng_uniform(&r), (int)floor(e)) * (cg_rng_u32(&r) & 1 ? -1 : 1));
        if (fabsf(x) >= 65520.0f) continue;
        for (int which = 0; which < 2; which++) {
            uint16_t h = which ? st_f32_to_bf16(x) : st_f32_to_f16(x);
            float (*wide)(uint16_t) = which ? st_bf16_to_f32 : st_f16_to_f32;
            uint16_t mag = h & 0x7FFF, sgn = h & 0x8000, maxmag = which ? 0x7F7F : 0x7BFF;
            double err0 = fabs((double)wide(h) - x);
            if (mag > 0) {
                double e1 = fabs((double)wide((uint16_t)(sgn | (mag - 1))) - x);
                if (e1 < err0 || (e1 == err0 && (h & 1))) bad++;
            }
            if (mag < maxmag) {
                double e1 = fabs((double)wide((uint16_t)(sgn | (mag + 1))) - x);
                if (e1 < err0 || (e1 == err0 && (h & 1))) bad++;
            }
        }
    }
    EXPECT(bad == 0, "%d random floats not rounded to nearest-even", bad);
}

// ---- malformed files -------------------------------------------------------------------------------

// A file image: 8-byte length (hlen, or the header's own length when hlen is UINT64_MAX), the header
// bytes, then `ndata` bytes of data. Returns the length.
static size_t build(unsigned char *out, size_t cap, uint64_t hlen, const char *header, size_t ndata) {
    size_t n = strlen(header);
    if (hlen == UINT64_MAX) hlen = n;
    CG_CHECK(8 + n + ndata <= cap, "test buffer too small");
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(out + 8, header, n);
    memset(out + 8 + n, 0x3F, ndata);
    return 8 + n + ndata;
}

#define AUTO UINT64_MAX
#define CUT_ALL SIZE_MAX
static void test_malformed_rejected(void) {
    const struct {
        const char *what;
        uint64_t hlen;
        const char *header;
        size_t ndata;
        size_t total; // 0: the built length; else cut the image to this many bytes (CUT_ALL: none)
        const char *reason;
    } cases[] = {
        {"empty file", AUTO, "", 0, CUT_ALL, "empty"},
        {"truncated length", AUTO, "{}", 0, 5, "shorter than"},
        {"header length past end", 1000, "{}", 0, 0, "past the end"},
        {"absurd header length", (uint64_t)1 << 62, "{}", 0, 0, "absurdly large"},
        {"header length zero", 0, "", 0, 0, "too short"},
        {"bad JSON", AUTO, "{\"a\":{\"dtype\":\"F32\",", 0, 0, "not valid JSON"},
        {"not an object", AUTO, "[1,2]", 0, 0, "does not start with"},
        {"garbage after JSON", AUTO, "{} x", 0, 0, "after the JSON"},
        {"control byte", AUTO, "{\"a\x01\":1}", 0, 0, "control byte"},
        {"invalid UTF-8", AUTO, "{\"\xC3\x28\":{}}", 0, 0, "UTF-8"},
        {"overlong UTF-8", AUTO, "{\"\xC0\xAF\":{}}", 0, 0, "UTF-8"},
        {"escaped NUL", AUTO, "{\"a\\u0000b\":{}}", 0, 0, "\\u0000"},
        {"entry not an object", AUTO, "{\"a\":5}", 0, 0, "not an object"},
        {"missing dtype", AUTO, "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0, "no \"dtype\""},
        {"missing shape", AUTO, "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, 0, "no \"shape\""},
        {"missing offsets", AUTO, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, 0, "no \"data_offsets\""},
        {"unknown field", AUTO, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, 0, "unknown field"},
        {"field twice", AUTO, "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0, "twice"},
        {"dtype not string", AUTO, "{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0, "not a string"},
        {"unknown dtype", AUTO, "{\"a\":{\"dtype\":\"F7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0, "unknown dtype"},
        {"shape not array", AUTO, "{\"a\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 4, 0, "not an array"},
        {"negative dim", AUTO, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, 0, "negative"},
        {"fractional dim", AUTO, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, 0, "not an integer"},
        {"dim above 2^53", AUTO, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,4]}}", 4, 0, "too large"},
        {"shape product overflows", AUTO,
         "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, 0, "overflows"},
        {"byte size overflows", AUTO,
         "{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,1073741824],\"data_offsets\":[0,4]}}", 4, 0, "overflows"},
        {"too many dims", AUTO, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, 0, "more than"},
        {"offsets not two", AUTO, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 4, 0, "two integers"},
        {"offsets strings", AUTO, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",\"4\"]}}", 4, 0, "not a number"},
        {"begin > end", AUTO, "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4, 0, "begin 4 > end 0"},
        {"offsets past data", AUTO, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, 0, "past the data buffer"},
        {"size mismatch", AUTO, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, 0, "needs 8"},
        {"overlapping", AUTO,
         "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, 0, "overlap"},
        {"empty tensor inside another", AUTO,
         "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
         8, 0, "overlap"},
        {"gap", AUTO,
         "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
         12, 0, "belong to no tensor"},
        {"trailing data", AUTO, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 6, 0, "trailing"},
        {"data but no tensors", AUTO, "{}", 3, 0, "trailing"},
        {"duplicate names", AUTO,
         "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
         8, 0, "duplicate tensor name 'a'"},
        {"empty name", AUTO, "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 0, "empty name"},
        {"metadata not object", AUTO, "{\"__metadata__\":[\"a\"]}", 0, 0, "not an object"},
        {"metadata non-string", AUTO, "{\"__metadata__\":{\"k\":1}}", 0, 0, "not a string"},
        {"metadata duplicate key", AUTO, "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, 0, "duplicate metadata key"},
        {"metadata twice", AUTO, "{\"__metadata__\":{},\"__metadata__\":{}}", 0, 0, "duplicate \"__metadata__\""},
        {"newline in reason name", AUTO, "{\"a\\nb\":5}", 0, 0, "'a?b' is not an object"},
    };
    unsigned char buf[512];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = build(buf, sizeof buf, cases[i].hlen, cases[i].header, cases[i].ndata);
        if (cases[i].total) len = cases[i].total == CUT_ALL ? 0 : cases[i].total;
        st_file f;
        char err[256] = "";
        int rc = parse_exact(buf, len, &f, err, sizeof err);
        EXPECT(rc == -1, "case '%s' was accepted", cases[i].what);
        EXPECT(one_line(err), "case '%s': reason not one non-empty line: '%s'", cases[i].what, err);
        EXPECT(strstr(err, cases[i].reason) != NULL, "case '%s': reason '%s' lacks '%s'", cases[i].what, err,
               cases[i].reason);
        EXPECT(f.n_tensors == 0 && f.tensors == NULL && f.owned == NULL, "case '%s': st_file not emptied", cases[i].what);
        if (rc == 0) st_close(&f);
    }
}

// Valid edge cases that must be accepted, with their values checked.
static void test_valid_edge_cases(void) {
    unsigned char buf[512];
    st_file f;
    char err[256] = "";
    // "{}" with no data: zero tensors
    size_t len = build(buf, sizeof buf, AUTO, "{}", 0);
    EXPECT(parse_exact(buf, len, &f, err, sizeof err) == 0 && f.n_tensors == 0 && f.n_meta == 0, "empty header: %s", err);
    st_close(&f);
    // padding of spaces and newlines after the object, metadata only
    len = build(buf, sizeof buf, AUTO, "{\"__metadata__\":{\"k\":\"v\"}} \n\t\r  ", 0);
    EXPECT(parse_exact(buf, len, &f, err, sizeof err) == 0 && f.n_meta == 1 && strcmp(f.meta_values[0], "v") == 0,
           "metadata only: %s", err);
    st_close(&f);
    // a scalar and a zero-size tensor sharing an offset, in reverse offset order, unicode escape in a name
    len = build(buf, sizeof buf, AUTO,
                "{\"z\":{\"dtype\":\"BF16\",\"shape\":[3,0],\"data_offsets\":[4,4]},"
                "\"s\\u00e9\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
                0);
    const float two = 2.0f;
    memcpy(buf + len, &two, 4);
    len += 4;
    int rc = parse_exact(buf, len, &f, err, sizeof err);
    EXPECT(rc == 0, "scalar + empty: %s", err);
    if (rc == 0) {
        float v = 0, none[1];
        EXPECT(f.n_tensors == 2 && strcmp(f.tensors[1].name, "s\xc3\xa9") == 0, "unicode name");
        EXPECT(st_get_f32(&f, "s\xc3\xa9", &v, 1, err, sizeof err) == 0 && v == 2.0f, "scalar value %g: %s", v, err);
        EXPECT(st_get_f32(&f, "z", none, 0, err, sizeof err) == 0, "empty tensor: %s", err);
        EXPECT(st_get_f32(&f, "z", none, 1, err, sizeof err) == -1 && one_line(err), "count mismatch accepted");
        EXPECT(st_get_f32(&f, "nope", none, 1, err, sizeof err) == -1 && strstr(err, "no tensor named"), "absent name: %s", err);
        st_close(&f);
    }
    // integer dtypes are listed but do not convert to float; F64 narrows
    len = build(buf, sizeof buf, AUTO,
                "{\"i\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                "\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[4,12]}}",
                0);
    memset(buf + len, 0, 4);
    const double third = 1.0 / 3.0;
    memcpy(buf + len + 4, &third, 8);
    len += 12;
    rc = parse_exact(buf, len, &f, err, sizeof err);
    EXPECT(rc == 0, "I32 + F64: %s", err);
    if (rc == 0) {
        float v;
        EXPECT(st_get_f32(&f, "i", &v, 1, err, sizeof err) == -1 && strstr(err, "I32"), "I32 converted: %s", err);
        EXPECT(st_get_f32(&f, "d", &v, 1, err, sizeof err) == 0 && v == (float)third, "F64 value %.9g", v);
        st_close(&f);
    }
}

static void test_open_errors(void) {
    st_file f;
    char err[256] = "", path[512];
    path_in(path, sizeof path, "does-not-exist.safetensors");
    EXPECT(st_open(path, &f, err, sizeof err) == -1 && strstr(err, "cannot open") && strstr(err, path), "missing: %s", err);
    EXPECT(st_open(g_dir, &f, err, sizeof err) == -1 && strstr(err, "not a regular file"), "directory: %s", err);
    // header length past the end: the reason reports the real size, and nothing is allocated for it
    path_in(path, sizeof path, "short.safetensors");
    FILE *fp = cg_fopen(path, "wb");
    unsigned char b[12] = {0xFF, 0xFF, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    cg_fwrite(b, 1, sizeof b, fp);
    cg_fclose(fp);
    EXPECT(st_open(path, &f, err, sizeof err) == -1 && strstr(err, "65535") && strstr(err, "(4 bytes follow"), "past end: %s", err);
    EXPECT(one_line(err), "one line");
    unlink(path);
}

// ---- the atomic writer -----------------------------------------------------------------------------

static int write_small(const char *path, const char *name2, char *err, size_t errlen) {
    float a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
    size_t sa[] = {2, 2}, sb[] = {2};
    const char *names[] = {"a", name2};
    const size_t *shapes[] = {sa, sb};
    int nd[] = {2, 1};
    const float *data[] = {a, b};
    return st_write_f32(path, names, shapes, nd, data, 2, NULL, NULL, 0, err, errlen);
}

static void test_writer_failures_leave_original(void) {
    char path[512], err[256] = "";
    path_in(path, sizeof path, "orig.safetensors");
    EXPECT(write_small(path, "b", err, sizeof err) == 0, "first write: %s", err);
    size_t len0 = 0, len1 = 0;
    unsigned char *orig = test_read_file(path, &len0);

    // invalid request (duplicate names): rejected before any file is created
    EXPECT(write_small(path, "a", err, sizeof err) == -1 && strstr(err, "duplicate"), "duplicate names: %s", err);
    EXPECT(write_small(path, "__metadata__", err, sizeof err) == -1 && one_line(err), "reserved name");
    EXPECT(write_small(path, "", err, sizeof err) == -1 && one_line(err), "empty name");
    EXPECT(write_small(path, "\xff", err, sizeof err) == -1 && strstr(err, "UTF-8"), "bad UTF-8: %s", err);
    const char *mk[] = {"k", "k"}, *mv[] = {"1", "2"};
    size_t s[] = {1};
    float one = 1;
    st_write_tensor t = {"x", ST_F32, 1, s, &one};
    EXPECT(st_write(path, &t, 1, mk, mv, 2, err, sizeof err) == -1 && strstr(err, "duplicate metadata"), "dup meta: %s", err);
    t.ndim = ST_MAX_DIMS + 1;
    EXPECT(st_write(path, &t, 1, NULL, NULL, 0, err, sizeof err) == -1 && one_line(err), "too many dims");

    // the disk fills up mid-write (RLIMIT_FSIZE): fwrite/fflush fails, the temp file is removed
    enum { BIG = 1 << 16 };
    float *big = cg_calloc(BIG, sizeof(float));
    size_t sbig[] = {BIG};
    st_write_tensor tb = {"big", ST_F32, 1, sbig, big};
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit lim = old;
    lim.rlim_cur = 4096;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    int lim_ok = setrlimit(RLIMIT_FSIZE, &lim) == 0;
    int rc = st_write(path, &tb, 1, NULL, NULL, 0, err, sizeof err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, old_handler);
    EXPECT(lim_ok, "setrlimit failed");
    EXPECT(rc == -1 && strstr(err, "writing failed") && one_line(err), "file size limit not reported: rc %d '%s'", rc, err);
    free(big);

    // the target is a directory: rename fails, the temp file is removed, the directory stays
    char dpath[512];
    path_in(dpath, sizeof dpath, "adir");
    mkdir(dpath, 0755);
    EXPECT(write_small(dpath, "b", err, sizeof err) == -1 && strstr(err, "rename"), "rename onto a dir: %s", err);
    struct stat st;
    EXPECT(stat(dpath, &st) == 0 && S_ISDIR(st.st_mode), "directory survived");

    // a missing directory
    char mpath[600];
    snprintf(mpath, sizeof mpath, "%s/no/such/dir/x.safetensors", g_dir);
    EXPECT(write_small(mpath, "b", err, sizeof err) == -1 && strstr(err, "temporary file"), "missing dir: %s", err);

    // a directory we may not write to (root ignores permissions, so only as a normal user)
    if (geteuid() != 0) {
        char rpath[600];
        chmod(dpath, 0555);
        snprintf(rpath, sizeof rpath, "%s/x.safetensors", dpath);
        EXPECT(write_small(rpath, "b", err, sizeof err) == -1 && strstr(err, "temporary file"), "read-only dir: %s", err);
        EXPECT(scratch_count_entries(dpath) == 0, "read-only dir has entries");
        chmod(dpath, 0755);
    } else {
        printf("note: running as root, the read-only directory case is covered by RLIMIT_FSIZE instead\n");
    }

    unsigned char *after = test_read_file(path, &len1);
    EXPECT(after && len1 == len0 && memcmp(orig, after, len0) == 0, "original file changed");
    EXPECT(scratch_count_entries(g_dir) == 2, "%d entries in the scratch dir, want 2 (no temp files left)", scratch_count_entries(g_dir));
    free(orig);
    free(after);
    rmdir(dpath);
    unlink(path);
}

// ---- the interop pattern (tools/safetensors_interop.py defines the same) -------------------------------

static float pattern_value(size_t i, int k) { return (float)((double)((i * 37 + (size_t)k * 11) % 101) - 50.0) / 8.0f; }
static const char *PATTERN_NOTE = "h\xc3\xa9llo \"quoted\" \\ back";

static int write_pattern(const char *path) {
    size_t s0[] = {3, 5}, s1[] = {2, 2, 3}, s3[] = {0, 4}, s4[] = {4};
    float f32[15], sc;
    uint16_t f16[12];
    double f64[4];
    for (size_t i = 0; i < 15; i++) f32[i] = pattern_value(i, 0);
    for (size_t i = 0; i < 12; i++) f16[i] = st_f32_to_f16(pattern_value(i, 1));
    sc = pattern_value(0, 2);
    for (size_t i = 0; i < 4; i++) f64[i] = pattern_value(i, 3);
    st_write_tensor ts[] = {
        {"pattern.f32", ST_F32, 2, s0, f32},   {"pattern.f16", ST_F16, 3, s1, f16},
        {"pattern.scalar", ST_F32, 0, NULL, &sc}, {"pattern.empty", ST_F32, 2, s3, NULL},
        {"pattern.f64", ST_F64, 1, s4, f64},
    };
    const char *mk[] = {"source", "note"}, *mv[] = {"cgrpo", PATTERN_NOTE};
    char err[256];
    if (st_write(path, ts, 5, mk, mv, 2, err, sizeof err) != 0) {
        fprintf(stderr, "write-pattern: %s\n", err);
        return 1;
    }
    return 0;
}

static int check_pattern(const char *path) {
    st_file f;
    char err[256];
    if (st_open(path, &f, err, sizeof err) != 0) {
        fprintf(stderr, "check-pattern: %s\n", err);
        return 1;
    }
    const struct { const char *name; st_dtype dtype; int ndim; size_t shape[3]; int k; } want[] = {
        {"pattern.f32", ST_F32, 2, {3, 5}, 0},    {"pattern.f16", ST_F16, 3, {2, 2, 3}, 1},
        {"pattern.scalar", ST_F32, 0, {0}, 2},    {"pattern.empty", ST_F32, 2, {0, 4}, -1},
        {"pattern.f64", ST_F64, 1, {4}, 3},
    };
    int bad = 0;
    if (f.n_tensors != 5) fprintf(stderr, "check-pattern: %zu tensors, want 5\n", f.n_tensors), bad++;
    for (size_t w = 0; w < 5; w++) {
        const st_tensor *t = st_find(&f, want[w].name);
        if (!t) {
            fprintf(stderr, "check-pattern: no tensor '%s'\n", want[w].name);
            bad++;
            continue;
        }
        int shape_ok = t->dtype == want[w].dtype && t->ndim == want[w].ndim;
        for (int d = 0; shape_ok && d < t->ndim; d++) shape_ok = t->shape[d] == want[w].shape[d];
        if (!shape_ok) {
            fprintf(stderr, "check-pattern: '%s' has dtype %s ndim %d, wrong dtype or shape\n", t->name,
                    st_dtype_name(t->dtype), t->ndim);
            bad++;
            continue;
        }
        float *v = cg_malloc((t->numel ? t->numel : 1) * sizeof(float));
        if (st_get_f32(&f, t->name, v, t->numel, err, sizeof err) != 0) fprintf(stderr, "check-pattern: %s\n", err), bad++;
        else
            for (size_t i = 0; i < t->numel; i++)
                if (v[i] != pattern_value(i, want[w].k)) {
                    fprintf(stderr, "check-pattern: %s[%zu] = %.9g, want %.9g\n", t->name, i, v[i], pattern_value(i, want[w].k));
                    bad++;
                    break;
                }
        free(v);
    }
    const char *note = st_meta(&f, "note");
    if (!note || strcmp(note, PATTERN_NOTE) != 0) fprintf(stderr, "check-pattern: metadata note is '%s'\n", note ? note : "(absent)"), bad++;
    if (!st_meta(&f, "source")) fprintf(stderr, "check-pattern: metadata has no 'source'\n"), bad++;
    st_close(&f);
    if (bad == 0) printf("pattern ok: %s\n", path);
    return bad ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write-pattern") == 0) return write_pattern(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--check-pattern") == 0) return check_pattern(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: test_safetensors [--write-pattern PATH | --check-pattern PATH]\n");
        return 2;
    }
    g_dir = scratch_dir(g_dir_template);
    RUN(test_roundtrip_f32_bit_exact);
    RUN(test_f16_bf16_known_values);
    RUN(test_half_exhaustive_and_rounding);
    RUN(test_malformed_rejected);
    RUN(test_valid_edge_cases);
    RUN(test_open_errors);
    RUN(test_writer_failures_leave_original);
    scratch_remove(g_dir);
    return test_summary("safetensors");
}
