// test.h: a minimal test harness. Each tests/test_*.c is its own program:
//
//   static void test_something(void) { EXPECT(x == 1, "x was %d", x); EXPECT_NEAR(a, b, 1e-6); }
//   int main(void) { RUN(test_something); return test_summary("layers"); }
//
// A test function passes when none of its EXPECTs failed. test_summary prints
// "<name>: N passed, N failed" and returns non-zero when anything failed; tests/run.sh adds up
// the lines of all programs and ends with the overall "N passed, N failed".
#ifndef CGRPO_TEST_H
#define CGRPO_TEST_H

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_n_passed = 0, test_n_failed = 0, test_cur_failures = 0;
static const char *test_cur_name = "";

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            test_cur_failures++;                                                                   \
            if (test_cur_failures <= 10) {                                                         \
                fprintf(stderr, "  FAIL %s (%s:%d): %s: ", test_cur_name, __FILE__, __LINE__,   \
                        #cond);                                                                    \
                fprintf(stderr, __VA_ARGS__);                                                      \
                fputc('\n', stderr);                                                               \
            }                                                                                      \
        }                                                                                          \
    } while (0)

// |a - b| <= tol, and neither is NaN
#define EXPECT_NEAR(a, b, tol)                                                                     \
    do {                                                                                           \
        double ea_ = (double)(a), eb_ = (double)(b);                                               \
        EXPECT(fabs(ea_ - eb_) <= (tol), "%s = %.9g, %s = %.9g, tol %.3g", #a, ea_, #b, eb_,       \
               (double)(tol));                                                                     \
    } while (0)

#define RUN(fn)                                                                                    \
    do {                                                                                           \
        test_cur_name = #fn;                                                                       \
        test_cur_failures = 0;                                                                     \
        fn();                                                                                      \
        if (test_cur_failures) {                                                                   \
            test_n_failed++;                                                                       \
            fprintf(stderr, "FAIL %s (%d failed checks)\n", #fn, test_cur_failures);               \
        } else {                                                                                   \
            test_n_passed++;                                                                       \
            printf("ok   %s\n", #fn);                                                              \
        }                                                                                          \
        fflush(stdout);                                                                            \
    } while (0)

// The whole file (malloc'd, NUL-terminated so text can be searched with strstr) and its length in
// *len, or NULL when it cannot be opened.
static inline unsigned char *test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)(n > 0 ? n : 0) + 1);
    if (!b) {
        fclose(f);
        return NULL;
    }
    size_t got = n > 0 ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    b[got] = '\0';
    *len = got;
    return b;
}

// A computation that must not depend on the OpenMP thread count: run with `threads` threads, it
// returns *n floats (malloc'd).
typedef float *(*test_threaded_fn)(int threads, size_t *n);
// Runs fn with 1 and with 2 threads (the count is restored after) and EXPECTs the same bits, all
// finite. Returns the first run's floats (the caller frees them), their count in *n (n may be NULL).
static inline float *expect_same_bits_across_threads(test_threaded_fn fn, size_t *n) {
    const int saved = omp_get_max_threads();
    size_t n1 = 0, n2 = 0;
    float *one = fn(1, &n1), *two = fn(2, &n2);
    omp_set_num_threads(saved);
    EXPECT(n1 == n2 && memcmp(one, two, n1 * sizeof(float)) == 0, "1 and 2 threads give different bits");
    size_t diff = 0;
    int finite = 1;
    for (size_t i = 0; i < n1 && n1 == n2; i++) {
        diff += memcmp(&one[i], &two[i], sizeof(float)) != 0;
        finite &= isfinite(one[i]) != 0;
    }
    if (diff) fprintf(stderr, "  %zu of %zu floats differ\n", diff, n1);
    EXPECT(finite, "non-finite values in the results");
    free(two);
    if (n) *n = n1;
    return one;
}

static inline int test_summary(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, test_n_passed, test_n_failed);
    return test_n_failed ? 1 : 0;
}

#endif
