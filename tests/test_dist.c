// test_dist.c: core/dist.h in one process (the many-rank cases run under mpirun in tests/cli_mpi.sh):
// the block split of P items over ranks, the chain sum's order, and rl/grpo.h's statistics sum.
#include "core/dist.h"
#include "rl/grpo.h"
#include "test.h"

// Every item owned by exactly one rank, blocks contiguous and in rank order, sizes differ by <= 1.
static void test_block_split(void) {
    for (int P = 0; P <= 9; P++)
        for (int size = 1; size <= 5; size++) {
            int next = 0, lo = P, hi = 0;
            for (int r = 0; r < size; r++) {
                int p0, p1;
                dist_block_of(P, r, size, &p0, &p1);
                EXPECT(p0 == next && p1 >= p0, "P %d size %d rank %d: [%d, %d) after %d", P, size, r, p0, p1, next);
                next = p1;
                lo = p1 - p0 < lo ? p1 - p0 : lo, hi = p1 - p0 > hi ? p1 - p0 : hi;
            }
            EXPECT(next == P && hi - lo <= 1, "P %d size %d: covered %d, block sizes %d..%d", P, size, next, lo, hi);
        }
    int p0, p1;
    dist_block_of(3, 1, 2, &p0, &p1); // the first P % size ranks own one more
    EXPECT(p0 == 2 && p1 == 3, "3 items over 2 ranks, rank 1: [%d, %d)", p0, p1);
}

// One process: sum = ((0 + t[q0]) + t[q0 + 1]) + ..., float by float in that order (values whose
// sum depends on the order: 1e8 + 1 - 1e8).
static void test_chain_sum_order(void) {
    const Dist one = {0, 1};
    float t0[2] = {1e8f, 1.0f}, t1[2] = {1.0f, 1e8f}, t2[2] = {-1e8f, -1e8f}, sum[2] = {7, 7};
    float *local[3] = {t0, t1, t2};
    dist_chain_sum(&one, sum, local, 3, 0, 3, 2);
    const float want0 = ((0.0f + 1e8f) + 1.0f) + -1e8f, want1 = ((0.0f + 1.0f) + 1e8f) + -1e8f;
    EXPECT(sum[0] == want0 && sum[1] == want1, "sum %g %g, want %g %g", sum[0], sum[1], want0, want1);
    dist_chain_sum(&one, sum, local, 3, 1, 3, 2); // items 1 and 2 only
    EXPECT(sum[0] == (0.0f + 1.0f) + -1e8f && sum[1] == (0.0f + 1e8f) + -1e8f, "sum %g %g", sum[0], sum[1]);
    dist_chain_sum(&one, sum, local, 3, 2, 2, 2); // an empty range
    EXPECT(sum[0] == 0.0f && sum[1] == 0.0f, "empty sum %g %g", sum[0], sum[1]);
    char err[64] = "untouched";
    EXPECT(dist_agree(&one, 0, err, sizeof err) == 0 && dist_agree(&one, 2, err, sizeof err) == 2 &&
               strcmp(err, "untouched") == 0, "agree in one process returns rc as it is");
    EXPECT(dist_launched_size() >= 1, "launched size %d", dist_launched_size());
}

static void test_stats_add(void) {
    GrpoStats a, b;
    grpo_stats_init(&a), grpo_stats_init(&b);
    a.loss = 1.5, a.policy_loss = 1.0, a.approx_kl = 0.25, a.kl_ref = 2.0, a.ratio_min = 0.9, a.ratio_max = 1.1;
    a.n_clipped = 2, a.n_samples = 8;
    b.loss = -0.5, b.policy_loss = 0.5, b.approx_kl = 0.5, b.kl_ref = 1.0, b.ratio_min = 0.95, b.ratio_max = 1.3;
    b.n_clipped = 1, b.n_samples = 4;
    GrpoStats s;
    grpo_stats_init(&s);
    grpo_stats_add(&s, &a), grpo_stats_add(&s, &b);
    EXPECT(s.loss == 1.0 && s.policy_loss == 1.5 && s.approx_kl == 0.75 && s.kl_ref == 3.0, "sums %g %g %g %g", s.loss,
           s.policy_loss, s.approx_kl, s.kl_ref);
    EXPECT(s.ratio_min == 0.9 && s.ratio_max == 1.3 && s.n_clipped == 3 && s.n_samples == 12, "range %g..%g, %ld/%ld",
           s.ratio_min, s.ratio_max, s.n_clipped, s.n_samples);
}

int main(void) {
    RUN(test_block_split);
    RUN(test_chain_sum_order);
    RUN(test_stats_add);
    return test_summary("dist");
}
