// fault.c: see fault.h.
#include "core/fault.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

int fault_parse(const char *s, TestFault *f, char *err, size_t errlen) {
    static const char *const WHAT[] = {"loss", "reward", "advantage", "weight"};
    memset(f, 0, sizeof *f);
    const char *at = strchr(s, '@');
    if (!at) return cg_errf(err, errlen, "'%s' is not WHAT@N[=nan|inf|-inf] (WHAT: %s)", s, FAULT_WORDS);
    for (int k = 0; k < 4; k++)
        if (strlen(WHAT[k]) == (size_t)(at - s) && strncmp(s, WHAT[k], (size_t)(at - s)) == 0) f->kind = (FaultKind)(k + 1);
    if (f->kind == FAULT_NONE) return cg_errf(err, errlen, "unknown fault '%.*s' (known: %s)", (int)(at - s), s, FAULT_WORDS);
    char *end;
    f->at = strtol(at + 1, &end, 10);
    if (end == at + 1 || f->at < 1 || (*end && *end != '='))
        return cg_errf(err, errlen, "'%s': the step after '@' must be a number >= 1", s);
    const char *v = *end == '=' ? end + 1 : "nan";
    if (strcmp(v, "nan") == 0) f->value = NAN;
    else if (strcmp(v, "inf") == 0) f->value = INFINITY;
    else if (strcmp(v, "-inf") == 0) f->value = -INFINITY;
    else return cg_errf(err, errlen, "'%s': the value must be nan, inf or -inf", s);
    return 0;
}
