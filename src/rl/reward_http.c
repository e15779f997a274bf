// reward_http.c: the http reward and its protocol. See reward_http.h and docs/reward_protocol.md.
#include "rl/reward_http.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/check.h"
#include "io/base64.h"
#include "io/http.h"
#include "io/png.h"
#include "world/tokenizer.h"

// ---- images --------------------------------------------------------------------------------------

// img (S, S, 3) in [-1, 1] as base64 of the format's bytes (a new string), or NULL with a reason.
static char *encode_image(const float *img, int S, int format, char *err, size_t errlen) {
    const size_t n = (size_t)S * S * 3;
    unsigned char *bytes = cg_malloc(n * 4), *png = NULL;
    size_t len = 0;
    char *out = NULL;
    if (format == REWARD_HTTP_F32) {
        for (size_t i = 0; i < n; i++) { // little-endian whatever the host
            uint32_t u;
            memcpy(&u, &img[i], 4);
            for (int k = 0; k < 4; k++) bytes[4 * i + k] = (unsigned char)(u >> (8 * k));
        }
        out = cg_base64_encode(bytes, n * 4);
    } else {
        float *unit = cg_malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) unit[i] = 0.5f * (img[i] + 1.0f);
        cg_png_float_to_rgb8(bytes, unit, n);
        free(unit);
        if (cg_png_encode_rgb8(bytes, S, S, &png, &len, err, errlen) == 0) out = cg_base64_encode(png, len);
    }
    free(png);
    free(bytes);
    return out;
}

// The base64 string s into img (S, S, 3) in [-1, 1]. 0, or -1 with a reason.
static int decode_image(float *img, const char *s, int S, int format, char *err, size_t errlen) {
    const size_t n = (size_t)S * S * 3;
    unsigned char *bytes = NULL, *rgb = NULL;
    size_t len = 0;
    char why[256];
    if (cg_base64_decode(s, strlen(s), &bytes, &len, why, sizeof why)) return cg_errf(err, errlen, "%s", why);
    int rc = 0, W = 0, H = 0;
    if (format == REWARD_HTTP_F32) {
        if (len != n * 4) rc = cg_errf(err, errlen, "%zu bytes of float32, a %dx%d image has %zu", len, S, S, n * 4);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            uint32_t u = 0;
            for (int k = 0; k < 4; k++) u |= (uint32_t)bytes[4 * i + k] << (8 * k);
            memcpy(&img[i], &u, 4);
        }
    } else if (cg_png_decode_rgb8(bytes, len, &rgb, &W, &H, why, sizeof why)) {
        rc = cg_errf(err, errlen, "%s", why);
    } else if (W != S || H != S) {
        rc = cg_errf(err, errlen, "a %dx%d PNG, the request's size is %d", W, H, S);
    } else {
        for (size_t i = 0; i < n; i++) img[i] = 2.0f * (rgb[i] / 255.0f) - 1.0f; // reward_from_render of PNG / 255
    }
    free(rgb);
    free(bytes);
    return rc;
}

// ---- the request ---------------------------------------------------------------------------------

// Rows i and j of b have the same prompt, subject and references (they go in one group).
static int same_inputs(const RewardBatch *b, int i, int j) {
    const size_t n = (size_t)b->S * b->S * 3;
    return strcmp(b->prompts[i].text, b->prompts[j].text) == 0 && (!b->subjects || b->subjects[i] == b->subjects[j]) &&
           memcmp(b->ref_plain + i * n, b->ref_plain + j * n, n * sizeof(float)) == 0 &&
           memcmp(b->ref_seg + i * n, b->ref_seg + j * n, n * sizeof(float)) == 0;
}

// Add the base64 of image img to obj under key (or to the array obj when key is NULL).
static int add_image(cJSON *obj, const char *key, const float *img, int S, int format, char *err, size_t errlen) {
    char *s = encode_image(img, S, format, err, errlen);
    if (!s) return -1;
    cJSON *str = cJSON_CreateString(s);
    free(s);
    if (key) cJSON_AddItemToObject(obj, key, str);
    else cJSON_AddItemToArray(obj, str);
    return 0;
}

char *reward_http_request(const RewardBatch *b, int i0, int n, const char *name, int format, char *err, size_t errlen) {
    const int S = b->S;
    const size_t per = (size_t)S * S * 3;
    char fmt[8];
    snprintf(fmt, sizeof fmt, "%s", format == REWARD_HTTP_F32 ? "f32" : "png");
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "protocol", REWARD_HTTP_PROTOCOL);
    cJSON_AddStringToObject(root, "reward", name);
    cJSON_AddStringToObject(root, "image_format", fmt);
    cJSON_AddNumberToObject(root, "size", S);
    cJSON_AddNumberToObject(root, "n_images", n);
    cJSON *groups = cJSON_AddArrayToObject(root, "groups");
    int rc = 0;
    for (int i = i0; i < i0 + n && rc == 0;) {
        int j = i + 1;
        while (j < i0 + n && same_inputs(b, i, j)) j++;
        cJSON *g = cJSON_CreateObject();
        cJSON_AddItemToArray(groups, g);
        cJSON_AddStringToObject(g, "prompt", b->prompts[i].text);
        const Subject *s = b->subjects ? b->subjects[i] : NULL;
        if (s) {
            cJSON *sj = cJSON_AddObjectToObject(g, "subject");
            cJSON_AddStringToObject(sj, "split", world_split_name(s->split));
            cJSON_AddNumberToObject(sj, "index", s->index);
            cJSON_AddStringToObject(sj, "class", world_class_word(s->cls));
        } else {
            cJSON_AddNullToObject(g, "subject");
        }
        rc = add_image(g, "reference", b->ref_plain + (size_t)i * per, S, format, err, errlen);
        if (rc == 0) rc = add_image(g, "reference_seg", b->ref_seg + (size_t)i * per, S, format, err, errlen);
        cJSON *imgs = cJSON_AddArrayToObject(g, "images");
        for (int r = i; r < j && rc == 0; r++) rc = add_image(imgs, NULL, b->images + (size_t)r * per, S, format, err, errlen);
        i = j;
    }
    char *text = rc == 0 ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

// ---- the answer ----------------------------------------------------------------------------------

// Up to max characters of s (len bytes) as one printable line into dst, "..." when cut.
static void snippet(char *dst, size_t dstlen, const char *s, size_t len, size_t max) {
    size_t k = 0;
    for (size_t i = 0; i < len && i < max && k + 1 < dstlen; i++)
        dst[k++] = (unsigned char)s[i] >= ' ' && (unsigned char)s[i] < 127 ? s[i] : ' ';
    dst[k] = '\0';
    if (len > max && k + 4 < dstlen) memcpy(dst + k, "...", 4);
}

// Parse text (len bytes) as JSON, or NULL with "the WHAT is not JSON (at byte K: '...')".
static cJSON *parse_json(const char *text, size_t len, const char *what, char *err, size_t errlen) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        char shown[128];
        const size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        snippet(shown, sizeof shown, text + at, len - at, 40);
        cg_errf(err, errlen, "the %s is not JSON (at byte %zu: '%s')", what, at, shown);
    }
    return root;
}

int reward_http_parse_answer(const char *body, size_t len, int n, float *scores, char *err, size_t errlen) {
    char shown[128];
    cJSON *root = parse_json(body, len, "answer", err, errlen);
    if (!root) return -1;
    const cJSON *arr = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "scores") : NULL;
    int rc = 0;
    if (!cJSON_IsArray(arr)) {
        snippet(shown, sizeof shown, body, len, 60);
        rc = cg_errf(err, errlen, "the answer has no \"scores\" array: '%s'", shown);
    } else if (cJSON_GetArraySize(arr) != n) {
        rc = cg_errf(err, errlen, "the answer has %d scores for %d images", cJSON_GetArraySize(arr), n);
    }
    int i = 0;
    for (const cJSON *x = rc ? NULL : arr->child; x && rc == 0; x = x->next, i++) {
        if (!cJSON_IsNumber(x)) {
            char *t = cJSON_PrintUnformatted(x);
            snippet(shown, sizeof shown, t, strlen(t), 40);
            free(t);
            rc = cg_errf(err, errlen, "score %d of %d is %s, not a number", i, n, shown);
        } else if (!isfinite((float)x->valuedouble)) {
            rc = cg_errf(err, errlen, "score %d of %d is %g, not a finite float", i, n, x->valuedouble);
        } else {
            scores[i] = (float)x->valuedouble;
        }
    }
    cJSON_Delete(root);
    return rc;
}

void reward_http_write_answer(FILE *f, const float *scores, int n) {
    fputs("{\"scores\":[", f);
    for (int i = 0; i < n; i++) fprintf(f, "%s%.9g", i ? "," : "", (double)scores[i]);
    fputs("]}\n", f);
}

// ---- the request, read back ----------------------------------------------------------------------

static int json_int(const cJSON *root, const char *key, int lo, int hi, int *v, char *err, size_t errlen) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble) || x->valuedouble < lo || x->valuedouble > hi)
        return cg_errf(err, errlen, "the request's \"%s\" is not an integer in [%d, %d]", key, lo, hi);
    *v = (int)x->valuedouble;
    return 0;
}

static const char *json_string(const cJSON *obj, const char *key) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

// Group g of the request (its rows from *row on) into req's buffers.
static int read_group(RewardHttpRequest *req, const cJSON *g, int gi, int *row, char *err, size_t errlen) {
    const int S = req->batch.S, B = req->batch.B;
    const size_t per = (size_t)S * S * 3;
    const char *text = json_string(g, "prompt"), *ref = json_string(g, "reference"), *seg = json_string(g, "reference_seg");
    const cJSON *imgs = cJSON_GetObjectItemCaseSensitive(g, "images");
    if (!text || !ref || !seg || !cJSON_IsArray(imgs))
        return cg_errf(err, errlen, "group %d needs \"prompt\", \"reference\", \"reference_seg\" (strings) and \"images\" (an array)", gi);
    const int r0 = *row, count = cJSON_GetArraySize(imgs);
    if (count < 1 || count > B - r0) return cg_errf(err, errlen, "group %d: %d images do not fit n_images = %d", gi, count, B);
    char why[512];
    Prompt p;
    int ids[TOK_MAX_TOKENS];
    if (tok_encode(ids, text, why, sizeof why) < 0 || prompt_parse(&p, text, -1, why, sizeof why))
        return cg_errf(err, errlen, "group %d: prompt '%.100s': %s", gi, text, why);
    if (decode_image(req->ref_plain + (size_t)r0 * per, ref, S, req->format, why, sizeof why) ||
        decode_image(req->ref_seg + (size_t)r0 * per, seg, S, req->format, why, sizeof why))
        return cg_errf(err, errlen, "group %d: reference: %s", gi, why);
    int k = 0;
    for (const cJSON *x = imgs->child; x; x = x->next, k++) {
        const int r = r0 + k;
        if (!cJSON_IsString(x) || decode_image(req->images + (size_t)r * per, x->valuestring, S, req->format, why, sizeof why))
            return cg_errf(err, errlen, "group %d, image %d: %s", gi, k, cJSON_IsString(x) ? why : "not a string");
        if (k) {
            memcpy(req->ref_plain + (size_t)r * per, req->ref_plain + (size_t)r0 * per, per * sizeof(float));
            memcpy(req->ref_seg + (size_t)r * per, req->ref_seg + (size_t)r0 * per, per * sizeof(float));
        }
        memcpy(req->tokens + (size_t)r * TOK_MAX_TOKENS, ids, sizeof ids);
        req->prompts[r] = p;
    }
    *row = r0 + count;
    return 0;
}

int reward_http_read_request(RewardHttpRequest *req, const char *json, size_t len, char *err, size_t errlen) {
    memset(req, 0, sizeof *req);
    cJSON *root = parse_json(json, len, "request", err, errlen);
    if (!root) return -1;
    int rc = 0, S = 0, B = 0;
    const char *proto = json_string(root, "protocol"), *name = json_string(root, "reward");
    const char *fmt = json_string(root, "image_format");
    const cJSON *groups = cJSON_GetObjectItemCaseSensitive(root, "groups");
    if (!proto || strcmp(proto, REWARD_HTTP_PROTOCOL) != 0)
        rc = cg_errf(err, errlen, "the request's \"protocol\" is not \"%s\"", REWARD_HTTP_PROTOCOL);
    else if (!name || !name[0] || strlen(name) >= REWARD_NAME_MAX)
        rc = cg_errf(err, errlen, "the request's \"reward\" is not a name of 1 to %d characters", REWARD_NAME_MAX - 1);
    else if (!fmt || (strcmp(fmt, "png") != 0 && strcmp(fmt, "f32") != 0))
        rc = cg_errf(err, errlen, "the request's \"image_format\" is not \"png\" or \"f32\"");
    else if (!cJSON_IsArray(groups))
        rc = cg_errf(err, errlen, "the request has no \"groups\" array");
    if (rc == 0) rc = json_int(root, "size", 1, 1024, &S, err, errlen);
    if (rc == 0) rc = json_int(root, "n_images", 1, 1 << 20, &B, err, errlen);
    if (rc == 0 && (double)B * S * S > (double)REWARD_HTTP_MAX_PIXELS)
        rc = cg_errf(err, errlen, "the request's %d images of %dx%d are more than %d pixels", B, S, S, REWARD_HTTP_MAX_PIXELS);
    if (rc == 0) {
        snprintf(req->reward, sizeof req->reward, "%s", name);
        req->format = strcmp(fmt, "f32") == 0 ? REWARD_HTTP_F32 : REWARD_HTTP_PNG;
        const size_t bytes = cg_mul_size(cg_mul_size((size_t)B, (size_t)S * S * 3), sizeof(float));
        req->images = cg_malloc(bytes), req->ref_plain = cg_malloc(bytes), req->ref_seg = cg_malloc(bytes);
        req->tokens = cg_malloc((size_t)B * TOK_MAX_TOKENS * sizeof(int));
        req->prompts = cg_malloc((size_t)B * sizeof(Prompt));
        req->batch = (RewardBatch){.B = B, .S = S, .images = req->images, .ref_seg = req->ref_seg,
                                   .ref_plain = req->ref_plain, .tokens = req->tokens, .prompts = req->prompts};
        int row = 0, gi = 0;
        for (const cJSON *g = groups->child; g && rc == 0; g = g->next, gi++) rc = read_group(req, g, gi, &row, err, errlen);
        if (rc == 0 && row != B) rc = cg_errf(err, errlen, "the groups hold %d images, n_images is %d", row, B);
    }
    cJSON_Delete(root);
    if (rc) reward_http_request_free(req);
    return rc;
}

void reward_http_request_free(RewardHttpRequest *req) {
    free(req->images), free(req->ref_plain), free(req->ref_seg), free(req->tokens), free(req->prompts);
    memset(req, 0, sizeof *req);
}

// ---- the reward ----------------------------------------------------------------------------------

typedef struct {
    char url[1024], name[REWARD_NAME_MAX];
    int format, batch, timeout_ms, retries;
    char *api_key; // from the environment, NULL when none
    CgHttp *http;
} HttpReward;

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

// One request for n images into scores (n), with the retries. 0, or -1 with a reason.
static int post_scored(HttpReward *st, const char *body, int n, float *scores, char *err, size_t errlen) {
    const CgHttpPost post = {st->url, st->api_key, st->timeout_ms, REWARD_HTTP_MAX_ANSWER(n)};
    char why[600] = "", last[700] = "", shown[160];
    long backoff = 250;
    for (int t = 0; t <= st->retries; t++) {
        if (t > 0) {
            sleep_ms(backoff);
            backoff = backoff * 2 > 8000 ? 8000 : backoff * 2;
        }
        CgHttpAnswer a;
        const int rc = cg_http_post_json(st->http, &post, body, strlen(body), &a, why, sizeof why);
        if (rc == CG_HTTP_ETOOBIG) return cg_errf(err, errlen, "%s", why);
        if (rc == CG_HTTP_ETRANSPORT) {
            snprintf(last, sizeof last, "no answer (%s)", why);
            continue;
        }
        if (a.status != 200) {
            snippet(shown, sizeof shown, a.body, a.len, 120);
            snprintf(last, sizeof last, "HTTP %ld: '%s'", a.status, shown);
            const int retry = a.status >= 500 && a.status < 600;
            cg_http_answer_free(&a);
            if (retry) continue;
            return cg_errf(err, errlen, "%s", last);
        }
        const int bad = reward_http_parse_answer(a.body, a.len, n, scores, err, errlen);
        cg_http_answer_free(&a);
        return bad;
    }
    if (st->retries == 0) return cg_errf(err, errlen, "%s", last);
    return cg_errf(err, errlen, "%s, after %d tries", last, st->retries + 1);
}

static int http_reward_score(Reward *r, const RewardBatch *b, float *scores, char *err, size_t errlen) {
    HttpReward *st = r->state;
    char why[900];
    for (int i0 = 0; i0 < b->B; i0 += st->batch) {
        const int n = b->B - i0 < st->batch ? b->B - i0 : st->batch;
        char *body = reward_http_request(b, i0, n, st->name, st->format, why, sizeof why);
        const int rc = body ? post_scored(st, body, n, scores + i0, why, sizeof why) : -1;
        free(body);
        if (rc) return cg_errf(err, errlen, "reward server %s (reward '%s'): %s", st->url, st->name, why);
    }
    return 0;
}

static void http_reward_free(Reward *r) {
    HttpReward *st = r->state;
    if (!st) return;
    cg_http_close(st->http);
    if (st->api_key) memset(st->api_key, 0, strlen(st->api_key)), free(st->api_key);
    free(st);
    r->state = NULL;
}

Reward *reward_http_create(const RewardHttpConfig *c, char *err, size_t errlen) {
    const char *url = c->url ? c->url : "", *name = c->name ? c->name : "";
    int bad = 0;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        bad = cg_errf(err, errlen, "http reward: url '%.200s' does not start with http:// or https://", url);
    else if (strlen(url) >= sizeof(((HttpReward *)0)->url))
        bad = cg_errf(err, errlen, "http reward: the url is longer than %zu characters", sizeof(((HttpReward *)0)->url) - 1);
    else if (!name[0] || strlen(name) + 5 >= REWARD_NAME_MAX || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != strlen(name))
        bad = cg_errf(err, errlen, "http reward: name '%.60s' is not 1 to %d letters, digits, '-', '_' or '.'", name, REWARD_NAME_MAX - 6);
    else if (c->format != REWARD_HTTP_PNG && c->format != REWARD_HTTP_F32)
        bad = cg_errf(err, errlen, "http reward: image format %d is not png (0) or f32 (1)", c->format);
    else if (c->batch < 1 || c->timeout_ms < 1 || c->retries < 0)
        bad = cg_errf(err, errlen, "http reward: batch %d, timeout %d ms, retries %d (want >= 1, >= 1, >= 0)", c->batch,
                      c->timeout_ms, c->retries);
    const char *key = NULL;
    if (!bad && c->api_key_env && c->api_key_env[0]) {
        key = getenv(c->api_key_env);
        if (!key || !key[0])
            bad = cg_errf(err, errlen, "http reward: the environment variable %.100s (the API key) is not set", c->api_key_env);
        else if (strpbrk(key, "\r\n"))
            bad = cg_errf(err, errlen, "http reward: the API key in %.100s holds a line break", c->api_key_env);
    }
    CgHttp *h = bad ? NULL : cg_http_open(err, errlen);
    if (!h) return NULL;
    HttpReward *st = cg_calloc(1, sizeof(HttpReward));
    snprintf(st->url, sizeof st->url, "%s", url);
    snprintf(st->name, sizeof st->name, "%s", name);
    st->format = c->format, st->batch = c->batch, st->timeout_ms = c->timeout_ms, st->retries = c->retries;
    if (key) {
        const size_t n = strlen(key) + 1;
        st->api_key = cg_malloc(n);
        memcpy(st->api_key, key, n);
    }
    st->http = h;
    Reward *r = cg_calloc(1, sizeof(Reward));
    snprintf(r->name, sizeof r->name, "http:%s", name);
    r->needs = REWARD_NEEDS_SEG | REWARD_NEEDS_PLAIN | REWARD_NEEDS_PROMPTS;
    r->S = 0;
    r->score = http_reward_score;
    r->free = http_reward_free;
    r->state = st;
    return r;
}
