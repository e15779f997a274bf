// scratch.h: scratch directories and files for the test programs. Header-only (static inline),
// like test.h, because only test programs use it.
//
//   static char g_template[] = "/tmp/cgrpo_x_test.XXXXXX";
//   const char *dir = scratch_dir(g_template);   // a fresh directory, or die
//   ...
//   scratch_remove(dir);                         // it and everything below it
#ifndef CGRPO_TESTS_SCRATCH_H
#define CGRPO_TESTS_SCRATCH_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "test.h"

// mkdtemp of a template ending in XXXXXX (changed in place); dies when it cannot be made.
static inline char *scratch_dir(char *tmpl) {
    char *d = mkdtemp(tmpl);
    CG_CHECK(d != NULL, "cannot create a scratch directory from %s", tmpl);
    return d;
}

// Number of entries (other than . and ..) in a directory, -1 when it cannot be opened.
static inline int scratch_count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

// Removes everything below dir, read-only directories too; dir itself stays.
static inline void scratch_clear(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    char p[4200];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) >= (int)sizeof p) continue; // too long: not ours
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            chmod(p, 0755);
            scratch_clear(p);
            rmdir(p);
        } else {
            unlink(p);
        }
    }
    closedir(d);
}

// Removes dir and everything below it.
static inline void scratch_remove(const char *dir) {
    scratch_clear(dir);
    if (rmdir(dir) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

// Writes len bytes to path; dies on failure.
static inline void scratch_write(const char *path, const void *b, size_t len) {
    FILE *f = cg_fopen(path, "wb");
    if (len) cg_fwrite(b, 1, len, f);
    cg_fclose(f);
}

// 1 when both files can be read and hold the same bytes.
static inline int scratch_same_file(const char *a, const char *b) {
    size_t la = 0, lb = 0;
    unsigned char *x = test_read_file(a, &la), *y = test_read_file(b, &lb);
    const int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x), free(y);
    return same;
}

// Is s one non-empty line? (Every error reason is.)
static inline int one_line(const char *s) { return s[0] != '\0' && strchr(s, '\n') == NULL; }

#endif
