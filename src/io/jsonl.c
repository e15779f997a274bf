// jsonl.c: the column reader of jsonl.h, one cJSON parse per line.
#include "io/jsonl.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

static int is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n') return 0;
    return 1;
}

// Python's json module writes NaN, Infinity and -Infinity, which are not JSON: outside strings
// they become null (no JSON literal contains those letters, so no token check is needed).
static char *nonfinite_to_null(const char *s, size_t n) {
    static const char *const WORDS[3] = {"NaN", "Infinity", "-Infinity"};
    char *o = cg_malloc(2 * n + 1); // "NaN" -> "null" is the only growth: 4/3
    size_t j = 0;
    int in_str = 0;
    for (size_t i = 0; i < n; i++) {
        if (in_str) {
            o[j++] = s[i];
            if (s[i] == '\\' && i + 1 < n) o[j++] = s[++i];
            else if (s[i] == '"') in_str = 0;
            continue;
        }
        size_t wl = 0;
        for (int w = 0; w < 3 && !wl; w++)
            if (n - i >= strlen(WORDS[w]) && strncmp(s + i, WORDS[w], strlen(WORDS[w])) == 0) wl = strlen(WORDS[w]);
        if (wl) {
            memcpy(o + j, "null", 4);
            j += 4, i += wl - 1;
            continue;
        }
        in_str = s[i] == '"';
        o[j++] = s[i];
    }
    o[j] = '\0';
    return o;
}

int cg_jsonl_read_columns(const char *path, const char *const *keys, int n_keys, double **cols, size_t *n_rows,
                          size_t *n_seen, char *err, size_t errlen) {
    *cols = NULL;
    *n_rows = 0;
    if (n_keys < 1) return cg_errf(err, errlen, "no keys to read from '%s'", path);
    FILE *f = fopen(path, "rb");
    if (!f) return cg_errf(err, errlen, "cannot open '%s': %s", path, strerror(errno));
    const int rc = cg_jsonl_read_columns_file(f, path, keys, n_keys, cols, n_rows, n_seen, err, errlen);
    fclose(f);
    return rc;
}

int cg_jsonl_read_columns_file(FILE *f, const char *path, const char *const *keys, int n_keys, double **cols,
                               size_t *n_rows, size_t *n_seen, char *err, size_t errlen) {
    *cols = NULL;
    *n_rows = 0;
    if (n_keys < 1) return cg_errf(err, errlen, "no keys to read from '%s'", path);
    if (n_seen) memset(n_seen, 0, (size_t)n_keys * sizeof(size_t));
    double *rows = NULL, *cur = cg_malloc((size_t)n_keys * sizeof(double)); // rows (n, n_keys)
    size_t n = 0, cap = 0, bcap = 0, line = 0;
    char *buf = NULL;
    ssize_t len;
    int rc = 0;
    while (rc == 0 && (len = getline(&buf, &bcap, f)) >= 0) {
        line++;
        if (memchr(buf, '\0', (size_t)len)) {
            rc = cg_errf(err, errlen, "%s:%zu: contains a NUL byte", path, line);
            break;
        }
        if (is_blank(buf, (size_t)len)) continue;
        char *text = nonfinite_to_null(buf, (size_t)len);
        cJSON *obj = cJSON_ParseWithOpts(text, NULL, 1);
        free(text);
        if (!obj || !cJSON_IsObject(obj)) {
            rc = cg_errf(err, errlen, "%s:%zu: %s", path, line, obj ? "not a JSON object" : "malformed JSON");
            cJSON_Delete(obj);
            break;
        }
        int have = 0;
        for (int k = 0; k < n_keys && rc == 0; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, keys[k]);
            if (!v) continue;
            if (cJSON_IsNumber(v)) cur[k] = v->valuedouble;
            else if (cJSON_IsNull(v)) cur[k] = NAN;
            else rc = cg_errf(err, errlen, "%s:%zu: '%s' is not a number", path, line, keys[k]);
            have++;
            if (n_seen) n_seen[k]++;
        }
        cJSON_Delete(obj);
        if (rc || have < n_keys) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            rows = cg_realloc(rows, cg_mul_size(cg_mul_size(cap, (size_t)n_keys), sizeof(double)));
        }
        memcpy(rows + n * (size_t)n_keys, cur, (size_t)n_keys * sizeof(double));
        n++;
    }
    if (rc == 0 && ferror(f)) rc = cg_errf(err, errlen, "reading '%s' failed", path);
    free(buf);
    free(cur);
    if (rc) {
        free(rows);
        return -1;
    }
    double *out = cg_malloc(cg_mul_size(n ? n : 1, (size_t)n_keys * sizeof(double)));
    for (size_t r = 0; r < n; r++)
        for (int k = 0; k < n_keys; k++) out[(size_t)k * n + r] = rows[r * (size_t)n_keys + k];
    free(rows);
    *cols = out;
    *n_rows = n;
    return 0;
}
