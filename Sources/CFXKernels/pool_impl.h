/* 2 x 2 max pooling of one instruction set (see cfx_kernels.h, isa.h), with selects instead of
 * branches: which value of a window wins depends on the data, so a branch per comparison is
 * mispredicted about half the time. The selects follow the scan of cfx's general pooling loop
 * exactly, NaNs included. Rows of at least eight windows go eight at a time (rows of four to
 * seven, four at a time in two blocks): contiguous loads
 * split into the windows' left and right columns by shuffles (the compiler's own loop gathered
 * every value); the last block overlaps the one before it and writes the same values again. */

/* Windows ox .. ox + 7 of the row pair (top, bottom). V: 8 values of T; M: 8 integers as wide. */
#define POOL_BLOCK8(T, V, M, top, bottom, ox, topRow, bottomRow, y, argmax)                        \
    do {                                                                                            \
        V t0_, t1_, u0_, u1_;                                                                       \
        memcpy(&t0_, (top) + 2 * (ox), sizeof(V));                                                  \
        memcpy(&t1_, (top) + 2 * (ox) + 8, sizeof(V));                                              \
        memcpy(&u0_, (bottom) + 2 * (ox), sizeof(V));                                               \
        memcpy(&u1_, (bottom) + 2 * (ox) + 8, sizeof(V));                                           \
        V a = __builtin_shufflevector(t0_, t1_, 0, 2, 4, 6, 8, 10, 12, 14);                         \
        V b = __builtin_shufflevector(t0_, t1_, 1, 3, 5, 7, 9, 11, 13, 15);                         \
        V c = __builtin_shufflevector(u0_, u1_, 0, 2, 4, 6, 8, 10, 12, 14);                         \
        V d = __builtin_shufflevector(u0_, u1_, 1, 3, 5, 7, 9, 11, 13, 15);                         \
        V column = (V){0, 2, 4, 6, 8, 10, 12, 14} + (T)(2 * (ox));                                  \
        POOL_PICK(V, M, a, b, c, d, column, topRow, bottomRow, y, argmax, ox);                      \
    } while (0)
/* The same for windows ox .. ox + 3 (rows of four to seven windows). V: 4 values of T. */
#define POOL_BLOCK4(T, V, M, top, bottom, ox, topRow, bottomRow, y, argmax)                        \
    do {                                                                                            \
        V t0_, t1_, u0_, u1_;                                                                       \
        memcpy(&t0_, (top) + 2 * (ox), sizeof(V));                                                  \
        memcpy(&t1_, (top) + 2 * (ox) + 4, sizeof(V));                                              \
        memcpy(&u0_, (bottom) + 2 * (ox), sizeof(V));                                               \
        memcpy(&u1_, (bottom) + 2 * (ox) + 4, sizeof(V));                                           \
        V a = __builtin_shufflevector(t0_, t1_, 0, 2, 4, 6);                                        \
        V b = __builtin_shufflevector(t0_, t1_, 1, 3, 5, 7);                                        \
        V c = __builtin_shufflevector(u0_, u1_, 0, 2, 4, 6);                                        \
        V d = __builtin_shufflevector(u0_, u1_, 1, 3, 5, 7);                                        \
        V column = (V){0, 2, 4, 6} + (T)(2 * (ox));                                                 \
        POOL_PICK(V, M, a, b, c, d, column, topRow, bottomRow, y, argmax, ox);                      \
    } while (0)
/* Each window's first largest of a, b (top row), c, d (bottom row) in scan order, and where. */
#define POOL_PICK(V, M, a, b, c, d, column, topRow, bottomRow, y, argmax, ox)                      \
    do {                                                                                            \
        M takeB = ((b > a) | (b != b)) & (a == a);                                                  \
        V best = SELECT(M, takeB, b, a);                                                            \
        V at = SELECT(M, takeB, (topRow) + column + 1, (topRow) + column);                          \
        M takeC = (c > best) | (c != c);                                                            \
        best = SELECT(M, takeC, c, best);                                                           \
        at = SELECT(M, takeC, (bottomRow) + column, at);                                            \
        M takeD = ((d > best) | (d != d)) & (c == c);                                               \
        best = SELECT(M, takeD, d, best);                                                           \
        at = SELECT(M, takeD, (bottomRow) + column + 1, at);                                        \
        memcpy((y) + (ox), &best, sizeof(V));                                                       \
        memcpy((argmax) + (ox), &at, sizeof(V));                                                    \
    } while (0)
/* p where the mask is set, else q (bitwise, as the scalar selects). */
#define SELECT(M, mask, p, q) ((__typeof__(p))(((M)(p) & (mask)) | ((M)(q) & ~(mask))))


#define MAX_POOL2(SUFFIX, T, I)                                                                     \
typedef T v8_##SUFFIX __attribute__((vector_size(8 * sizeof(T))));                                  \
typedef I m8_##SUFFIX __attribute__((vector_size(8 * sizeof(T))));                                  \
typedef T v4_##SUFFIX __attribute__((vector_size(4 * sizeof(T))));                                  \
typedef I m4_##SUFFIX __attribute__((vector_size(4 * sizeof(T))));                                  \
static void KERNEL(max_pool2_##SUFFIX)(size_t planes, size_t height, size_t width, const T *x, T *y, \
                                       T *argmax) {                                                     \
    size_t outHeight = height / 2, outWidth = width / 2;                                            \
    for (size_t plane = 0; plane < planes; plane++, x += height * width) {                          \
        for (size_t oy = 0; oy < outHeight; oy++, y += outWidth, argmax += outWidth) {              \
            const T *top = x + 2 * oy * width, *bottom = top + width;                               \
            /* Positions as T (exact: Pool2D allows at most 2^24 positions a plane), so that */   \
            /* every select is on lanes of the same width. */                                       \
            T topRow = (T)(2 * oy * width), bottomRow = topRow + (T)width;                          \
            if (outWidth >= 8) {                                                                    \
                size_t ox = 0;                                                                      \
                for (; ox + 8 <= outWidth; ox += 8)                                                 \
                    POOL_BLOCK8(T, v8_##SUFFIX, m8_##SUFFIX, top, bottom, ox, topRow, bottomRow, y, argmax); \
                if (ox < outWidth)                                                                  \
                    POOL_BLOCK8(T, v8_##SUFFIX, m8_##SUFFIX, top, bottom, outWidth - 8, topRow, bottomRow, y, argmax); \
                continue;                                                                           \
            }                                                                                       \
            if (outWidth >= 4) {  /* two blocks of four, overlapping when there are fewer than eight */ \
                POOL_BLOCK4(T, v4_##SUFFIX, m4_##SUFFIX, top, bottom, 0, topRow, bottomRow, y, argmax); \
                POOL_BLOCK4(T, v4_##SUFFIX, m4_##SUFFIX, top, bottom, outWidth - 4, topRow, bottomRow, y, argmax); \
                continue;                                                                           \
            }                                                                                       \
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

MAX_POOL2(f64, double, long long)
MAX_POOL2(f32, float, int)
