// tokenizer.c: word-level vocabulary lookup, encoding with padding, nearest-word suggestions.
#include "world/tokenizer.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/check.h"

// Sorted (strcmp order) so that lookup is a binary search; id = position + 1.
// tests/test_world.c rebuilds this list from the templates and class words and compares.
static const char *const VOCAB[TOK_VOCAB_SIZE - 1] = {
    "a", "an", "and", "animal", "around", "autumn", "background", "backpack", "beach", "black",
    "blue", "boot", "bowl", "can", "candle", "cartoon", "cat", "chef", "city", "clock",
    "cobblestone", "crowded", "cube", "dirt", "dog", "eiffel", "fabric", "field", "firefighter",
    "floating", "floor", "forest", "glasses", "grass", "green", "hat", "house", "in", "it",
    "jungle", "leaves", "milk", "mirror", "monocle", "mountain", "ocean", "of", "on", "outfit",
    "pink", "police", "purple", "rainbow", "red", "road", "rug", "santa", "scarf", "shaped",
    "shiny", "shirt", "sidewalk", "sks", "sneaker", "snow", "street", "stuffed", "sunflowers",
    "teapot", "the", "top", "tower", "toy", "tree", "vase", "water", "wearing", "wet", "wheat",
    "white", "with", "wizard", "wooden", "yellow",
};
#define N_WORDS (TOK_VOCAB_SIZE - 1)
#define MAX_WORD 64

const char *tok_word(int id) {
    if (id == TOK_PAD) return "<pad>";
    return id > 0 && id < TOK_VOCAB_SIZE ? VOCAB[id - 1] : NULL;
}

// Lower-case copy of at most MAX_WORD-1 chars; returns 0 when the word is longer than that.
static int lower_copy(char *dst, const char *src, size_t n) {
    if (n >= MAX_WORD) return 0;
    for (size_t i = 0; i < n; i++) dst[i] = (char)tolower((unsigned char)src[i]);
    dst[n] = '\0';
    return 1;
}

static int lookup_lower(const char *w) {
    int lo = 0, hi = N_WORDS - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(w, VOCAB[mid]);
        if (c == 0) return mid + 1;
        if (c < 0) hi = mid - 1;
        else lo = mid + 1;
    }
    return -1;
}

int tok_lookup(const char *word) {
    char w[MAX_WORD];
    if (!lower_copy(w, word, strlen(word))) return -1;
    return lookup_lower(w);
}

// Levenshtein distance with two rows (words are short).
static int edit_distance(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    int row0[MAX_WORD + 1], row1[MAX_WORD + 1];
    if (na > MAX_WORD) na = MAX_WORD;
    if (nb > MAX_WORD) nb = MAX_WORD;
    for (size_t j = 0; j <= nb; j++) row0[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        row1[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int sub = row0[j - 1] + (tolower((unsigned char)a[i - 1]) != b[j - 1]);
            int del = row0[j] + 1, ins = row1[j - 1] + 1;
            row1[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(row0, row1, sizeof(int) * (nb + 1));
    }
    return row0[nb];
}

int tok_suggest(const char *word, const char **out, int max_out) {
    int dist[N_WORDS], n = 0;
    for (int i = 0; i < N_WORDS; i++) dist[i] = edit_distance(word, VOCAB[i]);
    int best = MAX_WORD + 1;
    for (int i = 0; i < N_WORDS; i++) best = dist[i] < best ? dist[i] : best;
    // selection by (distance, alphabetical): VOCAB is sorted, so a stable scan per distance works;
    // only words within one edit of the best are worth suggesting
    for (int d = best; d <= best + 1 && n < max_out; d++)
        for (int i = 0; i < N_WORDS && n < max_out; i++)
            if (dist[i] == d) out[n++] = VOCAB[i];
    return n;
}

// Quote a user's word for a one-line message: printable ASCII only, at most 40 chars.
static void printable(char *dst, size_t cap, const char *src, size_t n) {
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        if (k >= 40) {
            memcpy(dst + k, "...", 3);
            k += 3;
            break;
        }
        dst[k++] = (c >= 32 && c < 127) ? (char)c : '?';
    }
    dst[k] = '\0';
}

int tok_encode(int ids[TOK_MAX_TOKENS], const char *text, char *err, size_t errlen) {
    int n = 0;
    for (int i = 0; i < TOK_MAX_TOKENS; i++) ids[i] = TOK_PAD;
    const char *p = text;
    while (*p) {
        while (*p && isspace((unsigned char)*p)) p++;
        if (!*p) break;
        const char *start = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        size_t len = (size_t)(p - start);
        char w[MAX_WORD];
        int id = lower_copy(w, start, len) ? lookup_lower(w) : -1;
        if (id < 0) {
            char shown[48];
            printable(shown, sizeof(shown), start, len);
            const char *near[3];
            int k = tok_suggest(lower_copy(w, start, len) ? w : "", near, 3);
            char list[128] = "";
            for (int j = 0; j < k; j++) {
                strcat(list, j ? ", " : "");
                strcat(list, near[j]);
            }
            return cg_errf(err, errlen, "unknown word '%s' (nearest known: %s)", shown, list);
        }
        if (n == TOK_MAX_TOKENS) {
            int total = n;
            for (const char *q = start; *q;) { // count the remaining words for the message
                while (*q && isspace((unsigned char)*q)) q++;
                if (!*q) break;
                total++;
                while (*q && !isspace((unsigned char)*q)) q++;
            }
            return cg_errf(err, errlen, "prompt has %d words, at most %d fit", total, TOK_MAX_TOKENS);
        }
        ids[n++] = id;
    }
    return n;
}

void tok_decode(char *buf, size_t len, const int *ids, int n) {
    size_t k = 0;
    if (len == 0) return;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (ids[i] == TOK_PAD) continue;
        const char *w = tok_word(ids[i]);
        int m = snprintf(buf + k, len - k, "%s%s", k ? " " : "", w ? w : "<?>");
        if (m < 0 || (size_t)m >= len - k) return;
        k += (size_t)m;
    }
}
