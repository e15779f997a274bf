// arena.c: the bump allocator of arena.h.
#include "arena.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

#define ARENA_ALIGN 64

void cg_arena_init(cg_arena *a, size_t capacity_bytes) {
    size_t cap = (capacity_bytes + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (cap == 0) cap = ARENA_ALIGN;
    a->base = aligned_alloc(ARENA_ALIGN, cap);
    CG_CHECK(a->base != NULL, "out of memory allocating an arena of %zu bytes", cap);
    memset(a->base, 0, cap);
    a->capacity = cap;
    a->used = 0;
}

void *cg_arena_alloc(cg_arena *a, size_t bytes) {
    size_t start = (a->used + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    CG_CHECK(start <= a->capacity && bytes <= a->capacity - start,
             "arena overflow: %zu bytes requested, %zu of %zu used", bytes, a->used, a->capacity);
    a->used = start + bytes;
    return a->base + start;
}

float *cg_arena_floats(cg_arena *a, size_t count) {
    return (float *)cg_arena_alloc(a, cg_mul_size(count, sizeof(float)));
}

void cg_arena_reset(cg_arena *a) {
    memset(a->base, 0, a->used);
    a->used = 0;
}

void cg_arena_free(cg_arena *a) {
    free(a->base);
    a->base = NULL;
    a->capacity = a->used = 0;
}
