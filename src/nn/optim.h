// optim.h: parameter tables, AdamW and global gradient-norm clipping.
// A model's parameters live in ONE flat float buffer described by a table of named tensors;
// gradients and the two AdamW moments are buffers of the same total size and layout. Saving,
// loading, zeroing, clipping, all-reducing and the optimizer step are then one loop each.
#ifndef CGRPO_NN_OPTIM_H
#define CGRPO_NN_OPTIM_H

#include <stddef.h>

#include "core/rng.h"

#define PARAM_MAX_DIMS 4
#define PARAM_NAME_MAX 64

typedef struct {
    char name[PARAM_NAME_MAX];   // e.g. "blocks.0.attn.qkv.weight"
    int ndim;                    // 1..PARAM_MAX_DIMS
    int shape[PARAM_MAX_DIMS];   // row-major
    size_t offset;               // in floats, from the start of the buffer
    size_t count;                // product of shape
    int decay;                   // 1: AdamW weight decay applies (matrices), 0: not (biases, norms)
} ParamSpec;

typedef struct {
    ParamSpec *specs; // (n) owned
    int n, cap;
    size_t total;     // floats in the buffer
} ParamTable;

void param_table_init(ParamTable *t);
void param_table_free(ParamTable *t);
// Append a tensor; returns its offset. shape has ndim entries.
size_t param_table_add(ParamTable *t, const char *name, int ndim, const int *shape, int decay);
const ParamSpec *param_table_find(const ParamTable *t, const char *name); // NULL if absent
// The name of the tensor that holds flat index i of the buffer, "?" when i is past the end.
const char *param_table_name_at(const ParamTable *t, size_t i);
// Index of the first NaN or Inf in p (n), or n when every value is finite.
size_t buffer_first_nonfinite(const float *p, size_t n);

// ---- a model part's tensors, listed once ---------------------------------------------------------
// A block or model lists its tensors once as ParamDef rows; param_defs_add appends them to a table
// (names prefix + name, in row order) and param_defs_bind points a struct of float pointers (the
// params or the grads view) at them, so the names, shapes and decay flags of the two cannot
// disagree. The single-tensor forms serve names built at run time ("heads.2.weight").
typedef struct {
    const char *name; // after the part's prefix, e.g. "attn.qkv.weight"
    int rows, cols;   // shape (rows, cols), or (rows) when cols == 0
    int decay;        // as ParamSpec.decay
    size_t field;     // offsetof the tensor's float * in the part's struct of pointers
} ParamDef;

// Append a (rows) or (rows, cols) tensor named prefix + name; returns its offset.
size_t param_table_add2(ParamTable *t, const char *prefix, const char *name, int rows, int cols, int decay);
// buf + the offset of tensor prefix + name. Dies (a bug) when it is missing or its shape is not
// (rows, cols), or (rows) when cols == 0.
float *param_table_bind(float *buf, const ParamTable *t, const char *prefix, const char *name, int rows, int cols);
void param_defs_add(ParamTable *t, const char *prefix, const ParamDef *d, int n);
// For each row: the float * at ptrs + d[i].field = param_table_bind(buf, t, prefix, d[i].name, ...).
void param_defs_bind(void *ptrs, float *buf, const ParamTable *t, const char *prefix, const ParamDef *d, int n);

// A transformer block's tensors have shapes in multiples of its width C; such a block lists them
// once, as a constant table of ParamDefC rows, and adds or binds them at a width.
typedef struct {
    const char *name;
    int rows_c, cols_c; // shape (rows_c C, cols_c C), or (rows_c C) when cols_c == 0
    int decay;
    size_t field;       // as ParamDef.field
} ParamDefC;
// param_defs_add / param_defs_bind of the rows at width C.
void param_defs_c_add(ParamTable *t, const char *prefix, const ParamDefC *d, int n, int C);
void param_defs_c_bind(void *ptrs, float *buf, const ParamTable *t, const char *prefix, const ParamDefC *d, int n, int C);

// Xavier-uniform init of a weight matrix: w (rows, cols) ~ U(-a, a), a = sqrt(6 / (rows + cols))
// (fan_in = cols, fan_out = rows), drawn row-major from rng.
void param_xavier_uniform(float *w, int rows, int cols, cg_rng *rng);

typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
} AdamWConfig;

// One AdamW step (decoupled weight decay, bias-corrected moments) over the whole buffer.
// step is 1-based. Weight decay applies only to tensors with decay = 1 in the table:
// p -= lr * (mhat / (sqrt(vhat) + eps) + wd * p).
void adamw_step(float *params, const float *grads, float *m, float *v, const ParamTable *t,
                int step, const AdamWConfig *cfg);

// Global L2 norm of a gradient buffer, accumulated in double in a fixed order (thread-count
// independent). clip_grad_norm scales g by max_norm / norm when norm > max_norm and returns the
// norm before clipping.
double grad_global_norm(const float *g, size_t n);
double clip_grad_norm(float *g, size_t n, double max_norm);

#endif
