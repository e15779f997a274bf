// compare_report.c: phase 3 of `cgrpo compare` (compare.h): DIR/report.md, pareto.png,
// curves_rewards.png, curves_conflict.png, curves_gradcos.png and grid.png, from the files of the
// compare directory alone (results.json and atlas.png of every evaluation, metrics.jsonl and
// config.cfg of every run), so the report of a resumed compare is the report of an uninterrupted one.
// Also the aggregation of compare.h (pure) that its tables and curves use. It calls compare_spec.c
// (run names, configs), never compare.c.
#include "eval/compare.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/strbuf.h"
#include "eval/plot.h"
#include "io/atomic.h"
#include "io/config.h"
#include "io/jsonl.h"
#include "io/png.h"
#include "io/rundir.h"
#include "io/sheet.h"

#define FIG_W 640
#define FIG_H 400
#define BASE_COLOR 7 // teal; presets take palette colours 0.. in list order

// ---- aggregation (compare.h) ---------------------------------------------------------------------

CompareStat compare_stat(const double *v, int n) {
    CompareStat s = {NAN, NAN, 0};
    double sum = 0.0, lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i])) continue;
        sum += v[i], s.n++;
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    if (s.n) s.mean = sum / s.n, s.spread = 0.5 * (hi - lo);
    return s;
}

void compare_aggregate(CompareStat stats[EVAL_N_GROUPS][EVAL_N_METRICS], const EvalSummary *summaries, int n) {
    double v[COMPARE_MAX_SEEDS];
    CG_CHECK(n >= 0 && n <= COMPARE_MAX_SEEDS, "%d summaries", n);
    for (int g = 0; g < EVAL_N_GROUPS; g++)
        for (int m = 0; m < EVAL_N_METRICS; m++) {
            for (int i = 0; i < n; i++) v[i] = summaries[i].mean[g][m];
            stats[g][m] = compare_stat(v, n);
        }
}

void compare_moving_average(double *out, const double *in, int n, int window) {
    const int h = window > 1 ? window / 2 : 0;
    for (int i = 0; i < n; i++) {
        double sum = 0.0;
        int cnt = 0;
        for (int j = i - h; j <= i + h; j++)
            if (j >= 0 && j < n && isfinite(in[j])) sum += in[j], cnt++;
        out[i] = cnt ? sum / cnt : NAN;
    }
}

void compare_relative_running_mean(double *out, const double *in, int n_series, int n) {
    for (int i = 0; i < n; i++) { // out <- d: each series minus the mean of the finite ones at i
        double mean = 0.0;
        int m = 0;
        for (int q = 0; q < n_series; q++)
            if (isfinite(in[(size_t)q * n + i])) mean += in[(size_t)q * n + i], m++;
        for (int p = 0; p < n_series; p++) out[(size_t)p * n + i] = in[(size_t)p * n + i] - mean / m; // NaN stays NaN
    }
    for (int p = 0; p < n_series; p++) { // d -> its running mean over the finite values, in place
        double *row = out + (size_t)p * n, sum = 0.0;
        int cnt = 0;
        for (int i = 0; i < n; i++) {
            if (isfinite(row[i])) sum += row[i], cnt++;
            row[i] = cnt ? sum / cnt : NAN;
        }
    }
}

void compare_format_stat(char *buf, size_t len, CompareStat s, int decimals) {
    if (s.n == 0) snprintf(buf, len, "-");
    else if (s.n == 1) snprintf(buf, len, "%.*f", decimals, s.mean);
    else snprintf(buf, len, "%.*f ± %.*f", decimals, s.mean, decimals, s.spread);
}

// ---- what the report is made of -----------------------------------------------------------------------

enum { C_ITER, C_RID, C_RPR, C_CONF, C_COS, N_CURVE_KEYS };
static const char *const CURVE_KEYS[N_CURVE_KEYS] = {"iteration", "reward_id_mean", "reward_prompt_mean", "conflict",
                                                     "grad_cos_id_prompt"};

typedef struct {
    int n;     // iterations (rows common to every seed)
    double *v; // (N_CURVE_KEYS, n): the mean over seeds of each key at each iteration
} Curves;

typedef struct {
    const CompareSpec *s;
    EvalConfig ec;                 // the evaluation config (compare_eval_config)
    TrainConfig *cfg;              // (n_presets * n_seeds) resolved training configs
    EvalSummary base;              // eval/base/results.json
    EvalSummary *sum;              // (n_presets * n_seeds) eval/<run>/results.json
    CompareStat base_stat[EVAL_N_GROUPS][EVAL_N_METRICS];
    CompareStat stat[TRAIN_N_PRESETS][EVAL_N_GROUPS][EVAL_N_METRICS];
    Curves curves[TRAIN_N_PRESETS];
    char base_fnv[32];             // the base model's checksum, from its results.json
} Report;

static int decimals_of(int metric) { return metric >= EM_ID_TOP1 ? 3 : 2; }

// Column labels of grid.png (at most 5 characters: 30 pixels at font scale 1).
static const char *short_label(int preset) {
    switch (preset) {
    case TRAIN_PRESET_CUSTOMIZED: return "cust";
    case TRAIN_PRESET_NAIVE_1_1: return "1:1";
    case TRAIN_PRESET_NAIVE_1_1_5: return "1:1.5";
    case TRAIN_PRESET_SARS_ONLY: return "sars";
    case TRAIN_PRESET_TDW_ONLY: return "tdw";
    default: return "?";
    }
}

static void run_dir(char *buf, size_t len, const CompareSpec *s, int p, int q) {
    char name[96];
    compare_run_name(name, sizeof name, s->presets[p], s->seeds[q]);
    snprintf(buf, len, "%s/runs/%s", s->out, name);
}

static void eval_path(char *buf, size_t len, const CompareSpec *s, const char *name, const char *file) {
    snprintf(buf, len, "%s/eval/%s/%s", s->out, name, file);
}

// The mean over seeds of every curve key of preset p (rows that every seed has; a key's NaN seeds
// are skipped, so grad_cos stays NaN where every seed logged null).
static int read_curves(Report *R, int p, char *err, size_t errlen) {
    const CompareSpec *s = R->s;
    Curves *c = &R->curves[p];
    double *cols[COMPARE_MAX_SEEDS] = {0};
    size_t rows[COMPARE_MAX_SEEDS];
    int rc = 0;
    size_t n = (size_t)-1;
    for (int q = 0; q < s->n_seeds && rc == 0; q++) {
        char dir[4200], path[4400], why[1024];
        run_dir(dir, sizeof dir, s, p, q);
        rundir_join(path, sizeof path, dir, TRAIN_METRICS_FILE);
        if (cg_jsonl_read_columns(path, CURVE_KEYS, N_CURVE_KEYS, &cols[q], &rows[q], NULL, why, sizeof why))
            rc = cg_errf(err, errlen, "%s", why);
        else if (rows[q] < n) n = rows[q];
    }
    if (rc == 0) {
        c->n = (int)n;
        c->v = cg_malloc(cg_mul_size(N_CURVE_KEYS, n ? n : 1) * sizeof(double));
        for (size_t i = 0; i < n && rc == 0; i++)
            for (int k = 0; k < N_CURVE_KEYS; k++) {
                double v[COMPARE_MAX_SEEDS];
                for (int q = 0; q < s->n_seeds; q++) v[q] = cols[q][(size_t)k * rows[q] + i];
                if (k == C_ITER)
                    for (int q = 1; q < s->n_seeds; q++)
                        if (v[q] != v[0])
                            rc = cg_errf(err, errlen, "the metrics of %s's seeds disagree at row %zu (iteration %g vs %g)",
                                         train_preset_name(s->presets[p]), i + 1, v[0], v[q]);
                c->v[(size_t)k * n + i] = compare_stat(v, s->n_seeds).mean;
            }
    }
    for (int q = 0; q < s->n_seeds; q++) free(cols[q]);
    return rc;
}

// Every file the report needs. CG_EINPUT with the reason when one is missing or malformed.
static CgStatus load_report(Report *R, char *err, size_t errlen) {
    const CompareSpec *s = R->s;
    const int nr = s->n_presets * s->n_seeds;
    char path[4400], why[1024], name[96];
    R->cfg = cg_calloc((size_t)nr, sizeof(TrainConfig));
    R->sum = cg_calloc((size_t)nr, sizeof(EvalSummary));
    for (int i = 0; i < nr; i++)
        if (compare_train_config(&R->cfg[i], s, s->presets[i / s->n_seeds], s->seeds[i % s->n_seeds], why, sizeof why))
            return cg_fail(CG_EINPUT, err, errlen, "%s", why);
    compare_eval_config(&R->ec, s, &R->cfg[0]);
    char *settings = NULL;
    eval_path(path, sizeof path, s, "base", "results.json");
    if (eval_read_summary(path, &R->base, &settings, why, sizeof why)) return cg_fail(CG_EINPUT, err, errlen, "%s", why);
    cJSON *st = settings ? cJSON_Parse(settings) : NULL;
    const cJSON *fnv = cJSON_GetObjectItemCaseSensitive(st, "model_fnv1a64");
    snprintf(R->base_fnv, sizeof R->base_fnv, "%s", cJSON_IsString(fnv) ? fnv->valuestring : "?");
    cJSON_Delete(st);
    free(settings);
    compare_aggregate(R->base_stat, &R->base, 1);
    for (int p = 0; p < s->n_presets; p++) {
        for (int q = 0; q < s->n_seeds; q++) {
            compare_run_name(name, sizeof name, s->presets[p], s->seeds[q]);
            eval_path(path, sizeof path, s, name, "results.json");
            if (eval_read_summary(path, &R->sum[p * s->n_seeds + q], NULL, why, sizeof why))
                return cg_fail(CG_EINPUT, err, errlen, "%s", why);
        }
        compare_aggregate(R->stat[p], &R->sum[p * s->n_seeds], s->n_seeds);
        if (read_curves(R, p, why, sizeof why)) return cg_fail(CG_EINPUT, err, errlen, "%s", why);
    }
    return CG_OK;
}

static void free_report(Report *R) {
    free(R->cfg), free(R->sum);
    for (int p = 0; p < TRAIN_N_PRESETS; p++) free(R->curves[p].v);
}

// ---- tables -----------------------------------------------------------------------------------------

static void stat_cell(StrBuf *b, CompareStat st, int metric) {
    char cell[96];
    compare_format_stat(cell, sizeof cell, st, decimals_of(metric));
    strbuf_printf(b, " %s |", cell);
}

// The head of a table with a column per metric: lead (e.g. "| model |"), " PREFIX<metric> |" for
// metrics[0..n) (NULL: every metric in order), then the separator row sep ("|---|") and "---|" per
// metric.
static void metric_header(StrBuf *b, const char *lead, const char *sep, const char *prefix, const int *metrics, int n) {
    strbuf_printf(b, "%s", lead);
    for (int i = 0; i < n; i++) strbuf_printf(b, " %s%s |", prefix, eval_metric_name(metrics ? metrics[i] : i));
    strbuf_printf(b, "\n%s", sep);
    for (int i = 0; i < n; i++) strbuf_printf(b, "---|");
}

// A number cell with the metric's decimals (signed: with a + or -), "-" when not finite.
static void number_cell(StrBuf *b, double v, int metric, int sign) {
    if (!isfinite(v)) strbuf_printf(b, " - |");
    else if (sign) strbuf_printf(b, " %+.*f |", decimals_of(metric), v);
    else strbuf_printf(b, " %.*f |", decimals_of(metric), v);
}

// The results table: base + presets, every metric over all prompts.
static void results_table(StrBuf *b, const Report *R) {
    const CompareSpec *s = R->s;
    metric_header(b, "| model | seeds |", "|---|---|", "", NULL, EVAL_N_METRICS);
    strbuf_printf(b, "\n| base | - |");
    for (int m = 0; m < EVAL_N_METRICS; m++) stat_cell(b, R->base_stat[EVAL_OVERALL][m], m);
    for (int p = 0; p < s->n_presets; p++) {
        strbuf_printf(b, "\n| %s | %d |", train_preset_name(s->presets[p]), s->n_seeds);
        for (int m = 0; m < EVAL_N_METRICS; m++) stat_cell(b, R->stat[p][EVAL_OVERALL][m], m);
    }
    strbuf_printf(b, "\n");
}

static void delta_table(StrBuf *b, const Report *R) {
    static const int METRICS[] = {EM_IDENTITY, EM_CLIP_T, EM_ID_TOP1, EM_ATTR_ACC, EM_REWARD_ID, EM_REWARD_PROMPT};
    const int nm = (int)(sizeof METRICS / sizeof METRICS[0]);
    metric_header(b, "| model |", "|---|", "Δ ", METRICS, nm);
    for (int p = 0; p < R->s->n_presets; p++) {
        strbuf_printf(b, "\n| %s |", train_preset_name(R->s->presets[p]));
        for (int i = 0; i < nm; i++) {
            const int m = METRICS[i];
            number_cell(b, R->stat[p][EVAL_OVERALL][m].mean - R->base_stat[EVAL_OVERALL][m].mean, m, 1);
        }
    }
    strbuf_printf(b, "\n");
}

// One metric by prompt kind: base + presets x (the kinds the evaluation has) + all.
static void kind_table(StrBuf *b, const Report *R, int metric) {
    const CompareSpec *s = R->s;
    strbuf_printf(b, "| model |");
    for (int g = 1; g < EVAL_N_GROUPS; g++)
        if (R->base.n[g]) strbuf_printf(b, " %s (%ld images) |", eval_group_name(g), R->base.n[g]);
    strbuf_printf(b, " all (%ld) |\n|---|", R->base.n[EVAL_OVERALL]);
    for (int g = 1; g < EVAL_N_GROUPS; g++)
        if (R->base.n[g]) strbuf_printf(b, "---|");
    strbuf_printf(b, "---|");
    for (int p = -1; p < s->n_presets; p++) {
        strbuf_printf(b, "\n| %s |", p < 0 ? "base" : train_preset_name(s->presets[p]));
        for (int g = 1; g <= EVAL_N_GROUPS; g++) {
            const int gg = g == EVAL_N_GROUPS ? EVAL_OVERALL : g;
            if (gg != EVAL_OVERALL && !R->base.n[gg]) continue;
            stat_cell(b, p < 0 ? R->base_stat[gg][metric] : R->stat[p][gg][metric], metric);
        }
    }
    strbuf_printf(b, "\n");
}

static void per_run_table(StrBuf *b, const Report *R) {
    const CompareSpec *s = R->s;
    metric_header(b, "| run |", "|---|", "", NULL, EVAL_N_METRICS);
    for (int i = 0; i < s->n_presets * s->n_seeds; i++) {
        char name[96];
        compare_run_name(name, sizeof name, s->presets[i / s->n_seeds], s->seeds[i % s->n_seeds]);
        strbuf_printf(b, "\n| %s |", name);
        for (int m = 0; m < EVAL_N_METRICS; m++) number_cell(b, R->sum[i].mean[EVAL_OVERALL][m], m, 0);
    }
    strbuf_printf(b, "\n");
}

// ---- figures ------------------------------------------------------------------------------------------

static int pareto_png(const Report *R, const char *path, char *err, size_t errlen) {
    const CompareSpec *s = R->s;
    double x[TRAIN_N_PRESETS + 1], y[TRAIN_N_PRESETS + 1], xe[TRAIN_N_PRESETS + 1], ye[TRAIN_N_PRESETS + 1];
    const char *labels[TRAIN_N_PRESETS + 1];
    PlotSeries ser[TRAIN_N_PRESETS + 1];
    for (int i = 0; i <= s->n_presets; i++) {
        const CompareStat *id = i == 0 ? &R->base_stat[EVAL_OVERALL][EM_IDENTITY] : &R->stat[i - 1][EVAL_OVERALL][EM_IDENTITY];
        const CompareStat *ct = i == 0 ? &R->base_stat[EVAL_OVERALL][EM_CLIP_T] : &R->stat[i - 1][EVAL_OVERALL][EM_CLIP_T];
        x[i] = id->mean, y[i] = ct->mean, xe[i] = id->spread, ye[i] = ct->spread;
        labels[i] = i == 0 ? "base" : train_preset_name(s->presets[i - 1]);
        ser[i] = (PlotSeries){labels[i], &x[i], &y[i], i ? &xe[i] : NULL, i ? &ye[i] : NULL, &labels[i], 1,
                              PLOT_STYLE_MARKERS, i == 0 ? BASE_COLOR : i - 1, i == 0 ? PLOT_SQUARE : PLOT_CIRCLE};
    }
    PlotSpec sp = plot_spec_default(FIG_W, FIG_H);
    sp.title = "identity vs prompt following (mean +- half-range over seeds)";
    sp.xlabel = "identity (judge-id vs segmented reference)";
    sp.ylabel = "clip_t (judge-clip-t)";
    sp.legend = 0;
    return plot_write_png(path, &sp, ser, s->n_presets + 1, err, errlen);
}

// How curve_canvas draws a key: its finite points joined with markers, a centred moving average, or
// relative to the mean over presets as a running mean (compare_relative_running_mean).
enum { CURVE_POINTS, CURVE_SMOOTH, CURVE_RELATIVE };

// One curve key per preset on a canvas of w x h, drawn as `mode` says.
static int curve_canvas(PlotCanvas *c, const Report *R, int key, int mode, int w, int h, const char *title,
                        const char *xlabel, const char *ylabel, int legend, char *err, size_t errlen) {
    const CompareSpec *s = R->s;
    PlotSeries ser[TRAIN_N_PRESETS];
    double *bufs[TRAIN_N_PRESETS] = {0};
    double *rel = NULL; // CURVE_RELATIVE: (n_presets, n_common), over the iterations every preset has
    int n_common = 0;
    if (mode == CURVE_RELATIVE) {
        n_common = R->curves[0].n;
        for (int p = 1; p < s->n_presets; p++)
            if (R->curves[p].n < n_common) n_common = R->curves[p].n;
        const size_t cells = cg_mul_size((size_t)s->n_presets, n_common ? (size_t)n_common : 1);
        double *in = cg_malloc(cells * sizeof(double));
        rel = cg_malloc(cells * sizeof(double));
        for (int p = 0; p < s->n_presets; p++)
            memcpy(in + (size_t)p * n_common, R->curves[p].v + (size_t)key * R->curves[p].n, (size_t)n_common * sizeof(double));
        compare_relative_running_mean(rel, in, s->n_presets, n_common);
        free(in);
    }
    for (int p = 0; p < s->n_presets; p++) {
        const Curves *cv = &R->curves[p];
        const int n = cv->n;
        double *xy = cg_malloc(cg_mul_size(2, n ? (size_t)n : 1) * sizeof(double));
        bufs[p] = xy;
        const double *in = cv->v + (size_t)key * n;
        int m = 0;
        if (mode == CURVE_SMOOTH) {
            memcpy(xy, cv->v + (size_t)C_ITER * n, (size_t)n * sizeof(double));
            compare_moving_average(xy + n, in, n, COMPARE_SMOOTH);
            m = n;
        } else if (mode == CURVE_RELATIVE) {
            for (int i = 0; i < n_common; i++)
                if (isfinite(rel[(size_t)p * n_common + i]))
                    xy[m] = cv->v[(size_t)C_ITER * n + i], xy[n + m] = rel[(size_t)p * n_common + i], m++;
        } else { // only the finite points, joined
            for (int i = 0; i < n; i++)
                if (isfinite(in[i])) xy[m] = cv->v[(size_t)C_ITER * n + i], xy[n + m] = in[i], m++;
        }
        ser[p] = (PlotSeries){train_preset_name(s->presets[p]), xy, xy + n, NULL, NULL, NULL, m,
                              mode == CURVE_POINTS ? PLOT_STYLE_LINE | PLOT_STYLE_MARKERS : PLOT_STYLE_LINE, p, p};
    }
    PlotSpec sp = plot_spec_default(w, h);
    sp.title = title, sp.xlabel = xlabel, sp.ylabel = ylabel, sp.legend = legend;
    int rc = plot_render(c, &sp, ser, s->n_presets, NULL, err, errlen);
    for (int p = 0; p < s->n_presets; p++) free(bufs[p]);
    free(rel);
    return rc;
}

static int write_canvas(const PlotCanvas *c, const char *path, char *err, size_t errlen) {
    return cg_png_write_rgb8(path, c->rgb, c->w, c->h, err, errlen);
}

static int curves_png(const Report *R, int key, const char *path, const char *title, const char *ylabel, int mode, char *err,
                      size_t errlen) {
    PlotCanvas c;
    if (curve_canvas(&c, R, key, mode, FIG_W, FIG_H, title, "iteration", ylabel, 1, err, errlen)) return -1;
    int rc = write_canvas(&c, path, err, errlen);
    plot_canvas_free(&c);
    return rc;
}

// Two panels stacked: reward_id_mean over reward_prompt_mean, smoothed (CURVE_SMOOTH) or relative to
// the mean over presets (CURVE_RELATIVE).
static int rewards_png(const Report *R, int mode, const char *path, char *err, size_t errlen) {
    PlotCanvas top, bottom;
    char smooth1[128], smooth2[128];
    snprintf(smooth1, sizeof smooth1, "identity reward (reward_id_mean; mean over seeds, moving average %d)", COMPARE_SMOOTH);
    snprintf(smooth2, sizeof smooth2, "prompt reward (reward_prompt_mean; mean over seeds, moving average %d)", COMPARE_SMOOTH);
    const int rel = mode == CURVE_RELATIVE;
    const char *t1 = rel ? "identity reward minus the presets' mean, running mean since iteration 1" : smooth1;
    const char *t2 = rel ? "prompt reward minus the presets' mean, running mean since iteration 1" : smooth2;
    const char *y1 = rel ? "reward_id - mean" : "reward_id";
    const char *y2 = rel ? "reward_prompt - mean" : "reward_prompt";
    if (curve_canvas(&top, R, C_RID, mode, FIG_W, FIG_H / 2, t1, NULL, y1, 1, err, errlen)) return -1;
    if (curve_canvas(&bottom, R, C_RPR, mode, FIG_W, FIG_H / 2, t2, "iteration", y2, 0, err, errlen)) {
        plot_canvas_free(&top);
        return -1;
    }
    const size_t half = (size_t)top.w * top.h * 3;
    unsigned char *rgb = cg_malloc(2 * half);
    memcpy(rgb, top.rgb, half), memcpy(rgb + half, bottom.rgb, half);
    int rc = cg_png_write_rgb8(path, rgb, top.w, 2 * top.h, err, errlen);
    free(rgb);
    plot_canvas_free(&top), plot_canvas_free(&bottom);
    return rc;
}

// The two templates of the grid: the first scene prompt (template < 10) and the first property
// prompt (template >= 20) of the evaluation, else its first and last; pos[] are positions in ec.templates.
static int grid_templates(const EvalConfig *ec, int pos[2]) {
    int a = -1, b = -1;
    for (int i = 0; i < ec->n_templates; i++) {
        if (a < 0 && ec->templates[i] < 10) a = i;
        if (b < 0 && ec->templates[i] >= 20) b = i;
    }
    if (a < 0 || b < 0) a = 0, b = ec->n_templates - 1;
    pos[0] = a, pos[1] = b;
    return a == b ? 1 : 2;
}

static int grid_rows(const EvalConfig *ec) {
    return ec->n_subjects < COMPARE_GRID_SUBJECTS ? ec->n_subjects : COMPARE_GRID_SUBJECTS;
}

// atlas.png of one evaluation, checked against the config; *S its image side.
static int read_atlas(const Report *R, const char *name, unsigned char **rgb, int *W, int *S, char *err, size_t errlen) {
    char path[4400];
    int H;
    eval_path(path, sizeof path, R->s, name, "atlas.png");
    if (cg_png_read_rgb8(path, rgb, W, &H, err, errlen)) return -1;
    const int cols = 1 + R->ec.n_templates * R->ec.K;
    *S = H / R->ec.n_subjects;
    if (*S < 1 || H != *S * R->ec.n_subjects || *W != *S * cols) {
        free(*rgb), *rgb = NULL;
        return cg_errf(err, errlen, "%s is %dx%d pixels, not an atlas of %d subjects x %d images", path, *W, H, R->ec.n_subjects,
                       cols);
    }
    return 0;
}

// grid.png: rows = the first test subjects; columns: reference, then per grid template the base
// model and every preset (first seed), image k = 0. Cut from the atlases, nothing is re-sampled.
static int grid_png(const Report *R, const char *path, char *err, size_t errlen) {
    const CompareSpec *s = R->s;
    const int np = s->n_presets, ncol = 1 + np, rows = grid_rows(&R->ec);
    int pos[2];
    const int ng = grid_templates(&R->ec, pos);
    unsigned char *atlas[TRAIN_N_PRESETS + 1] = {0};
    int AW = 0, S = 0, rc = 0;
    for (int i = 0; i <= np && rc == 0; i++) {
        char name[96];
        if (i == 0) snprintf(name, sizeof name, "base");
        else compare_run_name(name, sizeof name, s->presets[i - 1], s->seeds[0]);
        int w, side;
        rc = read_atlas(R, name, &atlas[i], &w, &side, err, errlen);
        if (rc == 0 && i > 0 && (w != AW || side != S)) rc = cg_errf(err, errlen, "the atlases of base and %s differ in size", name);
        AW = w, S = side;
    }
    const int gap = 2, sep = 6, head = S >= 30 ? 22 : 12;
    const int x_groups = gap + S + sep, group_w = ncol * (S + gap) + sep;
    const int W = x_groups + ng * group_w, H = head + rows * (S + gap) + gap;
    PlotCanvas c;
    if (rc == 0) rc = plot_canvas_init(&c, W, H, (PlotRGB){255, 255, 255}, err, errlen);
    if (rc) {
        for (int i = 0; i <= np; i++) free(atlas[i]);
        return -1;
    }
    const PlotRGB ink = {0, 0, 0};
    plot_text(&c, gap, head - 10, "ref", 1, ink);
    for (int g = 0; g < ng; g++) {
        char label[64];
        const int x0 = x_groups + g * group_w;
        snprintf(label, sizeof label, "prompt %d", R->ec.templates[pos[g]]);
        plot_text(&c, x0, 1, label, 1, ink);
        if (S >= 30)
            for (int i = 0; i <= np; i++)
                plot_text(&c, x0 + i * (S + gap), head - 10, i == 0 ? "base" : short_label(s->presets[i - 1]), 1, ink);
    }
    // S x S cells: atlas column col of row r to (x, y)
    Sheet sheet = sheet_wrap(c.rgb, W, H);
    for (int r = 0; r < rows; r++) {
        const int y = head + r * (S + gap);
        for (int g = -1; g < ng; g++)
            for (int i = 0; i <= np; i++) {
                if (g < 0 && i > 0) break; // the reference column: once
                const int col = g < 0 ? 0 : 1 + pos[g] * R->ec.K; // k = 0
                const int x = g < 0 ? gap : x_groups + g * group_w + i * (S + gap);
                sheet_put_rgb8(&sheet, x, y, atlas[i], AW, col * S, r * S, S, S);
            }
    }
    rc = write_canvas(&c, path, err, errlen);
    plot_canvas_free(&c);
    for (int i = 0; i <= np; i++) free(atlas[i]);
    return rc;
}

// ---- settings and times ---------------------------------------------------------------------------------

// "0 (scene: jungle)", "12 (objects: scene eiffel_tower; live: accessory rainbow_scarf)", "20 (property: red)"
static void template_desc(StrBuf *b, int t) {
    if (t < PROMPT_N_COMMON_SCENES) strbuf_printf(b, "%d (scene: %s)", t, prompt_item_name(PROMPT_SCENE, t));
    else if (t < 20)
        strbuf_printf(b, "%d (objects: scene %s; live subjects: accessory %s)", t, prompt_item_name(PROMPT_SCENE, t),
                  prompt_item_name(PROMPT_ACCESSORY, t - 10));
    else strbuf_printf(b, "%d (property: %s)", t, prompt_item_name(PROMPT_PROPERTY, t - 20));
}

static double read_seconds(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NAN;
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cJSON *root = cJSON_Parse(buf);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "seconds");
    double secs = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    cJSON_Delete(root);
    return secs;
}

// elapsed_s of the last line of a run's metrics: its training time over every call that trained it
static double train_seconds(const char *dir) {
    char path[4400], why[512];
    rundir_join(path, sizeof path, dir, TRAIN_METRICS_FILE);
    const char *key = "elapsed_s";
    double *col = NULL;
    size_t n = 0;
    if (cg_jsonl_read_columns(path, &key, 1, &col, &n, NULL, why, sizeof why)) return NAN;
    double v = n ? col[n - 1] : NAN;
    free(col);
    return v;
}

// "0.4 s", "42.0 s", "3m05s", "2h14m"; "?" when unknown
static void duration(StrBuf *b, double secs) {
    char d[32];
    if (!isfinite(secs) || secs < 0) snprintf(d, sizeof d, "?");
    else if (secs < 60.0) snprintf(d, sizeof d, "%.1f s", secs);
    else rundir_fmt_duration(d, sizeof d, secs);
    strbuf_printf(b, "%s", d);
}

static void wall_section(StrBuf *b, const Report *R, const CompareResult *times) {
    const CompareSpec *s = R->s;
    strbuf_printf(b, "## Wall time\n\n");
    if (times) {
        strbuf_printf(b, "This call: ");
        duration(b, times->t_total);
        strbuf_printf(b, " (inputs ");
        duration(b, times->t_inputs);
        strbuf_printf(b, ", training ");
        duration(b, times->t_train);
        strbuf_printf(b, ", evaluation ");
        duration(b, times->t_eval);
        strbuf_printf(b, ", report: the rest); it trained %d runs (%d resumed) and evaluated %d models, the others were on disk.\n\n",
                  times->runs_started + times->runs_resumed, times->runs_resumed, times->evals_run);
    }
    char path[4400], dir[4200], name[96];
    double tt = 0.0, te = 0.0;
    StrBuf rows = {0};
    strbuf_printf(&rows, "%s", "");
    for (int i = -1; i < s->n_presets * s->n_seeds; i++) {
        double tr = NAN;
        if (i < 0) snprintf(name, sizeof name, "base");
        else {
            compare_run_name(name, sizeof name, s->presets[i / s->n_seeds], s->seeds[i % s->n_seeds]);
            run_dir(dir, sizeof dir, s, i / s->n_seeds, i % s->n_seeds);
            tr = train_seconds(dir);
        }
        eval_path(path, sizeof path, s, name, "eval_time.json");
        const double ev = read_seconds(path);
        if (isfinite(tr)) tt += tr;
        if (isfinite(ev)) te += ev;
        strbuf_printf(&rows, "| %s | ", name);
        if (i < 0) strbuf_printf(&rows, "-");
        else duration(&rows, tr);
        strbuf_printf(&rows, " | ");
        duration(&rows, ev);
        strbuf_printf(&rows, " |\n");
    }
    strbuf_printf(b, "The work stored in this directory, summed over the calls that did it: training ");
    duration(b, tt);
    strbuf_printf(b, ", evaluation ");
    duration(b, te);
    strbuf_printf(b, ", together ");
    duration(b, tt + te);
    strbuf_printf(b, ".\n\n| model | training | evaluation |\n|---|---|---|\n%s", rows.s);
    free(rows.s);
}

// ---- report.md ------------------------------------------------------------------------------------------

static char *report_text(const Report *R, const char *table, const CompareResult *times) {
    const CompareSpec *s = R->s;
    const EvalConfig *ec = &R->ec;
    StrBuf b = {0};
    strbuf_printf(&b, "# Customized-GRPO vs naive GRPO (cgrpo compare)\n\n");
    strbuf_printf(&b, "Does Customized-GRPO (SARS + TDW) keep the subject's identity *and* follow the prompt better than naive "
                  "GRPO with static reward weights? Every preset was trained from the same base model (FNV-1a 64 `%s`) with "
                  "%d seed%s (", R->base_fnv, s->n_seeds, s->n_seeds > 1 ? "s" : "");
    for (int q = 0; q < s->n_seeds; q++) strbuf_printf(&b, "%s%llu", q ? ", " : "", (unsigned long long)s->seeds[q]);
    strbuf_printf(&b, ") and evaluated with the judges (evaluator models never used as rewards) on %d held-out TEST subjects x %d "
                  "prompts x %d image%s. Values are the mean over the seeds ± half the range ((max - min) / 2: the interval "
                  "holds every seed); one seed shows the value alone.\n\n",
              ec->n_subjects, ec->n_templates, ec->K, ec->K > 1 ? "s" : "");
    strbuf_printf(&b, "Metrics: identity = judge-id vs the segmented reference (DINO-Seg), dino = the same vs the plain "
                  "reference, clip_i = image-image similarity, clip_t = image-text score (prompt following), reward_id and "
                  "reward_prompt = the training rewards (a reward that rises while its judge stays flat is reward hacking), "
                  "id_top1 = identity retrieval among the evaluated subjects, attr_acc = the prompted scene / accessory / "
                  "property recognized (eval/evaluate.h).\n\n");
    strbuf_printf(&b, "## Results (all prompts)\n\n%s\n", table);
    strbuf_printf(&b, "## Change from the base model (means)\n\n");
    delta_table(&b, R);
    strbuf_printf(&b, "\n## By prompt kind\n\nProperty edits (red, shiny, cube shaped, ...) conflict with identity by design: "
                  "that is where the trade-off shows.\n\n");
    static const int KIND_METRICS[] = {EM_IDENTITY, EM_CLIP_T, EM_ATTR_ACC};
    for (size_t i = 0; i < sizeof KIND_METRICS / sizeof KIND_METRICS[0]; i++) {
        strbuf_printf(&b, "### %s\n\n", eval_metric_name(KIND_METRICS[i]));
        kind_table(&b, R, KIND_METRICS[i]);
        strbuf_printf(&b, "\n");
    }
    strbuf_printf(&b, "## Per run (all prompts)\n\n");
    per_run_table(&b, R);

    strbuf_printf(&b, "\n## Figures\n\n");
    strbuf_printf(&b, "![identity vs prompt following](pareto.png)\n\n*pareto.png*: identity (x) against clip_t (y), one point "
                  "per preset (mean over seeds, error bars ± half-range) and the base model. Up and to the right is better; "
                  "naive GRPO tends to move right and down (copy-paste), Customized-GRPO should move up or right without "
                  "giving up the other.\n\n");
    strbuf_printf(&b, "![training rewards](curves_rewards.png)\n\n*curves_rewards.png*: the training rewards' batch means per "
                  "iteration (top identity, bottom prompt), mean over seeds, centred moving average of %d iterations.\n\n",
              COMPARE_SMOOTH);
    strbuf_printf(&b, "![training rewards relative to the presets' mean](curves_rewards_rel.png)\n\n*curves_rewards_rel.png*: "
                  "the same rewards minus their mean over the presets at each iteration, averaged from iteration 1 to the "
                  "iteration shown. Every preset of a seed trains on the same pairs in the same order, so this removes what "
                  "the pairs contribute (which dominates the curves above) and shows which preset pulls ahead of the others "
                  "on its own training rollouts.\n\n");
    strbuf_printf(&b, "![conflict share](curves_conflict.png)\n\n*curves_conflict.png*: the share of samples whose identity and "
                  "prompt advantages have opposite signs (the paper reports 50.2%% for naive GRPO), mean over seeds, moving "
                  "average of %d.\n\n", COMPARE_SMOOTH);
    strbuf_printf(&b, "![gradient cosine](curves_gradcos.png)\n\n*curves_gradcos.png*: the cosine between the policy gradients "
                  "of the identity part and the prompt part of the advantage (below 0: the rewards pull apart), at the "
                  "iterations that computed it (every cos_every = %d), mean over seeds.\n\n", R->cfg[0].cos_every);

    int pos[2];
    const int ng = grid_templates(ec, pos), rows = grid_rows(ec);
    strbuf_printf(&b, "## Images\n\n![samples](grid.png)\n\n*grid.png*: one row per test subject; left the reference, then for "
                  "each prompt the base model (`base`) and every preset (");
    for (int p = 0; p < s->n_presets; p++)
        strbuf_printf(&b, "%s`%s` = %s", p ? ", " : "", short_label(s->presets[p]), train_preset_name(s->presets[p]));
    strbuf_printf(&b, ") with seed %llu, image k = 0 of the evaluation (the same initial noise in every column).\n\n",
              (unsigned long long)s->seeds[0]);
    strbuf_printf(&b, "| row | subject |");
    for (int g = 0; g < ng; g++) strbuf_printf(&b, " prompt %d |", ec->templates[pos[g]]);
    strbuf_printf(&b, "\n|---|---|");
    for (int g = 0; g < ng; g++) strbuf_printf(&b, "---|");
    World *w = cg_malloc(sizeof(World));
    world_init(w, ec->subjects_seed);
    for (int r = 0; r < rows; r++) {
        const Subject *sub = world_subject(w, SPLIT_TEST, r);
        strbuf_printf(&b, "\n| %d | test %d (%s) |", r + 1, r, world_class_word(sub->cls));
        for (int g = 0; g < ng; g++) {
            Prompt pr;
            prompt_make(&pr, sub->cls, ec->templates[pos[g]]);
            strbuf_printf(&b, " %s |", pr.text);
        }
    }
    free(w);

    strbuf_printf(&b, "\n\n## Presets\n\n| preset | shaping | weighting | gamma | w_id | w_prompt |\n|---|---|---|---|---|---|\n");
    int nk;
    const ConfigKey *keys = train_config_keys(&nk);
    for (int p = 0; p < s->n_presets; p++) {
        const TrainConfig *c = &R->cfg[p * s->n_seeds];
        strbuf_printf(&b, "| %s |", train_preset_name(s->presets[p]));
        static const char *const PK[] = {"shaping", "weighting", "gamma", "w_id", "w_prompt"};
        for (size_t i = 0; i < sizeof PK / sizeof PK[0]; i++) {
            char v[CONFIG_MAX_VALUE];
            config_format(v, sizeof v, c, config_find(keys, nk, PK[i]));
            strbuf_printf(&b, " %s |", v);
        }
        strbuf_printf(&b, "\n");
    }
    strbuf_printf(&b, "\n## Training settings (every run)\n\nThe resolved config of the runs (runs/*/config.cfg) without the keys "
                  "the presets and seeds set (preset, seed, shaping, weighting, w_id, w_prompt):\n\n```\n");
    for (int i = 0; i < nk; i++) {
        if (compare_is_run_key(keys[i].key)) continue;
        char v[CONFIG_MAX_VALUE];
        config_format(v, sizeof v, &R->cfg[0], &keys[i]);
        strbuf_printf(&b, "%s = %s\n", keys[i].key, v);
    }
    strbuf_printf(&b, "```\n\n## Evaluation settings\n\n");
    strbuf_printf(&b, "- subjects: the first %d of the %d TEST subjects (subjects seed %llu), never trained on\n", ec->n_subjects,
              WORLD_N_TEST, (unsigned long long)ec->subjects_seed);
    strbuf_printf(&b, "- prompts (DreamBench templates): ");
    for (int i = 0; i < ec->n_templates; i++) {
        strbuf_printf(&b, "%s", i ? ", " : "");
        template_desc(&b, ec->templates[i]);
    }
    strbuf_printf(&b, "\n- %d image%s per (subject, prompt), ODE sampler, %d steps, shift %g, guidance ref %g / text %g (the "
                  "training config's), noise seed %llu\n",
              ec->K, ec->K > 1 ? "s" : "", ec->steps, (double)ec->shift, (double)ec->cfg_ref, (double)ec->cfg_txt,
              (unsigned long long)ec->seed);
    strbuf_printf(&b, "- per model: eval/<model>/results.json (settings, checksums of the model and the judges, metrics by kind), "
                  "images.jsonl (every image's scores), atlas.png (every image)\n\n");
    wall_section(&b, R, times);
    return b.s;
}

CgStatus compare_write_report(const CompareSpec *s, const CompareResult *times, char **table, char *err, size_t errlen) {
    if (table) *table = NULL;
    Report R;
    memset(&R, 0, sizeof R);
    R.s = s;
    CgStatus rc = load_report(&R, err, errlen);
    char path[4200], why[1024];
    StrBuf tb = {0};
    if (rc == CG_OK) results_table(&tb, &R);
    enum { FIG_PARETO, FIG_REWARDS, FIG_REWARDS_REL, FIG_CONFLICT, FIG_GRADCOS, FIG_GRID };
    static const char *const FIG_FILES[] = {"pareto.png",          "curves_rewards.png", "curves_rewards_rel.png",
                                            "curves_conflict.png", "curves_gradcos.png", "grid.png"};
    for (int f = FIG_PARETO; f <= FIG_GRID && rc == CG_OK; f++) {
        rundir_join(path, sizeof path, s->out, FIG_FILES[f]);
        int frc;
        switch (f) {
        case FIG_PARETO: frc = pareto_png(&R, path, why, sizeof why); break;
        case FIG_REWARDS: frc = rewards_png(&R, CURVE_SMOOTH, path, why, sizeof why); break;
        case FIG_REWARDS_REL: frc = rewards_png(&R, CURVE_RELATIVE, path, why, sizeof why); break;
        case FIG_CONFLICT:
            frc = curves_png(&R, C_CONF, path, "conflict share (identity and prompt advantages of opposite sign)", "conflict",
                             CURVE_SMOOTH, why, sizeof why);
            break;
        case FIG_GRADCOS:
            frc = curves_png(&R, C_COS, path, "gradient cosine between the identity and the prompt part", "grad_cos_id_prompt",
                             CURVE_POINTS, why, sizeof why);
            break;
        default: frc = grid_png(&R, path, why, sizeof why); break;
        }
        if (frc) rc = cg_fail(f == FIG_GRID ? CG_EINPUT : CG_ERUNTIME, err, errlen, "%s", why);
    }
    if (rc == CG_OK) {
        char *md = report_text(&R, tb.s, times);
        rundir_join(path, sizeof path, s->out, "report.md");
        if (atomic_write_text(path, md, why, sizeof why)) rc = cg_fail(CG_ERUNTIME, err, errlen, "%s", why);
        free(md);
    }
    if (rc == CG_OK) {
        char *js = compare_report_json(s, &R.cfg[0], R.ec.split, &R.base, R.sum);
        rundir_join(path, sizeof path, s->out, "report.json");
        if (atomic_write_text(path, js, why, sizeof why)) rc = cg_fail(CG_ERUNTIME, err, errlen, "%s", why);
        free(js);
    }
    if (rc == CG_OK && table) *table = tb.s;
    else free(tb.s);
    free_report(&R);
    return rc;
}
