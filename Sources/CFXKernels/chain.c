/* A small MLP's whole pass in one call (see cfx_kernels.h).
 *
 * Each layer computes exactly what cfx's Swift layers compute, operation by operation: dense
 * layers and softmaxes through the same kernels, relus as max(x, 0). Contraction into fused
 * multiply-adds is off here, as Swift never contracts, so the values are the same bits as the
 * layer-by-layer pass (SmallChainTests). */
#include "cfx_kernels.h"
#include "clones.h"
#include <string.h>

#pragma clang fp contract(off)

#define CHAIN_PASSES(SUFFIX, T)                                                                  \
CLONES void cloned_chain_forward_##SUFFIX(const cfx_chain_layer *layers, size_t count, size_t rows,             \
                                const T *parameters, T *const *values) {                              \
    for (size_t l = 0; l < count; l++) {                                                              \
        const cfx_chain_layer *layer = &layers[l];                                                    \
        const T *x = values[l];                                                                       \
        T *y = values[l + 1];                                                                         \
        size_t n = layer->inputs;                                                                     \
        switch (layer->kind) {                                                                        \
        case CFX_CHAIN_DENSE: {                                                                       \
            const T *w = parameters + layer->parameter_offset, *bias = w + layer->outputs * n;        \
            for (size_t r = 0; r < rows; r++) memcpy(y + r * layer->outputs, bias, layer->outputs * sizeof(T)); \
            cfx_dense_forward_##SUFFIX(rows, layer->outputs, n, x, w, y);                             \
            break;                                                                                    \
        }                                                                                             \
        case CFX_CHAIN_RELU:                                                                          \
            for (size_t i = 0; i < rows * n; i++) y[i] = 0 >= x[i] ? 0 : x[i];                        \
            break;                                                                                    \
        case CFX_CHAIN_SOFTMAX:                                                                       \
            cfx_softmax_##SUFFIX(rows, n, x, y);                                                      \
            break;                                                                                    \
        }                                                                                             \
    }                                                                                                 \
}                                                                                                     \
                                                                                                      \
CLONES void cloned_chain_backward_##SUFFIX(const cfx_chain_layer *layers, size_t count, size_t rows,            \
                                 const T *parameters, T *const *values, T *const *gradients) {        \
    for (size_t l = count; l-- > 0;) {                                                                \
        const cfx_chain_layer *layer = &layers[l];                                                    \
        const T *x = values[l], *y = values[l + 1], *dy = gradients[l + 1];                           \
        T *dx = gradients[l];                                                                         \
        size_t n = layer->inputs;                                                                     \
        switch (layer->kind) {                                                                        \
        case CFX_CHAIN_DENSE:                                                                         \
            cfx_dense_backward_##SUFFIX(rows, layer->outputs, n, dy, parameters + layer->parameter_offset, dx); \
            break;                                                                                    \
        case CFX_CHAIN_RELU:                                                                          \
            for (size_t i = 0; i < rows * n; i++) dx[i] += x[i] > 0 ? dy[i] : 0;                      \
            break;                                                                                    \
        case CFX_CHAIN_SOFTMAX:                                                                       \
            cfx_softmax_backward_##SUFFIX(rows, n, y, dy, dx);                                        \
            break;                                                                                    \
        }                                                                                             \
    }                                                                                                 \
}

CHAIN_PASSES(f64, double)
CHAIN_PASSES(f32, float)

void cfx_chain_forward_f64(const cfx_chain_layer *layers, size_t count, size_t rows, const double *parameters, double *const *values) {
    cloned_chain_forward_f64(layers, count, rows, parameters, values);
}
void cfx_chain_forward_f32(const cfx_chain_layer *layers, size_t count, size_t rows, const float *parameters, float *const *values) {
    cloned_chain_forward_f32(layers, count, rows, parameters, values);
}
void cfx_chain_backward_f64(const cfx_chain_layer *layers, size_t count, size_t rows, const double *parameters,
                            double *const *values, double *const *gradients) {
    cloned_chain_backward_f64(layers, count, rows, parameters, values, gradients);
}
void cfx_chain_backward_f32(const cfx_chain_layer *layers, size_t count, size_t rows, const float *parameters,
                            float *const *values, float *const *gradients) {
    cloned_chain_backward_f32(layers, count, rows, parameters, values, gradients);
}
