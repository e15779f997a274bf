// dist.h: data-parallel processes (MPI) behind a small handle, so that the trainer reads the same with
// one process or many. Built with `make MPI=1` (mpicc, -DCGRPO_MPI) every call goes to MPI on
// MPI_COMM_WORLD; in the default build a Dist is always one process (rank 0 of 1) and every call
// below is a copy or nothing.
//
// How the trainer splits an iteration (rl/trainer.c): its P groups go to the ranks in contiguous
// blocks in rank order (dist_block), so that "rank order" and "group order" are the same thing. A
// sum over groups is made in group order whatever the number of ranks (dist_chain_sum): rank r adds
// its groups' terms to the partial sum of ranks 0..r-1 and passes it on, and the last rank that
// holds groups broadcasts the total. Float addition is done in the same order as in one process, so
// np 1 and np N give the same bits.
//
//   Dist d; dist_init(&d, &argc, &argv);           // MPI_Init when built with MPI
//   int p0, p1; dist_block(&d, P, &p0, &p1);        // this rank's groups [p0, p1)
//   ... dist_chain_sum(&d, sum, local, P, q0, q1, n) ...
//   dist_finalize(&d);
#ifndef CGRPO_CORE_DIST_H
#define CGRPO_CORE_DIST_H

#include <stddef.h>

typedef struct {
    int rank, size; // this process, the number of processes (1: no MPI, or mpirun -np 1)
} Dist;

// Starts MPI in an MPI build (a process not started by mpirun is rank 0 of 1); else rank 0 of 1.
void dist_init(Dist *d, int *argc, char ***argv);
void dist_finalize(const Dist *d);
// d itself, or rank 0 of 1 when d is NULL (callers that take an optional Dist).
const Dist *dist_or_one(const Dist *d);
// The number of processes the launcher started (mpirun sets it in the environment:
// OMPI_COMM_WORLD_SIZE, PMI_SIZE), 1 outside a launcher; readable before dist_init.
int dist_launched_size(void);

// The contiguous block [*p0, *p1) of P items that rank `rank` of `size` owns: the first P % size
// ranks own one item more. Some ranks own none when P < size.
void dist_block_of(int P, int rank, int size, int *p0, int *p1);
void dist_block(const Dist *d, int P, int *p0, int *p1);

// Agreement after a step that may fail on some ranks: returns the largest rc over the ranks (0: all
// went well); when one failed, err on every rank holds the message of the lowest failing rank.
int dist_agree(const Dist *d, int rc, char *err, size_t errlen);

// buf (P, per) floats, item p owned by the rank whose dist_block holds it: after the call every
// rank holds every item. In place; a copy-free no-op in one process.
void dist_allgather_items(const Dist *d, float *buf, size_t per, int P);
// The same for raw bytes (per bytes an item), e.g. an array of per-group statistics.
void dist_allgather_bytes(const Dist *d, void *buf, size_t per, int P);

// sum (n) <- ((0 + term[q0]) + term[q0 + 1]) + ... + term[q1 - 1], in that order, on every rank,
// where term[p] (n floats) is given by the rank that owns item p of P (dist_block) as
// local[p - p0] (local: this rank's own items, NULL entries for none). Ranks that own no item of
// [q0, q1) only receive. q0 == q1: sum is zero.
void dist_chain_sum(const Dist *d, float *sum, float *const *local, int P, int q0, int q1, size_t n);

#endif
