// test_reward.c: the reward interface (rl/reward.h), the encoder models and their data
// (models/encoder.h, train/enc_data.h) and the reward metrics (train/enc_metrics.h), on tiny random models so that
// nothing depends on the shipped weights:
//   - segmentation fill: the neutral fill replaces exactly the background, the estimated mask of a
//     PNG-like reference matches the renderer's;
//   - every built-in reward scores 100 x the cosine of independently computed embeddings (attr: 100 x
//     the product of independently computed softmax probabilities), for batches larger than one
//     forward and with shared references; missing inputs, wrong sizes, unknown names, missing
//     files and wrong model kinds are refused with a reason;
//   - model files round-trip bit-exactly; data batches are deterministic per (seed, step, b);
//   - the metrics give known values on constructed embeddings.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/check.h"
#include "core/rng.h"
#include "eval/reward_metrics.h"
#include "models/encoder.h"
#include "nn/loss.h"
#include "reward_rows.h"
#include "rl/reward.h"
#include "scratch.h"
#include "test.h"
#include "train/enc_data.h"
#include "train/enc_metrics.h"
#include "train/enc_train.h"
#include "world/render.h"
#include "world/tokenizer.h"

#define SZ 32
#define PER ((size_t)SZ * SZ * 3)

static char tmpdir[256];
static World *world;

// ---- helpers ------------------------------------------------------------------------------------

static void tiny_configs(EncKind kind, ViTConfig *v, TextEncConfig *t) {
    enc_default_configs(kind, v, t);
    v->width = 16, v->depth = 1, v->n_heads = 2, v->embed_dim = 8;
    t->width = 16, t->depth = 1, t->n_heads = 2, t->embed_dim = 8;
}

// c: the tiny models of `kind` and a short schedule (warmup 1, a metrics line per step, batch 8).
static void tiny_train_config(EncTrainConfig *c, EncKind kind, int steps, int eval_every) {
    enc_train_defaults(c, kind);
    tiny_configs(kind, &c->vit, &c->text);
    c->steps = steps, c->batch = 8, c->warmup = 1, c->eval_every = eval_every, c->log_every = 1;
}

// enc_train of c into tmpdir/name (resume: continue the run there); dir (may be NULL) receives the path.
static CgStatus tiny_train(const EncTrainConfig *c, const char *name, int resume, char *dir, size_t dirlen, char *err,
                           size_t errlen) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    if (dir) snprintf(dir, dirlen, "%s", path);
    EncTrainOptions o = {resume, 0, 0, NULL, TEST_FAULT_NONE};
    return enc_train(c, path, &o, err, errlen);
}

// An option stored with the run (*field of c, named key): a run with *field = on trains, and its
// resume with *field = off is refused as bad input naming the key. The run is tmpdir/KEY.
static void check_kept_on_resume(EncTrainConfig *c, int *field, int on, int off, const char *key) {
    char err[512];
    *field = on;
    EXPECT(tiny_train(c, key, 0, NULL, 0, err, sizeof(err)) == CG_OK, "%s", err);
    *field = off;
    EXPECT(tiny_train(c, key, 1, NULL, 0, err, sizeof(err)) == CG_EINPUT && strstr(err, key), "resume without %s: %s", key,
           err);
}

// a tiny random model of `kind` saved as models_dir/file
static void save_tiny(EncKind kind, const char *file, uint64_t seed) {
    ViTConfig v;
    TextEncConfig t;
    tiny_configs(kind, &v, &t);
    EncModel m;
    char err[256], path[512];
    CG_CHECK(enc_model_create(&m, kind, &v, &t, 8, err, sizeof(err)) == 0, "%s", err);
    enc_model_init(&m, seed);
    // contrastive models: larger than init weights so that embeddings of different images differ
    // clearly (the attr model keeps its init: its softmaxes stay away from 0 and 1)
    if (kind != ENC_ATTR)
        for (size_t i = 0; i < m.img.table.total; i++) m.img.params[i] *= 3.0f;
    snprintf(path, sizeof(path), "%s/%s", tmpdir, file);
    CG_CHECK(enc_model_save(&m, path, NULL, err, sizeof(err)) == 0, "%s", err);
    enc_model_free(&m);
}

static double dot_d(const float *a, const float *b, int D) {
    double s = 0;
    for (int d = 0; d < D; d++) s += (double)a[d] * b[d];
    return s;
}

// B images: targets of train subjects 0.. with templates 0.. (in [-1, 1]), their segmented and
// plain references, tokens and prompts
typedef struct {
    int B;
    float *img, *seg, *plain;
    int *tokens;
    Prompt *prompts;
} Batch;

static void make_batch(Batch *b, int B, int shared_ref) {
    b->B = B;
    b->img = cg_malloc((size_t)B * PER * sizeof(float));
    b->seg = cg_malloc((size_t)B * PER * sizeof(float));
    b->plain = cg_malloc((size_t)B * PER * sizeof(float));
    b->tokens = cg_calloc((size_t)B * TOK_MAX_TOKENS, sizeof(int));
    b->prompts = cg_malloc((size_t)B * sizeof(Prompt));
    for (int i = 0; i < B; i++) {
        const Subject *s = world_subject(world, SPLIT_TRAIN, shared_ref ? 3 : i % 40);
        prompt_make(&b->prompts[i], s->cls, i % PROMPT_N_TEMPLATES);
        reward_row_render(b->img + i * PER, b->plain + i * PER, b->seg + i * PER, s, &b->prompts[i], (uint64_t)i, SZ);
        char err[128];
        CG_CHECK(tok_encode(b->tokens + (size_t)i * TOK_MAX_TOKENS, b->prompts[i].text, err, sizeof(err)) > 0, "%s", err);
    }
}

static void free_batch(Batch *b) {
    free(b->img), free(b->seg), free(b->plain), free(b->tokens), free(b->prompts);
}

static RewardBatch reward_batch(const Batch *b) {
    return (RewardBatch){b->B, SZ, b->img, b->seg, b->plain, b->tokens, b->prompts, NULL};
}

// ---- segmentation fill --------------------------------------------------------------------------

static void test_segment_fill(void) {
    float img[PER], seg[PER], out[PER];
    unsigned char mask[SZ * SZ];
    const Subject *s = world_subject(world, SPLIT_TEST, 0);
    render_reference(img, mask, s, 0, SZ);
    render_segmented_reference(seg, NULL, s, 0, SZ);
    const float fill[3] = {RENDER_NEUTRAL_FILL, RENDER_NEUTRAL_FILL, RENDER_NEUTRAL_FILL};
    render_segment(out, img, mask, fill, SZ);
    int n_bg = 0, n_fg = 0, bad = 0;
    for (int i = 0; i < SZ * SZ; i++)
        for (int c = 0; c < 3; c++) {
            bad += out[3 * i + c] != seg[3 * i + c]; // the same path as the renderer's own
            if (mask[i] == 0) n_bg += c == 0, bad += out[3 * i + c] != RENDER_NEUTRAL_FILL;
            if (mask[i] == 255) n_fg += c == 0, bad += out[3 * i + c] != img[3 * i + c];
        }
    EXPECT(bad == 0, "%d pixels differ from the neutral fill / the subject", bad);
    EXPECT(n_bg > SZ * SZ / 3 && n_fg > SZ * SZ / 10, "background %d, subject %d pixels", n_bg, n_fg);
}

// A PNG reference has no mask: the estimate from the plain background must keep the background
// out (exactly the neutral fill after segmentation) and the renderer's subject pixels in. (The
// estimate may add pixels the renderer leaves out of its mask, such as dark outlines, bells and
// legs drawn around the body: they are part of what the subject looks like.)
static void test_estimated_mask(void) {
    float img[PER], seg[PER];
    unsigned char mask[SZ * SZ], est[SZ * SZ];
    const float fill[3] = {RENDER_NEUTRAL_FILL, RENDER_NEUTRAL_FILL, RENDER_NEUTRAL_FILL};
    int worst_lost = 0, n_bg = 0;
    for (int k = 0; k < WORLD_N_TEST; k++) {
        const Subject *s = world_subject(world, SPLIT_TEST, k);
        render_reference(img, mask, s, k % 3, SZ);
        for (size_t i = 0; i < PER; i++) img[i] = roundf(img[i] * 255.0f) / 255.0f; // as a PNG holds it
        reward_estimate_mask(est, img, SZ);
        render_segment(seg, img, est, fill, SZ);
        int lost = 0, n_subject = 0;
        for (int i = 0; i < SZ * SZ; i++) {
            int is_bg = mask[i] == 0;
            for (int c = 0; c < 3; c++) is_bg &= fabsf(img[3 * i + c] - RENDER_REFERENCE_BG) < 1.5f / 255.0f;
            if (is_bg) {
                n_bg++;
                EXPECT(est[i] == 0, "subject %d pixel %d: background estimated as %d", k, i, est[i]);
                EXPECT(seg[3 * i] == RENDER_NEUTRAL_FILL && seg[3 * i + 2] == RENDER_NEUTRAL_FILL,
                       "subject %d pixel %d: background not filled", k, i);
            }
            if (mask[i] == 255) n_subject++, lost += est[i] < 128;
        }
        EXPECT(n_subject > 50, "subject %d has %d pixels", k, n_subject);
        worst_lost = lost > worst_lost ? lost : worst_lost;
    }
    EXPECT(n_bg > 30 * SZ * SZ / 2, "only %d background pixels", n_bg);
    EXPECT(worst_lost <= 4, "up to %d subject pixels estimated as background", worst_lost);
    // a near-white patch inside a dark square counts as subject; a hole of the background colour
    // itself (the gap inside a handle) stays background
    for (size_t i = 0; i < PER; i++) img[i] = RENDER_REFERENCE_BG;
    for (int y = 8; y < 24; y++)
        for (int x = 2; x < 30; x++) {
            int left_hole = x >= 5 && x < 12 && y >= 12 && y < 20, right_hole = x >= 20 && x < 27 && y >= 12 && y < 20;
            for (int c = 0; c < 3; c++)
                img[3 * (y * SZ + x) + c] = left_hole ? 0.95f : right_hole ? RENDER_REFERENCE_BG : 0.2f;
        }
    reward_estimate_mask(est, img, SZ);
    EXPECT(est[0] == 0 && est[8 * SZ + 8] == 255 && est[16 * SZ + 8] >= 128 && est[16 * SZ + 23] == 0 &&
               est[4 * SZ + 16] == 0,
           "squares with holes: %d %d %d %d %d", est[0], est[8 * SZ + 8], est[16 * SZ + 8], est[16 * SZ + 23],
           est[4 * SZ + 16]);
}

// ---- rewards ------------------------------------------------------------------------------------

// The cosine of two vectors after removing each one's mean (the test's own loop, two passes).
static double centred_cosine(const float *a, const float *b, int n) {
    double ma = 0, mb = 0, ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) ma += a[i] / (double)n, mb += b[i] / (double)n;
    for (int i = 0; i < n; i++) ab += (a[i] - ma) * (b[i] - mb), aa += (a[i] - ma) * (a[i] - ma), bb += (b[i] - mb) * (b[i] - mb);
    return ab / sqrt(aa * bb);
}

// id-pix's pixel term on hand values: scaled copies 1, reversed -1, constant 0, two one-hot
// vectors of 4: centred (3/4, -1/4, -1/4, -1/4) and (-1/4, 3/4, -1/4, -1/4), cosine -1/3.
static void test_pixel_cosine(void) {
    const float a[3] = {1, 2, 3}, twice[3] = {2, 4, 6}, rev[3] = {3, 2, 1}, flat[3] = {5, 5, 5};
    const float e0[4] = {1, 0, 0, 0}, e1[4] = {0, 1, 0, 0};
    EXPECT_NEAR(reward_pixel_cosine(a, twice, 3), 1.0, 1e-12);
    EXPECT_NEAR(reward_pixel_cosine(a, rev, 3), -1.0, 1e-12);
    EXPECT_NEAR(reward_pixel_cosine(a, flat, 3), 0.0, 0.0);
    EXPECT_NEAR(reward_pixel_cosine(e0, e1, 4), -1.0 / 3.0, 1e-12);
}

static void test_builtin_scores(void) {
    char err[256];
    Batch b;
    make_batch(&b, 70, 0); // more rows than one forward (64)
    RewardBatch rb = reward_batch(&b);
    for (int k = 0; k < reward_n_builtin(); k++) {
        const char *name = reward_builtin_name(k);
        Reward *r = reward_create_by_name(name, tmpdir, err, sizeof(err));
        EXPECT(r != NULL, "%s: %s", name, err);
        if (!r) continue;
        EXPECT(strcmp(r->name, name) == 0 && r->S == SZ, "%s: name %s, S %d", name, r->name, r->S);
        float *got = cg_malloc(70 * sizeof(float));
        EXPECT(reward_score(r, &rb, got, err, sizeof(err)) == 0, "%s: %s", name, err);
        // independent computation from the same weights file
        EncModel m;
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", tmpdir, reward_builtin_file(k));
        CG_CHECK(enc_model_load(&m, path, -1, 1, NULL, err, sizeof(err)) == 0, "%s", err);
        const int D = m.img.cfg.embed_dim;
        float e1[64], e2[64];
        double max_err = 0, spread = 0;
        for (int i = 0; i < 70; i++) {
            double want;
            if (m.kind == ENC_ATTR) {
                float pr[ATTR_N_HEADS][32];
                float *pp[ATTR_N_HEADS] = {pr[0], pr[1], pr[2], pr[3]};
                enc_attr_probs(&m, pp, b.img + i * PER, 1);
                int labels[ATTR_N_HEADS];
                attr_labels(labels, &b.prompts[i]);
                want = 100.0 * pr[ATTR_SCENE][labels[ATTR_SCENE]] * pr[ATTR_ACCESSORY][labels[ATTR_ACCESSORY]] *
                       pr[ATTR_PROPERTY][labels[ATTR_PROPERTY]];
            } else {
                enc_embed_images(&m, e1, b.img + i * PER, 1);
                if (strstr(name, "clip-t") || strcmp(name, "prompt") == 0)
                    enc_embed_texts(&m, e2, b.tokens + (size_t)i * TOK_MAX_TOKENS, 1);
                else
                    enc_embed_images(&m, e2, (r->needs & REWARD_NEEDS_SEG ? b.seg : b.plain) + i * PER, 1);
                want = 100.0 * dot_d(e1, e2, D);
                if (strcmp(name, "id-pix") == 0) want = 0.5 * want + 50.0 * centred_cosine(b.img + i * PER, b.seg + i * PER, PER);
            }
            max_err = fmax(max_err, fabs(got[i] - want));
            spread = fmax(spread, fabs(got[i] - got[0]));
            EXPECT(got[i] >= -100.001f && got[i] <= 100.001f, "%s row %d: %g", name, i, got[i]);
        }
        EXPECT(max_err < 2e-3, "%s: scores differ from 100 x cosine by up to %g", name, max_err);
        EXPECT(spread > 1e-3, "%s: every row scored the same (%g)", name, got[0]);
        enc_model_free(&m);
        free(got);
        reward_free(r);
    }
    free_batch(&b);
}

// A group sharing one reference and prompt (embedded once) scores as the rows one by one.
static void test_shared_reference(void) {
    char err[256];
    Batch b;
    make_batch(&b, 12, 1);
    RewardBatch rb = reward_batch(&b);
    const char *names[] = {"id", "prompt", "judge-clip-i"};
    for (int k = 0; k < 3; k++) {
        Reward *r = reward_create_by_name(names[k], tmpdir, err, sizeof(err));
        CG_CHECK(r, "%s", err);
        float all[12], one;
        EXPECT(reward_score(r, &rb, all, err, sizeof(err)) == 0, "%s", err);
        for (int i = 0; i < 12; i++) {
            RewardBatch single = {1, SZ, b.img + i * PER, b.seg + i * PER, b.plain + i * PER,
                                  b.tokens + (size_t)i * TOK_MAX_TOKENS, b.prompts + i, NULL};
            EXPECT(reward_score(r, &single, &one, err, sizeof(err)) == 0, "%s", err);
            EXPECT_NEAR(all[i], one, 2e-3);
        }
        reward_free(r);
    }
    free_batch(&b);
}

static void test_reward_errors(void) {
    char err[256];
    EXPECT(reward_create_by_name("dino", tmpdir, err, sizeof(err)) == NULL, "unknown name accepted");
    EXPECT(strstr(err, "unknown reward 'dino'") && strstr(err, "judge-clip-t"), "reason: %s", err);
    EXPECT(reward_create_by_name("id", "/nonexistent-dir", err, sizeof(err)) == NULL, "missing file accepted");
    EXPECT(strstr(err, "/nonexistent-dir/id.safetensors") != NULL, "reason: %s", err);
    // an id model where the prompt model should be
    char dir[300], src[400], dst[400];
    snprintf(dir, sizeof(dir), "%s/wrong", tmpdir);
    mkdir(dir, 0777);
    snprintf(src, sizeof(src), "%s/id.safetensors", tmpdir);
    snprintf(dst, sizeof(dst), "%s/prompt.safetensors", dir);
    CG_CHECK(symlink(src, dst) == 0 || access(dst, F_OK) == 0, "symlink %s", dst);
    EXPECT(reward_create_by_name("prompt", dir, err, sizeof(err)) == NULL, "wrong kind accepted");
    EXPECT(strstr(err, "encoder-id") && strstr(err, "encoder-clip"), "reason: %s", err);

    Reward *r = reward_create_by_name("id", tmpdir, err, sizeof(err));
    CG_CHECK(r, "%s", err);
    Batch b;
    make_batch(&b, 2, 0);
    RewardBatch rb = reward_batch(&b);
    float sc[2];
    rb.ref_seg = NULL;
    EXPECT(reward_score(r, &rb, sc, err, sizeof(err)) == -1 && strstr(err, "segmented"), "no ref_seg: %s", err);
    rb = reward_batch(&b);
    rb.S = 16;
    EXPECT(reward_score(r, &rb, sc, err, sizeof(err)) == -1 && strstr(err, "32x32"), "wrong size: %s", err);
    reward_free(r);
    RewardSet set;
    EXPECT(reward_set_create(&set, "id,id", tmpdir, err, sizeof(err)) == -1 && strstr(err, "twice"), "%s", err);
    EXPECT(reward_set_create(&set, "id,,prompt", tmpdir, err, sizeof(err)) == -1, "empty name accepted");
    EXPECT(reward_set_create(&set, "prompt,id", tmpdir, err, sizeof(err)) == 0, "%s", err);
    if (set.n == 2) {
        float scores[4], single[2];
        rb = reward_batch(&b);
        EXPECT(reward_set_score(&set, &rb, scores, err, sizeof(err)) == 0, "%s", err);
        Reward *id = reward_create_by_name("id", tmpdir, err, sizeof(err));
        reward_score(id, &rb, single, err, sizeof(err));
        EXPECT(scores[2] == single[0] && scores[3] == single[1], "row 1 of the set is not the id reward");
        reward_free(id);
        EXPECT(strcmp(set.r[0]->name, "prompt") == 0, "set order %s", set.r[0]->name);
        reward_set_free(&set);
    }
    free_batch(&b);
}

// ---- models and data ----------------------------------------------------------------------------

static void test_model_roundtrip(void) {
    char err[256], path[512];
    const EncKind kinds[3] = {ENC_ID, ENC_CLIP, ENC_ATTR};
    for (int k = 0; k < 3; k++) {
        ViTConfig v;
        TextEncConfig t;
        tiny_configs(kinds[k], &v, &t);
        EncModel a, b;
        CG_CHECK(enc_model_create(&a, kinds[k], &v, &t, 4, err, sizeof(err)) == 0, "%s", err);
        enc_model_init(&a, 77 + (uint64_t)k);
        CkptMeta extra, got;
        ckpt_meta_init(&extra);
        ckpt_meta_set(&extra, "train.population", "judge");
        snprintf(path, sizeof(path), "%s/roundtrip.safetensors", tmpdir);
        EXPECT(enc_model_save(&a, path, &extra, err, sizeof(err)) == 0, "%s", err);
        EXPECT(enc_model_load(&b, path, (int)kinds[k], 4, &got, err, sizeof(err)) == 0, "%s", err);
        EXPECT(b.kind == kinds[k] && memcmp(&a.img.cfg, &b.img.cfg, sizeof(ViTConfig)) == 0, "config differs");
        EXPECT(memcmp(a.img.params, b.img.params, a.img.table.total * sizeof(float)) == 0, "image weights differ");
        if (kinds[k] == ENC_CLIP)
            EXPECT(memcmp(a.txt.params, b.txt.params, a.txt.table.total * sizeof(float)) == 0, "text weights differ");
        const char *pop = ckpt_meta_get(&got, "train.population");
        EXPECT(pop && strcmp(pop, "judge") == 0, "metadata lost");
        ckpt_meta_free(&extra), ckpt_meta_free(&got);
        enc_model_free(&a), enc_model_free(&b);
    }
}

// A file whose metadata claims a model far larger than its tensors is refused before allocating.
static void test_model_file_lies(void) {
    char err[256], path[512];
    ViTConfig v;
    TextEncConfig t;
    tiny_configs(ENC_ID, &v, &t);
    EncModel a, b;
    CG_CHECK(enc_model_create(&a, ENC_ID, &v, &t, 4, err, sizeof(err)) == 0, "%s", err);
    enc_model_init(&a, 1);
    CkptMeta meta;
    ckpt_meta_init(&meta);
    enc_model_config_meta(&a, &meta);
    ckpt_meta_set(&meta, "vit.width", "8192");
    ckpt_meta_set(&meta, "vit.depth", "64");
    CkptSection sec[2];
    char names[2][64];
    int n = enc_model_sections(&a, sec, names, "", a.img.params, NULL);
    snprintf(path, sizeof(path), "%s/liar.safetensors", tmpdir);
    CG_CHECK(ckpt_save(path, sec, n, &meta, err, sizeof(err)) == 0, "%s", err);
    EXPECT(enc_model_load(&b, path, -1, 4, NULL, err, sizeof(err)) == -1 && strstr(err, "needs at least"), "%s", err);
    ckpt_meta_set(&meta, "vit.width", "17"); // consistent size, but not the tensors' shapes
    ckpt_meta_set(&meta, "vit.depth", "1");
    ckpt_meta_set(&meta, "vit.heads", "1");
    CG_CHECK(ckpt_save(path, sec, n, &meta, err, sizeof(err)) == 0, "%s", err);
    EXPECT(enc_model_load(&b, path, -1, 4, NULL, err, sizeof(err)) == -1 && strstr(err, "shape"), "%s", err);
    ckpt_meta_set(&meta, "kind", "dit");
    CG_CHECK(ckpt_save(path, sec, n, &meta, err, sizeof(err)) == 0, "%s", err);
    EXPECT(enc_model_load(&b, path, -1, 4, NULL, err, sizeof(err)) == -1 && strstr(err, "not an encoder"), "%s", err);
    ckpt_meta_free(&meta);
    enc_model_free(&a);
}

static void test_populations(void) {
    int n_reward = 0, n_judge = 0, live[2] = {0, 0};
    for (int i = 0; i < WORLD_N_TRAIN; i++) {
        int r = enc_population_has(ENC_POP_REWARD, i), j = enc_population_has(ENC_POP_JUDGE, i);
        EXPECT(r + j == 1, "train subject %d in %d populations", i, r + j);
        EXPECT(enc_population_has(ENC_POP_ALL, i), "ALL lacks %d", i);
        n_reward += r, n_judge += j;
        live[j] += world_subject(world, SPLIT_TRAIN, i)->kind == KIND_LIVE;
    }
    EXPECT(n_reward == 200 && n_judge == 200, "%d / %d", n_reward, n_judge);
    EXPECT(live[0] == 100 && live[1] == 100, "live subjects: reward %d, judge %d", live[0], live[1]);
}

static void test_data_determinism(void) {
    EncData d;
    enc_data_init(&d, world, 1, ENC_POP_REWARD, SZ, 5, 0.05f, 0);
    float *v8 = cg_malloc(16 * PER * sizeof(float)), *v8b = cg_malloc(16 * PER * sizeof(float));
    float *v4 = cg_malloc(8 * PER * sizeof(float));
    enc_id_batch(&d, v8, NULL, 3, 8, 2);
    enc_id_batch(&d, v8b, NULL, 3, 8, 2);
    enc_id_batch(&d, v4, NULL, 3, 4, 2);
    EXPECT(memcmp(v8, v8b, 16 * PER * sizeof(float)) == 0, "same step, different batch");
    // item b depends on (seed, step, b) only: the first 4 pairs of a batch of 8 = a batch of 4
    EXPECT(memcmp(v8, v4, 4 * PER * sizeof(float)) == 0, "view a of items 0..3 depends on B");
    EXPECT(memcmp(v8 + 8 * PER, v4 + 4 * PER, 4 * PER * sizeof(float)) == 0, "view b of items 0..3 depends on B");
    enc_id_batch(&d, v8b, NULL, 4, 8, 2);
    EXPECT(memcmp(v8, v8b, 16 * PER * sizeof(float)) != 0, "step 3 and 4 gave the same batch");
    // clip: no two equal prompts in a batch, groups of ENC_CLIP_GROUP share a subject's class word
    int tokens[32 * TOK_MAX_TOKENS];
    float *imgs = cg_malloc(32 * PER * sizeof(float));
    for (long step = 1; step <= 20; step++) {
        enc_clip_batch(&d, imgs, tokens, NULL, step, 32);
        for (int i = 0; i < 32; i++)
            for (int j = 0; j < i; j++)
                EXPECT(memcmp(tokens + i * TOK_MAX_TOKENS, tokens + j * TOK_MAX_TOKENS, sizeof(int) * TOK_MAX_TOKENS) != 0,
                       "step %ld: rows %d and %d have the same prompt", step, j, i);
    }
    // the judge half with 64-row batches: classes crowd (more than 26 rows of one class) without a failure
    EncData dj;
    enc_data_init(&dj, world, 1, ENC_POP_JUDGE, SZ, 3, 0.0f, 0); // seed 3 crowds a class at step 38
    int *tok64 = cg_malloc(64 * TOK_MAX_TOKENS * sizeof(int));
    float *img64 = cg_malloc(64 * PER * sizeof(float));
    for (long step = 36; step <= 40; step++) enc_clip_batch(&dj, img64, tok64, NULL, step, 64);
    free(tok64), free(img64);
    enc_data_free(&dj);
    int labels[32 * ATTR_N_HEADS], counts[ATTR_N_HEADS] = {0};
    enc_attr_batch(&d, imgs, labels, 1, 32);
    for (int i = 0; i < 32; i++)
        for (int h = 0; h < ATTR_N_HEADS; h++) {
            int l = labels[i * ATTR_N_HEADS + h];
            EXPECT(l >= 0 && l < attr_n_classes(h), "label %d of head %d", l, h);
            if (h != ATTR_CLASS) counts[h] += l != attr_n_classes(h) - 1;
        }
    // a render has at most one of scene, accessory, property
    for (int i = 0; i < 32; i++) {
        int n = 0;
        for (int h = 0; h < ATTR_CLASS; h++) n += labels[i * ATTR_N_HEADS + h] != attr_n_classes(h) - 1;
        EXPECT(n <= 1, "row %d has %d attributes", i, n);
    }
    EXPECT(counts[ATTR_SCENE] > 4 && counts[ATTR_PROPERTY] > 0, "scenes %d, properties %d", counts[ATTR_SCENE],
           counts[ATTR_PROPERTY]);
    free(v8), free(v8b), free(v4), free(imgs);
    enc_data_free(&d);
}

static void test_attr_labels(void) {
    Prompt p;
    int l[ATTR_N_HEADS];
    prompt_make(&p, CLS_DOG, 12); // live template 12: rainbow scarf
    attr_labels(l, &p);
    EXPECT(l[ATTR_SCENE] == ATTR_SCENE_NONE && l[ATTR_ACCESSORY] == ACC_RAINBOW_SCARF &&
               l[ATTR_PROPERTY] == ATTR_PROPERTY_NONE && l[ATTR_CLASS] == CLS_DOG,
           "%d %d %d %d", l[0], l[1], l[2], l[3]);
    prompt_make(&p, CLS_VASE, 12); // object template 12: Eiffel Tower
    attr_labels(l, &p);
    EXPECT(l[ATTR_SCENE] == SCENE_EIFFEL_TOWER && l[ATTR_ACCESSORY] == ATTR_ACCESSORY_NONE, "%d %d", l[0], l[1]);
    prompt_make(&p, CLS_CAN, 24);
    attr_labels(l, &p);
    EXPECT(l[ATTR_PROPERTY] == PROP_CUBE && strcmp(attr_label_name(ATTR_PROPERTY, l[2]), "cube") == 0, "%d", l[2]);
    prompt_make(&p, CLS_CAN, -1);
    attr_labels(l, &p);
    EXPECT(l[0] == ATTR_SCENE_NONE && l[1] == ATTR_ACCESSORY_NONE && l[2] == ATTR_PROPERTY_NONE, "plain prompt");
}

// enc_supcon against a direct double evaluation and central finite differences
static double supcon_ref(const double *e, const int *group, int N, int D, double scale) {
    double loss = 0;
    for (int i = 0; i < N; i++) {
        double z[16], sum = 0;
        int np = 0;
        for (int a = 0; a < N; a++) {
            z[a] = 0;
            for (int k = 0; k < D; k++) z[a] += scale * e[i * D + k] * e[a * D + k];
            if (a != i) sum += exp(z[a]), np += group[a] == group[i];
        }
        for (int a = 0; a < N; a++)
            if (a != i && group[a] == group[i]) loss -= (z[a] - log(sum)) / np;
    }
    return loss / N;
}

static void test_supcon(void) {
    enum { N = 7, D = 4 };
    const int group[N] = {0, 1, 2, 0, 1, 2, 0};
    float emb[N * D], demb[N * D] = {0}, dscale = 0, acc = 0;
    double e[N * D];
    cg_rng_fill_normal(emb, N * D, 11, 1, 0);
    for (int i = 0; i < N * D; i++) e[i] = emb[i];
    const double scale = 2.5;
    float loss = enc_supcon(demb, &dscale, &acc, emb, group, N, D, (float)scale);
    EXPECT_NEAR(loss, supcon_ref(e, group, N, D, scale), 1e-5);
    double max_err = 0;
    for (int i = 0; i < N * D; i++) {
        double h = 1e-5, keep = e[i];
        e[i] = keep + h;
        double up = supcon_ref(e, group, N, D, scale);
        e[i] = keep - h;
        double down = supcon_ref(e, group, N, D, scale);
        e[i] = keep;
        max_err = fmax(max_err, fabs((up - down) / (2 * h) - demb[i]));
    }
    EXPECT(max_err < 1e-4, "d emb differs from finite differences by %g", max_err);
    double ds = (supcon_ref(e, group, N, D, scale + 1e-5) - supcon_ref(e, group, N, D, scale - 1e-5)) / 2e-5;
    EXPECT_NEAR(dscale, ds, 1e-4);
    EXPECT(acc >= 0 && acc <= 1, "acc %g", acc);
    // identical embeddings within each group and orthogonal groups: every nearest is a positive
    float clean[N * D] = {0};
    for (int i = 0; i < N; i++) clean[i * D + group[i]] = 1;
    memset(demb, 0, sizeof(demb));
    enc_supcon(demb, NULL, &acc, clean, group, N, D, 10.0f);
    EXPECT_NEAR(acc, 1.0, 1e-12);
}

static void test_lr_schedule(void) {
    EncTrainConfig c;
    enc_train_defaults(&c, ENC_ID);
    c.steps = 100, c.warmup = 9, c.lr = 1e-3f, c.lr_min = 1e-5f;
    EXPECT_NEAR(enc_lr_at(&c, 1), 1e-4, 1e-9);
    EXPECT_NEAR(enc_lr_at(&c, 9), 9e-4, 1e-9);
    EXPECT_NEAR(enc_lr_at(&c, 10), 1e-3, 1e-6);
    EXPECT_NEAR(enc_lr_at(&c, 100), 1e-5, 1e-9);
    EXPECT_NEAR(enc_lr_at(&c, 55), 0.5 * (1e-3 + 1e-5) + 0.5 * (1e-3 - 1e-5) * cos(M_PI * 46.0 / 91.0), 1e-7);
}

// ---- metrics ------------------------------------------------------------------------------------

static void test_metrics_constructed(void) {
    RmSet set;
    rm_set_build(&set, world, SPLIT_TEST, 8, 1, 0);
    const int n = set.n_subjects, D = n; // one-hot embeddings: subject s -> e_s
    EXPECT(set.n_images == (long)n * 25, "%ld renders", set.n_images);
    float *ref = cg_calloc((size_t)n * D, sizeof(float)), *emb = cg_calloc((size_t)set.n_images * D, sizeof(float));
    for (int s = 0; s < n; s++) ref[s * D + s] = 1;
    // renders of subject s embed as s, except property edits, which embed as s + 1
    for (long i = 0; i < set.n_images; i++) {
        int t = (int)(i % 25), s = (int)(i / 25);
        emb[i * D + (t >= 20 ? (s + 1) % n : s)] = 1;
    }
    RmIdentity id;
    rm_identity_from_emb(&set, emb, ref, D, &id);
    EXPECT_NEAR(id.top1_ctx, 1.0, 1e-12);
    EXPECT_NEAR(id.top1_prop, 0.0, 1e-12);
    EXPECT_NEAR(id.top1_all, 0.8, 1e-12);
    EXPECT_NEAR(id.order_ctx, 1.0, 1e-12); // own render 100, the other subject's 0 (or 0 vs 0: not above)
    EXPECT_NEAR(id.mean_true, 100.0, 1e-9);
    EXPECT_NEAR(id.mean_other, 0.0, 1e-9);
    EXPECT(id.n_ctx == n * 20 && id.n_prop == n * 5, "%ld %ld", id.n_ctx, id.n_prop);
    // pairs: templates 0..9 and 20..24 pair with all n - 1 others, 10..19 with the same kind only
    long want_pairs = (long)n * 10 * (n - 1) + (long)n * 10 * (n / 2 - 1);
    EXPECT(id.pairs_ctx == want_pairs, "pairs %ld, want %ld", id.pairs_ctx, want_pairs);
    EXPECT_NEAR(id.order_prop, 0.0, 1e-12); // own edited render 0 vs others' 0 (or own ref's 100 elsewhere)
    EXPECT_NEAR(id.top1_kind[PROMPT_SCENE], 1.0, 1e-12);
    EXPECT_NEAR(id.top1_kind[PROMPT_ACCESSORY], 1.0, 1e-12);
    EXPECT_NEAR(id.top1_kind[PROMPT_PROPERTY], 0.0, 1e-12);
    // the same with the accessory renders (templates 10..19 of live subjects) embedded as s + 1 too:
    // scenes stay at 1, accessories drop to 0, and scene + accessory is the scenes' share
    long n_live = 0;
    for (int s = 0; s < n; s++) n_live += set.subjects[s]->kind == KIND_LIVE;
    for (long i = 0; i < set.n_images; i++) {
        int t = (int)(i % 25), s = (int)(i / 25);
        if (t >= 10 && t < 20 && set.subjects[s]->kind == KIND_LIVE) {
            memset(emb + i * D, 0, (size_t)D * sizeof(float));
            emb[i * D + (s + 1) % n] = 1;
        }
    }
    rm_identity_from_emb(&set, emb, ref, D, &id);
    EXPECT(id.n_kind[PROMPT_ACCESSORY] == n_live * 10 && id.n_kind[PROMPT_SCENE] == (n + (n - n_live)) * 10,
           "%ld accessory, %ld scene renders", id.n_kind[PROMPT_ACCESSORY], id.n_kind[PROMPT_SCENE]);
    EXPECT_NEAR(id.top1_kind[PROMPT_SCENE], 1.0, 1e-12);
    EXPECT_NEAR(id.top1_kind[PROMPT_ACCESSORY], 0.0, 1e-12);
    EXPECT_NEAR(id.top1_ctx, (double)(n + (n - n_live)) / (2.0 * n), 1e-12);

    // prompts: text (s, t) -> e_t; renders of template t embed as t except scenes 0..4 as t + 1
    float *txt = cg_calloc((size_t)n * 25 * 25, sizeof(float)), *emb2 = cg_calloc((size_t)set.n_images * 25, sizeof(float));
    for (int s = 0; s < n; s++)
        for (int t = 0; t < 25; t++) txt[((size_t)s * 25 + t) * 25 + t] = 1;
    for (long i = 0; i < set.n_images; i++) {
        int t = (int)(i % 25);
        emb2[i * 25 + (t < 5 ? t + 1 : t)] = 1;
    }
    RmPrompt pr;
    rm_prompt_from_emb(&set, emb2, txt, 25, &pr);
    EXPECT_NEAR(pr.top1_all, 20.0 / 25.0, 1e-12);
    EXPECT_NEAR(pr.top1_kind[PROMPT_PROPERTY], 1.0, 1e-12);
    EXPECT_NEAR(pr.top1_kind[PROMPT_SCENE], (double)(n / 2 * 15 + n / 2 * 5) / (n / 2 * 20 + n / 2 * 10), 1e-12);
    // ordering pairs (t, t2): render t scores 1 on prompt t unless t < 5; render t2 scores 1 on
    // prompt t only when t2 = t - 1 < 4 maps onto t
    long ok = 0;
    for (int t = 0; t < 25; t++)
        for (int t2 = 0; t2 < 25; t2++) {
            if (t2 == t) continue;
            double own = t >= 5 ? 1 : 0, other = (t2 < 5 ? t2 + 1 : t2) == t ? 1 : 0;
            ok += own > other;
        }
    EXPECT_NEAR(pr.order, (double)ok / (25 * 24), 1e-12);

    // attributes: always predict the truth except the property head, which always says "none"
    float *probs[ATTR_N_HEADS];
    for (int h = 0; h < ATTR_N_HEADS; h++) probs[h] = cg_calloc((size_t)set.n_images * attr_n_classes(h), sizeof(float));
    for (long i = 0; i < set.n_images; i++) {
        int l[ATTR_N_HEADS];
        attr_labels(l, &set.prompts[i]);
        for (int h = 0; h < ATTR_N_HEADS; h++)
            probs[h][i * attr_n_classes(h) + (h == ATTR_PROPERTY ? ATTR_PROPERTY_NONE : l[h])] = 1;
    }
    RmAttr at;
    rm_attr_from_probs(&set, (const float *const *)probs, &at);
    EXPECT_NEAR(at.acc_all[ATTR_SCENE], 1.0, 1e-12);
    EXPECT_NEAR(at.acc_all[ATTR_PROPERTY], 0.8, 1e-12);
    EXPECT_NEAR(at.acc_present[ATTR_PROPERTY], 0.0, 1e-12);
    EXPECT(at.n_present[ATTR_ACCESSORY] == (long)n / 2 * 10, "%ld accessory renders", at.n_present[ATTR_ACCESSORY]);
    for (int h = 0; h < ATTR_N_HEADS; h++) free(probs[h]);
    free(ref), free(emb), free(txt), free(emb2);
    rm_set_free(&set);
}

// The model-level metrics run the model and agree with the constructed-embedding path.
// Means over worlds: every double field of K = 3 structs filled with distinct values is the mean
// of the three, every long field their sum (a field left out of rm_*_mean stays 0 and fails here).
static void test_metric_means(void) {
    enum { K = 3 };
    RmIdentity id[K], idm;
    RmPrompt pr[K], prm;
    RmAttr at[K], atm;
    for (int k = 0; k < K; k++) {
        double *dv[] = {&id[k].top1_ctx, &id[k].top1_prop, &id[k].top1_all, &id[k].top1_kind[0], &id[k].top1_kind[1],
                        &id[k].top1_kind[2], &id[k].top1_kind[3], &id[k].order_ctx, &id[k].order_prop, &id[k].mean_true,
                        &id[k].std_true, &id[k].mean_other, &id[k].mean_true_prop};
        long *lv[] = {&id[k].n_kind[0], &id[k].n_kind[1], &id[k].n_kind[2], &id[k].n_kind[3], &id[k].n_ctx,
                      &id[k].n_prop, &id[k].pairs_ctx, &id[k].pairs_prop};
        for (size_t i = 0; i < sizeof(dv) / sizeof(dv[0]); i++) *dv[i] = (double)(i + 1) * (k + 1) + 0.25 * k;
        for (size_t i = 0; i < sizeof(lv) / sizeof(lv[0]); i++) *lv[i] = (long)(i + 1) * 100 + k;
        double *pd[] = {&pr[k].top1_all, &pr[k].top1_kind[0], &pr[k].top1_kind[1], &pr[k].top1_kind[2], &pr[k].top1_kind[3],
                        &pr[k].order, &pr[k].mean_true, &pr[k].std_true, &pr[k].mean_other};
        long *pl[] = {&pr[k].n_kind[0], &pr[k].n_kind[1], &pr[k].n_kind[2], &pr[k].n_kind[3], &pr[k].n, &pr[k].pairs};
        for (size_t i = 0; i < sizeof(pd) / sizeof(pd[0]); i++) *pd[i] = (double)(i + 1) * (k + 1) + 0.5 * k;
        for (size_t i = 0; i < sizeof(pl) / sizeof(pl[0]); i++) *pl[i] = (long)(i + 1) * 10 + k;
        for (int h = 0; h < ATTR_N_HEADS; h++) {
            at[k].acc_all[h] = 0.1 * (h + 1) + 0.01 * k;
            at[k].acc_present[h] = 0.2 * (h + 1) + 0.03 * k;
            at[k].n_present[h] = 7 * (h + 1) + k;
        }
        at[k].n_all = 1000 + k;
    }
    memset(&idm, 0, sizeof idm), memset(&prm, 0, sizeof prm), memset(&atm, 0, sizeof atm);
    rm_identity_mean(id, K, &idm);
    rm_prompt_mean(pr, K, &prm);
    rm_attr_mean(at, K, &atm);
    // RmIdentity doubles i: mean over k of (i + 1)(k + 1) + k / 4 = 2 (i + 1) + 1 / 4; longs: 3 (i + 1) 100 + 3
    double *dm[] = {&idm.top1_ctx, &idm.top1_prop, &idm.top1_all, &idm.top1_kind[0], &idm.top1_kind[1], &idm.top1_kind[2],
                    &idm.top1_kind[3], &idm.order_ctx, &idm.order_prop, &idm.mean_true, &idm.std_true, &idm.mean_other,
                    &idm.mean_true_prop};
    long *lm[] = {&idm.n_kind[0], &idm.n_kind[1], &idm.n_kind[2], &idm.n_kind[3], &idm.n_ctx, &idm.n_prop, &idm.pairs_ctx,
                  &idm.pairs_prop};
    for (size_t i = 0; i < sizeof(dm) / sizeof(dm[0]); i++) EXPECT_NEAR(*dm[i], 2.0 * (i + 1) + 0.25, 1e-12);
    for (size_t i = 0; i < sizeof(lm) / sizeof(lm[0]); i++)
        EXPECT(*lm[i] == (long)(i + 1) * 300 + 3, "identity count %zu: %ld", i, *lm[i]);
    double *pm[] = {&prm.top1_all, &prm.top1_kind[0], &prm.top1_kind[1], &prm.top1_kind[2], &prm.top1_kind[3], &prm.order,
                    &prm.mean_true, &prm.std_true, &prm.mean_other};
    long *plm[] = {&prm.n_kind[0], &prm.n_kind[1], &prm.n_kind[2], &prm.n_kind[3], &prm.n, &prm.pairs};
    for (size_t i = 0; i < sizeof(pm) / sizeof(pm[0]); i++) EXPECT_NEAR(*pm[i], 2.0 * (i + 1) + 0.5, 1e-12);
    for (size_t i = 0; i < sizeof(plm) / sizeof(plm[0]); i++)
        EXPECT(*plm[i] == (long)(i + 1) * 30 + 3, "prompt count %zu: %ld", i, *plm[i]);
    for (int h = 0; h < ATTR_N_HEADS; h++) {
        EXPECT_NEAR(atm.acc_all[h], 0.1 * (h + 1) + 0.01, 1e-12);
        EXPECT_NEAR(atm.acc_present[h], 0.2 * (h + 1) + 0.03, 1e-12);
        EXPECT(atm.n_present[h] == 21 * (h + 1) + 3, "attr n_present %d: %ld", h, atm.n_present[h]);
    }
    EXPECT(atm.n_all == 3003, "attr n_all %ld", atm.n_all);
    // one world: the mean is that world
    RmIdentity one;
    rm_identity_mean(id, 1, &one);
    EXPECT(memcmp(&one, &id[0], sizeof one) == 0, "the mean of one world is that world");
}

static void test_metrics_on_model(void) {
    char err[256], path[512];
    snprintf(path, sizeof(path), "%s/id.safetensors", tmpdir);
    EncModel m;
    CG_CHECK(enc_model_load(&m, path, ENC_ID, 64, NULL, err, sizeof(err)) == 0, "%s", err);
    RmSet set;
    rm_set_build(&set, world, SPLIT_TEST, SZ, 1, 3);
    RmIdentity a, b;
    rm_identity(&m, &set, RM_REF_SEG, &a);
    const int D = m.img.cfg.embed_dim;
    float *emb = cg_malloc((size_t)set.n_images * D * sizeof(float)), *ref = cg_malloc((size_t)30 * D * sizeof(float));
    for (long i = 0; i < set.n_images; i++) enc_embed_images(&m, emb + i * D, set.images + i * PER, 1);
    for (int s = 0; s < 30; s++) enc_embed_images(&m, ref + s * D, set.ref_seg + s * PER, 1);
    rm_identity_from_emb(&set, emb, ref, D, &b);
    EXPECT_NEAR(a.mean_true, b.mean_true, 1e-3);
    EXPECT_NEAR(a.top1_ctx, b.top1_ctx, 0.01);
    EXPECT(a.top1_ctx >= 0 && a.top1_ctx <= 1, "top1 %g", a.top1_ctx);
    free(emb), free(ref);
    rm_set_free(&set);
    enc_model_free(&m);
}

// A few steps of training: finite loss, a loadable model, metrics lines.
// Look-alike identity batches: distinct subjects of the population, in runs of k of one class
// (every class of the reward half has more than 2 subjects), deterministic per step; k = 0 keeps
// the uniform draw that enc_id_batch used before the option existed.
static void test_look_alikes(void) {
    EncData d;
    enc_data_init(&d, world, 1, ENC_POP_REWARD, SZ, 5, 0.05f, 0);
    const Subject *a[64], *b[64], *u[64];
    enc_id_subjects(&d, u, 7, 64);
    d.look_alikes = 2;
    enc_id_subjects(&d, a, 7, 64);
    enc_id_subjects(&d, b, 7, 64);
    int same = 1, pairs = 0, differs = 0;
    for (int i = 0; i < 64; i++) {
        same &= a[i] == b[i];
        differs |= a[i] != u[i];
        for (int j = 0; j < i; j++) EXPECT(a[i] != a[j], "rows %d and %d are the same subject", j, i);
        int in_pop = 0;
        for (int k = 0; k < d.n; k++) in_pop |= d.pop[k] == a[i];
        EXPECT(in_pop, "row %d is not in the reward population", i);
    }
    for (int i = 0; i < 64; i += 2) pairs += a[i]->cls == a[i + 1]->cls;
    EXPECT(same && differs, "look-alike draws: deterministic %d, differ from the uniform draw %d", same, differs);
    EXPECT(pairs == 32, "%d of 32 adjacent pairs share a class", pairs);
    // k = 4 over a whole population: every subject once
    d.look_alikes = 4;
    const Subject **all = cg_malloc((size_t)d.n * sizeof(*all));
    enc_id_subjects(&d, all, 3, d.n);
    int distinct = 1;
    for (int i = 0; i < d.n; i++)
        for (int j = 0; j < i; j++) distinct &= all[i] != all[j];
    EXPECT(distinct, "a full look-alike draw repeats a subject");
    free(all);
    enc_data_free(&d);
    // the option is id-only, 2..batch, and a resume must not silently drop it
    EncTrainConfig c;
    char err[256];
    enc_train_defaults(&c, ENC_ID);
    c.look_alikes = 1;
    EXPECT(enc_train_config_check(&c, err, sizeof err) != 0 && strstr(err, "look_alikes"), "k 1: %s", err);
    c.look_alikes = c.batch + 1;
    EXPECT(enc_train_config_check(&c, err, sizeof err) != 0 && strstr(err, "look_alikes"), "k > batch: %s", err);
    enc_train_defaults(&c, ENC_ATTR);
    c.look_alikes = 2;
    EXPECT(enc_train_config_check(&c, err, sizeof err) != 0 && strstr(err, "id encoders only"), "attr: %s", err);
    tiny_train_config(&c, ENC_ID, 2, 2);
    check_kept_on_resume(&c, &c.look_alikes, 2, 0, "look_alikes");
}

// --worlds: the population takes the same half of the TRAIN split of further subjects seeds, never
// a subject within 1 identity attribute of the first world's VAL or TEST subjects, and the option
// is stored so that a resume cannot silently drop it
static void test_worlds(void) {
    World *ws = cg_malloc(4 * sizeof(World));
    for (int j = 0; j < 4; j++) world_init(&ws[j], enc_world_seed(1, j));
    EXPECT(memcmp(&ws[0], world, sizeof(World)) == 0, "world 0 is the subjects seed itself");
    EncData d1, d4;
    enc_data_init(&d1, ws, 1, ENC_POP_REWARD, SZ, 5, 0.05f, 0);
    enc_data_init(&d4, ws, 4, ENC_POP_REWARD, SZ, 5, 0.05f, 0);
    EXPECT(d1.n == 200 && d1.n_excluded == 0, "one world: %d subjects, %d left out", d1.n, d1.n_excluded);
    EXPECT(d4.n + d4.n_excluded == 800 && d4.n > 700, "four worlds: %d subjects, %d left out", d4.n, d4.n_excluded);
    int first_same = 1, near = 0, wrong_half = 0, per_world[4] = {0};
    for (int i = 0; i < d1.n; i++) first_same &= d4.pop[i] == d1.pop[i];
    for (int i = 0; i < d4.n; i++) {
        const Subject *s = d4.pop[i];
        int j = -1; // which world holds it
        for (int k = 0; k < 4; k++)
            if (s >= ws[k].subjects && s < ws[k].subjects + WORLD_N_SUBJECTS) j = k;
        EXPECT(j >= 0 && j < 4 && s->split == SPLIT_TRAIN, "subject %d: world %d split %d", i, j, s->split);
        if (j < 0 || j >= 4) continue;
        per_world[j]++;
        wrong_half += !enc_population_has(ENC_POP_REWARD, s->index);
        const int splits[2] = {SPLIT_VAL, SPLIT_TEST};
        for (int k = 0; k < 2; k++)
            for (int t = 0; t < world_split_count(splits[k]); t++)
                near += subject_distance(s, world_subject(&ws[0], splits[k], t)) < 2;
    }
    EXPECT(first_same, "the first world's subjects come first, in order");
    EXPECT(per_world[0] == 200 && per_world[1] > 150 && per_world[2] > 150 && per_world[3] > 150, "%d %d %d %d",
           per_world[0], per_world[1], per_world[2], per_world[3]);
    EXPECT(wrong_half == 0 && near == 0, "%d from the other half, %d close to a held-out subject", wrong_half, near);
    // and the excluded ones really are close: recount them from the worlds
    int close = 0;
    for (int j = 1; j < 4; j++)
        for (int i = 0; i < WORLD_N_TRAIN; i++) {
            const Subject *s = world_subject(&ws[j], SPLIT_TRAIN, i);
            if (!enc_population_has(ENC_POP_REWARD, i)) continue;
            int c = 0;
            for (int t = 0; t < world_split_count(SPLIT_VAL); t++) c |= subject_distance(s, world_subject(&ws[0], SPLIT_VAL, t)) < 2;
            for (int t = 0; t < world_split_count(SPLIT_TEST); t++) c |= subject_distance(s, world_subject(&ws[0], SPLIT_TEST, t)) < 2;
            close += c;
        }
    EXPECT(close == d4.n_excluded, "recounted %d close subjects, data left out %d", close, d4.n_excluded);
    enc_data_free(&d1), enc_data_free(&d4);
    free(ws);

    EncTrainConfig c;
    char err[256];
    enc_train_defaults(&c, ENC_ID);
    EXPECT(c.worlds == 1, "default worlds %d", c.worlds);
    c.worlds = 0;
    EXPECT(enc_train_config_check(&c, err, sizeof err) != 0 && strstr(err, "worlds"), "worlds 0: %s", err);
    c.worlds = ENC_MAX_WORLDS + 1;
    EXPECT(enc_train_config_check(&c, err, sizeof err) != 0 && strstr(err, "worlds"), "too many: %s", err);
    tiny_train_config(&c, ENC_ID, 2, 2);
    check_kept_on_resume(&c, &c.worlds, 3, 1, "worlds");
    c.worlds = 2;
    EXPECT(tiny_train(&c, "worlds", 1, NULL, 0, err, sizeof(err)) == CG_EINPUT && strstr(err, "worlds"),
           "resume with 2: %s", err);
}

static void test_train_smoke(void) {
    EncTrainConfig c;
    tiny_train_config(&c, ENC_CLIP, 3, 3);
    char dir[512], err[512], path[600];
    EXPECT(tiny_train(&c, "run", 0, dir, sizeof dir, err, sizeof(err)) == CG_OK, "%s", err);
    snprintf(path, sizeof(path), "%s/model.safetensors", dir);
    EncModel m;
    CkptMeta meta;
    EXPECT(enc_model_load(&m, path, ENC_CLIP, 4, &meta, err, sizeof(err)) == 0, "%s", err);
    if (m.img.params) {
        const char *best = ckpt_meta_get(&meta, "train.best_step");
        EXPECT(best && atoi(best) >= 1 && atoi(best) <= 3, "best step %s", best ? best : "(none)");
        enc_model_free(&m);
        ckpt_meta_free(&meta);
    }
    snprintf(path, sizeof(path), "%s/metrics.jsonl", dir);
    FILE *f = fopen(path, "r");
    int lines = 0, ch;
    while (f && (ch = fgetc(f)) != EOF) lines += ch == '\n';
    if (f) fclose(f);
    EXPECT(lines == 4, "%d metrics lines (3 steps + 1 validation)", lines);
    // resuming with another config is refused (as bad input)
    c.lr = 2e-3f;
    EXPECT(tiny_train(&c, "run", 1, NULL, 0, err, sizeof(err)) == CG_EINPUT && strstr(err, "train.lr"), "%s", err);
}

// The shipped weights (models/, when present): every built-in reward loads with the expected kind
// and image size and gives finite scores in range. Their quality is measured by eval-rewards,
// not here.
static void test_shipped_models(void) {
    char err[256];
    Batch b;
    make_batch(&b, 4, 0);
    RewardBatch rb = reward_batch(&b);
    int found = 0;
    for (int k = 0; k < reward_n_builtin(); k++) {
        char path[512];
        snprintf(path, sizeof(path), "models/%s", reward_builtin_file(k));
        if (access(path, F_OK) != 0) continue;
        found++;
        Reward *r = reward_create_by_name(reward_builtin_name(k), "models", err, sizeof(err));
        EXPECT(r != NULL, "%s: %s", path, err);
        if (!r) continue;
        EXPECT(r->S == SZ, "%s takes %d px", path, r->S);
        float sc[4];
        EXPECT(reward_score(r, &rb, sc, err, sizeof(err)) == 0, "%s", err);
        for (int i = 0; i < 4; i++) EXPECT(isfinite(sc[i]) && sc[i] >= -100.001f && sc[i] <= 100.001f, "%s: %g", path, sc[i]);
        reward_free(r);
    }
    printf("     (%d shipped model files checked)\n", found);
    free_batch(&b);
}

int main(void) {
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/cgrpo_test_reward_XXXXXX");
    scratch_dir(tmpdir);
    world = cg_malloc(sizeof(World));
    world_init(world, WORLD_DEFAULT_SUBJECTS_SEED);
    save_tiny(ENC_ID, "id.safetensors", 1);
    save_tiny(ENC_CLIP, "prompt.safetensors", 2);
    save_tiny(ENC_ID, "judge_id.safetensors", 3);
    save_tiny(ENC_CLIP, "judge_clip.safetensors", 4);
    save_tiny(ENC_ATTR, "attr.safetensors", 5);

    RUN(test_segment_fill);
    RUN(test_estimated_mask);
    RUN(test_pixel_cosine);
    RUN(test_builtin_scores);
    RUN(test_shared_reference);
    RUN(test_reward_errors);
    RUN(test_model_roundtrip);
    RUN(test_model_file_lies);
    RUN(test_populations);
    RUN(test_data_determinism);
    RUN(test_attr_labels);
    RUN(test_supcon);
    RUN(test_lr_schedule);
    RUN(test_metrics_constructed);
    RUN(test_metric_means);
    RUN(test_metrics_on_model);
    RUN(test_train_smoke);
    RUN(test_look_alikes);
    RUN(test_worlds);
    RUN(test_shipped_models);

    scratch_remove(tmpdir);
    free(world);
    return test_summary("reward");
}
