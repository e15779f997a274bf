// args.c: exit codes and number parsing for the CLI; every malformed value is a one-line usage error
// (exit 2).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "cli/cli.h"
#include "core/check.h"
#include "io/rundir.h"

int cli_exit_code(CgStatus st) {
    switch (st) {
    case CG_OK: return 0;
    case CG_EINPUT: return CG_EXIT_USAGE;
    case CG_ERUNTIME: return CG_EXIT_RUNTIME;
    }
    return CG_EXIT_RUNTIME;
}

int cli_finish(CgStatus st, const char *what, const char *err) {
    if (st != CG_OK) {
        fflush(stdout);
        fprintf(stderr, "cgrpo: %s%s\n", what, err);
    }
    return cli_exit_code(st);
}

long cli_parse_long(const char *flag, const char *value, long lo, long hi) {
    if (!value) cg_usage("%s needs a value", flag);
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end != '\0')
        cg_usage("%s: '%s' is not an integer", flag, value);
    if (v < lo || v > hi) cg_usage("%s: %ld is out of range [%ld, %ld]", flag, v, lo, hi);
    return v;
}

double cli_parse_double(const char *flag, const char *value, double lo, double hi) {
    if (!value) cg_usage("%s needs a value", flag);
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    if (errno || end == value || *end != '\0' || !isfinite(v))
        cg_usage("%s: '%s' is not a finite number", flag, value);
    if (v < lo || v > hi) cg_usage("%s: %g is out of range [%g, %g]", flag, v, lo, hi);
    return v;
}

int cli_is_help(const char *arg) { return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0; }

void cli_check_file_dest(const char *flag, const char *path) {
    const size_t n = strlen(path);
    if (n == 0 || path[n - 1] == '/') cg_usage("%s %s: names a directory, not a file", flag, path);
    char dir[4096];
    rundir_parent(dir, sizeof dir, path);
    if (access(dir, W_OK | X_OK) != 0)
        cg_usage("%s %s: directory %s does not exist or is not writable (%s)", flag, path, dir, strerror(errno));
}
