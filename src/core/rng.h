// rng.h: counter-based random numbers (Philox4x32-10, Salmon et al. 2011).
// A draw is a pure function of (seed, stream, index), so a result never depends on the number of
// threads or on how work is split: element i of a noise tensor is always the same number.
// There is no global state: a cg_rng is a plain struct that a checkpoint can store as three u64.
#ifndef CGRPO_RNG_H
#define CGRPO_RNG_H

#include <stddef.h>
#include <stdint.h>

// One Philox4x32 block with 10 rounds: out = philox(ctr, key).
void philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]);

// Derive a stream id from a purpose tag and up to two indices (splitmix64 mixing), e.g.
// cg_rng_stream(CG_STREAM_NOISE, iteration, group).
uint64_t cg_rng_stream(uint64_t purpose, uint64_t a, uint64_t b);

// A sequential generator: each draw consumes one Philox block at `index` and then increments it.
typedef struct {
    uint64_t seed;   // the key
    uint64_t stream; // upper half of the counter
    uint64_t index;  // lower half of the counter: the next block to use
} cg_rng;

cg_rng cg_rng_make(uint64_t seed, uint64_t stream);
uint32_t cg_rng_u32(cg_rng *r);
uint64_t cg_rng_u64(cg_rng *r);
double cg_rng_uniform(cg_rng *r);          // in (0, 1), never 0 or 1
double cg_rng_normal(cg_rng *r);           // standard normal (Box-Muller on one block)
uint32_t cg_rng_below(cg_rng *r, uint32_t n); // uniform integer in [0, n), n > 0, unbiased

// Element-indexed fills: out[i] depends only on (seed, stream, start + i). Safe to split across
// threads in any way. The normal fill uses block (start + i) for element i.
void cg_rng_fill_normal(float *out, size_t n, uint64_t seed, uint64_t stream, uint64_t start);
void cg_rng_fill_uniform(float *out, size_t n, uint64_t seed, uint64_t stream, uint64_t start);

#endif
