// rng.c: Philox4x32-10 and the helpers built on it (see rng.h).
#include "rng.h"

#include <math.h>

#include "check.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

static inline void mulhilo32(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

void philox4x32_10(uint32_t out[4], const uint32_t ctr[4], const uint32_t key[2]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo32(PHILOX_M0, c0, &hi0, &lo0);
        mulhilo32(PHILOX_M1, c2, &hi1, &lo1);
        uint32_t n0 = hi1 ^ c1 ^ k0;
        uint32_t n1 = lo1;
        uint32_t n2 = hi0 ^ c3 ^ k1;
        uint32_t n3 = lo0;
        c0 = n0, c1 = n1, c2 = n2, c3 = n3;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

uint64_t cg_rng_stream(uint64_t purpose, uint64_t a, uint64_t b) {
    return splitmix64(splitmix64(splitmix64(purpose) ^ a) ^ b);
}

cg_rng cg_rng_make(uint64_t seed, uint64_t stream) {
    cg_rng r = {seed, stream, 0};
    return r;
}

static inline void block_at(uint32_t out[4], uint64_t seed, uint64_t stream, uint64_t index) {
    uint32_t ctr[4] = {(uint32_t)index, (uint32_t)(index >> 32), (uint32_t)stream,
                       (uint32_t)(stream >> 32)};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    philox4x32_10(out, ctr, key);
}

// (u + 0.5) / 2^32: strictly inside (0, 1)
static inline double u32_to_open01(uint32_t u) { return ((double)u + 0.5) * (1.0 / 4294967296.0); }

static inline double box_muller(uint32_t u0, uint32_t u1) {
    double a = u32_to_open01(u0), b = u32_to_open01(u1);
    return sqrt(-2.0 * log(a)) * cos(6.283185307179586476925 * b);
}

uint32_t cg_rng_u32(cg_rng *r) {
    uint32_t out[4];
    block_at(out, r->seed, r->stream, r->index++);
    return out[0];
}

uint64_t cg_rng_u64(cg_rng *r) {
    uint32_t out[4];
    block_at(out, r->seed, r->stream, r->index++);
    return ((uint64_t)out[1] << 32) | out[0];
}

double cg_rng_uniform(cg_rng *r) {
    uint32_t out[4];
    block_at(out, r->seed, r->stream, r->index++);
    // 53 bits from two words, then shifted off 0
    uint64_t bits = (((uint64_t)out[0] << 32) | out[1]) >> 11;
    return ((double)bits + 0.5) * (1.0 / 9007199254740992.0);
}

double cg_rng_normal(cg_rng *r) {
    uint32_t out[4];
    block_at(out, r->seed, r->stream, r->index++);
    return box_muller(out[0], out[1]);
}

uint32_t cg_rng_below(cg_rng *r, uint32_t n) {
    CG_CHECK(n > 0, "cg_rng_below needs n > 0");
    // rejection sampling on the top of the range keeps it unbiased
    uint32_t limit = (uint32_t)(0x100000000ull - (0x100000000ull % n));
    for (;;) {
        uint32_t u = cg_rng_u32(r);
        if (limit == 0 || u < limit) return u % n;
    }
}

void cg_rng_fill_normal(float *out, size_t n, uint64_t seed, uint64_t stream, uint64_t start) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        uint32_t b[4];
        block_at(b, seed, stream, start + i);
        out[i] = (float)box_muller(b[0], b[1]);
    }
}

void cg_rng_fill_uniform(float *out, size_t n, uint64_t seed, uint64_t stream, uint64_t start) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        uint32_t b[4];
        block_at(b, seed, stream, start + i);
        out[i] = (float)u32_to_open01(b[0]);
    }
}
