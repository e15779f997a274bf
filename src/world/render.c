// render.c: poses, the subject layer, and the public reference/target renderers of render.h. It
// puts together what draw_*.c draw (draw.h) with the primitives of canvas.h.
#include "world/render.h"

#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "world/canvas.h"
#include "world/draw.h"

void render_pose_reference(RenderPose *pose, const Subject *s, int pose_index, int S) {
    CG_CHECK(S > 0 && S <= RENDER_MAX_SIZE, "size %d", S);
    CG_CHECK(pose_index >= 0, "pose index %d", pose_index);
    pose->cx = 0.5f * (float)S;
    pose->cy = 0.5f * (float)S;
    pose->scale = 0.64f * (float)S;
    pose->angle = 0.f;
    pose->flip = 0;
    if (pose_index == 0) return;
    cg_rng r = cg_rng_make(s->uid, cg_rng_stream(WORLD_STREAM_REF_POSE, (uint64_t)pose_index, 0));
    pose->scale *= 0.88f + 0.14f * (float)cg_rng_uniform(&r);
    pose->angle = 0.28f * ((float)cg_rng_uniform(&r) - 0.5f);
    pose->cx += 0.08f * (float)S * ((float)cg_rng_uniform(&r) - 0.5f);
    pose->cy += 0.06f * (float)S * ((float)cg_rng_uniform(&r) - 0.5f);
    pose->flip = (int)cg_rng_below(&r, 2);
}

void render_pose_target(RenderPose *pose, uint64_t seed, int S) {
    CG_CHECK(S > 0 && S <= RENDER_MAX_SIZE, "size %d", S);
    cg_rng r = cg_rng_make(seed, cg_rng_stream(WORLD_STREAM_TARGET_POSE, 0, 0));
    float fS = (float)S;
    pose->scale = fS * (0.44f + 0.14f * (float)cg_rng_uniform(&r));
    pose->cx = fS * (0.5f + 0.26f * ((float)cg_rng_uniform(&r) - 0.5f));
    float bottom = fS * (0.82f + 0.1f * (float)cg_rng_uniform(&r));
    pose->cy = bottom - 0.5f * pose->scale;
    pose->angle = 0.22f * ((float)cg_rng_uniform(&r) - 0.5f);
    pose->flip = (int)cg_rng_below(&r, 2);
}

// Draw the subject, then its accessory or property overlay, over img; cov gets the subject's
// visible coverage.
static void subject_layer(float *img, float *cov_out, const SubjectLook *lk, int acc, const RenderPose *pose,
                          int S) {
    memset(cov_out, 0, sizeof(float) * (size_t)S * (size_t)S);
    int overlay = lk->property == PROP_SHINY || lk->property == PROP_WET;
    // local box to visit: the subject's [-0.5, 0.5]^2 plus room for hats and sparkles
    float x0 = -0.58f, x1 = 0.58f, y0 = -0.58f, y1 = 0.58f;
    if (acc >= 0) x0 = -0.7f, x1 = 0.7f, y0 = -0.85f;
    if (overlay) x0 = -0.7f, x1 = 0.7f, y1 = 0.68f;
    int i0, i1, j0, j1;
    pose_bbox(pose, x0, y0, x1, y1, S, &i0, &i1, &j0, &j1);
    PoseXf t = pose_xf(pose);
    for (int j = j0; j < j1; j++)
        for (int i = i0; i < i1; i++) {
            float lx, ly;
            xf_to_local(&t, (float)i + 0.5f, (float)j + 0.5f, &lx, &ly);
            if (lx < x0 || lx > x1 || ly < y0 || ly > y1) continue;
            size_t at = (size_t)j * (size_t)S + (size_t)i;
            float *px = img + 3 * at;
            SubjectSample smp;
            subject_eval(lk, lx, ly, &smp);
            float a = smp.alpha;
            if (a > 0.f) mix3(px, smp.rgb, a);
            float rgb[3];
            if (acc >= 0) {
                float b = accessory_eval(acc, lk, &smp, lx, ly, rgb);
                if (b > 0.f) mix3(px, rgb, b), a *= 1.f - b;
            }
            if (overlay) {
                float b = property_overlay_eval(lk, lx, ly, rgb);
                if (b > 0.f) mix3(px, rgb, b), a *= 1.f - b;
            }
            cov_out[at] = a;
        }
}

static void prompt_parts(const Prompt *p, int *scene, int *acc, int *prop) {
    *scene = *acc = *prop = -1;
    if (!p) return;
    if (p->kind == PROMPT_SCENE) *scene = p->item;
    if (p->kind == PROMPT_ACCESSORY) *acc = p->item;
    if (p->kind == PROMPT_PROPERTY) *prop = p->item;
    CG_CHECK(*scene < PROMPT_N_SCENES && *acc < PROMPT_N_ACCESSORIES && *prop < PROMPT_N_PROPERTIES,
             "prompt item %d of kind %d", p->item, (int)p->kind);
}

void render_subject_over(float *img, float *cov_out, const Subject *s, const Prompt *p, const RenderPose *pose, int S) {
    CG_CHECK(S > 0 && S <= RENDER_MAX_SIZE, "size %d", S);
    int scene, acc, prop;
    prompt_parts(p, &scene, &acc, &prop);
    SubjectLook lk;
    subject_look_init(&lk, s, prop, pose->scale);
    subject_layer(img, cov_out, &lk, acc, pose, S);
}

void render_to_u8(unsigned char *out, const float *in, long n) {
    for (long i = 0; i < n; i++) out[i] = (unsigned char)(clamp01(in[i]) * 255.f + 0.5f);
}

void render_mask_to_u8(unsigned char *out, const float *cov, long n) {
    for (long i = 0; i < n; i++) {
        float c = cov[i];
        int q = (int)(clamp01(c) * 255.f + 0.5f);
        if (c < 1.f && q > 254) q = 254; // 255 only where the subject covers the pixel fully
        if (c > 0.f && q < 1) q = 1;     // 0 only where it does not touch it at all
        out[i] = (unsigned char)q;
    }
}

// A coverage buffer: on the stack for small images, on the heap otherwise.
#define STACK_COV (64 * 64)

void render_reference(float *img, unsigned char *mask, const Subject *s, int pose_index, int S) {
    RenderPose pose;
    render_pose_reference(&pose, s, pose_index, S);
    size_t n = (size_t)S * (size_t)S;
    for (size_t i = 0; i < 3 * n; i++) img[i] = RENDER_REFERENCE_BG;
    float stack[STACK_COV], *cov_buf = n <= STACK_COV ? stack : cg_malloc(n * sizeof(float));
    render_subject_over(img, cov_buf, s, NULL, &pose, S);
    if (mask) render_mask_to_u8(mask, cov_buf, (long)n);
    if (cov_buf != stack) free(cov_buf);
}

void render_target(float *img, unsigned char *mask, const Subject *s, const Prompt *p, uint64_t seed, int S) {
    RenderPose pose;
    render_pose_target(&pose, seed, S);
    int scene, acc, prop;
    prompt_parts(p, &scene, &acc, &prop);
    SubjectLook lk;
    subject_look_init(&lk, s, prop, pose.scale);
    size_t n = (size_t)S * (size_t)S;
    memset(img, 0, 3 * n * sizeof(float));
    Canvas cv = {img, S, &pose, &lk};
    scene_background(&cv, scene, seed);
    if (prop == PROP_WET) scene_puddle(&cv);
    float stack[STACK_COV], *cov_buf = n <= STACK_COV ? stack : cg_malloc(n * sizeof(float));
    subject_layer(img, cov_buf, &lk, acc, &pose, S);
    scene_foreground(&cv, scene, seed, cov_buf);
    if (mask) render_mask_to_u8(mask, cov_buf, (long)n);
    if (cov_buf != stack) free(cov_buf);
}

void render_segment(float *out, const float *img, const unsigned char *mask, const float fill[3], int S) {
    size_t n = (size_t)S * (size_t)S;
    for (size_t i = 0; i < n; i++) {
        float m = (float)mask[i] / 255.f;
        for (int c = 0; c < 3; c++) out[3 * i + c] = m * img[3 * i + c] + (1.f - m) * fill[c];
    }
}

void render_segmented_reference(float *img, unsigned char *mask, const Subject *s, int pose_index, int S) {
    size_t n = (size_t)S * (size_t)S;
    unsigned char stack[STACK_COV], *m = mask ? mask : (n <= STACK_COV ? stack : cg_malloc(n));
    render_reference(img, m, s, pose_index, S);
    const float fill[3] = {RENDER_NEUTRAL_FILL, RENDER_NEUTRAL_FILL, RENDER_NEUTRAL_FILL};
    render_segment(img, img, m, fill, S);
    if (m != mask && m != stack) free(m);
}
