// test_world.c: SubjectBench: the population (seeds, splits, disjointness), the DreamBench prompts
// (exact wording, parsing back), the tokenizer, and the renderer doing what the prompt says
// (scenes change the background only, accessories add pixels near the subject, property edits
// change colour or shape, the mask covers exactly the subject), determinism and thread safety.
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "test.h"
#include "world/prompts.h"
#include "world/render.h"
#include "world/tokenizer.h"
#include "world/world.h"

// ---- the population ---------------------------------------------------------------------------

static void test_world_is_deterministic_and_seeded(void) {
    World *a = cg_malloc(sizeof(World)), *b = cg_malloc(sizeof(World));
    world_init(a, 1);
    world_init(b, 1);
    EXPECT(memcmp(a, b, sizeof(World)) == 0, "two worlds of seed 1 differ");
    world_init(b, 2);
    int same = 0;
    for (int i = 0; i < WORLD_N_TEST; i++)
        same += subject_distance(world_subject(a, SPLIT_TEST, i), world_subject(b, SPLIT_TEST, i)) == 0;
    EXPECT(same < 3, "seeds 1 and 2 share %d of 30 test subjects", same);
    int moved = 0;
    for (int i = 0; i < WORLD_N_TRAIN; i++)
        moved += subject_distance(world_subject(a, SPLIT_TRAIN, i), world_subject(b, SPLIT_TRAIN, i)) > 0;
    EXPECT(moved > WORLD_N_TRAIN * 9 / 10, "only %d train subjects changed with the seed", moved);
    EXPECT(world_subject(a, SPLIT_TEST, WORLD_N_TEST) == NULL && world_subject(a, SPLIT_TEST, -1) == NULL &&
               world_subject(a, 3, 0) == NULL,
           "out-of-range subjects must be NULL");
    free(a);
    free(b);
}

static void test_splits_are_balanced_and_disjoint(void) {
    World *w = cg_malloc(sizeof(World));
    for (uint64_t seed = 1; seed <= 3; seed++) {
        world_init(w, seed);
        int class_count[WORLD_N_CLASSES] = {0}, live = 0;
        for (int i = 0; i < WORLD_N_TEST; i++) {
            const Subject *s = world_subject(w, SPLIT_TEST, i);
            class_count[s->cls]++;
            live += s->kind == KIND_LIVE;
            EXPECT(s->kind == (i % 2 ? KIND_LIVE : KIND_OBJECT), "test %d kind %d", i, s->kind);
            for (int j = 0; j < i; j++) {
                const Subject *t = world_subject(w, SPLIT_TEST, j);
                EXPECT(subject_distance(s, t) >= 3, "seed %d: test %d and %d differ in only %d attributes", (int)seed,
                       i, j, subject_distance(s, t));
                EXPECT(!(s->cls == t->cls && s->main_colour == t->main_colour), "test %d and %d: same class and colour",
                       i, j);
            }
        }
        EXPECT(live == WORLD_N_TEST / 2, "%d live test subjects", live);
        for (int c = 0; c < WORLD_N_CLASSES; c++) EXPECT(class_count[c] > 0, "class %d missing from test", c);
        // every subject: attributes in range; train and val stay away from test; no duplicates
        for (int k = 0; k < WORLD_N_SUBJECTS; k++) {
            const Subject *s = &w->subjects[k];
            EXPECT(s->main_colour >= 0 && s->main_colour < WORLD_N_MAIN_COLOURS, "main colour %d", s->main_colour);
            EXPECT(s->main_colour != COL_RED && s->main_colour != COL_PURPLE, "main colour is an edit colour");
            EXPECT(s->pattern != PAT_NONE || s->second_colour == s->main_colour, "unused second colour not = main");
            EXPECT(s->n_marks == 1 || s->n_marks == 2, "n_marks %d", s->n_marks);
            EXPECT(s->n_marks == 1 || s->marks[0].slot != s->marks[1].slot, "two marks in one slot");
            EXPECT(s->kind == world_class_kind(s->cls), "kind of class");
            EXPECT(s->kind == (s->index % 2 ? KIND_LIVE : KIND_OBJECT), "kinds alternate");
            if (s->split != SPLIT_TEST)
                for (int i = 0; i < WORLD_N_TEST; i++)
                    EXPECT(subject_distance(s, world_subject(w, SPLIT_TEST, i)) >= 2,
                           "%s subject %d is close to test subject %d", world_split_name(s->split), s->index, i);
        }
        int dup = 0;
        for (int k = 0; k < WORLD_N_SUBJECTS; k++)
            for (int m = 0; m < k; m++) dup += subject_distance(&w->subjects[k], &w->subjects[m]) == 0;
        EXPECT(dup == 0, "seed %d: %d duplicated attribute tuples", (int)seed, dup);
    }
    const int n_live = WORLD_N_LIVE_CLASSES, n_obj = WORLD_N_OBJECT_CLASSES;
    int live_classes = 0;
    for (int c = 0; c < WORLD_N_CLASSES; c++) live_classes += world_class_kind(c) == KIND_LIVE;
    EXPECT(live_classes == n_live && n_live + n_obj == WORLD_N_CLASSES, "%d live classes", live_classes);
    EXPECT(world_class_kind(CLS_DOG) == KIND_LIVE && world_class_kind(CLS_CAT) == KIND_LIVE &&
               world_class_kind(CLS_TEAPOT) == KIND_OBJECT,
           "DreamBench's cats and dogs are live, teapots are objects");
    char buf[256];
    world_init(w, 1);
    subject_describe(world_subject(w, SPLIT_TEST, 0), buf, sizeof(buf));
    EXPECT(strncmp(buf, "shape=", 6) == 0 && strstr(buf, " main=") && strstr(buf, " marks="), "describe: %s", buf);
    free(w);
}

// ---- prompts ------------------------------------------------------------------------------------

// DreamBench's lists, copied from dataset/prompts_and_classes.txt ({0} = sks, {1} = class).
static const char *const DB_OBJECT[25] = {
    "a {0} {1} in the jungle", "a {0} {1} in the snow", "a {0} {1} on the beach",
    "a {0} {1} on a cobblestone street", "a {0} {1} on top of pink fabric", "a {0} {1} on top of a wooden floor",
    "a {0} {1} with a city in the background", "a {0} {1} with a mountain in the background",
    "a {0} {1} with a blue house in the background", "a {0} {1} on top of a purple rug in a forest",
    "a {0} {1} with a wheat field in the background", "a {0} {1} with a tree and autumn leaves in the background",
    "a {0} {1} with the Eiffel Tower in the background", "a {0} {1} floating on top of water",
    "a {0} {1} floating in an ocean of milk", "a {0} {1} on top of green grass with sunflowers around it",
    "a {0} {1} on top of a mirror", "a {0} {1} on top of the sidewalk in a crowded street",
    "a {0} {1} on top of a dirt road", "a {0} {1} on top of a white rug", "a red {0} {1}", "a purple {0} {1}",
    "a shiny {0} {1}", "a wet {0} {1}", "a cube shaped {0} {1}"};
static const char *const DB_LIVE[25] = {
    "a {0} {1} in the jungle", "a {0} {1} in the snow", "a {0} {1} on the beach",
    "a {0} {1} on a cobblestone street", "a {0} {1} on top of pink fabric", "a {0} {1} on top of a wooden floor",
    "a {0} {1} with a city in the background", "a {0} {1} with a mountain in the background",
    "a {0} {1} with a blue house in the background", "a {0} {1} on top of a purple rug in a forest",
    "a {0} {1} wearing a red hat", "a {0} {1} wearing a santa hat", "a {0} {1} wearing a rainbow scarf",
    "a {0} {1} wearing a black top hat and a monocle", "a {0} {1} in a chef outfit",
    "a {0} {1} in a firefighter outfit", "a {0} {1} in a police outfit", "a {0} {1} wearing pink glasses",
    "a {0} {1} wearing a yellow shirt", "a {0} {1} in a purple wizard outfit", "a red {0} {1}",
    "a purple {0} {1}", "a shiny {0} {1}", "a wet {0} {1}", "a cube shaped {0} {1}"};

static void format_db(char *out, size_t cap, const char *tmpl, const char *cls) {
    const char *p = strstr(tmpl, "{0} {1}");
    snprintf(out, cap, "%.*ssks %s%s", (int)(p - tmpl), tmpl, cls, p + 7);
}

static void test_prompts_have_dreambench_wording(void) {
    for (int c = 0; c < WORLD_N_CLASSES; c++)
        for (int t = 0; t < PROMPT_N_TEMPLATES; t++) {
            Prompt p;
            prompt_make(&p, c, t);
            char want[128];
            format_db(want, sizeof(want), world_class_kind(c) == KIND_LIVE ? DB_LIVE[t] : DB_OBJECT[t],
                      world_class_word(c));
            EXPECT(strcmp(p.text, want) == 0, "class %d template %d: '%s' != '%s'", c, t, p.text, want);
            PromptKind want_kind = t < 10                                        ? PROMPT_SCENE
                                   : t >= 20                                     ? PROMPT_PROPERTY
                                   : world_class_kind(c) == KIND_LIVE ? PROMPT_ACCESSORY
                                                                      : PROMPT_SCENE;
            int want_item = want_kind == PROMPT_ACCESSORY ? t - 10 : want_kind == PROMPT_PROPERTY ? t - 20 : t;
            EXPECT(p.kind == want_kind && p.item == want_item && p.template_index == t && p.cls == c,
                   "class %d template %d: kind %d item %d", c, t, (int)p.kind, p.item);
        }
    Prompt p;
    prompt_make(&p, CLS_STUFFED_ANIMAL, -1);
    EXPECT(strcmp(p.text, "a sks stuffed animal") == 0 && p.kind == PROMPT_PLAIN && p.item == -1, "plain: %s", p.text);
}

static void test_prompts_parse_back(void) {
    char err[256];
    for (int c = 0; c < WORLD_N_CLASSES; c++)
        for (int t = -1; t < PROMPT_N_TEMPLATES; t++) {
            Prompt p, q;
            prompt_make(&p, c, t);
            int rc = prompt_parse(&q, p.text, c, err, sizeof(err));
            EXPECT(rc == 0 && memcmp(&p, &q, sizeof(p)) == 0, "'%s' did not parse back (%s)", p.text, rc ? err : "");
            rc = prompt_parse(&q, p.text, -1, err, sizeof(err));
            EXPECT(rc == 0 && q.cls == c && q.template_index == t, "'%s' without a class", p.text);
        }
    Prompt q;
    EXPECT(prompt_parse(&q, "  A SKS dog   with the eiffel TOWER in the background ", CLS_DOG, err, sizeof(err)) != 0,
           "an object prompt must not parse for a dog");
    EXPECT(strstr(err, "object prompt") != NULL, "reason: %s", err);
    EXPECT(prompt_parse(&q, "  A SKS can   with the eiffel TOWER in the background ", CLS_CAN, err, sizeof(err)) == 0 &&
               q.kind == PROMPT_SCENE && q.item == SCENE_EIFFEL_TOWER &&
               strcmp(q.text, "a sks can with the Eiffel Tower in the background") == 0,
           "case and spaces are free: %s", err);
    struct { const char *text; int cls; const char *reason; } bad[] = {
        {"a sks cat in the jungle", CLS_DOG, "names a cat"},
        {"a sks can wearing a red hat", CLS_CAN, "live-subject prompt"},
        {"a sks dog in the snow jungle", CLS_DOG, "matches no DreamBench template"},
        {"a dog in the jungle", CLS_DOG, "no identifier"},
        {"a sks in the jungle", -1, "class word"},
        {"a red sks dog in the snow", CLS_DOG, "cannot be combined"},
        {"a blue sks dog", CLS_DOG, "not a property"},
        {"the sks dog", CLS_DOG, "starts with"},
        {"a sks dog in the jungel", CLS_DOG, "unknown word 'jungel'"},
        {"", CLS_DOG, "starts with"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int rc = prompt_parse(&q, bad[i].text, bad[i].cls, err, sizeof(err));
        EXPECT(rc != 0 && strstr(err, bad[i].reason) != NULL, "'%s': rc %d, reason '%s' (want '%s')", bad[i].text, rc,
               err, bad[i].reason);
        EXPECT(strchr(err, '\n') == NULL, "multi-line reason");
    }
}

// ---- tokenizer --------------------------------------------------------------------------------

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static void test_tokenizer_vocabulary_and_lengths(void) {
    // rebuild the vocabulary from the grammar: every word of both lists, the classes, "sks"
    static char words[512][32];
    int n = 0;
    for (int list = 0; list < 2; list++)
        for (int t = 0; t < 25; t++) {
            char text[128];
            format_db(text, sizeof(text), list ? DB_LIVE[t] : DB_OBJECT[t], "");
            for (char *tok = strtok(text, " "); tok; tok = strtok(NULL, " ")) {
                for (char *c = tok; *c; c++) *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
                snprintf(words[n++], 32, "%s", tok);
            }
        }
    for (int c = 0; c < WORLD_N_CLASSES; c++) {
        char cw[32];
        snprintf(cw, sizeof(cw), "%s", world_class_word(c));
        for (char *tok = strtok(cw, " "); tok; tok = strtok(NULL, " ")) snprintf(words[n++], 32, "%s", tok);
    }
    const char *sorted[512];
    for (int i = 0; i < n; i++) sorted[i] = words[i];
    qsort(sorted, (size_t)n, sizeof(sorted[0]), cmp_str);
    int u = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || strcmp(sorted[i], sorted[i - 1]) != 0) sorted[u++] = sorted[i];
    EXPECT(u == TOK_VOCAB_SIZE - 1, "grammar has %d words, vocabulary %d", u, TOK_VOCAB_SIZE - 1);
    for (int i = 0; i < u && i < TOK_VOCAB_SIZE - 1; i++)
        EXPECT(tok_word(i + 1) && strcmp(tok_word(i + 1), sorted[i]) == 0, "id %d: '%s' vs '%s'", i + 1,
               tok_word(i + 1), sorted[i]);
    EXPECT(strcmp(tok_word(TOK_PAD), "<pad>") == 0 && tok_word(TOK_VOCAB_SIZE) == NULL, "pad / range");
    EXPECT(tok_lookup("Eiffel") == tok_lookup("eiffel") && tok_lookup("eiffel") > 0, "case-insensitive lookup");
    EXPECT(tok_lookup("sks") > 0 && tok_lookup("a") > 0 && tok_lookup("zebra") == -1, "lookup");

    // every prompt of every test subject fits in 16 tokens; the longest has 13 words
    World *w = cg_malloc(sizeof(World));
    world_init(w, WORLD_DEFAULT_SUBJECTS_SEED);
    int longest = 0;
    char err[256];
    for (int i = 0; i < WORLD_N_TEST; i++)
        for (int t = -1; t < PROMPT_N_TEMPLATES; t++) {
            Prompt p;
            prompt_make(&p, world_subject(w, SPLIT_TEST, i)->cls, t);
            int ids[TOK_MAX_TOKENS];
            int k = tok_encode(ids, p.text, err, sizeof(err));
            EXPECT(k > 0 && k <= TOK_MAX_TOKENS, "'%s' -> %d (%s)", p.text, k, err);
            if (k > longest) longest = k;
            for (int j = k; j < TOK_MAX_TOKENS && k > 0; j++) EXPECT(ids[j] == TOK_PAD, "padding");
            char back[128];
            tok_decode(back, sizeof(back), ids, TOK_MAX_TOKENS);
            char lower[128];
            snprintf(lower, sizeof(lower), "%s", p.text);
            for (char *c = lower; *c; c++) *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
            EXPECT(strcmp(back, lower) == 0, "decode '%s' != '%s'", back, lower);
        }
    EXPECT(longest == 13, "longest test prompt has %d tokens", longest);
    // the longest over all classes and both lists is also 13 words
    int ids[TOK_MAX_TOKENS];
    EXPECT(tok_encode(ids, "a sks stuffed animal with a tree and autumn leaves in the background", err, sizeof(err)) == 13,
           "13 words");
    free(w);

    // unknown words name the word and the nearest known ones
    EXPECT(tok_encode(ids, "a sks dog in the jungel", err, sizeof(err)) == -1, "unknown word accepted");
    EXPECT(strstr(err, "'jungel'") && strstr(err, "jungle"), "reason: %s", err);
    EXPECT(tok_encode(ids, "a sks dgo", err, sizeof(err)) == -1 && strstr(err, "dog"), "reason: %s", err);
    const char *near[3];
    EXPECT(tok_suggest("sneakers", near, 3) == 1 && strcmp(near[0], "sneaker") == 0, "suggest: %s", near[0]);
    EXPECT(tok_suggest("hat", near, 3) == 2 && strcmp(near[0], "hat") == 0 && strcmp(near[1], "cat") == 0, "suggest hat: %s", near[1]);
    EXPECT(tok_encode(ids, "a a a a a a a a a a a a a a a a a", err, sizeof(err)) == -1 && strstr(err, "17 words"),
           "too long: %s", err);
    EXPECT(tok_encode(ids, "", err, sizeof(err)) == 0 && ids[0] == TOK_PAD, "empty text");
    char longword[200];
    memset(longword, 'x', 150);
    longword[150] = '\0';
    EXPECT(tok_encode(ids, longword, err, sizeof(err)) == -1 && strlen(err) < 200, "long word: %s", err);
}

// ---- rendering -------------------------------------------------------------------------------------

#define S32 32
#define N32 (S32 * S32)

typedef struct {
    float img[3 * N32];
    unsigned char mask[N32];
} Render;

static void target(Render *r, const Subject *s, int cls_template, uint64_t seed) {
    Prompt p;
    prompt_make(&p, s->cls, cls_template);
    render_target(r->img, r->mask, s, &p, seed, S32);
}

static void test_render_is_deterministic(void) {
    World *w = cg_malloc(sizeof(World));
    world_init(w, WORLD_DEFAULT_SUBJECTS_SEED);
    Render *a = cg_malloc(sizeof(Render)), *b = cg_malloc(sizeof(Render));
    for (int i = 0; i < WORLD_N_TEST; i += 3)
        for (int t = -1; t < PROMPT_N_TEMPLATES; t += 2) {
            const Subject *s = world_subject(w, SPLIT_TEST, i);
            target(a, s, t, 77);
            target(b, s, t, 77);
            EXPECT(memcmp(a, b, sizeof(Render)) == 0, "subject %d template %d renders differ", i, t);
            float lo = 1, hi = 0;
            for (int k = 0; k < 3 * N32; k++) lo = fminf(lo, a->img[k]), hi = fmaxf(hi, a->img[k]);
            EXPECT(lo >= 0.f && hi <= 1.f && hi - lo > 0.2f, "values in [%g, %g]", lo, hi);
            target(b, s, t, 78);
            EXPECT(memcmp(a->img, b->img, sizeof(a->img)) != 0, "another seed, same image");
        }
    render_reference(a->img, a->mask, world_subject(w, SPLIT_TEST, 5), 0, S32);
    render_reference(b->img, b->mask, world_subject(w, SPLIT_TEST, 5), 0, S32);
    EXPECT(memcmp(a, b, sizeof(Render)) == 0, "references differ");
    render_reference(b->img, b->mask, world_subject(w, SPLIT_TEST, 5), 1, S32);
    EXPECT(memcmp(a->mask, b->mask, sizeof(a->mask)) != 0, "pose 1 equals pose 0");
    free(a);
    free(b);
    free(w);
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

// Median brightness (r + g + b) of the fully covered pixels.
static float median_brightness(const Render *r) {
    static float v[N32];
    int n = 0;
    for (int k = 0; k < N32; k++)
        if (r->mask[k] == 255) v[n++] = r->img[3 * k] + r->img[3 * k + 1] + r->img[3 * k + 2];
    qsort(v, (size_t)n, sizeof(float), cmp_float);
    return n ? v[n / 2] : 0.f;
}

// Scenes: with the same seed the subject sits at the same place and its fully covered pixels do
// not change, while most of the background does.
static void test_scene_changes_background_not_subject(void) {
    World *w = cg_malloc(sizeof(World));
    world_init(w, WORLD_DEFAULT_SUBJECTS_SEED);
    Render *a = cg_malloc(sizeof(Render)), *b = cg_malloc(sizeof(Render));
    for (int i = 0; i < WORLD_N_TEST; i++) {
        const Subject *s = world_subject(w, SPLIT_TEST, i);
        int n_scenes = s->kind == KIND_OBJECT ? PROMPT_N_SCENES : PROMPT_N_COMMON_SCENES;
        for (int sc = 1; sc < n_scenes; sc++) {
            uint64_t seed = 1000 + (uint64_t)i;
            target(a, s, 0, seed);  // the jungle
            target(b, s, sc, seed); // another scene
            int both = 0, same = 0, bg = 0, bg_diff = 0;
            for (int k = 0; k < N32; k++) {
                if (a->mask[k] == 255 && b->mask[k] == 255) {
                    both++;
                    same += memcmp(&a->img[3 * k], &b->img[3 * k], 3 * sizeof(float)) == 0;
                }
                if (a->mask[k] == 0 && b->mask[k] == 0) {
                    bg++;
                    float d = fabsf(a->img[3 * k] - b->img[3 * k]) + fabsf(a->img[3 * k + 1] - b->img[3 * k + 1]) +
                              fabsf(a->img[3 * k + 2] - b->img[3 * k + 2]);
                    bg_diff += d > 0.1f;
                }
            }
            EXPECT(both > 10 && same == both, "subject %d scene %d: %d of %d subject pixels equal", i, sc, same, both);
            EXPECT(bg_diff > bg / 2, "subject %d scene %d: only %d of %d background pixels changed", i, sc, bg_diff, bg);
            // the scenes that hide nothing keep the whole mask
            if (sc != SCENE_WATER && sc != SCENE_MILK && sc != SCENE_SUNFLOWERS)
                EXPECT(memcmp(a->mask, b->mask, sizeof(a->mask)) == 0, "subject %d scene %d: mask changed", i, sc);
        }
    }
    free(a);
    free(b);
    free(w);
}

// Accessories: the image changes, only near the subject (its box grown by 60 % of its size).
static void test_accessory_adds_pixels_near_subject(void) {
    World *w = cg_malloc(sizeof(World));
    world_init(w, WORLD_DEFAULT_SUBJECTS_SEED);
    Render *a = cg_malloc(sizeof(Render)), *b = cg_malloc(sizeof(Render));
    for (int i = 1; i < WORLD_N_TEST; i += 2) { // the live subjects
        const Subject *s = world_subject(w, SPLIT_TEST, i);
        for (int acc = 0; acc < PROMPT_N_ACCESSORIES; acc++) {
            uint64_t seed = 500 + (uint64_t)(i * 10 + acc);
            target(a, s, -1, seed);       // plain
            target(b, s, 10 + acc, seed); // with the accessory
            int x0 = S32, x1 = -1, y0 = S32, y1 = -1;
            for (int k = 0; k < N32; k++)
                if (a->mask[k]) {
                    int x = k % S32, y = k / S32;
                    x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1, y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
                }
            int gx = (x1 - x0) * 6 / 10 + 1, gy = (y1 - y0) * 6 / 10 + 1; // grown by 60 %
            int changed = 0, far = 0, hidden = 0;
            for (int k = 0; k < N32; k++) {
                int x = k % S32, y = k / S32;
                float d = fabsf(a->img[3 * k] - b->img[3 * k]) + fabsf(a->img[3 * k + 1] - b->img[3 * k + 1]) +
                          fabsf(a->img[3 * k + 2] - b->img[3 * k + 2]);
                if (d > 0.08f) {
                    changed++;
                    far += x < x0 - gx || x > x1 + gx || y < y0 - gy || y > y1 + gy;
                }
                hidden += b->mask[k] < a->mask[k];
            }
            EXPECT(changed >= 6, "subject %d accessory %d changed %d pixels", i, acc, changed);
            EXPECT(far == 0, "subject %d accessory %d changed %d pixels far from the subject", i, acc, far);
            EXPECT(hidden > 0, "subject %d accessory %d hides nothing of the subject", i, acc);
        }
    }
    free(a);
    free(b);
    free(w);
}

static void test_property_edits_conflict_with_identity(void) {
    World *w = cg_malloc(sizeof(World));
    world_init(w, WORLD_DEFAULT_SUBJECTS_SEED);
    Render *a = cg_malloc(sizeof(Render)), *b = cg_malloc(sizeof(Render));
    float red[3], purple[3];
    world_colour_rgb(COL_RED, red);
    world_colour_rgb(COL_PURPLE, purple);
    for (int i = 0; i < WORLD_N_TEST; i++) {
        const Subject *s = world_subject(w, SPLIT_TEST, i);
        uint64_t seed = 300 + (uint64_t)i;
        target(a, s, -1, seed);
        for (int prop = 0; prop < PROMPT_N_PROPERTIES; prop++) {
            target(b, s, 20 + prop, seed);
            if (prop == PROP_RED || prop == PROP_PURPLE) {
                // The main colour is replaced, so the mean colour of the subject moves from the old
                // main colour towards the edit colour: the change points along (edit - main).
                const float *e = prop == PROP_RED ? red : purple;
                float main_rgb[3];
                world_colour_rgb(s->main_colour, main_rgb);
                double m0[3] = {0}, m1[3] = {0}, dot = 0, nd = 0, nv = 0;
                int full = 0;
                for (int k = 0; k < N32; k++)
                    if (a->mask[k] == 255) {
                        full++;
                        for (int c = 0; c < 3; c++) m0[c] += a->img[3 * k + c], m1[c] += b->img[3 * k + c];
                    }
                for (int c = 0; c < 3; c++) {
                    double d = (m1[c] - m0[c]) / full, v = e[c] - main_rgb[c];
                    dot += d * v, nd += d * d, nv += v * v;
                }
                double cosine = dot / (sqrt(nd * nv) + 1e-12);
                EXPECT(cosine > 0.9 && sqrt(nd) > 0.1 * sqrt(nv), "subject %d %s: the mean moved by %g at cosine %g",
                       i, prop ? "purple" : "red", sqrt(nd), cosine);
                EXPECT(memcmp(a->mask, b->mask, sizeof(a->mask)) == 0, "subject %d: recolour changed the shape", i);
            } else if (prop == PROP_WET) {
                // most subject pixels get darker (the drops are a minority), and light-blue drops appear
                int full = 0, darker = 0;
                for (int k = 0; k < N32; k++)
                    if (a->mask[k] == 255 && b->mask[k] == 255) {
                        float l0 = a->img[3 * k] + a->img[3 * k + 1] + a->img[3 * k + 2];
                        float l1 = b->img[3 * k] + b->img[3 * k + 1] + b->img[3 * k + 2];
                        full++, darker += l1 < 0.85f * l0;
                    }
                EXPECT(darker > full / 3, "subject %d wet: %d of %d pixels darker", i, darker, full);
                float med = median_brightness(b);
                int drops = 0;
                for (int k = 0; k < N32; k++)
                    drops += b->mask[k] > 128 && b->img[3 * k] + b->img[3 * k + 1] + b->img[3 * k + 2] > med + 0.4f;
                EXPECT(drops >= 2, "subject %d wet: %d drop pixels", i, drops);
            } else if (prop == PROP_SHINY) { // highlights and sparkles: pixels become much brighter
                int lit = 0;
                for (int k = 0; k < N32; k++)
                    lit += (b->img[3 * k] + b->img[3 * k + 1] + b->img[3 * k + 2]) -
                               (a->img[3 * k] + a->img[3 * k + 1] + a->img[3 * k + 2]) > 0.4f;
                EXPECT(lit >= 2, "subject %d shiny: %d highlighted pixels", i, lit);
            } else { // cube: the silhouette changes
                int inter = 0, uni = 0;
                for (int k = 0; k < N32; k++) inter += a->mask[k] > 127 && b->mask[k] > 127, uni += a->mask[k] > 127 || b->mask[k] > 127;
                EXPECT(inter < 0.9 * uni, "subject %d cube: IoU %g", i, (double)inter / uni);
            }
        }
    }
    free(a);
    free(b);
    free(w);
}

// The mask is exactly where the subject was drawn: over black and over white, fully covered
// pixels are equal and uncovered pixels show the background untouched.
static void test_mask_covers_exactly_the_subject(void) {
    World *w = cg_malloc(sizeof(World));
    world_init(w, WORLD_DEFAULT_SUBJECTS_SEED);
    static float a[3 * 64 * 64], b[3 * 64 * 64], ca[64 * 64], cb[64 * 64];
    static unsigned char m[64 * 64];
    const int sizes[2] = {32, 64};
    for (int si = 0; si < 2; si++) {
        int S = sizes[si], n = S * S;
        for (int i = 0; i < WORLD_N_TEST; i++) {
            const Subject *s = world_subject(w, SPLIT_TEST, i);
            for (int variant = 0; variant < 3; variant++) {
                RenderPose pose;
                Prompt p, *pp = NULL;
                if (variant == 0) render_pose_reference(&pose, s, i % 4, S);
                else render_pose_target(&pose, (uint64_t)(40 + i), S);
                if (variant == 2) prompt_make(&p, s->cls, 10 + i % 15), pp = &p; // accessories and props
                for (int k = 0; k < 3 * n; k++) a[k] = 0.f, b[k] = 1.f;
                render_subject_over(a, ca, s, pp, &pose, S);
                render_subject_over(b, cb, s, pp, &pose, S);
                int full = 0, bad_full = 0, bad_empty = 0, bad_edge = 0;
                for (int k = 0; k < n; k++) {
                    EXPECT(ca[k] == cb[k], "coverage depends on the background");
                    if (ca[k] == 1.f) {
                        full++;
                        bad_full += memcmp(&a[3 * k], &b[3 * k], 3 * sizeof(float)) != 0;
                    } else if (ca[k] == 0.f) { // background only, but accessories may be drawn there
                        if (!pp) bad_empty += a[3 * k] != 0.f || b[3 * k] != 1.f;
                    } else { // partial: the background shows through by exactly 1 - coverage (no accessory)
                        if (!pp) bad_edge += fabsf((b[3 * k] - a[3 * k]) - (1.f - ca[k])) > 1e-4f;
                    }
                }
                EXPECT(pp || full > n / 80, "S %d subject %d: only %d fully covered pixels", S, i, full);
                EXPECT(bad_full == 0 && bad_empty == 0 && bad_edge == 0, "S %d subject %d variant %d: %d %d %d", S, i,
                       variant, bad_full, bad_empty, bad_edge);
            }
            // render_reference's mask is the quantized coverage of the same pose
            RenderPose pose;
            render_pose_reference(&pose, s, 0, S);
            for (int k = 0; k < 3 * n; k++) a[k] = RENDER_REFERENCE_BG;
            render_subject_over(a, ca, s, NULL, &pose, S);
            render_reference(b, m, s, 0, S);
            int off = 0;
            unsigned char want[64 * 64];
            render_mask_to_u8(want, ca, n);
            for (int k = 0; k < n; k++) {
                off += m[k] != want[k];
                off += (m[k] == 255) != (ca[k] == 1.f) || (m[k] == 0) != (ca[k] == 0.f); // 255 and 0 are exact
            }
            EXPECT(off == 0 && memcmp(a, b, sizeof(float) * 3 * (size_t)n) == 0, "reference mask off at %d pixels", off);
        }
    }
    free(w);
}

static void test_segmented_reference_and_sizes(void) {
    World *w = cg_malloc(sizeof(World));
    world_init(w, WORLD_DEFAULT_SUBJECTS_SEED);
    Render *a = cg_malloc(sizeof(Render)), *b = cg_malloc(sizeof(Render));
    const Subject *s = world_subject(w, SPLIT_TEST, 3);
    render_reference(a->img, a->mask, s, 2, S32);
    render_segmented_reference(b->img, b->mask, s, 2, S32);
    int bad = 0;
    for (int k = 0; k < N32; k++)
        for (int c = 0; c < 3; c++) {
            if (a->mask[k] == 0) bad += b->img[3 * k + c] != RENDER_NEUTRAL_FILL;
            if (a->mask[k] == 255) bad += b->img[3 * k + c] != a->img[3 * k + c];
        }
    EXPECT(bad == 0 && memcmp(a->mask, b->mask, sizeof(a->mask)) == 0, "segmentation: %d bad values", bad);
    // the same picture at 64: the mask area scales with the pixel count
    static float big[3 * 64 * 64];
    static unsigned char bigm[64 * 64];
    for (int i = 0; i < WORLD_N_TEST; i += 5) {
        const Subject *t = world_subject(w, SPLIT_TEST, i);
        Prompt p;
        prompt_make(&p, t->cls, 7);
        render_target(a->img, a->mask, t, &p, 9, S32);
        render_target(big, bigm, t, &p, 9, 64);
        double m32 = 0, m64 = 0;
        for (int k = 0; k < N32; k++) m32 += a->mask[k] / 255.0;
        for (int k = 0; k < 64 * 64; k++) m64 += bigm[k] / 255.0;
        EXPECT(fabs(m64 / 4 - m32) < 0.06 * m32, "subject %d: area %g at 32, %g/4 at 64", i, m32, m64 / 4);
        // and the 64 image averaged over 2x2 blocks is close to the 32 image
        double err = 0;
        for (int y = 0; y < S32; y++)
            for (int x = 0; x < S32; x++)
                for (int c = 0; c < 3; c++) {
                    double v = 0;
                    for (int d = 0; d < 4; d++) v += big[3 * ((2 * y + d / 2) * 64 + 2 * x + d % 2) + c] / 4.0;
                    err += fabs(v - a->img[3 * (y * S32 + x) + c]);
                }
        EXPECT(err / (3 * N32) < 0.05, "subject %d: 64 vs 32 mean abs difference %g", i, err / (3 * N32));
    }
    // odd and tiny sizes render without trouble
    static float small[3 * 17 * 17];
    static unsigned char smallm[17 * 17];
    render_reference(small, smallm, s, 0, 17);
    render_reference(small, smallm, s, 0, 1);
    EXPECT(small[0] >= 0.f && small[0] <= 1.f, "1x1 render");
    free(a);
    free(b);
    free(w);
}

static void test_render_is_thread_safe(void) {
    World *w = cg_malloc(sizeof(World));
    world_init(w, WORLD_DEFAULT_SUBJECTS_SEED);
    enum { N = 48 };
    Render *serial = cg_malloc(N * sizeof(Render)), *par = cg_malloc(N * sizeof(Render));
    for (int k = 0; k < N; k++) target(&serial[k], world_subject(w, SPLIT_TEST, k % WORLD_N_TEST), k % 25, (uint64_t)k);
#pragma omp parallel for num_threads(2) schedule(dynamic)
    for (int k = 0; k < N; k++) target(&par[k], world_subject(w, SPLIT_TEST, k % WORLD_N_TEST), k % 25, (uint64_t)k);
    EXPECT(memcmp(serial, par, N * sizeof(Render)) == 0, "parallel renders differ from serial ones");
    free(serial);
    free(par);
    free(w);
}

int main(void) {
    RUN(test_world_is_deterministic_and_seeded);
    RUN(test_splits_are_balanced_and_disjoint);
    RUN(test_prompts_have_dreambench_wording);
    RUN(test_prompts_parse_back);
    RUN(test_tokenizer_vocabulary_and_lengths);
    RUN(test_render_is_deterministic);
    RUN(test_scene_changes_background_not_subject);
    RUN(test_accessory_adds_pixels_near_subject);
    RUN(test_property_edits_conflict_with_identity);
    RUN(test_mask_covers_exactly_the_subject);
    RUN(test_segmented_reference_and_sizes);
    RUN(test_render_is_thread_safe);
    return test_summary("world");
}
