// reward_rows.h: one input row of a RewardBatch rendered from SubjectBench, for the reward tests:
// the target render of (subject, prompt, seed) and the subject's plain and segmented reference
// photo (pose 0), each (S, S, 3) in the rewards' [-1, 1] range. Header-only, like test.h.
#ifndef CGRPO_TESTS_REWARD_ROWS_H
#define CGRPO_TESTS_REWARD_ROWS_H

#include <stdint.h>

#include "rl/reward.h"
#include "world/render.h"

static inline void reward_row_render(float *img, float *plain, float *seg, const Subject *s, const Prompt *p,
                                     uint64_t seed, int S) {
    const size_t n = (size_t)S * S * 3;
    render_target(img, NULL, s, p, seed, S);
    render_reference(plain, NULL, s, 0, S);
    render_segmented_reference(seg, NULL, s, 0, S);
    reward_from_render(img, img, n);
    reward_from_render(plain, plain, n);
    reward_from_render(seg, seg, n);
}

#endif
