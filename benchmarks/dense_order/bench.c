/* A small MLP's paired dense forward product (two rows, as CFProto's step runs it): the
 * small-product kernel (dense_impl.h, a lane tree) against the input-order one from the transposed
 * weight (ordered_impl.h, zero inputs left out), at several shares of zero inputs
 * (benchmarks/results/dense_order.md). Built by run.sh once per kernel set (-DSET_AVX2 for AVX2,
 * else AVX-512). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef SET_AVX2
#define ISA bench_avx2
#define ISA_GROUP 4
#define ISA_PAIRS 3
#define TARGET "arch=x86-64-v3"
#else
#define ISA bench_avx512
#define ISA_GROUP 8
#define ISA_PAIRS 1
#define TARGET "arch=x86-64-v4"
#endif
#define ISA_FMA 1
#define ISA_WIDE (ISA_GROUP == 8)
#pragma clang attribute push(__attribute__((target(TARGET), min_vector_width(512))), apply_to = function)
#include "kernels_impl.h"

__attribute__((noinline)) static void forward_ordered(size_t outputs, size_t inputs, const double *x, const double *wt,
                                                      const double *bias, double *y) {
    forward_in_order(2, outputs, inputs, x, wt, bias, y);
}

__attribute__((noinline)) static void forward_cfx(size_t outputs, size_t inputs, const double *x, const double *w,
                                                  const double *bias, double *y) {
    forward_rows_f64(2, outputs, inputs, x, w, bias, y);
}
#pragma clang attribute pop

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
    enum { O = 64, I = 64, N = 2000000 };
    static double w[O * I], wt[I * O], bias[O], x[2 * I], y[2 * O], z[2 * O];
    srand(1);
    for (size_t i = 0; i < O * I; i++) w[i] = rand() / (double)RAND_MAX - 0.5;
    for (size_t i = 0; i < I; i++)
        for (size_t o = 0; o < O; o++) wt[i * O + o] = w[o * I + i];
    for (size_t o = 0; o < O; o++) bias[o] = 0.1;
    for (double zeros = 0; zeros < 0.7; zeros += 0.2) {
        for (size_t i = 0; i < I; i++) {  /* a zero input is zero in both rows, as a held feature */
            int zero = rand() / (double)RAND_MAX < zeros;
            x[i] = zero ? 0 : rand() / (double)RAND_MAX;
            x[I + i] = zero ? 0 : x[i] * 1.01;
        }
        double best[2] = {1e9, 1e9}, diff = 0;
        for (int round = 0; round < 5; round++) {
            double t = now();
            for (int k = 0; k < N; k++) { forward_cfx(O, I, x, w, bias, y); __asm__ volatile("" ::"r"(y) : "memory"); }
            double a = (now() - t) / N;
            t = now();
            for (int k = 0; k < N; k++) { forward_ordered(O, I, x, wt, bias, z); __asm__ volatile("" ::"r"(z) : "memory"); }
            double b = (now() - t) / N;
            best[0] = a < best[0] ? a : best[0], best[1] = b < best[1] ? b : best[1];
        }
        for (size_t i = 0; i < 2 * O; i++) diff = fabs(y[i] - z[i]) > diff ? fabs(y[i] - z[i]) : diff;
        printf("%s, 64 x 64, 2 rows, %2.0f%% zero inputs: lane tree %.1f ns, input order %.1f ns (%.2fx); "
               "largest difference %.1e\n", CFX_STRING(ISA), 100 * zeros, best[0] * 1e9, best[1] * 1e9,
               best[1] / best[0], diff);
    }
    return 0;
}
