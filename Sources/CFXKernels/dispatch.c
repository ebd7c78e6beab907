/* The exported kernels, each a call through the table of the instruction set chosen at the first
 * call (see cfx_kernels.h and isa.h). */
#include "isa.h"
#include <stdlib.h>
#include <string.h>

/* Every set this build has, widest first. */
static const cfx_kernel_table *const built[] = {
#if defined(__x86_64__)
    &cfx_kernels_avx512, &cfx_kernels_avx2,
#endif
    &cfx_kernels_baseline,
};
enum { BUILT = sizeof(built) / sizeof(built[0]) };

static int runs(const cfx_kernel_table *set) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (set == &cfx_kernels_avx512) return __builtin_cpu_supports("x86-64-v4");
    if (set == &cfx_kernels_avx2) return __builtin_cpu_supports("x86-64-v3");
#endif
    return set == &cfx_kernels_baseline;
}

static const cfx_kernel_table *named(const char *name) {
    for (int i = 0; name && i < BUILT; i++)
        if (strcmp(built[i]->name, name) == 0) return built[i];
    return NULL;
}

/* CFX_ISA's set when the processor runs it, else the widest that it runs. */
static const cfx_kernel_table *preferred(void) {
    const cfx_kernel_table *wanted = named(getenv("CFX_ISA"));
    if (wanted && runs(wanted)) return wanted;
    for (int i = 0; i < BUILT; i++)
        if (runs(built[i])) return built[i];
    return &cfx_kernels_baseline;
}

/* Threads that make the first calls at once each choose the same set; the first to store it wins,
 * so that a choice made meanwhile by cfx_kernels_use_isa stands. */
static const cfx_kernel_table *chosen;

static inline const cfx_kernel_table *kernels(void) {
    const cfx_kernel_table *set = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (__builtin_expect(set != NULL, 1)) return set;
    const cfx_kernel_table *none = NULL, *mine = preferred();
    return __atomic_compare_exchange_n(&chosen, &none, mine, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ? mine : none;
}

const char *cfx_kernels_isa(void) { return kernels()->name; }

int cfx_kernels_isa_supported(const char *name) {
    const cfx_kernel_table *set = named(name);
    return set != NULL && runs(set);
}

int cfx_kernels_use_isa(const char *name) {
    if (!cfx_kernels_isa_supported(name)) return 0;
    __atomic_store_n(&chosen, named(name), __ATOMIC_RELEASE);
    return 1;
}

int cfx_kernels_wide(void) { return strcmp(kernels()->name, "avx512") == 0; }

const char *cfx_kernels_isa_name(int index) { return index >= 0 && index < BUILT ? built[index]->name : NULL; }

void cfx_dense_forward_f64(size_t rows, size_t outputs, size_t inputs, const double *x, const double *w, double *y) {
    kernels()->dense_forward_f64(rows, outputs, inputs, x, w, y);
}
void cfx_dense_forward_f32(size_t rows, size_t outputs, size_t inputs, const float *x, const float *w, float *y) {
    kernels()->dense_forward_f32(rows, outputs, inputs, x, w, y);
}
void cfx_dense_backward_f64(size_t rows, size_t outputs, size_t inputs, const double *dy, const double *w, double *dx,
                            int skip_zeros) {
    kernels()->dense_backward_f64(rows, outputs, inputs, dy, w, dx, skip_zeros);
}
void cfx_dense_backward_f32(size_t rows, size_t outputs, size_t inputs, const float *dy, const float *w, float *dx,
                            int skip_zeros) {
    kernels()->dense_backward_f32(rows, outputs, inputs, dy, w, dx, skip_zeros);
}
void cfx_max_pool2_f64(size_t planes, size_t height, size_t width, const double *x, double *y, double *argmax) {
    kernels()->max_pool2_f64(planes, height, width, x, y, argmax);
}
void cfx_max_pool2_f32(size_t planes, size_t height, size_t width, const float *x, float *y, float *argmax) {
    kernels()->max_pool2_f32(planes, height, width, x, y, argmax);
}
void cfx_chain_forward_f64(const cfx_chain_layer *layers, size_t count, size_t rows, const double *parameters,
                           double *const *values) {
    kernels()->chain_forward_f64(layers, count, rows, parameters, values);
}
void cfx_chain_forward_f32(const cfx_chain_layer *layers, size_t count, size_t rows, const float *parameters,
                           float *const *values) {
    kernels()->chain_forward_f32(layers, count, rows, parameters, values);
}
void cfx_chain_backward_f64(const cfx_chain_layer *layers, size_t count, size_t rows, const double *parameters,
                            double *const *values, double *const *gradients) {
    kernels()->chain_backward_f64(layers, count, rows, parameters, values, gradients);
}
void cfx_chain_backward_f32(const cfx_chain_layer *layers, size_t count, size_t rows, const float *parameters,
                            float *const *values, float *const *gradients) {
    kernels()->chain_backward_f32(layers, count, rows, parameters, values, gradients);
}
size_t cfx_conv_s1_scratch(const cfx_conv_shape *s) {
    size_t k = s->kernel, p = s->padding;
    size_t forward = s->channels * (s->height + 2 * p) * (s->width + 2 * p);
    size_t backward = s->out_channels * (s->height + k - 1) * (s->width + k - 1) + s->channels * s->height * s->width;
    return forward > backward ? forward : backward;
}
void cfx_conv_forward_s1_f32(const cfx_conv_shape *shape, const float *x, const float *w, const float *bias, float *y,
                             float *scratch) {
    kernels()->conv_forward_s1_f32(shape, x, w, bias, y, scratch);
}
void cfx_conv_input_gradient_s1_f32(const cfx_conv_shape *shape, const float *dy, const float *w, float *dx, float *scratch) {
    kernels()->conv_input_gradient_s1_f32(shape, dy, w, dx, scratch);
}
#define CFX_TYPED_KERNELS(SUFFIX, T)                                                                         \
    void cfx_softmax_##SUFFIX(size_t rows, size_t width, const T *x, T *y) { kernels()->softmax_##SUFFIX(rows, width, x, y); } \
    void cfx_softmax_backward_##SUFFIX(size_t rows, size_t width, const T *y, const T *dy, T *dx) {          \
        kernels()->softmax_backward_##SUFFIX(rows, width, y, dy, dx);                                        \
    }                                                                                                        \
    void cfx_relu_forward_##SUFFIX(size_t count, const T *x, T *y) { kernels()->relu_forward_##SUFFIX(count, x, y); } \
    void cfx_relu_backward_##SUFFIX(size_t count, const T *x, const T *dy, T *dx, int accumulate) {          \
        kernels()->relu_backward_##SUFFIX(count, x, dy, dx, accumulate);                                     \
    }                                                                                                        \
    void cfx_leaky_relu_forward_##SUFFIX(size_t count, T slope, const T *x, T *y) {                          \
        kernels()->leaky_relu_forward_##SUFFIX(count, slope, x, y);                                          \
    }                                                                                                        \
    void cfx_leaky_relu_backward_##SUFFIX(size_t count, T slope, const T *x, const T *dy, T *dx, int accumulate) { \
        kernels()->leaky_relu_backward_##SUFFIX(count, slope, x, dy, dx, accumulate);                        \
    }                                                                                                        \
    void cfx_max_pool2_backward_##SUFFIX(size_t planes, size_t height, size_t width, const T *argmax, const T *dy, T *dx, \
                                         int accumulate, const T *relu) {                                    \
        kernels()->max_pool2_backward_##SUFFIX(planes, height, width, argmax, dy, dx, accumulate, relu);     \
    }
CFX_TYPED_KERNELS(f64, double)
CFX_TYPED_KERNELS(f32, float)
void cfx_fista_update(size_t n, double *x, double *y, double *g, const double *gnum, const double *original,
                      const double *lower, const double *upper, const cfx_fista_step *step) {
    kernels()->fista_update(n, x, y, g, gnum, original, lower, upper, step);
}
void cfx_adam_step(size_t n, double beta1, double beta2, double epsilon, double step_size, double *x, double *m, double *v,
                   const double *g) {
    kernels()->adam_step(n, beta1, beta2, epsilon, step_size, x, m, v, g);
}
void cfx_adam_l1_step(size_t n, const cfx_adam_l1_params *step, double *x, double *m, double *v, const double *g,
                      const double *original, const double *lower, const double *upper) {
    kernels()->adam_l1_step(n, step, x, m, v, g, original, lower, upper);
}
void cfx_proto_gradient(size_t n, const double *y, const double *original, const double *model_gradient,
                        const double *prototype, double two_theta, double *grad) {
    kernels()->proto_gradient(n, y, original, model_gradient, prototype, two_theta, grad);
}
double cfx_elastic_net(size_t n, const double *y, const double *original, double beta) {
    return kernels()->elastic_net(n, y, original, beta);
}
size_t cfx_count_nonfinite(size_t n, const double *x) {
    return kernels()->count_nonfinite(n, x);
}
void cfx_narrow_f64(size_t n, const double *x, float *y) {
    kernels()->narrow_f64(n, x, y);
}
void cfx_widen_f32(size_t n, const float *x, double *y) {
    kernels()->widen_f32(n, x, y);
}
