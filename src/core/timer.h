// timer.h: monotonic wall-clock time in seconds (never jumps with the system clock).
#ifndef CGRPO_TIMER_H
#define CGRPO_TIMER_H

#include <time.h>

static inline double cg_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
