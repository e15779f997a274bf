// compare_spec.c: the spec of `cgrpo compare` (compare.h): defaults, the preset and seed lists, run
// names, the training and evaluation configs of a run, and the small-file reader. Below compare.c and
// compare_report.c, which both call it; it calls neither.
#include "eval/compare.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "io/config.h"

// ---- the spec ---------------------------------------------------------------------------------------

CompareSpec compare_spec_default(void) {
    CompareSpec s;
    memset(&s, 0, sizeof s);
    s.model = "models/base.safetensors", s.rewards_dir = "models";
    s.n_presets = TRAIN_N_PRESETS;
    for (int p = 0; p < TRAIN_N_PRESETS; p++) s.presets[p] = p;
    s.n_seeds = 2, s.seeds[0] = 1, s.seeds[1] = 2;
    s.eval = eval_config_default();
    char err[256];
    CG_CHECK(eval_parse_templates(COMPARE_DEFAULT_TEMPLATES, s.eval.templates, &s.eval.n_templates, err, sizeof err) == 0,
             "%s", err);
    s.progress = 1;
    return s;
}

// The next item of a comma list into item (cap bytes); *p moves past it (NULL after the last).
// An empty or overlong item is an error.
static int next_item(const char **p, char *item, size_t cap, const char *list, const char *what, char *err, size_t errlen) {
    const char *end = strchr(*p, ',');
    size_t len = end ? (size_t)(end - *p) : strlen(*p);
    if (len == 0) return cg_errf(err, errlen, "'%s': empty item (expected %s separated by commas)", list, what);
    if (len >= cap) return cg_errf(err, errlen, "'%s': '%.*s...' is too long for %s", list, 12, *p, what);
    memcpy(item, *p, len), item[len] = '\0';
    *p = end ? end + 1 : NULL;
    return 0;
}

int compare_parse_presets(const char *list, int presets[TRAIN_N_PRESETS], int *n, char *err, size_t errlen) {
    *n = 0;
    for (const char *p = list; p;) {
        char item[64];
        if (next_item(&p, item, sizeof item, list, "preset names", err, errlen)) return -1;
        const int q = train_preset_parse(item);
        if (q < 0) return cg_errf(err, errlen, "unknown preset '%s' (known: %s)", item, TRAIN_PRESET_WORDS);
        for (int i = 0; i < *n; i++)
            if (presets[i] == q) return cg_errf(err, errlen, "'%s': preset %s is listed twice", list, item);
        presets[(*n)++] = q; // at most TRAIN_N_PRESETS distinct names get here
    }
    return 0;
}

int compare_parse_seeds(const char *list, uint64_t seeds[COMPARE_MAX_SEEDS], int *n, char *err, size_t errlen) {
    *n = 0;
    for (const char *p = list; p;) {
        char item[32];
        if (next_item(&p, item, sizeof item, list, "seeds", err, errlen)) return -1;
        char *stop;
        errno = 0;
        unsigned long long v = strtoull(item, &stop, 10);
        if (errno || *stop || item[0] < '0' || item[0] > '9')
            return cg_errf(err, errlen, "'%s': '%s' is not a seed (a decimal integer >= 0)", list, item);
        for (int i = 0; i < *n; i++)
            if (seeds[i] == v) return cg_errf(err, errlen, "'%s': seed %llu is listed twice", list, v);
        if (*n == COMPARE_MAX_SEEDS) return cg_errf(err, errlen, "'%s': more than %d seeds", list, COMPARE_MAX_SEEDS);
        seeds[(*n)++] = (uint64_t)v;
    }
    return 0;
}

static const char *const RUN_KEYS[] = {"preset", "seed", "shaping", "weighting", "w_id", "w_prompt"};

int compare_is_run_key(const char *key) { return config_name_in(key, RUN_KEYS, (int)(sizeof RUN_KEYS / sizeof RUN_KEYS[0])); }

void compare_run_name(char *buf, size_t len, int preset, uint64_t seed) {
    snprintf(buf, len, "%s-s%llu", train_preset_name(preset), (unsigned long long)seed);
}

#define MAX_CONFIG_BYTES (1L << 20)

char *compare_read_small_text(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        cg_errf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = cg_malloc(MAX_CONFIG_BYTES + 1);
    size_t got = fread(buf, 1, MAX_CONFIG_BYTES + 1, f);
    const int bad = ferror(f);
    fclose(f);
    if (bad || got > MAX_CONFIG_BYTES || memchr(buf, '\0', got)) {
        cg_errf(err, errlen, "%s: %s", path, bad ? "cannot read" : "not a config file (too large or binary)");
        free(buf);
        return NULL;
    }
    buf[got] = '\0';
    return buf;
}

int compare_train_config(TrainConfig *cfg, const CompareSpec *s, int preset, uint64_t seed, char *err, size_t errlen) {
    int nk;
    const ConfigKey *keys = train_config_keys(&nk);
    char why[1024];
    *cfg = train_config_default();
    train_preset_apply(cfg, preset);
    if (s->config_file) {
        char *text = compare_read_small_text(s->config_file, err, errlen);
        if (!text) return -1;
        unsigned char *seen = cg_calloc((size_t)nk, 1);
        int rc = config_parse_text(cfg, keys, nk, text, s->config_file, seen, err, errlen);
        for (int i = 0; i < nk && rc == 0; i++)
            if (seen[i] && compare_is_run_key(keys[i].key))
                rc = cg_errf(err, errlen, "%s sets %s: compare sets preset, seed, shaping, weighting, w_id and w_prompt per run "
                             "(--presets, --seeds); remove the line", s->config_file, keys[i].key);
        free(seen), free(text);
        if (rc) return -1;
    }
    for (int i = 0; i < s->n_over; i++) {
        const ConfigKey *k = config_find(keys, nk, s->over_key[i]);
        if (!k)
            return cg_errf(err, errlen, "unknown option '--%s' (nearest training key: --%s)", s->over_key[i],
                           config_nearest(keys, nk, s->over_key[i]));
        if (compare_is_run_key(k->key))
            return cg_errf(err, errlen, "--%s: compare sets preset, seed, shaping, weighting, w_id and w_prompt per run "
                           "(use --presets and --seeds)", s->over_key[i]);
        if (config_set(cfg, keys, nk, s->over_key[i], s->over_val[i], why, sizeof why))
            return cg_errf(err, errlen, "--%s: %s", s->over_key[i], why);
    }
    cfg->preset = preset, cfg->seed = seed;
    train_config_resolve(cfg);
    if (train_config_check(cfg, why, sizeof why)) return cg_errf(err, errlen, "training config: %s", why);
    return 0;
}

int compare_check_stored(const TrainConfig *want, const TrainConfig *stored, char *err, size_t errlen) {
    int nk;
    const ConfigKey *keys = train_config_keys(&nk);
    for (int i = 0; i < nk; i++) {
        const ConfigKey *k = &keys[i];
        if (strcmp(k->key, "ckpt_every") == 0 || strcmp(k->key, "sample_every") == 0) continue; // output only
        if (strcmp(k->key, "iterations") == 0) {
            if (stored->iterations > want->iterations)
                return cg_errf(err, errlen, "iterations = %d in the stored run, %d asked (a run can be continued, not shortened)",
                               stored->iterations, want->iterations);
            continue;
        }
        if (config_same(want, stored, k)) continue;
        char a[CONFIG_MAX_VALUE], b[CONFIG_MAX_VALUE];
        config_format(a, sizeof a, stored, k);
        config_format(b, sizeof b, want, k);
        return cg_errf(err, errlen, "%s = %s in the stored run, %s asked", k->key, a, b);
    }
    return 0;
}

void compare_eval_config(EvalConfig *out, const CompareSpec *s, const TrainConfig *t) {
    *out = s->eval;
    out->subjects_seed = t->subjects_seed, out->shift = t->shift, out->cfg_ref = t->cfg_ref, out->cfg_txt = t->cfg_txt;
}
