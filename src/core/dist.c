// dist.c: see dist.h. The MPI calls are compiled only with -DCGRPO_MPI (make MPI=1).
#include "core/dist.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"

#ifdef CGRPO_MPI
#include <mpi.h>
#endif

int dist_launched_size(void) {
    static const char *const VARS[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof VARS / sizeof VARS[0]; i++) {
        const char *v = getenv(VARS[i]);
        if (v && v[0]) {
            const long n = strtol(v, NULL, 10);
            return n > 1 && n < INT_MAX ? (int)n : 1;
        }
    }
    return 1;
}

void dist_init(Dist *d, int *argc, char ***argv) {
    d->rank = 0, d->size = 1;
#ifdef CGRPO_MPI
    int provided = 0;
    // the ranks call MPI from one thread (OpenMP threads never do): FUNNELED is enough
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) cg_die("MPI_Init_thread failed");
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
#else
    (void)argc, (void)argv;
#endif
}

void dist_finalize(const Dist *d) {
    (void)d;
#ifdef CGRPO_MPI
    MPI_Finalize();
#endif
}

const Dist *dist_or_one(const Dist *d) {
    static const Dist ONE = {0, 1};
    return d ? d : &ONE;
}

void dist_block_of(int P, int rank, int size, int *p0, int *p1) {
    const int base = P / size, extra = P % size;
    *p0 = rank * base + (rank < extra ? rank : extra);
    *p1 = *p0 + base + (rank < extra ? 1 : 0);
}

void dist_block(const Dist *d, int P, int *p0, int *p1) { dist_block_of(P, d->rank, d->size, p0, p1); }

int dist_agree(const Dist *d, int rc, char *err, size_t errlen) {
#ifdef CGRPO_MPI
    if (d->size > 1) {
        int worst = 0, first = d->size, mine = rc ? d->rank : d->size;
        MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
        if (worst == 0) return 0;
        MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
        CG_CHECK(errlen <= INT_MAX, "error buffer of %zu bytes", errlen);
        if (err && errlen) MPI_Bcast(err, (int)errlen, MPI_CHAR, first, MPI_COMM_WORLD);
        return worst;
    }
#endif
    (void)d, (void)err, (void)errlen;
    return rc;
}

#ifdef CGRPO_MPI
// counts and displacements (in units of `per`) of every rank's block of P items
static void block_layout(const Dist *d, int P, size_t per, int *counts, int *displs) {
    for (int r = 0; r < d->size; r++) {
        int p0, p1;
        dist_block_of(P, r, d->size, &p0, &p1);
        CG_CHECK((size_t)P * per <= INT_MAX, "%d items of %zu elements are too many for one MPI message", P, per);
        counts[r] = (int)((size_t)(p1 - p0) * per);
        displs[r] = (int)((size_t)p0 * per);
    }
}

static void allgather_items(const Dist *d, void *buf, size_t per, int P, MPI_Datatype type) {
    int *counts = malloc((size_t)d->size * sizeof(int)), *displs = malloc((size_t)d->size * sizeof(int));
    CG_CHECK(counts && displs, "out of memory");
    block_layout(d, P, per, counts, displs);
    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, counts, displs, type, MPI_COMM_WORLD);
    free(counts), free(displs);
}
#endif

void dist_allgather_items(const Dist *d, float *buf, size_t per, int P) {
#ifdef CGRPO_MPI
    if (d->size > 1) allgather_items(d, buf, per, P, MPI_FLOAT);
#endif
    (void)d, (void)buf, (void)per, (void)P;
}

void dist_allgather_bytes(const Dist *d, void *buf, size_t per, int P) {
#ifdef CGRPO_MPI
    if (d->size > 1) allgather_items(d, buf, per, P, MPI_BYTE);
#endif
    (void)d, (void)buf, (void)per, (void)P;
}

// sum += local terms of this rank's items inside [q0, q1), in item order
static void add_own_terms(const Dist *d, float *sum, float *const *local, int P, int q0, int q1, size_t n) {
    int p0, p1;
    dist_block(d, P, &p0, &p1);
    for (int p = p0 > q0 ? p0 : q0; p < (p1 < q1 ? p1 : q1); p++) {
        const float *t = local[p - p0];
        CG_CHECK(t != NULL, "item %d of this rank has no term", p);
        for (size_t j = 0; j < n; j++) sum[j] += t[j];
    }
}

void dist_chain_sum(const Dist *d, float *sum, float *const *local, int P, int q0, int q1, size_t n) {
    memset(sum, 0, n * sizeof(float));
    if (q0 >= q1) return;
    if (d->size == 1) {
        add_own_terms(d, sum, local, P, q0, q1, n);
        return;
    }
#ifdef CGRPO_MPI
    // the ranks that own the first and the last item of [q0, q1)
    int first = -1, last = -1;
    for (int r = 0; r < d->size; r++) {
        int p0, p1;
        dist_block_of(P, r, d->size, &p0, &p1);
        if (p0 < q1 && p1 > q0 && p0 < p1) {
            if (first < 0) first = r;
            last = r;
        }
    }
    CG_CHECK(first >= 0 && n <= INT_MAX, "chain sum over items %d..%d of %d, %zu floats", q0, q1 - 1, P, n);
    if (d->rank >= first && d->rank <= last) {
        if (d->rank > first) MPI_Recv(sum, (int)n, MPI_FLOAT, d->rank - 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        add_own_terms(d, sum, local, P, q0, q1, n);
        if (d->rank < last) MPI_Send(sum, (int)n, MPI_FLOAT, d->rank + 1, 0, MPI_COMM_WORLD);
    }
    MPI_Bcast(sum, (int)n, MPI_FLOAT, last, MPI_COMM_WORLD);
#endif
}
