// subjects.c: the population of SubjectBench subjects drawn from a seed (see world.h for the rules).
#include "world/world.h"

#include <stdio.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"

static const char *const CLASS_WORDS[WORLD_N_CLASSES] = {
    "backpack", "bowl", "can",  "candle", "clock", "sneaker",        "boot",    "glasses",
    "teapot",   "vase", "cat",  "dog",    "stuffed animal", "toy", "cartoon",
};

static const char *const SHAPE_NAMES[WORLD_N_CLASSES][WORLD_N_SHAPES] = {
    {"classic", "wide", "tall"},       // backpack
    {"shallow", "deep", "fruit"},      // bowl
    {"standard", "slim", "squat"},     // can
    {"pillar", "wide", "taper"},       // candle
    {"round", "square", "alarm"},      // clock
    {"low", "high-top", "chunky"},     // sneaker
    {"ankle", "tall", "heeled"},       // boot
    {"round", "square", "cat-eye"},    // glasses
    {"round", "tall", "flat"},         // teapot
    {"bulb", "cylinder", "amphora"},   // vase
    {"sitting", "chubby", "slim"},     // cat
    {"medium", "puppy", "dachshund"},  // dog
    {"bear", "bunny", "wolf"},         // stuffed animal
    {"robot", "duck", "monster"},      // toy
    {"round", "bean", "blob"},         // cartoon
};

static const struct {
    const char *name;
    float rgb[3];
} PALETTE[WORLD_N_COLOURS] = {
    {"white", {0.95f, 0.95f, 0.93f}},  {"black", {0.13f, 0.13f, 0.15f}},
    {"grey", {0.55f, 0.56f, 0.58f}},   {"brown", {0.47f, 0.29f, 0.16f}},
    {"tan", {0.84f, 0.68f, 0.47f}},    {"orange", {0.96f, 0.55f, 0.13f}},
    {"yellow", {0.97f, 0.86f, 0.22f}}, {"green", {0.24f, 0.62f, 0.27f}},
    {"teal", {0.10f, 0.62f, 0.62f}},   {"blue", {0.20f, 0.42f, 0.86f}},
    {"navy", {0.12f, 0.17f, 0.42f}},   {"pink", {0.96f, 0.60f, 0.74f}},
    {"red", {0.86f, 0.12f, 0.12f}},    {"purple", {0.56f, 0.22f, 0.78f}},
};

static const char *const PATTERN_NAMES[WORLD_N_PATTERNS] = {
    "none", "hstripes", "vstripes", "diagonal", "dots", "checks", "twotone", "patches"};
static const char *const MARK_NAMES[WORLD_N_MARK_SHAPES] = {"dot",      "star", "square",
                                                            "triangle", "ring", "cross"};
static const char *const SPLIT_NAMES[WORLD_N_SPLITS] = {"train", "val", "test"};
static const int SPLIT_COUNTS[WORLD_N_SPLITS] = {WORLD_N_TRAIN, WORLD_N_VAL, WORLD_N_TEST};
static const int SPLIT_OFFSETS[WORLD_N_SPLITS] = {0, WORLD_N_TRAIN, WORLD_N_TRAIN + WORLD_N_VAL};

const char *world_class_word(int cls) {
    return cls >= 0 && cls < WORLD_N_CLASSES ? CLASS_WORDS[cls] : "?";
}
int world_class_kind(int cls) { return cls >= CLS_CAT ? KIND_LIVE : KIND_OBJECT; }
const char *world_kind_name(int kind) { return kind == KIND_LIVE ? "live" : "object"; }
const char *world_shape_name(int cls, int shape) {
    if (cls < 0 || cls >= WORLD_N_CLASSES || shape < 0 || shape >= WORLD_N_SHAPES) return "?";
    return SHAPE_NAMES[cls][shape];
}
const char *world_colour_name(int c) { return c >= 0 && c < WORLD_N_COLOURS ? PALETTE[c].name : "?"; }
void world_colour_rgb(int c, float rgb[3]) {
    CG_CHECK(c >= 0 && c < WORLD_N_COLOURS, "colour %d", c);
    memcpy(rgb, PALETTE[c].rgb, sizeof(PALETTE[c].rgb));
}
const char *world_pattern_name(int p) { return p >= 0 && p < WORLD_N_PATTERNS ? PATTERN_NAMES[p] : "?"; }
const char *world_mark_name(int m) { return m >= 0 && m < WORLD_N_MARK_SHAPES ? MARK_NAMES[m] : "?"; }
int world_split_count(int split) { return split >= 0 && split < WORLD_N_SPLITS ? SPLIT_COUNTS[split] : 0; }
const char *world_split_name(int split) { return split >= 0 && split < WORLD_N_SPLITS ? SPLIT_NAMES[split] : "?"; }
int world_split_from_name(const char *name) {
    for (int i = 0; i < WORLD_N_SPLITS; i++)
        if (strcmp(name, SPLIT_NAMES[i]) == 0) return i;
    return -1;
}

const Subject *world_subject(const World *w, int split, int index) {
    if (split < 0 || split >= WORLD_N_SPLITS || index < 0 || index >= SPLIT_COUNTS[split]) return NULL;
    return &w->subjects[SPLIT_OFFSETS[split] + index];
}

// Two colours are told apart when their RGB distance is at least 0.4 (rejects tan/orange,
// navy/black, blue/teal, which blur together at 32x32).
static int contrasts(int a, int b) {
    float d2 = 0;
    for (int k = 0; k < 3; k++) {
        float d = PALETTE[a].rgb[k] - PALETTE[b].rgb[k];
        d2 += d * d;
    }
    return d2 >= 0.16f;
}

static int marks_equal(const Subject *a, const Subject *b) {
    if (a->n_marks != b->n_marks) return 0;
    for (int i = 0; i < a->n_marks; i++) { // as sets: slots within a subject are distinct
        int found = 0;
        for (int j = 0; j < b->n_marks; j++)
            found |= a->marks[i].shape == b->marks[j].shape && a->marks[i].colour == b->marks[j].colour &&
                     a->marks[i].slot == b->marks[j].slot;
        if (!found) return 0;
    }
    return 1;
}

int subject_distance(const Subject *a, const Subject *b) {
    int d = 0;
    d += a->cls != b->cls;
    d += a->shape != b->shape;
    d += a->main_colour != b->main_colour;
    d += a->pattern != b->pattern;
    d += a->pattern != PAT_NONE && b->pattern != PAT_NONE && a->second_colour != b->second_colour;
    d += !marks_equal(a, b);
    return d;
}

void subject_describe(const Subject *s, char *buf, size_t len) {
    int n = snprintf(buf, len, "shape=%s main=%s pattern=%s", world_shape_name(s->cls, s->shape),
                     world_colour_name(s->main_colour), world_pattern_name(s->pattern));
    if (n < 0 || (size_t)n >= len) return;
    if (s->pattern != PAT_NONE) {
        n += snprintf(buf + n, len - (size_t)n, " second=%s", world_colour_name(s->second_colour));
        if ((size_t)n >= len) return;
    }
    n += snprintf(buf + n, len - (size_t)n, " marks=");
    for (int i = 0; i < s->n_marks && (size_t)n < len; i++)
        n += snprintf(buf + n, len - (size_t)n, "%s%s:%s@%d", i ? "," : "", world_mark_name(s->marks[i].shape),
                      world_colour_name(s->marks[i].colour), s->marks[i].slot);
}

// Draw the identity attributes of a subject of class `cls` (everything but split/index/uid).
static void draw_attributes(Subject *s, int cls, cg_rng *r) {
    s->cls = cls;
    s->kind = world_class_kind(cls);
    s->shape = (int)cg_rng_below(r, WORLD_N_SHAPES);
    s->main_colour = (int)cg_rng_below(r, WORLD_N_MAIN_COLOURS);
    s->pattern = (int)cg_rng_below(r, WORLD_N_PATTERNS);
    s->second_colour = s->main_colour;
    if (s->pattern != PAT_NONE) {
        do s->second_colour = (int)cg_rng_below(r, WORLD_N_COLOURS);
        while (!contrasts(s->second_colour, s->main_colour));
    }
    s->n_marks = 1 + (int)cg_rng_below(r, 2);
    memset(s->marks, 0, sizeof(s->marks));
    for (int i = 0; i < s->n_marks; i++) {
        Mark *m = &s->marks[i];
        m->shape = (uint8_t)cg_rng_below(r, WORLD_N_MARK_SHAPES);
        int c;
        do c = (int)cg_rng_below(r, WORLD_N_COLOURS);
        while (!contrasts(c, s->main_colour));
        m->colour = (uint8_t)c;
        do m->slot = (uint8_t)cg_rng_below(r, WORLD_N_MARK_SLOTS);
        while (i == 1 && m->slot == s->marks[0].slot);
    }
}

static void shuffle(int *a, int n, cg_rng *r) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)cg_rng_below(r, (uint32_t)(i + 1));
        int t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

void world_init(World *w, uint64_t seed) {
    memset(w, 0, sizeof(*w));
    w->subjects_seed = seed;
    Subject *test = &w->subjects[SPLIT_OFFSETS[SPLIT_TEST]];

    // Test split first. Classes: every object class once plus 5 at random a second time (15
    // objects), every live class three times (15 live); interleaved object, live, object, ...
    cg_rng r = cg_rng_make(seed, cg_rng_stream(WORLD_STREAM_SUBJECTS, SPLIT_TEST, 0));
    int objects[WORLD_N_TEST / 2], live[WORLD_N_TEST / 2], extra[WORLD_N_OBJECT_CLASSES];
    for (int i = 0; i < WORLD_N_OBJECT_CLASSES; i++) objects[i] = extra[i] = i;
    shuffle(extra, WORLD_N_OBJECT_CLASSES, &r);
    for (int i = WORLD_N_OBJECT_CLASSES; i < WORLD_N_TEST / 2; i++) objects[i] = extra[i - WORLD_N_OBJECT_CLASSES];
    for (int i = 0; i < WORLD_N_TEST / 2; i++) live[i] = CLS_CAT + i % WORLD_N_LIVE_CLASSES;
    shuffle(objects, WORLD_N_TEST / 2, &r);
    shuffle(live, WORLD_N_TEST / 2, &r);
    for (int i = 0; i < WORLD_N_TEST; i++) {
        Subject *s = &test[i];
        int cls = i % 2 == 0 ? objects[i / 2] : live[i / 2];
        for (int attempt = 0;; attempt++) {
            CG_CHECK(attempt < 100000, "cannot draw a distinct test subject %d", i);
            draw_attributes(s, cls, &r);
            int ok = 1;
            for (int j = 0; j < i && ok; j++)
                ok = subject_distance(s, &test[j]) >= 3 &&
                     !(test[j].cls == s->cls && test[j].main_colour == s->main_colour);
            if (ok) break;
        }
    }

    // Validation, then train: kinds alternate, classes uniform within the kind; a candidate is
    // redrawn while it is within distance 1 of a test subject or equal to an earlier subject.
    const int order[2] = {SPLIT_VAL, SPLIT_TRAIN};
    for (int k = 0; k < 2; k++) {
        int split = order[k];
        Subject *base = &w->subjects[SPLIT_OFFSETS[split]];
        r = cg_rng_make(seed, cg_rng_stream(WORLD_STREAM_SUBJECTS, (uint64_t)split, 0));
        for (int i = 0; i < SPLIT_COUNTS[split]; i++) {
            Subject *s = &base[i];
            for (int attempt = 0;; attempt++) {
                CG_CHECK(attempt < 100000, "cannot draw a distinct %s subject %d", SPLIT_NAMES[split], i);
                int cls = i % 2 == 0 ? (int)cg_rng_below(&r, WORLD_N_OBJECT_CLASSES)
                                     : CLS_CAT + (int)cg_rng_below(&r, WORLD_N_LIVE_CLASSES);
                draw_attributes(s, cls, &r);
                int ok = 1;
                for (int j = 0; j < WORLD_N_TEST && ok; j++) ok = subject_distance(s, &test[j]) >= 2;
                if (split == SPLIT_TRAIN) // distinct from every validation subject
                    for (int j = 0; j < WORLD_N_VAL && ok; j++)
                        ok = subject_distance(s, &w->subjects[SPLIT_OFFSETS[SPLIT_VAL] + j]) > 0;
                for (int j = 0; j < i && ok; j++) ok = subject_distance(s, &base[j]) > 0;
                if (ok) break;
            }
        }
    }

    for (int split = 0; split < WORLD_N_SPLITS; split++)
        for (int i = 0; i < SPLIT_COUNTS[split]; i++) {
            Subject *s = &w->subjects[SPLIT_OFFSETS[split] + i];
            s->split = split;
            s->index = i;
            s->uid = cg_rng_stream(WORLD_STREAM_SUBJECTS ^ seed, (uint64_t)split, (uint64_t)i);
        }
}
