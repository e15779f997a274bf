// fault.h: numeric fault injection for the tests. The trainers accept one TestFault (from the
// environment variable CGRPO_TEST_FAULT=WHAT@N[=VALUE], read by the CLI) and, at step or iteration
// N, overwrite one value of WHAT with VALUE (nan, inf or -inf; default nan):
//   loss       the loss of the step (pretrain, train-encoder) or of the first micro-batch (train)
//   reward     the identity reward of the first sample (train)
//   advantage  the advantage of the first sample at step 0 (train)
//   weight     the first weight of the model right after the update
// so that tests/cli_faults.sh sees each divergence check stop the run with its message.
#ifndef CGRPO_CORE_FAULT_H
#define CGRPO_CORE_FAULT_H

#include <stddef.h>

typedef enum { FAULT_NONE, FAULT_LOSS, FAULT_REWARD, FAULT_ADVANTAGE, FAULT_WEIGHT } FaultKind;

typedef struct {
    FaultKind kind; // FAULT_NONE: no fault (a zeroed TestFault)
    long at;        // the step or iteration (>= 1)
    float value;    // NaN, +Inf or -Inf
} TestFault;

#define TEST_FAULT_NONE {FAULT_NONE, 0, 0.0f} // an initializer: no fault
#define FAULT_ENV "CGRPO_TEST_FAULT"
#define FAULT_WORDS "loss|reward|advantage|weight"

// Parse "WHAT@N[=VALUE]". 0, or -1 with a one-line reason.
int fault_parse(const char *s, TestFault *f, char *err, size_t errlen);
// 1 when f injects `kind` at step / iteration `at`.
static inline int fault_at(const TestFault *f, FaultKind kind, long at) {
    return f && f->kind == kind && f->at == at;
}

#endif
