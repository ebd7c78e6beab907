/* Softmax over each row and its backward pass, of one instruction set (see cfx_kernels.h, isa.h):
 * cfx's own exp (exp_impl.h), the sums in order, no fused multiply-adds, so that every set gives
 * the same bits, on every processor. */

/* exps in blocks of EXP_BLOCK values, the last one padded: a loop of a fixed count vectorises
 * whole, where a row's own count (10 classes) left the compiler a vector loop that a short row
 * never reaches. Four measured fastest on AVX2 and AVX-512 and as fast as a plain loop on SSE2. */
#define EXP_BLOCK 4

#define SOFTMAX_PASSES(SUFFIX, T, EXP)                                                                \
/* y[i] = exp(x[i] − largest) for i < n. */                                                          \
static inline void KERNEL(exps_##SUFFIX)(size_t n, const T *x, T largest, T *y) {                    \
    for (size_t start = 0; start < n; start += EXP_BLOCK) {                                           \
        T block[EXP_BLOCK];                                                                           \
        for (size_t i = 0; i < EXP_BLOCK; i++) block[i] = start + i < n ? x[start + i] - largest : 0; \
        for (size_t i = 0; i < EXP_BLOCK; i++) block[i] = EXP(block[i]);                              \
        for (size_t i = 0; i < EXP_BLOCK && start + i < n; i++) y[start + i] = block[i];              \
    }                                                                                                 \
}                                                                                                     \
                                                                                                      \
static void KERNEL(softmax_##SUFFIX)(size_t rows, size_t width, const T *x, T *y) {                  \
    for (size_t r = 0; r < rows; r++, x += width, y += width) {                                       \
        T largest = -INFINITY, total = 0;                                                             \
        for (size_t i = 0; i < width; i++) largest = x[i] >= largest ? x[i] : largest;                \
        KERNEL(exps_##SUFFIX)(width, x, largest, y);                                                  \
        for (size_t i = 0; i < width; i++) total += y[i];                                             \
        for (size_t i = 0; i < width; i++) y[i] /= total;                                             \
    }                                                                                                 \
}                                                                                                     \
                                                                                                      \
static void KERNEL(softmax_backward_##SUFFIX)(size_t rows, size_t width, const T *y, const T *dy, T *dx) { \
    for (size_t r = 0; r < rows; r++, y += width, dy += width, dx += width) {                         \
        T dot = 0;                                                                                    \
        for (size_t i = 0; i < width; i++) dot += dy[i] * y[i];                                       \
        for (size_t i = 0; i < width; i++) dx[i] += y[i] * (dy[i] - dot);                             \
    }                                                                                                 \
}

SOFTMAX_PASSES(f64, double, cfx_exp)
SOFTMAX_PASSES(f32, float, cfx_expf)
