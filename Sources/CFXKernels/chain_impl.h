/* A small MLP's whole pass in one call, of one instruction set (see cfx_kernels.h, isa.h).
 *
 * Each layer computes exactly what cfx's Swift layers compute, operation by operation: dense
 * layers through the same instruction set's kernels, softmaxes through its softmax kernels, relus as
 * max(x, 0). Nothing here multiplies and adds, so nothing is fused, as Swift never fuses: the values
 * are the bits of the layer-by-layer pass (SmallChainTests), whose input gradients skip the outputs
 * with a zero gradient for a finite weight as a chain's do (cfx_chain_layer's `finite`), except
 * the forward products of the double layers that carry their weight transposed: in input order
 * (ordered_impl.h), other last bits than the layer-by-layer pass's. */
/* A double layer that carries its weight transposed adds in input order (ordered_impl.h). */
#define CHAIN_DENSE_FORWARD_f64                                                                       \
    if (layer->transposed)                                                                            \
        forward_in_order(rows, layer->outputs, n, x, layer->transposed, bias, y);                     \
    else                                                                                              \
        forward_rows_f64(rows, layer->outputs, n, x, w, bias, y);
#define CHAIN_DENSE_FORWARD_f32 forward_rows_f32(rows, layer->outputs, n, x, w, bias, y);

#define CHAIN_PASSES(SUFFIX, T)                                                                  \
static void KERNEL(chain_forward_##SUFFIX)(const cfx_chain_layer *layers, size_t count, size_t rows,       \
                                const T *parameters, T *const *values) {                              \
    for (size_t l = 0; l < count; l++) {                                                              \
        const cfx_chain_layer *layer = &layers[l];                                                    \
        const T *x = values[l];                                                                       \
        T *y = values[l + 1];                                                                         \
        size_t n = layer->inputs;                                                                     \
        switch (layer->kind) {                                                                        \
        case CFX_CHAIN_DENSE: {                                                                       \
            const T *w = parameters + layer->parameter_offset, *bias = w + layer->outputs * n;        \
            CHAIN_DENSE_FORWARD_##SUFFIX  /* y = bias + sums */                                        \
            break;                                                                                    \
        }                                                                                             \
        case CFX_CHAIN_RELU:                                                                          \
            for (size_t i = 0; i < rows * n; i++) y[i] = 0 >= x[i] ? 0 : x[i];                        \
            break;                                                                                    \
        case CFX_CHAIN_SOFTMAX:                                                                       \
            KERNEL(softmax_##SUFFIX)(rows, n, x, y);                                                  \
            break;                                                                                    \
        }                                                                                             \
    }                                                                                                 \
}                                                                                                     \
                                                                                                      \
static void KERNEL(chain_backward_##SUFFIX)(const cfx_chain_layer *layers, size_t count, size_t rows,      \
                                 const T *parameters, T *const *values, T *const *gradients) {        \
    for (size_t l = count; l-- > 0;) {                                                                \
        const cfx_chain_layer *layer = &layers[l];                                                    \
        const T *x = values[l], *y = values[l + 1], *dy = gradients[l + 1];                           \
        T *dx = gradients[l];                                                                         \
        size_t n = layer->inputs;                                                                     \
        switch (layer->kind) {                                                                        \
        case CFX_CHAIN_DENSE:                                                                         \
            KERNEL(dense_backward_##SUFFIX)(rows, layer->outputs, n, dy, parameters + layer->parameter_offset, dx, \
                                              layer->finite);  /* outputs with a zero gradient skipped */ \
            break;                                                                                    \
        case CFX_CHAIN_RELU:                                                                          \
            for (size_t i = 0; i < rows * n; i++) dx[i] += x[i] > 0 ? dy[i] : 0;                      \
            break;                                                                                    \
        case CFX_CHAIN_SOFTMAX:                                                                       \
            KERNEL(softmax_backward_##SUFFIX)(rows, n, y, dy, dx);                                    \
            break;                                                                                    \
        }                                                                                             \
    }                                                                                                 \
}

CHAIN_PASSES(f64, double)
CHAIN_PASSES(f32, float)
