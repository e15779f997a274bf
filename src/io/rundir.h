// rundir.h: the small file chores every training loop's run directory needs (pretrain, encoder
// training, GRPO): paths, mkdir -p, durations for progress lines, and trimming the metrics log
// back to a checkpoint on resume.
#ifndef CGRPO_IO_RUNDIR_H
#define CGRPO_IO_RUNDIR_H

#include <stddef.h>
#include <stdio.h>

#define RUNDIR_LOCK_FILE ".lock"

// out = dir + "/" + file; dies (a bug) when it does not fit in len.
void rundir_join(char *out, size_t len, const char *dir, const char *file);
int rundir_exists(const char *path); // 1 when stat() succeeds
// out = the directory that holds path: "a/b/c" -> "a/b", "/c" -> "/", "c" -> "."; dies (a bug)
// when it does not fit in len.
void rundir_parent(char *out, size_t len, const char *path);
// The end of a message that stops a run: "the last good checkpoint (UNIT SAVED) is kept in CKPT",
// or "no checkpoint was written yet" when saved < 0.
void rundir_kept_note(char *buf, size_t len, const char *unit, long saved, const char *ckpt);
// mkdir -p dir. 0, or -1 with a one-line reason.
int rundir_mkdirs(const char *dir, char *err, size_t errlen);
// "7s", "3m05s", "2h14m"; "?" for a negative, NaN or absurd value.
void rundir_fmt_duration(char *buf, size_t len, double seconds);
// On resume: keep only the JSONL lines of path whose `"counter":N` is at most last (a run that
// died after its last checkpoint logged steps that will run again), replacing the file atomically
// (io/atomic.h). Lines without the counter are dropped. *elapsed: the "elapsed_s" of the last kept
// line (0 when none), so that the resumed run's clock continues. A missing file is no error.
// 0, or -1 with a one-line reason (the file is then as it was).
int rundir_trim_metrics(const char *path, const char *counter, long last, double *elapsed, char *err, size_t errlen);

// The metrics log of a run: whole lines only. Print one line into log->f (fully buffered with
// room for far more than a line, so nothing reaches the file yet), then rundir_log_commit writes
// it with one write() and checks the outcome. A failed write (a full disk, an I/O error) is cut
// off again (ftruncate to the end of the last committed line), so the file never ends in half a
// line, not even after a kill -9 (a single write of a few KiB to a regular file is not split).
typedef struct {
    FILE *f;
    const char *path; // borrowed
    long long good;   // the size of the file up to the last committed line
} RunLog;
// Open path: a new, empty log when last < 0; else trim it to the lines up to last
// (rundir_trim_metrics, *elapsed) and append. 0, or -1 with a one-line reason.
int rundir_log_open(RunLog *log, const char *path, const char *counter, long last, double *elapsed, char *err,
                    size_t errlen);
// Write the line(s) printed since the last commit. 0, or -1 with "cannot write PATH: REASON".
int rundir_log_commit(RunLog *log, char *err, size_t errlen);
void rundir_log_close(RunLog *log); // no-op on a log that is not open

// The run-directory lock: two trainings in one directory would overwrite each other's checkpoint
// and metrics. rundir_lock takes DIR/.lock with flock (exclusive, not waiting) and writes the
// holder's PID into it (for the message only). The kernel drops the lock when its holder exits or
// dies, even by SIGKILL, so a lock is never stale: a leftover .lock file is simply taken again.
// Once held, temp files that a killed writer left in DIR (NAME.tmp.XXXXXX, io/atomic.h) are
// removed. Returns the lock's descriptor (keep it open for the run), or -1 with a one-line reason:
// *busy = 1 when another process holds the lock (the reason names its PID), 0 for an I/O failure.
int rundir_lock(const char *dir, int *busy, char *err, size_t errlen);
void rundir_unlock(int fd); // closes fd (the lock goes with it); no-op for fd < 0
// Remove NAME.tmp.XXXXXX files in dir (a writer killed between its temp file and the rename).
void rundir_remove_temps(const char *dir);

#endif
