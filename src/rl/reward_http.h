// reward_http.h: the `http` reward kind: a Reward (rl/reward.h) whose scores come from a reward
// server (tools/reward_server.py, or a user's own: DINOv2, HPS-v3, ...), one JSON request per
// batch over HTTP/1.1 (io/http.h). docs/reward_protocol.md is the protocol with a full example;
// in short:
//
//   POST URL   {"protocol": "cgrpo-reward/1", "reward": NAME, "image_format": "png" | "f32",
//               "size": S, "n_images": n,
//               "groups": [{"prompt": TEXT, "subject": {"split", "index", "class"} | null,
//                           "reference": IMG, "reference_seg": IMG, "images": [IMG, ...]}, ...]}
//   200        {"scores": [n numbers]}      one per image, in the order of the groups' images
//   other      {"error": "one line"}        (the body is quoted in the trainer's message)
//
// IMG is base64 (io/base64.h) of
//   png   an S x S 8-bit RGB PNG file (x in [-1, 1] to round(255 clamp((x + 1) / 2, 0, 1))),
//         what real models take; the 8-bit rounding moves the scores a little
//   f32   S S 3 little-endian float32, HWC, the generator's values as they are (in [-1, 1] up to
//         its overshoot): a server that scores these floats gives the in-process scores bit for bit
// Consecutive rows of a RewardBatch with the same prompt, subject and references form one group
// (a GRPO group is G rows), so each reference is sent once per group. `reference` is the plain
// reference photo, `reference_seg` the same photo segmented (what the identity reward compares
// with, "DINO-Seg"); the subject is for the server's logs, cgrpo's own rewards do not read it.
//
// Failures (each one line, naming the URL and the reward; the API key never appears):
//   retried with backoff (250 ms, 500 ms, 1 s, ... at most 8 s between tries), `retries` times:
//       no answer (refused, timed out, connection closed) and HTTP 5xx
//   at once: HTTP 4xx and others, an answer that is not JSON, has no "scores" array, the wrong
//       number of scores, a score that is not a finite number, an answer larger than
//       REWARD_HTTP_MAX_ANSWER(n) bytes
// The trainer stops on a failed reward with the last checkpoint as it was (rl/trainer.h).
#ifndef CGRPO_RL_REWARD_HTTP_H
#define CGRPO_RL_REWARD_HTTP_H

#include <stddef.h>
#include <stdio.h>

#include "rl/reward.h"

#define REWARD_HTTP_PROTOCOL "cgrpo-reward/1"
#define REWARD_HTTP_FORMAT_WORDS "png|f32"
enum { REWARD_HTTP_PNG = 0, REWARD_HTTP_F32 = 1 };
// The largest answer accepted for n images (bytes): room for pretty-printing and extra fields.
#define REWARD_HTTP_MAX_ANSWER(n) ((size_t)65536 + (size_t)64 * (size_t)(n))
// The largest request `cgrpo score --request` reads, and the most pixels (n_images S S) it holds.
#define REWARD_HTTP_MAX_REQUEST ((size_t)1 << 30)
#define REWARD_HTTP_MAX_PIXELS (1 << 24)

typedef struct {
    const char *url;         // http:// or https://
    const char *name;        // the reward the server computes ("prompt"); the request's "reward"
    int format;              // REWARD_HTTP_PNG or REWARD_HTTP_F32
    int batch;               // images per request (>= 1): a larger RewardBatch goes in several
    int timeout_ms;          // per try, connecting included (>= 1)
    int retries;             // tries after the first (>= 0)
    const char *api_key_env; // the environment variable holding a bearer token; NULL or "": none
} RewardHttpConfig;

// A Reward named "http:NAME" (needs the plain and segmented references and the parsed prompts; any
// image side) that scores through the server. The API key is read from the environment here.
// NULL with a one-line reason (bad URL or name, a setting out of range, the key's variable unset).
Reward *reward_http_create(const RewardHttpConfig *c, char *err, size_t errlen);

// ---- the protocol, for the client above, servers written in C and tests ---------------------------

// The request for rows [i0, i0 + n) of b (b->prompts, b->ref_plain and b->ref_seg set), as a new
// malloc'd JSON string. NULL with a reason when an image cannot be encoded.
char *reward_http_request(const RewardBatch *b, int i0, int n, const char *name, int format, char *err, size_t errlen);
// Parse an answer (len bytes) that must hold n scores into scores (n). 0, or -1 with a reason.
int reward_http_parse_answer(const char *body, size_t len, int n, float *scores, char *err, size_t errlen);
// Write the answer for scores (n) as one line: {"scores":[...]} with every float round-tripping.
void reward_http_write_answer(FILE *f, const float *scores, int n);

// A request read back (the server side): its reward name and a RewardBatch over its own buffers,
// with tokens and parsed prompts from the prompt texts (which must be SubjectBench prompts) and
// subjects NULL.
typedef struct {
    char reward[REWARD_NAME_MAX];
    int format;
    RewardBatch batch;
    float *images, *ref_plain, *ref_seg; // (B, S, S, 3) in [-1, 1]
    int *tokens;                         // (B, TOK_MAX_TOKENS)
    Prompt *prompts;                     // (B)
} RewardHttpRequest;
// 0, or -1 with a one-line reason (not JSON, another protocol, a missing or malformed field, an
// image that does not decode or has the wrong size, a prompt that is not a SubjectBench prompt).
int reward_http_read_request(RewardHttpRequest *req, const char *json, size_t len, char *err, size_t errlen);
void reward_http_request_free(RewardHttpRequest *req);

#endif
