// advantage.c: group z-scores, SARS and its variants, clamping; see advantage.h for the formulas
// and the paper's code they were checked against.
#include "rl/advantage.h"

#include <math.h>
#include <string.h>

#include "core/check.h"

AdvConfig adv_config_default(void) {
    AdvConfig c;
    memset(&c, 0, sizeof(c));
    c.shaping = SHAPING_SARS;
    c.weighting = WEIGHTING_TDW;
    c.n_rewards = 2;
    c.gamma = 0.4;
    c.w_id = 0.5;
    c.w_prompt = 0.5;
    c.clamp = 5.0;
    return c;
}

static const char *SHAPING_NAMES[] = {"naive", "sars", "harmonic", "min", "max"};
#define N_SHAPINGS (int)(sizeof(SHAPING_NAMES) / sizeof(SHAPING_NAMES[0]))

const char *shaping_name(ShapingKind kind) {
    if ((int)kind < 0 || (int)kind >= N_SHAPINGS) return NULL;
    return SHAPING_NAMES[kind];
}

int shaping_parse(const char *name, ShapingKind *kind) {
    for (int i = 0; i < N_SHAPINGS; i++)
        if (strcmp(name, SHAPING_NAMES[i]) == 0) {
            *kind = (ShapingKind)i;
            return 0;
        }
    return -1;
}

int adv_config_check(const AdvConfig *cfg, char *err, size_t errlen) {
    const char *sn = shaping_name(cfg->shaping);
    if (!sn) return cg_errf(err, errlen, "unknown shaping %d", (int)cfg->shaping);
    if (!weighting_name(cfg->weighting))
        return cg_errf(err, errlen, "unknown weighting %d", (int)cfg->weighting);
    int R = cfg->n_rewards;
    if (R < 1 || R > ADV_MAX_REWARDS)
        return cg_errf(err, errlen, "%d rewards: must be in [1, %d]", R, ADV_MAX_REWARDS);
    if (cfg->shaping != SHAPING_NAIVE && R != 2)
        return cg_errf(err, errlen, "shaping %s needs exactly 2 rewards (identity, prompt), got %d", sn, R);
    if (cfg->shaping == SHAPING_NAIVE && cfg->weighting == WEIGHTING_TDW && R != 2)
        return cg_errf(err, errlen, "tdw weighting needs exactly 2 rewards (identity, prompt), got %d", R);
    if (!isfinite(cfg->gamma)) return cg_errf(err, errlen, "gamma must be finite");
    if (!isfinite(cfg->w_id) || !isfinite(cfg->w_prompt))
        return cg_errf(err, errlen, "static weights must be finite");
    for (int k = 2; k < R; k++)
        if (!isfinite(cfg->w_extra[k - 2]))
            return cg_errf(err, errlen, "static weight of reward %d must be finite", k);
    if (!(cfg->clamp > 0)) return cg_errf(err, errlen, "clamp must be > 0 (got %g)", cfg->clamp);
    return 0;
}

int adv_group_zscores(float *z, const float *rewards, int G, int R, char *err, size_t errlen) {
    if (G < 2) return cg_errf(err, errlen, "a group needs at least 2 samples, got %d", G);
    if (R < 1 || R > ADV_MAX_REWARDS)
        return cg_errf(err, errlen, "%d rewards: must be in [1, %d]", R, ADV_MAX_REWARDS);
    for (int g = 0; g < G; g++)
        for (int k = 0; k < R; k++) {
            float r = rewards[(size_t)g * R + k];
            if (!isfinite(r))
                return cg_errf(err, errlen, "reward %d of sample %d is %s", k, g, isnan(r) ? "NaN" : "infinite");
        }
    for (int k = 0; k < R; k++) {
        // all equal: z = 0 exactly (mean and std in floating point would leave ulp-sized noise)
        float r0 = rewards[k];
        int all_equal = 1;
        for (int g = 1; g < G && all_equal; g++) all_equal = rewards[(size_t)g * R + k] == r0;
        if (all_equal) {
            for (int g = 0; g < G; g++) z[(size_t)g * R + k] = 0.0f;
            continue;
        }
        double sum = 0.0;
        for (int g = 0; g < G; g++) sum += rewards[(size_t)g * R + k];
        double mean = sum / G;
        double ss = 0.0;
        for (int g = 0; g < G; g++) {
            double d = rewards[(size_t)g * R + k] - mean;
            ss += d * d;
        }
        double denom = sqrt(ss / (G - 1)) + ADV_STD_EPS; // unbiased std, as torch's .std()
        for (int g = 0; g < G; g++)
            z[(size_t)g * R + k] = (float)((rewards[(size_t)g * R + k] - mean) / denom);
    }
    return 0;
}

double sars_bonus(double a_id, double a_pr, double gamma) {
    double t = tanh(a_pr * a_id);
    return (a_pr > 0 || a_id > 0) ? gamma * t : -gamma * t;
}

double harmonic_bonus(double a_id, double a_pr, double gamma) {
    double den = a_pr + a_id + ADV_HARMONIC_EPS;
    if (den == 0.0) return 0.0; // the paper's code would give Inf or NaN here
    return gamma * (a_pr * a_id) / den;
}

float advantage_at(const AdvConfig *cfg, const float *z, int step, int n_steps) {
    char err[160];
    if (adv_config_check(cfg, err, sizeof(err)) != 0) cg_die("advantage_at: bad config: %s", err);
    double a_id = z[ADV_REWARD_ID];
    double a;
    if (cfg->shaping == SHAPING_MIN || cfg->shaping == SHAPING_MAX) {
        double a_pr = z[ADV_REWARD_PROMPT];
        if (isnan(a_id) || isnan(a_pr)) a = NAN;
        else if (cfg->shaping == SHAPING_MIN) a = a_pr < a_id ? a_pr : a_id;
        else a = a_pr > a_id ? a_pr : a_id;
    } else {
        double w_id, w_pr;
        weighting_id_prompt(cfg->weighting, cfg->w_id, cfg->w_prompt, step, n_steps, &w_id, &w_pr);
        a = w_id * a_id;
        if (cfg->n_rewards >= 2) {
            double a_pr = z[ADV_REWARD_PROMPT];
            a += w_pr * a_pr;
            if (cfg->shaping == SHAPING_SARS) a += sars_bonus(a_id, a_pr, cfg->gamma);
            else if (cfg->shaping == SHAPING_HARMONIC) a += harmonic_bonus(a_id, a_pr, cfg->gamma);
        }
        for (int k = 2; k < cfg->n_rewards; k++) a += cfg->w_extra[k - 2] * (double)z[k];
    }
    // explicit comparisons so that a NaN stays NaN
    if (a > cfg->clamp) a = cfg->clamp;
    if (a < -cfg->clamp) a = -cfg->clamp;
    return (float)a;
}

int adv_group_advantages(const AdvConfig *cfg, float *adv, float *z, const float *rewards, int G,
                         int n_steps, char *err, size_t errlen) {
    if (adv_config_check(cfg, err, errlen) != 0) return -1;
    if (n_steps < 1) return cg_errf(err, errlen, "n_steps must be >= 1, got %d", n_steps);
    int R = cfg->n_rewards;
    if (adv_group_zscores(z, rewards, G, R, err, errlen) != 0) return -1;
    for (int g = 0; g < G; g++)
        for (int s = 0; s < n_steps; s++)
            adv[(size_t)g * n_steps + s] = advantage_at(cfg, z + (size_t)g * R, s, n_steps);
    return 0;
}

AdvQuadrant adv_quadrant(float a_id, float a_pr) {
    if (a_id > 0 && a_pr > 0) return ADV_Q_BOTH_POS;
    if (a_id < 0 && a_pr < 0) return ADV_Q_BOTH_NEG;
    if ((a_id > 0 && a_pr < 0) || (a_id < 0 && a_pr > 0)) return ADV_Q_CONFLICT;
    return ADV_Q_ZERO;
}

const char *adv_quadrant_name(AdvQuadrant q) {
    switch (q) {
    case ADV_Q_BOTH_POS: return "both_pos";
    case ADV_Q_CONFLICT: return "conflict";
    case ADV_Q_BOTH_NEG: return "both_neg";
    case ADV_Q_ZERO: return "zero";
    case ADV_N_QUADRANTS: break;
    }
    return NULL;
}

void adv_quadrant_counts(int counts[ADV_N_QUADRANTS], const float *z, int G, int R) {
    CG_CHECK(R >= 2, "quadrants need identity and prompt rewards, R = %d", R);
    for (int g = 0; g < G; g++)
        counts[adv_quadrant(z[(size_t)g * R + ADV_REWARD_ID], z[(size_t)g * R + ADV_REWARD_PROMPT])]++;
}
