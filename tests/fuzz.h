// fuzz.h: what the libFuzzer targets (tests/fuzz_*.c) share. Each target checks the contract of
// the parsers it drives beyond the sanitizers: a rejection has a non-empty one-line reason.
// tests/test_fuzz_replay.c includes every target (renaming its entry point) and replays the seed
// corpora and the committed crash inputs without libFuzzer.
#ifndef CGRPO_TESTS_FUZZ_H
#define CGRPO_TESTS_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// abort() unless err is one non-empty line (a parser's rejection reason)
static inline void fuzz_one_line(const char *err) {
    if (err[0] == '\0' || strchr(err, '\n')) abort();
}

// data as a malloc'd NUL-terminated string (the text parsers take C strings)
static inline char *fuzz_text(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
