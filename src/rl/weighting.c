// weighting.c: static and time-dependent (TDW) reward weights; see weighting.h for the formulas
// and where they come from.
#include "rl/weighting.h"

#include <math.h>
#include <string.h>

#include "core/check.h"

// The paper's constants (get_weights_sigmoid_final in train/train_customized_grpo.py).
#define TDW_PR_MAX 0.7         // prompt weight while the layout forms
#define TDW_PR_MIN 0.3         // lower end of the sigmoid transition
#define TDW_PR_FINAL 0.5       // balanced weights for the last steps
#define TDW_TRANSITION_START 6 // first step of the sigmoid transition
#define TDW_TRANSITION_END 14  // only used to place the center: (6 + 14) / 2 = 10
#define TDW_FINAL_START 22     // first step of the final, balanced phase
#define TDW_SCALE 0.8          // sigmoid steepness per step

const char *weighting_name(WeightingKind kind) {
    switch (kind) {
    case WEIGHTING_STATIC: return "static";
    case WEIGHTING_TDW: return "tdw";
    }
    return NULL;
}

int weighting_parse(const char *name, WeightingKind *kind) {
    if (strcmp(name, "static") == 0) *kind = WEIGHTING_STATIC;
    else if (strcmp(name, "tdw") == 0) *kind = WEIGHTING_TDW;
    else return -1;
    return 0;
}

int tdw_map_step(int step, int n_steps) {
    CG_CHECK(n_steps >= 1 && step >= 0 && step < n_steps, "step %d of %d", step, n_steps);
    // floor((step + 0.5) * 25 / n_steps) without floating point; long long keeps it exact for any int
    long long j = ((2LL * step + 1) * TDW_N_STEPS) / (2LL * n_steps);
    return (int)j; // (2 step + 1) < 2 n_steps, so j < 25
}

double tdw_prompt_weight(int t25) {
    if (t25 < TDW_TRANSITION_START) return TDW_PR_MAX;
    if (t25 >= TDW_FINAL_START) return TDW_PR_FINAL;
    double center = 0.5 * (TDW_TRANSITION_START + TDW_TRANSITION_END);
    double s = 1.0 / (1.0 + exp(-TDW_SCALE * ((double)t25 - center)));
    return TDW_PR_MIN + (TDW_PR_MAX - TDW_PR_MIN) * (1.0 - s);
}

void weighting_id_prompt(WeightingKind kind, double w_id_static, double w_pr_static, int step,
                         int n_steps, double *w_id, double *w_pr) {
    if (kind == WEIGHTING_TDW) {
        double pr = tdw_prompt_weight(tdw_map_step(step, n_steps));
        *w_pr = pr;
        *w_id = 1.0 - pr;
        return;
    }
    CG_CHECK(kind == WEIGHTING_STATIC, "unknown weighting kind %d", (int)kind);
    *w_id = w_id_static;
    *w_pr = w_pr_static;
}
