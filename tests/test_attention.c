// test_attention.c: multi-head attention against a naive double-precision reference, masked keys,
// central finite differences of the backward (with and without a key mask), and bit-identical
// results for 1 and 2 OpenMP threads.
#include <omp.h>
#include <string.h>

#include "core/check.h"
#include "core/rng.h"
#include "nn/attention.h"
#include "test.h"

static float *randn(size_t n, uint64_t seed, float scale) {
    float *x = cg_malloc(n * sizeof(float));
    cg_rng_fill_normal(x, n, seed, 0, 0);
    for (size_t i = 0; i < n; i++) x[i] *= scale;
    return x;
}

// Naive reference in double, written from the definition: out[b,t,h] = sum_j p_j v_j with
// p = softmax_j over unmasked keys of q_t . k_j / sqrt(hs).
static void attention_reference(double *out, double *att, const double *qkv, const unsigned char *mask,
                                int B, int T, int C, int NH) {
    int hs = C / NH;
    double scale = 1.0 / sqrt((double)hs);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const double *q = qkv + ((size_t)b * T + t) * 3 * C + h * hs;
                double s[512], mx = -1e300, z = 0;
                for (int j = 0; j < T; j++) {
                    const double *k = qkv + ((size_t)b * T + j) * 3 * C + C + h * hs;
                    double d = 0;
                    for (int i = 0; i < hs; i++) d += q[i] * k[i];
                    s[j] = d * scale;
                    if ((!mask || mask[b * T + j]) && s[j] > mx) mx = s[j];
                }
                for (int j = 0; j < T; j++) {
                    s[j] = (!mask || mask[b * T + j]) ? exp(s[j] - mx) : 0.0;
                    z += s[j];
                }
                for (int j = 0; j < T; j++) att[(((size_t)b * NH + h) * T + t) * T + j] = s[j] / z;
                for (int i = 0; i < hs; i++) {
                    double acc = 0;
                    for (int j = 0; j < T; j++)
                        acc += s[j] / z * qkv[((size_t)b * T + j) * 3 * C + 2 * C + h * hs + i];
                    out[((size_t)b * T + t) * C + h * hs + i] = acc;
                }
            }
}

static unsigned char *make_mask(int B, int T, int pattern) {
    unsigned char *m = cg_malloc((size_t)B * T);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) m[b * T + t] = (unsigned char)(pattern ? ((t * 7 + b * 3) % 5 != 2) : 1);
    m[0] = 1; // at least one key per row
    return m;
}

static void check_against_reference(int B, int T, int C, int NH, int use_mask) {
    size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, natt = (size_t)B * NH * T * T;
    float *qkv = randn(nqkv, 11 + use_mask, 1.5f);
    unsigned char *mask = use_mask ? make_mask(B, T, 1) : NULL;
    float *out = cg_malloc(nout * sizeof(float)), *att = cg_malloc(natt * sizeof(float));
    double *rout = cg_malloc(nout * sizeof(double)), *ratt = cg_malloc(natt * sizeof(double));
    double *dqkv = cg_malloc(nqkv * sizeof(double));
    for (size_t i = 0; i < nqkv; i++) dqkv[i] = qkv[i];
    attention_forward(out, att, qkv, mask, B, T, C, NH);
    attention_reference(rout, ratt, dqkv, mask, B, T, C, NH);
    double eo = 0, ea = 0;
    for (size_t i = 0; i < nout; i++) eo = fmax(eo, fabs(out[i] - rout[i]));
    for (size_t i = 0; i < natt; i++) ea = fmax(ea, fabs(att[i] - ratt[i]));
    EXPECT(eo < 2e-5, "max |out - ref| = %g (mask %d)", eo, use_mask);
    EXPECT(ea < 2e-6, "max |att - ref| = %g (mask %d)", ea, use_mask);
    free(qkv), free(mask), free(out), free(att), free(rout), free(ratt), free(dqkv);
}

static void test_forward_matches_reference(void) {
    check_against_reference(2, 7, 16, 4, 0);
    check_against_reference(3, 13, 24, 3, 1);
}

static void test_masked_keys_get_zero(void) {
    int B = 2, T = 9, C = 8, NH = 2;
    float *qkv = randn((size_t)B * T * 3 * C, 5, 3.0f);
    unsigned char *mask = make_mask(B, T, 1);
    float *out = cg_malloc((size_t)B * T * C * sizeof(float));
    float *att = cg_malloc((size_t)B * NH * T * T * sizeof(float));
    attention_forward(out, att, qkv, mask, B, T, C, NH);
    int nmasked = 0;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *row = att + (((size_t)b * NH + h) * T + t) * T;
                double sum = 0;
                for (int j = 0; j < T; j++) {
                    sum += row[j];
                    if (!mask[b * T + j]) {
                        nmasked++;
                        EXPECT(row[j] == 0.0f, "att[b%d h%d t%d j%d] = %g on a masked key", b, h, t, j, row[j]);
                    } else {
                        EXPECT(row[j] > 0.0f, "att on an open key is %g", row[j]);
                    }
                }
                EXPECT_NEAR(sum, 1.0, 1e-6);
            }
    EXPECT(nmasked > 0, "the mask pattern masks nothing");
    // changing a masked key's k and v must not change the output
    float *out2 = cg_malloc((size_t)B * T * C * sizeof(float));
    int j = 0; // the first masked key of batch 0
    while (j < T && mask[j]) j++;
    EXPECT(j < T, "no masked key in batch 0");
    for (int c = C; c < 3 * C; c++) qkv[(size_t)j * 3 * C + c] += 10.0f;
    attention_forward(out2, att, qkv, mask, B, T, C, NH);
    EXPECT(memcmp(out, out2, (size_t)B * T * C * sizeof(float)) == 0, "masked key %d changed the output", j);
    free(qkv), free(mask), free(out), free(att), free(out2);
}

// L = sum(out * R) in double, through the implementation under test (float)
static double probe_loss(const float *qkv, const unsigned char *mask, const float *R, float *out,
                         float *att, int B, int T, int C, int NH) {
    attention_forward(out, att, qkv, mask, B, T, C, NH);
    double L = 0;
    for (size_t i = 0; i < (size_t)B * T * C; i++) L += (double)out[i] * R[i];
    return L;
}

// L = sum(out * R) through the double-precision reference
static double probe_loss_ref(const double *qkv, const unsigned char *mask, const float *R, int B,
                             int T, int C, int NH) {
    double *out = cg_malloc((size_t)B * T * C * sizeof(double));
    double *att = cg_malloc((size_t)B * NH * T * T * sizeof(double));
    attention_reference(out, att, qkv, mask, B, T, C, NH);
    double L = 0;
    for (size_t i = 0; i < (size_t)B * T * C; i++) L += out[i] * R[i];
    free(out), free(att);
    return L;
}

static double rel_err(double a, double n) { return fabs(a - n) / fmax(1e-3, fabs(a) + fabs(n)); }

// The analytic gradient is checked twice with central differences:
//  - of the float implementation itself, eps 1e-2, tolerance 3e-2: the float outputs leave ~2e-5
//    of rounding noise in each difference quotient (~2e-4 with eps 1e-3), and some gradients here
//    are ~1e-3, so the relative error of those reaches ~1e-2 without any bug; a wrong backward
//    gives errors of order 1;
//  - of the double reference (eps 1e-4, no rounding noise), which allows tolerance 1e-4.
static void gradcheck(int use_mask) {
    int B = 2, T = 5, C = 8, NH = 2;
    size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, natt = (size_t)B * NH * T * T;
    float *qkv = randn(nqkv, 21 + use_mask, 1.0f), *R = randn(nout, 31, 1.0f);
    unsigned char *mask = use_mask ? make_mask(B, T, 1) : NULL;
    float *out = cg_malloc(nout * sizeof(float)), *att = cg_malloc(natt * sizeof(float));
    size_t nscratch = attention_scratch_floats(B, T, C, NH);
    float *scratch = cg_malloc(nscratch * sizeof(float));
    for (size_t i = 0; i < nscratch; i++) scratch[i] = NAN; // its old contents must not matter
    // backward accumulates: start dqkv from known nonzero values and subtract them afterwards
    float *dqkv = randn(nqkv, 41, 1.0f), *dqkv0 = cg_malloc(nqkv * sizeof(float));
    memcpy(dqkv0, dqkv, nqkv * sizeof(float));
    probe_loss(qkv, mask, R, out, att, B, T, C, NH);
    attention_backward(dqkv, scratch, R, qkv, att, B, T, C, NH);
    double *xd = cg_malloc(nqkv * sizeof(double));
    for (size_t i = 0; i < nqkv; i++) xd[i] = qkv[i];
    double worst = 0, worst_ref = 0;
    size_t worst_i = 0, worst_ref_i = 0;
    int nzero_masked = 0;
    for (size_t i = 0; i < nqkv; i++) {
        double ana = (double)dqkv[i] - (double)dqkv0[i];
        // float implementation; the quotient uses the step actually taken after rounding
        const float eps = 1e-2f;
        float x = qkv[i];
        qkv[i] = x + eps;
        float xp = qkv[i];
        double lp = probe_loss(qkv, mask, R, out, att, B, T, C, NH);
        qkv[i] = x - eps;
        float xm = qkv[i];
        double lm = probe_loss(qkv, mask, R, out, att, B, T, C, NH);
        qkv[i] = x;
        double num = (lp - lm) / ((double)xp - (double)xm);
        if (rel_err(ana, num) > worst) worst = rel_err(ana, num), worst_i = i;
        // double reference
        const double h = 1e-4;
        xd[i] = x + h;
        lp = probe_loss_ref(xd, mask, R, B, T, C, NH);
        xd[i] = x - h;
        lm = probe_loss_ref(xd, mask, R, B, T, C, NH);
        xd[i] = x;
        double num_ref = (lp - lm) / (2 * h);
        if (rel_err(ana, num_ref) > worst_ref) worst_ref = rel_err(ana, num_ref), worst_ref_i = i;
        // keys and values of masked positions get exactly zero gradient
        size_t tok = i / (3 * C), c = i % (3 * C);
        if (mask && !mask[tok] && c >= (size_t)C) {
            EXPECT(ana == 0.0, "masked key/value grad %zu is %g", i, ana);
            nzero_masked++;
        }
    }
    EXPECT(worst < 3e-2, "FD of the implementation: max relative error %g at qkv[%zu] (mask %d)", worst,
           worst_i, use_mask);
    EXPECT(worst_ref < 1e-4, "FD of the reference: max relative error %g at qkv[%zu] (mask %d)",
           worst_ref, worst_ref_i, use_mask);
    if (mask) EXPECT(nzero_masked > 0, "no masked key was checked");
    printf("     attention gradcheck (mask %d): max rel err %.2e (FD of float impl), %.2e (FD of double ref)\n",
           use_mask, worst, worst_ref);
    free(qkv), free(R), free(mask), free(out), free(att), free(scratch), free(dqkv), free(dqkv0), free(xd);
}

static void test_gradcheck_no_mask(void) { gradcheck(0); }
static void test_gradcheck_key_mask(void) { gradcheck(1); }

static void run_fwd_bwd(float *out, float *att, float *dqkv, const float *qkv, const float *dout,
                        const unsigned char *mask, int threads, int B, int T, int C, int NH) {
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    float *scratch = cg_malloc(attention_scratch_floats(B, T, C, NH) * sizeof(float));
    memset(dqkv, 0, (size_t)B * T * 3 * C * sizeof(float));
    attention_forward(out, att, qkv, mask, B, T, C, NH);
    attention_backward(dqkv, scratch, dout, qkv, att, B, T, C, NH);
    free(scratch);
    omp_set_num_threads(saved);
}

static void test_thread_count_independent(void) {
    int B = 4, T = 40, C = 32, NH = 4;
    size_t nqkv = (size_t)B * T * 3 * C, nout = (size_t)B * T * C, natt = (size_t)B * NH * T * T;
    float *qkv = randn(nqkv, 51, 1.0f), *dout = randn(nout, 52, 1.0f);
    unsigned char *mask = make_mask(B, T, 1);
    float *o1 = cg_malloc(nout * 4), *a1 = cg_malloc(natt * 4), *d1 = cg_malloc(nqkv * 4);
    float *o2 = cg_malloc(nout * 4), *a2 = cg_malloc(natt * 4), *d2 = cg_malloc(nqkv * 4);
    run_fwd_bwd(o1, a1, d1, qkv, dout, mask, 1, B, T, C, NH);
    run_fwd_bwd(o2, a2, d2, qkv, dout, mask, 2, B, T, C, NH);
    EXPECT(memcmp(o1, o2, nout * 4) == 0, "out differs between 1 and 2 threads");
    EXPECT(memcmp(a1, a2, natt * 4) == 0, "att differs between 1 and 2 threads");
    EXPECT(memcmp(d1, d2, nqkv * 4) == 0, "dqkv differs between 1 and 2 threads");
    free(qkv), free(dout), free(mask), free(o1), free(a1), free(d1), free(o2), free(a2), free(d2);
}

int main(void) {
    RUN(test_forward_matches_reference);
    RUN(test_masked_keys_get_zero);
    RUN(test_gradcheck_no_mask);
    RUN(test_gradcheck_key_mask);
    RUN(test_thread_count_independent);
    return test_summary("attention");
}
