// atomic.h: write a whole text file so that a reader sees either the old file or the new one, never
// a half-written one: a temp file in the same directory, fsync, then rename over the target.
//
//   char err[256];
//   if (atomic_write_text("runs/x/report.md", md, err, sizeof err)) cg_die("%s", err);
//
// (Checkpoints go through io/safetensors and io/checkpoint, which write the same way.)
#ifndef CGRPO_IO_ATOMIC_H
#define CGRPO_IO_ATOMIC_H

#include <stddef.h>

// Write text (NUL-terminated) to path, mode 0666 & ~umask. 0, or -1 with a one-line reason naming
// path; on failure the temp file is removed and path is untouched.
int atomic_write_text(const char *path, const char *text, char *err, size_t errlen);
// The same for len bytes of any content (a PNG, a filtered log).
int atomic_write_bytes(const char *path, const void *data, size_t len, char *err, size_t errlen);

#endif
