// test_core.c: Philox known-answer vectors, stream independence, distribution moments, the arena.
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/check.h"
#include "core/rng.h"
#include "core/strbuf.h"
#include "test.h"

// Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
static void test_philox_known_answers(void) {
    struct { uint32_t ctr[4], key[2], want[4]; } kat[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t k = 0; k < sizeof(kat) / sizeof(kat[0]); k++) {
        uint32_t out[4];
        philox4x32_10(out, kat[k].ctr, kat[k].key);
        for (int i = 0; i < 4; i++)
            EXPECT(out[i] == kat[k].want[i], "vector %zu word %d: got %08x want %08x", k, i, out[i], kat[k].want[i]);
    }
}

static void test_fill_is_thread_independent(void) {
    enum { N = 200003 };
    float *a = cg_malloc(N * sizeof(float)), *b = cg_malloc(N * sizeof(float));
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    cg_rng_fill_normal(a, N, 42, 7, 0);
    omp_set_num_threads(2);
    cg_rng_fill_normal(b, N, 42, 7, 0);
    omp_set_num_threads(saved);
    EXPECT(memcmp(a, b, N * sizeof(float)) == 0, "normal fill differs between 1 and 2 threads");
    // a fill starting at an offset is the tail of the longer fill
    cg_rng_fill_normal(b, 1000, 42, 7, 500);
    EXPECT(memcmp(a + 500, b, 1000 * sizeof(float)) == 0, "offset fill is not a slice");
    // sequential draws equal the indexed fill
    cg_rng r = cg_rng_make(42, 7);
    for (int i = 0; i < 100; i++) EXPECT((float)cg_rng_normal(&r) == a[i], "draw %d", i);
    // moments of the normal fill
    double s = 0, s2 = 0;
    for (int i = 0; i < N; i++) s += a[i], s2 += (double)a[i] * a[i];
    double mean = s / N, var = s2 / N - mean * mean;
    EXPECT(fabs(mean) < 0.01, "mean %g", mean);
    EXPECT(fabs(var - 1.0) < 0.02, "variance %g", var);
    free(a);
    free(b);
}

static void test_streams_differ(void) {
    cg_rng a = cg_rng_make(1, cg_rng_stream(1, 0, 0)), b = cg_rng_make(1, cg_rng_stream(1, 0, 1));
    cg_rng c = cg_rng_make(2, cg_rng_stream(1, 0, 0));
    int same_ab = 0, same_ac = 0;
    for (int i = 0; i < 64; i++) {
        uint32_t x = cg_rng_u32(&a), y = cg_rng_u32(&b), z = cg_rng_u32(&c);
        same_ab += x == y, same_ac += x == z;
    }
    EXPECT(same_ab == 0 && same_ac == 0, "streams collide: %d %d", same_ab, same_ac);
    // uniform is strictly inside (0,1) and below() stays below n with every value hit
    cg_rng r = cg_rng_make(3, 4);
    int hits[7] = {0};
    for (int i = 0; i < 7000; i++) {
        double u = cg_rng_uniform(&r);
        EXPECT(u > 0.0 && u < 1.0, "uniform %g", u);
        uint32_t k = cg_rng_below(&r, 7);
        EXPECT(k < 7, "below gave %u", k);
        if (k < 7) hits[k]++;
    }
    for (int k = 0; k < 7; k++) EXPECT(hits[k] > 850 && hits[k] < 1150, "value %d hit %d times", k, hits[k]);
}

static void test_arena(void) {
    cg_arena a;
    cg_arena_init(&a, 1000);
    float *x = cg_arena_floats(&a, 3);
    float *y = cg_arena_floats(&a, 5);
    EXPECT(((uintptr_t)x % 64) == 0 && ((uintptr_t)y % 64) == 0, "alignment");
    EXPECT(y >= x + 3, "overlap");
    EXPECT(x[0] == 0.0f && y[4] == 0.0f, "zero fill");
    y[4] = 1.0f;
    cg_arena_reset(&a);
    EXPECT(a.used == 0, "reset");
    float *z = cg_arena_floats(&a, 200);
    EXPECT(z[68] == 0.0f, "reset must re-zero");
    cg_arena_free(&a);
}

static void test_mul_size(void) {
    EXPECT(cg_mul_size(0, SIZE_MAX) == 0, "zero");
    EXPECT(cg_mul_size(1u << 20, 1u << 10) == (size_t)1 << 30, "product");
}

// strbuf: appends that cross many reallocations give exactly the text snprintf would build
static void test_strbuf(void) {
    StrBuf b = {0};
    char want[8192];
    size_t n = 0;
    for (int i = 0; i < 600; i++) {
        strbuf_printf(&b, "%d,", i * 7);
        n += (size_t)snprintf(want + n, sizeof want - n, "%d,", i * 7);
    }
    strbuf_printf(&b, "%s", ""); // an empty append keeps the text
    EXPECT(b.s && b.len == n && strlen(b.s) == n && strcmp(b.s, want) == 0, "strbuf text of %zu bytes vs %zu", b.len, n);
    EXPECT(b.cap > b.len, "room for the NUL: cap %zu len %zu", b.cap, b.len);
    free(b.s);
}

int main(void) {
    RUN(test_philox_known_answers);
    RUN(test_fill_is_thread_independent);
    RUN(test_streams_differ);
    RUN(test_arena);
    RUN(test_mul_size);
    RUN(test_strbuf);
    return test_summary("core");
}
