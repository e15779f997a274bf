// test_reward_http.c: the http reward's pieces without a server: base64, PNG in memory, the
// string keys of the trainer's config, the protocol's request and answer (built, read back,
// refused when malformed), and the client's failures on a port where nothing listens.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/check.h"
#include "io/base64.h"
#include "io/config.h"
#include "io/png.h"
#include "rl/reward_http.h"
#include "reward_rows.h"
#include "rl/trainer.h"
#include "scratch.h"
#include "test.h"
#include "world/tokenizer.h"

#define S_ 8
#define PX ((size_t)S_ * S_ * 3)

static char g_tmpl[] = "/tmp/cgrpo_test_reward_http_XXXXXX";
static const char *g_dir;

static void test_base64(void) {
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"}; // RFC 4648, section 10
    for (int i = 0; i < 7; i++) {
        char *s = cg_base64_encode(plain[i], strlen(plain[i]));
        EXPECT(strcmp(s, coded[i]) == 0, "encode '%s': %s", plain[i], s);
        unsigned char *d;
        size_t n;
        char err[128];
        EXPECT(cg_base64_decode(s, strlen(s), &d, &n, err, sizeof err) == 0 && n == strlen(plain[i]) &&
                   (n == 0 || memcmp(d, plain[i], n) == 0), "decode '%s'", s);
        free(d), free(s);
    }
    unsigned char all[256];
    for (int i = 0; i < 256; i++) all[i] = (unsigned char)i;
    char *s = cg_base64_encode(all, 256);
    unsigned char *d;
    size_t n;
    char err[128];
    EXPECT(cg_base64_decode(s, strlen(s), &d, &n, err, sizeof err) == 0 && n == 256 && memcmp(d, all, 256) == 0, "0..255");
    free(d), free(s);
    const char *bad[] = {"Zm9", "Zm9v!A==", "Zg=A", "Z===", "Zh==", "Zm9=", "=Zm9"};
    for (int i = 0; i < 7; i++)
        EXPECT(cg_base64_decode(bad[i], strlen(bad[i]), &d, &n, err, sizeof err) == -1 && !d, "'%s' refused", bad[i]);
}

static void test_png_memory(void) {
    unsigned char rgb[5 * 3 * 3], *png, *back;
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (unsigned char)(i * 37 + 11);
    size_t len;
    int W, H;
    char err[256];
    EXPECT(cg_png_encode_rgb8(rgb, 5, 3, &png, &len, err, sizeof err) == 0 && len > 8, "encode: %s", err);
    EXPECT(cg_png_decode_rgb8(png, len, &back, &W, &H, err, sizeof err) == 0 && W == 5 && H == 3 &&
               memcmp(back, rgb, sizeof rgb) == 0, "decode: %s", err);
    free(back);
    EXPECT(cg_png_decode_rgb8(png, len / 2, &back, &W, &H, err, sizeof err) == -1 && !back, "a cut PNG is refused");
    EXPECT(cg_png_decode_rgb8("not a png at all", 16, &back, &W, &H, err, sizeof err) == -1 && strstr(err, "signature"),
           "not a PNG: %s", err);
    free(png);
}

// The trainer's string keys: parsed, empty allowed, refused when they cannot be written back, and
// a config file round trip.
static void test_config_strings(void) {
    int nk;
    const ConfigKey *keys = train_config_keys(&nk);
    TrainConfig c = train_config_default(), d = train_config_default();
    char err[512], path[512];
    EXPECT(config_parse_text(&c, keys, nk, "reward_prompt = http\nhttp_url = http://10.0.0.2:99/v1/score  # the box\n"
                             "http_api_key_env =\nhttp_format = f32\n", "x.cfg", NULL, err, sizeof err) == 0, "%s", err);
    EXPECT(strcmp(c.http_url, "http://10.0.0.2:99/v1/score") == 0 && c.http_api_key_env[0] == '\0' &&
               c.http_format == REWARD_HTTP_F32 && strcmp(train_reward_prompt_name(&c), "http") == 0,
           "url '%s'", c.http_url);
    char long_url[200];
    memset(long_url, 'a', sizeof long_url - 1);
    long_url[sizeof long_url - 1] = '\0';
    EXPECT(config_set(&c, keys, nk, "http-url", long_url, err, sizeof err) == -1 && strstr(err, "at most 127"), "%s", err);
    EXPECT(config_set(&c, keys, nk, "http_url", "a\tb", err, sizeof err) == -1 && strstr(err, "printable"), "%s", err);
    snprintf(path, sizeof path, "%s/c.cfg", g_dir);
    snprintf(c.http_api_key_env, sizeof c.http_api_key_env, "MY_KEY");
    EXPECT(config_write_file(path, &c, keys, nk, NULL, err, sizeof err) == 0, "%s", err);
    EXPECT(config_read_file(path, &d, keys, nk, err, sizeof err) == 0, "%s", err);
    for (int i = 0; i < nk; i++) EXPECT(config_same(&c, &d, &keys[i]), "%s differs after the round trip", keys[i].key);
    d = train_config_default();
    d.http_api_key_env[0] = '\0';
    EXPECT(config_write_file(path, &d, keys, nk, NULL, err, sizeof err) == 0 &&
               config_read_file(path, &c, keys, nk, err, sizeof err) == 0 && c.http_api_key_env[0] == '\0',
           "an empty string round-trips: %s", err);
    EXPECT(train_key_is_resumable("http_url") && !train_key_is_resumable("http_prompt_reward"), "resumable keys");
}

// Two groups of three rows (train subjects 4 and 9), the second image of each with values outside
// [-1, 1] (the generator overshoots; PNG clamps them, f32 keeps them).
typedef struct {
    World w;
    float img[6 * PX], plain[6 * PX], seg[6 * PX];
    Prompt prompts[6];
    const Subject *subjects[6];
    RewardBatch b;
} Rows;

static void make_rows(Rows *r) {
    world_init(&r->w, WORLD_DEFAULT_SUBJECTS_SEED);
    for (int i = 0; i < 6; i++) {
        const Subject *s = world_subject(&r->w, SPLIT_TRAIN, i < 3 ? 4 : 9);
        r->subjects[i] = s;
        prompt_make(&r->prompts[i], s->cls, i < 3 ? 1 : 20);
        reward_row_render(r->img + i * PX, r->plain + i * PX, r->seg + i * PX, s, &r->prompts[i], (uint64_t)i, S_);
    }
    r->img[PX + 5] = 1.25f, r->img[4 * PX] = -1.5f;
    r->b = (RewardBatch){.B = 6, .S = S_, .images = r->img, .ref_seg = r->seg, .ref_plain = r->plain,
                         .prompts = r->prompts, .subjects = r->subjects};
}

static int count(const char *hay, const char *needle) {
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

static void test_request_round_trip(void) {
    static Rows r;
    make_rows(&r);
    char err[512];
    for (int format = 0; format < 2; format++) {
        char *json = reward_http_request(&r.b, 0, 6, "prompt", format, err, sizeof err);
        EXPECT(json != NULL, "%s", err);
        if (!json) continue;
        EXPECT(count(json, "\"prompt\":") == 2 && count(json, "\"reference_seg\":") == 2 && strstr(json, "\"split\":\"train\"") &&
                   strstr(json, "\"index\":9") && strstr(json, "\"n_images\":6") && strstr(json, REWARD_HTTP_PROTOCOL),
               "two groups: %.300s", json);
        RewardHttpRequest q;
        EXPECT(reward_http_read_request(&q, json, strlen(json), err, sizeof err) == 0, "read back: %s", err);
        if (q.images) {
            EXPECT(q.batch.B == 6 && q.batch.S == S_ && strcmp(q.reward, "prompt") == 0 && q.format == format, "header");
            double worst = 0.0;
            for (size_t i = 0; i < 6 * PX; i++) {
                const float want = r.img[i] < -1 ? -1 : r.img[i] > 1 ? 1 : r.img[i];
                const double e = format == REWARD_HTTP_F32 ? fabs(q.images[i] - r.img[i]) : fabs(q.images[i] - want);
                worst = e > worst ? e : worst;
                EXPECT(fabs(q.ref_seg[i] - r.seg[i]) <= 1.001 / 255 && fabs(q.ref_plain[i] - r.plain[i]) <= 1.001 / 255,
                       "references at %zu", i);
            }
            EXPECT(format == REWARD_HTTP_F32 ? worst == 0.0 : worst <= 1.001 / 255, "format %d: images off by %g", format, worst);
            for (int i = 0; i < 6; i++) {
                int ids[TOK_MAX_TOKENS];
                tok_encode(ids, r.prompts[i].text, err, sizeof err);
                EXPECT(memcmp(q.tokens + i * TOK_MAX_TOKENS, ids, sizeof ids) == 0 && strcmp(q.prompts[i].text, r.prompts[i].text) == 0 &&
                           q.prompts[i].template_index == r.prompts[i].template_index, "row %d's prompt", i);
            }
            reward_http_request_free(&q);
        }
        free(json);
    }
    // a part of the batch: rows 2..4 (the end of group 0, the start of group 1)
    char *json = reward_http_request(&r.b, 2, 3, "id", REWARD_HTTP_F32, err, sizeof err);
    RewardHttpRequest q;
    EXPECT(json && reward_http_read_request(&q, json, strlen(json), err, sizeof err) == 0 && q.batch.B == 3 &&
               memcmp(q.images, r.img + 2 * PX, 3 * PX * sizeof(float)) == 0 && count(json, "\"prompt\":") == 2,
           "rows 2..4: %s", err);
    reward_http_request_free(&q);
    free(json);
}

static void test_request_refused(void) {
    static Rows r;
    make_rows(&r);
    char err[512];
    char *json = reward_http_request(&r.b, 0, 3, "prompt", REWARD_HTTP_PNG, err, sizeof err);
    const size_t len = strlen(json);
    struct {
        const char *from, *to, *want;
    } edits[] = {
        {"\"n_images\":3", "\"n_images\":4", "hold 3 images"},
        {"\"n_images\":3", "\"n_images\":400000", "more than 16777216 pixels"},
        {"\"size\":8", "\"size\":9", "8x8 PNG"},
        {"cgrpo-reward/1", "cgrpo-reward/9", "protocol"},
        {"\"image_format\":\"png\"", "\"image_format\":\"jpg\"", "image_format"},
        {"\"prompt\":\"a sks", "\"prompt\":\"a skz", "skz"},
        {"\"reference\":\"", "\"reference\":\"!", "group 0: reference: base64"},
    };
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        char *at = strstr(json, edits[e].from);
        EXPECT(at != NULL, "edit %zu: '%s' not in the request", e, edits[e].from);
        if (!at) continue;
        char *bad = cg_malloc(len + 16);
        snprintf(bad, len + 16, "%.*s%s%s", (int)(at - json), json, edits[e].to, at + strlen(edits[e].from));
        RewardHttpRequest q;
        EXPECT(reward_http_read_request(&q, bad, strlen(bad), err, sizeof err) == -1 && strstr(err, edits[e].want) &&
                   !strchr(err, '\n') && !q.images, "edit %zu: %s", e, err);
        free(bad);
    }
    RewardHttpRequest q;
    EXPECT(reward_http_read_request(&q, json, len / 2, err, sizeof err) == -1 && strstr(err, "not JSON"), "cut: %s", err);
    free(json);
}

static void test_answers(void) {
    float s[3];
    char err[512];
    const char *ok = "{\"scores\": [1.5, -2e1, 0.333333343], \"model\": \"x\"}";
    EXPECT(reward_http_parse_answer(ok, strlen(ok), 3, s, err, sizeof err) == 0 && s[0] == 1.5f && s[1] == -20.0f &&
               s[2] == 0.333333343f, "%s", err);
    struct {
        const char *body, *want;
    } bad[] = {
        {"{\"scores\": [1, 2]}", "2 scores for 3 images"},
        {"{\"scores\": [1, null, 2]}", "score 1 of 3 is null"},
        {"{\"scores\": [1, \"2\", 2]}", "not a number"},
        {"{\"scores\": [1, 1e39, 2]}", "not a finite float"},
        {"{\"scores\": [NaN, 1, 2]}", "at byte 12: 'NaN, 1, 2]}'"},
        {"<html>oops</html>", "not JSON"},
        {"[1, 2, 3]", "no \"scores\" array"},
        {"{\"score\": [1, 2, 3]}", "no \"scores\" array"},
        {"", "not JSON"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        EXPECT(reward_http_parse_answer(bad[i].body, strlen(bad[i].body), 3, s, err, sizeof err) == -1 &&
                   strstr(err, bad[i].want), "'%s': %s", bad[i].body, err);
    // what a server writes reads back to the same floats
    const float v[4] = {1.0f / 3.0f, -87.654321f, 1e-30f, 0.0f};
    char path[512];
    snprintf(path, sizeof path, "%s/answer.json", g_dir);
    FILE *f = fopen(path, "wb");
    reward_http_write_answer(f, v, 4);
    fclose(f);
    size_t len;
    unsigned char *text = test_read_file(path, &len);
    float back[4];
    EXPECT(text && reward_http_parse_answer((const char *)text, len, 4, back, err, sizeof err) == 0 &&
               memcmp(back, v, sizeof v) == 0, "round trip: %s", err);
    free(text);
}

// A port on 127.0.0.1 where nothing listens (bound, then closed).
static int dead_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    CG_CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &al) == 0,
             "a loopback socket");
    close(fd);
    return ntohs(a.sin_port);
}

static void test_client_failures(void) {
    char err[1024], url[64];
    RewardHttpConfig c = {"ftp://x", "prompt", REWARD_HTTP_PNG, 64, 1000, 0, NULL};
    EXPECT(!reward_http_create(&c, err, sizeof err) && strstr(err, "http://"), "scheme: %s", err);
    c.url = "http://127.0.0.1:1/score", c.name = "a b";
    EXPECT(!reward_http_create(&c, err, sizeof err) && strstr(err, "name 'a b'"), "name: %s", err);
    c.name = "prompt", c.api_key_env = "CGRPO_TEST_SURELY_UNSET_KEY";
    unsetenv(c.api_key_env);
    EXPECT(!reward_http_create(&c, err, sizeof err) && strstr(err, "CGRPO_TEST_SURELY_UNSET_KEY"), "key: %s", err);
    setenv(c.api_key_env, "s3cret-value", 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/score", dead_port());
    c.url = url, c.retries = 1;
    Reward *r = reward_http_create(&c, err, sizeof err);
    EXPECT(r && strcmp(r->name, "http:prompt") == 0, "create: %s", err);
    if (!r) return;
    static Rows rows;
    make_rows(&rows);
    float s[6];
    EXPECT(reward_score(r, &rows.b, s, err, sizeof err) == -1 && strstr(err, url) && strstr(err, "no answer") &&
               strstr(err, "after 2 tries") && !strstr(err, "s3cret") && !strchr(err, '\n'), "refused: %s", err);
    RewardBatch no_refs = rows.b;
    no_refs.ref_seg = NULL;
    EXPECT(reward_score(r, &no_refs, s, err, sizeof err) == -1 && strstr(err, "segmented"), "needs: %s", err);
    reward_free(r);
    unsetenv(c.api_key_env);
}

int main(void) {
    g_dir = scratch_dir(g_tmpl);
    RUN(test_base64);
    RUN(test_png_memory);
    RUN(test_config_strings);
    RUN(test_request_round_trip);
    RUN(test_request_refused);
    RUN(test_answers);
    RUN(test_client_failures);
    scratch_remove(g_dir);
    return test_summary("reward_http");
}
