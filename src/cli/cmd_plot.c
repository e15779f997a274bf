// cmd_plot.c: `cgrpo plot`: PNG figures without Python.
//   --jsonl: training curves, one line per (metrics file, key), x from a key such as "step";
//   --scatter: a CSV of labelled points with optional error bars (the identity-vs-prompt Pareto
//   plot of the benchmark). Drawing is src/eval/plot.h, reading src/io/jsonl.h.
// Every problem with the input (missing file, absent key, malformed line, unwritable output) is
// one line on stderr and exit 2.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/check.h"
#include "eval/plot.h"
#include "io/jsonl.h"

#define MAX_LIST 64 // files, keys, labels, scatter groups

static const char *USAGE =
    "usage: cgrpo plot --jsonl FILE[,FILE...] --y KEY[,KEY...] --out FILE.png [options]\n"
    "       cgrpo plot --scatter FILE.csv --out FILE.png [options]\n"
    "  --jsonl F,...   metrics files, one JSON object per line; draws one line per (file, key).\n"
    "                  Lines without the x or y key are skipped; a null (or NaN) y breaks the line\n"
    "  --x KEY         the x value (default step)\n"
    "  --y K,...       the keys to plot\n"
    "  --label L,...   legend names, one per line, files outer, keys inner (default: the key, the\n"
    "                  file name, or file:key)\n"
    "  --scatter F     CSV: a header line, then label,x,y[,xerr,yerr] per point (labels without\n"
    "                  commas); points with the same label share colour and marker; the header's\n"
    "                  2nd and 3rd names are the default axis titles\n"
    "  --title T  --xlabel T  --ylabel T     texts (ASCII)\n"
    "  --logy          log10 y axis; values <= 0 are left out\n"
    "  --xmin V --xmax V --ymin V --ymax V   fixed ranges (both ends of an axis)\n"
    "  --width W --height H                  pixels, 160..4096 (default 640 x 400)\n"
    "  --out FILE.png  the figure\n";

typedef struct {
    char *items[MAX_LIST];
    int n;
} List;

static char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(cg_malloc(n), s, n);
}

// "a,b,c" -> items, pointers into one copy of the text (items[0], freed by list_free)
static List split_list(const char *flag, const char *v) {
    List l = {{0}, 0};
    char *s = xstrdup(v);
    for (char *p = s;; p++) {
        char *comma = strchr(p, ',');
        if (l.n == MAX_LIST) cg_usage("%s: at most %d items", flag, MAX_LIST);
        if (comma) *comma = '\0';
        if (*p == '\0') cg_usage("%s: empty item in '%s'", flag, v);
        l.items[l.n++] = p;
        if (!comma) break;
        p = comma;
    }
    return l;
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) s[--n] = '\0';
    return s;
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

// a short name for a metrics file: its name without ".jsonl", or its folder's name when all the
// files have the same name (runs/a/metrics.jsonl, runs/b/metrics.jsonl -> a, b)
static char *file_tag(const char *path, int use_dir) {
    char *s = xstrdup(path);
    size_t n = strlen(s);
    if (use_dir) {
        while (n > 1 && s[n - 1] == '/') s[--n] = '\0';
        char *slash = strrchr(s, '/');
        if (!slash) return s; // no folder: keep the file name
        *slash = '\0';
        memmove(s, base_name(s), strlen(base_name(s)) + 1);
        return s;
    }
    memmove(s, base_name(s), strlen(base_name(s)) + 1);
    n = strlen(s);
    if (n > 6 && strcmp(s + n - 6, ".jsonl") == 0) s[n - 6] = '\0';
    return s;
}

static int count_plottable(const PlotSeries *s, int ns, int logy) {
    int n = 0;
    for (int k = 0; k < ns; k++)
        for (int i = 0; i < s[k].n; i++) n += isfinite(s[k].x[i]) && isfinite(s[k].y[i]) && (!logy || s[k].y[i] > 0);
    return n;
}

static int load_jsonl(PlotSpec *sp, PlotSeries *series, const List *files, const char *xkey, const List *ykeys,
                      const List *labels) {
    int ns = files->n * ykeys->n, same_names = files->n > 1;
    if (ns > MAX_LIST) cg_usage("plot: %d lines (files x keys) is more than %d", ns, MAX_LIST);
    if (labels->n && labels->n != ns) cg_usage("--label: %d names for %d lines", labels->n, ns);
    for (int f = 1; f < files->n; f++)
        same_names &= strcmp(base_name(files->items[f]), base_name(files->items[0])) == 0;
    char err[512];
    for (int f = 0; f < files->n; f++)
        for (int k = 0; k < ykeys->n; k++) {
            const char *path = files->items[f], *ykey = ykeys->items[k], *keys[2] = {xkey, ykey};
            double *cols;
            size_t n, seen[2];
            if (cg_jsonl_read_columns(path, keys, 2, &cols, &n, seen, err, sizeof(err)) != 0) cg_usage("%s", err);
            if (seen[1] == 0) cg_usage("%s: no line has the key '%s'", path, ykey);
            if (seen[0] == 0) cg_usage("%s: no line has the x key '%s'", path, xkey);
            if (n == 0) cg_usage("%s: no line has both '%s' and '%s'", path, xkey, ykey);
            if (n > (size_t)(1 << 30)) cg_usage("%s: too many lines", path);
            PlotSeries *s = &series[f * ykeys->n + k];
            *s = (PlotSeries){NULL, cols, cols + n, NULL, NULL, NULL, (int)n, PLOT_STYLE_LINE, -1, -1};
            if (labels->n) {
                s->label = xstrdup(labels->items[f * ykeys->n + k]);
            } else if (files->n > 1) {
                char *tag = file_tag(path, same_names), *l = tag;
                if (ykeys->n > 1) {
                    l = cg_malloc(strlen(tag) + strlen(ykey) + 2);
                    sprintf(l, "%s:%s", tag, ykey);
                    free(tag);
                }
                s->label = l;
            } else {
                s->label = xstrdup(ykey);
            }
        }
    if (!sp->xlabel) sp->xlabel = xkey;
    if (!sp->ylabel && ykeys->n == 1) sp->ylabel = ykeys->items[0];
    sp->legend = ns > 1 || labels->n > 0;
    return ns;
}

static double parse_field(const char *path, size_t line, const char *what, char *field, int nonneg) {
    char *end = NULL, *s = trim(field);
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v))
        cg_usage("%s:%zu: %s '%s' is not a finite number", path, line, what, s);
    if (nonneg && v < 0) cg_usage("%s:%zu: %s %g is negative", path, line, what, v);
    return v;
}

// the CSV -> one series per distinct label, its text beside the group's first point
static int load_scatter(PlotSpec *sp, PlotSeries *series, const char *path, char *header_names[2]) {
    FILE *f = fopen(path, "rb");
    if (!f) cg_usage("cannot open '%s': %s", path, strerror(errno));
    char *buf = NULL;
    size_t cap = 0, line = 0;
    ssize_t len;
    int have_header = 0, ns = 0;
    int caps[MAX_LIST] = {0};
    while ((len = getline(&buf, &cap, f)) >= 0) {
        line++;
        if (memchr(buf, '\0', (size_t)len)) cg_usage("%s:%zu: contains a NUL byte", path, line);
        char *s = trim(buf), *fld[6];
        if (*s == '\0') continue;
        int nf = 0;
        for (char *p = s; nf < 6;) {
            fld[nf++] = p;
            char *comma = strchr(p, ',');
            if (!comma) break;
            *comma = '\0';
            p = comma + 1;
        }
        if (nf != 3 && nf != 5)
            cg_usage("%s:%zu: expected label,x,y[,xerr,yerr], got %s fields", path, line,
                     nf > 5 ? "more than 5" : (nf == 4 ? "4" : "fewer than 3"));
        if (!have_header) {
            char *end;
            strtod(trim(fld[1]), &end);
            if (end != trim(fld[1]) && *end == '\0')
                cg_usage("%s:%zu: expected a header line (label,x,y[,xerr,yerr]) first", path, line);
            have_header = 1;
            header_names[0] = xstrdup(trim(fld[1])), header_names[1] = xstrdup(trim(fld[2]));
            continue;
        }
        char *label = trim(fld[0]);
        if (*label == '\0') cg_usage("%s:%zu: empty label", path, line);
        double x = parse_field(path, line, "x", fld[1], 0), y = parse_field(path, line, "y", fld[2], 0);
        double xe = nf == 5 ? parse_field(path, line, "xerr", fld[3], 1) : 0.0;
        double ye = nf == 5 ? parse_field(path, line, "yerr", fld[4], 1) : 0.0;
        int k = 0;
        while (k < ns && strcmp(series[k].label, label) != 0) k++;
        if (k == ns) {
            if (ns == MAX_LIST) cg_usage("%s:%zu: more than %d different labels", path, line, MAX_LIST);
            char **pl = cg_calloc(1, sizeof(char *));
            pl[0] = xstrdup(label);
            series[ns++] = (PlotSeries){pl[0], NULL, NULL, NULL, NULL, (const char *const *)pl, 0,
                                        PLOT_STYLE_MARKERS, -1, -1};
        }
        PlotSeries *g = &series[k];
        if (g->n == caps[k]) {
            caps[k] = caps[k] ? 2 * caps[k] : 4;
            size_t bytes = cg_mul_size((size_t)caps[k], sizeof(double));
            g->x = cg_realloc((double *)g->x, bytes), g->y = cg_realloc((double *)g->y, bytes);
            g->xerr = cg_realloc((double *)g->xerr, bytes), g->yerr = cg_realloc((double *)g->yerr, bytes);
            g->point_labels = cg_realloc((char **)g->point_labels, cg_mul_size((size_t)caps[k], sizeof(char *)));
        }
        ((double *)g->x)[g->n] = x, ((double *)g->y)[g->n] = y;
        ((double *)g->xerr)[g->n] = xe, ((double *)g->yerr)[g->n] = ye;
        if (g->n > 0) ((const char **)g->point_labels)[g->n] = NULL;
        g->n++;
    }
    fclose(f);
    free(buf);
    if (!have_header) cg_usage("%s: empty (expected a header line, then label,x,y[,xerr,yerr] lines)", path);
    if (ns == 0) cg_usage("%s: no points after the header", path);
    if (!sp->xlabel) sp->xlabel = header_names[0];
    if (!sp->ylabel) sp->ylabel = header_names[1];
    sp->legend = 0; // the labels sit beside the points
    return ns;
}

int cmd_plot(int argc, char **argv) {
    PlotSpec sp = plot_spec_default(640, 400);
    const char *jsonl = NULL, *scatter = NULL, *out = NULL, *xkey = "step", *ykeys_arg = NULL, *labels_arg = NULL;
    const CliOpt opts[] = {
        CLI_F("--logy", &sp.logy),
        CLI_S("--jsonl", &jsonl), CLI_S("--scatter", &scatter), CLI_S("--out", &out),
        CLI_S("--x", &xkey), CLI_S("--y", &ykeys_arg), CLI_S("--label", &labels_arg),
        CLI_S("--title", &sp.title), CLI_S("--xlabel", &sp.xlabel), CLI_S("--ylabel", &sp.ylabel),
        CLI_D("--xmin", &sp.xmin, -1e300, 1e300), CLI_D("--xmax", &sp.xmax, -1e300, 1e300),
        CLI_D("--ymin", &sp.ymin, -1e300, 1e300), CLI_D("--ymax", &sp.ymax, -1e300, 1e300),
        CLI_I("--width", &sp.width, 160, 4096), CLI_I("--height", &sp.height, 160, 4096),
    };
    const CliCommand cmd = {.name = "plot", .usage = USAGE, .needs_hint = " (see cgrpo plot --help)",
                            .unknown_hint = " (see cgrpo plot --help)"};
    cli_parse(&cmd, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv);
    if (!jsonl == !scatter) cg_usage("plot: give one of --jsonl or --scatter (see cgrpo plot --help)");
    if (!out) cg_usage("plot: --out FILE.png is required");
    if (isnan(sp.xmin) != isnan(sp.xmax) || isnan(sp.ymin) != isnan(sp.ymax))
        cg_usage("plot: a fixed range needs both ends (--xmin with --xmax, --ymin with --ymax)");
    if (sp.xmax <= sp.xmin || sp.ymax <= sp.ymin) cg_usage("plot: a fixed range needs min < max");
    if (sp.logy && sp.ymin <= 0) cg_usage("plot: --ymin must be > 0 with --logy");

    PlotSeries series[MAX_LIST];
    char *header_names[2] = {NULL, NULL};
    List files = {{0}, 0}, ykeys = {{0}, 0}, labels = {{0}, 0};
    int ns;
    if (jsonl) {
        if (!ykeys_arg) cg_usage("plot: --jsonl needs --y KEY[,KEY...]");
        files = split_list("--jsonl", jsonl), ykeys = split_list("--y", ykeys_arg);
        if (labels_arg) labels = split_list("--label", labels_arg);
        ns = load_jsonl(&sp, series, &files, xkey, &ykeys, &labels);
    } else {
        if (ykeys_arg || labels_arg) cg_usage("plot: --y and --label go with --jsonl, not --scatter");
        ns = load_scatter(&sp, series, scatter, header_names);
    }
    if (count_plottable(series, ns, sp.logy) == 0)
        cg_usage("plot: nothing to plot: no finite%s values", sp.logy ? " positive" : "");

    char err[512];
    if (plot_write_png(out, &sp, series, ns, err, sizeof(err)) != 0) cg_usage("plot: %s", err);

    for (int k = 0; k < ns; k++) { // jsonl: x is the whole table; scatter: one array per column
        free((void *)series[k].x);
        free((char *)series[k].label); // scatter: also point_labels[0]
        if (scatter) free((void *)series[k].y), free((void *)series[k].xerr), free((void *)series[k].yerr);
        free((void *)series[k].point_labels);
    }
    free(header_names[0]), free(header_names[1]);
    free(files.items[0]), free(ykeys.items[0]), free(labels.items[0]);
    return 0;
}
