// rundir.c: see rundir.h.
#include "io/rundir.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "core/strbuf.h"
#include "io/atomic.h"

void rundir_join(char *out, size_t len, const char *dir, const char *file) {
    int k = snprintf(out, len, "%s/%s", dir, file);
    CG_CHECK(k >= 0 && (size_t)k < len, "path '%s/%s' too long", dir, file);
}

void rundir_parent(char *out, size_t len, const char *path) {
    const char *slash = strrchr(path, '/');
    const int n = !slash ? 1 : slash == path ? 1 : (int)(slash - path);
    const int k = snprintf(out, len, "%.*s", n, slash ? path : ".");
    CG_CHECK(k >= 0 && (size_t)k < len, "the directory of '%s' is too long", path);
}

int rundir_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

void rundir_kept_note(char *buf, size_t len, const char *unit, long saved, const char *ckpt) {
    if (saved >= 0) snprintf(buf, len, "the last good checkpoint (%s %ld) is kept in %s", unit, saved, ckpt);
    else snprintf(buf, len, "no checkpoint was written yet");
}

int rundir_mkdirs(const char *dir, char *err, size_t errlen) {
    char buf[4096];
    if (strlen(dir) >= sizeof buf) return cg_errf(err, errlen, "directory path is too long");
    strcpy(buf, dir);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return cg_errf(err, errlen, "cannot create directory '%s': %s", buf, strerror(errno));
            *p = c;
            if (c == '\0') break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) return cg_errf(err, errlen, "'%s' is not a directory", dir);
    return 0;
}

void rundir_fmt_duration(char *buf, size_t len, double s) {
    if (!(s >= 0) || s > 1e8) {
        snprintf(buf, len, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, len, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else if (t >= 60) snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, len, "%lds", t);
}

int rundir_trim_metrics(const char *path, const char *counter, long last, double *elapsed, char *err, size_t errlen) {
    *elapsed = 0.0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char key[64];
    int k = snprintf(key, sizeof key, "\"%s\":", counter);
    CG_CHECK(k > 0 && (size_t)k < sizeof key, "counter name '%s' too long", counter);
    StrBuf kept = {0};
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) >= 0) {
        const char *p = strstr(line, key);
        if (!p) continue;
        char *end;
        long v = strtol(p + strlen(key), &end, 10);
        if (end == p + strlen(key) || v > last) continue;
        strbuf_printf(&kept, "%s", line);
        const char *e = strstr(line, "\"elapsed_s\":");
        if (e) *elapsed = strtod(e + 12, NULL);
    }
    const int bad = ferror(f);
    free(line);
    fclose(f);
    int rc = bad ? cg_errf(err, errlen, "cannot read %s", path) : atomic_write_bytes(path, kept.s ? kept.s : "", kept.len, err, errlen);
    free(kept.s);
    return rc;
}

int rundir_log_open(RunLog *log, const char *path, const char *counter, long last, double *elapsed, char *err,
                    size_t errlen) {
    memset(log, 0, sizeof *log);
    *elapsed = 0.0;
    if (last >= 0 && rundir_trim_metrics(path, counter, last, elapsed, err, errlen)) return -1;
    FILE *f = fopen(path, last >= 0 ? "ab" : "wb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        const int e = errno;
        if (f) fclose(f);
        return cg_errf(err, errlen, "cannot open %s: %s", path, strerror(e));
    }
    setvbuf(f, NULL, _IOFBF, (size_t)1 << 16); // a line stays in memory until the commit
    log->f = f, log->path = path, log->good = (long long)st.st_size;
    return 0;
}

int rundir_log_commit(RunLog *log, char *err, size_t errlen) {
    if (fflush(log->f) == 0 && !ferror(log->f)) {
        log->good = (long long)ftello(log->f);
        return 0;
    }
    const int e = errno ? errno : EIO;
    __fpurge(log->f); // drop what did not get out, then cut off what did
    clearerr(log->f);
    if (ftruncate(fileno(log->f), (off_t)log->good) == 0) (void)fseeko(log->f, (off_t)log->good, SEEK_SET);
    return cg_errf(err, errlen, "cannot write %s: %s", log->path, strerror(e));
}

void rundir_log_close(RunLog *log) {
    if (log->f) fclose(log->f);
    log->f = NULL;
}

// NAME.tmp.XXXXXX: what mkstemp makes of "NAME.tmp.XXXXXX" (io/atomic.c, io/safetensors.c)
static int is_temp_name(const char *name) {
    const char *t = strstr(name, ".tmp.");
    if (!t || t == name || strlen(t) != 11) return 0;
    for (const char *c = t + 5; *c; c++)
        if (!isalnum((unsigned char)*c)) return 0;
    return 1;
}

void rundir_remove_temps(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char path[4400];
    for (struct dirent *e; (e = readdir(d));) {
        if (!is_temp_name(e->d_name)) continue;
        rundir_join(path, sizeof path, dir, e->d_name);
        (void)unlink(path);
    }
    closedir(d);
}

int rundir_lock(const char *dir, int *busy, char *err, size_t errlen) {
    char path[4200];
    rundir_join(path, sizeof path, dir, RUNDIR_LOCK_FILE);
    *busy = 0;
    const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return cg_errf(err, errlen, "cannot create the lock file %s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        char pid[32] = "";
        const ssize_t n = e == EWOULDBLOCK ? pread(fd, pid, sizeof pid - 1, 0) : 0;
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        if (e != EWOULDBLOCK) return cg_errf(err, errlen, "cannot lock %s: %s", path, strerror(e));
        *busy = 1;
        return cg_errf(err, errlen, "%s is in use by another training (process %s holds %s); wait for it to end or "
                       "choose another directory", dir, pid[0] ? pid : "?", path);
    }
    char pid[32];
    const int k = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    const int wrote = ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)k, 0) == k; // for messages only
    (void)wrote;
    rundir_remove_temps(dir);
    return fd;
}

void rundir_unlock(int fd) {
    if (fd >= 0) close(fd);
}
