// shim_fail_write.c: an LD_PRELOAD library that makes file writes fail, for tests/cli_faults.sh
// (a full disk or a file system turning read-only in the middle of a run, without root or a
// loop device). Built by that script: cc -shared -fPIC -o shim.so tests/shim_fail_write.c -ldl
//
//   CGRPO_SHIM_ENOSPC_AFTER=N   file data beyond the first N bytes fails with ENOSPC (write,
//                               fwrite, and what fflush / fclose would write out of a stdio buffer)
//   CGRPO_SHIM_FAIL=OP:K[:ERR]  the K-th call of OP and every later one fails with ERR (ENOSPC by
//                               default, EROFS or EIO); OP: write (write and fwrite), fsync,
//                               rename or open (opening a file for writing: fopen "w"/"a"/"+",
//                               open with O_WRONLY, O_RDWR or O_CREAT, mkstemp)
// Only regular files count (never standard input, output or error). The failure is sticky, as a
// full disk stays full: "space is back" is the next run without the shim.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

enum { OP_WRITE, OP_FSYNC, OP_RENAME, OP_OPEN, N_OPS };
static const char *const OP_NAMES[N_OPS] = {"write", "fsync", "rename", "open"};

static int inited;
static long long budget = -1, used; // CGRPO_SHIM_ENOSPC_AFTER; bytes written so far
static int fail_op = -1, fail_errno = ENOSPC;
static long fail_at, calls[N_OPS];

static void init(void) {
    if (inited) return;
    inited = 1;
    const char *b = getenv("CGRPO_SHIM_ENOSPC_AFTER");
    if (b && *b) budget = atoll(b);
    const char *f = getenv("CGRPO_SHIM_FAIL");
    if (!f || !*f) return;
    for (int k = 0; k < N_OPS; k++) {
        const size_t n = strlen(OP_NAMES[k]);
        if (strncmp(f, OP_NAMES[k], n) == 0 && f[n] == ':') {
            fail_op = k;
            char *end;
            fail_at = strtol(f + n + 1, &end, 10);
            if (*end == ':') fail_errno = !strcmp(end + 1, "EROFS") ? EROFS : !strcmp(end + 1, "EIO") ? EIO : ENOSPC;
        }
    }
}

static int regular_fd(int fd) {
    struct stat st;
    return fd > 2 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
}

// 1 when this call of op must fail (errno is then set)
static int hit(int op) {
    init();
    if (op != fail_op) return 0;
    if (++calls[op] < fail_at) return 0;
    errno = fail_errno;
    return 1;
}

// 1 when n more bytes do not fit the budget (errno is then ENOSPC); else they are counted
static int over_budget(size_t n) {
    init();
    if (budget < 0) return 0;
    if (used + (long long)n > budget) {
        used = budget;
        errno = ENOSPC;
        return 1;
    }
    used += (long long)n;
    return 0;
}

#define REAL(ret, name, ...)                                                                       \
    static ret (*real)(__VA_ARGS__);                                                               \
    if (!real) real = (ret(*)(__VA_ARGS__))dlsym(RTLD_NEXT, name)

ssize_t write(int fd, const void *buf, size_t n) {
    REAL(ssize_t, "write", int, const void *, size_t);
    if (regular_fd(fd) && (hit(OP_WRITE) || over_budget(n))) return -1;
    return real(fd, buf, n);
}

size_t fwrite(const void *p, size_t size, size_t count, FILE *f) {
    REAL(size_t, "fwrite", const void *, size_t, size_t, FILE *);
    static int (*real_fflush)(FILE *);
    if (!real_fflush) real_fflush = (int (*)(FILE *))dlsym(RTLD_NEXT, "fflush");
    if (!regular_fd(fileno(f))) return real(p, size, count, f);
    // what the buffer holds was counted when it was put there (fflush below)
    if (hit(OP_WRITE) || over_budget(size * count)) return 0;
    const size_t k = real(p, size, count, f);
    real_fflush(f); // nothing of it stays in the buffer, where fflush would count it again
    return k;
}

// the bytes a stdio buffer holds (fprintf's output) meet the budget when they go out
static int pending_fails(FILE *f) {
    if (!f || !regular_fd(fileno(f)) || __fpending(f) == 0) return 0;
    if (!hit(OP_WRITE) && !over_budget(__fpending(f))) return 0;
    __fpurge(f);
    return 1;
}

int fflush(FILE *f) {
    REAL(int, "fflush", FILE *);
    if (pending_fails(f)) {
        errno = errno ? errno : ENOSPC;
        return EOF;
    }
    return real(f);
}

int fclose(FILE *f) {
    REAL(int, "fclose", FILE *);
    const int failed = pending_fails(f);
    const int e = errno;
    const int rc = real(f);
    if (failed) errno = e;
    return failed ? EOF : rc;
}

int fsync(int fd) {
    REAL(int, "fsync", int);
    if (regular_fd(fd) && hit(OP_FSYNC)) return -1;
    return real(fd);
}

int rename(const char *a, const char *b) {
    REAL(int, "rename", const char *, const char *);
    if (hit(OP_RENAME)) return -1;
    return real(a, b);
}

static int writes(const char *mode) { return strchr(mode, 'w') || strchr(mode, 'a') || strchr(mode, '+'); }

FILE *fopen(const char *path, const char *mode) {
    REAL(FILE *, "fopen", const char *, const char *);
    if (writes(mode) && hit(OP_OPEN)) return NULL;
    return real(path, mode);
}

FILE *fopen64(const char *path, const char *mode) {
    REAL(FILE *, "fopen64", const char *, const char *);
    if (writes(mode) && hit(OP_OPEN)) return NULL;
    return real(path, mode);
}

int mkstemp(char *tmpl) {
    REAL(int, "mkstemp", char *);
    if (hit(OP_OPEN)) return -1;
    return real(tmpl);
}

int mkstemp64(char *tmpl) {
    REAL(int, "mkstemp64", char *);
    if (hit(OP_OPEN)) return -1;
    return real(tmpl);
}

static int open_writes(int flags) { return (flags & (O_WRONLY | O_RDWR | O_CREAT)) != 0; }

int open(const char *path, int flags, ...) {
    REAL(int, "open", const char *, int, ...);
    va_list ap;
    va_start(ap, flags);
    const mode_t mode = (flags & O_CREAT) ? (mode_t)va_arg(ap, int) : 0;
    va_end(ap);
    if (open_writes(flags) && hit(OP_OPEN)) return -1;
    return real(path, flags, mode);
}
// on 64-bit Linux open64 is open (off_t is 64 bits): the same checks, the real open
int open64(const char *path, int flags, ...) __attribute__((alias("open")));
