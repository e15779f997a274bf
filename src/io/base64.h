// base64.h: standard base64 (RFC 4648, alphabet A-Z a-z 0-9 + /, '=' padding, no line breaks), for
// images inside JSON (the reward server protocol, docs/reward_protocol.md).
//
//   char *s = cg_base64_encode(bytes, n);                   // malloc'd, NUL-terminated
//   unsigned char *d; size_t m;
//   if (cg_base64_decode(s, strlen(s), &d, &m, err, sizeof err)) ...;  // -1 + reason
#ifndef CGRPO_IO_BASE64_H
#define CGRPO_IO_BASE64_H

#include <stddef.h>

// The encoding of n bytes (4 ceil(n / 3) characters) in a new malloc'd string.
char *cg_base64_encode(const void *data, size_t n);
// Decode `len` characters into a new malloc'd buffer (*out, *n; *out may be NULL for n 0). Strict:
// a length that is not a multiple of 4, a character outside the alphabet, padding anywhere but at
// the end, or non-zero bits under the padding -> -1 with the offending offset in err.
int cg_base64_decode(const char *s, size_t len, unsigned char **out, size_t *n, char *err, size_t errlen);

#endif
