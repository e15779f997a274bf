// optim.c: parameter tables, AdamW and global gradient-norm clipping. See optim.h.
// Every loop here is elementwise or a reduction split into a FIXED number of blocks, so results
// are bit-identical for any number of OpenMP threads.
#include "nn/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

// ---- parameter table -----------------------------------------------------------------------------

void param_table_init(ParamTable *t) {
    t->specs = NULL;
    t->n = t->cap = 0;
    t->total = 0;
}

void param_table_free(ParamTable *t) {
    free(t->specs);
    param_table_init(t);
}

const ParamSpec *param_table_find(const ParamTable *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->specs[i].name, name) == 0) return &t->specs[i];
    return NULL;
}

size_t param_table_add(ParamTable *t, const char *name, int ndim, const int *shape, int decay) {
    // tensor names and shapes come from model code, not from users: a bad one is a bug
    CG_CHECK(name && strlen(name) > 0 && strlen(name) < PARAM_NAME_MAX, "tensor name '%s'", name ? name : "(null)");
    CG_CHECK(ndim >= 1 && ndim <= PARAM_MAX_DIMS, "tensor '%s' has ndim %d", name, ndim);
    CG_CHECK(decay == 0 || decay == 1, "tensor '%s' has decay %d", name, decay);
    CG_CHECK(param_table_find(t, name) == NULL, "tensor '%s' added twice", name);
    size_t count = 1;
    for (int d = 0; d < ndim; d++) {
        CG_CHECK(shape[d] > 0, "tensor '%s' dim %d is %d", name, d, shape[d]);
        count = cg_mul_size(count, (size_t)shape[d]);
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->specs = cg_realloc(t->specs, cg_mul_size((size_t)t->cap, sizeof(ParamSpec)));
    }
    ParamSpec *s = &t->specs[t->n++];
    memset(s, 0, sizeof(*s));
    memcpy(s->name, name, strlen(name) + 1);
    s->ndim = ndim;
    for (int d = 0; d < ndim; d++) s->shape[d] = shape[d];
    s->offset = t->total;
    s->count = count;
    s->decay = decay;
    CG_CHECK(t->total + count >= t->total, "parameter buffer size overflows");
    t->total += count;
    return s->offset;
}

// ---- a model part's tensors -----------------------------------------------------------------------

static void full_name(char *out, const char *prefix, const char *name) {
    int n = snprintf(out, PARAM_NAME_MAX, "%s%s", prefix, name);
    CG_CHECK(n >= 0 && n < PARAM_NAME_MAX, "parameter name '%s%s' longer than %d", prefix, name, PARAM_NAME_MAX - 1);
}

size_t param_table_add2(ParamTable *t, const char *prefix, const char *name, int rows, int cols, int decay) {
    char full[PARAM_NAME_MAX];
    full_name(full, prefix, name);
    int shape[2] = {rows, cols};
    return param_table_add(t, full, cols > 0 ? 2 : 1, shape, decay);
}

float *param_table_bind(float *buf, const ParamTable *t, const char *prefix, const char *name, int rows, int cols) {
    char full[PARAM_NAME_MAX];
    full_name(full, prefix, name);
    const ParamSpec *s = param_table_find(t, full);
    CG_CHECK(s != NULL, "tensor '%s' is not in the parameter table", full);
    int ndim = cols > 0 ? 2 : 1;
    CG_CHECK(s->ndim == ndim && s->shape[0] == rows && (ndim == 1 || s->shape[1] == cols),
             "tensor '%s' has the wrong shape", full);
    return buf + s->offset;
}

void param_defs_add(ParamTable *t, const char *prefix, const ParamDef *d, int n) {
    for (int i = 0; i < n; i++) param_table_add2(t, prefix, d[i].name, d[i].rows, d[i].cols, d[i].decay);
}

void param_defs_bind(void *ptrs, float *buf, const ParamTable *t, const char *prefix, const ParamDef *d, int n) {
    for (int i = 0; i < n; i++)
        *(float **)((char *)ptrs + d[i].field) = param_table_bind(buf, t, prefix, d[i].name, d[i].rows, d[i].cols);
}

static ParamDef at_width(const ParamDefC *d, int C) {
    return (ParamDef){d->name, d->rows_c * C, d->cols_c * C, d->decay, d->field};
}

void param_defs_c_add(ParamTable *t, const char *prefix, const ParamDefC *d, int n, int C) {
    for (int i = 0; i < n; i++) {
        const ParamDef one = at_width(&d[i], C);
        param_defs_add(t, prefix, &one, 1);
    }
}

void param_defs_c_bind(void *ptrs, float *buf, const ParamTable *t, const char *prefix, const ParamDefC *d, int n, int C) {
    for (int i = 0; i < n; i++) {
        const ParamDef one = at_width(&d[i], C);
        param_defs_bind(ptrs, buf, t, prefix, &one, 1);
    }
}

void param_xavier_uniform(float *w, int rows, int cols, cg_rng *rng) {
    double a = sqrt(6.0 / (double)(rows + cols));
    size_t n = (size_t)rows * (size_t)cols;
    for (size_t i = 0; i < n; i++) w[i] = (float)(a * (2.0 * cg_rng_uniform(rng) - 1.0));
}

// ---- AdamW -----------------------------------------------------------------------------------------

void adamw_step(float *params, const float *grads, float *m, float *v, const ParamTable *t,
                int step, const AdamWConfig *cfg) {
    CG_CHECK(step >= 1, "AdamW step is 1-based, got %d", step);
    const float b1 = cfg->beta1, b2 = cfg->beta2, lr = cfg->lr, eps = cfg->eps;
    // bias corrections 1 - beta^step, computed once in double
    const float bc1 = (float)(1.0 - pow((double)b1, (double)step));
    const float bc2 = (float)(1.0 - pow((double)b2, (double)step));
#pragma omp parallel
    for (int s = 0; s < t->n; s++) {
        const ParamSpec *ps = &t->specs[s];
        const float wd = ps->decay ? cfg->weight_decay : 0.0f;
        float *p = params + ps->offset, *ms = m + ps->offset, *vs = v + ps->offset;
        const float *g = grads + ps->offset;
        const long n = (long)ps->count;
#pragma omp for schedule(static)
        for (long i = 0; i < n; i++) {
            float gi = g[i];
            float mi = b1 * ms[i] + (1.0f - b1) * gi;
            float vi = b2 * vs[i] + (1.0f - b2) * gi * gi;
            ms[i] = mi;
            vs[i] = vi;
            float mhat = mi / bc1, vhat = vi / bc2;
            // decoupled weight decay: it acts on the parameter, not through the moments
            p[i] -= lr * (mhat / (sqrtf(vhat) + eps) + wd * p[i]);
        }
    }
}

// ---- gradient norm ---------------------------------------------------------------------------------

// The sum of squares is split into GRAD_NORM_BLOCKS contiguous blocks whose boundaries depend only
// on n; each block is summed in double by one thread, then the partial sums are added in block order.
#define GRAD_NORM_BLOCKS 64

double grad_global_norm(const float *g, size_t n) {
    double partial[GRAD_NORM_BLOCKS];
    const size_t per = (n + GRAD_NORM_BLOCKS - 1) / GRAD_NORM_BLOCKS;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int k = 0; k < GRAD_NORM_BLOCKS; k++) {
        size_t lo = (size_t)k * per, hi = lo + per;
        if (lo > n) lo = n;
        if (hi > n) hi = n;
        double acc = 0.0;
        for (size_t i = lo; i < hi; i++) acc += (double)g[i] * (double)g[i];
        partial[k] = acc;
    }
    double sum = 0.0;
    for (int k = 0; k < GRAD_NORM_BLOCKS; k++) sum += partial[k];
    return sqrt(sum);
}

// A non-finite norm (NaN or Inf in g) is returned as is and g is left untouched: scaling cannot
// repair it, and the caller should skip the step.
double clip_grad_norm(float *g, size_t n, double max_norm) {
    double norm = grad_global_norm(g, n);
    if (isfinite(norm) && norm > max_norm) {
        const float scale = (float)(max_norm / norm);
#pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t i = 0; i < n; i++) g[i] *= scale;
    }
    return norm;
}

const char *param_table_name_at(const ParamTable *t, size_t i) {
    for (int k = 0; k < t->n; k++)
        if (i >= t->specs[k].offset && i < t->specs[k].offset + t->specs[k].count) return t->specs[k].name;
    return "?";
}

size_t buffer_first_nonfinite(const float *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i])) return i;
    return n;
}
