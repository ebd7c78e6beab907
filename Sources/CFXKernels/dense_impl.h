/* Small dense-layer products of one instruction set (see cfx_kernels.h, isa.h).
 *
 * Vectors are 64 bytes whatever the instruction set, so every set adds the same terms in the same
 * order; sets differ only in whether a multiply-add is fused (MADD), so the baseline set gets other
 * last bits than the AVX2 and AVX-512 sets, which agree. An output of the forward pass is:
 * lane-wise partial sums over whole vectors of inputs, the lanes added by a fixed pairwise tree,
 * then the remaining inputs in order; an input gradient is one lane's sum over the outputs in
 * order. Groups of outputs or inputs, and pairs of rows, are computed side by side only for speed:
 * a value's arithmetic is the same in a group or alone, for any number of rows. */
/* The pairwise tree, on eight outputs' eight-lane sums at once: lane q of the result is
 * ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)) of output q. */
#define TREE8(V8, s)                                                                                     \
    ({                                                                                                   \
        V8 h_[4], g_[2];                                                                                 \
        for (int i_ = 0; i_ < 4; i_++)                                                                   \
            h_[i_] = __builtin_shufflevector(s[2 * i_], s[2 * i_ + 1], 0, 1, 2, 3, 8, 9, 10, 11)         \
                   + __builtin_shufflevector(s[2 * i_], s[2 * i_ + 1], 4, 5, 6, 7, 12, 13, 14, 15);      \
        for (int i_ = 0; i_ < 2; i_++)                                                                   \
            g_[i_] = __builtin_shufflevector(h_[2 * i_], h_[2 * i_ + 1], 0, 1, 4, 5, 8, 9, 12, 13)       \
                   + __builtin_shufflevector(h_[2 * i_], h_[2 * i_ + 1], 2, 3, 6, 7, 10, 11, 14, 15);    \
        __builtin_shufflevector(g_[0], g_[1], 0, 2, 4, 6, 8, 10, 12, 14)                                 \
            + __builtin_shufflevector(g_[0], g_[1], 1, 3, 5, 7, 9, 11, 13, 15);                          \
    })

/* The same tree on four outputs' eight-lane sums: a vector of four. */
#define TREE4(V8, V4, s)                                                                              \
    ({                                                                                                   \
        V8 h_[2], g_;                                                                                 \
        for (int i_ = 0; i_ < 2; i_++)                                                                   \
            h_[i_] = __builtin_shufflevector(s[2 * i_], s[2 * i_ + 1], 0, 1, 2, 3, 8, 9, 10, 11)         \
                   + __builtin_shufflevector(s[2 * i_], s[2 * i_ + 1], 4, 5, 6, 7, 12, 13, 14, 15);      \
        g_ = __builtin_shufflevector(h_[0], h_[1], 0, 1, 4, 5, 8, 9, 12, 13)                          \
           + __builtin_shufflevector(h_[0], h_[1], 2, 3, 6, 7, 10, 11, 14, 15);                       \
        (V4)(__builtin_shufflevector(g_, g_, 0, 2, 4, 6) + __builtin_shufflevector(g_, g_, 1, 3, 5, 7)); \
    })

/* ISA_GROUP outputs side by side in the forward kernels, and at most as many 64-byte vectors of
 * inputs side by side in the input gradient (see isa.h). */
#if ISA_GROUP == 8
#define TREE(V8, VG, s) TREE8(V8, s)
#elif ISA_GROUP == 4
#define TREE(V8, VG, s) TREE4(V8, VG, s)
#else
#error "ISA_GROUP is 8 or 4"
#endif

/* dx[i .. i + NV*L) += sum over the outputs, in order, of dy[o] * w[o][i ..]: NV chains side by side.
 * With skip, an output whose dy is zero is left out: its terms are zeros when the weights are
 * finite, and a sum that starts at +0 is never -0, so adding them would change no bit. */
#define BACKWARD_BLOCK(V, NV)                                                                         \
    do {                                                                                              \
        V acc_[NV] = {{0}};                                                                           \
        for (size_t o = 0; o < outputs; o++) {                                                        \
            const __typeof__(*w) *wo = w + o * inputs + i;                                            \
            __typeof__(*w) d = dy[o];                                                                 \
            if (skip && d == 0) continue;                                                             \
            for (int v = 0; v < NV; v++) acc_[v] = MADD(SPLAT(V, d), LOAD(V, wo + v * (sizeof(V) / sizeof(d))), acc_[v]); \
        }                                                                                             \
        for (int v = 0; v < NV; v++)                                                                  \
            for (size_t l = 0; l < sizeof(V) / sizeof(*w); l++) dx[i + v * (sizeof(V) / sizeof(*w)) + l] += acc_[v][l]; \
    } while (0)

/* Sixteen float outputs side by side, for AVX-512 (sixteen 64-byte sums fit in its registers) and
 * up to 256 inputs (more weight rows than that stream better eight at a time). Their sums go
 * through the fold and tree of the eight-output group (lanes l + 8, then + 4, + 2, + 1), done as
 * pairwise transposes of the sixteen sums: half the shuffles per output. */
#define WIDE_f64 0
#define WIDE_f32 (ISA_WIDE && inputs <= 256)
#define GROUP16_f64
#define GROUP16_f32                                                                                   \
        for (; wide && j + 16 <= outputs; j += 16) {                                                  \
            const float *wj = w + j * inputs;                                                         \
            vec_f32 acc[16] = {{0}};                                                                  \
            for (size_t p = 0; p < whole; p += 16) {                                                  \
                vec_f32 xv = LOAD(vec_f32, x + p);                                                    \
                for (int q = 0; q < 16; q++) acc[q] = MADD(xv, LOAD(vec_f32, wj + q * inputs + p), acc[q]); \
            }                                                                                         \
            vec_f32 a[8], b[4], c[2];                                                                 \
            for (int i_ = 0; i_ < 8; i_++)                                                            \
                a[i_] = __builtin_shufflevector(acc[2 * i_], acc[2 * i_ + 1], 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) \
                      + __builtin_shufflevector(acc[2 * i_], acc[2 * i_ + 1], 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31); \
            for (int i_ = 0; i_ < 4; i_++)                                                            \
                b[i_] = __builtin_shufflevector(a[2 * i_], a[2 * i_ + 1], 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) \
                      + __builtin_shufflevector(a[2 * i_], a[2 * i_ + 1], 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31); \
            for (int i_ = 0; i_ < 2; i_++)                                                            \
                c[i_] = __builtin_shufflevector(b[2 * i_], b[2 * i_ + 1], 0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29) \
                      + __builtin_shufflevector(b[2 * i_], b[2 * i_ + 1], 2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31); \
            vec_f32 sum = __builtin_shufflevector(c[0], c[1], 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30) \
                        + __builtin_shufflevector(c[0], c[1], 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31); \
            for (size_t p = whole; p < inputs; p++) {                                                 \
                vec_f32 wp;                                                                           \
                for (int q = 0; q < 16; q++) wp[q] = wj[q * inputs + p];                              \
                sum = MADD(SPLAT(vec_f32, x[p]), wp, sum);                                            \
            }                                                                                         \
            for (int q = 0; q < 16; q++) y[j + q] = (bias ? bias[j + q] : y[j + q]) + sum[q];        \
        }

/* The outputs of both rows that pair_rows computes side by side (unused without pairing). */
#if ISA_PAIRS == 1
#define PAIR_BLOCK ISA_GROUP
#elif ISA_PAIRS == 3
#define PAIR_BLOCK 3
#else
#define PAIR_BLOCK 1
#endif

/* T: the number type; L: lanes in 64 bytes; FOLD: a 64-byte vector's lanes folded to eight
 * (the tree's first levels, for float). */
#define DENSE_KERNELS(SUFFIX, T, L, FOLD)                                                             \
typedef T vec_##SUFFIX __attribute__((vector_size(64)));                                              \
typedef T vec8_##SUFFIX __attribute__((vector_size(8 * sizeof(T))));                                  \
typedef T vec4_##SUFFIX __attribute__((vector_size(4 * sizeof(T))));                                  \
typedef T vecg_##SUFFIX __attribute__((vector_size(ISA_GROUP * sizeof(T))));                          \
                                                                                                      \
/* One output alone: the same tree on its lanes, then the remaining inputs. */                       \
static inline T finish_##SUFFIX(T *lanes, size_t from, size_t inputs, const T *x, const T *w) {       \
    for (int width = L / 2; width > 0; width /= 2)                                                    \
        for (int i = 0; i < width; i++) lanes[i] += lanes[i + width];                                 \
    T sum = lanes[0];                                                                                 \
    for (size_t p = from; p < inputs; p++) sum = MADD(x[p], w[p], sum);                              \
    return sum;                                                                                       \
}                                                                                                     \
                                                                                                      \
/* A group's lane sums (of x against the weight rows wj…) finished: the fold and tree, then the       \
 * remaining inputs in order, added to y[0 .. ISA_GROUP). */                                          \
static inline void finish_group_##SUFFIX(vec_##SUFFIX *acc, size_t whole, size_t inputs, const T *x,  \
                                         const T *wj, const T *bias, T *y) {                          \
    vec8_##SUFFIX folded[ISA_GROUP];                                                                  \
    for (int q = 0; q < ISA_GROUP; q++) folded[q] = FOLD(acc[q]);                                     \
    vecg_##SUFFIX sum = TREE(vec8_##SUFFIX, vecg_##SUFFIX, folded);                                   \
    for (size_t p = whole; p < inputs; p++) {                                                         \
        vecg_##SUFFIX wp;                                                                             \
        for (int q = 0; q < ISA_GROUP; q++) wp[q] = wj[q * inputs + p];                               \
        sum = MADD(SPLAT(vecg_##SUFFIX, x[p]), wp, sum);                                              \
    }                                                                                                 \
    for (int q = 0; q < ISA_GROUP; q++) y[q] = (bias ? bias[q] : y[q]) + sum[q];                      \
}                                                                                                     \
                                                                                                      \
/* One output alone, added to *y. */                                                                 \
static inline void single_##SUFFIX(size_t whole, size_t inputs, const T *x, const T *wj, const T *bias, \
                                   T *y) {                                                            \
    vec_##SUFFIX a = {0};                                                                             \
    for (size_t p = 0; p < whole; p += L) a = MADD(LOAD(vec_##SUFFIX, x + p), LOAD(vec_##SUFFIX, wj + p), a); \
    *y = (bias ? *bias : *y) + finish_##SUFFIX((T *)&a, whole, inputs, x, wj);                        \
}                                                                                                     \
                                                                                                      \
/* Two rows side by side: each weight load serves both (the weights of a 64 x 64 double layer do      \
 * not fit in L1). Each row's outputs are, as alone, its groups (ISA_PAIRS 1), or its outputs three   \
 * at a time, whose six sums go through one eight-output tree (ISA_PAIRS 3: a group of both rows does \
 * not fit in AVX2's registers; twelve 32-byte sums do, with the weights read from memory by the     \
 * multiply-adds), and its single outputs. The blocks run from the last weight rows to the first: a   \
 * backward pass reads them first to last, so the rows it read last, still in L1, come first. */      \
static inline void pair_rows_##SUFFIX(size_t outputs, size_t inputs, const T *x, const T *w,          \
                                      const T *bias, T *y) {                                          \
    const size_t whole = inputs / L * L, block = PAIR_BLOCK, end = outputs / block * block;          \
    const T *x1 = x + inputs;                                                                         \
    T *y1 = y + outputs;                                                                              \
    for (size_t j = outputs; j-- > end;) {                                                            \
        single_##SUFFIX(whole, inputs, x, w + j * inputs, bias ? bias + j : 0, y + j);                \
        single_##SUFFIX(whole, inputs, x1, w + j * inputs, bias ? bias + j : 0, y1 + j);              \
    }                                                                                                 \
    for (size_t b = end / block; ISA_PAIRS == 1 && b-- > 0;) {                                        \
        const size_t j = b * block;                                                                   \
        const T *wj = w + j * inputs;                                                                 \
        vec_##SUFFIX acc0[ISA_GROUP] = {{0}}, acc1[ISA_GROUP] = {{0}};                                \
        for (size_t p = 0; p < whole; p += L) {                                                       \
            vec_##SUFFIX u = LOAD(vec_##SUFFIX, x + p), v = LOAD(vec_##SUFFIX, x1 + p);               \
            for (int q = 0; q < ISA_GROUP; q++) {                                                     \
                vec_##SUFFIX wq = LOAD(vec_##SUFFIX, wj + q * inputs + p);                            \
                acc0[q] = MADD(u, wq, acc0[q]);                                                       \
                acc1[q] = MADD(v, wq, acc1[q]);                                                       \
            }                                                                                         \
        }                                                                                             \
        finish_group_##SUFFIX(acc0, whole, inputs, x, wj, bias ? bias + j : 0, y + j);                \
        finish_group_##SUFFIX(acc1, whole, inputs, x1, wj, bias ? bias + j : 0, y1 + j);              \
    }                                                                                                 \
    for (size_t b = end / block; ISA_PAIRS == 3 && b-- > 0;) {                                        \
        const size_t j = b * block;                                                                   \
        const T *w0 = w + j * inputs, *w1 = w0 + inputs, *w2 = w1 + inputs;                          \
        vec_##SUFFIX acc[8] = {{0}};  /* row 0's outputs j, j + 1, j + 2, row 1's; two left at zero */ \
        for (size_t p = 0; p < whole; p += L) {                                                       \
            vec_##SUFFIX u = LOAD(vec_##SUFFIX, x + p), v = LOAD(vec_##SUFFIX, x1 + p);               \
            vec_##SUFFIX a = LOAD(vec_##SUFFIX, w0 + p);                                              \
            acc[0] = MADD(u, a, acc[0]);                                                              \
            acc[3] = MADD(v, a, acc[3]);                                                              \
            a = LOAD(vec_##SUFFIX, w1 + p);                                                           \
            acc[1] = MADD(u, a, acc[1]);                                                              \
            acc[4] = MADD(v, a, acc[4]);                                                              \
            a = LOAD(vec_##SUFFIX, w2 + p);                                                           \
            acc[2] = MADD(u, a, acc[2]);                                                              \
            acc[5] = MADD(v, a, acc[5]);                                                              \
        }                                                                                             \
        vec8_##SUFFIX folded[8];                                                                      \
        for (int q = 0; q < 8; q++) folded[q] = FOLD(acc[q]);                                         \
        vec8_##SUFFIX sum = TREE8(vec8_##SUFFIX, folded);                                             \
        for (size_t p = whole; p < inputs; p++) {                                                     \
            vec8_##SUFFIX wp = {w0[p], w1[p], w2[p], w0[p], w1[p], w2[p], 0, 0};                      \
            vec8_##SUFFIX xp = {x[p], x[p], x[p], x1[p], x1[p], x1[p], 0, 0};                          \
            sum = MADD(xp, wp, sum);                                                                  \
        }                                                                                             \
        for (int q = 0; q < 3; q++) {                                                                 \
            y[j + q] = (bias ? bias[j + q] : y[j + q]) + sum[q];                                      \
            y1[j + q] = (bias ? bias[j + q] : y1[j + q]) + sum[3 + q];                                \
        }                                                                                             \
    }                                                                                                 \
}                                                                                                     \
                                                                                                      \
/* y = bias + x · wᵀ per row when bias is given (rows × outputs, y's old values unread), else  \
 * y += x · wᵀ: each output's sum added to the bias, or to y, as the same one addition. */         \
static inline void forward_rows_##SUFFIX(size_t rows, size_t outputs, size_t inputs, const T *x,      \
                                         const T *w, const T *bias, T *y) {                           \
    size_t whole = inputs / L * L, r = 0;                                                             \
    int wide = WIDE_##SUFFIX;                                                                         \
    (void)wide;                                                                                       \
    for (; ISA_PAIRS && r + 2 <= rows; r += 2, x += 2 * inputs, y += 2 * outputs)                     \
        pair_rows_##SUFFIX(outputs, inputs, x, w, bias, y);                                           \
    for (; r < rows; r++, x += inputs, y += outputs) {                                                \
        size_t j = 0;                                                                                 \
        GROUP16_##SUFFIX                                                                              \
        for (; j + ISA_GROUP <= outputs; j += ISA_GROUP) {  /* a group shares the loads of x and the tree */ \
            const T *wj = w + j * inputs;                                                             \
            vec_##SUFFIX acc[ISA_GROUP] = {{0}};                                                      \
            for (size_t p = 0; p < whole; p += L) {                                                   \
                vec_##SUFFIX xv = LOAD(vec_##SUFFIX, x + p);                                          \
                for (int q = 0; q < ISA_GROUP; q++) acc[q] = MADD(xv, LOAD(vec_##SUFFIX, wj + q * inputs + p), acc[q]); \
            }                                                                                         \
            finish_group_##SUFFIX(acc, whole, inputs, x, wj, bias ? bias + j : 0, y + j);             \
        }                                                                                             \
        for (; j < outputs; j++) single_##SUFFIX(whole, inputs, x, w + j * inputs, bias ? bias + j : 0, y + j); \
    }                                                                                                 \
}                                                                                                     \
                                                                                                      \
static void KERNEL(dense_forward_##SUFFIX)(size_t rows, size_t outputs, size_t inputs,                    \
                                       const T *x, const T *w, T *y) {                                \
    forward_rows_##SUFFIX(rows, outputs, inputs, x, w, 0, y);                                         \
}                                                                                                     \
                                                                                                      \
static void KERNEL(dense_backward_##SUFFIX)(size_t rows, size_t outputs, size_t inputs,                   \
                                        const T *dy, const T *w, T *dx, int skip) {                   \
    size_t whole = inputs / L * L;                                                                    \
    for (size_t r = 0; r < rows; r++, dy += outputs, dx += inputs) {                                  \
        size_t i = 0;                                                                                 \
        /* blocks of 8, 4, 2 and 1 vectors of inputs: as many independent chains as fit */           \
        if (ISA_GROUP >= 8)                                                                           \
            for (; i + 8 * L <= whole; i += 8 * L) BACKWARD_BLOCK(vec_##SUFFIX, 8);                   \
        for (; i + 4 * L <= whole; i += 4 * L) BACKWARD_BLOCK(vec_##SUFFIX, 4);                          \
        for (; i + 2 * L <= whole; i += 2 * L) BACKWARD_BLOCK(vec_##SUFFIX, 2);                          \
        for (; i < whole; i += L) BACKWARD_BLOCK(vec_##SUFFIX, 1);                                       \
        for (; i < inputs; i++) {                                                                     \
            T sum = 0;                                                                                \
            for (size_t o = 0; o < outputs; o++)                                                      \
                if (!(skip && dy[o] == 0)) sum = MADD(dy[o], w[o * inputs + i], sum);                 \
            dx[i] += sum;                                                                             \
        }                                                                                             \
    }                                                                                                 \
}

#define FOLD_NONE(a) (a)
#define FOLD_16_TO_8(a) (__builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7) \
                       + __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15))

DENSE_KERNELS(f64, double, 8, FOLD_NONE)
DENSE_KERNELS(f32, float, 16, FOLD_16_TO_8)
