// http.h: the HTTP transport of external rewards (rl/reward_http.h): one HTTP/1.1 POST of a JSON
// body with libcurl, on a handle that keeps its connection between calls.
//
//   CgHttp *h = cg_http_open();
//   CgHttpPost p = {.url = "http://127.0.0.1:8123/score", .timeout_ms = 60000, .max_answer = 1 << 20};
//   CgHttpAnswer a;
//   int rc = cg_http_post_json(h, &p, body, strlen(body), &a, err, sizeof err);
//   if (rc == CG_HTTP_OK && a.status == 200) ... a.body ...;      // any status counts as an answer
//   cg_http_answer_free(&a);
//   cg_http_close(h);
//
// Only http:// and https:// URLs are followed, redirects are not. The body is sent with
// "Content-Type: application/json" and without "Expect: 100-continue" (no extra round trip). The
// bearer token, when given, goes into an "Authorization: Bearer ..." header and into no message.
#ifndef CGRPO_IO_HTTP_H
#define CGRPO_IO_HTTP_H

#include <stddef.h>

typedef struct CgHttp CgHttp;

typedef struct {
    const char *url;
    const char *bearer; // NULL: no Authorization header
    long timeout_ms;    // the whole exchange, connecting included (> 0)
    size_t max_answer;  // bytes; a longer answer is abandoned (CG_HTTP_ETOOBIG)
} CgHttpPost;

typedef struct {
    long status; // the HTTP status code
    char *body;  // the answer's body, NUL-terminated (malloc'd; "" when empty)
    size_t len;  // its length without the NUL
} CgHttpAnswer;

enum {
    CG_HTTP_OK = 0,          // an answer came (any status)
    CG_HTTP_ETRANSPORT = -1, // none came: refused, timed out, connection closed, ... (worth a retry)
    CG_HTTP_ETOOBIG = -2,    // the answer was larger than max_answer
};

// A new handle, or NULL with a reason (libcurl could not start).
CgHttp *cg_http_open(char *err, size_t errlen);
void cg_http_close(CgHttp *h); // NULL is fine
// POST body (len bytes). CG_HTTP_OK with *ans filled (free it with cg_http_answer_free), or one of
// the errors above with a one-line reason (libcurl's words) in err and *ans empty.
int cg_http_post_json(CgHttp *h, const CgHttpPost *p, const char *body, size_t len, CgHttpAnswer *ans, char *err,
                      size_t errlen);
void cg_http_answer_free(CgHttpAnswer *a);

#endif
