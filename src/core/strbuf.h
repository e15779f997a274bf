// strbuf.h: a growing NUL-terminated string for building text output (JSON, markdown, tables).
//
//   StrBuf b = {0};
//   strbuf_printf(&b, "{\"step\": %d}", 3);   // appends; grows as needed (cg_realloc: dies on OOM)
//   fputs(b.s, f);                          // b.s is NULL until the first append
//   free(b.s);
#ifndef CGRPO_CORE_STRBUF_H
#define CGRPO_CORE_STRBUF_H

#include <stddef.h>

#include "core/check.h"

typedef struct {
    char *s;         // the text, NUL-terminated (NULL before the first append)
    size_t len, cap; // strlen(s), bytes allocated
} StrBuf;

// Append printf-formatted text.
void strbuf_printf(StrBuf *b, const char *fmt, ...) CG_PRINTF(2, 3);

#endif
