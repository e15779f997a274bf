// draw_subject.c: the subject's look (colours, pattern, marks, property edits) and the geometry of
// the 15 classes x 3 body shapes, as unions of signed-distance parts in local units.
//
// A subject sample is built back to front like a painter: each part (a body region in the main
// colour with its pattern and marks, or a detail in a fixed colour: eyes, soles, flames, clock
// hands) is composited "over" the previous ones with its anti-aliased coverage, in premultiplied
// colour. The silhouette distance is the union (min) of the parts; it draws a thin dark outline.
#include <string.h>

#include "core/rng.h"
#include "world/canvas.h"
#include "world/draw.h"

// Per (class, shape): the main body area (centre, half sizes) used by patches, highlights and
// drops; the 4 mark slots; the accessory anchors.
typedef struct {
    float body[4];     // bx, by, bw, bh
    float slots[4][2]; // mark centres
    Anchors a;         // hx hy hr | e1x e1y | e2x e2y er | nx ny nw | tx ty th
} ClassGeo;

static const ClassGeo GEO[WORLD_N_CLASSES][WORLD_N_SHAPES] = {
    { // backpack: classic, wide, tall
        {{0, 0.06f, 0.24f, 0.28f}, {{-0.13f, -0.12f}, {0.13f, -0.12f}, {-0.13f, 0.04f}, {0.13f, 0.04f}},
         {0, -0.2f, 0.18f, 0.08f, -0.18f, -0.08f, -0.18f, 0.05f, 0, -0.05f, 0.28f, 0, 0.1f, 0.36f}},
        {{0, 0.14f, 0.3f, 0.24f}, {{-0.2f, 0.06f}, {0.2f, 0.06f}, {-0.2f, 0.26f}, {0.2f, 0.26f}},
         {0, -0.12f, 0.2f, 0.08f, -0.1f, -0.08f, -0.1f, 0.05f, 0, 0.0f, 0.36f, 0, 0.14f, 0.32f}},
        {{0, 0.04f, 0.2f, 0.3f}, {{-0.1f, -0.18f}, {0.1f, -0.18f}, {-0.1f, -0.0f}, {0.1f, -0.0f}},
         {0, -0.24f, 0.16f, 0.07f, -0.24f, -0.07f, -0.24f, 0.05f, 0, -0.1f, 0.24f, 0, 0.07f, 0.4f}},
    },
    { // bowl: shallow, deep, fruit
        {{0, 0.24f, 0.36f, 0.12f}, {{-0.28f, 0.2f}, {-0.1f, 0.26f}, {0.1f, 0.26f}, {0.28f, 0.2f}},
         {0, 0.0f, 0.2f, 0.08f, 0.0f, -0.08f, 0.0f, 0.05f, 0, 0.12f, 0.46f, 0, 0.26f, 0.16f}},
        {{0, 0.17f, 0.28f, 0.2f}, {{-0.22f, 0.06f}, {0.0f, 0.08f}, {0.22f, 0.06f}, {0.0f, 0.28f}},
         {0, -0.16f, 0.2f, 0.08f, -0.16f, -0.08f, -0.16f, 0.05f, 0, -0.05f, 0.4f, 0, 0.18f, 0.24f}},
        {{0, 0.31f, 0.34f, 0.1f}, {{-0.26f, 0.27f}, {-0.09f, 0.33f}, {0.09f, 0.33f}, {0.26f, 0.27f}},
         {0, -0.04f, 0.2f, 0.08f, -0.05f, -0.08f, -0.05f, 0.05f, 0, 0.18f, 0.44f, 0, 0.32f, 0.14f}},
    },
    { // can: standard, slim, squat
        {{0, 0.06f, 0.16f, 0.3f}, {{-0.09f, -0.12f}, {0.09f, -0.02f}, {-0.09f, 0.12f}, {0.09f, 0.24f}},
         {0, -0.3f, 0.2f, 0.08f, -0.2f, -0.08f, -0.2f, 0.05f, 0, -0.2f, 0.24f, 0, 0.06f, 0.4f}},
        {{0, 0.04f, 0.12f, 0.34f}, {{-0.06f, -0.18f}, {0.06f, -0.04f}, {-0.06f, 0.1f}, {0.06f, 0.24f}},
         {0, -0.36f, 0.16f, 0.07f, -0.26f, -0.07f, -0.26f, 0.05f, 0, -0.26f, 0.18f, 0, 0.04f, 0.44f}},
        {{0, 0.2f, 0.24f, 0.2f}, {{-0.16f, 0.1f}, {0.16f, 0.1f}, {-0.16f, 0.3f}, {0.16f, 0.3f}},
         {0, -0.05f, 0.22f, 0.1f, 0.04f, -0.1f, 0.04f, 0.05f, 0, 0.04f, 0.32f, 0, 0.2f, 0.28f}},
    },
    { // candle: pillar, wide, taper
        {{0, 0.16f, 0.16f, 0.26f}, {{-0.09f, 0.0f}, {0.09f, 0.1f}, {-0.09f, 0.22f}, {0.09f, 0.34f}},
         {0, -0.2f, 0.16f, 0.07f, -0.05f, -0.07f, -0.05f, 0.05f, 0, -0.1f, 0.22f, 0, 0.16f, 0.32f}},
        {{0, 0.22f, 0.26f, 0.2f}, {{-0.17f, 0.1f}, {0.17f, 0.1f}, {-0.17f, 0.3f}, {0.17f, 0.3f}},
         {0, -0.08f, 0.2f, 0.08f, 0.08f, -0.08f, 0.08f, 0.05f, 0, 0.0f, 0.34f, 0, 0.22f, 0.26f}},
        {{0, 0.06f, 0.1f, 0.26f}, {{-0.04f, -0.14f}, {0.04f, -0.01f}, {-0.04f, 0.12f}, {0.04f, 0.25f}},
         {0, -0.24f, 0.12f, 0.04f, -0.1f, -0.04f, -0.1f, 0.04f, 0, -0.14f, 0.14f, 0, 0.06f, 0.34f}},
    },
    { // clock: round, square, alarm
        {{0, 0.04f, 0.36f, 0.36f}, {{-0.26f, -0.22f}, {0.26f, -0.22f}, {-0.26f, 0.3f}, {0.26f, 0.3f}},
         {0, -0.16f, 0.28f, 0.12f, -0.02f, -0.12f, -0.02f, 0.06f, 0, 0.3f, 0.3f, 0, 0.04f, 0.44f}},
        {{0, 0.04f, 0.36f, 0.36f}, {{-0.35f, -0.31f}, {0.35f, -0.31f}, {-0.35f, 0.39f}, {0.35f, 0.39f}},
         {0, -0.16f, 0.28f, 0.12f, -0.02f, -0.12f, -0.02f, 0.06f, 0, 0.3f, 0.3f, 0, 0.04f, 0.44f}},
        {{0, 0.1f, 0.28f, 0.28f}, {{-0.2f, -0.1f}, {0.2f, -0.1f}, {-0.2f, 0.3f}, {0.2f, 0.3f}},
         {0, -0.12f, 0.26f, 0.1f, 0.06f, -0.1f, 0.06f, 0.06f, 0, 0.3f, 0.26f, 0, 0.1f, 0.34f}},
    },
    { // sneaker: low, high-top, chunky
        {{-0.06f, 0.22f, 0.3f, 0.1f}, {{-0.3f, 0.22f}, {-0.1f, 0.26f}, {0.22f, 0.28f}, {0.36f, 0.24f}},
         {-0.22f, -0.02f, 0.14f, -0.18f, 0.02f, -0.28f, 0.02f, 0.05f, -0.22f, 0.02f, 0.16f, 0, 0.22f, 0.14f}},
        {{-0.1f, 0.14f, 0.26f, 0.16f}, {{-0.3f, -0.1f}, {-0.26f, 0.12f}, {0.14f, 0.28f}, {0.34f, 0.26f}},
         {-0.22f, -0.3f, 0.14f, -0.18f, -0.26f, -0.28f, -0.26f, 0.05f, -0.22f, -0.22f, 0.16f, 0, 0.16f, 0.2f}},
        {{-0.06f, 0.16f, 0.3f, 0.08f}, {{-0.3f, 0.14f}, {-0.12f, 0.18f}, {0.2f, 0.2f}, {0.36f, 0.18f}},
         {-0.22f, -0.08f, 0.14f, -0.18f, -0.06f, -0.28f, -0.06f, 0.05f, -0.22f, -0.04f, 0.16f, 0, 0.16f, 0.14f}},
    },
    { // boot: ankle, tall, heeled
        {{-0.08f, 0.12f, 0.26f, 0.16f}, {{-0.2f, -0.12f}, {-0.08f, 0.04f}, {-0.2f, 0.2f}, {0.22f, 0.28f}},
         {-0.14f, -0.26f, 0.16f, -0.08f, -0.26f, -0.2f, -0.26f, 0.05f, -0.14f, -0.2f, 0.2f, 0, 0.1f, 0.3f}},
        {{-0.12f, 0.0f, 0.2f, 0.32f}, {{-0.2f, -0.32f}, {-0.08f, -0.14f}, {-0.2f, 0.06f}, {0.22f, 0.3f}},
         {-0.14f, -0.42f, 0.16f, -0.08f, -0.42f, -0.2f, -0.42f, 0.05f, -0.14f, -0.38f, 0.2f, 0, 0.0f, 0.4f}},
        {{-0.1f, 0.1f, 0.22f, 0.2f}, {{-0.24f, -0.14f}, {-0.12f, 0.02f}, {-0.24f, 0.16f}, {0.2f, 0.32f}},
         {-0.18f, -0.26f, 0.15f, -0.1f, -0.26f, -0.24f, -0.26f, 0.05f, -0.18f, -0.2f, 0.18f, 0, 0.08f, 0.3f}},
    },
    { // glasses: round, square, cat-eye
        {{0, 0.2f, 0.46f, 0.2f}, {{-0.25f, 0.02f}, {0.25f, 0.02f}, {-0.42f, 0.24f}, {0.42f, 0.24f}},
         {0, 0.06f, 0.16f, 0.25f, 0.2f, -0.25f, 0.2f, 0.08f, 0, 0.3f, 0.46f, 0, 0.2f, 0.2f}},
        {{0, 0.2f, 0.46f, 0.2f}, {{-0.25f, 0.04f}, {0.25f, 0.04f}, {-0.43f, 0.22f}, {0.43f, 0.22f}},
         {0, 0.06f, 0.16f, 0.25f, 0.2f, -0.25f, 0.2f, 0.08f, 0, 0.3f, 0.46f, 0, 0.2f, 0.2f}},
        {{0, 0.2f, 0.46f, 0.2f}, {{-0.3f, 0.04f}, {0.3f, 0.04f}, {-0.2f, 0.36f}, {0.2f, 0.36f}},
         {0, 0.06f, 0.16f, 0.25f, 0.2f, -0.25f, 0.2f, 0.08f, 0, 0.3f, 0.46f, 0, 0.2f, 0.2f}},
    },
    { // teapot: round, tall, flat
        {{0, 0.14f, 0.26f, 0.22f}, {{-0.14f, 0.02f}, {0.14f, 0.02f}, {-0.14f, 0.24f}, {0.14f, 0.24f}},
         {0, -0.14f, 0.17f, 0.08f, 0.1f, -0.08f, 0.1f, 0.05f, 0, -0.06f, 0.22f, 0, 0.16f, 0.26f}},
        {{0, 0.1f, 0.2f, 0.28f}, {{-0.1f, -0.08f}, {0.1f, -0.08f}, {-0.1f, 0.24f}, {0.1f, 0.24f}},
         {0, -0.26f, 0.15f, 0.07f, -0.04f, -0.07f, -0.04f, 0.05f, 0, -0.18f, 0.18f, 0, 0.1f, 0.32f}},
        {{0, 0.24f, 0.3f, 0.14f}, {{-0.2f, 0.18f}, {0.2f, 0.18f}, {-0.12f, 0.32f}, {0.12f, 0.32f}},
         {0, 0.0f, 0.17f, 0.08f, 0.2f, -0.08f, 0.2f, 0.05f, 0, 0.08f, 0.26f, 0, 0.24f, 0.18f}},
    },
    { // vase: bulb, cylinder, amphora
        {{0, 0.2f, 0.22f, 0.2f}, {{-0.14f, 0.1f}, {0.14f, 0.1f}, {-0.14f, 0.3f}, {0.14f, 0.3f}},
         {0, -0.32f, 0.15f, 0.06f, -0.16f, -0.06f, -0.16f, 0.05f, 0, -0.14f, 0.12f, 0, 0.2f, 0.28f}},
        {{0, 0.04f, 0.16f, 0.36f}, {{-0.1f, -0.2f}, {0.1f, -0.04f}, {-0.1f, 0.12f}, {0.1f, 0.28f}},
         {0, -0.42f, 0.2f, 0.08f, -0.28f, -0.08f, -0.28f, 0.05f, 0, -0.32f, 0.22f, 0, 0.04f, 0.44f}},
        {{0, 0.12f, 0.18f, 0.24f}, {{-0.12f, 0.0f}, {0.12f, 0.0f}, {-0.12f, 0.22f}, {0.12f, 0.22f}},
         {0, -0.36f, 0.14f, 0.06f, -0.22f, -0.06f, -0.22f, 0.05f, 0, -0.2f, 0.12f, 0, 0.12f, 0.3f}},
    },
    { // cat: sitting, chubby, slim
        {{0, 0.2f, 0.2f, 0.24f}, {{-0.11f, 0.1f}, {0.11f, 0.1f}, {-0.11f, 0.3f}, {0.11f, 0.3f}},
         {0, -0.17f, 0.19f, 0.075f, -0.19f, -0.075f, -0.19f, 0.045f, 0, 0.0f, 0.15f, 0, 0.2f, 0.29f}},
        {{0, 0.22f, 0.27f, 0.22f}, {{-0.15f, 0.14f}, {0.15f, 0.14f}, {-0.15f, 0.32f}, {0.15f, 0.32f}},
         {0, -0.13f, 0.2f, 0.08f, -0.15f, -0.08f, -0.15f, 0.045f, 0, 0.05f, 0.17f, 0, 0.22f, 0.28f}},
        {{0, 0.22f, 0.15f, 0.24f}, {{-0.08f, 0.12f}, {0.08f, 0.12f}, {-0.08f, 0.32f}, {0.08f, 0.32f}},
         {0, -0.14f, 0.17f, 0.065f, -0.16f, -0.065f, -0.16f, 0.04f, 0, 0.02f, 0.13f, 0, 0.22f, 0.28f}},
    },
    { // dog: medium, puppy, dachshund
        {{-0.05f, 0.1f, 0.26f, 0.13f}, {{-0.25f, 0.05f}, {0.06f, 0.04f}, {-0.1f, 0.16f}, {-0.1f, -0.02f}},
         {0.27f, -0.17f, 0.15f, 0.31f, -0.2f, 0.21f, -0.21f, 0.045f, 0.17f, -0.02f, 0.09f, -0.05f, 0.1f, 0.16f}},
        {{-0.06f, 0.16f, 0.22f, 0.12f}, {{-0.22f, 0.12f}, {0.02f, 0.12f}, {-0.1f, 0.2f}, {-0.1f, 0.05f}},
         {0.22f, -0.1f, 0.19f, 0.27f, -0.14f, 0.16f, -0.15f, 0.05f, 0.12f, 0.05f, 0.1f, -0.06f, 0.16f, 0.15f}},
        {{-0.04f, 0.2f, 0.36f, 0.1f}, {{-0.3f, 0.18f}, {-0.1f, 0.16f}, {0.1f, 0.18f}, {-0.2f, 0.24f}},
         {0.34f, 0.0f, 0.13f, 0.37f, -0.03f, 0.29f, -0.04f, 0.04f, 0.26f, 0.1f, 0.08f, -0.04f, 0.2f, 0.13f}},
    },
    { // stuffed animal: bear, bunny, wolf
        {{0, 0.22f, 0.2f, 0.2f}, {{-0.1f, 0.12f}, {0.1f, 0.12f}, {-0.1f, 0.3f}, {0.1f, 0.3f}},
         {0, -0.14f, 0.2f, 0.075f, -0.17f, -0.075f, -0.17f, 0.045f, 0, 0.05f, 0.15f, 0, 0.22f, 0.24f}},
        {{0, 0.22f, 0.2f, 0.2f}, {{-0.1f, 0.12f}, {0.1f, 0.12f}, {-0.1f, 0.3f}, {0.1f, 0.3f}},
         {0, -0.1f, 0.18f, 0.07f, -0.12f, -0.07f, -0.12f, 0.045f, 0, 0.07f, 0.14f, 0, 0.22f, 0.24f}},
        {{0, 0.22f, 0.2f, 0.2f}, {{-0.1f, 0.12f}, {0.1f, 0.12f}, {-0.1f, 0.3f}, {0.1f, 0.3f}},
         {0, -0.12f, 0.19f, 0.075f, -0.15f, -0.075f, -0.15f, 0.045f, 0, 0.06f, 0.15f, 0, 0.22f, 0.24f}},
    },
    { // toy: robot, duck, monster
        {{0, 0.14f, 0.2f, 0.18f}, {{-0.12f, 0.06f}, {0.12f, 0.06f}, {-0.12f, 0.24f}, {0.12f, 0.24f}},
         {0, -0.2f, 0.16f, 0.07f, -0.21f, -0.07f, -0.21f, 0.045f, 0, -0.04f, 0.12f, 0, 0.14f, 0.2f}},
        {{-0.02f, 0.24f, 0.3f, 0.18f}, {{-0.28f, 0.3f}, {0.2f, 0.32f}, {0.22f, 0.14f}, {-0.05f, 0.38f}},
         {0.14f, -0.14f, 0.18f, 0.19f, -0.18f, 0.1f, -0.18f, 0.04f, 0.1f, 0.04f, 0.12f, -0.02f, 0.24f, 0.22f}},
        {{0, 0.1f, 0.28f, 0.28f}, {{-0.24f, 0.0f}, {0.24f, 0.0f}, {-0.2f, 0.3f}, {0.2f, 0.3f}},
         {0, -0.12f, 0.24f, 0.05f, -0.02f, -0.05f, -0.02f, 0.1f, 0, 0.3f, 0.28f, 0, 0.25f, 0.18f}},
    },
    { // cartoon: round, bean, blob
        {{0, 0.06f, 0.3f, 0.3f}, {{-0.24f, 0.16f}, {0.24f, 0.16f}, {-0.13f, 0.3f}, {0.13f, 0.3f}},
         {0, -0.14f, 0.24f, 0.11f, -0.06f, -0.11f, -0.06f, 0.085f, 0, 0.22f, 0.28f, 0, 0.24f, 0.16f}},
        {{0, 0.1f, 0.22f, 0.3f}, {{-0.14f, 0.06f}, {0.14f, 0.06f}, {-0.12f, 0.26f}, {0.12f, 0.26f}},
         {0, -0.18f, 0.22f, 0.09f, -0.16f, -0.09f, -0.16f, 0.07f, 0, 0.1f, 0.24f, 0, 0.24f, 0.2f}},
        {{0, 0.26f, 0.34f, 0.12f}, {{-0.3f, 0.32f}, {0.3f, 0.32f}, {-0.18f, -0.02f}, {0.18f, -0.02f}},
         {0.02f, -0.1f, 0.2f, 0.1f, 0.13f, -0.1f, 0.13f, 0.065f, 0, 0.24f, 0.36f, 0, 0.3f, 0.14f}},
    },
};

// Mark slots and body area of the cube edit (front face).
static const float CUBE_SLOTS[4][2] = {{-0.24f, 0.3f}, {0.1f, 0.3f}, {-0.24f, 0.12f}, {0.1f, 0.12f}};
static const float CUBE_BODY[4] = {-0.07f, 0.1f, 0.3f, 0.3f};

#define MARK_RADIUS 0.085f
#define OUTLINE_WIDTH 0.035f

void subject_look_init(SubjectLook *lk, const Subject *s, int property, float k) {
    memset(lk, 0, sizeof(*lk));
    lk->cls = s->cls;
    lk->shape = s->shape;
    lk->pattern = s->pattern;
    lk->property = property;
    lk->k = k;
    world_colour_rgb(s->main_colour, lk->main);
    world_colour_rgb(s->second_colour, lk->second);
    if (property == PROP_RED) world_colour_rgb(COL_RED, lk->main);
    if (property == PROP_PURPLE) world_colour_rgb(COL_PURPLE, lk->main);
    const ClassGeo *g = &GEO[s->cls][s->shape];
    int cube = property == PROP_CUBE;
    memcpy(lk->body, cube ? CUBE_BODY : g->body, sizeof(lk->body));
    lk->anchors = g->a;
    lk->n_marks = s->n_marks;
    for (int i = 0; i < s->n_marks; i++) {
        lk->mark_shape[i] = s->marks[i].shape;
        world_colour_rgb(s->marks[i].colour, lk->mark_rgb[i]);
        const float *xy = cube ? CUBE_SLOTS[s->marks[i].slot] : g->slots[s->marks[i].slot];
        lk->mark_xy[i][0] = xy[0];
        lk->mark_xy[i][1] = xy[1];
    }
    // patches: three blobs inside the body area, placed by the subject's own randomness
    cg_rng r = cg_rng_make(s->uid, cg_rng_stream(WORLD_STREAM_SUBJECT_LOOK, 0, 0));
    for (int i = 0; i < 3; i++) {
        float u = (float)cg_rng_uniform(&r), v = (float)cg_rng_uniform(&r), w = (float)cg_rng_uniform(&r);
        lk->patches[i][0] = lk->body[0] + (2 * u - 1) * lk->body[2] * 0.9f;
        lk->patches[i][1] = lk->body[1] + (2 * v - 1) * lk->body[3] * 0.9f;
        float m = lk->body[2] < lk->body[3] ? lk->body[2] : lk->body[3];
        lk->patches[i][2] = clampf((0.45f + 0.3f * w) * m, 0.07f, 0.2f);
    }
}

// ---- colour of the body material at a point: pattern, then marks ------------------------------

#define PERIOD 0.2f
static float pattern_amount(const SubjectLook *lk, float x, float y) {
    float k = lk->k, u = x - lk->body[0], v = y - lk->body[1];
    switch (lk->pattern) {
    case PAT_HSTRIPES: return cov((fabsf(fractf(v / PERIOD) - 0.5f) - 0.25f) * PERIOD, k);
    case PAT_VSTRIPES: return cov((fabsf(fractf(u / PERIOD) - 0.5f) - 0.25f) * PERIOD, k);
    case PAT_DIAGONAL: return cov((fabsf(fractf((u + v) * 0.7071f / PERIOD) - 0.5f) - 0.25f) * PERIOD, k);
    case PAT_DOTS: {
        float row = floorf(v / PERIOD + 0.5f);
        float cu = fractf(u / PERIOD + 0.5f * fabsf(fmodf(row, 2.f))) - 0.5f, cv = v / PERIOD - row;
        return cov((lenf(cu, cv) - 0.27f) * PERIOD, k);
    }
    case PAT_CHECKS: {
        float fu = u / PERIOD + 0.5f, fv = v / PERIOD + 0.5f; // a cell centred on the body
        int parity = ((int)floorf(fu) + (int)floorf(fv)) & 1;
        float a = fractf(fu), b = fractf(fv);
        float e = fminf(fminf(a, 1 - a), fminf(b, 1 - b)) * PERIOD; // distance to the cell border
        return parity ? cov(-e, k) : 1.f - cov(-e, k);
    }
    case PAT_TWOTONE: return cov(lk->body[1] + 0.15f * lk->body[3] - y, k); // lower part
    case PAT_PATCHES: {
        float d = 1e9f;
        for (int i = 0; i < 3; i++)
            d = fminf(d, sd_circle(x, y, lk->patches[i][0], lk->patches[i][1], lk->patches[i][2]));
        return cov(d, k);
    }
    default: return 0.f;
    }
}

static float sd_mark(int shape, float x, float y, float cx, float cy, float r) {
    switch (shape) {
    case MARK_STAR: return sd_star5(x, y, cx, cy, r * 1.25f, 0.5f);
    case MARK_SQUARE: return sd_box(x, y, cx, cy, r * 0.85f, r * 0.85f, r * 0.15f);
    case MARK_TRIANGLE: return sd_tri(x, y, cx, cy - r * 1.1f, cx + r * 1.05f, cy + r * 0.75f, cx - r * 1.05f, cy + r * 0.75f);
    case MARK_RING: return fabsf(lenf(x - cx, y - cy) - r * 0.72f) - r * 0.32f;
    case MARK_CROSS:
        return fminf(sd_box(x, y, cx, cy, r * 1.05f, r * 0.36f, 0), sd_box(x, y, cx, cy, r * 0.36f, r * 1.05f, 0));
    default: return lenf(x - cx, y - cy) - r;
    }
}

static void body_material(const SubjectLook *lk, float x, float y, float c[3]) {
    memcpy(c, lk->main, sizeof(lk->main));
    if (lk->pattern != PAT_NONE) mix3(c, lk->second, pattern_amount(lk, x, y));
    for (int i = 0; i < lk->n_marks; i++) {
        float d = sd_mark(lk->mark_shape[i], x, y, lk->mark_xy[i][0], lk->mark_xy[i][1], MARK_RADIUS);
        if (d < 0.1f) mix3(c, lk->mark_rgb[i], cov(d, lk->k));
    }
}

// ---- painter state ----------------------------------------------------------------------------

typedef struct {
    float x, y, k;
    float P[3], A;  // premultiplied colour and coverage so far
    float d;        // silhouette distance so far
    float torso;    // torso distance (outfits); +inf until a class sets it
    float body[3];  // the body material at this point
} Painter;

// A part in a fixed colour.
static inline void part(Painter *g, float d, const float col[3]) {
    if (d < g->d) g->d = d;
    float a = cov(d, g->k);
    if (a <= 0.f) return;
    for (int c = 0; c < 3; c++) g->P[c] = g->P[c] * (1 - a) + col[c] * a;
    g->A = g->A * (1 - a) + a;
}
static inline void part_rgb(Painter *g, float d, float r, float gg, float b) {
    const float col[3] = {r, gg, b};
    part(g, d, col);
}
// A part in the body material, times a shade (1 = as is).
static inline void part_body(Painter *g, float d, float shade) {
    float col[3] = {g->body[0], g->body[1], g->body[2]};
    if (shade != 1.f) scale3(col, shade);
    part(g, d, col);
}
// A part in the body material mixed towards white by t (muzzles, lighter faces).
static inline void part_light(Painter *g, float d, float t) {
    float col[3] = {g->body[0] + (1 - g->body[0]) * t, g->body[1] + (1 - g->body[1]) * t,
                    g->body[2] + (1 - g->body[2]) * t};
    part(g, d, col);
}
// Eye: a dark dot with a tiny light glint.
static inline void eye(Painter *g, float cx, float cy, float r) {
    part_rgb(g, sd_circle(g->x, g->y, cx, cy, r), 0.08f, 0.07f, 0.07f);
    part_rgb(g, sd_circle(g->x, g->y, cx + 0.3f * r, cy - 0.35f * r, 0.3f * r), 0.95f, 0.95f, 0.95f);
}
// Upper half (y < cy) of a ring of radius r and half thickness t.
static inline float sd_arch(float x, float y, float cx, float cy, float r, float t) {
    return fmaxf(fabsf(lenf(x - cx, y - cy) - r) - t, y - cy);
}

// ---- the classes ----------------------------------------------------------------------------------

static void draw_backpack(Painter *g, int v) {
    float x = g->x, y = g->y;
    if (v == 0) {
        part_body(g, sd_arch(x, y, 0, -0.28f, 0.09f, 0.025f), 0.7f); // handle
        part_body(g, sd_box(x, y, 0, 0.08f, 0.3f, 0.38f, 0.14f), 1.f);
        part_body(g, sd_box(x, y, 0, 0.3f, 0.2f, 0.13f, 0.06f), 0.78f); // pocket
        part_rgb(g, sd_capsule(x, y, -0.17f, 0.2f, 0.17f, 0.2f, 0.012f), 0.25f, 0.25f, 0.25f); // zip
        part_rgb(g, sd_circle(x, y, 0.12f, 0.2f, 0.025f), 0.8f, 0.8f, 0.8f);
    } else if (v == 1) {
        part_body(g, sd_arch(x, y, 0, -0.21f, 0.08f, 0.025f), 0.7f);
        part_body(g, sd_box(x, y, 0, 0.14f, 0.38f, 0.34f, 0.12f), 1.f);
        part_body(g, fmaxf(sd_ellipse(x, y, 0, -0.2f, 0.38f, 0.24f), -0.2f - y + 0.0f), 0.72f); // flap
        part_rgb(g, sd_box(x, y, 0, 0.04f, 0.05f, 0.04f, 0.01f), 0.85f, 0.75f, 0.35f);           // buckle
    } else {
        part_body(g, sd_arch(x, y, 0, -0.36f, 0.07f, 0.022f), 0.7f);
        part_body(g, sd_box(x, y, 0, 0.07f, 0.25f, 0.42f, 0.2f), 1.f);
        part_body(g, sd_box(x, y, 0, 0.31f, 0.17f, 0.11f, 0.05f), 0.78f);
        part_rgb(g, sd_capsule(x, y, -0.13f, 0.23f, 0.13f, 0.23f, 0.012f), 0.25f, 0.25f, 0.25f);
    }
    g->torso = g->d;
}

static void draw_bowl(Painter *g, int v) {
    float x = g->x, y = g->y;
    static const float P[3][6] = { // cy, rx, ry (bowl), rim ry, foot y, foot half width
        {0.1f, 0.48f, 0.3f, 0.08f, 0.43f, 0.16f},
        {-0.05f, 0.4f, 0.45f, 0.1f, 0.44f, 0.14f},
        {0.18f, 0.46f, 0.26f, 0.07f, 0.45f, 0.15f}};
    const float *p = P[v];
    if (v == 2) { // fruit piled in the bowl, behind its front wall
        part_rgb(g, sd_circle(x, y, -0.2f, 0.1f, 0.1f), 0.75f, 0.08f, 0.15f);
        part_rgb(g, sd_circle(x, y, 0.17f, 0.09f, 0.1f), 0.75f, 0.08f, 0.15f);
        part_rgb(g, sd_circle(x, y, -0.02f, 0.04f, 0.11f), 0.2f, 0.2f, 0.55f);
        part_rgb(g, sd_circle(x, y, 0.0f, -0.07f, 0.07f), 0.85f, 0.15f, 0.2f);
        part_rgb(g, sd_ellipse(x, y, 0.06f, -0.15f, 0.05f, 0.025f), 0.2f, 0.6f, 0.2f);
    }
    part_body(g, sd_box(x, y, 0, p[4], p[5], 0.05f, 0.02f), 0.8f); // foot
    part_body(g, fmaxf(sd_ellipse(x, y, 0, p[0], p[1], p[2]), p[0] - y), 1.f);
    if (v != 2) {
        part_body(g, sd_ellipse(x, y, 0, p[0], p[1], p[3]), 1.15f); // rim
        float in[3] = {g->body[0] * 0.55f, g->body[1] * 0.55f, g->body[2] * 0.55f};
        part(g, sd_ellipse(x, y, 0, p[0] + 0.01f, p[1] - 0.05f, p[3] - 0.025f), in); // inside
    } else {
        part_body(g, fmaxf(sd_ellipse(x, y, 0, p[0], p[1], p[3]), p[0] - y), 1.15f); // front rim
    }
    g->torso = g->d;
}

static void draw_can(Painter *g, int v) {
    float x = g->x, y = g->y;
    static const float P[3][3] = {{0.06f, 0.22f, 0.42f}, {0.04f, 0.16f, 0.46f}, {0.2f, 0.3f, 0.3f}};
    float cy = P[v][0], hw = P[v][1], hh = P[v][2], top = cy - hh + 0.04f;
    part_body(g, sd_box(x, y, 0, cy, hw, hh - 0.02f, 0.03f), 1.f);
    part_rgb(g, fmaxf(sd_box(x, y, 0, cy, hw, hh - 0.02f, 0.03f), cy + hh - 0.07f - y), 0.78f, 0.79f, 0.82f);
    part_rgb(g, fmaxf(sd_box(x, y, 0, cy, hw, hh, 0.03f), y - top - 0.02f), 0.78f, 0.79f, 0.82f);
    part_rgb(g, sd_ellipse(x, y, 0, top - 0.0f, hw, 0.055f), 0.86f, 0.87f, 0.9f);
    part_rgb(g, sd_ellipse(x, y, 0, top + 0.005f, hw - 0.04f, 0.03f), 0.62f, 0.63f, 0.66f);
    if (v == 2) part_rgb(g, fabsf(sd_ellipse(x, y, 0.06f, top - 0.005f, 0.05f, 0.022f)) - 0.01f, 0.5f, 0.5f, 0.55f);
    g->torso = g->d;
}

static void flame(Painter *g, float cx, float base) {
    float x = g->x, y = g->y;
    part_rgb(g, sd_capsule(x, y, cx, base, cx, base - 0.05f, 0.012f), 0.15f, 0.12f, 0.1f); // wick
    float d = smin(sd_circle(x, y, cx, base - 0.1f, 0.065f),
                   sd_tri(x, y, cx - 0.05f, base - 0.12f, cx + 0.05f, base - 0.12f, cx, base - 0.28f), 0.03f);
    part_rgb(g, d, 1.0f, 0.55f, 0.08f);
    part_rgb(g, sd_circle(x, y, cx, base - 0.1f, 0.032f), 1.0f, 0.93f, 0.5f);
}

static void draw_candle(Painter *g, int v) {
    float x = g->x, y = g->y;
    if (v == 2) { // taper on a brass holder
        part_rgb(g, sd_ellipse(x, y, 0, 0.45f, 0.28f, 0.05f), 0.72f, 0.56f, 0.25f);
        part_rgb(g, sd_box(x, y, 0, 0.38f, 0.12f, 0.06f, 0.02f), 0.8f, 0.64f, 0.3f);
        part_body(g, sd_box(x, y, 0, 0.04f, 0.13f, 0.3f, 0.03f), 1.f);
        flame(g, 0, -0.26f);
    } else {
        float cy = v == 0 ? 0.16f : 0.22f, hw = v == 0 ? 0.2f : 0.32f, hh = v == 0 ? 0.34f : 0.28f;
        float top = cy - hh;
        part_body(g, sd_box(x, y, 0, cy, hw, hh, 0.05f), 1.f);
        part_light(g, sd_ellipse(x, y, 0, top + 0.03f, hw - 0.02f, 0.04f), 0.35f); // wax top
        part_light(g, sd_capsule(x, y, -hw * 0.55f, top + 0.04f, -hw * 0.55f, top + 0.12f, 0.03f), 0.35f);
        part_light(g, sd_capsule(x, y, hw * 0.4f, top + 0.04f, hw * 0.4f, top + 0.09f, 0.025f), 0.35f);
        flame(g, 0, top + 0.03f);
    }
    g->torso = g->d;
}

static void clock_hands(Painter *g, float cx, float cy, float r) {
    float x = g->x, y = g->y;
    for (int i = 0; i < 4; i++) { // ticks at 12, 3, 6, 9
        float ax = (i == 1) - (i == 3), ay = (i == 2) - (i == 0);
        part_rgb(g, sd_circle(x, y, cx + ax * r * 0.8f, cy + ay * r * 0.8f, 0.025f), 0.2f, 0.2f, 0.2f);
    }
    part_rgb(g, sd_capsule(x, y, cx, cy, cx, cy - r * 0.72f, 0.022f), 0.1f, 0.1f, 0.12f);
    part_rgb(g, sd_capsule(x, y, cx, cy, cx + r * 0.45f, cy + r * 0.2f, 0.03f), 0.1f, 0.1f, 0.12f);
    part_rgb(g, sd_circle(x, y, cx, cy, 0.035f), 0.75f, 0.15f, 0.1f);
}

static void draw_clock(Painter *g, int v) {
    float x = g->x, y = g->y;
    const float face[3] = {0.97f, 0.95f, 0.88f};
    if (v == 0) {
        part_body(g, sd_circle(x, y, 0, 0.04f, 0.45f), 1.f);
        part(g, sd_circle(x, y, 0, 0.04f, 0.28f), face);
        clock_hands(g, 0, 0.04f, 0.28f);
    } else if (v == 1) {
        part_body(g, sd_box(x, y, 0, 0.04f, 0.44f, 0.44f, 0.08f), 1.f);
        part(g, sd_box(x, y, 0, 0.04f, 0.27f, 0.27f, 0.04f), face);
        clock_hands(g, 0, 0.04f, 0.27f);
    } else {
        part_rgb(g, sd_capsule(x, y, -0.2f, 0.34f, -0.28f, 0.48f, 0.035f), 0.2f, 0.2f, 0.2f); // legs
        part_rgb(g, sd_capsule(x, y, 0.2f, 0.34f, 0.28f, 0.48f, 0.035f), 0.2f, 0.2f, 0.2f);
        part_rgb(g, sd_capsule(x, y, -0.22f, -0.34f, 0.22f, -0.34f, 0.02f), 0.3f, 0.3f, 0.3f);
        part_body(g, sd_circle(x, y, -0.24f, -0.27f, 0.11f), 0.85f); // bells
        part_body(g, sd_circle(x, y, 0.24f, -0.27f, 0.11f), 0.85f);
        part_body(g, sd_circle(x, y, 0, 0.1f, 0.36f), 1.f);
        part(g, sd_circle(x, y, 0, 0.1f, 0.23f), face);
        clock_hands(g, 0, 0.1f, 0.23f);
    }
    g->torso = g->d;
}

static void draw_sneaker(Painter *g, int v) {
    float x = g->x, y = g->y;
    float sole_y = v == 2 ? 0.37f : 0.42f, sole_h = v == 2 ? 0.11f : 0.07f;
    float collar_h = v == 1 ? 0.36f : 0.22f, collar_y = v == 1 ? 0.02f : 0.14f;
    if (v == 2) collar_y = 0.1f, collar_h = 0.2f;
    float toe_y = sole_y - sole_h - 0.08f;
    part_body(g, sd_box(x, y, -0.24f, collar_y, 0.2f, collar_h, 0.1f), 1.f);  // heel / collar
    part_body(g, sd_box(x, y, 0.1f, toe_y, 0.36f, 0.14f, 0.12f), 1.f);        // toe box
    part_rgb(g, sd_ellipse(x, y, -0.24f, collar_y - collar_h + 0.05f, 0.13f, 0.035f), 0.15f, 0.12f, 0.1f);
    for (int i = 0; i < 3; i++) { // laces
        float lx = -0.04f + 0.09f * (float)i, ly = toe_y - 0.1f + 0.035f * (float)i;
        if (v == 1) lx -= 0.1f, ly -= 0.06f;
        part_rgb(g, sd_capsule(x, y, lx - 0.03f, ly - 0.03f, lx + 0.03f, ly + 0.03f, 0.016f), 0.97f, 0.97f, 0.95f);
    }
    if (v == 1) part_rgb(g, sd_circle(x, y, -0.3f, -0.05f, 0.05f), 0.95f, 0.95f, 0.93f); // ankle patch
    part_rgb(g, sd_box(x, y, 0.0f, sole_y, 0.48f, sole_h, 0.05f), 0.96f, 0.96f, 0.94f);    // sole
    part_rgb(g, fmaxf(sd_box(x, y, 0.0f, sole_y, 0.48f, sole_h, 0.05f), sole_y + sole_h - 0.03f - y),
             0.55f, 0.55f, 0.55f);
    if (v == 2) part_rgb(g, sd_box(x, y, 0.0f, sole_y, 0.44f, 0.018f, 0.01f), 0.45f, 0.45f, 0.5f);
    g->torso = g->d;
}

static void draw_boot(Painter *g, int v) {
    float x = g->x, y = g->y;
    const float sole[3] = {0.22f, 0.14f, 0.08f};
    if (v == 2) { // heeled
        part(g, sd_capsule(x, y, -0.28f, 0.24f, -0.27f, 0.47f, 0.045f), sole);
        part_body(g, sd_box(x, y, -0.18f, -0.02f, 0.18f, 0.3f, 0.05f), 1.f);
        part_body(g, sd_capsule(x, y, -0.22f, 0.2f, 0.32f, 0.38f, 0.1f), 1.f);
        part(g, fmaxf(sd_capsule(x, y, -0.22f, 0.2f, 0.32f, 0.38f, 0.1f), 0.42f - y), sole);
    } else {
        float top = v == 0 ? -0.32f : -0.5f;
        part(g, sd_box(x, y, 0.06f, 0.45f, 0.42f, 0.05f, 0.03f), sole);
        part(g, sd_box(x, y, -0.24f, 0.4f, 0.12f, 0.08f, 0.02f), sole);
        part_body(g, sd_box(x, y, -0.14f, (top + 0.3f) / 2, 0.2f, (0.3f - top) / 2, 0.06f), 1.f);
        part_body(g, sd_box(x, y, 0.06f, 0.3f, 0.4f, 0.13f, 0.12f), 1.f);
        part_body(g, sd_box(x, y, -0.14f, top + 0.04f, 0.2f, 0.04f, 0.03f), 0.7f); // cuff
        for (int i = 0; i < 3; i++) // lace dots on the front of the shaft
            part_rgb(g, sd_circle(x, y, 0.03f, top + 0.16f + 0.1f * (float)i, 0.02f), 0.85f, 0.8f, 0.6f);
    }
    g->torso = g->d;
}

static void draw_glasses(Painter *g, int v) {
    float x = g->x, y = g->y;
    float lens[3] = {0.22f, 0.27f, 0.32f}; // dark glass tinted by the frame colour
    mix3(lens, g->body, 0.3f);
    float cy = 0.2f;
    for (int side = -1; side <= 1; side += 2) {
        float lx = 0.25f * (float)side;
        float d_out, d_in;
        if (v == 0) {
            d_out = sd_circle(x, y, lx, cy, 0.21f);
            d_in = sd_circle(x, y, lx, cy, 0.13f);
        } else if (v == 1) {
            d_out = sd_box(x, y, lx, cy, 0.22f, 0.17f, 0.05f);
            d_in = sd_box(x, y, lx, cy, 0.14f, 0.09f, 0.03f);
        } else { // cat-eye: an ellipse with an upswept outer corner
            d_out = smin(sd_ellipse(x, y, lx, cy, 0.22f, 0.16f),
                         sd_tri(x, y, lx + 0.05f * side, cy - 0.16f, lx + 0.24f * side, cy - 0.22f,
                                lx + 0.2f * side, cy), 0.03f);
            d_in = sd_ellipse(x, y, lx, cy + 0.01f, 0.14f, 0.09f);
        }
        part_rgb(g, sd_capsule(x, y, 0.44f * side, cy - 0.05f, 0.49f * side, cy - 0.13f, 0.03f), // temple
                 g->body[0] * 0.7f, g->body[1] * 0.7f, g->body[2] * 0.7f);
        part_body(g, d_out, 1.f);
        part(g, d_in, lens);
        part_rgb(g, fmaxf(d_in, sd_capsule(x, y, lx - 0.1f, cy + 0.02f, lx + 0.02f, cy - 0.1f, 0.025f)), 0.6f,
                 0.65f, 0.7f); // glint
    }
    part_body(g, sd_capsule(x, y, -0.07f, cy - 0.05f, 0.07f, cy - 0.05f, 0.035f), 1.f); // bridge
    g->torso = g->d;
}

static void draw_teapot(Painter *g, int v) {
    float x = g->x, y = g->y;
    static const float P[3][4] = {{0.14f, 0.3f, 0.27f, 0}, {0.1f, 0.24f, 0.33f, 0}, {0.24f, 0.36f, 0.2f, 0}};
    float cy = P[v][0], rx = P[v][1], ry = P[v][2], top = cy - ry;
    float hx = -rx - 0.07f, hr = v == 2 ? 0.09f : 0.12f;
    part_body(g, fmaxf(fabsf(lenf(x - hx, y - cy) - hr) - 0.03f, x + rx * 0.8f), 0.85f); // handle
    part_body(g, sd_capsule(x, y, rx * 0.8f, cy + 0.05f, rx + 0.14f, top + 0.02f, 0.045f), 1.f);    // spout
    part_body(g, sd_box(x, y, 0, cy + ry - 0.01f, rx * 0.55f, 0.04f, 0.02f), 0.8f);                   // base
    part_body(g, sd_ellipse(x, y, 0, cy, rx, ry), 1.f);
    part_body(g, fmaxf(sd_ellipse(x, y, 0, top + 0.02f, rx * 0.55f, 0.09f), y - top - 0.02f), 0.85f); // lid
    part_rgb(g, sd_capsule(x, y, -rx * 0.55f, top + 0.025f, rx * 0.55f, top + 0.025f, 0.012f), 0.2f, 0.2f, 0.2f);
    part_body(g, sd_circle(x, y, 0, top - 0.08f, 0.045f), 0.7f); // knob
    g->torso = g->d;
}

static void draw_vase(Painter *g, int v) {
    float x = g->x, y = g->y;
    if (v == 0) {
        float d = smin(sd_circle(x, y, 0, 0.2f, 0.28f), sd_box(x, y, 0, -0.16f, 0.09f, 0.18f, 0.02f), 0.08f);
        part_body(g, sd_box(x, y, 0, 0.46f, 0.14f, 0.035f, 0.02f), 0.8f);
        part_body(g, d, 1.f);
        part_body(g, sd_box(x, y, 0, -0.34f, 0.15f, 0.04f, 0.03f), 0.85f);
        part_rgb(g, sd_ellipse(x, y, 0, -0.37f, 0.1f, 0.018f), 0.15f, 0.12f, 0.1f);
    } else if (v == 1) {
        float w = 0.17f + 0.05f * (y + 0.4f); // widening downwards
        float d = fmaxf(fabsf(x) - w, fabsf(y - 0.04f) - 0.43f) * 0.98f;
        part_body(g, d, 1.f);
        part_body(g, sd_box(x, y, 0, -0.4f, 0.2f, 0.04f, 0.03f), 0.85f);
        part_rgb(g, sd_ellipse(x, y, 0, -0.43f, 0.14f, 0.018f), 0.15f, 0.12f, 0.1f);
    } else {
        part_body(g, fabsf(sd_circle(x, y, -0.2f, -0.12f, 0.1f)) - 0.028f, 0.85f); // handles
        part_body(g, fabsf(sd_circle(x, y, 0.2f, -0.12f, 0.1f)) - 0.028f, 0.85f);
        part_body(g, sd_box(x, y, 0, 0.44f, 0.11f, 0.05f, 0.02f), 0.8f);
        part_body(g, smin(sd_ellipse(x, y, 0, 0.12f, 0.25f, 0.3f), sd_box(x, y, 0, -0.25f, 0.08f, 0.12f, 0.02f), 0.06f), 1.f);
        part_body(g, sd_box(x, y, 0, -0.38f, 0.14f, 0.035f, 0.03f), 0.85f);
        part_rgb(g, sd_ellipse(x, y, 0, -0.405f, 0.09f, 0.015f), 0.15f, 0.12f, 0.1f);
    }
    g->torso = g->d;
}

static void draw_cat(Painter *g, int v) {
    float x = g->x, y = g->y;
    static const float P[3][7] = { // body cx cy rx ry, head cy r, ear height
        {0, 0.2f, 0.25f, 0.29f, -0.17f, 0.19f, 0.16f},
        {0, 0.22f, 0.33f, 0.28f, -0.13f, 0.2f, 0.13f},
        {0, 0.22f, 0.19f, 0.28f, -0.14f, 0.17f, 0.2f}};
    const float *p = P[v];
    float hy = p[4], hr = p[5], eh = p[6];
    part_body(g, sd_capsule(x, y, p[2] * 0.7f, 0.44f, p[2] + 0.14f, 0.3f, 0.045f), 1.f); // tail
    part_body(g, sd_capsule(x, y, p[2] + 0.14f, 0.3f, p[2] + 0.16f, 0.08f, 0.045f), 1.f);
    part_body(g, sd_ellipse(x, y, p[0], p[1], p[2], p[3]), 1.f);
    float torso = g->d;
    part_light(g, sd_ellipse(x, y, -0.1f, 0.46f, 0.08f, 0.04f), 0.15f); // paws
    part_light(g, sd_ellipse(x, y, 0.1f, 0.46f, 0.08f, 0.04f), 0.15f);
    for (int s = -1; s <= 1; s += 2) { // ears
        float bx = 0.11f * (float)s;
        part_body(g, sd_tri(x, y, bx - 0.08f, hy - hr * 0.5f, bx + 0.08f, hy - hr * 0.75f, bx + 0.05f * s, hy - hr - eh),
                  1.f);
        part_rgb(g, sd_tri(x, y, bx - 0.04f, hy - hr * 0.6f, bx + 0.04f, hy - hr * 0.72f, bx + 0.035f * s,
                           hy - hr - eh * 0.7f), 0.9f, 0.6f, 0.65f);
    }
    part_body(g, sd_circle(x, y, 0, hy, hr), 1.f);
    const Anchors *a = &GEO[CLS_CAT][v].a;
    eye(g, a->e1x, a->e1y, a->er);
    eye(g, a->e2x, a->e2y, a->er);
    part_rgb(g, sd_tri(x, y, -0.025f, hy + 0.03f, 0.025f, hy + 0.03f, 0, hy + 0.06f), 0.9f, 0.5f, 0.55f);
    g->torso = torso;
}

static void draw_dog(Painter *g, int v) {
    float x = g->x, y = g->y;
    static const float P[3][14] = {
        // body cx cy rx ry | leg top, r, x0..x3 | head cx cy r | tail tip x y
        {-0.05f, 0.1f, 0.32f, 0.16f, 0.15f, 0.055f, -0.27f, -0.15f, 0.09f, 0.2f, 0.27f, -0.17f, 0.15f, -0.47f},
        {-0.06f, 0.16f, 0.26f, 0.15f, 0.2f, 0.06f, -0.22f, -0.12f, 0.06f, 0.15f, 0.22f, -0.1f, 0.19f, -0.4f},
        {-0.04f, 0.2f, 0.42f, 0.13f, 0.25f, 0.05f, -0.34f, -0.24f, 0.18f, 0.26f, 0.34f, 0.0f, 0.13f, -0.48f}};
    const float *p = P[v];
    float hx = p[10], hy = p[11], hr = p[12];
    float tail_y = p[1] - p[3] * 0.5f;
    part_body(g, sd_capsule(x, y, p[0] - p[2] * 0.85f, tail_y, p[13], tail_y - 0.16f, 0.04f), 1.f); // tail
    for (int i = 0; i < 4; i++) {
        float lx = p[6 + i];
        part_body(g, sd_capsule(x, y, lx, p[4], lx, 0.47f, p[5]), i == 0 || i == 2 ? 0.82f : 1.f);
    }
    part_body(g, sd_ellipse(x, y, p[0], p[1], p[2], p[3]), 1.f);
    float torso = g->d;
    part_body(g, sd_capsule(x, y, p[0] + p[2] * 0.6f, p[1] - 0.02f, hx - 0.02f, hy + 0.04f, hr * 0.62f), 1.f); // neck
    part_body(g, sd_circle(x, y, hx, hy, hr), 1.f);
    part_light(g, sd_ellipse(x, y, hx + hr * 0.85f, hy + hr * 0.3f, hr * 0.6f, hr * 0.42f), 0.35f); // snout
    part_rgb(g, sd_circle(x, y, hx + hr * 1.38f, hy + hr * 0.17f, hr * 0.2f), 0.08f, 0.07f, 0.07f);  // nose
    float ex = hx - hr * 0.45f, ey = hy + hr * 0.2f; // ear
    part_body(g, sd_ellipse(x, y, ex, ey, hr * 0.36f, hr * 0.72f), 0.6f);
    const Anchors *a = &GEO[CLS_DOG][v].a;
    eye(g, a->e1x, a->e1y, a->er);
    g->torso = torso;
}

static void draw_stuffed(Painter *g, int v) {
    float x = g->x, y = g->y;
    const Anchors *a = &GEO[CLS_STUFFED_ANIMAL][v].a;
    float hy = a->hy, hr = a->hr;
    for (int s = -1; s <= 1; s += 2) {
        part_body(g, sd_ellipse(x, y, 0.24f * s, 0.16f, 0.085f, 0.12f), 0.9f); // arms
        part_body(g, sd_ellipse(x, y, 0.14f * s, 0.42f, 0.1f, 0.075f), 0.95f); // legs
        part_light(g, sd_circle(x, y, 0.14f * s, 0.43f, 0.045f), 0.45f);       // foot pads
    }
    part_body(g, sd_ellipse(x, y, 0, 0.22f, 0.24f, 0.24f), 1.f);
    float torso = g->d;
    for (int s = -1; s <= 1; s += 2) { // ears
        if (v == 0) {
            part_body(g, sd_circle(x, y, 0.15f * s, hy - hr * 0.8f, 0.075f), 1.f);
            part_light(g, sd_circle(x, y, 0.15f * s, hy - hr * 0.8f, 0.038f), 0.4f);
        } else if (v == 1) {
            part_body(g, sd_ellipse(x, y, 0.08f * s, hy - hr - 0.1f, 0.055f, 0.15f), 1.f);
            part_rgb(g, sd_ellipse(x, y, 0.08f * s, hy - hr - 0.09f, 0.025f, 0.1f), 0.95f, 0.65f, 0.72f);
        } else {
            part_body(g, sd_tri(x, y, 0.05f * s, hy - hr * 0.7f, 0.19f * s, hy - hr * 0.4f, 0.16f * s, hy - hr - 0.12f), 1.f);
        }
    }
    part_body(g, sd_circle(x, y, 0, hy, hr), 1.f);
    if (v == 2) part_light(g, sd_ellipse(x, y, 0, hy + 0.07f, 0.11f, 0.08f), 0.55f);
    else part_light(g, sd_ellipse(x, y, 0, hy + 0.06f, 0.085f, 0.065f), 0.5f);
    part_rgb(g, sd_ellipse(x, y, 0, hy + 0.035f, 0.035f, 0.025f), 0.1f, 0.08f, 0.08f); // nose
    eye(g, a->e1x, a->e1y, a->er);
    eye(g, a->e2x, a->e2y, a->er);
    g->torso = torso;
}

static void draw_toy(Painter *g, int v) {
    float x = g->x, y = g->y;
    if (v == 0) { // robot
        for (int s = -1; s <= 1; s += 2) {
            part_body(g, sd_capsule(x, y, 0.22f * s, 0.0f, 0.34f * s, 0.2f, 0.05f), 0.8f);       // arms
            part_rgb(g, sd_box(x, y, 0.1f * s, 0.41f, 0.07f, 0.08f, 0.02f), 0.3f, 0.3f, 0.33f);     // legs
        }
        part_body(g, sd_box(x, y, 0, 0.14f, 0.23f, 0.2f, 0.03f), 1.f);
        float torso = g->d;
        part_rgb(g, sd_box(x, y, 0, -0.05f, 0.06f, 0.03f, 0.01f), 0.3f, 0.3f, 0.33f); // neck
        part_rgb(g, sd_capsule(x, y, 0, -0.3f, 0, -0.4f, 0.015f), 0.3f, 0.3f, 0.33f);  // antenna
        part_rgb(g, sd_circle(x, y, 0, -0.43f, 0.04f), 0.9f, 0.2f, 0.2f);
        part_body(g, sd_box(x, y, 0, -0.19f, 0.17f, 0.13f, 0.03f), 1.f); // head
        part_rgb(g, sd_circle(x, y, 0.07f, -0.21f, 0.045f), 0.55f, 0.95f, 1.0f);
        part_rgb(g, sd_circle(x, y, -0.07f, -0.21f, 0.045f), 0.55f, 0.95f, 1.0f);
        part_rgb(g, sd_box(x, y, 0, -0.11f, 0.08f, 0.015f, 0.005f), 0.2f, 0.2f, 0.22f); // mouth
        g->torso = torso;
    } else if (v == 1) { // duck
        part_body(g, sd_tri(x, y, -0.28f, 0.12f, -0.48f, 0.02f, -0.36f, 0.26f), 1.f); // tail
        part_body(g, sd_ellipse(x, y, -0.02f, 0.24f, 0.38f, 0.22f), 1.f);
        float torso = g->d;
        part_body(g, sd_ellipse(x, y, -0.06f, 0.2f, 0.16f, 0.09f), 0.8f); // wing
        part_body(g, sd_circle(x, y, 0.14f, -0.14f, 0.18f), 1.f);
        part_rgb(g, sd_ellipse(x, y, 0.36f, -0.1f, 0.12f, 0.05f), 0.98f, 0.55f, 0.1f); // beak
        eye(g, 0.19f, -0.18f, 0.04f);
        g->torso = torso;
    } else { // one-eyed monster
        for (int s = -1; s <= 1; s += 2) {
            part_rgb(g, sd_tri(x, y, 0.12f * s, -0.18f, 0.26f * s, -0.12f, 0.26f * s, -0.42f), 0.95f, 0.9f, 0.78f);
            part_body(g, sd_ellipse(x, y, 0.15f * s, 0.45f, 0.1f, 0.05f), 0.7f); // feet
        }
        part_body(g, sd_circle(x, y, 0, 0.1f, 0.34f), 1.f);
        part_rgb(g, sd_circle(x, y, 0, -0.02f, 0.12f), 0.97f, 0.97f, 0.95f);
        part_rgb(g, sd_circle(x, y, 0.02f, -0.01f, 0.055f), 0.08f, 0.07f, 0.07f);
        part_rgb(g, sd_box(x, y, 0, 0.2f, 0.13f, 0.035f, 0.03f), 0.25f, 0.05f, 0.08f); // mouth
        part_rgb(g, sd_tri(x, y, -0.08f, 0.165f, -0.02f, 0.165f, -0.05f, 0.21f), 0.97f, 0.97f, 0.95f);
        part_rgb(g, sd_tri(x, y, 0.02f, 0.165f, 0.08f, 0.165f, 0.05f, 0.21f), 0.97f, 0.97f, 0.95f);
        g->torso = fmaxf(sd_circle(x, y, 0, 0.1f, 0.34f), 0.08f - y);
    }
}

static void big_eye(Painter *g, float cx, float cy, float rx, float ry) {
    part_rgb(g, sd_ellipse(g->x, g->y, cx, cy, rx, ry), 0.98f, 0.98f, 0.97f);
    part_rgb(g, sd_circle(g->x, g->y, cx + rx * 0.2f, cy + ry * 0.2f, rx * 0.5f), 0.08f, 0.07f, 0.07f);
}

static void draw_cartoon(Painter *g, int v) {
    float x = g->x, y = g->y;
    if (v == 0) {
        for (int s = -1; s <= 1; s += 2) {
            part_body(g, sd_ellipse(x, y, 0.14f * s, 0.45f, 0.1f, 0.05f), 0.6f);
            part_body(g, sd_capsule(x, y, 0.33f * s, 0.08f, 0.45f * s, -0.04f, 0.035f), 0.85f);
        }
        part_body(g, sd_circle(x, y, 0, 0.06f, 0.36f), 1.f);
        big_eye(g, 0.11f, -0.06f, 0.08f, 0.1f);
        big_eye(g, -0.11f, -0.06f, 0.08f, 0.1f);
        part_rgb(g, fmaxf(fabsf(sd_circle(x, y, 0, 0.08f, 0.12f)) - 0.02f, 0.12f - y), 0.25f, 0.05f, 0.08f);
        g->torso = fmaxf(sd_circle(x, y, 0, 0.06f, 0.36f), 0.1f - y);
    } else if (v == 1) {
        for (int s = -1; s <= 1; s += 2) {
            part_body(g, sd_capsule(x, y, 0.06f * s, -0.3f, 0.13f * s, -0.44f, 0.018f), 0.7f);
            part_rgb(g, sd_circle(x, y, 0.13f * s, -0.45f, 0.04f), 0.98f, 0.85f, 0.2f);
            part_body(g, sd_ellipse(x, y, 0.12f * s, 0.45f, 0.09f, 0.05f), 0.6f);
        }
        part_body(g, sd_ellipse(x, y, 0, 0.04f, 0.26f, 0.41f), 1.f);
        big_eye(g, 0.09f, -0.16f, 0.065f, 0.085f);
        big_eye(g, -0.09f, -0.16f, 0.065f, 0.085f);
        part_rgb(g, fmaxf(fabsf(sd_circle(x, y, 0, -0.06f, 0.08f)) - 0.018f, -0.03f - y), 0.25f, 0.05f, 0.08f);
        g->torso = fmaxf(sd_ellipse(x, y, 0, 0.04f, 0.26f, 0.41f), 0.05f - y);
    } else { // stacked swirl blob
        part_body(g, sd_ellipse(x, y, 0, 0.35f, 0.42f, 0.15f), 0.9f);
        part_body(g, sd_ellipse(x, y, 0, 0.15f, 0.33f, 0.13f), 1.f);
        part_body(g, sd_ellipse(x, y, 0.01f, -0.04f, 0.23f, 0.11f), 1.05f);
        part_body(g, sd_tri(x, y, -0.1f, -0.08f, 0.12f, -0.08f, 0.07f, -0.3f), 1.1f);
        big_eye(g, 0.13f, 0.11f, 0.065f, 0.075f);
        big_eye(g, -0.13f, 0.11f, 0.065f, 0.075f);
        part_rgb(g, fmaxf(fabsf(sd_circle(x, y, 0, 0.24f, 0.11f)) - 0.02f, 0.27f - y), 0.25f, 0.05f, 0.08f);
        g->torso = sd_ellipse(x, y, 0, 0.35f, 0.42f, 0.15f);
    }
}

// The cube edit: a front face, a lighter top and a darker side, in the body material.
static void draw_cube(Painter *g, int live) {
    float x = g->x, y = g->y;
    static const float TOP[8] = {-0.37f, -0.23f, 0.23f, -0.23f, 0.37f, -0.37f, -0.23f, -0.37f};
    static const float SIDE[8] = {0.23f, -0.23f, 0.37f, -0.37f, 0.37f, 0.29f, 0.23f, 0.43f};
    part_body(g, sd_quad(x, y, TOP), 1.25f);
    part_body(g, sd_quad(x, y, SIDE), 0.7f);
    part_body(g, sd_box(x, y, -0.07f, 0.1f, 0.3f, 0.33f, 0.015f), 1.f);
    if (live) {
        eye(g, -0.17f, -0.06f, 0.045f);
        eye(g, 0.03f, -0.06f, 0.045f);
    }
    g->torso = g->d;
}

void subject_eval(const SubjectLook *lk, float x, float y, SubjectSample *out) {
    out->alpha = 0.f;
    out->d_torso = 1e9f;
    if (fabsf(x) > 0.56f || fabsf(y) > 0.56f) return; // every class fits in [-0.5, 0.5]^2
    Painter g = {x, y, lk->k, {0, 0, 0}, 0.f, 1e9f, 1e9f, {0, 0, 0}};
    body_material(lk, x, y, g.body);
    if (lk->property == PROP_CUBE) draw_cube(&g, world_class_kind(lk->cls) == KIND_LIVE);
    else switch (lk->cls) {
        case CLS_BACKPACK: draw_backpack(&g, lk->shape); break;
        case CLS_BOWL: draw_bowl(&g, lk->shape); break;
        case CLS_CAN: draw_can(&g, lk->shape); break;
        case CLS_CANDLE: draw_candle(&g, lk->shape); break;
        case CLS_CLOCK: draw_clock(&g, lk->shape); break;
        case CLS_SNEAKER: draw_sneaker(&g, lk->shape); break;
        case CLS_BOOT: draw_boot(&g, lk->shape); break;
        case CLS_GLASSES: draw_glasses(&g, lk->shape); break;
        case CLS_TEAPOT: draw_teapot(&g, lk->shape); break;
        case CLS_VASE: draw_vase(&g, lk->shape); break;
        case CLS_CAT: draw_cat(&g, lk->shape); break;
        case CLS_DOG: draw_dog(&g, lk->shape); break;
        case CLS_STUFFED_ANIMAL: draw_stuffed(&g, lk->shape); break;
        case CLS_TOY: draw_toy(&g, lk->shape); break;
        default: draw_cartoon(&g, lk->shape); break;
        }
    out->d_torso = g.torso;
    if (g.A <= 0.f) return;
    float c[3] = {g.P[0] / g.A, g.P[1] / g.A, g.P[2] / g.A};
    // outline: darken a thin band inside the silhouette edge
    float band = clamp01(0.5f + (g.d + OUTLINE_WIDTH) * lk->k);
    scale3(c, 1.f - 0.5f * band);
    // soft top light
    scale3(c, 1.06f - 0.18f * (y + 0.5f));
    const float *b = lk->body;
    if (lk->property == PROP_SHINY) {
        for (int i = 0; i < 3; i++) c[i] = clamp01((c[i] - 0.5f) * 1.3f + 0.5f);
        const float white[3] = {1, 1, 1};
        // a big glint on the upper left of the body, a small one beside it, a bright rim
        float hx = b[0] - 0.45f * b[2], hy = b[1] - 0.5f * b[3];
        float dx = x - hx, dy = y - hy, u = 0.8f * dx + 0.6f * dy, w = -0.6f * dx + 0.8f * dy;
        float rx = fmaxf(0.6f * b[2], 0.08f), ry = fmaxf(0.3f * b[3], 0.05f);
        mix3(c, white, 0.95f * cov(sd_ellipse(u, w, 0, 0, rx, ry), lk->k));
        mix3(c, white, 0.9f * cov(sd_circle(x, y, b[0] + 0.35f * b[2], b[1] - 0.55f * b[3], 0.04f), lk->k));
        mix3(c, white, 0.55f * cov(fabsf(g.d + 0.07f) - 0.022f, lk->k) * cov(x + y - 0.1f, lk->k));
    } else if (lk->property == PROP_WET) {
        c[0] = c[0] * 0.5f, c[1] = c[1] * 0.52f + 0.01f, c[2] = c[2] * 0.6f + 0.03f;
        // water drops: light blue beads with a dark lower rim, spread over the body
        static const float DROPS[7][2] = {{-0.7f, -0.6f}, {0.5f, -0.75f}, {0.05f, -0.1f}, {-0.55f, 0.45f},
                                         {0.65f, 0.3f},  {-0.1f, 0.85f}, {0.9f, -0.1f}};
        const float drop[3] = {0.78f, 0.9f, 1.f}, rim[3] = {0.1f, 0.15f, 0.25f};
        float dr = clampf(0.25f * fminf(b[2], b[3]), 0.025f, 0.042f); // smaller drops on thin bodies
        for (int i = 0; i < 7; i++) {
            float dx = b[0] + DROPS[i][0] * b[2], dy = b[1] + DROPS[i][1] * b[3];
            if (fabsf(x - dx) > 0.1f || fabsf(y - dy) > 0.1f) continue;
            mix3(c, rim, cov(sd_circle(x, y, dx, dy + 0.2f * dr, 1.2f * dr), lk->k));
            mix3(c, drop, cov(sd_circle(x, y, dx, dy, dr), lk->k));
        }
    }
    memcpy(out->rgb, c, sizeof(c));
    out->alpha = g.A;
}
