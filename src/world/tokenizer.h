// tokenizer.h: the word-level tokenizer of SubjectBench prompts.
//
// The vocabulary is every word of the 25 DreamBench templates (both lists), every class word
// ("stuffed animal" is two words) and the identifier "sks": 84 words, lower case, sorted, with
// ids 1..84; id 0 is PAD. Words are matched case-insensitively ("Eiffel" -> "eiffel") and
// separated by any whitespace. An unknown word is an error naming the word and the nearest known
// words by edit distance; it is never dropped silently.
//
// Length: the longest DreamBench prompt has 13 words ("a sks stuffed animal on top of a purple
// rug in a forest"; the longest object prompt, "a sks backpack with a tree and autumn leaves in
// the background", has 12), so TOK_MAX_TOKENS = 16 leaves room; tests/test_world.c checks it.
#ifndef CGRPO_TOKENIZER_H
#define CGRPO_TOKENIZER_H

#include <stddef.h>

#define TOK_MAX_TOKENS 16
#define TOK_PAD 0
#define TOK_VOCAB_SIZE 85 // PAD + 84 words

// The word of an id ("<pad>" for 0), or NULL when id is out of range.
const char *tok_word(int id);
// The id of one word (case-insensitive), or -1 when it is not in the vocabulary.
int tok_lookup(const char *word);
// Encode text into ids (TOK_MAX_TOKENS): word ids, then TOK_PAD up to the end.
// Returns the number of words, or -1 with a one-line reason in err:
//   "unknown word 'jungel' (nearest known: jungle)" or "17 words, at most 16 fit".
int tok_encode(int ids[TOK_MAX_TOKENS], const char *text, char *err, size_t errlen);
// Up to max_out known words nearest to `word` by Levenshtein distance: those at the smallest
// distance, then those one edit further (ties alphabetical). Returns how many were written (>= 1).
int tok_suggest(const char *word, const char **out, int max_out);
// Write "word word ..." for n ids into buf (PAD ids are skipped).
void tok_decode(char *buf, size_t len, const int *ids, int n);

#endif
