// rundir.c: see rundir.h.
#include "io/rundir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/check.h"

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

double rundir_trim_metrics(const char *path, const char *counter, long last) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0.0;
    char tmp[4300], key[64];
    int k = snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CG_CHECK(k > 0 && (size_t)k < sizeof tmp, "path '%s' too long", path);
    k = snprintf(key, sizeof key, "\"%s\":", counter);
    CG_CHECK(k > 0 && (size_t)k < sizeof key, "counter name '%s' too long", counter);
    FILE *o = cg_fopen(tmp, "wb");
    const size_t cap = (size_t)1 << 20; // a line holds a few hundred numbers at most
    char *line = cg_malloc(cap);
    double elapsed = 0.0;
    while (fgets(line, (int)cap, f)) {
        const char *p = strstr(line, key);
        if (!p) continue;
        char *end;
        long v = strtol(p + strlen(key), &end, 10);
        if (end == p + strlen(key) || v > last) continue;
        fputs(line, o);
        const char *e = strstr(line, "\"elapsed_s\":");
        if (e) elapsed = strtod(e + 12, NULL);
    }
    free(line);
    fclose(f);
    cg_fclose(o);
    if (rename(tmp, path) != 0) cg_die("cannot replace %s: %s", path, strerror(errno));
    return elapsed;
}
