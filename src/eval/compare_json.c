// compare_json.c: DIR/report.json of `cgrpo compare`, the machine-readable report (compare.h,
// compare_report_json). Pure: text from the summaries and the configs, no files.
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "eval/compare.h"

// The four headline metrics of report.json, in its order.
static const int JSON_METRICS[] = {EM_IDENTITY, EM_CLIP_T, EM_CLIP_I, EM_ATTR_ACC};
#define N_JSON_METRICS ((int)(sizeof JSON_METRICS / sizeof JSON_METRICS[0]))

static void add_number(cJSON *o, const char *key, double v) {
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

static cJSON *metrics_object(const EvalSummary *e) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < N_JSON_METRICS; i++) add_number(o, eval_metric_name(JSON_METRICS[i]), e->mean[EVAL_OVERALL][JSON_METRICS[i]]);
    return o;
}

CompareDelta compare_seed_delta(const double *d, int n) {
    CompareDelta r = {NAN, NAN};
    if (n < 1) return r;
    double m = 0.0;
    for (int i = 0; i < n; i++) m += d[i];
    m /= n;
    r.delta = m;
    if (n > 1) {
        double ss = 0.0;
        for (int i = 0; i < n; i++) ss += (d[i] - m) * (d[i] - m);
        r.se = sqrt(ss / (n - 1)) / sqrt((double)n);
    }
    return r;
}

// {"identity": {"delta", "se"}, ...} of run set a against run set b: per seed q the difference of
// the overall means (b NULL: against the base), then compare_seed_delta over the seeds.
static cJSON *vs_object(const EvalSummary *a, const EvalSummary *b, const EvalSummary *base, int n_seeds) {
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < N_JSON_METRICS; i++) {
        const int m = JSON_METRICS[i];
        double d[COMPARE_MAX_SEEDS];
        for (int q = 0; q < n_seeds; q++) d[q] = a[q].mean[EVAL_OVERALL][m] - (b ? b[q].mean : base->mean)[EVAL_OVERALL][m];
        CompareDelta cd = compare_seed_delta(d, n_seeds);
        cJSON *x = cJSON_AddObjectToObject(o, eval_metric_name(m));
        add_number(x, "delta", cd.delta);
        add_number(x, "se", cd.se);
    }
    return o;
}

char *compare_report_json(const CompareSpec *s, const TrainConfig *cfg0, int split, const EvalSummary *base,
                          const EvalSummary *sum) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddBoolToObject(root, "headline", s->headline != 0);
    cJSON_AddStringToObject(root, "split", world_split_name(split));
    cJSON_AddNumberToObject(root, "subjects_seed", (double)cfg0->subjects_seed);
    cJSON *seeds = cJSON_AddArrayToObject(root, "seeds");
    for (int q = 0; q < s->n_seeds; q++) cJSON_AddItemToArray(seeds, cJSON_CreateNumber((double)s->seeds[q]));
    // every training key of the first run except the ones each run sets (compare_is_run_key)
    cJSON *tc = cJSON_AddObjectToObject(root, "train_config");
    int nk;
    const ConfigKey *keys = train_config_keys(&nk);
    for (int i = 0; i < nk; i++) {
        if (compare_is_run_key(keys[i].key)) continue;
        char v[CONFIG_MAX_VALUE];
        config_format(v, sizeof v, cfg0, &keys[i]);
        if (keys[i].type == CONFIG_CHOICE || keys[i].type == CONFIG_STRING) cJSON_AddStringToObject(tc, keys[i].key, v);
        else cJSON_AddNumberToObject(tc, keys[i].key, strtod(v, NULL));
    }
    cJSON *models = cJSON_AddObjectToObject(root, "models");
    cJSON_AddItemToObject(models, "base", metrics_object(base));
    for (int p = 0; p < s->n_presets; p++) {
        const EvalSummary *runs = sum + (size_t)p * s->n_seeds;
        cJSON *m = cJSON_CreateObject();
        for (int i = 0; i < N_JSON_METRICS; i++) {
            double v = 0.0;
            for (int q = 0; q < s->n_seeds; q++) v += runs[q].mean[EVAL_OVERALL][JSON_METRICS[i]];
            add_number(m, eval_metric_name(JSON_METRICS[i]), v / s->n_seeds);
        }
        cJSON *per = cJSON_AddObjectToObject(m, "per_seed");
        for (int q = 0; q < s->n_seeds; q++) {
            char k[32];
            snprintf(k, sizeof k, "%llu", (unsigned long long)s->seeds[q]);
            cJSON_AddItemToObject(per, k, metrics_object(&runs[q]));
        }
        cJSON *vs = cJSON_AddObjectToObject(m, "vs");
        cJSON_AddItemToObject(vs, "base", vs_object(runs, NULL, base, s->n_seeds));
        for (int o = 0; o < s->n_presets; o++) { // against the naive baselines that were run
            const int po = s->presets[o];
            if (o == p || (po != TRAIN_PRESET_NAIVE_1_1 && po != TRAIN_PRESET_NAIVE_1_1_5)) continue;
            cJSON_AddItemToObject(vs, train_preset_name(po), vs_object(runs, sum + (size_t)o * s->n_seeds, base, s->n_seeds));
        }
        cJSON_AddItemToObject(models, train_preset_name(s->presets[p]), m);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    CG_CHECK(text, "cJSON_Print failed");
    const size_t n = strlen(text);
    char *out = cg_malloc(n + 2); // the caller frees with free(); end with a newline
    memcpy(out, text, n);
    out[n] = '\n', out[n + 1] = '\0';
    cJSON_free(text);
    return out;
}
