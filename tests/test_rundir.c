// test_rundir.c: the run-directory chores shared by the training loops (io/rundir.h) and the
// atomic text writes of io/atomic.h.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/atomic.h"
#include "io/rundir.h"
#include "scratch.h"
#include "test.h"

static char dir[256];

static void test_mkdirs_and_join(void) {
    char path[512], err[256];
    rundir_join(path, sizeof path, dir, "a/b/c");
    EXPECT(rundir_mkdirs(path, err, sizeof err) == 0, "mkdirs: %s", err);
    EXPECT(rundir_exists(path), "%s was not created", path);
    EXPECT(rundir_mkdirs(path, err, sizeof err) == 0, "mkdirs of an existing directory: %s", err);
    char file[600];
    rundir_join(file, sizeof file, path, "f");
    FILE *f = fopen(file, "w");
    fputs("x", f);
    fclose(f);
    EXPECT(rundir_mkdirs(file, err, sizeof err) != 0 && strstr(err, "not a directory"), "a file is not a dir: '%s'", err);
}

static void test_parent(void) {
    const char *cases[][2] = {{"a/b/c.safetensors", "a/b"}, {"/c", "/"}, {"c", "."}, {"/x/y", "/x"}, {"a/", "a"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[64];
        rundir_parent(out, sizeof out, cases[i][0]);
        EXPECT(strcmp(out, cases[i][1]) == 0, "parent of '%s' is '%s', expected '%s'", cases[i][0], out, cases[i][1]);
    }
}

static void test_fmt_duration(void) {
    char b[32];
    rundir_fmt_duration(b, sizeof b, 7.2);
    EXPECT(strcmp(b, "7s") == 0, "%s", b);
    rundir_fmt_duration(b, sizeof b, 185);
    EXPECT(strcmp(b, "3m05s") == 0, "%s", b);
    rundir_fmt_duration(b, sizeof b, 2 * 3600 + 14 * 60 + 10);
    EXPECT(strcmp(b, "2h14m") == 0, "%s", b);
    rundir_fmt_duration(b, sizeof b, -1);
    EXPECT(strcmp(b, "?") == 0, "%s", b);
    rundir_fmt_duration(b, sizeof b, NAN);
    EXPECT(strcmp(b, "?") == 0, "%s", b);
}

static void test_trim_metrics(void) {
    char path[512];
    rundir_join(path, sizeof path, dir, "metrics.jsonl");
    EXPECT(rundir_trim_metrics(path, "step", 5) == 0.0, "a missing file trims to nothing");
    FILE *f = fopen(path, "w");
    fputs("{\"step\":0,\"val\":1,\"elapsed_s\":1.5}\n"
          "{\"step\":50,\"loss\":0.5,\"elapsed_s\":10}\n"
          "{\"steps_per_s\":3}\n"
          "{\"step\":100,\"loss\":0.4,\"elapsed_s\":20}\n"
          "{\"step\":150,\"loss\":0.3,\"elapsed_s\":30}\n",
          f);
    fclose(f);
    double e = rundir_trim_metrics(path, "step", 100);
    EXPECT(e == 20.0, "elapsed of the last kept line: %g", e);
    f = fopen(path, "r");
    char buf[1024] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    EXPECT(strcmp(buf, "{\"step\":0,\"val\":1,\"elapsed_s\":1.5}\n{\"step\":50,\"loss\":0.5,\"elapsed_s\":10}\n"
                      "{\"step\":100,\"loss\":0.4,\"elapsed_s\":20}\n") == 0,
           "kept:\n%s", buf);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    EXPECT(!rundir_exists(tmp), "temp file left behind");
}

// Files in directory d whose name starts with prefix.
static int count_prefixed(const char *d, const char *prefix) {
    DIR *dp = opendir(d);
    int n = 0;
    for (struct dirent *e; dp && (e = readdir(dp));) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    if (dp) closedir(dp);
    return n;
}

static void test_atomic_write_text(void) {
    char sub[512], path[600], err[256];
    rundir_join(sub, sizeof sub, dir, "atomic");
    EXPECT(rundir_mkdirs(sub, err, sizeof err) == 0, "%s", err);
    rundir_join(path, sizeof path, sub, "r.md");
    EXPECT(atomic_write_text(path, "first\n", err, sizeof err) == 0, "%s", err);
    EXPECT(atomic_write_text(path, "second, longer\n", err, sizeof err) == 0, "%s", err);
    size_t len = 0;
    char *got = (char *)test_read_file(path, &len);
    EXPECT(got && len == 15 && memcmp(got, "second, longer\n", 15) == 0, "replaced whole: '%s'", got ? got : "(none)");
    free(got);
    EXPECT(count_prefixed(sub, "r.md") == 1, "a temp file was left next to %s", path);
    // a directory that does not exist: -1, a one-line reason naming the path, nothing created
    rundir_join(path, sizeof path, sub, "missing/r.md");
    err[0] = '\0';
    EXPECT(atomic_write_text(path, "x", err, sizeof err) == -1 && strstr(err, path) && !strchr(err, '\n'), "'%s'", err);
    // the target is a directory: rename fails, the temp file is removed
    EXPECT(atomic_write_text(sub, "x", err, sizeof err) == -1 && strstr(err, sub), "'%s'", err);
    EXPECT(count_prefixed(dir, "atomic.tmp") == 0, "a temp file was left after a failed write");
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/cgrpo_test_rundir_%d", (int)getpid());
    RUN(test_mkdirs_and_join);
    RUN(test_parent);
    RUN(test_fmt_duration);
    RUN(test_trim_metrics);
    RUN(test_atomic_write_text);
    scratch_remove(dir);
    return test_summary("rundir");
}
