/*
 * cfx_dnnl.h — float32 2-D convolutions through oneDNN (Debian libdnnl-dev), for cfx's float32
 * networks. oneDNN is optional at run time: libdnnl.so.2 is loaded with dlopen at the first use,
 * and without it (or with CFX_DNNL=off in the environment) cfx_dnnl_available() is 0 and every
 * create returns NULL. One object runs one part of one layer at one batch size, on the calling
 * thread:
 *
 *  - a forward part computes output channels [out_first, out_first + out_c) of the layer from all
 *    its input channels;
 *  - a backward part adds the input gradient of input channels [in_first, in_first + in_c) from
 *    the gradient of all output channels.
 *
 * A layer split into parts by its sizes alone runs them on several threads with results that do
 * not depend on the thread count (each value is computed by one part, the same way). Tensors are
 * the caller's plain NCHW (weights OIHW) of the whole layer; inside, oneDNN picks its fastest
 * (blocked) layouts, and the weights are reordered into them by cfx_dnnl_conv_set_weights.
 *
 * Every function returns 0 on success and non-zero on failure (the caller then uses its own
 * im2col + GEMM path); nothing here prints or aborts. One object is used by one thread at a time.
 */
#ifndef CFX_DNNL_H
#define CFX_DNNL_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cfx_dnnl_conv cfx_dnnl_conv;

/* The shape of a layer: `batch` images [in_channels, in_h, in_w] → [out_channels, out_h, out_w],
 * square kernels, stride and symmetric zero padding. */
typedef struct {
    int batch, in_channels, in_h, in_w, out_channels, out_h, out_w, kernel, stride, padding, has_bias;
} cfx_dnnl_layer;

/* A forward part (out_first, out_count: its output channels) or a backward part (in_first,
 * in_count: its input channels); NULL when oneDNN cannot make it. */
cfx_dnnl_conv *cfx_dnnl_conv_create_forward(const cfx_dnnl_layer *layer, int out_first, int out_count);
cfx_dnnl_conv *cfx_dnnl_conv_create_backward(const cfx_dnnl_layer *layer, int in_first, int in_count);

/* Copies (reorders) the part's weights from the whole layer's, [out, in, k, k] floats. */
int cfx_dnnl_conv_set_weights(cfx_dnnl_conv *conv, const float *weights);

/* A forward part: its channels of dst = conv(src) + bias (bias: the whole layer's, or NULL
 * without one). src and dst are the whole layer's tensors. */
int cfx_dnnl_conv_forward(cfx_dnnl_conv *conv, const float *src, const float *bias, float *dst);

/* A backward part: computes its channels of convᵀ(diff_dst) (diff_dst: the whole layer's) into
 * a buffer of its own. Touches nothing of the caller's, so a failure leaves the caller's
 * gradient as it was. */
int cfx_dnnl_conv_backward_data(cfx_dnnl_conv *conv, const float *diff_dst);

/* A backward part: adds what cfx_dnnl_conv_backward_data computed to its channels of diff_src
 * (the whole layer's input gradient; added, so that branches of a network accumulate). */
void cfx_dnnl_conv_add_input_gradient(const cfx_dnnl_conv *conv, float *diff_src);

void cfx_dnnl_conv_free(cfx_dnnl_conv *conv);

/* 1 when oneDNN is loaded and its CPU engine made (loads it at the first call; thread-safe). */
int cfx_dnnl_available(void);

/* The oneDNN library's version (e.g. 2, 6, 3); 0, 0, 0 without oneDNN. */
void cfx_dnnl_version(int *major, int *minor, int *patch);

/* The instruction set oneDNN's kernels use on this processor ("avx512_core", "avx2", ...);
 * NULL without oneDNN. Static storage. */
const char *cfx_dnnl_isa(void);

#ifdef __cplusplus
}
#endif

#endif
