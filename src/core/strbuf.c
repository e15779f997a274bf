// strbuf.c: see strbuf.h.
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>

void strbuf_printf(StrBuf *b, const char *fmt, ...) {
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int need = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        CG_CHECK(need >= 0, "formatting text");
        if (b->s && b->len + (size_t)need < b->cap) {
            b->len += (size_t)need;
            return;
        }
        b->cap = (b->len + (size_t)need + 1) * 2;
        b->s = cg_realloc(b->s, b->cap);
    }
}
