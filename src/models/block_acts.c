// block_acts.c: the cursor that lays a block's activations out over one flat buffer (block_acts.h).
#include "models/block_acts.h"

#include "core/check.h"

float *block_acts_take(BlockActsCursor *cur, size_t n) {
    float *p = cur->base ? cur->base + cur->used : NULL;
    cur->used += n;
    return p;
}

float *block_acts_buffer(float *buf) {
    CG_CHECK(buf != NULL, "activation buffer");
    return buf;
}
