/* Softmax over each row and its backward pass (see cfx_kernels.h): the C library's exp / expf, the
 * sums in order, no fused multiply-adds, so that the values are those of plain loops. */
#include "cfx_kernels.h"
#include <math.h>

#pragma clang fp contract(off)

#define SOFTMAX(SUFFIX, T, EXP)                                                                       \
void cfx_softmax_##SUFFIX(size_t rows, size_t width, const T *x, T *y) {                             \
    for (size_t r = 0; r < rows; r++, x += width, y += width) {                                       \
        T largest = -INFINITY, total = 0;                                                             \
        for (size_t i = 0; i < width; i++) largest = x[i] >= largest ? x[i] : largest;                \
        for (size_t i = 0; i < width; i++) {                                                          \
            y[i] = EXP(x[i] - largest);                                                               \
            total += y[i];                                                                            \
        }                                                                                             \
        for (size_t i = 0; i < width; i++) y[i] /= total;                                             \
    }                                                                                                 \
}

SOFTMAX(f64, double, exp)
SOFTMAX(f32, float, expf)

#define SOFTMAX_BACKWARD(SUFFIX, T)                                                                   \
void cfx_softmax_backward_##SUFFIX(size_t rows, size_t width, const T *y, const T *dy, T *dx) {       \
    for (size_t r = 0; r < rows; r++, y += width, dy += width, dx += width) {                         \
        T dot = 0;                                                                                    \
        for (size_t i = 0; i < width; i++) dot += dy[i] * y[i];                                       \
        for (size_t i = 0; i < width; i++) dx[i] += y[i] * (dy[i] - dot);                             \
    }                                                                                                 \
}

SOFTMAX_BACKWARD(f64, double)
SOFTMAX_BACKWARD(f32, float)
