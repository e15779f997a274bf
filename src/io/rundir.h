// rundir.h: the small file chores every training loop's run directory needs (pretrain, encoder
// training, GRPO): paths, mkdir -p, durations for progress lines, and trimming the metrics log
// back to a checkpoint on resume.
#ifndef CGRPO_IO_RUNDIR_H
#define CGRPO_IO_RUNDIR_H

#include <stddef.h>

// out = dir + "/" + file; dies (a bug) when it does not fit in len.
void rundir_join(char *out, size_t len, const char *dir, const char *file);
int rundir_exists(const char *path); // 1 when stat() succeeds
// out = the directory that holds path: "a/b/c" -> "a/b", "/c" -> "/", "c" -> "."; dies (a bug)
// when it does not fit in len.
void rundir_parent(char *out, size_t len, const char *path);
// mkdir -p dir. 0, or -1 with a one-line reason.
int rundir_mkdirs(const char *dir, char *err, size_t errlen);
// "7s", "3m05s", "2h14m"; "?" for a negative, NaN or absurd value.
void rundir_fmt_duration(char *buf, size_t len, double seconds);
// On resume: keep only the JSONL lines of path whose `"counter":N` is at most last (a run that
// died after its last checkpoint logged steps that will run again), replacing the file atomically.
// Lines without the counter are dropped. Returns the "elapsed_s" of the last kept line (0 when
// none), so that the resumed run's clock continues. A missing file is no error (returns 0).
double rundir_trim_metrics(const char *path, const char *counter, long last);

#endif
