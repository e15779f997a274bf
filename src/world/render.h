// render.h: the SubjectBench rasterizer. Draws reference images (the subject centred on a plain
// background) and target images (a DreamBench prompt: scene, accessory or property edit, with the
// subject at a jittered position, size and pose), plus the subject's mask, at any square size S.
//
// Images are float (S, S, 3), row-major, channels last (HWC), values in [0, 1]; masks are
// unsigned char (S, S) with the subject's visible coverage 0..255 (255 = pixel fully covered by
// the subject's body and nothing else, 0 = not touched by it, including its pattern and marks; accessories, water and other things in
// front of the subject are not part of the mask, and the pixels they hide are removed from it).
//
// Anti-aliasing is analytic: every shape is a signed distance function, and a pixel's coverage
// is clamp(0.5 - distance_in_pixels, 0, 1). All geometry is proportional to S, so 64x64 is a
// sharper drawing of the same picture as 32x32.
//
// Every function is pure: the output depends only on its arguments (no globals, no allocation),
// so training can render in parallel threads. Determinism: same arguments -> same bytes.
#ifndef CGRPO_RENDER_H
#define CGRPO_RENDER_H

#include <stdint.h>

#include "world/prompts.h"
#include "world/world.h"

#define RENDER_MAX_SIZE 4096
// The plain background of references and the neutral fill of segmented references.
#define RENDER_REFERENCE_BG 0.90f
#define RENDER_NEUTRAL_FILL 0.50f

// Reference image number `pose_index` (>= 0) of a subject: pose 0 is centred, upright, facing
// right, medium size; other indices are small jitters (rotation, size, shift, left/right facing),
// drawn from the subject's uid, as DreamBench's 4-6 photos per subject. mask may be NULL.
// img (S, S, 3), mask (S, S).
void render_reference(float *img, unsigned char *mask, const Subject *s, int pose_index, int S);

// Target image of (subject, prompt): `seed` picks the subject's position, size and pose (the same
// seed gives the same placement for every prompt and subject) and the scene's details.
// p->kind PLAIN draws the subject on a neutral studio backdrop; SCENE draws scene p->item;
// ACCESSORY adds accessory p->item (drawn on any class; DreamBench asks it of live subjects);
// PROPERTY recolours (red, purple), adds highlights (shiny), darkens and adds drops (wet) or
// turns the body into a cube. mask may be NULL. img (S, S, 3), mask (S, S).
void render_target(float *img, unsigned char *mask, const Subject *s, const Prompt *p, uint64_t seed, int S);

// Segmented reference (the identity reward's input): out = img where the mask covers it and
// `fill` elsewhere, blended by coverage: out = m img + (1 - m) fill, m = mask / 255.
// out may alias img. out, img (S, S, 3), mask (S, S), fill (3) (e.g. RENDER_NEUTRAL_FILL x 3).
void render_segment(float *out, const float *img, const unsigned char *mask, const float fill[3], int S);
// render_reference followed by render_segment with the neutral fill. mask may be NULL.
void render_segmented_reference(float *img, unsigned char *mask, const Subject *s, int pose_index, int S);

// ---- lower level: the pose and the subject layer, for tests and custom compositions ----------

typedef struct {
    float cx, cy;  // pixel position of the subject's local origin (its box is [-0.5, 0.5]^2, y down)
    float scale;   // pixels per local unit (the subject's box is `scale` pixels wide)
    float angle;   // rotation in radians (positive = clockwise on screen)
    int flip;      // 1: mirrored left-right (facing left)
} RenderPose;

void render_pose_reference(RenderPose *pose, const Subject *s, int pose_index, int S);
void render_pose_target(RenderPose *pose, uint64_t seed, int S);

// Draw the subject (with p's accessory or property when p is not NULL; scenes are ignored) at
// `pose` over whatever img holds. cov (S, S) receives the subject's visible coverage in [0, 1]
// (overwritten everywhere; 0 away from the subject). img (S, S, 3).
void render_subject_over(float *img, float *cov, const Subject *s, const Prompt *p, const RenderPose *pose, int S);

// Quantize [0,1] floats to bytes: round(clamp(x, 0, 1) * 255). n values.
void render_to_u8(unsigned char *out, const float *in, long n);
// Quantize coverage to a mask: like render_to_u8, except that 255 is kept for coverage exactly 1
// and 0 for coverage exactly 0 (so mask == 255 means "only subject", mask == 0 "no subject").
void render_mask_to_u8(unsigned char *out, const float *cov, long n);

#endif
