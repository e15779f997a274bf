// canvas.h: the drawing primitives of the SubjectBench rasterizer (not a public API), shared by
// render.c and the draw_*.c files and depending on neither:
//   - scalar helpers, coverage and colour blending;
//   - signed distance functions (negative inside);
//   - the canvas a scene is painted on, and the pose's pixel <-> local-units mapping (canvas.c).
// Subject geometry lives in "local units": the subject's box is [-0.5, 0.5]^2, y points down,
// the ground is at y = +0.5. A pose maps pixels to local units (render.h RenderPose).
// Who calls whom: render.c -> draw_*.c (draw.h) -> canvas.c (this header), and render.c -> canvas.c;
// nothing here calls render.c or draw_*.c.
#ifndef CGRPO_CANVAS_H
#define CGRPO_CANVAS_H

#include <math.h>

#include "world/render.h" // RenderPose (a type only: nothing here calls render.c)

// ---- scalar helpers ----------------------------------------------------------------------------
// Length of (x, y): sqrtf rather than hypotf (no overflow is possible at our scales, and it is
// several times faster in the per-pixel loops).
static inline float lenf(float x, float y) { return sqrtf(x * x + y * y); }
static inline float clamp01(float v) { return v < 0.f ? 0.f : (v > 1.f ? 1.f : v); }
static inline float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }
static inline float fractf(float v) { return v - floorf(v); }
// Coverage of a pixel by the inside of a distance field: d in some unit, k pixels per unit.
static inline float cov(float d, float k) { return clamp01(0.5f - d * k); }
// c = c (1 - a) + o a: paint colour o with opacity a over c. Written this way so that a = 1 gives
// exactly o and a = 0 exactly c (the mask tests compare bits).
static inline void mix3(float c[3], const float o[3], float a) {
    float b = 1.f - a;
    c[0] = c[0] * b + o[0] * a;
    c[1] = c[1] * b + o[1] * a;
    c[2] = c[2] * b + o[2] * a;
}
static inline void set3(float c[3], float r, float g, float b) { c[0] = r, c[1] = g, c[2] = b; }
static inline void scale3(float c[3], float s) {
    c[0] = clamp01(c[0] * s), c[1] = clamp01(c[1] * s), c[2] = clamp01(c[2] * s);
}

// ---- signed distance functions (IQ's formulas, written out) -------------------------------------
static inline float sd_circle(float x, float y, float cx, float cy, float r) {
    return lenf(x - cx, y - cy) - r;
}
// Box centred at (cx, cy) with half sizes (hx, hy) and corner radius r (r <= min(hx, hy)).
static inline float sd_box(float x, float y, float cx, float cy, float hx, float hy, float r) {
    float qx = fabsf(x - cx) - hx + r, qy = fabsf(y - cy) - hy + r;
    float ox = qx > 0 ? qx : 0, oy = qy > 0 ? qy : 0;
    float in = qx > qy ? qx : qy;
    return lenf(ox, oy) + (in < 0 ? in : 0) - r;
}
// Ellipse with radii (rx, ry): a good approximation of the distance (exact on the axes).
static inline float sd_ellipse(float x, float y, float cx, float cy, float rx, float ry) {
    float px = (x - cx) / rx, py = (y - cy) / ry;
    float k0 = lenf(px, py), k1 = lenf(px / rx, py / ry);
    if (k1 < 1e-6f) return -(rx < ry ? rx : ry);
    return k0 * (k0 - 1.f) / k1;
}
// Segment a-b thickened by r.
static inline float sd_capsule(float x, float y, float ax, float ay, float bx, float by, float r) {
    float pax = x - ax, pay = y - ay, bax = bx - ax, bay = by - ay;
    float h = clamp01((pax * bax + pay * bay) / (bax * bax + bay * bay + 1e-12f));
    return lenf(pax - bax * h, pay - bay * h) - r;
}
// Triangle a, b, c (any orientation).
static inline float sd_tri(float x, float y, float ax, float ay, float bx, float by, float cx, float cy) {
    float e0x = bx - ax, e0y = by - ay, e1x = cx - bx, e1y = cy - by, e2x = ax - cx, e2y = ay - cy;
    float v0x = x - ax, v0y = y - ay, v1x = x - bx, v1y = y - by, v2x = x - cx, v2y = y - cy;
    float h0 = clamp01((v0x * e0x + v0y * e0y) / (e0x * e0x + e0y * e0y));
    float h1 = clamp01((v1x * e1x + v1y * e1y) / (e1x * e1x + e1y * e1y));
    float h2 = clamp01((v2x * e2x + v2y * e2y) / (e2x * e2x + e2y * e2y));
    float q0x = v0x - e0x * h0, q0y = v0y - e0y * h0, q1x = v1x - e1x * h1, q1y = v1y - e1y * h1;
    float q2x = v2x - e2x * h2, q2y = v2y - e2y * h2;
    float s = e0x * e2y - e0y * e2x > 0 ? 1.f : -1.f;
    float d0 = q0x * q0x + q0y * q0y, s0 = s * (v0x * e0y - v0y * e0x);
    float d1 = q1x * q1x + q1y * q1y, s1 = s * (v1x * e1y - v1y * e1x);
    float d2 = q2x * q2x + q2y * q2y, s2 = s * (v2x * e2y - v2y * e2x);
    float d = d0 < d1 ? d0 : d1;
    d = d < d2 ? d : d2;
    float sg = s0 < s1 ? s0 : s1;
    sg = sg < s2 ? sg : s2;
    return -sqrtf(d) * (sg > 0 ? 1.f : -1.f);
}
// Convex quad a, b, c, d (as two triangles; the seam is exact enough for coverage).
static inline float sd_quad(float x, float y, const float q[8]) {
    float t1 = sd_tri(x, y, q[0], q[1], q[2], q[3], q[4], q[5]);
    float t2 = sd_tri(x, y, q[0], q[1], q[4], q[5], q[6], q[7]);
    return t1 < t2 ? t1 : t2;
}
// Five-pointed star of outer radius r, inner radius ratio rf, one point up (IQ's sdStar5).
static inline float sd_star5(float x, float y, float cx, float cy, float r, float rf) {
    const float k1x = 0.809016994f, k1y = -0.587785252f, k2x = -0.809016994f, k2y = -0.587785252f;
    float px = fabsf(x - cx), py = cy - y; // y up inside
    float d = k1x * px + k1y * py;
    if (d > 0) px -= 2 * d * k1x, py -= 2 * d * k1y;
    d = k2x * px + k2y * py;
    if (d > 0) px -= 2 * d * k2x, py -= 2 * d * k2y;
    px = fabsf(px);
    py -= r;
    float bax = rf * -k1y, bay = rf * k1x - 1.f;
    float h = clampf((px * bax + py * bay) / (bax * bax + bay * bay), 0.f, r);
    float qx = px - bax * h, qy = py - bay * h;
    return lenf(qx, qy) * ((py * bax - px * bay) > 0 ? 1.f : -1.f);
}
// Smooth union with blend radius k.
static inline float smin(float a, float b, float k) {
    float h = clamp01(0.5f + 0.5f * (b - a) / k);
    return b + (a - b) * h - k * h * (1.f - h);
}

// ---- the canvas ---------------------------------------------------------------------------------

typedef struct SubjectLook SubjectLook; // the subject's look (draw.h)

// What the scenes (draw_scene.c) paint on.
typedef struct {
    float *img;             // (S, S, 3)
    int S;
    const RenderPose *pose; // the subject's pose (rugs, shadows, reflections, waterlines use it)
    const SubjectLook *look;// for the mirror's reflection
} Canvas;

// A pose ready for per-pixel use: local = flip(R(-angle) (p - c) / scale).
typedef struct {
    float cx, cy, ca, sa, inv; // centre, cos/sin of the angle, 1 / scale
    int flip;
} PoseXf;

static inline PoseXf pose_xf(const RenderPose *p) {
    PoseXf t = {p->cx, p->cy, cosf(p->angle), sinf(p->angle), 1.f / p->scale, p->flip};
    return t;
}
static inline void xf_to_local(const PoseXf *t, float px, float py, float *lx, float *ly) {
    float dx = px - t->cx, dy = py - t->cy;
    float x = (t->ca * dx + t->sa * dy) * t->inv, y = (-t->sa * dx + t->ca * dy) * t->inv;
    *lx = t->flip ? -x : x;
    *ly = y;
}
// Pixel bounding box [*i0, *i1) x [*j0, *j1) of the local rectangle [x0, x1] x [y0, y1] under a
// pose, clipped to the image.
void pose_bbox(const RenderPose *p, float x0, float y0, float x1, float y1, int S, int *i0, int *i1,
               int *j0, int *j1);

#endif
