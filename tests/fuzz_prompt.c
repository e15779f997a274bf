// fuzz_prompt.c: libFuzzer target for prompt text (world/tokenizer.h, world/prompts.h,
// eval/evaluate.h's template lists): tok_encode, whose accepted ids must decode to text that
// encodes to the same ids; tok_suggest on the first word; prompt_parse with any class and with
// class 0; eval_parse_templates, whose indices must be in range.
//   make fuzz && build-fuzz/fuzz_prompt -dict=tests/fuzz_prompt.dict CORPUS tests/fuzz/prompt
#include "eval/evaluate.h"
#include "fuzz.h"
#include "world/prompts.h"
#include "world/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *text = fuzz_text(data, size), err[512], buf[1024];
    int ids[TOK_MAX_TOKENS], again[TOK_MAX_TOKENS];
    const int n = tok_encode(ids, text, err, sizeof err);
    if (n < 0) fuzz_one_line(err);
    else {
        tok_decode(buf, sizeof buf, ids, TOK_MAX_TOKENS);
        if (tok_encode(again, buf, err, sizeof err) != n || memcmp(ids, again, sizeof ids) != 0) abort();
    }
    char word[64];
    if (sscanf(text, "%63s", word) == 1) {
        const char *near[8];
        const int k = tok_suggest(word, near, 8);
        if (k < 1 || k > 8) abort();
    }
    Prompt p;
    if (prompt_parse(&p, text, -1, err, sizeof err)) fuzz_one_line(err);
    if (prompt_parse(&p, text, 0, err, sizeof err)) fuzz_one_line(err);
    int templates[PROMPT_N_TEMPLATES], nt = 0;
    if (eval_parse_templates(text, templates, &nt, err, sizeof err)) fuzz_one_line(err);
    else
        for (int i = 0; i < nt; i++)
            if (templates[i] < 0 || templates[i] >= PROMPT_N_TEMPLATES) abort();
    free(text);
    return 0;
}
