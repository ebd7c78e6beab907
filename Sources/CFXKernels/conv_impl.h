/* Direct stride-1 convolutions of one instruction set (see cfx_kernels.h, isa.h): the forward pass
 * and the input gradient, both one correlation of zero-padded source planes with a table of taps.
 * Library kernels vectorise over channels (8 or 16 at a time) and convert layouts around each
 * call, so a layer of few channels or a small one leaves lanes idle or costs more to convert and
 * call than to compute; here each vector holds a row's neighbouring positions of one plane.
 *
 * Each target value starts from its bias (forward) or its old gradient (input gradient) and adds its
 * terms one multiply-add at a time in the order (source plane, ky, kx), taps outside the source
 * adding w * 0. Blocks of target planes, rows and columns are computed side by side only for speed:
 * each source vector loaded serves every target plane of its block and every row of the block that
 * reads it (three rows for a 3 x 3 kernel), and blocks that overlap at the edges compute the same
 * values again. So a value's arithmetic does not depend on its block, the vector width, the number of
 * examples or the instruction set's width (only on whether it fuses multiply-adds). */

/* One correlation: target[t][y][x] = start + sum over s, ky, kx of tap(t, s, ky, kx) * source[s][y + ky][x + kx]
 * (flip 0, the forward pass), or of tap(t, s, ky, kx) * source[s][y + k - 1 - ky][x + k - 1 - kx]
 * (flip 1, the input gradient), the source planes zero-padded to (rows + k - 1) x (cols + k - 1). */
typedef struct {
    size_t sources, targets, rows, cols, k;
    int flip;
    /* tap(t, s, ky, kx) = w[t * targetStride + s * sourceStride + ky * k + kx] */
    size_t targetStride, sourceStride;
} conv_pass;

/* n floats copied, or zeroed, sixteen at a time: rows this short cost more in library calls (which
 * the compiler would otherwise make of the loops). A row's last part is one vector of 16, 8 or 4
 * floats that ends at its last float and may overlap the previous one (the copies do not alias, so
 * a float written twice gets the same value): a 28-float row is two stores, not one and 12. */
/* The few floats left: one at a time. Vectorised, these loops became masked stores, which AMD's
 * processors run slowly (VMASKMOVPS: microcoded; the AVX2 clone's padding copies took 3% of a
 * Fashion-MNIST CNN's CFProto step). */
#define CONV_SCALAR _Pragma("clang loop vectorize(disable) interleave(disable)")
typedef float conv_chunk __attribute__((vector_size(64), aligned(4), may_alias));
typedef float conv_chunk8 __attribute__((vector_size(32), aligned(4), may_alias));
typedef float conv_chunk4 __attribute__((vector_size(16), aligned(4), may_alias));
__attribute__((no_builtin("memcpy"))) static inline void conv_copy(float *to, const float *from, size_t n) {
    size_t i = 0;
    if (n >= 16) {
        for (; i + 16 <= n; i += 16) *(conv_chunk *)(to + i) = *(const conv_chunk *)(from + i);
        if (i < n) *(conv_chunk *)(to + n - 16) = *(const conv_chunk *)(from + n - 16);
    } else if (n >= 8) {
        *(conv_chunk8 *)to = *(const conv_chunk8 *)from;
        *(conv_chunk8 *)(to + n - 8) = *(const conv_chunk8 *)(from + n - 8);
    } else if (n >= 4) {
        *(conv_chunk4 *)to = *(const conv_chunk4 *)from;
        *(conv_chunk4 *)(to + n - 4) = *(const conv_chunk4 *)(from + n - 4);
    } else {
        CONV_SCALAR for (; i < n; i++) to[i] = from[i];
    }
}
__attribute__((no_builtin("memset"))) static inline void conv_zero(float *to, size_t n) {
    size_t i = 0;
    if (n >= 16) {
        for (; i + 16 <= n; i += 16) *(conv_chunk *)(to + i) = (conv_chunk){0};
        if (i < n) *(conv_chunk *)(to + n - 16) = (conv_chunk){0};
    } else if (n >= 8) {
        *(conv_chunk8 *)to = (conv_chunk8){0};
        *(conv_chunk8 *)(to + n - 8) = (conv_chunk8){0};
    } else {
        CONV_SCALAR for (; i < n; i++) to[i] = 0;
    }
}

/* Plane `from` (h x w) inside q zeros on every side (q < 0: cropped by -q), into `to`, (h + 2q) x (w + 2q). */
__attribute__((no_builtin("memset", "memcpy"))) static inline void conv_pad_plane(const float *from, size_t h, size_t w, ptrdiff_t q, float *to) {
    size_t ph = (size_t)((ptrdiff_t)h + 2 * q), pw = (size_t)((ptrdiff_t)w + 2 * q);
    for (size_t r = 0; r < ph; r++, to += pw) {
        ptrdiff_t sr = (ptrdiff_t)r - q;
        if (sr < 0 || sr >= (ptrdiff_t)h) {
            conv_zero(to, pw);
        } else if (q >= 0) {
            conv_zero(to, (size_t)q);
            conv_copy(to + q, from + (size_t)sr * w, w);
            conv_zero(to + q + w, (size_t)q);
        } else {
            conv_copy(to, from + (size_t)sr * w - q, pw);
        }
    }
}

/* The terms of one source plane, in the order (ky, kx) for every accumulator. Rows first (one
 * target plane): each source row loaded in step mi serves accumulator row j with tap row
 * ky = mi - j, the taps staying in registers. Taps first (several target planes): each tap's
 * weights serve every row of every plane, the source rows loaded anew for each tap (the barrier
 * stops the compiler from keeping them, or the taps, live across the loop and spilling them). */
#define CONV_ROWS_FIRST(V, OB, R, UNROLL)                                                              \
    UNROLL for (size_t mi = 0; mi < R + k - 1; mi++) {                                                 \
        const float *line = from + first + (ptrdiff_t)mi * down;                                       \
        UNROLL for (size_t kx = 0; kx < k; kx++) {                                                     \
            V v = LOAD(V, line + (ptrdiff_t)kx * right);                                               \
            _Pragma("clang loop unroll(full)") for (size_t j = 0; j < R; j++) {                        \
                if (mi < j || mi - j >= k) continue;                                                   \
                _Pragma("clang loop unroll(full)") for (size_t b = 0; b < OB; b++)                     \
                    acc[b][j] = MADD(SPLAT(V, taps[b * g->targetStride + (mi - j) * k + kx]), v, acc[b][j]); \
            }                                                                                          \
        }                                                                                              \
    }
#define CONV_TAPS_FIRST(V, OB, R, UNROLL)                                                              \
    UNROLL for (size_t ky = 0; ky < k; ky++)                                                           \
        UNROLL for (size_t kx = 0; kx < k; kx++) {                                                     \
            __asm__ volatile("" ::: "memory");                                                         \
            V tap[OB];                                                                                 \
            _Pragma("clang loop unroll(full)") for (size_t b = 0; b < OB; b++)                         \
                tap[b] = SPLAT(V, taps[b * g->targetStride + ky * k + kx]);                            \
            _Pragma("clang loop unroll(full)") for (size_t j = 0; j < R; j++) {                        \
                V v = LOAD(V, from + first + (ptrdiff_t)(j + ky) * down + (ptrdiff_t)kx * right);      \
                _Pragma("clang loop unroll(full)") for (size_t b = 0; b < OB; b++)                     \
                    acc[b][j] = MADD(tap[b], v, acc[b][j]);                                            \
            }                                                                                          \
        }

/* The block of OB target planes from t0, R rows from y0 and one vector V of L columns from c0,
 * its terms added in ORDER. Row j of the accumulators is target row y0 + j (flip 0) or
 * y0 + R - 1 - j (flip 1), so that tap (ky, kx) of accumulator row j reads the source row of
 * step mi = j + ky and column kx, counted down and right from the block's corner (flip 0) or up and
 * left from the opposite one (flip 1). KK: the kernel size (a constant, 3, lets the compiler unroll
 * every loop and drop the taps that do not apply, as UNROLL asks; g->k otherwise). */
#define CONV_UNROLLED _Pragma("clang loop unroll(full)")
#define CONV_LOOPED
#define CONV_BLOCK(NAME, V, L, OB, R, KK, UNROLL, ORDER)                                               \
static void NAME(const conv_pass *g, const float *source, const float *w, const float *bias,          \
                 const float *init, float *out, size_t t0, size_t y0, size_t c0) {                     \
    const size_t k = (KK), stride = g->cols + k - 1, plane = (g->rows + k - 1) * stride;               \
    const ptrdiff_t first = g->flip ? (ptrdiff_t)((R + k - 2) * stride + k - 1) : 0;                   \
    const ptrdiff_t down = g->flip ? -(ptrdiff_t)stride : (ptrdiff_t)stride, right = g->flip ? -1 : 1; \
    V acc[OB][R];                                                                                      \
    _Pragma("clang loop unroll(full)") for (size_t b = 0; b < OB; b++)                                 \
        _Pragma("clang loop unroll(full)") for (size_t j = 0; j < R; j++) {                            \
            size_t row = y0 + (g->flip ? R - 1 - j : j);                                               \
            acc[b][j] = init ? LOAD(V, init + ((t0 + b) * g->rows + row) * g->cols + c0)               \
                             : SPLAT(V, bias ? bias[t0 + b] : 0.0f);                                   \
        }                                                                                              \
    for (size_t s = 0; s < g->sources; s++) {                                                          \
        const float *from = source + s * plane + y0 * stride + c0;                                     \
        const float *taps = w + t0 * g->targetStride + s * g->sourceStride;                            \
        ORDER(V, OB, R, UNROLL)                                                                        \
    }                                                                                                  \
    _Pragma("clang loop unroll(full)") for (size_t b = 0; b < OB; b++)                                 \
        _Pragma("clang loop unroll(full)") for (size_t j = 0; j < R; j++) {                            \
            size_t row = y0 + (g->flip ? R - 1 - j : j);                                               \
            memcpy(out + ((t0 + b) * g->rows + row) * g->cols + c0, &acc[b][j], sizeof(V));            \
        }                                                                                              \
}

/* The pass at vector width L: blocks of OB planes and RA rows (RB rows when there are fewer than OB
 * planes; single rows when there are fewer rows than that), the last block of each kind moved back
 * to end at the edge. `init` (the targets' starting values, or NULL for the bias) is not `out`. */
#define CONV_PASS(SUFFIX, V, L, OB, RA, RB)                                                            \
CONV_BLOCK(conv_a3_##SUFFIX, V, L, OB, RA, 3, CONV_UNROLLED, CONV_TAPS_FIRST)                                                         \
CONV_BLOCK(conv_b3_##SUFFIX, V, L, 1, RB, 3, CONV_UNROLLED, CONV_ROWS_FIRST)                                                          \
CONV_BLOCK(conv_c3_##SUFFIX, V, L, OB, 1, 3, CONV_UNROLLED, CONV_TAPS_FIRST)                                                          \
CONV_BLOCK(conv_d3_##SUFFIX, V, L, 1, 1, 3, CONV_UNROLLED, CONV_ROWS_FIRST)                                                           \
CONV_BLOCK(conv_ak_##SUFFIX, V, L, OB, RA, g->k, CONV_LOOPED, CONV_TAPS_FIRST)                                                      \
CONV_BLOCK(conv_bk_##SUFFIX, V, L, 1, RB, g->k, CONV_LOOPED, CONV_ROWS_FIRST)                                                       \
CONV_BLOCK(conv_ck_##SUFFIX, V, L, OB, 1, g->k, CONV_LOOPED, CONV_TAPS_FIRST)                                                       \
CONV_BLOCK(conv_dk_##SUFFIX, V, L, 1, 1, g->k, CONV_LOOPED, CONV_ROWS_FIRST)                                                        \
static void conv_pass_##SUFFIX(const conv_pass *g, const float *source, const float *w, const float *bias, \
                               const float *init, float *out) {                                        \
    typedef void (*block_fn)(const conv_pass *, const float *, const float *, const float *, const float *, \
                             float *, size_t, size_t, size_t);                                         \
    size_t planes = g->targets >= OB ? OB : 1, rows = planes == OB ? RA : RB;                          \
    if (g->rows < rows) rows = 1;                                                                      \
    int three = g->k == 3;                                                                             \
    block_fn block = planes == OB ? (rows > 1 ? (three ? conv_a3_##SUFFIX : conv_ak_##SUFFIX)          \
                                              : (three ? conv_c3_##SUFFIX : conv_ck_##SUFFIX))         \
                                  : (rows > 1 ? (three ? conv_b3_##SUFFIX : conv_bk_##SUFFIX)          \
                                              : (three ? conv_d3_##SUFFIX : conv_dk_##SUFFIX));        \
    for (size_t t = 0; t < g->targets; t += planes)                                                    \
        for (size_t y = 0; y < g->rows; y += rows)                                                     \
            for (size_t c = 0; c < g->cols; c += L)                                                    \
                block(g, source, w, bias, init, out, t + planes <= g->targets ? t : g->targets - planes, \
                      y + rows <= g->rows ? y : g->rows - rows, c + L <= g->cols ? c : g->cols - L);   \
}

typedef float conv_v16 __attribute__((vector_size(64)));
typedef float conv_v8 __attribute__((vector_size(32)));
typedef float conv_v1 __attribute__((vector_size(4)));
/* Accumulators: sixteen registers with AVX-512, eight without. */
#if ISA_WIDE
CONV_PASS(v16, conv_v16, 16, 4, 4, 8)
CONV_PASS(v8, conv_v8, 8, 4, 4, 8)
#else
CONV_PASS(v16, conv_v16, 16, 2, 2, 4)
CONV_PASS(v8, conv_v8, 8, 2, 4, 8)
#endif
CONV_PASS(v1, conv_v1, 1, 1, 1, 1)

/* The widest vector that a target row holds. */
static void conv_pass_f32(const conv_pass *g, const float *source, const float *w, const float *bias, const float *init,
                          float *out) {
    if (g->cols >= 16) conv_pass_v16(g, source, w, bias, init, out);
    else if (g->cols >= 8) conv_pass_v8(g, source, w, bias, init, out);
    else conv_pass_v1(g, source, w, bias, init, out);
}

static void KERNEL(conv_forward_s1_f32)(const cfx_conv_shape *s, const float *x, const float *w, const float *bias,
                                        float *y, float *scratch) {
    size_t k = s->kernel, p = s->padding, outH = s->height + 2 * p - k + 1, outW = s->width + 2 * p - k + 1;
    conv_pass g = {s->channels, s->out_channels, outH, outW, k, 0, s->channels * k * k, k * k};
    size_t plane = (outH + k - 1) * (outW + k - 1);
    for (size_t n = 0; n < s->examples; n++) {
        for (size_t c = 0; c < s->channels; c++)
            conv_pad_plane(x + (n * s->channels + c) * s->height * s->width, s->height, s->width, (ptrdiff_t)p,
                           scratch + c * plane);
        conv_pass_f32(&g, scratch, w, bias, NULL, y + n * s->out_channels * outH * outW);
    }
}

static void KERNEL(conv_input_gradient_s1_f32)(const cfx_conv_shape *s, const float *dy, const float *w, float *dx,
                                               float *scratch) {
    size_t k = s->kernel, p = s->padding, outH = s->height + 2 * p - k + 1, outW = s->width + 2 * p - k + 1;
    size_t count = s->channels * s->height * s->width, plane = (s->height + k - 1) * (s->width + k - 1);
    conv_pass g = {s->out_channels, s->channels, s->height, s->width, k, 1, k * k, s->channels * k * k};
    float *init = scratch + s->out_channels * plane;
    for (size_t n = 0; n < s->examples; n++) {
        for (size_t o = 0; o < s->out_channels; o++)
            conv_pad_plane(dy + (n * s->out_channels + o) * outH * outW, outH, outW, (ptrdiff_t)k - 1 - (ptrdiff_t)p,
                           scratch + o * plane);
        conv_copy(init, dx + n * count, count);
        conv_pass_f32(&g, scratch, w, NULL, init, dx + n * count);
    }
}
