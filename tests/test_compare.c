// test_compare.c: `cgrpo compare` as a library (eval/compare.h): list parsing, the training config
// of a run (order: preset, file, overrides, seed; the keys compare owns refused), the stored-run
// check, the aggregation and smoothing against hand-computed values, and a tiny compare end to end
// (2 presets x 2 seeds, 2 iterations of P 1 x G 2 x 2 steps, 2 test subjects x 2 prompts): the
// report's rows and figures, its table cells against the per-seed results.json files, a rerun that
// skips everything, a compare resumed from a stopped call and from a checkpoint-only run that ends
// with the same files and tables, and a rerun with other settings refused with the key named.
// Uses a tiny random DiT saved to a temp directory and the shipped reward and judge files of models/
// (run from the repository root, as tests/run.sh does).
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "core/rng.h"
#include "eval/compare.h"
#include "io/png.h"
#include "scratch.h"
#include "test.h"
#include "world/tokenizer.h"

static char g_dir_template[] = "/tmp/cgrpo_test_compare_XXXXXX";
static char *g_dir;

// ---- lists --------------------------------------------------------------------------------------------

static void test_parse_presets(void) {
    int p[TRAIN_N_PRESETS], n = -1;
    char err[512];
    EXPECT(compare_parse_presets("naive-1-1.5,customized", p, &n, err, sizeof err) == 0, "%s", err);
    EXPECT(n == 2 && p[0] == TRAIN_PRESET_NAIVE_1_1_5 && p[1] == TRAIN_PRESET_CUSTOMIZED, "order kept: n %d", n);
    EXPECT(compare_parse_presets(COMPARE_DEFAULT_PRESETS, p, &n, err, sizeof err) == 0 && n == TRAIN_N_PRESETS, "defaults");
    for (int i = 0; i < TRAIN_N_PRESETS; i++) EXPECT(p[i] == i, "default preset %d is %d", i, p[i]);
    EXPECT(compare_parse_presets("customized,naive-2", p, &n, err, sizeof err) == -1, "unknown preset");
    EXPECT(strstr(err, "naive-2") && strstr(err, "sars-only") && strstr(err, "tdw-only"), "names it and the known: %s", err);
    EXPECT(compare_parse_presets("tdw-only,tdw-only", p, &n, err, sizeof err) == -1 && strstr(err, "twice"), "twice: %s", err);
    EXPECT(compare_parse_presets("customized,,tdw-only", p, &n, err, sizeof err) == -1 && strstr(err, "empty"), "empty: %s", err);
    EXPECT(compare_parse_presets("", p, &n, err, sizeof err) == -1, "empty list");
}

static void test_parse_seeds(void) {
    uint64_t s[COMPARE_MAX_SEEDS];
    int n = -1;
    char err[512];
    EXPECT(compare_parse_seeds("3,1,18446744073709551615", s, &n, err, sizeof err) == 0, "%s", err);
    EXPECT(n == 3 && s[0] == 3 && s[1] == 1 && s[2] == UINT64_MAX, "values");
    EXPECT(compare_parse_seeds("1,x", s, &n, err, sizeof err) == -1 && strstr(err, "'x'"), "not a number: %s", err);
    EXPECT(compare_parse_seeds("-1", s, &n, err, sizeof err) == -1, "negative");
    EXPECT(compare_parse_seeds("+1", s, &n, err, sizeof err) == -1, "sign");
    EXPECT(compare_parse_seeds("1,2,1", s, &n, err, sizeof err) == -1 && strstr(err, "twice"), "twice: %s", err);
    EXPECT(compare_parse_seeds("1,", s, &n, err, sizeof err) == -1, "trailing comma");
    EXPECT(compare_parse_seeds("18446744073709551616", s, &n, err, sizeof err) == -1, "overflow");
    char many[256] = "";
    for (int i = 0; i <= COMPARE_MAX_SEEDS; i++) snprintf(many + strlen(many), sizeof many - strlen(many), "%s%d", i ? "," : "", i);
    EXPECT(compare_parse_seeds(many, s, &n, err, sizeof err) == -1, "too many seeds");
    char name[96];
    compare_run_name(name, sizeof name, TRAIN_PRESET_NAIVE_1_1_5, 12);
    EXPECT(strcmp(name, "naive-1-1.5-s12") == 0, "run name %s", name);
}

// ---- configs ------------------------------------------------------------------------------------------

static void write_file(const char *path, const char *text) {
    FILE *f = cg_fopen(path, "wb");
    cg_fwrite(text, 1, strlen(text), f);
    cg_fclose(f);
}

static void test_train_config(void) {
    char cfgp[512], err[1024];
    snprintf(cfgp, sizeof cfgp, "%s/shared.cfg", g_dir);
    write_file(cfgp, "gamma = 0.7   # the file beats the preset\npairs = 3\nsteps = 6\n");
    CompareSpec s = compare_spec_default();
    s.config_file = cfgp;
    s.n_over = 2;
    s.over_key[0] = "pairs", s.over_val[0] = "5";          // the option beats the file
    s.over_key[1] = "group-size", s.over_val[1] = "4";     // '-' spelling
    TrainConfig c;
    EXPECT(compare_train_config(&c, &s, TRAIN_PRESET_NAIVE_1_1_5, 9, err, sizeof err) == 0, "%s", err);
    EXPECT(c.preset == TRAIN_PRESET_NAIVE_1_1_5 && c.shaping == SHAPING_NAIVE && c.weighting == WEIGHTING_STATIC, "preset keys");
    EXPECT(c.w_id == 0.4f && c.w_prompt == 0.6f, "preset weights %g %g", (double)c.w_id, (double)c.w_prompt);
    EXPECT(c.gamma == 0.7f, "file gamma %g", (double)c.gamma);
    EXPECT(c.pairs == 5 && c.group_size == 4 && c.steps == 6, "overrides and file: %d %d %d", c.pairs, c.group_size, c.steps);
    EXPECT(c.seed == 9, "seed %llu", (unsigned long long)c.seed);
    EXPECT(c.eta == train_config_default().eta, "default eta %g", (double)c.eta);
    EXPECT(compare_train_config(&c, &s, TRAIN_PRESET_CUSTOMIZED, 1, err, sizeof err) == 0, "%s", err);
    EXPECT(c.shaping == SHAPING_SARS && c.weighting == WEIGHTING_TDW && c.gamma == 0.7f && c.pairs == 5, "customized");

    // the keys compare owns
    static const char *const OWN[] = {"preset = naive-1-1\n", "seed = 3\n", "shaping = naive\n", "weighting = tdw\n",
                                      "w_id = 0.3\n", "w_prompt = 0.7\n"};
    for (size_t i = 0; i < sizeof OWN / sizeof OWN[0]; i++) {
        write_file(cfgp, OWN[i]);
        char key[32];
        sscanf(OWN[i], "%31s", key);
        EXPECT(compare_train_config(&c, &s, TRAIN_PRESET_CUSTOMIZED, 1, err, sizeof err) == -1 && strstr(err, key) &&
                   strstr(err, "shared.cfg"), "file setting %s: %s", key, err);
    }
    s.config_file = NULL;
    s.n_over = 1, s.over_key[0] = "w-prompt", s.over_val[0] = "0.9";
    EXPECT(compare_train_config(&c, &s, TRAIN_PRESET_CUSTOMIZED, 1, err, sizeof err) == -1 && strstr(err, "--w-prompt"),
           "option w_prompt: %s", err);
    s.over_key[0] = "grup-size", s.over_val[0] = "4";
    EXPECT(compare_train_config(&c, &s, TRAIN_PRESET_CUSTOMIZED, 1, err, sizeof err) == -1 && strstr(err, "group_size"),
           "unknown key names the nearest: %s", err);
    s.over_key[0] = "group_size", s.over_val[0] = "1";
    EXPECT(compare_train_config(&c, &s, TRAIN_PRESET_CUSTOMIZED, 1, err, sizeof err) == -1 && strstr(err, "group_size"),
           "out of range: %s", err);
    EXPECT(compare_is_run_key("w_id") && compare_is_run_key("preset") && !compare_is_run_key("gamma") &&
               !compare_is_run_key("iterations"), "run keys");
}

static void test_check_stored(void) {
    char err[512];
    TrainConfig want = train_config_default(), st;
    train_config_resolve(&want);
    st = want;
    EXPECT(compare_check_stored(&want, &st, err, sizeof err) == 0, "same: %s", err);
    st.ckpt_every = 3, st.sample_every = 0; // output only
    EXPECT(compare_check_stored(&want, &st, err, sizeof err) == 0, "output keys may differ: %s", err);
    st.iterations = want.iterations - 10;   // the run will be continued
    EXPECT(compare_check_stored(&want, &st, err, sizeof err) == 0, "fewer stored iterations: %s", err);
    st.iterations = want.iterations + 1;
    EXPECT(compare_check_stored(&want, &st, err, sizeof err) == -1 && strstr(err, "iterations"), "more stored: %s", err);
    want.lr = 1e-5f, st = want, st.lr = 2e-5f;
    EXPECT(compare_check_stored(&want, &st, err, sizeof err) == -1 && strstr(err, "lr = 2e-05") && strstr(err, "1e-05"),
           "lr named with both values: %s", err);
    st = want, st.cos_every = 5;
    EXPECT(compare_check_stored(&want, &st, err, sizeof err) == -1 && strstr(err, "cos_every"), "cos_every: %s", err);
    st = want, st.subjects_seed = 7;
    EXPECT(compare_check_stored(&want, &st, err, sizeof err) == -1 && strstr(err, "subjects_seed"), "%s", err);
}

// ---- aggregation ----------------------------------------------------------------------------------------

static void test_stat(void) {
    const double v[4] = {1.0, 4.0, NAN, 2.0};
    CompareStat s = compare_stat(v, 4);
    EXPECT(s.n == 3, "n %d", s.n);
    EXPECT_NEAR(s.mean, 7.0 / 3.0, 1e-15);
    EXPECT_NEAR(s.spread, 1.5, 1e-15); // (4 - 1) / 2
    s = compare_stat(v + 1, 1);
    EXPECT(s.n == 1 && s.mean == 4.0 && s.spread == 0.0, "one value");
    s = compare_stat(v + 2, 1);
    EXPECT(s.n == 0 && isnan(s.mean) && isnan(s.spread), "no finite value");
    const double neg[2] = {-13.75, -12.25};
    s = compare_stat(neg, 2);
    EXPECT(s.mean == -13.0 && s.spread == 0.75, "negatives: %g %g", s.mean, s.spread);

    char buf[64];
    compare_format_stat(buf, sizeof buf, (CompareStat){12.5, 0.25, 2}, 2);
    EXPECT(strcmp(buf, "12.50 ± 0.25") == 0, "'%s'", buf);
    compare_format_stat(buf, sizeof buf, (CompareStat){0.5, 0.0, 1}, 3);
    EXPECT(strcmp(buf, "0.500") == 0, "'%s'", buf);
    compare_format_stat(buf, sizeof buf, (CompareStat){NAN, NAN, 0}, 2);
    EXPECT(strcmp(buf, "-") == 0, "'%s'", buf);
}

static void test_aggregate(void) {
    EvalSummary sm[3];
    memset(sm, 0, sizeof sm);
    for (int i = 0; i < 3; i++)
        for (int g = 0; g < EVAL_N_GROUPS; g++)
            for (int m = 0; m < EVAL_N_METRICS; m++) sm[i].mean[g][m] = 10.0 * g + m + (i == 1 ? 3.0 : i == 2 ? -1.0 : 0.0);
    sm[2].mean[EVAL_ACCESSORY][EM_CLIP_T] = NAN; // a group without images in one seed
    CompareStat st[EVAL_N_GROUPS][EVAL_N_METRICS];
    compare_aggregate(st, sm, 3);
    // offsets 0, 3, -1: mean + 2/3, spread 2
    EXPECT_NEAR(st[EVAL_OVERALL][EM_IDENTITY].mean, 2.0 / 3.0, 1e-12);
    EXPECT_NEAR(st[EVAL_OVERALL][EM_IDENTITY].spread, 2.0, 1e-12);
    EXPECT_NEAR(st[EVAL_PROPERTY][EM_ATTR_ACC].mean, 30.0 + EM_ATTR_ACC + 2.0 / 3.0, 1e-12);
    EXPECT(st[EVAL_PROPERTY][EM_ATTR_ACC].n == 3, "n");
    // offsets 0, 3 only: mean + 1.5, spread 1.5
    EXPECT_NEAR(st[EVAL_ACCESSORY][EM_CLIP_T].mean, 20.0 + EM_CLIP_T + 1.5, 1e-12);
    EXPECT_NEAR(st[EVAL_ACCESSORY][EM_CLIP_T].spread, 1.5, 1e-12);
    EXPECT(st[EVAL_ACCESSORY][EM_CLIP_T].n == 2, "NaN seed skipped");
}

static void test_moving_average(void) {
    const double in[7] = {1, 2, 3, 4, 5, NAN, 7};
    double out[7];
    compare_moving_average(out, in, 7, 5);
    const double want[7] = {2.0, 2.5, 3.0, 3.5, 4.75, 16.0 / 3.0, 6.0}; // centred, cut at the ends, NaN skipped
    for (int i = 0; i < 7; i++) EXPECT_NEAR(out[i], want[i], 1e-12);
    compare_moving_average(out, in, 7, 1);
    for (int i = 0; i < 7; i++) EXPECT(i == 5 ? isnan(out[i]) : out[i] == in[i], "window 1 is the identity at %d", i);
    const double gaps[3] = {NAN, NAN, 5};
    compare_moving_average(out, gaps, 3, 3);
    EXPECT(isnan(out[0]) && out[1] == 5.0 && out[2] == 5.0, "all-NaN window stays NaN");
}

static void test_relative_running_mean(void) {
    // two series over 4 iterations; the mean at i is (a + b) / 2, so d_a = (a - b) / 2 = -d_b
    const double in[2 * 4] = {10, 20, 30, NAN, //
                              12, 16, 30, 40};
    double out[2 * 4];
    compare_relative_running_mean(out, in, 2, 4);
    // d_a: -1, 2, 0, (NaN: skipped);  d_b: 1, -2, 0, 0 (the mean of iteration 3 is b's own 40)
    const double want_a[4] = {-1.0, 0.5, 1.0 / 3.0, 1.0 / 3.0}, want_b[4] = {1.0, -0.5, -1.0 / 3.0, -0.25};
    for (int i = 0; i < 4; i++) {
        EXPECT_NEAR(out[i], want_a[i], 1e-12);
        EXPECT_NEAR(out[4 + i], want_b[i], 1e-12);
    }
    const double lead[3 * 2] = {NAN, 5, NAN, 5, NAN, 8};
    compare_relative_running_mean(out, lead, 3, 2);
    EXPECT(isnan(out[0]) && isnan(out[2]) && isnan(out[4]), "NaN until the first finite value");
    EXPECT_NEAR(out[1], -1.0, 1e-12);
    EXPECT_NEAR(out[5], 2.0, 1e-12);
}

// ---- end to end -----------------------------------------------------------------------------------------

// A tiny 32x32 DiT (the shipped rewards' size), every parameter perturbed so that it reacts to its inputs.
static void save_tiny_dit(const char *path) {
    DiTConfig cfg = dit_config_default();
    cfg.width = 16, cfg.depth = 1, cfg.heads = 2, cfg.tdim = 16, cfg.vocab = TOK_VOCAB_SIZE, cfg.text_len = 16;
    char err[512];
    CG_CHECK(dit_config_check(&cfg, err, sizeof err) == 0, "%s", err);
    DiTModel m;
    dit_create(&m, &cfg, 1);
    dit_init(&m, 7);
    float *noise = cg_malloc(m.table.total * sizeof(float));
    cg_rng_fill_normal(noise, m.table.total, 11, 0, 0);
    for (size_t i = 0; i < m.table.total; i++) m.params[i] += 0.05f * noise[i];
    free(noise);
    CG_CHECK(dit_save(&m, path, NULL, err, sizeof err) == 0, "%s", err);
    dit_free(&m);
}

static char g_model[512];

static CompareSpec tiny_spec(const char *out) {
    CompareSpec s = compare_spec_default();
    s.out = out, s.model = g_model, s.rewards_dir = "models", s.progress = 0;
    s.n_presets = 2, s.presets[0] = TRAIN_PRESET_CUSTOMIZED, s.presets[1] = TRAIN_PRESET_NAIVE_1_1;
    static const char *const K[] = {"iterations", "pairs", "group_size", "steps", "lr", "ckpt_every", "sample_every", "cos_every"};
    static const char *const V[] = {"2", "1", "2", "2", "1e-3", "1", "0", "1"};
    for (int i = 0; i < 8; i++) s.over_key[i] = K[i], s.over_val[i] = V[i];
    s.n_over = 8;
    s.eval.n_subjects = 2, s.eval.steps = 2, s.eval.n_templates = 2, s.eval.templates[0] = 0, s.eval.templates[1] = 20;
    return s;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = cg_malloc((size_t)n + 1);
    cg_fread(s, 1, (size_t)n, f);
    fclose(f);
    s[n] = '\0';
    return s;
}

// byte-for-byte equal (both readable)
static int same_file(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb, ca, cb;
    if (same) {
        do ca = fgetc(fa), cb = fgetc(fb);
        while (ca == cb && ca != EOF);
        same = ca == cb;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

// report.md without its last section (wall times)
static char *report_tables(const char *dir) {
    char path[600];
    snprintf(path, sizeof path, "%s/report.md", dir);
    char *s = slurp(path);
    if (!s) return NULL;
    char *wall = strstr(s, "## Wall time");
    if (wall) *wall = '\0';
    return s;
}

static const char *const NAMES[5] = {"base", "customized-s1", "customized-s2", "naive-1-1-s1", "naive-1-1-s2"};

// ---- report.json --------------------------------------------------------------------------------------

static void test_seed_delta(void) {
    const double d[3] = {1.0, 2.0, 6.0}; // mean 3, sample sd sqrt(7), SE sqrt(7 / 3)
    CompareDelta c = compare_seed_delta(d, 3);
    EXPECT_NEAR(c.delta, 3.0, 1e-12);
    EXPECT_NEAR(c.se, sqrt(7.0 / 3.0), 1e-12);
    c = compare_seed_delta(d, 1);
    EXPECT(c.delta == 1.0 && isnan(c.se), "one seed: delta %g se %g", c.delta, c.se);
}

static double json_at(const cJSON *root, const char *const *path, int n) {
    const cJSON *x = root;
    for (int i = 0; i < n && x; i++) x = cJSON_GetObjectItemCaseSensitive(x, path[i]);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

// customized and naive-1-1 x seeds 3 and 7 with hand-set identity means: base 60; customized 62, 64
// (vs base: 2 and 4 -> delta 3, SE sd(2, 4) / sqrt 2 = 1); naive 61, 61 (customized vs naive: 1, 3
// -> delta 2, SE 1; naive vs base: delta 1, SE 0).
static void test_report_json(void) {
    CompareSpec s = compare_spec_default();
    s.presets[0] = TRAIN_PRESET_CUSTOMIZED, s.presets[1] = TRAIN_PRESET_NAIVE_1_1, s.n_presets = 2;
    s.seeds[0] = 3, s.seeds[1] = 7, s.n_seeds = 2;
    s.headline = 1;
    EvalSummary base, sum[4];
    memset(&base, 0, sizeof base), memset(sum, 0, sizeof sum);
    base.mean[EVAL_OVERALL][EM_IDENTITY] = 60.0, base.mean[EVAL_OVERALL][EM_CLIP_T] = 70.0;
    const double id[4] = {62.0, 64.0, 61.0, 61.0};
    for (int i = 0; i < 4; i++) sum[i].mean[EVAL_OVERALL][EM_IDENTITY] = id[i], sum[i].mean[EVAL_OVERALL][EM_CLIP_T] = 70.5;
    TrainConfig cfg = train_config_default();
    char *text = compare_report_json(&s, &cfg, SPLIT_TEST, &base, sum);
    cJSON *root = cJSON_Parse(text);
    EXPECT(root != NULL, "report.json parses");
    if (!root) return free(text);
    EXPECT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root, "headline")), "headline");
    const cJSON *split = cJSON_GetObjectItemCaseSensitive(root, "split");
    EXPECT(cJSON_IsString(split) && strcmp(split->valuestring, "test") == 0, "split");
    EXPECT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "seeds")) == 2, "seeds");
    const char *p1[] = {"train_config", "lr"}, *p2[] = {"models", "base", "identity"},
               *p3[] = {"models", "customized", "identity"}, *p4[] = {"models", "customized", "per_seed", "7", "identity"},
               *p5[] = {"models", "customized", "vs", "base", "identity", "delta"},
               *p6[] = {"models", "customized", "vs", "base", "identity", "se"},
               *p7[] = {"models", "customized", "vs", "naive-1-1", "identity", "delta"},
               *p8[] = {"models", "customized", "vs", "naive-1-1", "identity", "se"},
               *p9[] = {"models", "naive-1-1", "vs", "base", "clip_t", "delta"},
               *p10[] = {"models", "customized", "vs", "naive-1-1.5", "identity", "delta"},
               *p11[] = {"train_config", "seed"};
    EXPECT_NEAR(json_at(root, p1, 2), 1e-4, 1e-12);
    EXPECT_NEAR(json_at(root, p2, 3), 60.0, 1e-12);
    EXPECT_NEAR(json_at(root, p3, 3), 63.0, 1e-12);
    EXPECT_NEAR(json_at(root, p4, 5), 64.0, 1e-12);
    EXPECT_NEAR(json_at(root, p5, 6), 3.0, 1e-12);
    EXPECT_NEAR(json_at(root, p6, 6), 1.0, 1e-12);
    EXPECT_NEAR(json_at(root, p7, 6), 2.0, 1e-12);
    EXPECT_NEAR(json_at(root, p8, 6), 1.0, 1e-12);
    EXPECT_NEAR(json_at(root, p9, 6), 0.5, 1e-12);
    EXPECT(isnan(json_at(root, p10, 6)), "no naive-1-1.5 runs: no comparison with it");
    EXPECT(isnan(json_at(root, p11, 2)), "train_config leaves out the keys each run sets");
    cJSON_Delete(root);
    free(text);
}

static void test_end_to_end(void) {
    char a[600], b[600], err[2048], path[800], path2[800];
    snprintf(a, sizeof a, "%s/a", g_dir);
    snprintf(b, sizeof b, "%s/b", g_dir);

    // an uninterrupted compare
    CompareSpec s = tiny_spec(a);
    CompareResult res;
    CgStatus rc = compare_run(&s, &res, err, sizeof err);
    EXPECT(rc == CG_OK, "compare: %s", err);
    if (rc) return;
    EXPECT(res.runs_started == 4 && res.evals_run == 5 && !res.stopped && res.table, "counts %d %d", res.runs_started, res.evals_run);
    char *rep = report_tables(a);
    EXPECT(rep != NULL, "report.md");
    if (!rep) return;
    EXPECT(strstr(rep, "\n| base | - |") && strstr(rep, "\n| customized | 2 |") && strstr(rep, "\n| naive-1-1 | 2 |"),
           "every row of the results table");
    EXPECT(strstr(rep, "### identity") && strstr(rep, "### clip_t") && strstr(rep, "scene (2 images)") &&
               strstr(rep, "property (2 images)"), "tables by prompt kind");
    static const char *const FIGS[] = {"pareto.png",          "curves_rewards.png", "curves_rewards_rel.png",
                                       "curves_conflict.png", "curves_gradcos.png", "grid.png"};
    for (int f = 0; f < 6; f++) {
        snprintf(path, sizeof path, "%s/%s", a, FIGS[f]);
        unsigned char *rgb = NULL;
        int W = 0, H = 0;
        EXPECT(cg_png_read_rgb8(path, &rgb, &W, &H, err, sizeof err) == 0 && W <= 640 && H <= 400 && W >= 64,
               "%s: %dx%d %s", FIGS[f], W, H, err);
        free(rgb);
        char link[64];
        snprintf(link, sizeof link, "](%s)", FIGS[f]);
        EXPECT(strstr(rep, link) != NULL, "report links %s", FIGS[f]);
    }
    // the table cells against the per-seed results.json files, by hand
    EvalSummary sm[4], base;
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/eval/%s/results.json", a, NAMES[i]);
        EXPECT(eval_read_summary(path, i ? &sm[i - 1] : &base, NULL, err, sizeof err) == 0, "%s", err);
    }
    { // report.json: customized against the base from the per-seed files, not a headline
        snprintf(path, sizeof path, "%s/report.json", a);
        size_t len = 0;
        unsigned char *js = test_read_file(path, &len);
        cJSON *root = js ? cJSON_Parse((const char *)js) : NULL;
        EXPECT(root != NULL, "report.json written and parsed");
        const char *pd[] = {"models", "customized", "vs", "base", "identity", "delta"};
        const double want = (sm[0].mean[EVAL_OVERALL][EM_IDENTITY] + sm[1].mean[EVAL_OVERALL][EM_IDENTITY]) / 2.0 -
                            base.mean[EVAL_OVERALL][EM_IDENTITY];
        EXPECT_NEAR(json_at(root, pd, 6), want, 1e-9);
        EXPECT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "headline")), "headline false by default");
        cJSON_Delete(root);
        free(js);
    }
    for (int p = 0; p < 2; p++) {
        char row[1024];
        int len = snprintf(row, sizeof row, "\n| %s | 2 |", p ? "naive-1-1" : "customized");
        for (int m = 0; m < EVAL_N_METRICS; m++) {
            const double x = sm[2 * p].mean[EVAL_OVERALL][m], y = sm[2 * p + 1].mean[EVAL_OVERALL][m];
            const int d = m >= EM_ID_TOP1 ? 3 : 2;
            len += snprintf(row + len, sizeof row - (size_t)len, " %.*f ± %.*f |", d, (x + y) / 2.0, d, fabs(x - y) / 2.0);
        }
        EXPECT(strstr(rep, row) != NULL && strstr(res.table, row) != NULL, "hand-computed row%s", row);
        // by kind: identity of property prompts
        const double x = sm[2 * p].mean[EVAL_PROPERTY][EM_IDENTITY], y = sm[2 * p + 1].mean[EVAL_PROPERTY][EM_IDENTITY];
        snprintf(row, sizeof row, " %.2f ± %.2f | %.2f ± %.2f |", sm[2 * p].mean[EVAL_SCENE][EM_IDENTITY] / 2.0 +
                 sm[2 * p + 1].mean[EVAL_SCENE][EM_IDENTITY] / 2.0, fabs(sm[2 * p].mean[EVAL_SCENE][EM_IDENTITY] -
                 sm[2 * p + 1].mean[EVAL_SCENE][EM_IDENTITY]) / 2.0, (x + y) / 2.0, fabs(x - y) / 2.0);
        EXPECT(strstr(rep, row) != NULL, "identity by kind%s", row);
    }
    char brow[256];
    snprintf(brow, sizeof brow, "\n| base | - | %.2f | %.2f |", base.mean[EVAL_OVERALL][EM_IDENTITY], base.mean[EVAL_OVERALL][EM_DINO]);
    EXPECT(strstr(rep, brow) != NULL, "base row%s", brow);
    compare_result_free(&res);

    // a rerun: everything on disk, the same tables
    rc = compare_run(&s, &res, err, sizeof err);
    EXPECT(rc == CG_OK && res.runs_done == 4 && res.runs_started == 0 && res.evals_skipped == 5 && res.evals_run == 0,
           "rerun skips everything: rc %d done %d evals skipped %d (%s)", rc, res.runs_done, res.evals_skipped, err);
    char *rep2 = report_tables(a);
    EXPECT(rep2 && strcmp(rep, rep2) == 0, "rerun: same report tables");
    free(rep2);
    compare_result_free(&res);

    // interrupted: a call stopped after 1 run, a run left with a checkpoint only (as after a kill),
    // then the same command: the same files and tables
    CompareSpec sb = tiny_spec(b);
    sb.stop_after_runs = 1;
    rc = compare_run(&sb, &res, err, sizeof err);
    EXPECT(rc == CG_OK && res.stopped && res.runs_started == 1 && !res.table, "stopped after 1 run (%s)", err);
    compare_result_free(&res);
    snprintf(path, sizeof path, "%s/eval", b);
    EXPECT(access(path, F_OK) != 0, "no evaluation before the runs are done");
    {
        TrainConfig c;
        EXPECT(compare_train_config(&c, &sb, TRAIN_PRESET_CUSTOMIZED, 2, err, sizeof err) == 0, "%s", err);
        Reward *rid = reward_create_by_name("id", "models", err, sizeof err), *rpr = reward_create_by_name("prompt", "models", err, sizeof err);
        snprintf(path, sizeof path, "%s/runs/customized-s2", b);
        TrainRun tr = {path, 0, 0, g_model, "models", rid, rpr, 1, 0, 0, TRAIN_FORWARD_CACHE_MB, NULL, 0, TEST_FAULT_NONE};
        EXPECT(rid && rpr && train_run(&c, &tr, NULL, err, sizeof err) == TRAIN_OK, "run stopped at 1: %s", err);
        reward_free(rid), reward_free(rpr);
    }
    sb.stop_after_runs = 0;
    rc = compare_run(&sb, &res, err, sizeof err);
    EXPECT(rc == CG_OK && res.runs_done == 1 && res.runs_resumed == 1 && res.runs_started == 2 && res.evals_run == 5,
           "resumed compare: rc %d done %d resumed %d started %d (%s)", rc, res.runs_done, res.runs_resumed, res.runs_started, err);
    compare_result_free(&res);
    for (int i = 0; i < 5; i++) {
        static const char *const FILES[] = {"results.json", "images.jsonl", "atlas.png"};
        for (int f = 0; f < 3; f++) {
            snprintf(path, sizeof path, "%s/eval/%s/%s", a, NAMES[i], FILES[f]);
            snprintf(path2, sizeof path2, "%s/eval/%s/%s", b, NAMES[i], FILES[f]);
            EXPECT(same_file(path, path2), "resumed compare: eval/%s/%s identical", NAMES[i], FILES[f]);
        }
        if (i == 0) continue;
        snprintf(path, sizeof path, "%s/runs/%s/model.safetensors", a, NAMES[i]);
        snprintf(path2, sizeof path2, "%s/runs/%s/model.safetensors", b, NAMES[i]);
        EXPECT(same_file(path, path2), "resumed compare: runs/%s/model.safetensors identical", NAMES[i]);
    }
    rep2 = report_tables(b);
    EXPECT(rep2 && strcmp(rep, rep2) == 0, "resumed compare: the same report tables");
    free(rep2);

    // a rerun with other training settings: refused, the key named, nothing touched
    CompareSpec sc = tiny_spec(b);
    sc.over_val[4] = "2e-3"; // lr
    rc = compare_run(&sc, &res, err, sizeof err);
    EXPECT(rc == CG_EINPUT && strstr(err, "lr = 0.001") && strstr(err, "0.002") && strstr(err, "customized-s1"),
           "conflicting lr: rc %d: %s", rc, err);
    compare_result_free(&res);
    sc = tiny_spec(b);
    sc.over_val[0] = "1"; // fewer iterations
    rc = compare_run(&sc, &res, err, sizeof err);
    EXPECT(rc == CG_EINPUT && strstr(err, "iterations"), "fewer iterations: rc %d: %s", rc, err);
    compare_result_free(&res);
    sc = tiny_spec(b);
    sc.model = "models/id.safetensors"; // not a generator
    rc = compare_run(&sc, &res, err, sizeof err);
    EXPECT(rc == CG_EINPUT && strstr(err, "--model"), "not a generator: %s", err);
    compare_result_free(&res);
    free(rep);
}

int main(void) {
    g_dir = scratch_dir(g_dir_template);
    snprintf(g_model, sizeof g_model, "%s/base.safetensors", g_dir);
    save_tiny_dit(g_model);
    RUN(test_parse_presets);
    RUN(test_parse_seeds);
    RUN(test_train_config);
    RUN(test_check_stored);
    RUN(test_stat);
    RUN(test_aggregate);
    RUN(test_moving_average);
    RUN(test_relative_running_mean);
    RUN(test_seed_delta);
    RUN(test_report_json);
    RUN(test_end_to_end);
    scratch_remove(g_dir);
    return test_summary("compare");
}
