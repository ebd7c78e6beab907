/* Value-by-value passes of one instruction set (see cfx_kernels.h, isa.h): relu, leaky relu, and the
 * backward pass of 2 x 2 max pooling. Each value's arithmetic is one comparison and at most one
 * multiply and one add, written as the scalar expression the layers define, so every set (and any
 * vector width) gives the bits of the plain loop; the loops are here so that they run at the set's
 * width (cfx's Swift code is compiled for baseline x86-64). */

/* 64 bytes at a time (V: 64 bytes of T, M: as many integers of T's width; comparisons give masks
 * and SELECT of pool_impl.h picks bitwise), then the remaining values one by one. */
#define ELEMENTWISE_LOOP(T, V, M, count, VECTOR, SCALAR)                                            \
    do {                                                                                            \
        size_t i = 0;                                                                               \
        for (; i + sizeof(V) / sizeof(T) <= (count); i += sizeof(V) / sizeof(T)) {                  \
            V x_ = LOAD(V, x + i), r_;                                                              \
            VECTOR(V, M);                                                                           \
        }                                                                                           \
        for (; i < (count); i++) { T x_ = x[i]; SCALAR; }                                           \
    } while (0)

/* relu: y = 0 >= x ? 0 : x (Swift's max(x, 0): a NaN passes, −0 becomes +0). */
#define RELU_FORWARD(V, M) { r_ = SELECT(M, x_ <= (V){0}, (V){0}, x_); memcpy(y + i, &r_, sizeof r_); }
#define RELU_FORWARD_1 y[i] = x_ <= 0 ? 0 : x_
/* What a backward pass adds to: dx, or +0 when it overwrites dx (0 + v: the bits a cleared dx gives). */
#define BASE(V, P) (accumulate ? LOAD(V, P) : (V){0})
#define BASE_1 (accumulate ? dx[i] : 0)
/* dx += x > 0 ? dy : 0 */
#define RELU_BACKWARD(V, M)                                                                         \
    { r_ = BASE(V, dx + i) + SELECT(M, x_ > (V){0}, LOAD(V, dy + i), (V){0}); memcpy(dx + i, &r_, sizeof r_); }
#define RELU_BACKWARD_1 dx[i] = BASE_1 + (x_ > 0 ? dy[i] : 0)
/* y = x > 0 ? x : slope * x */
#define LEAKY_FORWARD(V, M) { r_ = SELECT(M, x_ > (V){0}, x_, slope * x_); memcpy(y + i, &r_, sizeof r_); }
#define LEAKY_FORWARD_1 y[i] = x_ > 0 ? x_ : slope * x_
/* dx += x > 0 ? dy : slope * dy */
#define LEAKY_BACKWARD(V, M)                                                                        \
    { V g_ = LOAD(V, dy + i); r_ = BASE(V, dx + i) + SELECT(M, x_ > (V){0}, g_, slope * g_); memcpy(dx + i, &r_, sizeof r_); }
#define LEAKY_BACKWARD_1 dx[i] = BASE_1 + (x_ > 0 ? dy[i] : slope * dy[i])

/* Windows ox .. ox + W - 1 (W = 8 or 4) of one row pair of 2 x 2 max pooling's backward pass: each
 * of the four positions of a window gains dy where it is the window's argmax, −0 elsewhere (x + −0
 * is x, whatever x: those values keep their bits), added to dx's values (ADD 1) or to +0 (ADD 0: a
 * pass that overwrites dx, the bits a cleared dx gives; writing a block again writes the same
 * values). With `relu` (the plane of a relu's input, ADD 0 only), a value is kept where that
 * input is > 0 and +0 elsewhere: relu's backward pass on the result, in the same pass. VW: W values
 * of T; MW: W integers as wide; V2W, M2W: 2W values of T, and integers as wide. */
#define POOL_BACKWARD_BLOCK(T, VW, MW, V2W, M2W, ox, ADD, COLUMNS, INTERLEAVE)                            \
    do {                                                                                            \
        VW g = LOAD(VW, dy + (ox)), at = LOAD(VW, argmax + (ox)), none = SPLAT(VW, (T)-0.0);       \
        VW column = (VW)COLUMNS + (T)(2 * (ox));                                                    \
        VW a = SELECT(MW, at == topRow + column, g, none), b = SELECT(MW, at == topRow + column + 1, g, none); \
        VW c = SELECT(MW, at == bottomRow + column, g, none), d = SELECT(MW, at == bottomRow + column + 1, g, none); \
        V2W upper = ((ADD) ? LOAD(V2W, top + 2 * (ox)) : (V2W){0}) + __builtin_shufflevector(a, b, INTERLEAVE); \
        V2W lower = ((ADD) ? LOAD(V2W, bottom + 2 * (ox)) : (V2W){0}) + __builtin_shufflevector(c, d, INTERLEAVE); \
        if (relu) {                                                                                 \
            upper = SELECT(M2W, LOAD(V2W, relu + (top - dx) + 2 * (ox)) > (V2W){0}, upper, (V2W){0}); \
            lower = SELECT(M2W, LOAD(V2W, relu + (bottom - dx) + 2 * (ox)) > (V2W){0}, lower, (V2W){0}); \
        }                                                                                           \
        memcpy(top + 2 * (ox), &upper, sizeof upper);                                               \
        memcpy(bottom + 2 * (ox), &lower, sizeof lower);                                            \
    } while (0)
#define POOL_COLUMNS8 {0, 2, 4, 6, 8, 10, 12, 14}
#define POOL_INTERLEAVE8 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15
#define POOL_COLUMNS4 {0, 2, 4, 6}
#define POOL_INTERLEAVE4 0, 4, 1, 5, 2, 6, 3, 7

#define ELEMENTWISE_KERNELS(SUFFIX, T, I)                                                           \
typedef T ew_##SUFFIX __attribute__((vector_size(64)));                                             \
typedef I ewm_##SUFFIX __attribute__((vector_size(64)));                                            \
typedef T pb8_##SUFFIX __attribute__((vector_size(8 * sizeof(T))));                                 \
typedef I pbm8_##SUFFIX __attribute__((vector_size(8 * sizeof(T))));                                \
typedef T pb16_##SUFFIX __attribute__((vector_size(16 * sizeof(T))));                               \
typedef T pb4_##SUFFIX __attribute__((vector_size(4 * sizeof(T))));                                 \
typedef I pbm4_##SUFFIX __attribute__((vector_size(4 * sizeof(T))));                                \
typedef I pbm16_##SUFFIX __attribute__((vector_size(16 * sizeof(T))));                              \
static void KERNEL(relu_forward_##SUFFIX)(size_t count, const T *x, T *y) {                         \
    ELEMENTWISE_LOOP(T, ew_##SUFFIX, ewm_##SUFFIX, count, RELU_FORWARD, RELU_FORWARD_1);            \
}                                                                                                   \
static void KERNEL(relu_backward_##SUFFIX)(size_t count, const T *x, const T *dy, T *dx, int accumulate) {          \
    ELEMENTWISE_LOOP(T, ew_##SUFFIX, ewm_##SUFFIX, count, RELU_BACKWARD, RELU_BACKWARD_1);          \
}                                                                                                   \
static void KERNEL(leaky_relu_forward_##SUFFIX)(size_t count, T slope, const T *x, T *y) {          \
    ELEMENTWISE_LOOP(T, ew_##SUFFIX, ewm_##SUFFIX, count, LEAKY_FORWARD, LEAKY_FORWARD_1);          \
}                                                                                                   \
static void KERNEL(leaky_relu_backward_##SUFFIX)(size_t count, T slope, const T *x, const T *dy, T *dx, \
                                                 int accumulate) { \
    ELEMENTWISE_LOOP(T, ew_##SUFFIX, ewm_##SUFFIX, count, LEAKY_BACKWARD, LEAKY_BACKWARD_1);        \
}                                                                                                   \
/* One plane of the backward pass: dx[argmax] += dy for each window (add 1: the windows tile the   \
   plane, no value gains twice), or the plane written (add 0: dx's old values unread, the windows  \
   of a row pair eight, then four at a time, the last block of four overlapping the one before it, \
   the remaining windows one by one on zeroed values, an odd last column or row zeroed). With relu \
   (its input's plane; add 0), relu's backward pass follows in the same pass. */                   \
static inline void pool2_backward_plane_##SUFFIX(size_t height, size_t width, const T *argmax, const T *dy, T *dx, \
                                                 int add, const T *relu) {                          \
    size_t outHeight = height / 2, outWidth = width / 2;                                            \
    for (size_t oy = 0; oy < outHeight; oy++, dy += outWidth, argmax += outWidth) {                 \
        T *top = dx + 2 * oy * width, *bottom = top + width;                                        \
        T topRow = (T)(2 * oy * width), bottomRow = topRow + (T)width;                              \
        size_t ox = 0;                                                                              \
        for (; ox + 8 <= outWidth; ox += 8)                                                         \
            POOL_BACKWARD_BLOCK(T, pb8_##SUFFIX, pbm8_##SUFFIX, pb16_##SUFFIX, pbm16_##SUFFIX, ox, add, POOL_COLUMNS8, POOL_INTERLEAVE8); \
        if (!add && ox < outWidth && outWidth >= 4) {                                               \
            if (ox + 4 <= outWidth) {                                                               \
                POOL_BACKWARD_BLOCK(T, pb4_##SUFFIX, pbm4_##SUFFIX, pb8_##SUFFIX, pbm8_##SUFFIX, ox, 0, POOL_COLUMNS4, POOL_INTERLEAVE4); \
                ox += 4;                                                                            \
            }                                                                                       \
            if (ox < outWidth)                                                                      \
                POOL_BACKWARD_BLOCK(T, pb4_##SUFFIX, pbm4_##SUFFIX, pb8_##SUFFIX, pbm8_##SUFFIX, outWidth - 4, 0, POOL_COLUMNS4, POOL_INTERLEAVE4); \
            ox = outWidth;                                                                          \
        }                                                                                           \
        for (size_t i = 2 * ox; !add && i < width; i++) top[i] = bottom[i] = 0;                     \
        for (; ox < outWidth; ox++) {                                                               \
            long at = (long)argmax[ox];                                                             \
            dx[at] += !relu || relu[at] > 0 ? dy[ox] : 0;                                           \
        }                                                                                           \
    }                                                                                               \
    for (size_t i = 2 * outHeight * width; !add && i < height * width; i++) dx[i] = 0;              \
}                                                                                                   \
/* dx[argmax] += dy for each window, or the planes written (accumulate 0), then relu's backward     \
   pass when relu is given (the planes are then written). */                                       \
static void KERNEL(max_pool2_backward_##SUFFIX)(size_t planes, size_t height, size_t width, const T *argmax, \
                                                const T *dy, T *dx, int accumulate, const T *relu) { \
    size_t inPlane = height * width, outPlane = (height / 2) * (width / 2);                         \
    for (size_t plane = 0; plane < planes; plane++)                                                 \
        pool2_backward_plane_##SUFFIX(height, width, argmax + plane * outPlane, dy + plane * outPlane, dx + plane * inPlane, \
                                      accumulate && !relu, relu ? relu + plane * inPlane : 0);      \
}

ELEMENTWISE_KERNELS(f64, double, long long)
ELEMENTWISE_KERNELS(f32, float, int)
