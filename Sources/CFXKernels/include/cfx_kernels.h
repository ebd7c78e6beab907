/* Kernels where a library call's fixed cost or branchy scalar code would dominate: small
 * dense-layer products for one or a few rows (a small MLP explained one instance at a time), a
 * small MLP's whole pass, softmax, relu and leaky relu, 2 x 2 max pooling, and direct convolutions of
 * stride 1 (forward and input gradient) for layers of few channels or small ones.
 *
 * Each is compiled for three
 * instruction sets (isa.h): avx512 (x86-64-v4), avx2 (x86-64-v3) and baseline (any x86-64, or the
 * build's target on other processors). The first call chooses one for
 * the process: the set that the environment variable CFX_ISA names, when the processor runs it,
 * else the widest set it runs. Within one set each value is computed by the same arithmetic
 * whatever the number of rows passed and whichever block it falls in, so a row's result does not
 * depend on the other rows of the call; avx512 and avx2 give the same bits, baseline (no fused
 * multiply-adds) other last bits, but softmax the same bits under every set (its own exp,
 * exp_impl.h, has no multiply-add to fuse). */
#ifndef CFX_KERNELS_H
#define CFX_KERNELS_H

#include <stddef.h>

/* Internal to libcfx.so: none of these is exported (its version script exports cfx_* for the API). */
#pragma GCC visibility push(hidden)

/* The name of the set in use ("avx512", "avx2" or "baseline"; chosen on the first call). */
const char *cfx_kernels_isa(void);
/* Whether the set in use is avx512 (32 vector registers of 64 bytes), where the direct forward
 * convolution beats oneDNN's on layers of few input channels; with avx2 oneDNN's is quicker. */
int cfx_kernels_wide(void);
/* The name of the index-th set of this build, widest first, or NULL past the last. */
const char *cfx_kernels_isa_name(int index);
/* Whether the processor runs the named set. */
int cfx_kernels_isa_supported(const char *name);
/* Switches the process to the named set when the processor runs it and returns 1; else returns 0
 * and changes nothing. For tests and benchmarks, while no kernel runs on another thread. */
int cfx_kernels_use_isa(const char *name);

/* y[r][j] += sum_p x[r][p] * w[j][p]   (forward: w is outputs x inputs, row-major) */
void cfx_dense_forward_f64(size_t rows, size_t outputs, size_t inputs, const double *x, const double *w, double *y);
void cfx_dense_forward_f32(size_t rows, size_t outputs, size_t inputs, const float *x, const float *w, float *y);

/* dx[r][i] += sum_o dy[r][o] * w[o][i]   (input gradient). With skip_zeros, outputs whose dy is zero
 * (a relu's inactive units) are skipped, weight rows and all: the caller promises that w is finite,
 * and then every bit is as without it. */
void cfx_dense_backward_f64(size_t rows, size_t outputs, size_t inputs, const double *dy, const double *w, double *dx,
                            int skip_zeros);
void cfx_dense_backward_f32(size_t rows, size_t outputs, size_t inputs, const float *dy, const float *w, float *dx,
                            int skip_zeros);

/* 2 x 2 max pooling with stride 2 over `planes` planes of height x width (odd edges dropped):
 * y gets each window's first largest value in row-major order (a NaN wins and ends its window
 * row), argmax its position in the plane. */
void cfx_max_pool2_f64(size_t planes, size_t height, size_t width, const double *x, double *y, double *argmax);
void cfx_max_pool2_f32(size_t planes, size_t height, size_t width, const float *x, float *y, float *argmax);

/* The backward pass of cfx_max_pool2: dx[argmax] += dy for each window (dx's other values keep
 * their bits). A backward pass with accumulate 0 writes dx as if it had been cleared (+0) first.
 * With relu non-NULL (the input of a relu whose output the pooling read, as many values as dx;
 * accumulate is then taken as 0), relu's backward pass follows in the same pass: dx is what
 * writing the pooling's gradient and then cfx_relu_backward with accumulate 0 give, to the bit. */
void cfx_max_pool2_backward_f64(size_t planes, size_t height, size_t width, const double *argmax, const double *dy, double *dx,
                                int accumulate, const double *relu);
void cfx_max_pool2_backward_f32(size_t planes, size_t height, size_t width, const float *argmax, const float *dy, float *dx,
                                int accumulate, const float *relu);

/* relu y = (0 >= x ? 0 : x) and its backward pass dx += (x > 0 ? dy : 0); leaky relu
 * y = (x > 0 ? x : slope * x), dx += (x > 0 ? dy : slope * dy): each value as the scalar expression
 * gives it, in every set; with accumulate 0, dx = 0 + (…), the bits of a cleared dx. */
void cfx_relu_forward_f64(size_t count, const double *x, double *y);
void cfx_relu_forward_f32(size_t count, const float *x, float *y);
void cfx_relu_backward_f64(size_t count, const double *x, const double *dy, double *dx, int accumulate);
void cfx_relu_backward_f32(size_t count, const float *x, const float *dy, float *dx, int accumulate);
void cfx_leaky_relu_forward_f64(size_t count, double slope, const double *x, double *y);
void cfx_leaky_relu_forward_f32(size_t count, float slope, const float *x, float *y);
void cfx_leaky_relu_backward_f64(size_t count, double slope, const double *x, const double *dy, double *dx, int accumulate);
void cfx_leaky_relu_backward_f32(size_t count, float slope, const float *x, const float *dy, float *dx, int accumulate);

/* y = softmax of each of `rows` rows of `width` values; its backward pass dx += y * (dy - <dy, y>). */
void cfx_softmax_f64(size_t rows, size_t width, const double *x, double *y);
void cfx_softmax_f32(size_t rows, size_t width, const float *x, float *y);
void cfx_softmax_backward_f64(size_t rows, size_t width, const double *y, const double *dy, double *dx);
void cfx_softmax_backward_f32(size_t rows, size_t width, const float *y, const float *dy, float *dx);

/* Direct stride-1 convolutions of weight [out_channels][channels][kernel][kernel] (zero padding
 * `padding`) over examples of [channels][height][width], whose outputs are
 * [out_channels][height + 2 padding - kernel + 1][width + 2 padding - kernel + 1]. Vectorised over a
 * row's positions rather than over channels, for layers of few channels or small ones, where
 * library kernels leave lanes idle or cost more in layout conversions and calls than in arithmetic.
 * Each value adds its terms in the order (channel, ky, kx), whatever the examples around it.
 * `scratch` holds cfx_conv_s1_scratch(shape) floats (for any number of examples, either pass). */
typedef struct {
    size_t examples, channels, height, width, out_channels, kernel, padding;
} cfx_conv_shape;
size_t cfx_conv_s1_scratch(const cfx_conv_shape *shape);
/* y[n][o][y][x] = bias[o] + sum over c, ky, kx of w[o][c][ky][kx] * x[n][c][y + ky - padding][x + kx - padding]
 * (x read as zero outside; no bias: 0 + ...). */
void cfx_conv_forward_s1_f32(const cfx_conv_shape *shape, const float *x, const float *w, const float *bias, float *y,
                             float *scratch);
/* dx[n][c][y][x] += sum over o, ky, kx of w[o][c][ky][kx] * dy[n][o][y + padding - ky][x + padding - kx]
 * (dy read as zero outside): the input gradient. */
void cfx_conv_input_gradient_s1_f32(const cfx_conv_shape *shape, const float *dy, const float *w, float *dx, float *scratch);

/* A small MLP (dense layers, relus, softmaxes; every dense product on the small-product path, as
 * SmallProducts.denseKernel decides) run in one call, with the values and gradients the layer-by-layer pass gives. Layer l
 * reads buffer l and writes buffer l + 1; a dense layer's weight (outputs x inputs) and then its
 * bias start at parameter_offset. A dense layer whose weight is all finite may say so (finite 1):
 * its input gradient then skips the outputs whose gradient is zero (the inactive units behind a
 * relu), which changes no bit (dense_impl.h's BACKWARD_BLOCK). */
enum { CFX_CHAIN_DENSE = 0, CFX_CHAIN_RELU = 1, CFX_CHAIN_SOFTMAX = 2 };
/* A double dense layer whose weight is finite, whose outputs are a multiple of 8 and whose inputs
 * are at most CFX_ORDERED_MAX_INPUTS may carry the weight transposed (`transposed`: inputs rows of
 * outputs values; else NULL): its forward pass then adds each output's terms in input order,
 * leaving out the inputs that are zero in every row (ordered_impl.h), without the lane tree of the
 * layer-by-layer pass's kernel, whose last bits it does not promise. */
enum { CFX_ORDERED_MAX_INPUTS = 1024 };
typedef struct {
    int kind;
    int finite;
    size_t inputs, outputs;
    size_t parameter_offset;
    const double *transposed;
} cfx_chain_layer;

/* values[0] holds the input; every later buffer is written. */
void cfx_chain_forward_f64(const cfx_chain_layer *layers, size_t count, size_t rows, const double *parameters, double *const *values);
void cfx_chain_forward_f32(const cfx_chain_layer *layers, size_t count, size_t rows, const float *parameters, float *const *values);
/* gradients[count] holds the seeded cotangent; gradients[0 .. count) are added to (cleared first by
 * the caller), as the layer-by-layer backward pass does. */
void cfx_chain_backward_f64(const cfx_chain_layer *layers, size_t count, size_t rows, const double *parameters,
                            double *const *values, double *const *gradients);
void cfx_chain_backward_f32(const cfx_chain_layer *layers, size_t count, size_t rows, const float *parameters,
                            float *const *values, float *const *gradients);

/* CFProto's FISTA update of n features that no constraint rule touches (CFProto+Step.swift), in place:
 * g[j] clipped to [clip_min, clip_max]; x[j] := the shrunk step from y[j] along g[j] + gnum[j]
 * (toward original[j], inside [lower[j], upper[j]]); y[j] := x[j] + momentum (x[j] - old x[j]),
 * inside the range. The arrays do not overlap. The values are those of the Swift update. */
typedef struct {
    double learning_rate, momentum, beta, clip_min, clip_max;
} cfx_fista_step;
void cfx_fista_update(size_t n, double *x, double *y, double *g, const double *gnum, const double *original,
                      const double *lower, const double *upper, const cfx_fista_step *step);

/* Adam's update of n values (Optimisers/Adam.swift), in place: m := beta1 m + (1 - beta1) g,
 * v := beta2 v + (1 - beta2) g g, x := x - step_size m / (sqrt(v) + epsilon). The arrays do not
 * overlap. The values are those of the Swift loop. */
void cfx_adam_step(size_t n, double beta1, double beta2, double epsilon, double step_size, double *x, double *m, double *v,
                   const double *g);

/* CFProto's loss gradient at y without autoencoder, encoder or categories (CFProto+Loss.swift): grad[j] :=
 * 2 (y[j] - original[j]) [+ model_gradient[j]] [+ two_theta (y[j] - prototype[j])], the bracketed terms
 * when their pointer is not NULL. And the elastic net ||y - original||_2^2 + beta ||y - original||_1 as
 * CFProtoSearch.elasticNet sums it. The values are those of the Swift code. */
void cfx_proto_gradient(size_t n, const double *y, const double *original, const double *model_gradient,
                        const double *prototype, double two_theta, double *grad);
double cfx_elastic_net(size_t n, const double *y, const double *original, double beta);

/* The number of NaNs and infinities among n values (a search checks its every predict and gradient). */
size_t cfx_count_nonfinite(size_t n, const double *x);

/* y[j] := x[j] rounded to float (to nearest, as Swift's Float(_:)); y[j] := x[j] widened to double. */
void cfx_narrow_f64(size_t n, const double *x, float *y);
void cfx_widen_f32(size_t n, const float *x, double *y);

/* Wachter's step (Methods/Wachter.swift) after the model's gradient g, in place: g[j] + lambda
 * sign(x[j] - original[j]) is Adam's gradient (m, v and x updated as cfx_adam_step does), then x[j]
 * is clipped into [lower[j], upper[j]]. The arrays do not overlap. The values are those of the
 * Swift passes. */
typedef struct {
    double beta1, beta2, epsilon, step_size, lambda;
} cfx_adam_l1_params;
void cfx_adam_l1_step(size_t n, const cfx_adam_l1_params *step, double *x, double *m, double *v, const double *g,
                      const double *original, const double *lower, const double *upper);

#pragma GCC visibility pop

#endif
