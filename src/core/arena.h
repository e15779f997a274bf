// arena.h: a bump allocator over one flat buffer. Models carve their parameters, gradients and
// activations out of arenas so that a whole set of tensors is one allocation and one free.
// Every allocation is 64-byte aligned (cache line, AVX-512) and zero-filled.
#ifndef CGRPO_ARENA_H
#define CGRPO_ARENA_H

#include <stddef.h>

typedef struct {
    unsigned char *base; // the buffer (owned)
    size_t capacity;     // bytes
    size_t used;         // bytes handed out so far, including alignment padding
} cg_arena;

void cg_arena_init(cg_arena *a, size_t capacity_bytes);
void *cg_arena_alloc(cg_arena *a, size_t bytes);        // dies with file:line if it does not fit
float *cg_arena_floats(cg_arena *a, size_t count);      // count floats
void cg_arena_reset(cg_arena *a);                       // forget all allocations (keeps memory)
void cg_arena_free(cg_arena *a);

#endif
