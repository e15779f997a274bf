// world.h: SubjectBench's population of subjects, drawn from one seed (`--subjects-seed`).
//
// A subject is a DreamBench class word plus identity attributes that the renderer draws:
//   body shape (one of 3 variants of its class), main colour, pattern with a second colour,
//   and one or two small distinguishing marks (shape, colour, position slot on the body).
// World holds every subject of every split: train (WORLD_N_TRAIN), validation (WORLD_N_VAL) and
// test (WORLD_N_TEST = 30, as in DreamBench). The test split of a seed is never trained on.
//
// Classes and kinds. DreamBench has 15 class words; it gives cats and dogs the live-subject
// prompts (accessorization) and everything else the object prompts. cgrpo also treats the
// character-like classes "stuffed animal", "toy" and "cartoon" as live (they have a head to put a
// hat on), so 5 classes are live and 10 are objects. With an odd number of class words an equal
// split of CLASSES is impossible, so cgrpo balances the SUBJECTS instead: in every split,
// subject i is an object when i is even and live when i is odd (half and half, 15 + 15 in test).
//
// Disjointness: the test subjects are drawn first; they differ pairwise in at least 3 of the
// 6 identity attributes (class, shape, main colour, pattern, second colour, marks) and two test
// subjects of the same class never share a main colour. Every train or validation subject
// differs from every test subject in at least 2 attributes, and no two subjects of the whole
// population have the same attribute tuple. See subject_distance().
//
// Everything is a pure function of the seed: no globals, safe to call from any thread.
#ifndef CGRPO_WORLD_H
#define CGRPO_WORLD_H

#include <stddef.h>
#include <stdint.h>

#define WORLD_DEFAULT_SUBJECTS_SEED 1 // the seed of the documented benchmark (docs/)

#define WORLD_N_TRAIN 400
#define WORLD_N_VAL 40
#define WORLD_N_TEST 30
#define WORLD_N_SUBJECTS (WORLD_N_TRAIN + WORLD_N_VAL + WORLD_N_TEST)

enum { SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_TEST = 2, WORLD_N_SPLITS = 3 };
enum { KIND_OBJECT = 0, KIND_LIVE = 1 };

// Class indices (world_class_word gives the DreamBench word; two are two words long).
enum {
    CLS_BACKPACK, CLS_BOWL, CLS_CAN, CLS_CANDLE, CLS_CLOCK, CLS_SNEAKER, CLS_BOOT, CLS_GLASSES,
    CLS_TEAPOT, CLS_VASE,                                             // objects (10)
    CLS_CAT, CLS_DOG, CLS_STUFFED_ANIMAL, CLS_TOY, CLS_CARTOON,       // live (5)
    WORLD_N_CLASSES
};
#define WORLD_N_OBJECT_CLASSES 10
#define WORLD_N_LIVE_CLASSES 5
#define WORLD_N_SHAPES 3 // body shape variants per class (e.g. dog: medium, puppy, dachshund)

// Palette. Main colours are 0..WORLD_N_MAIN_COLOURS-1; red and purple are kept out of main
// colours so that the "red" and "purple" property edits always change the subject. Second
// colours and marks may use the whole palette.
enum {
    COL_WHITE, COL_BLACK, COL_GREY, COL_BROWN, COL_TAN, COL_ORANGE, COL_YELLOW, COL_GREEN,
    COL_TEAL, COL_BLUE, COL_NAVY, COL_PINK, COL_RED, COL_PURPLE, WORLD_N_COLOURS
};
#define WORLD_N_MAIN_COLOURS 12

enum {
    PAT_NONE, PAT_HSTRIPES, PAT_VSTRIPES, PAT_DIAGONAL, PAT_DOTS, PAT_CHECKS, PAT_TWOTONE,
    PAT_PATCHES, WORLD_N_PATTERNS
};
enum { MARK_DOT, MARK_STAR, MARK_SQUARE, MARK_TRIANGLE, MARK_RING, MARK_CROSS, WORLD_N_MARK_SHAPES };
#define WORLD_N_MARK_SLOTS 4 // positions on the body where a mark can sit (per class)

typedef struct {
    uint8_t shape;  // MARK_*
    uint8_t colour; // palette index, contrasts with the main colour
    uint8_t slot;   // 0..WORLD_N_MARK_SLOTS-1; the two marks of a subject use different slots
} Mark;

typedef struct {
    int split;         // SPLIT_*
    int index;         // index within its split
    int cls;           // CLS_*
    int kind;          // KIND_OBJECT / KIND_LIVE (a function of cls)
    int shape;         // 0..WORLD_N_SHAPES-1
    int main_colour;   // 0..WORLD_N_MAIN_COLOURS-1
    int pattern;       // PAT_*
    int second_colour; // palette index; equals main_colour when pattern == PAT_NONE (unused then)
    int n_marks;       // 1 or 2
    Mark marks[2];     // marks[n_marks..1] are zero
    uint64_t uid;      // mixes (subjects_seed, split, index): keys per-subject randomness
} Subject;

typedef struct {
    uint64_t subjects_seed;
    Subject subjects[WORLD_N_SUBJECTS]; // train 0..399, then val, then test (use world_subject)
} World;

// Build the whole population of a seed (about 30 KB, no allocation; deterministic).
void world_init(World *w, uint64_t subjects_seed);
// Subject `index` of a split, or NULL when split or index is out of range.
const Subject *world_subject(const World *w, int split, int index);
int world_split_count(int split);        // number of subjects in a split, 0 for a bad split
const char *world_split_name(int split); // "train", "val", "test"
int world_split_from_name(const char *name); // -1 when unknown

const char *world_class_word(int cls);   // "dog", "stuffed animal", ...
int world_class_kind(int cls);           // KIND_*
const char *world_kind_name(int kind);   // "object", "live"
const char *world_shape_name(int cls, int shape); // "puppy", "alarm", ...
const char *world_colour_name(int colour);
void world_colour_rgb(int colour, float rgb[3]); // in [0,1]
const char *world_pattern_name(int pattern);
const char *world_mark_name(int mark_shape);

// "shape=puppy main=brown pattern=dots second=white marks=star:yellow@1,dot:black@3"
void subject_describe(const Subject *s, char *buf, size_t len);
// Number of identity attributes (class, shape, main colour, pattern, second colour, marks as a
// set) in which a and b differ, 0..6. The second colour only counts when both have a pattern.
int subject_distance(const Subject *a, const Subject *b);

// RNG purpose tags (cg_rng_stream) used by the world; other modules pick other tags.
#define WORLD_STREAM_SUBJECTS 0x574f524c44000001ull // "WORLD" 1: drawing the population
#define WORLD_STREAM_REF_POSE 0x574f524c44000002ull // reference pose jitter (uid, pose index)
#define WORLD_STREAM_TARGET_POSE 0x574f524c44000003ull // target placement (seed)
#define WORLD_STREAM_SCENE 0x574f524c44000004ull    // scene details (seed, scene)
#define WORLD_STREAM_SUBJECT_LOOK 0x574f524c44000005ull // per-subject pattern details (uid)

#endif
