// test_evaluate.c: the generator evaluation (eval/evaluate.h): metric helpers against hand-computed
// values, determinism, the TEST split only, subsets reproducing the full run's images, the scores
// against an independent recomputation with the judges, and the results files.
// Uses a tiny random DiT (every weight perturbed, so the conditions reach the velocity) and the
// shipped judge files of models/ (run from the repository root, as tests/run.sh does).
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/check.h"
#include "core/rng.h"
#include "eval/evaluate.h"
#include "io/atomic.h"
#include "io/png.h"
#include "models/encoder.h"
#include "test.h"
#include "world/render.h"
#include "world/tokenizer.h"

#define MODELS_DIR "models"

static EvalJudges judges;
static int have_judges;

// A tiny DiT whose every parameter is its init plus N(0, 0.05^2), so that the velocity depends on
// x, the reference and the prompt (a fresh adaLN-Zero model has velocity exactly 0).
static void tiny_dit(DiTModel *m, int max_B, int text_len) {
    DiTConfig cfg = dit_config_default();
    cfg.width = 16, cfg.depth = 1, cfg.heads = 2, cfg.tdim = 16, cfg.vocab = TOK_VOCAB_SIZE, cfg.text_len = text_len;
    char err[256];
    CG_CHECK(dit_config_check(&cfg, err, sizeof err) == 0, "%s", err);
    dit_create(m, &cfg, max_B);
    dit_init(m, 7);
    float *noise = cg_malloc(m->table.total * sizeof(float));
    cg_rng_fill_normal(noise, m->table.total, 11, 0, 0);
    for (size_t i = 0; i < m->table.total; i++) m->params[i] += 0.05f * noise[i];
    free(noise);
}

static EvalConfig small_config(void) {
    EvalConfig c = eval_config_default();
    c.n_subjects = 3, c.K = 2, c.steps = 3;
    c.n_templates = 3, c.templates[0] = 0, c.templates[1] = 10, c.templates[2] = 20;
    return c;
}

static int run(EvalResult *r, const EvalConfig *c) {
    DiTModel m;
    tiny_dit(&m, 3 * c->K, 16);
    char err[512];
    int rc = eval_run(r, &m, &judges, c, NULL, NULL, err, sizeof err);
    if (rc) fprintf(stderr, "  eval_run: %s\n", err);
    dit_free(&m);
    return rc;
}

// ---- metric helpers ---------------------------------------------------------------------------------

// eval_as_stored: a value as results.json holds it, so identical images compare with a delta of 0
static void test_as_stored(void) {
    EXPECT(eval_as_stored(43.814159265) == strtod("43.814159", NULL), "%.9f", eval_as_stored(43.814159265));
    EXPECT(eval_as_stored(-5.55574449) == -5.555744, "%.9f", eval_as_stored(-5.55574449));
    EXPECT(eval_as_stored(eval_as_stored(0.1234565)) == eval_as_stored(0.1234565), "not idempotent");
    EXPECT(isnan(eval_as_stored(NAN)) && isinf(eval_as_stored(INFINITY)), "non-finite values pass through");
}

static void test_top1_credit(void) {
    const double strict[4] = {1.0, 3.0, 2.5, 2.0};
    EXPECT(eval_top1_credit(strict, 4, 1) == 1.0, "own subject strictly best");
    EXPECT(eval_top1_credit(strict, 4, 2) == 0.0, "own subject second");
    EXPECT(eval_top1_credit(strict, 4, 0) == 0.0, "own subject last");
    const double tie2[4] = {1.0, 3.0, 3.0, 2.0};
    EXPECT(eval_top1_credit(tie2, 4, 1) == 0.5, "two-way tie at the top");
    EXPECT(eval_top1_credit(tie2, 4, 2) == 0.5, "two-way tie at the top (other one)");
    EXPECT(eval_top1_credit(tie2, 4, 3) == 0.0, "below a tie");
    const double tie3[3] = {-2.0, -2.0, -2.0};
    EXPECT_NEAR(eval_top1_credit(tie3, 3, 0), 1.0 / 3.0, 1e-15);
    const double one[1] = {-50.0};
    EXPECT(eval_top1_credit(one, 1, 0) == 1.0, "a single subject always retrieves itself");
}

static void test_argmax_and_heads(void) {
    const float p[5] = {0.1f, 0.4f, 0.05f, 0.4f, 0.05f};
    EXPECT(vit_argmax(p, 5) == 1, "first of the tied maxima: %d", vit_argmax(p, 5));
    const float q[3] = {0.2f, 0.3f, 0.5f};
    EXPECT(vit_argmax(q, 3) == 2, "last is largest");
    EXPECT(eval_kind_head(PROMPT_SCENE) == ATTR_SCENE, "scene head");
    EXPECT(eval_kind_head(PROMPT_ACCESSORY) == ATTR_ACCESSORY, "accessory head");
    EXPECT(eval_kind_head(PROMPT_PROPERTY) == ATTR_PROPERTY, "property head");
    EXPECT(eval_kind_head(PROMPT_PLAIN) == -1, "plain prompts are not evaluated");
    // names line up with the enums
    EXPECT(strcmp(eval_metric_name(EM_IDENTITY), "identity") == 0 && strcmp(eval_metric_name(EM_ATTR_ACC), "attr_acc") == 0,
           "metric names");
    EXPECT(strcmp(eval_group_name(EVAL_ACCESSORY), "accessory") == 0 && eval_group_name(EVAL_N_GROUPS) == NULL, "group names");
}

static void test_summarize(void) {
    // five made-up images: 2 scene, 1 accessory, 2 property
    EvalImage img[5];
    memset(img, 0, sizeof img);
    const PromptKind kinds[5] = {PROMPT_SCENE, PROMPT_PROPERTY, PROMPT_SCENE, PROMPT_ACCESSORY, PROMPT_PROPERTY};
    const double idv[5] = {10, 20, 30, 40, 50}, top1[5] = {1, 0, 0.5, 1, 0}, attr[5] = {1, 1, 0, 0, 1};
    for (int i = 0; i < 5; i++) {
        img[i].kind = kinds[i];
        img[i].value[EM_IDENTITY] = idv[i], img[i].value[EM_ID_TOP1] = top1[i], img[i].value[EM_ATTR_ACC] = attr[i];
        img[i].value[EM_CLIP_T] = -i;
    }
    EvalSummary s;
    eval_summarize(img, 5, &s);
    EXPECT(s.n[EVAL_OVERALL] == 5 && s.n[EVAL_SCENE] == 2 && s.n[EVAL_ACCESSORY] == 1 && s.n[EVAL_PROPERTY] == 2, "counts");
    EXPECT_NEAR(s.mean[EVAL_OVERALL][EM_IDENTITY], 30.0, 1e-12);
    EXPECT_NEAR(s.mean[EVAL_SCENE][EM_IDENTITY], 20.0, 1e-12);     // (10 + 30) / 2
    EXPECT_NEAR(s.mean[EVAL_ACCESSORY][EM_IDENTITY], 40.0, 1e-12);
    EXPECT_NEAR(s.mean[EVAL_PROPERTY][EM_IDENTITY], 35.0, 1e-12);  // (20 + 50) / 2
    EXPECT_NEAR(s.mean[EVAL_OVERALL][EM_ID_TOP1], 2.5 / 5.0, 1e-12);
    EXPECT_NEAR(s.mean[EVAL_SCENE][EM_ID_TOP1], 0.75, 1e-12);
    EXPECT_NEAR(s.mean[EVAL_OVERALL][EM_ATTR_ACC], 0.6, 1e-12);
    EXPECT_NEAR(s.mean[EVAL_PROPERTY][EM_ATTR_ACC], 1.0, 1e-12);
    EXPECT_NEAR(s.mean[EVAL_SCENE][EM_CLIP_T], -1.0, 1e-12);        // (0 + -2) / 2
    EXPECT(s.mean[EVAL_SCENE][EM_DINO] == 0.0, "zero metric stays zero");
    // a group without images has NaN means
    eval_summarize(img, 2, &s); // scene + property only
    EXPECT(s.n[EVAL_ACCESSORY] == 0 && isnan(s.mean[EVAL_ACCESSORY][EM_IDENTITY]), "empty group is NaN");
    eval_summarize(img, 0, &s);
    EXPECT(s.n[EVAL_OVERALL] == 0 && isnan(s.mean[EVAL_OVERALL][EM_ATTR_ACC]), "no images: NaN");
}

static void test_parse_templates(void) {
    int t[PROMPT_N_TEMPLATES], n = -1;
    char err[256];
    EXPECT(eval_parse_templates("20,0,10,5", t, &n, err, sizeof err) == 0, "valid list");
    EXPECT(n == 4 && t[0] == 0 && t[1] == 5 && t[2] == 10 && t[3] == 20, "sorted: n %d, %d %d %d %d", n, t[0], t[1], t[2], t[3]);
    EXPECT(eval_parse_templates("24", t, &n, err, sizeof err) == 0 && n == 1 && t[0] == 24, "single index");
    const char *bad[] = {"", "0,,1", "1,", "25", "-1", "a", "3,3", "1.5", "0 1", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        EXPECT(eval_parse_templates(bad[i], t, &n, err, sizeof err) == -1 && err[0], "'%s' should fail", bad[i]);
    }
    eval_parse_templates("3,3", t, &n, err, sizeof err);
    EXPECT(strstr(err, "twice") != NULL, "duplicate named: %s", err);
    eval_parse_templates("25", t, &n, err, sizeof err);
    EXPECT(strstr(err, "out of range") != NULL, "range named: %s", err);

    EvalConfig c = eval_config_default();
    EXPECT(eval_config_check(&c, err, sizeof err) == 0, "defaults valid: %s", err);
    EXPECT(c.n_templates == 25 && c.n_subjects == 30 && c.K == 1 && c.steps == 20, "defaults");
    c.K = 0;
    EXPECT(eval_config_check(&c, err, sizeof err) == -1, "K = 0 rejected");
    c = eval_config_default(), c.n_subjects = 31;
    EXPECT(eval_config_check(&c, err, sizeof err) == -1, "31 subjects rejected");
    c = eval_config_default(), c.steps = 0;
    EXPECT(eval_config_check(&c, err, sizeof err) == -1, "0 steps rejected");
    c = eval_config_default(), c.templates[3] = c.templates[2];
    EXPECT(eval_config_check(&c, err, sizeof err) == -1, "repeated template rejected");
}

static void test_fnv(void) {
    // FNV-1a 64 reference values
    EXPECT(eval_fnv1a64(EVAL_FNV_OFFSET, "", 0) == 0xcbf29ce484222325ull, "empty");
    EXPECT(eval_fnv1a64(EVAL_FNV_OFFSET, "a", 1) == 0xaf63dc4c8601ec8cull, "'a'");
    EXPECT(eval_fnv1a64(EVAL_FNV_OFFSET, "foobar", 6) == 0x85944171f73967e8ull, "'foobar'");
    char path[] = "/tmp/cgrpo_test_eval_fnvXXXXXX";
    int fd = mkstemp(path);
    EXPECT(fd >= 0, "temp file");
    if (fd < 0) return;
    EXPECT(write(fd, "foobar", 6) == 6, "write");
    close(fd);
    uint64_t h = 0;
    char err[256];
    EXPECT(eval_fnv1a64_file(path, &h, err, sizeof err) == 0 && h == 0x85944171f73967e8ull, "file hash %016llx",
           (unsigned long long)h);
    unlink(path);
    EXPECT(eval_fnv1a64_file(path, &h, err, sizeof err) == -1 && strstr(err, path), "missing file: %s", err);
}

// ---- runs ---------------------------------------------------------------------------------------------

static int same_image(const EvalImage *a, const EvalImage *b, int with_top1) {
    if (a->subject != b->subject || a->template_index != b->template_index || a->k != b->k || a->kind != b->kind ||
        a->item != b->item || a->attr_pred != b->attr_pred)
        return 0;
    for (int m = 0; m < EVAL_N_METRICS; m++)
        if ((m != EM_ID_TOP1 || with_top1) && memcmp(&a->value[m], &b->value[m], sizeof(double)) != 0) return 0;
    return 1;
}

static void test_determinism_and_test_split(void) {
    EvalConfig c = small_config();
    EvalResult a, b;
    if (run(&a, &c) || run(&b, &c)) {
        EXPECT(0, "eval_run failed");
        return;
    }
    EXPECT(a.n_images == 3 * 3 * 2, "n_images %ld", a.n_images);
    EXPECT(memcmp(a.images, b.images, (size_t)a.n_images * 32 * 32 * 3 * sizeof(float)) == 0, "images differ between runs");
    int same = 1;
    for (long i = 0; i < a.n_images; i++) same &= same_image(&a.img[i], &b.img[i], 1);
    EXPECT(same, "per-image scores differ between runs");
    EXPECT(memcmp(&a.summary, &b.summary, sizeof a.summary) == 0, "summaries differ");
    EvalProvenance p = {.model = "tiny", .model_fnv = 1, .weights = "model"};
    char *ja = eval_results_json(&a, &p), *jb = eval_results_json(&b, &p);
    EXPECT(strcmp(ja, jb) == 0, "results.json text differs");

    // the images are not all alike (the model and the conditions do something)
    EXPECT(memcmp(a.images, a.images + 32 * 32 * 3, 32 * 32 * 3 * sizeof(float)) != 0, "k = 0 and k = 1 identical");
    // index layout and kinds: subject 1 of seed 1 is live (odd index), so template 10 is an accessory
    for (int s = 0; s < 3; s++)
        for (int ti = 0; ti < 3; ti++)
            for (int k = 0; k < 2; k++) {
                const EvalImage *e = &a.img[eval_image_index(&a, s, ti, k)];
                const int live = a.subjects[s]->kind == KIND_LIVE;
                const PromptKind want = ti == 2 ? PROMPT_PROPERTY : (ti == 1 && live ? PROMPT_ACCESSORY : PROMPT_SCENE);
                EXPECT(e->subject == s && e->template_index == c.templates[ti] && e->k == k && e->kind == want,
                       "image (%d, %d, %d): got (%d, %d, %d) kind %d", s, ti, k, e->subject, e->template_index, e->k, e->kind);
            }

    // only TEST subjects: exactly the test split of the seed, in order, disjoint from train and val
    World *w = cg_malloc(sizeof(World));
    world_init(w, c.subjects_seed);
    for (int s = 0; s < c.n_subjects; s++) {
        const Subject *sub = a.subjects[s];
        const Subject *want = world_subject(w, SPLIT_TEST, s);
        EXPECT(sub->split == SPLIT_TEST && sub->index == s, "subject %d: split %d index %d", s, sub->split, sub->index);
        EXPECT(memcmp(sub, want, sizeof(Subject)) == 0, "subject %d is not test subject %d", s, s);
        int min_dist = 7;
        for (int split = SPLIT_TRAIN; split <= SPLIT_VAL; split++)
            for (int i = 0; i < world_split_count(split); i++) {
                const Subject *o = world_subject(w, split, i);
                int d = subject_distance(sub, o);
                if (d < min_dist) min_dist = d;
                EXPECT(o->uid != sub->uid, "uid shared with %s %d", world_split_name(split), i);
            }
        EXPECT(min_dist >= 2, "test subject %d is %d attribute(s) from a train/val subject", s, min_dist);
    }
    // the references are the subjects' plain pose-0 photos
    float *ref = cg_malloc(32 * 32 * 3 * sizeof(float));
    render_reference(ref, NULL, world_subject(w, SPLIT_TEST, 2), 0, 32);
    EXPECT(memcmp(ref, a.refs + 2 * 32 * 32 * 3, 32 * 32 * 3 * sizeof(float)) == 0, "reference of subject 2");
    free(ref);

    // another subjects seed: other test subjects, other scores
    EvalConfig c2 = c;
    c2.subjects_seed = 2;
    EvalResult d;
    if (run(&d, &c2) == 0) {
        int differ = 0;
        for (int s = 0; s < c.n_subjects; s++) differ += subject_distance(a.subjects[s], d.subjects[s]) > 0;
        EXPECT(differ >= 2, "seed 2's first test subjects are like seed 1's (%d differ)", differ);
        World *w2 = cg_malloc(sizeof(World));
        world_init(w2, 2);
        for (int s = 0; s < c.n_subjects; s++)
            EXPECT(memcmp(d.subjects[s], world_subject(w2, SPLIT_TEST, s), sizeof(Subject)) == 0, "seed 2 subject %d", s);
        free(w2);
        EXPECT(memcmp(&a.summary, &d.summary, sizeof a.summary) != 0, "seed 2 gives the same metrics");
        char *jd = eval_results_json(&d, &p);
        EXPECT(strcmp(ja, jd) != 0, "seed 2 gives the same results.json");
        free(jd);
        eval_result_free(&d);
    } else {
        EXPECT(0, "run with subjects seed 2 failed");
    }
    free(ja), free(jb), free(w);
    eval_result_free(&a);
    eval_result_free(&b);
}

// A subset (fewer subjects and prompts) draws the same images with the same scores.
static void test_subset_matches_full_run(void) {
    EvalConfig full = small_config(), sub = small_config();
    full.n_templates = 4, full.templates[0] = 0, full.templates[1] = 5, full.templates[2] = 10, full.templates[3] = 20;
    sub.n_subjects = 2, sub.n_templates = 2, sub.templates[0] = 0, sub.templates[1] = 20;
    EvalResult a, b;
    if (run(&a, &full) || run(&b, &sub)) {
        EXPECT(0, "eval_run failed");
        return;
    }
    const size_t n = 32 * 32 * 3;
    long shared = 0;
    for (long i = 0; i < b.n_images; i++) {
        const EvalImage *e = &b.img[i];
        int ti = -1;
        for (int q = 0; q < full.n_templates; q++)
            if (full.templates[q] == e->template_index) ti = q;
        const long j = eval_image_index(&a, e->subject, ti, e->k);
        EXPECT(same_image(e, &a.img[j], 0), "image (%d, %d, %d): scores differ from the full run", e->subject,
               e->template_index, e->k);
        EXPECT(memcmp(b.images + (size_t)i * n, a.images + (size_t)j * n, n * sizeof(float)) == 0, "image (%d, %d, %d) differs",
               e->subject, e->template_index, e->k);
        shared++;
    }
    EXPECT(shared == 2 * 2 * 2, "shared %ld", shared);
    // another seed gives other images
    EvalConfig other = sub;
    other.seed = 1;
    EvalResult d;
    if (run(&d, &other) == 0) {
        EXPECT(memcmp(d.images, b.images, n * sizeof(float)) != 0, "seed 1 draws the same first image as seed 0");
        eval_result_free(&d);
    }
    eval_result_free(&a);
    eval_result_free(&b);
}

// The scores against a recomputation image by image (another batch layout, so up to rounding).
static void test_scores_independent(void) {
    EvalConfig c = small_config();
    EvalResult r;
    if (run(&r, &c)) {
        EXPECT(0, "eval_run failed");
        return;
    }
    const int S = 32, NS = c.n_subjects;
    const size_t n = (size_t)S * S * 3;
    EncModel *id = reward_encoder(judges.r[0]), *attr = reward_encoder(judges.r[6]);
    const int D = id->img.cfg.embed_dim;
    float *seg = cg_malloc(NS * n * sizeof(float)), *plain = cg_malloc(NS * n * sizeof(float));
    float *ref_emb = cg_malloc((size_t)NS * D * sizeof(float)), *emb = cg_malloc((size_t)D * sizeof(float));
    for (int s = 0; s < NS; s++) {
        render_segmented_reference(seg + s * n, NULL, r.subjects[s], 0, S);
        render_reference(plain + s * n, NULL, r.subjects[s], 0, S);
        for (size_t e = 0; e < n; e++) seg[s * n + e] = 2 * seg[s * n + e] - 1, plain[s * n + e] = 2 * plain[s * n + e] - 1;
    }
    enc_embed_images(id, ref_emb, seg, NS); // all references in one batch (the run embeds them one by one)
    float *img = cg_malloc(n * sizeof(float)), *probs[ATTR_N_HEADS];
    for (int h = 0; h < ATTR_N_HEADS; h++) probs[h] = cg_malloc((size_t)attr_n_classes(h) * sizeof(float));
    double sum_id = 0, sum_top1 = 0, sum_attr = 0;
    int near_ties = 0;
    for (long i = 0; i < r.n_images; i++) {
        const EvalImage *e = &r.img[i];
        // the image is 8-bit
        int bits8 = 1;
        for (size_t q = 0; q < n; q++) {
            float v = r.images[(size_t)i * n + q] * 255.0f;
            bits8 &= v >= 0 && v <= 255 && fabsf(v - roundf(v)) < 1e-3f;
        }
        EXPECT(bits8, "image %ld is not 8-bit in [0, 1]", i);
        for (size_t q = 0; q < n; q++) img[q] = 2 * r.images[(size_t)i * n + q] - 1;
        Prompt p;
        prompt_make(&p, r.subjects[e->subject]->cls, e->template_index);
        int tok[TOK_MAX_TOKENS];
        char err[256];
        tok_encode(tok, p.text, err, sizeof err);
        RewardBatch b = {.B = 1, .S = S, .images = img, .ref_seg = seg + e->subject * n, .ref_plain = plain + e->subject * n,
                         .tokens = tok, .prompts = &p};
        for (int m = 0; m < EM_ID_TOP1; m++) {
            float score;
            EXPECT(reward_score(judges.r[m], &b, &score, err, sizeof err) == 0, "%s", err);
            EXPECT_NEAR(e->value[m], score, 2e-3);
        }
        // retrieval among the 3 references: the own one best?
        enc_embed_images(id, emb, img, 1);
        double row[3], best = -1e9, second = -1e9;
        for (int s = 0; s < NS; s++) {
            double dot = 0;
            for (int d = 0; d < D; d++) dot += (double)emb[d] * ref_emb[(size_t)s * D + d];
            row[s] = 100 * dot;
        }
        for (int s = 0; s < NS; s++) {
            if (row[s] > best) second = best, best = row[s];
            else if (row[s] > second) second = row[s];
        }
        if (best - second < 1e-3) near_ties++;
        else EXPECT(e->value[EM_ID_TOP1] == (row[e->subject] == best ? 1.0 : 0.0), "top1 of image %ld", i);
        // attribute: the head of the prompt's kind, argmax against the prompt's label
        enc_attr_probs(attr, probs, img, 1);
        int labels[ATTR_N_HEADS];
        attr_labels(labels, &p);
        const int head = e->kind == PROMPT_SCENE ? ATTR_SCENE : e->kind == PROMPT_ACCESSORY ? ATTR_ACCESSORY : ATTR_PROPERTY;
        int pred = 0;
        for (int j = 1; j < attr_n_classes(head); j++)
            if (probs[head][j] > probs[head][pred]) pred = j;
        EXPECT(pred == e->attr_pred, "attr prediction of image %ld: %d vs %d", i, pred, e->attr_pred);
        EXPECT(e->value[EM_ATTR_ACC] == (pred == labels[head] ? 1.0 : 0.0), "attr_acc of image %ld", i);
        EXPECT(e->item == p.item && e->kind == p.kind, "item of image %ld", i);
        sum_id += e->value[EM_IDENTITY], sum_top1 += e->value[EM_ID_TOP1], sum_attr += e->value[EM_ATTR_ACC];
    }
    EXPECT(near_ties <= 2, "%d near ties", near_ties);
    EXPECT_NEAR(r.summary.mean[EVAL_OVERALL][EM_IDENTITY], sum_id / r.n_images, 1e-9);
    EXPECT_NEAR(r.summary.mean[EVAL_OVERALL][EM_ID_TOP1], sum_top1 / r.n_images, 1e-12);
    EXPECT_NEAR(r.summary.mean[EVAL_OVERALL][EM_ATTR_ACC], sum_attr / r.n_images, 1e-12);
    for (int h = 0; h < ATTR_N_HEADS; h++) free(probs[h]);
    free(img), free(seg), free(plain), free(ref_emb), free(emb);
    eval_result_free(&r);
}

// results.json round trip, settings comparison, images.jsonl, grids.
static void test_files(void) {
    EvalConfig c = small_config();
    EvalResult r;
    if (run(&r, &c)) {
        EXPECT(0, "eval_run failed");
        return;
    }
    char dir[] = "/tmp/cgrpo_test_evalXXXXXX";
    EXPECT(mkdtemp(dir) != NULL, "temp dir");
    char path[256], err[512];
    EvalProvenance p = {.model = "we\"ird\\name.safetensors", .model_fnv = 0x0123456789abcdefull, .weights = "ema",
                        .n_files = 1, .files = {"judge_id.safetensors"}, .file_fnv = {42}};
    char *json = eval_results_json(&r, &p);
    cJSON *root = cJSON_Parse(json);
    EXPECT(root != NULL, "results.json is valid JSON");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "settings");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(st, "model");
    EXPECT(cJSON_IsString(model) && strcmp(model->valuestring, p.model) == 0, "model name escaped and read back");
    const cJSON *fnv = cJSON_GetObjectItemCaseSensitive(st, "model_fnv1a64");
    EXPECT(cJSON_IsString(fnv) && strcmp(fnv->valuestring, "0123456789abcdef") == 0, "checksum");
    const cJSON *prompts = cJSON_GetObjectItemCaseSensitive(st, "prompts");
    EXPECT(cJSON_GetArraySize(prompts) == 3 && cJSON_GetArrayItem(prompts, 1)->valueint == 10, "prompts list");
    EXPECT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "test_subjects")) == 3, "3 test subjects listed");
    cJSON_Delete(root);

    snprintf(path, sizeof path, "%s/results.json", dir);
    EXPECT(atomic_write_text(path, json, err, sizeof err) == 0, "%s", err);
    EvalSummary back;
    char *settings = NULL;
    EXPECT(eval_read_summary(path, &back, &settings, err, sizeof err) == 0, "%s", err);
    for (int g = 0; g < EVAL_N_GROUPS; g++) {
        EXPECT(back.n[g] == r.summary.n[g], "n of group %d", g);
        for (int m = 0; m < EVAL_N_METRICS; m++) {
            const double x = r.summary.mean[g][m], y = back.mean[g][m];
            EXPECT((isnan(x) && isnan(y)) || fabs(x - y) <= 5e-7, "group %d metric %d: %g vs %g", g, m, x, y);
        }
    }
    // settings: equal to itself, a changed key is named, the model's own keys are ignored
    char diff[512];
    EXPECT(settings && eval_settings_diff(settings, json, diff, sizeof diff) == 0, "same settings: %s", diff);
    EvalResult r2 = r;
    r2.cfg.steps = 9;
    EvalProvenance p2 = p;
    p2.model = "other.safetensors", p2.model_fnv = 7;
    char *json2 = eval_results_json(&r2, &p2);
    EXPECT(eval_settings_diff(json, json2, diff, sizeof diff) == 1 && strstr(diff, "steps 3 vs 9"), "diff: %s", diff);
    EXPECT(eval_settings_diff("[1]", json2, diff, sizeof diff) == -1, "not an object");
    free(json2), free(settings);

    // bad baselines
    snprintf(path, sizeof path, "%s/bad.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"metrics\": {\"overall\": {\"n_images\": 3}}}", f);
    fclose(f);
    EXPECT(eval_read_summary(path, &back, NULL, err, sizeof err) == -1 && strstr(err, "identity"), "missing metric: %s", err);
    f = fopen(path, "w");
    fputs("not json", f);
    fclose(f);
    EXPECT(eval_read_summary(path, &back, NULL, err, sizeof err) == -1 && strstr(err, "JSON"), "not JSON: %s", err);
    unlink(path);
    snprintf(path, sizeof path, "%s/none.json", dir);
    EXPECT(eval_read_summary(path, &back, NULL, err, sizeof err) == -1 && strstr(err, "none.json"), "missing: %s", err);

    // images.jsonl: one line per image, valid JSON, values as in the result
    char *lines = eval_images_jsonl(&r);
    long n_lines = 0;
    for (char *q = lines, *nl; (nl = strchr(q, '\n')); q = nl + 1, n_lines++) {
        *nl = '\0';
        cJSON *o = cJSON_Parse(q);
        EXPECT(o != NULL, "line %ld is not JSON", n_lines);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "clip_t");
        if (n_lines < r.n_images)
            EXPECT(cJSON_IsNumber(v) && fabs(v->valuedouble - r.img[n_lines].value[EM_CLIP_T]) <= 5e-7, "line %ld", n_lines);
        cJSON_Delete(o);
    }
    EXPECT(n_lines == r.n_images, "%ld lines", n_lines);
    free(lines);

    // grids: subjects 0..2 are object, live, object; templates 0, 10, 20 with K = 2
    int W, H;
    unsigned char *rgb = NULL;
    const int cell = 64, gap = 4, x0 = gap + cell + 3 * gap;
    snprintf(path, sizeof path, "%s/grid_scene.png", dir);
    EXPECT(eval_write_grid(&r, PROMPT_SCENE, 2, path, err, sizeof err) == 1, "%s", err);
    EXPECT(cg_png_read_rgb8(path, &rgb, &W, &H, err, sizeof err) == 0, "%s", err);
    // scene rows: objects have 4 scene images (templates 0 and 10), the live subject 2 (template 0)
    EXPECT(W == x0 + 4 * (cell + gap) && H == gap + 3 * (cell + gap), "scene grid %dx%d", W, H);
    if (rgb) { // the reference of row 0 sits at (gap, gap), zoomed 2x
        unsigned char want[3];
        render_to_u8(want, r.refs, 3);
        EXPECT(memcmp(rgb + 3 * ((size_t)gap * W + gap), want, 3) == 0 && memcmp(rgb + 3 * ((size_t)(gap + 1) * W + gap + 1), want, 3) == 0,
               "reference pixel");
        render_to_u8(want, r.images + (size_t)eval_image_index(&r, 0, 0, 1) * 32 * 32 * 3, 3);
        EXPECT(memcmp(rgb + 3 * ((size_t)gap * W + x0 + cell + gap), want, 3) == 0, "second image of row 0");
    }
    free(rgb), rgb = NULL;
    unlink(path);
    snprintf(path, sizeof path, "%s/grid_accessory.png", dir);
    EXPECT(eval_write_grid(&r, PROMPT_ACCESSORY, 2, path, err, sizeof err) == 1, "%s", err);
    EXPECT(cg_png_read_rgb8(path, &rgb, &W, &H, err, sizeof err) == 0 && W == x0 + 2 * (cell + gap) && H == gap + cell + gap,
           "accessory grid %dx%d", W, H);
    free(rgb);
    unlink(path);
    EvalConfig objects = small_config();
    objects.n_subjects = 1; // subject 0 is an object: no accessory prompts
    EvalResult o;
    if (run(&o, &objects) == 0) {
        EXPECT(eval_write_grid(&o, PROMPT_ACCESSORY, 2, path, err, sizeof err) == 0 && access(path, F_OK) != 0,
               "no accessory grid without accessory images");
        EXPECT(o.summary.n[EVAL_ACCESSORY] == 0 && isnan(o.summary.mean[EVAL_ACCESSORY][EM_IDENTITY]), "empty accessory group");
        EXPECT(o.summary.mean[EVAL_OVERALL][EM_ID_TOP1] == 1.0, "one subject retrieves itself");
        char *jo = eval_results_json(&o, &p);
        EXPECT(strstr(jo, "\"accessory\": {\"n_images\": 0, \"identity\": null") != NULL, "null for an empty group");
        free(jo);
        eval_result_free(&o);
    }
    snprintf(path, sizeof path, "%s/results.json", dir);
    unlink(path);
    rmdir(dir);
    free(json);
    eval_result_free(&r);
}

static void test_bad_inputs(void) {
    EvalConfig c = small_config();
    EvalResult r;
    char err[512];
    DiTModel m;
    tiny_dit(&m, 2, 16);
    c.cfg_txt = 2.0f; // guidance needs 3K = 6
    EXPECT(eval_run(&r, &m, &judges, &c, NULL, NULL, err, sizeof err) == -1 && strstr(err, "batches"), "max_B: %s", err);
    c = small_config(), c.K = 0;
    EXPECT(eval_run(&r, &m, &judges, &c, NULL, NULL, err, sizeof err) == -1, "K = 0");
    dit_free(&m);
    tiny_dit(&m, 6, 4); // 4 tokens cannot hold "a sks can in the jungle"
    c = small_config();
    EXPECT(eval_run(&r, &m, &judges, &c, NULL, NULL, err, sizeof err) == -1 && strstr(err, "dit.text_len"), "text_len: %s", err);
    dit_free(&m);
    EvalJudges none;
    EXPECT(eval_judges_load(&none, "/nonexistent/models", err, sizeof err) == -1 && strstr(err, "/nonexistent/models"),
           "missing judges: %s", err);
}

// eval_paired_se against hand-computed errors: 2 subjects x templates {0 (scene), 20 (property)} x K 2;
// the baseline's values are this run's minus known differences, the file lists the images shuffled
// (and one image of a template this run did not evaluate, which is ignored)
static void test_paired_se(void) {
    EvalResult r;
    memset(&r, 0, sizeof r);
    r.cfg = eval_config_default();
    r.cfg.n_subjects = 2, r.cfg.n_templates = 2, r.cfg.templates[0] = 0, r.cfg.templates[1] = 20, r.cfg.K = 2;
    r.n_images = 8;
    EvalImage img[8];
    memset(img, 0, sizeof img);
    r.img = img;
    // d (this - baseline) of metric identity: scene images 1 2 3 4, property images 0 0 2 2; other metrics 0.5
    const double d_scene[4] = {1, 2, 3, 4}, d_prop[4] = {0, 0, 2, 2};
    char path[] = "/tmp/cgrpo_test_paired_XXXXXX";
    int fd = mkstemp(path);
    CG_CHECK(fd >= 0, "mkstemp");
    FILE *f = fdopen(fd, "w");
    int ns = 0, np = 0;
    const int order[8] = {5, 2, 7, 0, 3, 6, 1, 4};
    for (int s = 0; s < 2; s++)
        for (int ti = 0; ti < 2; ti++)
            for (int k = 0; k < 2; k++) {
                EvalImage *e = &img[eval_image_index(&r, s, ti, k)];
                e->subject = s, e->template_index = r.cfg.templates[ti], e->k = k;
                e->kind = ti == 0 ? PROMPT_SCENE : PROMPT_PROPERTY;
                for (int m = 0; m < EVAL_N_METRICS; m++) e->value[m] = 10.0 * s + 3.0 * ti + k + m;
            }
    for (int j = 0; j < 8; j++) {
        const EvalImage *e = &img[order[j]];
        const double d = e->kind == PROMPT_SCENE ? d_scene[ns++] : d_prop[np++];
        fprintf(f, "{\"subject\":%d,\"template\":%d,\"k\":%d", e->subject, e->template_index, e->k);
        for (int m = 0; m < EVAL_N_METRICS; m++)
            fprintf(f, ",\"%s\":%.6f", eval_metric_name(m), e->value[m] - (m == EM_IDENTITY ? d : 0.5));
        fprintf(f, "}\n");
    }
    fprintf(f, "{\"subject\":0,\"template\":7,\"k\":0}\n"); // not in this run: ignored
    fclose(f);
    double se[EVAL_N_GROUPS][EVAL_N_METRICS];
    char err[512];
    EXPECT(eval_paired_se(path, &r, se, err, sizeof err) == 8, "all 8 images paired: %s", err);
    // scene d = 1 2 3 4: sd = sqrt(5/3), se = sd / 2; property d = 0 0 2 2: sd = sqrt(4/3), se = sd / 2;
    // overall d = 1 2 3 4 0 0 2 2: mean 1.75, sum of squares 13.5, sd = sqrt(13.5 / 7), se = sd / sqrt(8)
    EXPECT_NEAR(se[EVAL_SCENE][EM_IDENTITY], sqrt(5.0 / 3.0) / 2.0, 1e-5);
    EXPECT_NEAR(se[EVAL_PROPERTY][EM_IDENTITY], sqrt(4.0 / 3.0) / 2.0, 1e-5);
    EXPECT_NEAR(se[EVAL_OVERALL][EM_IDENTITY], sqrt(13.5 / 7.0) / sqrt(8.0), 1e-5);
    EXPECT_NEAR(se[EVAL_OVERALL][EM_CLIP_T], 0.0, 1e-5); // a constant difference has no error
    EXPECT(isnan(se[EVAL_ACCESSORY][EM_IDENTITY]), "a group without images: NaN, got %g", se[EVAL_ACCESSORY][EM_IDENTITY]);
    // a baseline that lacks an image of this run: no pairing
    r.cfg.K = 3, r.n_images = 12;
    EvalImage img12[12];
    memset(img12, 0, sizeof img12);
    r.img = img12;
    EXPECT(eval_paired_se(path, &r, se, err, sizeof err) == 0 && isnan(se[EVAL_OVERALL][EM_IDENTITY]), "missing images");
    r.cfg.K = 2, r.n_images = 8, r.img = img;
    EXPECT(eval_paired_se("/tmp/cgrpo_no_such_images.jsonl", &r, se, err, sizeof err) == 0, "missing file: no pairing");
    f = fopen(path, "w");
    fprintf(f, "{\"subject\":0,\"template\":0,\"k\":0,\"identity\":\"high\"}\n");
    fclose(f);
    EXPECT(eval_paired_se(path, &r, se, err, sizeof err) == -1 && strstr(err, ":1:") && strstr(err, "identity"),
           "malformed line named: %s", err);
    unlink(path);
}

int main(void) {
    RUN(test_as_stored);
    RUN(test_top1_credit);
    RUN(test_argmax_and_heads);
    RUN(test_summarize);
    RUN(test_parse_templates);
    RUN(test_fnv);
    RUN(test_paired_se);
    char err[512];
    have_judges = eval_judges_load(&judges, MODELS_DIR, err, sizeof err) == 0;
    if (!have_judges) {
        fprintf(stderr, "FAIL cannot load the judges of %s/ (run from the repository root): %s\n", MODELS_DIR, err);
        test_n_failed++;
    } else {
        RUN(test_determinism_and_test_split);
        RUN(test_subset_matches_full_run);
        RUN(test_scores_independent);
        RUN(test_files);
        RUN(test_bad_inputs);
        eval_judges_free(&judges);
    }
    return test_summary("evaluate");
}
