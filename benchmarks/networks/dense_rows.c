// Dense layers over a few rows (a search's one instance): OpenBLAS cblas_sgemm against cfx's
// small-product kernels (Sources/CFXKernels/dense_impl.h), forward (y += x W^T) and input gradient
// (dx += dy W), 1 thread, float32. Shapes: the Fashion-MNIST CNN's 1568 -> 128 layer, a 784 -> 64
// MLP layer and 512-wide layers, at 1, 2, 4 and 8 rows. Decides Dense.isSmall's row limit.
// Build and run: python3 benchmarks/harness.py dense-rows (run_dense_rows.sh)
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cblas.h>
#include "cfx_kernels.h"
#include "../json/clock.h"  /* now_seconds, cmp_double */

void openblas_set_num_threads(int);
char *openblas_get_corename(void);

#define RUNS_MAX 99
// Median over `runs` of the mean microseconds of `reps` calls of BODY.
#define MEDIAN_US(runs, reps, BODY)                                          \
    ({                                                                       \
        double t_[RUNS_MAX];                                                 \
        for (int r_ = 0; r_ < (runs); r_++) {                                \
            double a_ = now_seconds();                                               \
            for (int i_ = 0; i_ < (reps); i_++) { BODY; }                    \
            t_[r_] = (now_seconds() - a_) / (reps) * 1e6;                            \
        }                                                                    \
        qsort(t_, (runs), sizeof(double), cmp_double);                         \
        t_[(runs) / 2];                                                      \
    })

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 9;
    if (runs < 1 || runs > RUNS_MAX) runs = 9;
    openblas_set_num_threads(1);
    printf("OpenBLAS kernels: %s; median of %d runs\n\n", openblas_get_corename(), runs);
    printf("| rows | outputs x inputs | forward: sgemm us | kernel us | sgemm / kernel | input gradient: sgemm us | kernel us | sgemm / kernel |\n");
    printf("|---:|---|---:|---:|---:|---:|---:|---:|\n");
    const size_t shapes[][2] = {{128, 1568}, {64, 784}, {256, 512}, {512, 512}};
    const size_t rowCounts[] = {1, 2, 4, 8};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        for (size_t c = 0; c < sizeof rowCounts / sizeof rowCounts[0]; c++) {
            size_t rows = rowCounts[c], o = shapes[s][0], n = shapes[s][1];
            float *x = malloc(4 * rows * n), *w = malloc(4 * o * n), *y = calloc(rows * o, 4);
            float *dy = malloc(4 * rows * o), *dx = calloc(rows * n, 4);
            if (!x || !w || !y || !dy || !dx) return 1;
            for (size_t i = 0; i < rows * n; i++) x[i] = 1e-3f * (float)(i % 7);
            for (size_t i = 0; i < o * n; i++) w[i] = 1e-3f * (float)(i % 11);
            for (size_t i = 0; i < rows * o; i++) dy[i] = 1e-3f * (float)(i % 5);
            int reps = (int)(2e8 / (double)(rows * o * n)) + 1;
            double fs = MEDIAN_US(runs, reps, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)o, (int)n,
                                                          1, x, (int)n, w, (int)n, 1, y, (int)o));
            double fk = MEDIAN_US(runs, reps, cfx_dense_forward_f32(rows, o, n, x, w, y));
            double bs = MEDIAN_US(runs, reps, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)n, (int)o,
                                                          1, dy, (int)o, w, (int)n, 1, dx, (int)n));
            double bk = MEDIAN_US(runs, reps, cfx_dense_backward_f32(rows, o, n, dy, w, dx, 0));
            printf("| %zu | %zu x %zu | %.2f | %.2f | %.1f | %.2f | %.2f | %.1f |\n", rows, o, n, fs, fk, fs / fk, bs, bk, bs / bk);
            free(x); free(w); free(y); free(dy); free(dx);
        }
    }
    return 0;
}
