/*
 * test_exp.c — softmax's exp (Sources/CFXKernels/exp_impl.h) and softmax itself (softmax.c),
 * built from their sources by Tests/c/exp.sh:
 * - cfx_exp within 1 ULP of expl (long double: 11 more bits than a double) on random values over
 *   softmax's whole range (x ≤ 0, down to the results that underflow to subnormals and 0) and on
 *   the edges (0, −0, ±∞, NaN, the underflow and overflow thresholds); cfx_expf likewise;
 * - the same bits from loops of it vectorised for AVX-512 and AVX2 (where the processor has them)
 *   as from the baseline loop: no compilation of it may change a value;
 * - softmax of rows with −∞, NaN, equal and far-apart logits against a long double softmax.
 */
#include "cfx_kernels.h"
#include "exp_impl.h"
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { COUNT = 4000000 };
static long checked, failed;
static double worst[2];  /* the largest errors seen, in ULPs: double, float */

static void fail(const char *what, double x, double got, long double want) {
    if (failed++ < 10) printf("FAIL %s: x = %a gives %a, expl %La\n", what, x, got, want);
}

/* |got − want| in units of the last place of want in the type (`bits` 24 or 53, `smallest` the
 * exponent of its smallest subnormal; `rounded` is want rounded to it). NaN only for NaN, ∞ only
 * where want rounds to that ∞. */
static double ulps(double got, long double want, double rounded, int bits, int smallest) {
    if (isnan(got) || isnan(want)) return isnan(got) && isnan(want) ? 0 : INFINITY;
    if (isinf(got) || isinf(rounded)) return got == rounded ? 0 : INFINITY;
    int e;
    frexpl(want, &e);
    return (double)(fabsl(got - want) / ldexpl(1, (e - bits > smallest ? e - bits : smallest)));
}

static void check_double(double x) {
    double e = ulps(cfx_exp(x), expl(x), (double)expl(x), 53, -1074);
    checked++, worst[0] = e > worst[0] ? e : worst[0];
    if (!(e < 1)) fail("exp", x, cfx_exp(x), expl(x));
}

static void check_float(float x) {
    double e = ulps(cfx_expf(x), expl(x), (float)expl(x), 24, -149);
    checked++, worst[1] = e > worst[1] ? e : worst[1];
    if (!(e < 1)) fail("expf", x, cfx_expf(x), expl(x));
}

/* Uniform in [0, 1) from a xorshift state. */
static double uniform(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return (double)(*s >> 11) * 0x1p-53;
}

/* Random x ≤ 0 at three scales (the underflow range, logits' differences, near 0), and edges. */
static double *test_values(void) {
    double *x = malloc(COUNT * sizeof *x);
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < COUNT; i++) x[i] = -uniform(&s) * (i % 3 == 0 ? 760 : i % 3 == 1 ? 40 : 1);
    const double edges[] = {0, -0.0, -INFINITY, INFINITY, NAN, -NAN, -0x1.74910d52d3051p+9 /* → 2^-1074 */,
                            -0x1.74910d52d3052p+9 /* → 0 */, -0x1.6232bdd7abcd2p+9 /* → 2^-1022 */, -746, -1e300,
                            -0x1p-1074, -0x1p-60, -0x1.62e42fefa39efp-2 /* −ln2 / 2 */, 0x1.62e42fefa39efp+9,
                            0x1.62e42fefa39fp+9 /* → ∞ */, 1, 100, -DBL_MAX};
    memcpy(x, edges, sizeof edges);
    return x;
}

static void exps_baseline(size_t n, const double *x, double *y) {
    for (size_t i = 0; i < n; i++) y[i] = cfx_exp(x[i]);
}
#if defined(__x86_64__)
__attribute__((target("arch=x86-64-v4"), min_vector_width(512)))
static void exps_avx512(size_t n, const double *x, double *y) {
    for (size_t i = 0; i < n; i++) y[i] = cfx_exp(x[i]);
}
__attribute__((target("arch=x86-64-v3")))
static void exps_avx2(size_t n, const double *x, double *y) {
    for (size_t i = 0; i < n; i++) y[i] = cfx_exp(x[i]);
}
#endif

/* Every value of a set's loop bit for bit the baseline loop's. */
static void check_same_bits(const char *set, void (*exps)(size_t, const double *, double *), const double *x,
                            const double *want) {
    double *y = malloc(COUNT * sizeof *y);
    exps(COUNT, x, y);
    long differ = 0;
    for (size_t i = 0; i < COUNT; i++) differ += memcmp(&y[i], &want[i], sizeof *y) != 0;
    printf("%s loop: %ld of %d values differ from the baseline loop's bits\n", set, differ, COUNT);
    checked++, failed += differ != 0;
    free(y);
}

static void check_sets(const double *x) {
    double *want = malloc(COUNT * sizeof *want);
    exps_baseline(COUNT, x, want);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("x86-64-v4")) check_same_bits("avx512", exps_avx512, x, want);
    else printf("avx512 loop: not run, this processor lacks it\n");
    if (__builtin_cpu_supports("x86-64-v3")) check_same_bits("avx2", exps_avx2, x, want);
    else printf("avx2 loop: not run, this processor lacks it\n");
#endif
    free(want);
}

/* Softmax of one row against a long double one of the same differences z − max z: within 2 ULPs
 * (each value carries exp's error, the sum's and the division's), −∞ giving 0 and NaN spreading. */
static void check_softmax(size_t n, const double *z) {
    double y[16];
    double top = -INFINITY;
    long double total = 0, e[16];
    cfx_softmax_f64(1, n, z, y);
    for (size_t i = 0; i < n; i++) top = z[i] >= top ? z[i] : top;
    for (size_t i = 0; i < n; i++) total += e[i] = expl(z[i] - top);  /* of z[i] − top rounded, as softmax */
    for (size_t i = 0; i < n; i++) {
        checked++;
        if (!(ulps(y[i], e[i] / total, (double)(e[i] / total), 53, -1074) <= 2)) fail("softmax", z[i], y[i], e[i] / total);
    }
}

/* Rows of 10 (blocks of exps and a padded one) and of 13, under every set the processor runs: each
 * against long double, and bit for bit the first set's. */
static void check_softmaxes(void) {
    const double rows[][13] = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {-INFINITY, 0, -INFINITY, 3, 3, 3, 1e-3, -700, -740, -800},
                               {5, 5, 5, 5, 5, 5, 5, 5, 5, 5}, {NAN, 1, 2, 3, 4, 5, 6, 7, 8, 9},
                               {-3.25, 12.5, 0.125, -0.5, 7, 11.75, 12.25, -30, 2, 1, 12.5, -1e-9, 0.3}};
    enum { ROWS = sizeof rows / sizeof rows[0] };
    double first[ROWS][13];
    for (int set = 0; cfx_kernels_isa_name(set); set++) {
        if (!cfx_kernels_use_isa(cfx_kernels_isa_name(set))) continue;
        for (size_t r = 0; r < ROWS; r++) {
            size_t n = r == ROWS - 1 ? 13 : 10;
            double y[13];
            check_softmax(n, rows[r]);
            cfx_softmax_f64(1, n, rows[r], y);
            if (set == 0) memcpy(first[r], y, sizeof y);
            checked++, failed += memcmp(first[r], y, n * sizeof *y) != 0;
        }
        float x[5] = {-INFINITY, 0, 0, -200, 120}, y[5];  /* exp(−120) is 0 in float */
        cfx_softmax_f32(1, 5, x, y);
        checked++, failed += !(y[0] == 0 && y[1] == 0 && y[3] == 0 && y[4] == 1);
        printf("softmax under %s checked\n", cfx_kernels_isa());
    }
}

int main(void) {
    double *x = test_values();
    for (size_t i = 0; i < COUNT; i++) check_double(x[i]);
    for (size_t i = 0; i < COUNT / 4; i++) check_float((float)x[i] / (i % 2 ? 7 : 1));  /* to −109: floats' 0 */
    const float float_edges[] = {0, -INFINITY, NAN, -0x1.9fe368p+6f /* → 2^-149 */, -0x1.9fe36ap+6f, -104, 88.72f, 89};
    for (size_t i = 0; i < sizeof float_edges / sizeof float_edges[0]; i++) check_float(float_edges[i]);
    check_sets(x);
    check_softmaxes();
    printf("largest errors: exp %.3f ULP, expf %.3f ULP\n", worst[0], worst[1]);
    printf("softmax's exp: %ld checks, %ld failed\n", checked, failed);
    free(x);
    return failed != 0;
}
