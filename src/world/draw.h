// draw.h: the pieces of the SubjectBench rasterizer that draw_*.c define and render.c puts
// together (not a public API): the subject's look and geometry (draw_subject.c), accessories and
// property overlays (draw_accessory.c), scenes (draw_scene.c). They draw with the primitives of
// canvas.h and call nothing of render.c.
#ifndef CGRPO_DRAW_H
#define CGRPO_DRAW_H

#include <stdint.h>

#include "world/canvas.h"
#include "world/world.h"

// ---- the subject (draw_subject.c) and its accessories (draw_accessory.c) -------------------------

// Where accessories attach (local units).
typedef struct {
    float hx, hy, hr;     // head centre and radius (hats sit on it)
    float e1x, e1y;       // the eye on the facing side (monocle)
    float e2x, e2y, er;   // the other eye, eye radius (glasses)
    float nx, ny, nw;     // neck centre and half width (scarf)
    float tx, ty, th;     // torso centre and half height (outfits, badges, buttons)
} Anchors;

// Everything about a subject's look that does not change from pixel to pixel (the typedef is in
// canvas.h, whose Canvas points to one).
struct SubjectLook {
    int cls, shape, pattern, property; // property: PROP_* or -1
    float main[3], second[3];          // after a red/purple edit
    int n_marks;
    int mark_shape[2];
    float mark_rgb[2][3], mark_xy[2][2];
    float patches[3][3];               // PAT_PATCHES: centre x, y and radius
    float body[4];                     // centre x, y and half sizes of the main body area
    Anchors anchors;
    float k;                           // pixels per local unit (anti-aliasing)
};

typedef struct {
    float alpha;   // coverage of the subject's silhouette, [0, 1]
    float rgb[3];  // colour where alpha > 0 (not premultiplied)
    float d_torso; // distance to the torso (outfits are drawn where it is negative)
} SubjectSample;

void subject_look_init(SubjectLook *lk, const Subject *s, int property, float k);
// Sample the subject at local (x, y).
void subject_eval(const SubjectLook *lk, float x, float y, SubjectSample *out);
// Accessory a (ACC_*) at local (x, y) given the subject's sample there; returns the accessory's
// coverage and writes its colour.
float accessory_eval(int a, const SubjectLook *lk, const SubjectSample *sub, float x, float y, float rgb[3]);
// Property overlays around the subject (shiny sparkles, wet drips) at local (x, y).
float property_overlay_eval(const SubjectLook *lk, float x, float y, float rgb[3]);

// ---- scenes (draw_scene.c) ----------------------------------------------------------------------

// Paint the background of scene `scene` (SCENE_*, or -1 for the neutral studio) with the scene's
// detail randomness drawn from `seed`, including the subject's shadow or reflection.
void scene_background(const Canvas *cv, int scene, uint64_t seed);
// Paint what stands in front of the subject (water, milk, flowers); returns nothing, but scales
// `cov` (S, S) by what remains visible of the subject.
void scene_foreground(const Canvas *cv, int scene, uint64_t seed, float *cov);
// The studio's floor puddle for the wet edit (under the subject).
void scene_puddle(const Canvas *cv);

#endif
