/* 2 x 2 max pooling (see cfx_kernels.h), with selects instead of branches: which value of a
 * window wins depends on the data, so a branch per comparison is mispredicted about half the
 * time. The selects follow the scan of cfx's general pooling loop exactly, NaNs included. */
#include "cfx_kernels.h"
#include "clones.h"


#define MAX_POOL2(SUFFIX, T)                                                                        \
CLONES void cloned_max_pool2_##SUFFIX(size_t planes, size_t height, size_t width, const T *x, T *y,    \
                                   T *argmax) {                                                     \
    size_t outHeight = height / 2, outWidth = width / 2;                                            \
    for (size_t plane = 0; plane < planes; plane++, x += height * width) {                          \
        for (size_t oy = 0; oy < outHeight; oy++, y += outWidth, argmax += outWidth) {              \
            const T *top = x + 2 * oy * width, *bottom = top + width;                               \
            /* Positions as T (exact: Pool2D allows at most 2^24 positions a plane), so that */   \
            /* every select is on lanes of the same width. */                                       \
            T topRow = (T)(2 * oy * width), bottomRow = topRow + (T)width;                          \
            _Pragma("clang loop vectorize(enable) vectorize_predicate(enable)")                     \
            for (size_t ox = 0; ox < outWidth; ox++) {                                              \
                T a = top[2 * ox], b = top[2 * ox + 1], c = bottom[2 * ox], d = bottom[2 * ox + 1]; \
                T column = (T)(2 * ox);                                                             \
                /* The scan takes a; then a value that is larger or NaN, a NaN ending its row. */  \
                int takeB = (b > a || b != b) & (a == a);                                           \
                T best = takeB ? b : a;                                                             \
                T at = topRow + column + (takeB ? 1 : 0);                                           \
                int takeC = c > best || c != c;                                                     \
                best = takeC ? c : best;                                                            \
                at = takeC ? bottomRow + column : at;                                               \
                int takeD = (d > best || d != d) & (c == c);                                        \
                best = takeD ? d : best;                                                            \
                at = takeD ? bottomRow + column + 1 : at;                                           \
                y[ox] = best;                                                                       \
                argmax[ox] = at;                                                                    \
            }                                                                                       \
        }                                                                                           \
    }                                                                                               \
}

MAX_POOL2(f64, double)
MAX_POOL2(f32, float)

void cfx_max_pool2_f64(size_t planes, size_t height, size_t width, const double *x, double *y, double *argmax) {
    cloned_max_pool2_f64(planes, height, width, x, y, argmax);
}
void cfx_max_pool2_f32(size_t planes, size_t height, size_t width, const float *x, float *y, float *argmax) {
    cloned_max_pool2_f32(planes, height, width, x, y, argmax);
}
