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
    int ok = f != NULL;
    if (!f) close(fd);
    const size_t n = strlen(text);
    if (ok) ok = fwrite(text, 1, n, f) == n && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) != 0) ok = 0;
    if (!ok) {
        cg_errf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(tmp);
    return ok ? 0 : -1;
}
