// draw_accessory.c: the 10 DreamBench accessories (hats, scarf, glasses, outfits) and the
// overlays of the shiny and wet property edits, in the subject's local units.
//
// Accessories attach to the subject's anchors (head, eyes, neck, torso; see ClassGeo in
// draw_subject.c), so they follow the pose. Outfits cover the torso part of the body, the way a
// shirt or a robe hides the fur, so they also remove those pixels from the subject's mask.

#include "world/prompts.h"
#include "world/canvas.h"
#include "world/draw.h"

typedef struct {
    float P[3], A, k; // premultiplied colour, coverage, pixels per unit
} Layer;

static inline void lay(Layer *g, float d, float r, float gg, float b) {
    float a = cov(d, g->k);
    if (a <= 0.f) return;
    g->P[0] = g->P[0] * (1 - a) + r * a;
    g->P[1] = g->P[1] * (1 - a) + gg * a;
    g->P[2] = g->P[2] * (1 - a) + b * a;
    g->A = g->A * (1 - a) + a;
}
// Same with an extra opacity (tinted lenses).
static inline void lay_alpha(Layer *g, float d, float r, float gg, float b, float alpha) {
    float a = cov(d, g->k) * alpha;
    if (a <= 0.f) return;
    g->P[0] = g->P[0] * (1 - a) + r * a;
    g->P[1] = g->P[1] * (1 - a) + gg * a;
    g->P[2] = g->P[2] * (1 - a) + b * a;
    g->A = g->A * (1 - a) + a;
}

// An outfit piece: its colour, and a darker edge so that it shows on a body of the same colour.
static inline void lay_outfit(Layer *g, float d, float r, float gg, float b) {
    lay(g, d, r, gg, b);
    lay(g, fabsf(d + 0.02f) - 0.02f, 0.55f * r, 0.55f * gg, 0.55f * b);
}

static const float RAINBOW[6][3] = {{0.9f, 0.12f, 0.12f}, {0.98f, 0.55f, 0.1f}, {0.98f, 0.9f, 0.15f},
                                    {0.2f, 0.7f, 0.25f},  {0.15f, 0.4f, 0.9f},  {0.55f, 0.2f, 0.75f}};

// Outfit body: the torso grown by `grow`, cut above the neck line when `cut` is set.
static inline float outfit(const SubjectSample *sub, const Anchors *a, float y, float grow, int cut) {
    float d = sub->d_torso - grow;
    return cut ? fmaxf(d, a->ny - y) : d;
}

// Glasses: a ring around each eye and a bridge; a side view (eyes close together) gets one lens
// and a temple instead.
static void glasses(Layer *g, const Anchors *a, float x, float y, float r, float gg, float b, float tr,
                    float tg, float tb) {
    float R = a->er + 0.035f, dx = a->e2x - a->e1x, dy = a->e2y - a->e1y;
    int side = dx * dx + dy * dy < (2.2f * R) * (2.2f * R);
    lay_alpha(g, sd_circle(x, y, a->e1x, a->e1y, R), tr, tg, tb, 0.45f);
    lay(g, fabsf(sd_circle(x, y, a->e1x, a->e1y, R)) - 0.02f, r, gg, b);
    if (side) {
        lay(g, sd_capsule(x, y, a->e1x - R, a->e1y, a->e1x - R - 0.12f, a->e1y - 0.01f, 0.016f), r, gg, b);
    } else {
        lay_alpha(g, sd_circle(x, y, a->e2x, a->e2y, R), tr, tg, tb, 0.45f);
        lay(g, fabsf(sd_circle(x, y, a->e2x, a->e2y, R)) - 0.02f, r, gg, b);
        float s = dx > 0 ? 1.f : -1.f;
        lay(g, sd_capsule(x, y, a->e1x + s * R, a->e1y, a->e2x - s * R, a->e2y, 0.016f), r, gg, b);
    }
}

float accessory_eval(int acc, const SubjectLook *lk, const SubjectSample *sub, float x, float y, float rgb[3]) {
    const Anchors *a = &lk->anchors;
    float hx = a->hx, hy = a->hy, hr = a->hr;
    Layer g = {{0, 0, 0}, 0.f, lk->k};
    switch (acc) {
    case ACC_RED_HAT: { // a cap: red dome with a brim towards the facing side
        float base = hy - 0.45f * hr;
        lay(&g, fmaxf(sd_ellipse(x, y, hx, base, 0.98f * hr, 0.78f * hr), y - base), 0.88f, 0.1f, 0.12f);
        lay(&g, sd_capsule(x, y, hx - 0.9f * hr, base, hx + 1.6f * hr, base + 0.02f, 0.035f), 0.68f, 0.05f, 0.08f);
        lay(&g, sd_circle(x, y, hx, base - 0.78f * hr, 0.03f), 0.68f, 0.05f, 0.08f);
        break;
    }
    case ACC_SANTA_HAT: { // red cone bent to the side, white fur band and pompom
        float base = hy - 0.5f * hr, tx = hx + 1.05f * hr, ty = base - 1.25f * hr;
        lay(&g, sd_tri(x, y, hx - 0.95f * hr, base, hx + 0.95f * hr, base, tx, ty), 0.86f, 0.08f, 0.1f);
        lay(&g, sd_capsule(x, y, hx - 1.0f * hr, base, hx + 1.0f * hr, base, 0.055f), 0.98f, 0.98f, 0.97f);
        lay(&g, sd_circle(x, y, tx, ty, 0.06f), 0.98f, 0.98f, 0.97f);
        break;
    }
    case ACC_RAINBOW_SCARF: { // a band around the neck and a hanging end, striped in six colours
        float x0 = a->nx - 1.1f * a->nw;
        float band = sd_box(x, y, a->nx, a->ny, 1.1f * a->nw, 0.055f, 0.04f);
        float tail = sd_box(x, y, a->nx + 0.5f * a->nw, a->ny + 0.14f, 0.05f, 0.12f, 0.02f);
        int i = (int)floorf((x - x0) / 0.05f), j = (int)floorf((y - a->ny) / 0.045f);
        const float *cb = RAINBOW[((i % 6) + 6) % 6], *ct = RAINBOW[((j % 6) + 6) % 6];
        lay(&g, tail, ct[0], ct[1], ct[2]);
        lay(&g, band, cb[0], cb[1], cb[2]);
        break;
    }
    case ACC_TOP_HAT_MONOCLE: { // black top hat with a grey band; a gold monocle on the facing eye
        float brim = hy - 0.72f * hr;
        lay(&g, sd_box(x, y, hx, brim - 0.6f * hr, 0.62f * hr, 0.6f * hr, 0.015f), 0.07f, 0.07f, 0.08f);
        lay(&g, sd_box(x, y, hx, brim - 0.14f * hr, 0.63f * hr, 0.11f * hr, 0.005f), 0.42f, 0.42f, 0.46f);
        lay(&g, sd_capsule(x, y, hx - 1.05f * hr, brim, hx + 1.05f * hr, brim, 0.03f), 0.07f, 0.07f, 0.08f);
        float R = a->er + 0.03f;
        lay_alpha(&g, sd_circle(x, y, a->e1x, a->e1y, R), 0.85f, 0.92f, 1.f, 0.35f);
        lay(&g, fabsf(sd_circle(x, y, a->e1x, a->e1y, R)) - 0.016f, 0.92f, 0.76f, 0.25f);
        lay(&g, sd_capsule(x, y, a->e1x + 0.7f * R, a->e1y + 0.7f * R, a->e1x + 0.1f, a->e1y + 0.3f, 0.01f), 0.92f,
            0.76f, 0.25f);
        break;
    }
    case ACC_CHEF: { // white toque and a white double-breasted jacket
        lay_outfit(&g, outfit(sub, a, y, 0.015f, 1), 0.97f, 0.97f, 0.95f);
        for (int i = 0; i < 2; i++)
            for (int s = -1; s <= 1; s += 2)
                lay(&g, sd_circle(x, y, a->tx + 0.05f * s, a->ny + 0.07f + 0.09f * (float)i, 0.022f), 0.3f, 0.3f, 0.32f);
        lay(&g, sd_box(x, y, hx, hy - 1.0f * hr, 0.62f * hr, 0.4f * hr, 0.02f), 0.98f, 0.98f, 0.97f);
        lay(&g, sd_circle(x, y, hx - 0.42f * hr, hy - 1.35f * hr, 0.42f * hr), 0.98f, 0.98f, 0.97f);
        lay(&g, sd_circle(x, y, hx + 0.42f * hr, hy - 1.35f * hr, 0.42f * hr), 0.98f, 0.98f, 0.97f);
        lay(&g, sd_circle(x, y, hx, hy - 1.55f * hr, 0.46f * hr), 0.98f, 0.98f, 0.97f);
        lay(&g, sd_box(x, y, hx, hy - 0.62f * hr, 0.74f * hr, 0.14f * hr, 0.02f), 0.88f, 0.88f, 0.86f);
        break;
    }
    case ACC_FIREFIGHTER: { // charcoal coat with two reflective bands, red helmet
        float coat = outfit(sub, a, y, 0.015f, 1);
        lay_outfit(&g, coat, 0.2f, 0.19f, 0.2f);
        float s1 = 0.5f * (a->ny + a->ty + a->th), s2 = a->ny + 0.75f * (a->ty + a->th - a->ny);
        float bands = fminf(fabsf(y - s1), fabsf(y - s2)) - 0.018f;
        lay(&g, fmaxf(coat + 0.02f, bands), 0.92f, 0.95f, 0.35f);
        float base = hy - 0.45f * hr;
        lay(&g, sd_ellipse(x, y, hx + 0.1f * hr, base, 1.4f * hr, 0.2f * hr), 0.7f, 0.06f, 0.05f);
        lay(&g, fmaxf(sd_ellipse(x, y, hx, base, 1.0f * hr, 0.85f * hr), y - base), 0.85f, 0.1f, 0.08f);
        lay(&g, sd_box(x, y, hx, base - 0.42f * hr, 0.24f * hr, 0.22f * hr, 0.02f), 0.98f, 0.82f, 0.2f);
        break;
    }
    case ACC_POLICE: { // navy shirt with a gold badge, navy peaked cap with a black visor
        lay_outfit(&g, outfit(sub, a, y, 0.015f, 1), 0.12f, 0.17f, 0.42f);
        lay(&g, sd_star5(x, y, a->tx + 0.07f, a->ny + 0.08f, 0.05f, 0.5f), 0.98f, 0.8f, 0.2f);
        lay(&g, sd_ellipse(x, y, hx + 0.6f * hr, hy - 0.5f * hr, 0.65f * hr, 0.1f * hr), 0.05f, 0.05f, 0.06f);
        lay(&g, sd_box(x, y, hx, hy - 0.84f * hr, 0.95f * hr, 0.26f * hr, 0.03f), 0.1f, 0.13f, 0.33f);
        lay(&g, sd_box(x, y, hx, hy - 0.6f * hr, 0.82f * hr, 0.1f * hr, 0.01f), 0.05f, 0.05f, 0.06f);
        lay(&g, sd_circle(x, y, hx, hy - 0.84f * hr, 0.035f), 0.98f, 0.8f, 0.2f);
        break;
    }
    case ACC_PINK_GLASSES:
        glasses(&g, a, x, y, 1.0f, 0.4f, 0.7f, 1.0f, 0.72f, 0.86f);
        break;
    case ACC_YELLOW_SHIRT: { // a yellow shirt over the upper torso, with a darker collar
        float d = fmaxf(outfit(sub, a, y, 0.015f, 1), y - (a->ty + 0.55f * a->th));
        lay_outfit(&g, d, 0.98f, 0.85f, 0.15f);
        lay(&g, fmaxf(d, sd_tri(x, y, a->nx - 0.07f, a->ny - 0.02f, a->nx + 0.07f, a->ny - 0.02f, a->nx, a->ny + 0.08f)),
            0.8f, 0.6f, 0.05f);
        break;
    }
    case ACC_WIZARD: { // purple robe and a tall purple cone hat with yellow stars
        lay_outfit(&g, outfit(sub, a, y, 0.03f, 0), 0.45f, 0.17f, 0.66f);
        lay(&g, fmaxf(sd_star5(x, y, a->tx, a->ty + 0.02f, 0.06f, 0.5f), sub->d_torso - 0.03f), 0.98f, 0.88f, 0.2f);
        float base = hy - 0.5f * hr;
        lay(&g, sd_tri(x, y, hx - 0.95f * hr, base, hx + 0.95f * hr, base, hx - 0.3f * hr, base - 1.75f * hr), 0.45f,
            0.17f, 0.66f);
        lay(&g, sd_ellipse(x, y, hx, base, 1.4f * hr, 0.2f * hr), 0.36f, 0.12f, 0.55f);
        lay(&g, sd_star5(x, y, hx + 0.05f * hr, base - 0.6f * hr, 0.05f, 0.5f), 0.98f, 0.88f, 0.2f);
        lay(&g, sd_star5(x, y, hx - 0.2f * hr, base - 1.1f * hr, 0.035f, 0.5f), 0.98f, 0.88f, 0.2f);
        break;
    }
    default: break;
    }
    if (g.A <= 0.f) return 0.f;
    rgb[0] = g.P[0] / g.A, rgb[1] = g.P[1] / g.A, rgb[2] = g.P[2] / g.A;
    return g.A;
}

// A four-pointed sparkle: two thin diamonds crossed.
static float sd_sparkle(float x, float y, float cx, float cy, float r) {
    float u = fabsf(x - cx), v = fabsf(y - cy);
    float d1 = (u / r + v / (0.3f * r) - 1.f) * 0.29f * r;
    float d2 = (u / (0.3f * r) + v / r - 1.f) * 0.29f * r;
    return fminf(d1, d2);
}

float property_overlay_eval(const SubjectLook *lk, float x, float y, float rgb[3]) {
    const float *b = lk->body;
    Layer g = {{0, 0, 0}, 0.f, lk->k};
    if (lk->property == PROP_SHINY) {
        lay(&g, sd_sparkle(x, y, 0.46f, -0.4f, 0.16f), 1.f, 1.f, 0.8f);
        lay(&g, sd_sparkle(x, y, -0.5f, -0.05f, 0.13f), 1.f, 1.f, 0.8f);
        lay(&g, sd_sparkle(x, y, 0.5f, 0.3f, 0.1f), 1.f, 1.f, 0.8f);
    } else if (lk->property == PROP_WET) {
        static const float DRIPS[3][2] = {{-0.55f, 0.2f}, {0.1f, 0.3f}, {0.6f, 0.12f}};
        for (int i = 0; i < 3; i++) { // falling drops just below the body
            float dx = b[0] + DRIPS[i][0] * b[2], dy = b[1] + b[3] + DRIPS[i][1] * 0.3f + 0.04f;
            float d = smin(sd_circle(x, y, dx, dy, 0.03f), sd_tri(x, y, dx - 0.026f, dy - 0.01f, dx + 0.026f, dy - 0.01f,
                                                                  dx, dy - 0.075f), 0.01f);
            lay(&g, d, 0.6f, 0.8f, 1.f);
        }
    }
    if (g.A <= 0.f) return 0.f;
    rgb[0] = g.P[0] / g.A, rgb[1] = g.P[1] / g.A, rgb[2] = g.P[2] / g.A;
    return g.A;
}
