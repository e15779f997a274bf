// fuzz_http_answer.c: libFuzzer target for the external reward protocol (rl/reward_http.h): the
// client's answer parser, with the first byte choosing how many scores it must hold (1..16; an
// accepted answer gives finite scores), and the server side's request reader on the same bytes.
//   make fuzz && build-fuzz/fuzz_http_answer -dict=tests/fuzz_http_answer.dict CORPUS tests/fuzz/http_answer
#include <math.h>

#include "fuzz.h"
#include "rl/reward_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const int n = 1 + data[0] % 16;
    float scores[16];
    char err[512];
    err[0] = '\0';
    if (reward_http_parse_answer((const char *)data + 1, size - 1, n, scores, err, sizeof err)) fuzz_one_line(err);
    else
        for (int i = 0; i < n; i++)
            if (!isfinite(scores[i])) abort();
    RewardHttpRequest req;
    if (reward_http_read_request(&req, (const char *)data + 1, size - 1, err, sizeof err)) fuzz_one_line(err);
    else reward_http_request_free(&req);
    return 0;
}
