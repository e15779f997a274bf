// test_fuzz_replay.c: the libFuzzer targets (tests/fuzz_*.c) without libFuzzer: every input of
// their seed corpora (tests/fuzz/<target>/) and every crash input a campaign found and was fixed
// (tests/fuzz/regress/<target>/) goes through the target once, under the normal build and
// `make sanitize`. A target that aborts or trips a sanitizer ends the program (a failure in
// tests/run.sh). Run from the repository root.
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>

#include "test.h"

#define LLVMFuzzerTestOneInput fuzz_safetensors_one
#include "fuzz_safetensors.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_ckpt_meta_one
#include "fuzz_ckpt_meta.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_config_one
#include "fuzz_config.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_png_one
#include "fuzz_png.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_prompt_one
#include "fuzz_prompt.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_jsonl_one
#include "fuzz_jsonl.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_http_answer_one
#include "fuzz_http_answer.c"
#undef LLVMFuzzerTestOneInput

typedef int (*FuzzFn)(const uint8_t *, size_t);
static const struct {
    const char *name;
    FuzzFn fn;
} TARGETS[] = {{"safetensors", fuzz_safetensors_one}, {"ckpt_meta", fuzz_ckpt_meta_one}, {"config", fuzz_config_one},
               {"png", fuzz_png_one},                 {"prompt", fuzz_prompt_one},       {"jsonl", fuzz_jsonl_one},
               {"http_answer", fuzz_http_answer_one}};

// every regular file of dir through fn; the number of inputs (0 for a missing directory)
static int replay_dir(const char *dir, FuzzFn fn) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    char path[1024];
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t len = 0;
        unsigned char *data = test_read_file(path, &len);
        if (!data) continue;
        fn(data, len);
        free(data);
        n++;
    }
    closedir(d);
    return n;
}

static void test_replay(void) {
    char dir[256];
    for (size_t t = 0; t < sizeof TARGETS / sizeof TARGETS[0]; t++) {
        snprintf(dir, sizeof dir, "tests/fuzz/%s", TARGETS[t].name);
        const int seeds = replay_dir(dir, TARGETS[t].fn);
        snprintf(dir, sizeof dir, "tests/fuzz/regress/%s", TARGETS[t].name);
        const int crashes = replay_dir(dir, TARGETS[t].fn);
        printf("  %s: %d seeds, %d regression inputs\n", TARGETS[t].name, seeds, crashes);
        EXPECT(seeds > 0, "no seed corpus in tests/fuzz/%s", TARGETS[t].name);
    }
}

int main(void) {
    RUN(test_replay);
    return test_summary("fuzz_replay");
}
