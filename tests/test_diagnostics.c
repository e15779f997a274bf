// test_diagnostics.c: rl/diagnostics against values computed by hand (and, for the Pearson
// correlations, with Python's statistics-free formula: sum of centred products over the root of the
// centred sums of squares).
#include <math.h>
#include <string.h>

#include "rl/diagnostics.h"
#include "test.h"

static void test_pearson(void) {
    const double x[4] = {1, 2, 3, 4}, y[4] = {2, 4, 6, 9}, neg[4] = {4, 3, 2, 1}, flat[4] = {5, 5, 5, 5};
    EXPECT_NEAR(diag_pearson(x, y, 4), 0.9943767126843689, 1e-12);
    EXPECT_NEAR(diag_pearson(x, neg, 4), -1.0, 1e-12);
    EXPECT(isnan(diag_pearson(x, flat, 4)), "a constant series has no correlation");
    EXPECT(isnan(diag_pearson(x, y, 1)), "one point has no correlation");
}

static void test_distances(void) {
    const float a[3] = {1, 2, 3}, b[3] = {1, 0, 7};
    EXPECT_NEAR(diag_copy_distance(a, b, 3), (0.0 + 4.0 + 16.0) / 3.0, 1e-12);
    EXPECT_NEAR(diag_l2_distance(a, b, 3), sqrt(20.0), 1e-12);
    EXPECT_NEAR(diag_l2_distance(a, a, 3), 0.0, 0.0);
}

// Two groups of three 2-float images against an all-zero reference, N = 2 steps.
//   group 0: copy distances 0, 1, 2; identity 3 2 1 (rewards copying: +1), prompt 1 2 3 (charges: -1),
//            advantages 1 0 -1 (pushes to copy: +1)
//   group 1: copy distances 0.5, 0, 2; identity constant (undefined, std 0), prompt 2 4 0
//            (corr 0.9607689228305228), advantages with step means 1 1 1 (undefined)
static void test_rollouts(void) {
    const float images[6 * 2] = {0, 0, 1, 1, 2, 0, 1, 0, 0, 0, 0, 2};
    float ref[6 * 2];
    memset(ref, 0, sizeof ref);
    const float scores[2 * 6] = {3, 2, 1, 5, 5, 5, /* prompt */ 1, 2, 3, 2, 4, 0};
    const float adv[6 * 2] = {1, 1, 0, 0, -1, -1, 0, 2, 1, 1, 3, -1};
    RolloutDiag d;
    diag_rollouts(&d, scores, adv, 2, images, ref, 2, 2, 3);
    EXPECT_NEAR(d.gstd[0], (1.0 + 0.0) / 2.0, 1e-12);
    EXPECT_NEAR(d.gstd[1], (1.0 + 2.0) / 2.0, 1e-12);
    EXPECT_NEAR(d.copy_dist, 5.5 / 6.0, 1e-12);
    EXPECT_NEAR(d.copy_corr[DIAG_CORR_ID], 1.0, 1e-12);
    EXPECT_NEAR(d.copy_corr[DIAG_CORR_PROMPT], -0.01961553858473858, 1e-12);
    EXPECT_NEAR(d.copy_corr[DIAG_CORR_ADV], 1.0, 1e-12);
}

static void test_rollouts_undefined(void) {
    // every image equally far from the reference: no copy correlation is defined
    const float images[3] = {1, 1, 1}, ref[3] = {0, 0, 0}, scores[2 * 3] = {1, 2, 3, 3, 2, 1}, adv[3] = {1, 0, -1};
    RolloutDiag d;
    diag_rollouts(&d, scores, adv, 1, images, ref, 1, 1, 3);
    for (int k = 0; k < DIAG_N_CORR; k++) EXPECT(isnan(d.copy_corr[k]), "correlation %d = %g", k, d.copy_corr[k]);
    EXPECT_NEAR(d.gstd[0], 1.0, 1e-12);
    EXPECT_NEAR(d.copy_dist, 1.0, 1e-12);
}

int main(void) {
    RUN(test_pearson);
    RUN(test_distances);
    RUN(test_rollouts);
    RUN(test_rollouts_undefined);
    return test_summary("diagnostics");
}
