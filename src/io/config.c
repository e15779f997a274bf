// config.c: `key = value` config files over a table of known keys. See config.h.
#include "io/config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/strbuf.h"
#include "io/atomic.h"

#define CONFIG_MAX_FILE (1L << 20) // a config file is small; refuse anything larger than 1 MiB
#define CONFIG_MAX_KEY 64

// ---- keys --------------------------------------------------------------------------------------------

// Compare a table key with a user spelling where '-' stands for '_'.
static int key_equal(const char *table_key, const char *user) {
    for (; *table_key && *user; table_key++, user++) {
        char u = *user == '-' ? '_' : *user;
        if (*table_key != u) return 0;
    }
    return *table_key == '\0' && *user == '\0';
}

const ConfigKey *config_find(const ConfigKey *keys, int n, const char *key) {
    for (int i = 0; i < n; i++)
        if (key_equal(keys[i].key, key)) return &keys[i];
    return NULL;
}

// Levenshtein distance of two short strings ('-' counts as '_'); long inputs are cut at CONFIG_MAX_KEY.
static int edit_distance(const char *a, const char *b) {
    int la = (int)strnlen(a, CONFIG_MAX_KEY), lb = (int)strnlen(b, CONFIG_MAX_KEY);
    int row[CONFIG_MAX_KEY + 1];
    for (int j = 0; j <= lb; j++) row[j] = j;
    for (int i = 1; i <= la; i++) {
        int diag = row[0];
        row[0] = i;
        for (int j = 1; j <= lb; j++) {
            char ca = a[i - 1] == '-' ? '_' : a[i - 1], cb = b[j - 1] == '-' ? '_' : b[j - 1];
            int sub = diag + (ca != cb), del = row[j] + 1, ins = row[j - 1] + 1;
            diag = row[j];
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    }
    return row[lb];
}

const char *config_nearest(const ConfigKey *keys, int n, const char *key) {
    const char *best = n > 0 ? keys[0].key : "";
    int best_d = 1 << 30;
    for (int i = 0; i < n; i++) {
        int d = edit_distance(key, keys[i].key);
        if (d < best_d) best_d = d, best = keys[i].key;
    }
    return best;
}

// ---- values ------------------------------------------------------------------------------------------

// Index of `word` in "a|b|c", or -1.
static int choice_index(const char *choices, const char *word) {
    size_t wl = strlen(word);
    int idx = 0;
    for (const char *p = choices;; idx++) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == wl && strncmp(p, word, len) == 0) return idx;
        if (!bar) return -1;
        p = bar + 1;
    }
}

// The idx-th word of "a|b|c" into buf ("?" when out of range).
static void choice_word(char *buf, size_t len, const char *choices, int idx) {
    const char *p = choices;
    for (int i = 0; i < idx && p; i++) {
        p = strchr(p, '|');
        if (p) p++;
    }
    if (!p || idx < 0) {
        snprintf(buf, len, "?");
        return;
    }
    const char *bar = strchr(p, '|');
    int wl = bar ? (int)(bar - p) : (int)strlen(p);
    snprintf(buf, len, "%.*s", wl, p);
}

int config_set(void *obj, const ConfigKey *keys, int n, const char *key, const char *value, char *err,
               size_t errlen) {
    const ConfigKey *k = config_find(keys, n, key);
    if (!k) return cg_errf(err, errlen, "unknown key '%s' (nearest: %s)", key, config_nearest(keys, n, key));
    char *field = (char *)obj + k->offset;
    char *end = NULL;
    if (k->type == CONFIG_STRING) {
        const size_t len = strlen(value);
        if (len >= CONFIG_MAX_VALUE)
            return cg_errf(err, errlen, "%s is %zu characters long, at most %d", k->key, len, CONFIG_MAX_VALUE - 1);
        for (size_t i = 0; i < len; i++)
            if (value[i] < ' ' || value[i] > '~' || value[i] == '#')
                return cg_errf(err, errlen, "%s: character %zu is not printable ASCII (or is '#')", k->key, i + 1);
        if (len && (value[0] == ' ' || value[len - 1] == ' '))
            return cg_errf(err, errlen, "%s = '%s' starts or ends with a space", k->key, value);
        memcpy(field, value, len + 1);
        return 0;
    }
    if (*value == '\0') return cg_errf(err, errlen, "%s has no value", k->key);
    errno = 0;
    switch (k->type) {
    case CONFIG_INT: {
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end != '\0') return cg_errf(err, errlen, "%s = '%s' is not an integer", k->key, value);
        if ((double)v < k->lo || (double)v > k->hi)
            return cg_errf(err, errlen, "%s = %ld is out of range [%.0f, %.0f]", k->key, v, k->lo, k->hi);
        *(int *)field = (int)v;
        return 0;
    }
    case CONFIG_U64: {
        if (!isdigit((unsigned char)value[0]))
            return cg_errf(err, errlen, "%s = '%s' is not an unsigned integer", k->key, value);
        unsigned long long v = strtoull(value, &end, 10);
        if (errno || *end != '\0') return cg_errf(err, errlen, "%s = '%s' is not an unsigned 64-bit integer", k->key, value);
        *(uint64_t *)field = (uint64_t)v;
        return 0;
    }
    case CONFIG_FLOAT: {
        float v = strtof(value, &end);
        if (end == value || *end != '\0') return cg_errf(err, errlen, "%s = '%s' is not a number", k->key, value);
        if (!isfinite(v) || (errno == ERANGE && v != 0.0f))
            return cg_errf(err, errlen, "%s = '%s' is not a finite float", k->key, value);
        if (errno == ERANGE) return cg_errf(err, errlen, "%s = '%s' is too small for a float", k->key, value);
        if ((double)v < k->lo || (double)v > k->hi)
            return cg_errf(err, errlen, "%s = %s is out of range [%g, %g]", k->key, value, k->lo, k->hi);
        *(float *)field = v;
        return 0;
    }
    case CONFIG_CHOICE: {
        int idx = choice_index(k->choices, value);
        if (idx < 0) return cg_errf(err, errlen, "%s = '%s' is not one of %s", k->key, value, k->choices);
        *(int *)field = idx;
        return 0;
    }
    case CONFIG_STRING: break; // above
    }
    return cg_errf(err, errlen, "%s: bad key type %d", k->key, (int)k->type);
}

void config_format(char *buf, size_t len, const void *obj, const ConfigKey *k) {
    const char *field = (const char *)obj + k->offset;
    switch (k->type) {
    case CONFIG_INT: snprintf(buf, len, "%d", *(const int *)field); return;
    case CONFIG_U64: snprintf(buf, len, "%llu", (unsigned long long)*(const uint64_t *)field); return;
    case CONFIG_FLOAT: {
        float v = *(const float *)field;
        for (int p = 1; p <= 9; p++) { // the shortest %g that reads back to the same float
            snprintf(buf, len, "%.*g", p, (double)v);
            if (strtof(buf, NULL) == v) return;
        }
        return; // %.9g always round-trips a float
    }
    case CONFIG_CHOICE: choice_word(buf, len, k->choices, *(const int *)field); return;
    case CONFIG_STRING: snprintf(buf, len, "%.*s", CONFIG_MAX_VALUE - 1, field); return;
    }
    snprintf(buf, len, "?");
}

int config_same(const void *a, const void *b, const ConfigKey *k) {
    char va[CONFIG_MAX_VALUE], vb[CONFIG_MAX_VALUE];
    config_format(va, sizeof va, a, k);
    config_format(vb, sizeof vb, b, k);
    return strcmp(va, vb) == 0;
}

// ---- files -------------------------------------------------------------------------------------------

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = '\0';
    return s;
}

int config_each_line(const char *text, const char *what, ConfigLineFn fn, void *ctx, char *err, size_t errlen) {
    char line[CONFIG_MAX_LINE + 1], why[512];
    int lineno = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (len > CONFIG_MAX_LINE) return cg_errf(err, errlen, "%s:%d: line longer than %d characters", what, lineno, CONFIG_MAX_LINE);
        memcpy(line, p, len);
        line[len] = '\0';
        p = nl ? nl + 1 : p + len;
        char *hash = strchr(line, '#');
        if (hash) *hash = '\0';
        char *s = trim(line);
        if (*s == '\0') continue;
        char *eq = strchr(s, '=');
        if (!eq) return cg_errf(err, errlen, "%s:%d: expected 'key = value', got '%s'", what, lineno, s);
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        if (*key == '\0') return cg_errf(err, errlen, "%s:%d: a value without a key", what, lineno);
        if (fn(ctx, key, value, lineno, why, sizeof why)) return cg_errf(err, errlen, "%s:%d: %s", what, lineno, why);
    }
    return 0;
}

// config_parse_text's line handler: each key once, parsed into obj.
typedef struct {
    void *obj;
    const ConfigKey *keys;
    int n;
    unsigned char *seen; // (n)
} TableCtx;

static int set_from_line(void *ctx, const char *key, const char *value, int line, char *err, size_t errlen) {
    (void)line;
    TableCtx *t = ctx;
    const ConfigKey *k = config_find(t->keys, t->n, key);
    if (k && t->seen[k - t->keys]) return cg_errf(err, errlen, "%s is set twice", k->key);
    if (config_set(t->obj, t->keys, t->n, key, value, err, errlen)) return -1;
    t->seen[k - t->keys] = 1;
    return 0;
}

int config_parse_text(void *obj, const ConfigKey *keys, int n, const char *text, const char *what,
                      unsigned char *seen_out, char *err, size_t errlen) {
    TableCtx t = {obj, keys, n, cg_calloc((size_t)(n > 0 ? n : 1), 1)};
    const int rc = config_each_line(text, what, set_from_line, &t, err, errlen);
    if (rc == 0 && seen_out) memcpy(seen_out, t.seen, (size_t)n);
    free(t.seen);
    return rc;
}

// The whole of a config file as a NUL-terminated string (freed by the caller), or NULL with a reason.
static char *read_text(const char *path, char *err, size_t errlen) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        cg_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *text = cg_malloc((size_t)CONFIG_MAX_FILE + 1);
    size_t got = fread(text, 1, (size_t)CONFIG_MAX_FILE + 1, f);
    int bad_read = ferror(f);
    fclose(f);
    int rc = 0;
    if (bad_read) rc = cg_errf(err, errlen, "%s: read error", path);
    else if (got > (size_t)CONFIG_MAX_FILE) rc = cg_errf(err, errlen, "%s: larger than %ld bytes, not a config file", path, CONFIG_MAX_FILE);
    else if (memchr(text, '\0', got)) rc = cg_errf(err, errlen, "%s: holds a NUL byte, not a text config file", path);
    if (rc) {
        free(text);
        return NULL;
    }
    text[got] = '\0';
    return text;
}

int config_read_file(const char *path, void *obj, const ConfigKey *keys, int n, char *err, size_t errlen) {
    char *text = read_text(path, err, errlen);
    if (!text) return -1;
    const int rc = config_parse_text(obj, keys, n, text, path, NULL, err, errlen);
    free(text);
    return rc;
}

int config_read_file_lines(const char *path, ConfigLineFn fn, void *ctx, char *err, size_t errlen) {
    char *text = read_text(path, err, errlen);
    if (!text) return -1;
    const int rc = config_each_line(text, path, fn, ctx, err, errlen);
    free(text);
    return rc;
}

int config_write_file(const char *path, const void *obj, const ConfigKey *keys, int n, const char *header,
                      char *err, size_t errlen) {
    StrBuf b = {0};
    strbuf_printf(&b, "%s", header ? header : "");
    for (int i = 0; i < n; i++) {
        char v[CONFIG_MAX_VALUE], kv[CONFIG_MAX_VALUE + 80];
        config_format(v, sizeof v, obj, &keys[i]);
        snprintf(kv, sizeof kv, "%s = %s", keys[i].key, v);
        if (keys[i].help) strbuf_printf(&b, "%-28s # %s\n", kv, keys[i].help);
        else strbuf_printf(&b, "%s\n", kv);
    }
    const int rc = atomic_write_text(path, b.s, err, errlen);
    free(b.s);
    return rc;
}

void config_print_help(FILE *f, const void *defaults, const ConfigKey *keys, int n, int key_width) {
    for (int i = 0; i < n; i++) {
        char v[CONFIG_MAX_VALUE];
        config_format(v, sizeof v, defaults, &keys[i]);
        fprintf(f, "  %-*s %-10s %s%s%s\n", key_width, keys[i].key, v, keys[i].help, keys[i].choices ? ": " : "",
                keys[i].choices ? keys[i].choices : "");
    }
}

void config_print_values(FILE *f, const void *obj, const ConfigKey *keys, int n) {
    for (int i = 0; i < n; i++) {
        char v[CONFIG_MAX_VALUE];
        config_format(v, sizeof v, obj, &keys[i]);
        fprintf(f, "%s = %s\n", keys[i].key, v);
    }
}

void config_meta_set(CkptMeta *meta, const void *obj, const ConfigKey *keys, int n) {
    for (int i = 0; i < n; i++) {
        char key[96], v[CONFIG_MAX_VALUE];
        snprintf(key, sizeof key, "cfg.%s", keys[i].key);
        config_format(v, sizeof v, obj, &keys[i]);
        ckpt_meta_set(meta, key, v);
    }
}

int config_meta_expect(const CkptMeta *meta, const void *obj, const ConfigKey *keys, int n, int (*skip)(const char *key),
                       char *err, size_t errlen) {
    for (int i = 0; i < n; i++) {
        if (skip && skip(keys[i].key)) continue;
        char key[96], v[CONFIG_MAX_VALUE];
        snprintf(key, sizeof key, "cfg.%s", keys[i].key);
        config_format(v, sizeof v, obj, &keys[i]);
        if (ckpt_meta_expect(meta, key, v, err, errlen)) return -1;
    }
    return 0;
}

int config_name_in(const char *name, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(name, names[i]) == 0) return 1;
    return 0;
}
