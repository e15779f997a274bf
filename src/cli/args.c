// args.c: exit codes, number parsing and option tables for the CLI; every malformed value is a
// one-line usage error (exit 2).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "cli/cli.h"
#include "core/check.h"
#include "io/rundir.h"
#include "world/world.h"

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

TestFault cli_test_fault(const char *command, unsigned allowed) {
    TestFault f = {FAULT_NONE, 0, 0.0f};
    const char *env = getenv(FAULT_ENV);
    if (!env || !env[0]) return f;
    char err[256];
    if (fault_parse(env, &f, err, sizeof err)) cg_usage("%s: %s: %s", command, FAULT_ENV, err);
    if (!(allowed & (1u << f.kind))) cg_usage("%s: %s: %s has no such value", command, FAULT_ENV, command);
    return f;
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

void cli_parse_split(const char *flag, const char *value, void *dst) {
    (void)flag;
    int *split = dst;
    *split = world_split_from_name(value);
    if (*split < 0) cg_usage("--split: '%s' is not a split (train, val or test)", value);
}

// ---- option tables ---------------------------------------------------------------------------------

static const CliOpt *find_opt(const CliOpt *opts, int n, const char *a) {
    for (int k = 0; k < n; k++)
        if (strcmp(a, opts[k].name) == 0) return &opts[k];
    return NULL;
}

static void set_opt(const CliOpt *o, const char *a, const char *v) {
    switch (o->kind) {
    case CLI_STR: *(const char **)o->dst = v; break;
    case CLI_LONG: *(long *)o->dst = cli_parse_long(a, v, o->lo, o->hi); break;
    case CLI_INT: *(int *)o->dst = (int)cli_parse_long(a, v, o->lo, o->hi); break;
    case CLI_DOUBLE: *(double *)o->dst = cli_parse_double(a, v, o->dlo, o->dhi); break;
    case CLI_FN: o->fn(a, v, o->dst); break;
    case CLI_FLAG: *(int *)o->dst = 1; break;
    }
    if (o->given) *o->given = 1;
}

static void needs_value(const CliCommand *c, const char *a) {
    cg_usage("%s%s%s needs a value%s", c->needs_bare ? "" : c->name, c->needs_bare ? "" : ": ", a,
             c->needs_hint ? c->needs_hint : "");
}

static void unknown_option(const CliCommand *c, const char *a) {
    if (c->keys)
        cg_usage("%s: unknown option '%s' (nearest %s: --%s; see cgrpo %s --help)", c->name, a, c->key_word,
                 config_nearest(c->keys, c->n_keys, a + 2), c->name);
    cg_usage("%s: unknown option '%s'%s", c->name, a, c->unknown_hint ? c->unknown_hint : "");
}

void cli_parse(const CliCommand *c, const CliOpt *opts, int n, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_is_help(a)) {
            if (c->usage) fputs(c->usage, stdout);
            else c->print_usage(stdout);
            if (c->key_defaults) config_print_help(stdout, c->key_defaults, c->keys, c->n_keys, c->key_width);
            exit(0);
        }
        const CliOpt *o = find_opt(opts, n, a);
        if (o && o->kind == CLI_FLAG) {
            set_opt(o, a, NULL);
            continue;
        }
        if (strncmp(a, "--", 2) != 0 && c->positional) {
            c->positional[(*c->n_positional)++] = a;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 && c->no_positional)
            cg_usage("%s: unexpected argument '%s' (see cgrpo %s --help)", c->name, a, c->name);
        const int is_key = !o && c->keys && strncmp(a, "--", 2) == 0 && config_find(c->keys, c->n_keys, a + 2);
        if (!v && !c->lookup_first) needs_value(c, a);
        if (!o && !is_key) unknown_option(c, a);
        if (!v) needs_value(c, a);
        if (o) set_opt(o, a, v);
        else {
            if (*c->n_over == c->max_over) cg_usage("%s: more than %d %s", c->name, c->max_over, c->over_word);
            c->over_key[*c->n_over] = a + 2, c->over_val[*c->n_over] = v, (*c->n_over)++;
        }
        i++;
    }
}

// ---- commands over a config key table --------------------------------------------------------------

void cli_parse_run(CliRun *r, const char *name, const char *usage, const ConfigKey *keys, int nk, const void *defaults,
                   int key_width, const CliOpt *opts, int n, int argc, char **argv) {
    memset(r, 0, sizeof *r);
    CliOpt all[32];
    const CliOpt common[] = {CLI_F("--quiet", &r->quiet), CLI_F("--print-config", &r->print_config),
                             CLI_S("--out", &r->out), CLI_S("--resume", &r->resume), CLI_S("--config", &r->config)};
    const int nc = (int)(sizeof common / sizeof common[0]);
    CG_CHECK(n + nc <= (int)(sizeof all / sizeof all[0]), "%d options", n);
    memcpy(all, common, sizeof common);
    memcpy(all + nc, opts, (size_t)n * sizeof *opts);
    const CliCommand cmd = {.name = name, .usage = usage, .lookup_first = 1, .no_positional = 1, .keys = keys,
                            .n_keys = nk, .key_word = "key", .key_defaults = defaults, .key_width = key_width,
                            .over_key = r->over_key, .over_val = r->over_val, .n_over = &r->n_over,
                            .max_over = CLI_MAX_OVERRIDES, .over_word = "options"};
    cli_parse(&cmd, all, nc + n, argc, argv);
    if (r->out && r->resume) cg_usage("%s: give --out DIR for a new run or --resume DIR to continue one, not both", name);
}

void cli_apply_overrides(void *cfg, const void *stored, const ConfigKey *keys, int nk, const char *const *over_key,
                         const char *const *over_val, int n, const char *resume, int (*resumable)(const char *key),
                         const char *resumable_text, size_t errlen) {
    char err[4096];
    const int shown = (int)(errlen < sizeof err ? errlen : sizeof err) - 1;
    for (int i = 0; i < n; i++) {
        if (config_set(cfg, keys, nk, over_key[i], over_val[i], err, sizeof err))
            cg_usage("--%s: %.*s", over_key[i], shown, err);
        const ConfigKey *k = config_find(keys, nk, over_key[i]);
        if (resume && !resumable(k->key) && !config_same(cfg, stored, k)) {
            char have[CONFIG_MAX_VALUE];
            config_format(have, sizeof have, stored, k);
            cg_usage("cannot resume with --%s %s: the run in %s has %s = %s (a resumed run may change only %s)",
                     over_key[i], over_val[i], resume, k->key, have, resumable_text);
        }
    }
}
