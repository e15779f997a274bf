// check.h: fail loudly. Two kinds of failure, kept apart on purpose:
//   - a bug or a failed system call  -> cg_die(...)   : "cgrpo: error: file:line: msg", exit 1
//   - bad usage or bad input by a user -> cg_usage(...): "cgrpo: msg", exit 2
// Library code that parses untrusted input (files, CLI strings) never exits: it returns -1 and
// writes a one-line reason into a caller-supplied buffer with cg_errf(), so that fuzzers and
// tests can drive it. The CLI layer turns that reason into cg_usage().
#ifndef CGRPO_CHECK_H
#define CGRPO_CHECK_H

#include <stddef.h>
#include <stdio.h>

#define CG_EXIT_RUNTIME 1
#define CG_EXIT_USAGE 2

// The outcome of a library call that can fail in two ways, returned with a one-line reason in the
// caller's err buffer: bad input (a config, a file, a stored run that does not fit) or a runtime
// failure (I/O, a diverged training). The CLI maps it to the exit status (cli_exit_code, cli/args.c:
// 0, 2 and 1). Functions with one failure kind return 0 / -1 with cg_errf instead.
typedef enum { CG_OK = 0, CG_EINPUT, CG_ERUNTIME } CgStatus;

#if defined(__GNUC__)
#define CG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define CG_NORETURN __attribute__((noreturn))
#else
#define CG_PRINTF(a, b)
#define CG_NORETURN
#endif

CG_NORETURN void cg_die_at(const char *file, int line, const char *fmt, ...) CG_PRINTF(3, 4);
CG_NORETURN void cg_check_failed(const char *file, int line, const char *cond, const char *fmt, ...)
    CG_PRINTF(4, 5);
CG_NORETURN void cg_usage(const char *fmt, ...) CG_PRINTF(1, 2);
// writes "fmt..." into err (if err != NULL; line breaks, e.g. of quoted input, become spaces, so
// that a reason is always one line), returns -1 so callers can `return cg_errf(...)`
int cg_errf(char *err, size_t errlen, const char *fmt, ...) CG_PRINTF(3, 4);
// the same, returning `code` (a CgStatus, e.g. `return cg_fail(CG_EINPUT, err, errlen, ...)`)
int cg_fail(int code, char *err, size_t errlen, const char *fmt, ...) CG_PRINTF(4, 5);

#define cg_die(...) cg_die_at(__FILE__, __LINE__, __VA_ARGS__)
// CG_CHECK(cond, "what was attempted %d", x): an internal invariant; dies with file:line.
#define CG_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) cg_check_failed(__FILE__, __LINE__, #cond, __VA_ARGS__);                      \
    } while (0)

// Wrapped libc calls (llm.c style): die with file:line, what was attempted and errno's text.
void *cg_malloc_at(size_t size, const char *file, int line);
void *cg_calloc_at(size_t count, size_t size, const char *file, int line);
void *cg_realloc_at(void *p, size_t size, const char *file, int line);
FILE *cg_fopen_at(const char *path, const char *mode, const char *file, int line);
void cg_fread_at(void *dst, size_t size, size_t count, FILE *f, const char *file, int line);
void cg_fwrite_at(const void *src, size_t size, size_t count, FILE *f, const char *file, int line);
void cg_fclose_at(FILE *f, const char *file, int line);
#define cg_malloc(size) cg_malloc_at((size), __FILE__, __LINE__)
#define cg_calloc(n, size) cg_calloc_at((n), (size), __FILE__, __LINE__)
#define cg_realloc(p, size) cg_realloc_at((p), (size), __FILE__, __LINE__)
#define cg_fopen(path, mode) cg_fopen_at((path), (mode), __FILE__, __LINE__)
#define cg_fread(dst, size, n, f) cg_fread_at((dst), (size), (n), (f), __FILE__, __LINE__)
#define cg_fwrite(src, size, n, f) cg_fwrite_at((src), (size), (n), (f), __FILE__, __LINE__)
#define cg_fclose(f) cg_fclose_at((f), __FILE__, __LINE__)

// size_t multiplication that dies on overflow (sizes read from files go through this)
size_t cg_mul_size(size_t a, size_t b);

#endif
