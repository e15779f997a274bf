// block_acts.h: laying a transformer block's saved activations (DiTBlockActs, ViTBlockActs) out one
// after another over one flat float buffer. Each block writes a single layout function over a
// cursor: with a NULL buffer it only counts (every pointer NULL), which sizes the buffer; with a
// real one it binds the pointers into it. Size and binding therefore cannot disagree.
#ifndef CGRPO_MODELS_BLOCK_ACTS_H
#define CGRPO_MODELS_BLOCK_ACTS_H

#include <stddef.h>

typedef struct {
    float *base; // the buffer, or NULL when only counting
    size_t used; // floats handed out so far
} BlockActsCursor;

// base + used (NULL when counting), then used += n.
float *block_acts_take(BlockActsCursor *cur, size_t n);
// buf, for binding: dies when it is NULL (a NULL buffer would only count).
float *block_acts_buffer(float *buf);

#endif
