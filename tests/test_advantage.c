// test_advantage.c: group z-scores, SARS and its variants, TDW weights and the N-step mapping,
// clamping, bad inputs. Expected values are recomputed here in double from the formulas of
// DESIGN.md section 7 (written out independently of src/rl/), and a few are literals computed by
// hand (see the comments next to them).
#include <math.h>
#include <string.h>

#include "core/rng.h"
#include "rl/advantage.h"
#include "rl/weighting.h"
#include "test.h"

// ---- reference formulas, in double --------------------------------------------------------------

static double ref_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static double ref_w_pr(int t) { // TDW on the 25-step scale
    if (t < 6) return 0.7;
    if (t >= 22) return 0.5;
    return 0.3 + 0.4 * (1.0 - ref_sigmoid(0.8 * (t - 10)));
}

static double ref_sars(double a_id, double a_pr, double w_id, double w_pr, double gamma) {
    double p = a_pr * a_id;
    double bonus = (a_pr > 0 || a_id > 0) ? gamma * tanh(p) : -gamma * tanh(p);
    return w_pr * a_pr + w_id * a_id + bonus;
}

static double ref_clamp(double a, double c) { return a > c ? c : (a < -c ? -c : a); }

static AdvConfig cfg_make(ShapingKind s, WeightingKind w) {
    AdvConfig c = adv_config_default();
    c.shaping = s;
    c.weighting = w;
    return c;
}

// ---- TDW ------------------------------------------------------------------------------------------

static void test_tdw_weights(void) {
    // literals computed by hand (python, float64):
    //   w_pr(6)  = 0.3 + 0.4 (1 - sigmoid(-3.2)) = 0.6843337108812944
    //   w_pr(10) = 0.3 + 0.4 (1 - sigmoid(0))    = 0.5 exactly
    //   w_pr(14) = 0.3 + 0.4 (1 - sigmoid(3.2))  = 0.3156662891187057
    //   w_pr(21) = 0.3 + 0.4 (1 - sigmoid(8.8))  = 0.3000602841432239
    struct { int t; double want; } lit[] = {
        {0, 0.7}, {5, 0.7}, {6, 0.6843337108812944}, {10, 0.5}, {14, 0.3156662891187057},
        {21, 0.3000602841432239}, {22, 0.5}, {24, 0.5},
    };
    for (size_t i = 0; i < sizeof(lit) / sizeof(lit[0]); i++) {
        double w = tdw_prompt_weight(lit[i].t);
        EXPECT(fabs(w - lit[i].want) <= 1e-15, "w_pr(%d) = %.17g, want %.17g", lit[i].t, w, lit[i].want);
        EXPECT_NEAR(w, ref_w_pr(lit[i].t), 1e-15);
    }
    EXPECT(tdw_prompt_weight(10) == 0.5, "w_pr(10) must be exactly 0.5, got %.17g", tdw_prompt_weight(10));
    for (int t = 0; t < TDW_N_STEPS; t++) {
        double w_id, w_pr;
        weighting_id_prompt(WEIGHTING_TDW, 9.0, 9.0, t, TDW_N_STEPS, &w_id, &w_pr); // statics ignored
        EXPECT_NEAR(w_pr, ref_w_pr(t), 1e-15);
        EXPECT(w_id + w_pr == 1.0, "t %d: w_id + w_pr = %.17g", t, w_id + w_pr);
        EXPECT(w_pr >= 0.3 && w_pr <= 0.7, "t %d: w_pr %g", t, w_pr);
        // the sigmoid branch decreases with t
        if (t > 6 && t < 22) EXPECT(w_pr < ref_w_pr(t - 1), "t %d not decreasing", t);
    }
    double w_id, w_pr;
    weighting_id_prompt(WEIGHTING_STATIC, 0.4, 0.6, 3, 10, &w_id, &w_pr);
    EXPECT(w_id == 0.4 && w_pr == 0.6, "static weights (%g, %g)", w_id, w_pr);
}

static void test_step_mapping(void) {
    for (int i = 0; i < 25; i++) EXPECT(tdw_map_step(i, 25) == i, "N=25: step %d -> %d", i, tdw_map_step(i, 25));
    // N = 10: j = floor((i + 0.5) * 2.5): 1.25 3.75 6.25 8.75 11.25 13.75 16.25 18.75 21.25 23.75
    int want10[10] = {1, 3, 6, 8, 11, 13, 16, 18, 21, 23};
    for (int i = 0; i < 10; i++) EXPECT(tdw_map_step(i, 10) == want10[i], "N=10: step %d -> %d, want %d", i, tdw_map_step(i, 10), want10[i]);
    // N = 50: j = floor((i + 0.5) / 2) = i / 2 (integer division)
    for (int i = 0; i < 50; i++) EXPECT(tdw_map_step(i, 50) == i / 2, "N=50: step %d -> %d, want %d", i, tdw_map_step(i, 50), i / 2);
    EXPECT(tdw_map_step(0, 1) == 12, "N=1 -> %d, want 12 (the midpoint)", tdw_map_step(0, 1));
    // every N: in range, non-decreasing, first and last steps in the first and last quarter
    for (int n = 1; n <= 200; n++) {
        int prev = 0;
        for (int i = 0; i < n; i++) {
            int j = tdw_map_step(i, n);
            double jf = floor((i + 0.5) * 25.0 / n);
            EXPECT(j == (int)jf && j >= 0 && j < 25 && j >= prev, "N=%d step %d -> %d (float formula %g)", n, i, j, jf);
            prev = j;
        }
    }
    // the weights at N = 10 step 2 are TDW at j = 6
    double w_id, w_pr;
    weighting_id_prompt(WEIGHTING_TDW, 0.5, 0.5, 2, 10, &w_id, &w_pr);
    EXPECT_NEAR(w_pr, 0.6843337108812944, 1e-15);
}

// ---- z-scores -------------------------------------------------------------------------------------

static void test_zscores_unbiased(void) {
    // identity 1,2,3,4: mean 2.5, unbiased std sqrt(5/3) = 1.2909944487358056 (the biased one,
    // 1.118, would give z = +-1.3416 at the ends); z = (r - 2.5) / (std + 1e-8):
    //   -1.1618949948622252 -0.38729833162074173 0.38729833162074173 1.1618949948622252
    // prompt 10, 10, 10, 14: mean 11, std sqrt(12/3) = 2, z = -0.5, -0.5, -0.5, 1.5 (over 2 + 1e-8)
    float r[4 * 2] = {1, 10, 2, 10, 3, 10, 4, 14};
    float z[4 * 2];
    char err[128];
    EXPECT(adv_group_zscores(z, r, 4, 2, err, sizeof(err)) == 0, "%s", err);
    double want_id[4] = {-1.1618949948622252, -0.38729833162074173, 0.38729833162074173, 1.1618949948622252};
    double want_pr[4] = {-1.0 / (2 + 1e-8), -1.0 / (2 + 1e-8), -1.0 / (2 + 1e-8), 3.0 / (2 + 1e-8)};
    for (int g = 0; g < 4; g++) {
        EXPECT_NEAR(z[g * 2 + 0], want_id[g], 1e-7);
        EXPECT_NEAR(z[g * 2 + 1], want_pr[g], 1e-7);
    }
    // a random group against a direct double computation; each reward column independently
    enum { G = 12, R = 3 };
    float rr[G * R], zz[G * R];
    cg_rng rng = cg_rng_make(7, 1);
    for (int i = 0; i < G * R; i++) rr[i] = 50.0f + 10.0f * cg_rng_normal(&rng);
    EXPECT(adv_group_zscores(zz, rr, G, R, err, sizeof(err)) == 0, "%s", err);
    for (int k = 0; k < R; k++) {
        double m = 0, v = 0;
        for (int g = 0; g < G; g++) m += rr[g * R + k];
        m /= G;
        for (int g = 0; g < G; g++) v += (rr[g * R + k] - m) * (rr[g * R + k] - m);
        double sd = sqrt(v / (G - 1));
        double sz = 0, sz2 = 0;
        for (int g = 0; g < G; g++) {
            EXPECT_NEAR(zz[g * R + k], (rr[g * R + k] - m) / (sd + 1e-8), 1e-6);
            sz += zz[g * R + k];
            sz2 += zz[g * R + k] * zz[g * R + k];
        }
        EXPECT_NEAR(sz, 0.0, 1e-5);         // z-scores sum to 0
        EXPECT_NEAR(sz2, (double)(G - 1), 1e-4); // and their squares to n - 1 (unbiased)
    }
}

static void test_equal_rewards_group(void) {
    // 0.1f repeated: a naive mean/std would leave ulp noise; z must be exactly 0
    float r[5 * 2] = {0.1f, 0.3f, 0.1f, 0.3f, 0.1f, 0.3f, 0.1f, 0.3f, 0.1f, 0.3f};
    float z[5 * 2], adv[5 * 7];
    char err[128];
    ShapingKind shapes[] = {SHAPING_NAIVE, SHAPING_SARS, SHAPING_HARMONIC, SHAPING_MIN, SHAPING_MAX};
    for (size_t s = 0; s < 5; s++)
        for (int w = 0; w < 2; w++) {
            AdvConfig c = cfg_make(shapes[s], (WeightingKind)w);
            EXPECT(adv_group_advantages(&c, adv, z, r, 5, 7, err, sizeof(err)) == 0, "%s", err);
            for (int i = 0; i < 10; i++) EXPECT(z[i] == 0.0f, "z[%d] = %g", i, z[i]);
            for (int i = 0; i < 35; i++) EXPECT(adv[i] == 0.0f, "%s: adv[%d] = %g", shaping_name(shapes[s]), i, adv[i]);
        }
    // identity all equal, prompt varies: A_id = 0 exactly, the SARS bonus at p = 0 is 0
    float r2[3 * 2] = {77.7f, 1, 77.7f, 2, 77.7f, 3};
    AdvConfig c = cfg_make(SHAPING_SARS, WEIGHTING_STATIC);
    EXPECT(adv_group_advantages(&c, adv, z, r2, 3, 1, err, sizeof(err)) == 0, "%s", err);
    EXPECT(z[0] == 0 && z[2] == 0 && z[4] == 0, "identity z %g %g %g", z[0], z[2], z[4]);
    for (int g = 0; g < 3; g++) EXPECT_NEAR(adv[g], 0.5 * z[2 * g + 1], 1e-7);
}

// ---- shaping --------------------------------------------------------------------------------------

static void test_sars_quadrants(void) {
    AdvConfig c = cfg_make(SHAPING_SARS, WEIGHTING_STATIC); // w 0.5 / 0.5, gamma 0.4
    // hand-computed (gamma tanh(0.5) = 0.4 * 0.46211715726 = 0.1848468629040039):
    //   both positive (A_id 1, A_pr 0.5):  0.5 + 0.25 + 0.18485 =  0.9348468629040039
    //   both negative (-1, -0.5):          p = 0.5 > 0, bonus -0.18485: -0.9348468629040039
    //   conflict (1, -0.5):                p = -0.5, one positive: +0.4 tanh(-0.5) = -0.18485;
    //                                      0.5 - 0.25 - 0.18485 = 0.0651531370959961
    //   conflict (-1, 0.5):                the same bonus, -0.25 - 0.18485 = -0.4348468629040039
    struct { float id, pr; double want; AdvQuadrant q; } lit[] = {
        {1, 0.5f, 0.9348468629040039, ADV_Q_BOTH_POS},
        {-1, -0.5f, -0.9348468629040039, ADV_Q_BOTH_NEG},
        {1, -0.5f, 0.0651531370959961, ADV_Q_CONFLICT},
        {-1, 0.5f, -0.4348468629040039, ADV_Q_CONFLICT},
        {0, 0.7f, 0.35, ADV_Q_ZERO},   // a zero: p = 0, no bonus
        {0, -0.7f, -0.35, ADV_Q_ZERO},
        {-0.8f, 0, -0.4, ADV_Q_ZERO},
    };
    for (size_t i = 0; i < sizeof(lit) / sizeof(lit[0]); i++) {
        float z[2] = {lit[i].id, lit[i].pr};
        EXPECT_NEAR(advantage_at(&c, z, 0, 1), lit[i].want, 1e-7);
        EXPECT_NEAR(advantage_at(&c, z, 0, 1), ref_sars(z[0], z[1], 0.5, 0.5, 0.4), 1e-7);
        EXPECT(adv_quadrant(z[0], z[1]) == lit[i].q, "case %zu quadrant %s", i, adv_quadrant_name(adv_quadrant(z[0], z[1])));
    }
    // the bonus's sign by quadrant, over a grid: amplified, penalized, penalized further
    for (double a = -2; a <= 2.001; a += 0.25)
        for (double b = -2; b <= 2.001; b += 0.25) {
            double bonus = sars_bonus(a, b, 0.4);
            if (a > 0 && b > 0) EXPECT(bonus > 0, "(%g, %g) both positive: bonus %g", a, b, bonus);
            else if (a * b < 0) EXPECT(bonus < 0, "(%g, %g) conflict: bonus %g", a, b, bonus);
            else if (a < 0 && b < 0) EXPECT(bonus < 0, "(%g, %g) both negative: bonus %g", a, b, bonus);
            else EXPECT(bonus == 0, "(%g, %g) a zero: bonus %g", a, b, bonus);
        }
    // both negative is penalized further than the mirrored conflict of the same magnitude
    EXPECT(ref_sars(-1, -0.5, 0.5, 0.5, 0.4) < ref_sars(-1, 0.5, 0.5, 0.5, 0.4), "ordering");
    // with TDW at 25 steps: step 3 uses w_pr = 0.7
    AdvConfig t = cfg_make(SHAPING_SARS, WEIGHTING_TDW);
    float z[2] = {1.2f, -0.3f};
    for (int s = 0; s < 25; s++)
        EXPECT_NEAR(advantage_at(&t, z, s, 25), ref_sars(z[0], z[1], 1 - ref_w_pr(s), ref_w_pr(s), 0.4), 1e-6);
    // N = 10: step 4 -> j = 11
    EXPECT_NEAR(advantage_at(&t, z, 4, 10), ref_sars(z[0], z[1], 1 - ref_w_pr(11), ref_w_pr(11), 0.4), 1e-6);
    // gamma is honored
    t.gamma = 1.5;
    EXPECT_NEAR(advantage_at(&t, z, 0, 25), ref_sars(z[0], z[1], 0.3, 0.7, 1.5), 1e-6);
}

static void test_harmonic_min_max(void) {
    AdvConfig h = cfg_make(SHAPING_HARMONIC, WEIGHTING_STATIC);
    // (1, 0.5): 0.75 + 0.4 * 0.5 / (1.5 + 1e-6) = 0.8833332444445037 (hand-computed)
    float z1[2] = {1, 0.5f};
    EXPECT_NEAR(advantage_at(&h, z1, 0, 1), 0.8833332444445037, 1e-7);
    // (1, -0.5): 0.25 + 0.4 * (-0.5) / (0.5 + 1e-6) = -0.1499992000016; no sign switch
    float z2[2] = {1, -0.5f};
    EXPECT_NEAR(advantage_at(&h, z2, 0, 1), -0.1499992000016, 1e-7);
    // (-1, -0.5): -0.75 + 0.4 * 0.5 / (-1.5 + 1e-6) = -0.75 - 0.13333342222...
    float z3[2] = {-1, -0.5f};
    EXPECT_NEAR(advantage_at(&h, z3, 0, 1), -0.75 + 0.2 / (-1.5 + 1e-6), 1e-7);
    // near-zero denominator: huge term, clamped
    float z4[2] = {1, -1};
    EXPECT(advantage_at(&h, z4, 0, 1) == -5.0f, "clamped %g", advantage_at(&h, z4, 0, 1));
    // exactly zero denominator: guarded to 0 instead of Inf / NaN
    EXPECT(harmonic_bonus(-1e-6, 0.0, 0.4) == 0.0, "guard %g", harmonic_bonus(-1e-6, 0.0, 0.4));
    // TDW weights apply to harmonic as to SARS
    AdvConfig ht = cfg_make(SHAPING_HARMONIC, WEIGHTING_TDW);
    EXPECT_NEAR(advantage_at(&ht, z1, 14, 25),
                ref_w_pr(14) * 0.5 + (1 - ref_w_pr(14)) * 1 + 0.4 * 0.5 / (1.5 + 1e-6), 1e-7);

    // min / max: the whole advantage, weights (static or TDW) and gamma ignored
    for (int w = 0; w < 2; w++) {
        AdvConfig mn = cfg_make(SHAPING_MIN, (WeightingKind)w), mx = cfg_make(SHAPING_MAX, (WeightingKind)w);
        mn.w_id = mx.w_id = 3.0;
        mn.gamma = mx.gamma = 2.0;
        float pairs[4][2] = {{1, 0.5f}, {1, -0.5f}, {-1.25f, 0.5f}, {-0.25f, -2}};
        for (int i = 0; i < 4; i++)
            for (int s = 0; s < 25; s += 6) {
                EXPECT(advantage_at(&mn, pairs[i], s, 25) == fminf(pairs[i][0], pairs[i][1]), "min %d", i);
                EXPECT(advantage_at(&mx, pairs[i], s, 25) == fmaxf(pairs[i][0], pairs[i][1]), "max %d", i);
            }
        float big[2] = {7, 6};
        EXPECT(advantage_at(&mn, big, 0, 1) == 5.0f && advantage_at(&mx, big, 0, 1) == 5.0f, "min/max clamp");
    }
}

static void test_naive(void) {
    AdvConfig c = cfg_make(SHAPING_NAIVE, WEIGHTING_STATIC);
    c.w_id = 1.0;
    c.w_prompt = 1.5; // the paper's 1:1.5 baseline
    float z[2] = {0.8f, -0.4f};
    // 0.8 - 0.6 = 0.2 (no bonus)
    EXPECT_NEAR(advantage_at(&c, z, 0, 1), 1.0 * 0.8f + 1.5 * -0.4f, 1e-7);
    EXPECT_NEAR(advantage_at(&c, z, 0, 1), 0.2, 1e-7);
    // naive with TDW (R = 2)
    AdvConfig t = cfg_make(SHAPING_NAIVE, WEIGHTING_TDW);
    EXPECT_NEAR(advantage_at(&t, z, 0, 25), 0.3 * 0.8f + 0.7 * -0.4f, 1e-7);
    // R = 3 with a static weight per reward
    AdvConfig r3 = cfg_make(SHAPING_NAIVE, WEIGHTING_STATIC);
    r3.n_rewards = 3;
    r3.w_id = 0.5;
    r3.w_prompt = 0.25;
    r3.w_extra[0] = 2.0;
    char err[128];
    EXPECT(adv_config_check(&r3, err, sizeof(err)) == 0, "%s", err);
    float z3[3] = {1, -1, 0.5f};
    EXPECT_NEAR(advantage_at(&r3, z3, 0, 1), 0.5 - 0.25 + 1.0, 1e-7);
    // and the batched function with R = 3
    float r[4 * 3] = {1, 5, 0, 2, 6, 1, 3, 8, 0, 4, 5, 1}, zz[4 * 3], adv[4 * 2];
    EXPECT(adv_group_advantages(&r3, adv, zz, r, 4, 2, err, sizeof(err)) == 0, "%s", err);
    for (int g = 0; g < 4; g++) {
        double want = 0.5 * zz[g * 3] + 0.25 * zz[g * 3 + 1] + 2.0 * zz[g * 3 + 2];
        EXPECT_NEAR(adv[g * 2 + 0], want, 1e-6);
        EXPECT(adv[g * 2 + 1] == adv[g * 2], "static weights: every step the same");
    }
}

static void test_config_errors(void) {
    char err[160];
    AdvConfig c = cfg_make(SHAPING_SARS, WEIGHTING_TDW);
    EXPECT(adv_config_check(&c, err, sizeof(err)) == 0, "%s", err);
    c.n_rewards = 3;
    EXPECT(adv_config_check(&c, err, sizeof(err)) == -1 && strstr(err, "exactly 2"), "sars R=3: %s", err);
    c = cfg_make(SHAPING_MIN, WEIGHTING_STATIC);
    c.n_rewards = 1;
    EXPECT(adv_config_check(&c, err, sizeof(err)) == -1, "min R=1");
    c = cfg_make(SHAPING_NAIVE, WEIGHTING_TDW);
    c.n_rewards = 3;
    EXPECT(adv_config_check(&c, err, sizeof(err)) == -1 && strstr(err, "tdw"), "naive tdw R=3: %s", err);
    c = cfg_make(SHAPING_NAIVE, WEIGHTING_STATIC);
    c.n_rewards = ADV_MAX_REWARDS + 1;
    EXPECT(adv_config_check(&c, err, sizeof(err)) == -1, "too many rewards");
    c = adv_config_default();
    c.clamp = 0;
    EXPECT(adv_config_check(&c, err, sizeof(err)) == -1 && strstr(err, "clamp"), "clamp 0: %s", err);
    c = adv_config_default();
    c.clamp = NAN;
    EXPECT(adv_config_check(&c, err, sizeof(err)) == -1, "clamp NaN");
    c = adv_config_default();
    c.gamma = INFINITY;
    EXPECT(adv_config_check(&c, err, sizeof(err)) == -1, "gamma inf");
    c = adv_config_default();
    c.shaping = (ShapingKind)17;
    EXPECT(adv_config_check(&c, err, sizeof(err)) == -1, "unknown shaping");
    // names round-trip
    const char *names[] = {"naive", "sars", "harmonic", "min", "max"};
    for (int i = 0; i < 5; i++) {
        ShapingKind k;
        EXPECT(shaping_parse(names[i], &k) == 0 && strcmp(shaping_name(k), names[i]) == 0, "%s", names[i]);
    }
    ShapingKind k;
    WeightingKind w;
    EXPECT(shaping_parse("SARS", &k) == -1 && shaping_parse("", &k) == -1, "bad shaping names");
    EXPECT(weighting_parse("tdw", &w) == 0 && w == WEIGHTING_TDW && weighting_parse("static", &w) == 0 && w == WEIGHTING_STATIC, "weightings");
    EXPECT(weighting_parse("dynamic", &w) == -1, "bad weighting name");
    // defaults as documented
    c = adv_config_default();
    EXPECT(c.shaping == SHAPING_SARS && c.weighting == WEIGHTING_TDW && c.n_rewards == 2 && c.gamma == 0.4 &&
               c.w_id == 0.5 && c.w_prompt == 0.5 && c.clamp == 5.0, "defaults");
}

static void test_clamp(void) {
    AdvConfig c = cfg_make(SHAPING_SARS, WEIGHTING_STATIC);
    float hi[2] = {6, 6}, lo[2] = {-6, -6}, mid[2] = {4.5f, 4.5f};
    EXPECT(advantage_at(&c, hi, 0, 1) == 5.0f, "%g", advantage_at(&c, hi, 0, 1));
    EXPECT(advantage_at(&c, lo, 0, 1) == -5.0f, "%g", advantage_at(&c, lo, 0, 1));
    // 4.5 + 0.4 tanh(20.25) = 4.9 (under 5): not clamped
    EXPECT_NEAR(advantage_at(&c, mid, 0, 1), 4.5 + 0.4 * tanh(20.25), 1e-6);
    c.clamp = 1.0;
    EXPECT(advantage_at(&c, mid, 0, 1) == 1.0f, "clamp 1: %g", advantage_at(&c, mid, 0, 1));
    // a group of 40 with one outlier in both rewards: z = 39 / sqrt(40) = 6.17 on both -> 5
    float r[40 * 2], z[40 * 2], adv[40];
    for (int g = 0; g < 40; g++) r[2 * g] = r[2 * g + 1] = g == 0 ? 100.0f : 1.0f;
    c = adv_config_default();
    char err[128];
    EXPECT(adv_group_advantages(&c, adv, z, r, 40, 1, err, sizeof(err)) == 0, "%s", err);
    EXPECT_NEAR(z[0], 39.0 / sqrt(40.0), 1e-5);
    EXPECT(adv[0] == 5.0f, "outlier %g", adv[0]);
    EXPECT_NEAR(adv[1], ref_clamp(ref_sars(z[2], z[3], 0.3, 0.7, 0.4), 5), 1e-6);
    // NaN in z stays NaN (the clamp must not turn it into +-5)
    float zn[2] = {NAN, 1};
    EXPECT(isnan(advantage_at(&c, zn, 0, 25)), "NaN hidden");
}

static void test_bad_rewards(void) {
    float z[3 * 2], adv[3 * 4];
    char err[128] = "";
    AdvConfig c = adv_config_default();
    float r_nan[3 * 2] = {1, 2, 3, NAN, 5, 6};
    EXPECT(adv_group_advantages(&c, adv, z, r_nan, 3, 4, err, sizeof(err)) == -1, "NaN accepted");
    EXPECT(strstr(err, "NaN") && strstr(err, "sample 1"), "reason: %s", err);
    float r_inf[3 * 2] = {1, 2, 3, 4, -INFINITY, 6};
    EXPECT(adv_group_zscores(z, r_inf, 3, 2, err, sizeof(err)) == -1 && strstr(err, "infinite") && strstr(err, "sample 2"), "reason: %s", err);
    float r1[2] = {1, 2};
    EXPECT(adv_group_zscores(z, r1, 1, 2, err, sizeof(err)) == -1 && strstr(err, "at least 2"), "G=1: %s", err);
    EXPECT(adv_group_advantages(&c, adv, z, r_nan, 3, 0, err, sizeof(err)) == -1, "n_steps 0 accepted");
}

// the batched function against an independent double pipeline, for every shaping and weighting
static void test_group_pipeline(void) {
    enum { G = 12, N = 10 };
    float r[G * 2], z[G * 2], adv[G * N];
    cg_rng rng = cg_rng_make(11, 2);
    for (int g = 0; g < G; g++) {
        r[2 * g] = 70.0f + 5.0f * cg_rng_normal(&rng);
        r[2 * g + 1] = 30.0f + 2.0f * cg_rng_normal(&rng);
    }
    // reference z in double
    double zr[G][2];
    for (int k = 0; k < 2; k++) {
        double m = 0, v = 0;
        for (int g = 0; g < G; g++) m += r[2 * g + k];
        m /= G;
        for (int g = 0; g < G; g++) v += (r[2 * g + k] - m) * (r[2 * g + k] - m);
        for (int g = 0; g < G; g++) zr[g][k] = (r[2 * g + k] - m) / (sqrt(v / (G - 1)) + 1e-8);
    }
    char err[128];
    for (int s = 0; s < 5; s++)
        for (int w = 0; w < 2; w++) {
            AdvConfig c = cfg_make((ShapingKind)s, (WeightingKind)w);
            c.w_id = 0.4;
            c.w_prompt = 0.6;
            EXPECT(adv_group_advantages(&c, adv, z, r, G, N, err, sizeof(err)) == 0, "%s", err);
            for (int g = 0; g < G; g++)
                for (int t = 0; t < N; t++) {
                    double a_id = zr[g][0], a_pr = zr[g][1];
                    int j = (int)floor((t + 0.5) * 25.0 / N);
                    double w_pr = w ? ref_w_pr(j) : 0.6, w_id = w ? 1 - ref_w_pr(j) : 0.4, want;
                    if (s == SHAPING_NAIVE) want = w_pr * a_pr + w_id * a_id;
                    else if (s == SHAPING_SARS) want = ref_sars(a_id, a_pr, w_id, w_pr, 0.4);
                    else if (s == SHAPING_HARMONIC) want = w_pr * a_pr + w_id * a_id + 0.4 * a_pr * a_id / (a_pr + a_id + 1e-6);
                    else if (s == SHAPING_MIN) want = fmin(a_pr, a_id);
                    else want = fmax(a_pr, a_id);
                    want = ref_clamp(want, 5);
                    // harmonic amplifies z's float rounding where A_pr + A_id is small
                    double tol = 1e-6 * (1 + fabs(want));
                    if (s == SHAPING_HARMONIC) tol *= 1 + 1 / ((a_pr + a_id) * (a_pr + a_id));
                    EXPECT(fabs(adv[g * N + t] - want) <= tol, "%s/%s g %d t %d: %.9g want %.9g", shaping_name(c.shaping),
                           weighting_name(c.weighting), g, t, adv[g * N + t], want);
                    // and the batched value is exactly the per-sample call
                    EXPECT(adv[g * N + t] == advantage_at(&c, z + 2 * g, t, N), "batched != advantage_at");
                }
        }
}

static void test_quadrant_counts(void) {
    float z[6 * 2] = {1, 1, 1, -1, -1, 1, -1, -1, 0, 1, 0.5f, 0};
    int counts[ADV_N_QUADRANTS] = {0};
    adv_quadrant_counts(counts, z, 6, 2);
    EXPECT(counts[ADV_Q_BOTH_POS] == 1 && counts[ADV_Q_CONFLICT] == 2 && counts[ADV_Q_BOTH_NEG] == 1 && counts[ADV_Q_ZERO] == 2,
           "counts %d %d %d %d", counts[0], counts[1], counts[2], counts[3]);
    EXPECT(adv_quadrant(NAN, 1) == ADV_Q_ZERO, "NaN quadrant");
    EXPECT(strcmp(adv_quadrant_name(ADV_Q_CONFLICT), "conflict") == 0, "name");
    // counts accumulate
    adv_quadrant_counts(counts, z, 1, 2);
    EXPECT(counts[ADV_Q_BOTH_POS] == 2, "accumulate %d", counts[ADV_Q_BOTH_POS]);
}

int main(void) {
    RUN(test_tdw_weights);
    RUN(test_step_mapping);
    RUN(test_zscores_unbiased);
    RUN(test_equal_rewards_group);
    RUN(test_sars_quadrants);
    RUN(test_harmonic_min_max);
    RUN(test_naive);
    RUN(test_config_errors);
    RUN(test_clamp);
    RUN(test_bad_rewards);
    RUN(test_group_pipeline);
    RUN(test_quadrant_counts);
    return test_summary("advantage");
}
