// canvas.c: the out-of-line part of canvas.h (the pose's pixel bounding box).
#include "world/canvas.h"

void pose_bbox(const RenderPose *p, float x0, float y0, float x1, float y1, int S, int *i0, int *i1, int *j0,
               int *j1) {
    float c = cosf(p->angle), s = sinf(p->angle);
    float xs[4] = {x0, x1, x1, x0}, ys[4] = {y0, y0, y1, y1};
    float mnx = 1e30f, mny = 1e30f, mxx = -1e30f, mxy = -1e30f;
    for (int k = 0; k < 4; k++) {
        float x = p->flip ? -xs[k] : xs[k], y = ys[k];
        float px = p->cx + (c * x - s * y) * p->scale, py = p->cy + (s * x + c * y) * p->scale;
        mnx = fminf(mnx, px), mxx = fmaxf(mxx, px), mny = fminf(mny, py), mxy = fmaxf(mxy, py);
    }
    *i0 = (int)clampf(floorf(mnx) - 1.f, 0.f, (float)S);
    *i1 = (int)clampf(ceilf(mxx) + 1.f, 0.f, (float)S);
    *j0 = (int)clampf(floorf(mny) - 1.f, 0.f, (float)S);
    *j1 = (int)clampf(ceilf(mxy) + 1.f, 0.f, (float)S);
}
