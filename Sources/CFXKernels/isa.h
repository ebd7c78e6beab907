/* One instruction set's kernels, and how they are compiled.
 *
 * The kernels are written once (softmax_impl.h, dense_impl.h, pool_impl.h, chain_impl.h, conv_impl.h,
 * elementwise_impl.h, fista_impl.h, adam_impl.h, convert_impl.h) and compiled
 * once per instruction set by isa_avx512.c, isa_avx2.c and isa_baseline.c, each of which defines
 *   ISA      the suffix of its functions and table (avx512, avx2, baseline),
 *   ISA_FMA  1 when its multiply-adds are fused (the AVX2 and AVX-512 sets have FMA), 0 when not,
 *   ISA_WIDE 1 when sixteen 64-byte float sums fit in registers (AVX-512's 32 registers),
 *   ISA_GROUP the outputs a dense forward kernel computes side by side, and the most 64-byte vectors
 *            of inputs an input gradient takes at once: 8 where eight 64-byte sums and their
 *            operands fit in registers (AVX-512) or where spilling them measured faster than
 *            smaller groups (baseline SSE2), 4 on AVX2 (16 registers of 32 bytes: eight sums
 *            spilled a register on every multiply-add),
 *   ISA_PAIRS how two rows share their weight loads: 1 as two groups side by side (AVX-512), 3 as
 *            three outputs of each row side by side (AVX2: faster than two), 0 not at all (baseline:
 *            slower paired),
 * and includes kernels_impl.h between a `#pragma clang attribute push` of its target and a pop.
 * dispatch.c picks one table when a kernel is first called (see cfx_kernels.h): no IFUNC, so
 * nothing of cfx's runs while the loader relocates it, before a sanitizer's runtime is set up.
 *
 * Every multiply-add is written MADD(a, b, c): fused in every ISA_FMA set, a rounded product then
 * a rounded sum otherwise, at any optimisation level (contraction is off: a compiler left free to
 * fuse fused some products and not others in unoptimised builds). So within one instruction set a
 * value's arithmetic is fixed by the source alone. */
#ifndef CFX_ISA_H
#define CFX_ISA_H

#include "cfx_kernels.h"

typedef struct {
    const char *name;
    void (*dense_forward_f64)(size_t, size_t, size_t, const double *, const double *, double *);
    void (*dense_forward_f32)(size_t, size_t, size_t, const float *, const float *, float *);
    void (*dense_backward_f64)(size_t, size_t, size_t, const double *, const double *, double *, int);
    void (*dense_backward_f32)(size_t, size_t, size_t, const float *, const float *, float *, int);
    void (*max_pool2_f64)(size_t, size_t, size_t, const double *, double *, double *);
    void (*max_pool2_f32)(size_t, size_t, size_t, const float *, float *, float *);
    void (*softmax_f64)(size_t, size_t, const double *, double *);
    void (*softmax_f32)(size_t, size_t, const float *, float *);
    void (*softmax_backward_f64)(size_t, size_t, const double *, const double *, double *);
    void (*softmax_backward_f32)(size_t, size_t, const float *, const float *, float *);
    void (*chain_forward_f64)(const cfx_chain_layer *, size_t, size_t, const double *, double *const *);
    void (*chain_forward_f32)(const cfx_chain_layer *, size_t, size_t, const float *, float *const *);
    void (*chain_backward_f64)(const cfx_chain_layer *, size_t, size_t, const double *, double *const *, double *const *);
    void (*chain_backward_f32)(const cfx_chain_layer *, size_t, size_t, const float *, float *const *, float *const *);
    void (*conv_forward_s1_f32)(const cfx_conv_shape *, const float *, const float *, const float *, float *, float *);
    void (*conv_input_gradient_s1_f32)(const cfx_conv_shape *, const float *, const float *, float *, float *);
    void (*relu_forward_f64)(size_t, const double *, double *);
    void (*relu_forward_f32)(size_t, const float *, float *);
    void (*relu_backward_f64)(size_t, const double *, const double *, double *, int);
    void (*relu_backward_f32)(size_t, const float *, const float *, float *, int);
    void (*leaky_relu_forward_f64)(size_t, double, const double *, double *);
    void (*leaky_relu_forward_f32)(size_t, float, const float *, float *);
    void (*leaky_relu_backward_f64)(size_t, double, const double *, const double *, double *, int);
    void (*leaky_relu_backward_f32)(size_t, float, const float *, const float *, float *, int);
    void (*max_pool2_backward_f64)(size_t, size_t, size_t, const double *, const double *, double *, int, const double *);
    void (*max_pool2_backward_f32)(size_t, size_t, size_t, const float *, const float *, float *, int, const float *);
    void (*fista_update)(size_t, double *, double *, double *, const double *, const double *, const double *, const double *,
                         const cfx_fista_step *);
    void (*adam_step)(size_t, double, double, double, double, double *, double *, double *, const double *);
    void (*adam_l1_step)(size_t, const cfx_adam_l1_params *, double *, double *, double *, const double *, const double *,
                         const double *, const double *);
    void (*proto_gradient)(size_t, const double *, const double *, const double *, const double *, double, double *);
    double (*elastic_net)(size_t, const double *, const double *, double);
    size_t (*count_nonfinite)(size_t, const double *);
    void (*narrow_f64)(size_t, const double *, float *);
    void (*widen_f32)(size_t, const float *, double *);
} cfx_kernel_table;

#pragma GCC visibility push(hidden)
#if defined(__x86_64__)
extern const cfx_kernel_table cfx_kernels_avx512, cfx_kernels_avx2;
#endif
extern const cfx_kernel_table cfx_kernels_baseline;
#pragma GCC visibility pop

/* KERNEL(dense_forward_f64) is dense_forward_f64_avx2 inside isa_avx2.c. */
#define CFX_PASTE_(a, b) a##_##b
#define CFX_PASTE(a, b) CFX_PASTE_(a, b)
#define KERNEL(name) CFX_PASTE(name, ISA)

#endif
