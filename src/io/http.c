// http.c: the libcurl transport of http.h.
#include "io/http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

struct CgHttp {
    CURL *curl;
};

// libcurl's global state, started once (the process is single-threaded when rewards are created)
// and cleaned up at exit.
static int global_init(char *err, size_t errlen) {
    static int state = 0; // 0 not tried, 1 ready, -1 failed
    if (state == 0) {
        state = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 1 : -1;
        if (state == 1) atexit(curl_global_cleanup);
    }
    return state == 1 ? 0 : cg_errf(err, errlen, "libcurl failed to initialize");
}

CgHttp *cg_http_open(char *err, size_t errlen) {
    if (global_init(err, errlen)) return NULL;
    CURL *c = curl_easy_init();
    if (!c) {
        cg_errf(err, errlen, "libcurl could not create a handle");
        return NULL;
    }
    CgHttp *h = cg_calloc(1, sizeof(CgHttp));
    h->curl = c;
    return h;
}

void cg_http_close(CgHttp *h) {
    if (!h) return;
    curl_easy_cleanup(h->curl);
    free(h);
}

typedef struct {
    char *buf;
    size_t len, cap, max;
    int too_big;
} Sink;

static size_t sink_write(char *data, size_t size, size_t nmemb, void *userdata) {
    Sink *s = userdata;
    const size_t n = size * nmemb;
    if (n > s->max - s->len) { // returning less than n makes libcurl stop with CURLE_WRITE_ERROR
        s->too_big = 1;
        return 0;
    }
    if (s->len + n + 1 > s->cap) {
        s->cap = s->cap ? s->cap : 4096;
        while (s->len + n + 1 > s->cap) s->cap *= 2;
        s->buf = cg_realloc(s->buf, s->cap);
    }
    memcpy(s->buf + s->len, data, n);
    s->len += n;
    return n;
}

int cg_http_post_json(CgHttp *h, const CgHttpPost *p, const char *body, size_t len, CgHttpAnswer *ans, char *err,
                      size_t errlen) {
    memset(ans, 0, sizeof *ans);
    CURL *c = h->curl;
    curl_easy_reset(c); // keeps the connection, forgets the last call's options
    Sink sink = {NULL, 0, 0, p->max_answer, 0};
    char curl_err[CURL_ERROR_SIZE] = "";
    struct curl_slist *hdr = NULL;
    hdr = curl_slist_append(hdr, "Content-Type: application/json");
    hdr = curl_slist_append(hdr, "Accept: application/json");
    hdr = curl_slist_append(hdr, "Expect:");
    char *auth = NULL;
    if (p->bearer) {
        const size_t n = strlen(p->bearer) + 32;
        auth = cg_malloc(n);
        snprintf(auth, n, "Authorization: Bearer %s", p->bearer);
        hdr = curl_slist_append(hdr, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, p->url);
#if LIBCURL_VERSION_NUM >= 0x075500 // 7.85
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    // signals stay allowed: libcurl then ignores SIGPIPE while it sends (a server that closes the
    // connection mid-request must not kill the trainer); Debian's libcurl resolves names in a
    // thread, so no SIGALRM is involved in the timeout
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, p->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, p->timeout_ms);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    const CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdr);
    if (auth) memset(auth, 0, strlen(auth)), free(auth);
    if (sink.too_big || rc != CURLE_OK) {
        free(sink.buf);
        if (sink.too_big) cg_errf(err, errlen, "the answer is larger than %zu bytes", p->max_answer);
        else cg_errf(err, errlen, "%s", curl_err[0] ? curl_err : curl_easy_strerror(rc));
        return sink.too_big ? CG_HTTP_ETOOBIG : CG_HTTP_ETRANSPORT;
    }
    if (!sink.buf) sink.buf = cg_calloc(1, 1);
    sink.buf[sink.len] = '\0';
    ans->status = status, ans->body = sink.buf, ans->len = sink.len;
    return CG_HTTP_OK;
}

void cg_http_answer_free(CgHttpAnswer *a) {
    free(a->body);
    memset(a, 0, sizeof *a);
}
