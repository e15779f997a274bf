// test_rundir.c: the run-directory chores shared by the training loops (io/rundir.h) and the
// atomic text writes of io/atomic.h.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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
    char err[256];
    double e = -1;
    EXPECT(rundir_trim_metrics(path, "step", 5, &e, err, sizeof err) == 0 && e == 0.0, "a missing file trims to nothing");
    FILE *f = fopen(path, "w");
    fputs("{\"step\":0,\"val\":1,\"elapsed_s\":1.5}\n"
          "{\"step\":50,\"loss\":0.5,\"elapsed_s\":10}\n"
          "{\"steps_per_s\":3}\n"
          "{\"step\":100,\"loss\":0.4,\"elapsed_s\":20}\n"
          "{\"step\":150,\"loss\":0.3,\"elapsed_s\":30}\n",
          f);
    fclose(f);
    EXPECT(rundir_trim_metrics(path, "step", 100, &e, err, sizeof err) == 0, "%s", err);
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

// The lock: a second holder is refused with the first one's PID (a child process: flock locks
// belong to open file descriptions, so a second open in this process would conflict as well, but
// a real second training is another process); after unlock it can be taken again; taking it
// removes the temp files a killed writer left.
static void test_lock(void) {
    char sub[512], path[600], err[512];
    rundir_join(sub, sizeof sub, dir, "locked");
    EXPECT(rundir_mkdirs(sub, err, sizeof err) == 0, "%s", err);
    rundir_join(path, sizeof path, sub, "ckpt.safetensors.tmp.Ab3dE9");
    FILE *f = fopen(path, "w");
    fclose(f);
    rundir_join(path, sizeof path, sub, "notes.tmp.txt"); // not a temp file of ours
    f = fopen(path, "w");
    fclose(f);
    int busy = -1;
    const int fd = rundir_lock(sub, &busy, err, sizeof err);
    EXPECT(fd >= 0 && busy == 0, "%s", err);
    EXPECT(count_prefixed(sub, "ckpt.safetensors") == 0, "the stale temp file is still there");
    EXPECT(count_prefixed(sub, "notes.tmp.txt") == 1, "another file was removed");
    fflush(NULL);
    const pid_t child = fork();
    if (child == 0) {
        int b = 0;
        char e[512];
        const int fd2 = rundir_lock(sub, &b, e, sizeof e);
        char want[64];
        snprintf(want, sizeof want, "process %ld holds", (long)getppid());
        _exit(fd2 < 0 && b == 1 && strstr(e, want) && strstr(e, sub) && !strchr(e, '\n') ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a second holder was not refused with the PID");
    rundir_unlock(fd);
    const int fd3 = rundir_lock(sub, &busy, err, sizeof err);
    EXPECT(fd3 >= 0, "the lock could not be taken again: %s", err);
    rundir_unlock(fd3);
}

// The log: committed lines reach the file; a commit that fails leaves the file as it was.
static void test_log(void) {
    char path[600], err[512];
    rundir_join(path, sizeof path, dir, "log.jsonl");
    RunLog log;
    double e = -1;
    EXPECT(rundir_log_open(&log, path, "step", -1, &e, err, sizeof err) == 0 && e == 0.0, "%s", err);
    fprintf(log.f, "{\"step\":1,\"elapsed_s\":2}\n");
    EXPECT(rundir_log_commit(&log, err, sizeof err) == 0, "%s", err);
    fprintf(log.f, "{\"step\":2,\"elapsed_s\":3}\n");
    rundir_log_close(&log);
    rundir_log_close(&log); // twice is fine
    EXPECT(rundir_log_open(&log, path, "step", 1, &e, err, sizeof err) == 0 && e == 2.0, "%s (elapsed %g)", err, e);
    fprintf(log.f, "{\"step\":2,\"elapsed_s\":4}\n");
    EXPECT(rundir_log_commit(&log, err, sizeof err) == 0, "%s", err);
    rundir_log_close(&log);
    size_t len = 0;
    char *got = (char *)test_read_file(path, &len);
    EXPECT(got && strcmp(got, "{\"step\":1,\"elapsed_s\":2}\n{\"step\":2,\"elapsed_s\":4}\n") == 0, "'%s'", got);
    free(got);
    // a log on /dev/full: the commit fails with the path and ENOSPC's text
    if (rundir_log_open(&log, "/dev/full", "step", -1, &e, err, sizeof err) == 0) {
        fprintf(log.f, "{\"step\":1}\n");
        EXPECT(rundir_log_commit(&log, err, sizeof err) == -1 && strstr(err, "/dev/full") && strstr(err, "space"), "'%s'", err);
        rundir_log_close(&log);
    }
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/cgrpo_test_rundir_%d", (int)getpid());
    RUN(test_mkdirs_and_join);
    RUN(test_parent);
    RUN(test_fmt_duration);
    RUN(test_trim_metrics);
    RUN(test_atomic_write_text);
    RUN(test_lock);
    RUN(test_log);
    scratch_remove(dir);
    return test_summary("rundir");
}
