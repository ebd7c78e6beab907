/* A small MLP's dense forward product in input order (double; see cfx_kernels.h's cfx_chain_layer).
 *
 * Each output is bias + the multiply-adds of its terms in input order, from +0, reading the weight
 * transposed (inputs × outputs): a vector holds consecutive outputs, and an input's weights are one
 * row, so no lane tree is needed (dense_impl.h's kernels add eight lanes' sums by a tree of
 * shuffles) and an input that is zero in every row of a pass is left out: its terms x · w = ±0
 * (w finite) would add ±0 to a sum that is never -0. A row's values are the same alone or paired.
 * A 64 × 64 product of two rows: 0.88× the tree kernel's time with AVX-512, 0.56× with 40% zero
 * inputs (benchmarks/results/dense_order.md). */

/* The 64-byte vectors of outputs whose sums stay in registers, for two rows: 2 × 8 of AVX-512's
 * 32; 2 × 3 × 2 of AVX2's 16 (with the weight and two broadcasts); 2 × 1 × 4 of SSE2's 16. */
#if ISA_PAIRS == 1
#define ORDERED_BLOCK 8
#elif ISA_PAIRS == 3
#define ORDERED_BLOCK 3
#else
#define ORDERED_BLOCK 1
#endif

/* Output vectors v .. v + count (count ≤ ORDERED_BLOCK) of one row, or of two when `two`. */
static inline __attribute__((always_inline)) void ordered_block(int two, size_t v, size_t count, size_t outputs,
                                                                const size_t *active, size_t n, const double *x0,
                                                                const double *x1, const double *wt, const double *bias,
                                                                double *y0, double *y1) {
    vec_f64 a0[ORDERED_BLOCK] = {{0}}, a1[ORDERED_BLOCK] = {{0}};
    for (size_t k = 0; k < n; k++) {
        const size_t i = active[k];
        const double *wi = wt + i * outputs + v * 8;
        const vec_f64 b0 = SPLAT(vec_f64, x0[i]), b1 = SPLAT(vec_f64, two ? x1[i] : 0);
        for (size_t q = 0; q < ORDERED_BLOCK && q < count; q++) {
            const vec_f64 w = LOAD(vec_f64, wi + q * 8);
            a0[q] = MADD(b0, w, a0[q]);
            if (two) a1[q] = MADD(b1, w, a1[q]);
        }
    }
    for (size_t q = 0; q < count; q++) {
        const vec_f64 b = LOAD(vec_f64, bias + (v + q) * 8), s0 = b + a0[q], s1 = b + a1[q];
        memcpy(y0 + (v + q) * 8, &s0, sizeof s0);
        if (two) memcpy(y1 + (v + q) * 8, &s1, sizeof s1);
    }
}

/* y = bias + x · wᵀ for `rows` rows (outputs a multiple of 8, inputs at most
 * CFX_ORDERED_MAX_INPUTS), two rows at a time, over the inputs not zero in both. */
static void forward_in_order(size_t rows, size_t outputs, size_t inputs, const double *x, const double *wt,
                             const double *bias, double *y) {
    size_t active[CFX_ORDERED_MAX_INPUTS];
    for (size_t r = 0; r < rows; r += 2, x += 2 * inputs, y += 2 * outputs) {
        const int two = r + 1 < rows;
        const double *x1 = two ? x + inputs : x;
        size_t n = 0;
        for (size_t i = 0; i < inputs; i++) {
            active[n] = i;
            n += x[i] != 0 || x1[i] != 0;
        }
        for (size_t v = 0; v < outputs / 8; v += ORDERED_BLOCK) {
            const size_t count = outputs / 8 - v < ORDERED_BLOCK ? outputs / 8 - v : ORDERED_BLOCK;
            if (two)
                ordered_block(1, v, count, outputs, active, n, x, x1, wt, bias, y, y + outputs);
            else
                ordered_block(0, v, count, outputs, active, n, x, x1, wt, bias, y, y + outputs);
        }
    }
}
