// check.c: the failure paths declared in check.h.
#include "check.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void cg_die_at(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "cgrpo: error: %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(CG_EXIT_RUNTIME);
}

void cg_check_failed(const char *file, int line, const char *cond, const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "cgrpo: error: %s:%d: check failed (%s): ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(CG_EXIT_RUNTIME);
}

void cg_usage(const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fputs("cgrpo: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(CG_EXIT_USAGE);
}

// A reason is one line even when it quotes input that holds line breaks (a CLI value, a file's
// text): they become spaces.
static void one_line(char *err) {
    for (char *c = err; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
}

int cg_errf(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        one_line(err);
    }
    return -1;
}

int cg_fail(int code, char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        one_line(err);
    }
    return code;
}

void *cg_malloc_at(size_t size, const char *file, int line) {
    void *p = malloc(size ? size : 1);
    if (!p) cg_die_at(file, line, "out of memory allocating %zu bytes", size);
    return p;
}

void *cg_calloc_at(size_t count, size_t size, const char *file, int line) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) cg_die_at(file, line, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *cg_realloc_at(void *p, size_t size, const char *file, int line) {
    void *q = realloc(p, size ? size : 1);
    if (!q) cg_die_at(file, line, "out of memory reallocating to %zu bytes", size);
    return q;
}

FILE *cg_fopen_at(const char *path, const char *mode, const char *file, int line) {
    FILE *f = fopen(path, mode);
    if (!f) cg_die_at(file, line, "cannot open '%s' (mode %s): %s", path, mode, strerror(errno));
    return f;
}

void cg_fread_at(void *dst, size_t size, size_t count, FILE *f, const char *file, int line) {
    size_t got = fread(dst, size, count, f);
    if (got != count)
        cg_die_at(file, line, "short read: wanted %zu items of %zu bytes, got %zu (%s)", count, size,
                  got, feof(f) ? "end of file" : strerror(errno));
}

void cg_fwrite_at(const void *src, size_t size, size_t count, FILE *f, const char *file, int line) {
    size_t put = fwrite(src, size, count, f);
    if (put != count)
        cg_die_at(file, line, "short write: wanted %zu items of %zu bytes, wrote %zu (%s)", count,
                  size, put, strerror(errno));
}

void cg_fclose_at(FILE *f, const char *file, int line) {
    if (fclose(f) != 0) cg_die_at(file, line, "fclose failed: %s", strerror(errno));
}

size_t cg_mul_size(size_t a, size_t b) {
    if (a != 0 && b > SIZE_MAX / a) cg_die("size overflow: %zu x %zu", a, b);
    return a * b;
}
