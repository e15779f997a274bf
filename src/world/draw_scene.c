// draw_scene.c: the 20 DreamBench scenes and the neutral studio, painted in image units
// (u right, v down, both in [0, 1]) so that every size shows the same picture.
//
// Each scene has a look meant to be told apart at 32x32: a dominant colour field (green jungle,
// white snow, sand and sea, pink fabric, golden wheat, blue water, white milk, ...) plus one or
// two simple silhouettes (city skyline, mountains with snow caps, a blue house, the Eiffel Tower,
// sunflowers, people). Scene details are drawn from the target seed. A scene never draws over the
// subject except where the prompt says so (water and milk hide the subject's lower part,
// sunflowers stand "around it"), and then the hidden part is removed from the mask.
#include <string.h>

#include "core/rng.h"
#include "world/prompts.h"
#include "world/canvas.h"
#include "world/draw.h"

typedef float rgb3[3];

static inline float urand(cg_rng *r, float lo, float hi) { return lo + (hi - lo) * (float)cg_rng_uniform(r); }

static inline void blend_px(const Canvas *cv, int i, int j, const float col[3], float a) {
    float *p = cv->img + ((size_t)j * (size_t)cv->S + (size_t)i) * 3;
    mix3(p, col, a);
}

// Loop over the pixels of the unit-space box [x0, x1] x [y0, y1] (plus one pixel), computing the
// unit-space distance DEXPR (using u, v) and painting col with coverage * alpha.
#define PAINT(cv, x0, y0, x1, y1, DEXPR, col, alpha)                                                \
    do {                                                                                            \
        const int S_ = (cv)->S;                                                                     \
        const float fS_ = (float)S_;                                                                \
        int i0_ = (int)floorf((x0) * fS_) - 1, i1_ = (int)ceilf((x1) * fS_) + 1;                    \
        int j0_ = (int)floorf((y0) * fS_) - 1, j1_ = (int)ceilf((y1) * fS_) + 1;                    \
        if (i0_ < 0) i0_ = 0;                                                                       \
        if (j0_ < 0) j0_ = 0;                                                                       \
        if (i1_ > S_) i1_ = S_;                                                                     \
        if (j1_ > S_) j1_ = S_;                                                                     \
        for (int j_ = j0_; j_ < j1_; j_++)                                                          \
            for (int i_ = i0_; i_ < i1_; i_++) {                                                    \
                float u = ((float)i_ + 0.5f) / fS_, v = ((float)j_ + 0.5f) / fS_;                   \
                (void)u, (void)v;                                                                   \
                float a_ = cov((DEXPR), fS_) * (alpha);                                             \
                if (a_ > 0.f) blend_px((cv), i_, j_, (col), a_);                                    \
            }                                                                                       \
    } while (0)

static void paint_circle(const Canvas *cv, float cx, float cy, float r, const float col[3], float alpha) {
    PAINT(cv, cx - r, cy - r, cx + r, cy + r, sd_circle(u, v, cx, cy, r), col, alpha);
}
static void paint_ellipse(const Canvas *cv, float cx, float cy, float rx, float ry, const float col[3], float alpha) {
    PAINT(cv, cx - rx, cy - ry, cx + rx, cy + ry, sd_ellipse(u, v, cx, cy, rx, ry), col, alpha);
}
// Ellipse rotated by angle t.
static void paint_ellipse_rot(const Canvas *cv, float cx, float cy, float rx, float ry, float t, const float col[3]) {
    float c = cosf(t), s = sinf(t), m = rx > ry ? rx : ry;
    PAINT(cv, cx - m, cy - m, cx + m, cy + m,
          sd_ellipse(c * (u - cx) + s * (v - cy), -s * (u - cx) + c * (v - cy), 0, 0, rx, ry), col, 1.f);
}
static void paint_box(const Canvas *cv, float cx, float cy, float hx, float hy, float r, const float col[3], float alpha) {
    PAINT(cv, cx - hx, cy - hy, cx + hx, cy + hy, sd_box(u, v, cx, cy, hx, hy, r), col, alpha);
}
static void paint_tri(const Canvas *cv, float ax, float ay, float bx, float by, float cx, float cy, const float col[3]) {
    float x0 = fminf(ax, fminf(bx, cx)), x1 = fmaxf(ax, fmaxf(bx, cx));
    float y0 = fminf(ay, fminf(by, cy)), y1 = fmaxf(ay, fmaxf(by, cy));
    PAINT(cv, x0, y0, x1, y1, sd_tri(u, v, ax, ay, bx, by, cx, cy), col, 1.f);
}
static void paint_capsule(const Canvas *cv, float ax, float ay, float bx, float by, float r, const float col[3]) {
    PAINT(cv, fminf(ax, bx) - r, fminf(ay, by) - r, fmaxf(ax, bx) + r, fmaxf(ay, by) + r,
          sd_capsule(u, v, ax, ay, bx, by, r), col, 1.f);
}

// Vertical gradient from `top` to `bottom` over rows v in [v0, v1), with exact coverage of the
// partly covered first and last rows.
static void fill_band(const Canvas *cv, float v0, float v1, const float top[3], const float bottom[3]) {
    const int S = cv->S;
    for (int j = 0; j < S; j++) {
        float r0 = (float)j / (float)S, r1 = (float)(j + 1) / (float)S;
        float a = (fminf(r1, v1) - fmaxf(r0, v0)) * (float)S;
        if (a <= 0.f) continue;
        if (a > 1.f) a = 1.f;
        float t = clamp01((0.5f * (r0 + r1) - v0) / (v1 - v0));
        float col[3] = {top[0] + (bottom[0] - top[0]) * t, top[1] + (bottom[1] - top[1]) * t,
                        top[2] + (bottom[2] - top[2]) * t};
        for (int i = 0; i < S; i++) blend_px(cv, i, j, col, a);
    }
}

// The subject's ground point (local (0, 0.5)) in image units, and its size in image units.
static void ground_point(const Canvas *cv, float *gu, float *gv, float *size) {
    const RenderPose *p = cv->pose;
    float c = cosf(p->angle), s = sinf(p->angle);
    *gu = (p->cx - s * 0.5f * p->scale) / (float)cv->S;
    *gv = (p->cy + c * 0.5f * p->scale) / (float)cv->S;
    *size = p->scale / (float)cv->S;
}

static void shadow(const Canvas *cv, float alpha) {
    float gu, gv, size;
    ground_point(cv, &gu, &gv, &size);
    const float black[3] = {0.05f, 0.05f, 0.08f};
    paint_ellipse(cv, gu, gv - 0.01f, 0.36f * size, 0.06f * size, black, alpha);
}

// Small 2D hash in [0, 1) for per-cell colour variation (deterministic, no state).
static inline float hash2(int a, int b) {
    uint32_t h = (uint32_t)a * 0x8da6b343u ^ (uint32_t)b * 0xd8163841u;
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return (float)(h & 0xffffff) / 16777216.f;
}

static void sunflower(const Canvas *cv, float cu, float cv_, float r) {
    const float stem[3] = {0.2f, 0.5f, 0.15f}, petal[3] = {0.98f, 0.8f, 0.1f}, seed[3] = {0.4f, 0.24f, 0.08f};
    paint_capsule(cv, cu, cv_, cu, 1.05f, 0.22f * r, stem);
    PAINT(cv, cu - 1.3f * r, cv_ - 1.3f * r, cu + 1.3f * r, cv_ + 1.3f * r, sd_star5(u, v, cu, cv_, 1.25f * r, 0.75f),
          petal, 1.f);
    paint_circle(cv, cu, cv_, 0.45f * r, seed, 1.f);
}

static void person(const Canvas *cv, float cu, float base, float h, const float shirt[3], const float skin[3]) {
    const float legs[3] = {0.18f, 0.18f, 0.24f};
    paint_capsule(cv, cu - 0.1f * h, base - 0.42f * h, cu - 0.1f * h, base - 0.03f * h, 0.07f * h, legs);
    paint_capsule(cv, cu + 0.1f * h, base - 0.42f * h, cu + 0.1f * h, base - 0.03f * h, 0.07f * h, legs);
    paint_box(cv, cu, base - 0.6f * h, 0.2f * h, 0.22f * h, 0.08f * h, shirt, 1.f);
    paint_circle(cv, cu, base - 0.9f * h, 0.11f * h, skin, 1.f);
}

static void reflection(const Canvas *cv, float gv, float alpha) {
    // The subject mirrored about the ground line, faded with distance from it.
    const int S = cv->S;
    PoseXf t = pose_xf(cv->pose);
    float gy = gv * (float)S;
    for (int j = (int)floorf(gy); j < S; j++) {
        if (j < 0) continue;
        float py = (float)j + 0.5f, ry = 2.f * gy - py;
        float fade = alpha * clamp01(1.f - (py - gy) / (0.9f * cv->pose->scale));
        if (fade <= 0.f) break;
        for (int i = 0; i < S; i++) {
            float lx, ly;
            xf_to_local(&t, (float)i + 0.5f, ry, &lx, &ly);
            if (fabsf(lx) > 0.56f || fabsf(ly) > 0.56f) continue;
            SubjectSample smp;
            subject_eval(cv->look, lx, ly, &smp);
            if (smp.alpha > 0.f) blend_px(cv, i, j, smp.rgb, smp.alpha * fade);
        }
    }
}

void scene_background(const Canvas *cv, int scene, uint64_t seed) {
    cg_rng r = cg_rng_make(seed, cg_rng_stream(WORLD_STREAM_SCENE, (uint64_t)(scene + 1), 0));
    const int S = cv->S;
    const float fS = (float)S;
    float gu, gv, size;
    ground_point(cv, &gu, &gv, &size);
    switch (scene) {
    case SCENE_JUNGLE: {
        fill_band(cv, 0, 1, (rgb3){0.05f, 0.2f, 0.07f}, (rgb3){0.1f, 0.32f, 0.1f});
        for (int i = 0; i < 3; i++) { // vines
            float x = urand(&r, 0.05f, 0.95f);
            paint_capsule(cv, x, 0, x + urand(&r, -0.05f, 0.05f), urand(&r, 0.3f, 0.6f), 0.012f,
                          (rgb3){0.06f, 0.3f, 0.08f});
        }
        for (int i = 0; i < 16; i++) { // leaves
            float t = urand(&r, 0, 1);
            rgb3 col = {0.1f + 0.15f * t, 0.42f + 0.28f * t, 0.1f + 0.1f * t};
            paint_ellipse_rot(cv, urand(&r, 0, 1), urand(&r, 0, 0.8f), urand(&r, 0.07f, 0.13f), urand(&r, 0.025f, 0.045f),
                              urand(&r, 0, 3.14159f), col);
        }
        fill_band(cv, 0.82f, 1, (rgb3){0.22f, 0.3f, 0.1f}, (rgb3){0.16f, 0.22f, 0.08f});
        shadow(cv, 0.35f);
        break;
    }
    case SCENE_SNOW: {
        fill_band(cv, 0, 0.55f, (rgb3){0.7f, 0.78f, 0.9f}, (rgb3){0.85f, 0.9f, 0.96f});
        paint_ellipse(cv, urand(&r, 0.1f, 0.9f), 0.6f, 0.45f, 0.12f, (rgb3){0.88f, 0.92f, 0.98f}, 1.f);
        for (int i = 0; i < 2; i++) { // snowy pines on the horizon
            float x = urand(&r, 0.05f, 0.95f), h = urand(&r, 0.14f, 0.22f);
            paint_tri(cv, x - 0.07f, 0.56f, x + 0.07f, 0.56f, x, 0.56f - h, (rgb3){0.1f, 0.3f, 0.2f});
            paint_tri(cv, x - 0.025f, 0.56f - 0.62f * h, x + 0.025f, 0.56f - 0.62f * h, x, 0.56f - h,
                      (rgb3){0.97f, 0.98f, 1.f});
        }
        fill_band(cv, 0.56f, 1, (rgb3){0.96f, 0.97f, 1.f}, (rgb3){0.88f, 0.92f, 0.98f});
        for (int i = 0; i < 28; i++)
            paint_circle(cv, urand(&r, 0, 1), urand(&r, 0, 0.8f), urand(&r, 0.008f, 0.016f), (rgb3){1, 1, 1}, 1.f);
        shadow(cv, 0.22f);
        break;
    }
    case SCENE_BEACH: {
        fill_band(cv, 0, 0.42f, (rgb3){0.42f, 0.7f, 0.95f}, (rgb3){0.7f, 0.87f, 0.98f});
        paint_circle(cv, urand(&r, 0.1f, 0.9f), 0.12f, 0.06f, (rgb3){1.f, 0.95f, 0.6f}, 1.f);
        fill_band(cv, 0.42f, 0.58f, (rgb3){0.08f, 0.42f, 0.7f}, (rgb3){0.15f, 0.58f, 0.8f});
        fill_band(cv, 0.58f, 1, (rgb3){0.96f, 0.86f, 0.62f}, (rgb3){0.9f, 0.76f, 0.5f});
        float ph = urand(&r, 0, 6.28f);
        const float foam[3] = {0.98f, 0.98f, 0.96f};
        PAINT(cv, 0, 0.54f, 1, 0.62f, fabsf(v - 0.585f - 0.01f * sinf(u * 20.f + ph)) - 0.01f, foam,
              1.f);
        shadow(cv, 0.3f);
        break;
    }
    case SCENE_COBBLESTONE: {
        fill_band(cv, 0, 0.45f, (rgb3){0.74f, 0.62f, 0.5f}, (rgb3){0.66f, 0.55f, 0.44f});
        for (int i = 0; i < 3; i++) {
            float x = 0.12f + 0.38f * (float)i + urand(&r, -0.05f, 0.05f);
            paint_box(cv, x, 0.2f, 0.07f, 0.1f, 0.01f, (rgb3){0.25f, 0.22f, 0.24f}, 1.f);
        }
        const float gap[3] = {0.27f, 0.26f, 0.25f};
        fill_band(cv, 0.45f, 1, gap, gap);
        const float rh = 0.085f, cw = 0.12f;
        for (int j = (int)(0.45f * fS); j < S; j++)
            for (int i = 0; i < S; i++) {
                float u = ((float)i + 0.5f) / fS, v = ((float)j + 0.5f) / fS;
                float row = floorf((v - 0.45f) / rh), shift = fmodf(row, 2.f) * 0.5f * cw;
                float col = floorf((u + shift) / cw);
                float cx = (col + 0.5f) * cw - shift, cy = 0.45f + (row + 0.5f) * rh;
                float d = sd_box(u, v, cx, cy, 0.5f * cw - 0.012f, 0.5f * rh - 0.012f, 0.02f);
                float t = hash2((int)col, (int)row);
                rgb3 stone = {0.5f + 0.14f * t, 0.48f + 0.13f * t, 0.45f + 0.12f * t};
                blend_px(cv, i, j, stone, cov(d, fS));
            }
        shadow(cv, 0.35f);
        break;
    }
    case SCENE_PINK_FABRIC: {
        float f1 = urand(&r, 5.f, 8.f), f2 = urand(&r, 3.f, 5.f), p1 = urand(&r, 0, 6.28f), p2 = urand(&r, 0, 6.28f);
        for (int j = 0; j < S; j++)
            for (int i = 0; i < S; i++) {
                float u = ((float)i + 0.5f) / fS, v = ((float)j + 0.5f) / fS;
                float fold = 0.5f + 0.3f * sinf(f1 * (u + 0.6f * v) + p1) + 0.2f * sinf(f2 * (u - 1.3f * v) + p2);
                float sh = 0.8f + 0.22f * fold;
                float *p = cv->img + ((size_t)j * (size_t)S + (size_t)i) * 3;
                p[0] = clamp01(0.97f * sh), p[1] = clamp01(0.58f * sh), p[2] = clamp01(0.74f * sh);
            }
        shadow(cv, 0.25f);
        break;
    }
    case SCENE_WOODEN_FLOOR: {
        fill_band(cv, 0, 0.5f, (rgb3){0.9f, 0.86f, 0.78f}, (rgb3){0.84f, 0.8f, 0.72f});
        const float rh = 0.075f;
        for (int j = (int)(0.5f * fS); j < S; j++)
            for (int i = 0; i < S; i++) {
                float u = ((float)i + 0.5f) / fS, v = ((float)j + 0.5f) / fS;
                float row = floorf((v - 0.5f) / rh), t = hash2((int)row, 7);
                float off = hash2((int)row, 3) * 0.4f, plank = floorf((u + off) / 0.4f);
                float t2 = hash2((int)row, (int)plank + 11);
                float grain = 0.94f + 0.06f * sinf(u * 90.f + t * 20.f);
                rgb3 wood = {(0.56f + 0.1f * t2) * grain, (0.35f + 0.06f * t2) * grain, (0.18f + 0.04f * t) * grain};
                float seam_h = fabsf(fractf((v - 0.5f) / rh) - 0.5f) * rh;     // 0.5 rh at the seam
                float seam_v = fabsf(fractf((u + off) / 0.4f) - 0.5f) * 0.4f;
                float d = fminf(0.5f * rh - seam_h, 0.2f - seam_v) - 0.006f;    // < 0 on a seam
                float *p = cv->img + ((size_t)j * (size_t)S + (size_t)i) * 3;
                const float dark[3] = {0.25f, 0.15f, 0.08f};
                memcpy(p, wood, sizeof(wood));
                blend_px(cv, i, j, dark, cov(d, fS) * 0.8f);
            }
        fill_band(cv, 0.48f, 0.52f, (rgb3){0.96f, 0.94f, 0.9f}, (rgb3){0.9f, 0.88f, 0.84f});
        shadow(cv, 0.35f);
        break;
    }
    case SCENE_CITY: {
        fill_band(cv, 0, 0.62f, (rgb3){0.52f, 0.7f, 0.92f}, (rgb3){0.78f, 0.86f, 0.95f});
        for (int b = 0; b < 9; b++) {
            float x = -0.05f + 0.13f * (float)b + urand(&r, -0.03f, 0.03f), w = urand(&r, 0.05f, 0.085f);
            float top = urand(&r, 0.1f, 0.45f), t = urand(&r, 0, 1);
            rgb3 col = {0.3f + 0.25f * t, 0.33f + 0.22f * t, 0.4f + 0.2f * t};
            paint_box(cv, x, (top + 0.63f) / 2, w, (0.63f - top) / 2, 0.f, col, 1.f);
            const float win[3] = {0.96f, 0.9f, 0.55f};
            PAINT(cv, x - w, top, x + w, 0.6f,
                  fmaxf(fmaxf(fabsf(fractf((u - x) / 0.045f) - 0.5f) * 0.045f - 0.012f,
                              fabsf(fractf((v - top) / 0.06f) - 0.5f) * 0.06f - 0.014f),
                        fmaxf(fabsf(u - x) - w + 0.012f, top + 0.02f - v)),
                  win, 0.9f);
        }
        fill_band(cv, 0.62f, 1, (rgb3){0.45f, 0.45f, 0.48f}, (rgb3){0.36f, 0.36f, 0.4f});
        fill_band(cv, 0.62f, 0.66f, (rgb3){0.62f, 0.62f, 0.62f}, (rgb3){0.62f, 0.62f, 0.62f});
        shadow(cv, 0.35f);
        break;
    }
    case SCENE_MOUNTAIN: {
        fill_band(cv, 0, 0.66f, (rgb3){0.42f, 0.66f, 0.95f}, (rgb3){0.75f, 0.86f, 0.97f});
        for (int m = 0; m < 3; m++) {
            float x = 0.15f + 0.35f * (float)m + urand(&r, -0.08f, 0.08f), top = urand(&r, 0.1f, 0.3f);
            float w = urand(&r, 0.3f, 0.42f), t = (float)m / 2.f;
            paint_tri(cv, x - w, 0.68f, x + w, 0.68f, x, top, (rgb3){0.4f + 0.08f * t, 0.44f + 0.08f * t, 0.55f + 0.08f * t});
            float k = 0.3f; // snow cap: the top 30 % of the mountain
            float yk = top + k * (0.68f - top);
            paint_tri(cv, x - w * k, yk, x + w * k, yk, x, top, (rgb3){0.97f, 0.98f, 1.f});
        }
        fill_band(cv, 0.66f, 1, (rgb3){0.36f, 0.63f, 0.3f}, (rgb3){0.27f, 0.52f, 0.22f});
        shadow(cv, 0.35f);
        break;
    }
    case SCENE_BLUE_HOUSE: {
        fill_band(cv, 0, 0.64f, (rgb3){0.5f, 0.75f, 0.96f}, (rgb3){0.75f, 0.88f, 0.98f});
        fill_band(cv, 0.64f, 1, (rgb3){0.38f, 0.68f, 0.3f}, (rgb3){0.28f, 0.56f, 0.22f});
        float x = cg_rng_below(&r, 2) ? urand(&r, 0.2f, 0.3f) : urand(&r, 0.7f, 0.8f);
        paint_box(cv, x, 0.5f, 0.2f, 0.17f, 0.f, (rgb3){0.16f, 0.38f, 0.86f}, 1.f);
        paint_tri(cv, x - 0.25f, 0.34f, x + 0.25f, 0.34f, x, 0.12f, (rgb3){0.5f, 0.18f, 0.14f});
        paint_box(cv, x + 0.08f, 0.57f, 0.045f, 0.1f, 0.f, (rgb3){0.95f, 0.95f, 0.95f}, 1.f);
        paint_box(cv, x - 0.08f, 0.46f, 0.055f, 0.05f, 0.f, (rgb3){0.95f, 0.95f, 0.95f}, 1.f);
        paint_box(cv, x - 0.08f, 0.46f, 0.04f, 0.035f, 0.f, (rgb3){0.45f, 0.65f, 0.85f}, 1.f);
        shadow(cv, 0.35f);
        break;
    }
    case SCENE_PURPLE_RUG_FOREST: {
        fill_band(cv, 0, 0.7f, (rgb3){0.1f, 0.26f, 0.12f}, (rgb3){0.16f, 0.36f, 0.14f});
        for (int t = 0; t < 5; t++) {
            float x = 0.1f + 0.2f * (float)t + urand(&r, -0.05f, 0.05f);
            paint_box(cv, x, 0.36f, urand(&r, 0.018f, 0.03f), 0.36f, 0.f, (rgb3){0.33f, 0.21f, 0.12f}, 1.f);
        }
        for (int c = 0; c < 8; c++)
            paint_circle(cv, urand(&r, 0, 1), urand(&r, 0, 0.18f), urand(&r, 0.08f, 0.14f), (rgb3){0.12f, 0.4f, 0.15f}, 1.f);
        fill_band(cv, 0.7f, 1, (rgb3){0.24f, 0.34f, 0.15f}, (rgb3){0.2f, 0.28f, 0.12f});
        float rx = fmaxf(0.3f, 0.75f * size), ry = 0.1f;
        paint_ellipse(cv, gu, gv, rx, ry, (rgb3){0.72f, 0.45f, 0.86f}, 1.f);
        paint_ellipse(cv, gu, gv, rx - 0.025f, ry - 0.02f, (rgb3){0.52f, 0.2f, 0.7f}, 1.f);
        shadow(cv, 0.3f);
        break;
    }
    case SCENE_WHEAT_FIELD: {
        fill_band(cv, 0, 0.45f, (rgb3){0.52f, 0.74f, 0.95f}, (rgb3){0.8f, 0.88f, 0.96f});
        float ph = urand(&r, 0, 6.28f);
        for (int j = (int)(0.44f * fS); j < S; j++)
            for (int i = 0; i < S; i++) {
                float u = ((float)i + 0.5f) / fS, v = ((float)j + 0.5f) / fS;
                float a = clamp01((v - 0.45f) * fS + 0.5f);
                float sh = 0.86f + 0.14f * sinf(u * 95.f + 3.f * sinf(v * 9.f + ph));
                float t = clamp01((v - 0.45f) / 0.55f);
                rgb3 col = {(0.92f - 0.1f * t) * sh, (0.76f - 0.14f * t) * sh, (0.32f - 0.1f * t) * sh};
                blend_px(cv, i, j, col, a);
            }
        for (int k = 0; k < 14; k++) // heads along the horizon
            paint_ellipse(cv, (float)k / 13.f + urand(&r, -0.02f, 0.02f), 0.45f + urand(&r, -0.01f, 0.01f), 0.018f,
                          0.035f, (rgb3){0.95f, 0.8f, 0.38f}, 1.f);
        shadow(cv, 0.3f);
        break;
    }
    case SCENE_AUTUMN_TREE: {
        fill_band(cv, 0, 0.68f, (rgb3){0.66f, 0.78f, 0.92f}, (rgb3){0.9f, 0.88f, 0.82f});
        fill_band(cv, 0.68f, 1, (rgb3){0.58f, 0.4f, 0.2f}, (rgb3){0.5f, 0.33f, 0.16f});
        float x = cg_rng_below(&r, 2) ? urand(&r, 0.12f, 0.25f) : urand(&r, 0.75f, 0.88f);
        paint_box(cv, x, 0.5f, 0.035f, 0.2f, 0.f, (rgb3){0.33f, 0.2f, 0.1f}, 1.f);
        const rgb3 leaves[3] = {{0.92f, 0.45f, 0.08f}, {0.85f, 0.22f, 0.08f}, {0.96f, 0.68f, 0.12f}};
        for (int c = 0; c < 6; c++)
            paint_circle(cv, x + urand(&r, -0.14f, 0.14f), urand(&r, 0.16f, 0.34f), urand(&r, 0.09f, 0.14f),
                         leaves[cg_rng_below(&r, 3)], 1.f);
        for (int l = 0; l < 14; l++)
            paint_ellipse_rot(cv, urand(&r, 0, 1), urand(&r, 0.05f, 1.f), 0.022f, 0.012f, urand(&r, 0, 3.14f),
                              leaves[cg_rng_below(&r, 3)]);
        shadow(cv, 0.35f);
        break;
    }
    case SCENE_EIFFEL_TOWER: {
        fill_band(cv, 0, 0.72f, (rgb3){0.55f, 0.72f, 0.92f}, (rgb3){0.86f, 0.88f, 0.92f});
        fill_band(cv, 0.72f, 1, (rgb3){0.5f, 0.6f, 0.38f}, (rgb3){0.42f, 0.52f, 0.3f});
        float x = cg_rng_below(&r, 2) ? urand(&r, 0.16f, 0.24f) : urand(&r, 0.76f, 0.84f);
        const float iron[3] = {0.36f, 0.29f, 0.24f};
        // legs: a tall triangle with an arch cut out, two platforms, a spire
        PAINT(cv, x - 0.2f, 0.0f, x + 0.2f, 0.74f,
              fmaxf(sd_tri(u, v, x - 0.17f, 0.73f, x + 0.17f, 0.73f, x, 0.06f),
                    -sd_ellipse(u, v, x, 0.74f, 0.09f, 0.14f)),
              iron, 1.f);
        paint_box(cv, x, 0.48f, 0.11f, 0.012f, 0.f, iron, 1.f);
        paint_box(cv, x, 0.3f, 0.065f, 0.01f, 0.f, iron, 1.f);
        paint_capsule(cv, x, 0.02f, x, 0.1f, 0.006f, iron);
        shadow(cv, 0.35f);
        break;
    }
    case SCENE_WATER:
    case SCENE_MILK: {
        int milk = scene == SCENE_MILK;
        fill_band(cv, 0, 0.3f, milk ? (rgb3){0.7f, 0.82f, 0.95f} : (rgb3){0.55f, 0.76f, 0.96f},
                  (rgb3){0.85f, 0.9f, 0.97f});
        float ph = urand(&r, 0, 6.28f);
        for (int j = (int)(0.29f * fS); j < S; j++)
            for (int i = 0; i < S; i++) {
                float u = ((float)i + 0.5f) / fS, v = ((float)j + 0.5f) / fS;
                float a = clamp01((v - 0.3f) * fS + 0.5f), t = clamp01((v - 0.3f) / 0.7f);
                float wave = sinf(v * 70.f + 2.5f * sinf(u * 11.f + ph));
                float hi = clamp01((wave - 0.6f) * 2.5f);
                rgb3 col;
                if (milk) set3(col, 0.97f - 0.05f * t - 0.05f * hi, 0.96f - 0.06f * t - 0.05f * hi, 0.92f - 0.08f * t - 0.06f * hi);
                else set3(col, 0.1f - 0.05f * t + 0.3f * hi, 0.45f - 0.13f * t + 0.25f * hi, 0.72f - 0.12f * t + 0.15f * hi);
                blend_px(cv, i, j, col, a);
            }
        break;
    }
    case SCENE_SUNFLOWERS: {
        fill_band(cv, 0, 0.5f, (rgb3){0.45f, 0.72f, 0.96f}, (rgb3){0.75f, 0.87f, 0.97f});
        for (int j = (int)(0.49f * fS); j < S; j++)
            for (int i = 0; i < S; i++) {
                float u = ((float)i + 0.5f) / fS, v = ((float)j + 0.5f) / fS;
                float a = clamp01((v - 0.5f) * fS + 0.5f), t = clamp01((v - 0.5f) / 0.5f);
                float sh = 0.88f + 0.12f * sinf(u * 110.f + 4.f * v);
                rgb3 col = {(0.32f - 0.1f * t) * sh, (0.66f - 0.12f * t) * sh, (0.2f - 0.06f * t) * sh};
                blend_px(cv, i, j, col, a);
            }
        for (int k = 0; k < 4; k++) // sunflowers behind
            sunflower(cv, 0.12f + 0.25f * (float)k + urand(&r, -0.06f, 0.06f), urand(&r, 0.3f, 0.5f), urand(&r, 0.045f, 0.06f));
        shadow(cv, 0.3f);
        break;
    }
    case SCENE_MIRROR: { // a wall, a mirror slab from a little behind the subject, its reflection
        float mt = gv - 0.07f;
        fill_band(cv, 0, mt, (rgb3){0.84f, 0.82f, 0.78f}, (rgb3){0.76f, 0.74f, 0.7f});
        float ph = urand(&r, 0, 1);
        for (int j = (int)floorf(mt * fS); j < S; j++)
            for (int i = 0; i < S; i++) {
                if (j < 0) continue;
                float u = ((float)i + 0.5f) / fS, v = ((float)j + 0.5f) / fS;
                float a = clamp01((v - mt) * fS + 0.5f), t = clamp01((v - mt) / (1.f - mt + 1e-3f));
                float sheen = clamp01(1.f - fabsf(fractf((u + v) * 2.f + ph) - 0.5f) * 8.f);
                rgb3 col = {0.72f - 0.1f * t + 0.15f * sheen, 0.8f - 0.1f * t + 0.12f * sheen, 0.88f - 0.08f * t + 0.1f * sheen};
                blend_px(cv, i, j, col, a);
            }
        const float edge[3] = {0.97f, 0.98f, 1.f};
        PAINT(cv, 0, mt - 0.02f, 1, mt + 0.02f, fabsf(v - mt) - 0.008f, edge, 1.f);
        reflection(cv, gv, 0.6f);
        break;
    }
    case SCENE_CROWDED_SIDEWALK: {
        fill_band(cv, 0, 0.5f, (rgb3){0.64f, 0.56f, 0.5f}, (rgb3){0.58f, 0.5f, 0.45f});
        for (int w = 0; w < 3; w++)
            paint_box(cv, 0.18f + 0.32f * (float)w, 0.22f, 0.1f, 0.12f, 0.f, (rgb3){0.22f, 0.3f, 0.42f}, 1.f);
        for (int j = (int)(0.5f * fS); j < S; j++)
            for (int i = 0; i < S; i++) {
                float u = ((float)i + 0.5f) / fS, v = ((float)j + 0.5f) / fS;
                float a = clamp01((v - 0.5f) * fS + 0.5f);
                float sx = fabsf(fractf(u / 0.22f) - 0.5f) * 0.22f, sy = fabsf(fractf((v - 0.5f) / 0.14f) - 0.5f) * 0.14f;
                float seam = cov(fminf(0.11f - sx, 0.07f - sy) - 0.005f, fS);
                rgb3 col = {0.74f - 0.2f * seam, 0.73f - 0.2f * seam, 0.7f - 0.2f * seam};
                blend_px(cv, i, j, col, a);
            }
        static const rgb3 shirts[6] = {{0.85f, 0.2f, 0.2f}, {0.2f, 0.45f, 0.85f}, {0.95f, 0.75f, 0.2f},
                                       {0.3f, 0.65f, 0.35f}, {0.55f, 0.3f, 0.7f}, {0.9f, 0.5f, 0.2f}};
        static const rgb3 skins[3] = {{0.93f, 0.76f, 0.6f}, {0.7f, 0.5f, 0.36f}, {0.45f, 0.3f, 0.22f}};
        for (int p = 0; p < 8; p++) {
            float base = urand(&r, 0.56f, 0.7f), h = 0.3f + 0.5f * (base - 0.5f);
            person(cv, urand(&r, 0.02f, 0.98f), base, h, shirts[cg_rng_below(&r, 6)], skins[cg_rng_below(&r, 3)]);
        }
        shadow(cv, 0.35f);
        break;
    }
    case SCENE_DIRT_ROAD: {
        fill_band(cv, 0, 0.45f, (rgb3){0.52f, 0.74f, 0.95f}, (rgb3){0.8f, 0.88f, 0.96f});
        fill_band(cv, 0.45f, 1, (rgb3){0.42f, 0.62f, 0.26f}, (rgb3){0.34f, 0.54f, 0.2f});
        float x = urand(&r, 0.4f, 0.6f);
        const float quad[8] = {x - 0.03f, 0.45f, x + 0.03f, 0.45f, 1.15f, 1.f, -0.15f, 1.f};
        const float dirt[3] = {0.62f, 0.46f, 0.28f};
        PAINT(cv, 0, 0.44f, 1, 1, sd_quad(u, v, quad), dirt, 1.f);
        for (int s = -1; s <= 1; s += 2) // tyre tracks
            paint_capsule(cv, x + 0.01f * s, 0.46f, x + 0.35f * s, 1.05f, 0.012f, (rgb3){0.5f, 0.36f, 0.2f});
        for (int k = 0; k < 12; k++)
            paint_circle(cv, urand(&r, 0.1f, 0.9f), urand(&r, 0.6f, 1.f), 0.01f, (rgb3){0.48f, 0.42f, 0.36f}, 1.f);
        shadow(cv, 0.35f);
        break;
    }
    case SCENE_WHITE_RUG: {
        fill_band(cv, 0, 0.55f, (rgb3){0.74f, 0.78f, 0.82f}, (rgb3){0.66f, 0.7f, 0.75f});
        fill_band(cv, 0.55f, 1, (rgb3){0.45f, 0.4f, 0.36f}, (rgb3){0.38f, 0.33f, 0.3f});
        float hx = fmaxf(0.3f, 0.7f * size), hy = 0.11f;
        float ph = urand(&r, 0, 6.28f);
        const float wool[3] = {0.97f, 0.97f, 0.95f};
        PAINT(cv, gu - hx - 0.05f, gv - hy - 0.03f, gu + hx + 0.05f, gv + hy + 0.03f,
              sd_box(u, v, gu, gv, hx, hy, 0.04f) + 0.006f * sinf(u * 140.f + ph) * sinf(v * 150.f),
              wool, 1.f);
        const float tassel[3] = {0.9f, 0.9f, 0.88f};
        for (int s = -1; s <= 1; s += 2) // tassels
            PAINT(cv, gu + s * hx - 0.05f, gv - hy, gu + s * hx + 0.05f, gv + hy,
                  fmaxf(fmaxf(fabsf(fractf(v / 0.03f) - 0.5f) * 0.03f - 0.006f, fabsf(u - gu - s * (hx + 0.02f)) - 0.02f),
                        fabsf(v - gv) - hy + 0.02f),
                  tassel, 1.f);
        shadow(cv, 0.25f);
        break;
    }
    default: { // the neutral studio: a light wall and a slightly darker floor
        fill_band(cv, 0, 0.66f, (rgb3){0.86f, 0.85f, 0.82f}, (rgb3){0.79f, 0.78f, 0.75f});
        fill_band(cv, 0.66f, 1, (rgb3){0.7f, 0.68f, 0.64f}, (rgb3){0.62f, 0.6f, 0.56f});
        shadow(cv, 0.3f);
        break;
    }
    }
}

void scene_puddle(const Canvas *cv) {
    float gu, gv, size;
    ground_point(cv, &gu, &gv, &size);
    paint_ellipse(cv, gu, gv, 0.5f * size, 0.09f * size, (rgb3){0.35f, 0.5f, 0.68f}, 0.75f);
    paint_ellipse(cv, gu - 0.1f * size, gv - 0.02f * size, 0.2f * size, 0.025f * size, (rgb3){0.8f, 0.9f, 1.f}, 0.6f);
}

void scene_foreground(const Canvas *cv, int scene, uint64_t seed, float *cov_subject) {
    const int S = cv->S;
    const float fS = (float)S;
    float gu, gv, size;
    ground_point(cv, &gu, &gv, &size);
    if (scene == SCENE_WATER || scene == SCENE_MILK) {
        // the liquid in front of the subject's lower part, with a wavy line and a light rim
        int milk = scene == SCENE_MILK;
        float line = gv - (milk ? 0.26f : 0.2f) * size, alpha = milk ? 0.94f : 0.8f;
        cg_rng r = cg_rng_make(seed, cg_rng_stream(WORLD_STREAM_SCENE, (uint64_t)(scene + 1), 1));
        float ph = urand(&r, 0, 6.28f);
        const float rim[3] = {0.98f, 0.98f, 0.96f};
        for (int j = (int)floorf((line - 0.03f) * fS); j < S; j++) {
            if (j < 0) continue;
            for (int i = 0; i < S; i++) {
                float u = ((float)i + 0.5f) / fS, v = ((float)j + 0.5f) / fS;
                float d = line + 0.01f * sinf(u * 40.f + ph) - v; // < 0 below the line
                float a = cov(d, fS) * alpha;
                if (a <= 0.f) continue;
                float t = clamp01((v - 0.3f) / 0.7f);
                float col[3];
                if (milk) set3(col, 0.97f - 0.05f * t, 0.96f - 0.06f * t, 0.92f - 0.08f * t);
                else set3(col, 0.12f - 0.05f * t, 0.45f - 0.13f * t, 0.72f - 0.12f * t);
                mix3(col, rim, cov(fabsf(d) - 0.008f, fS) * 0.7f);
                blend_px(cv, i, j, col, a);
                cov_subject[(size_t)j * (size_t)S + (size_t)i] *= 1.f - a;
            }
        }
    } else if (scene == SCENE_SUNFLOWERS) {
        // two big sunflowers in the front corners; the pixels they cover leave the subject's mask
        cg_rng r = cg_rng_make(seed, cg_rng_stream(WORLD_STREAM_SCENE, (uint64_t)(scene + 1), 1));
        for (int k = 0; k < 2; k++) {
            float cu = k ? urand(&r, 0.88f, 0.96f) : urand(&r, 0.04f, 0.12f), cvv = urand(&r, 0.72f, 0.82f);
            float rr = urand(&r, 0.07f, 0.085f);
            // coverage of the flower (head and stem) at each pixel, applied to the mask
            int i0 = (int)floorf((cu - 1.4f * rr) * fS) - 1, i1 = (int)ceilf((cu + 1.4f * rr) * fS) + 1;
            int j0 = (int)floorf((cvv - 1.4f * rr) * fS) - 1;
            if (i0 < 0) i0 = 0;
            if (i1 > S) i1 = S;
            if (j0 < 0) j0 = 0;
            for (int j = j0; j < S; j++)
                for (int i = i0; i < i1; i++) {
                    float u = ((float)i + 0.5f) / fS, v = ((float)j + 0.5f) / fS;
                    float d = fminf(sd_star5(u, v, cu, cvv, 1.25f * rr, 0.75f), sd_capsule(u, v, cu, cvv, cu, 1.05f, 0.22f * rr));
                    cov_subject[(size_t)j * (size_t)S + (size_t)i] *= 1.f - cov(d, fS);
                }
            sunflower(cv, cu, cvv, rr);
        }
    }
}
