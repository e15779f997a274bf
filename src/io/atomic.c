// atomic.c: whole-file atomic text writes. See atomic.h.
#include "io/atomic.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"

int atomic_write_text(const char *path, const char *text, char *err, size_t errlen) {
    return atomic_write_bytes(path, text, strlen(text), err, errlen);
}

int atomic_write_bytes(const char *path, const void *data, size_t n, char *err, size_t errlen) {
    const size_t len = strlen(path);
    char *tmp = cg_malloc(len + 16);
    snprintf(tmp, len + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        cg_errf(err, errlen, "cannot create a temp file next to %s: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    const mode_t mask = umask(0); // mkstemp makes 0600; give the file the usual 0666 & ~umask
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
    FILE *f = fdopen(fd, "wb");
    int e = 0; // the first failure's errno
    if (!f) e = errno, close(fd);
    else if (fwrite(data, 1, n, f) != n || fflush(f) != 0 || fsync(fileno(f)) != 0) e = errno ? errno : EIO;
    if (f && fclose(f) != 0 && !e) e = errno ? errno : EIO;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) {
        cg_errf(err, errlen, "cannot write %s: %s", path, strerror(e));
        unlink(tmp);
    }
    free(tmp);
    return e ? -1 : 0;
}
