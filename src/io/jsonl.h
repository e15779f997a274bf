// jsonl.h: numeric columns from a JSONL metrics file (one JSON object per line), through cJSON.
// Blank lines are skipped. A row is made of every line that has ALL the requested keys (other
// lines are skipped); a number gives its value, null gives NaN (a gap in a plot). Any other value
// (string, bool, object, array) under a requested key is an error, as is a line that is not a
// JSON object; the message names the line number ("metrics.jsonl:7: ...").
#ifndef CGRPO_IO_JSONL_H
#define CGRPO_IO_JSONL_H

#include <stddef.h>
#include <stdio.h>

// keys (n_keys,) -> *cols, a new malloc'd (n_keys, *n_rows) column-major table: column k is
// (*cols)[k * *n_rows ...]. n_seen (n_keys,), optional: how many lines had each key, so a caller
// can tell "never present" from "never together". Returns 0, or -1 with a reason in err (then
// *cols is NULL).
int cg_jsonl_read_columns(const char *path, const char *const *keys, int n_keys, double **cols, size_t *n_rows,
                          size_t *n_seen, char *err, size_t errlen);

// The same on an open stream (a file, or fmemopen'd bytes for the fuzzer); `what` names it in
// messages. The caller closes f.
int cg_jsonl_read_columns_file(FILE *f, const char *what, const char *const *keys, int n_keys, double **cols,
                               size_t *n_rows, size_t *n_seen, char *err, size_t errlen);

#endif
