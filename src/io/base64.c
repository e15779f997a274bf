// base64.c: the encoder and strict decoder of base64.h.
#include "io/base64.h"

#include <stdint.h>
#include <stdlib.h>

#include "core/check.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *cg_base64_encode(const void *data, size_t n) {
    const unsigned char *p = data;
    char *s = cg_malloc(cg_mul_size((n + 2) / 3, 4) + 1), *o = s;
    for (size_t i = 0; i < n; i += 3) {
        const size_t left = n - i;
        const uint32_t v = (uint32_t)p[i] << 16 | (left > 1 ? (uint32_t)p[i + 1] << 8 : 0) | (left > 2 ? p[i + 2] : 0);
        *o++ = ALPHABET[v >> 18 & 63];
        *o++ = ALPHABET[v >> 12 & 63];
        *o++ = left > 1 ? ALPHABET[v >> 6 & 63] : '=';
        *o++ = left > 2 ? ALPHABET[v & 63] : '=';
    }
    *o = '\0';
    return s;
}

// The 6-bit value of c, or -1.
static int sextet(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int cg_base64_decode(const char *s, size_t len, unsigned char **out, size_t *n, char *err, size_t errlen) {
    *out = NULL, *n = 0;
    if (len % 4) return cg_errf(err, errlen, "base64 of %zu characters, not a multiple of 4", len);
    if (len == 0) return 0;
    const size_t pad = s[len - 1] == '=' ? (s[len - 2] == '=' ? 2 : 1) : 0;
    unsigned char *d = cg_malloc(len / 4 * 3);
    size_t k = 0;
    for (size_t i = 0; i < len; i += 4) {
        uint32_t v = 0;
        for (size_t j = 0; j < 4; j++) {
            const size_t at = i + j;
            const int x = at >= len - pad ? 0 : sextet(s[at]);
            if (x < 0) {
                free(d);
                return cg_errf(err, errlen, "base64: character %zu (0x%02x) is not in the alphabet", at, (unsigned)(unsigned char)s[at]);
            }
            v = v << 6 | (uint32_t)x;
        }
        d[k++] = (unsigned char)(v >> 16);
        d[k++] = (unsigned char)(v >> 8);
        d[k++] = (unsigned char)v;
    }
    const uint32_t tail = pad ? (uint32_t)sextet(s[len - pad - 1]) : 0; // the bits that the padding cuts off
    if ((pad == 1 && (tail & 3)) || (pad == 2 && (tail & 15))) {
        free(d);
        return cg_errf(err, errlen, "base64: non-zero bits under the padding at character %zu", len - pad - 1);
    }
    *out = d, *n = k - pad;
    return 0;
}
