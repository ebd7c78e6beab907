// A convolution over one input channel (the Fashion-MNIST CNN's first layer: 1 -> 16 channels, 3x3,
// padding 1, 28x28, batch 1, float32, one thread), forward pass and input gradient: oneDNN's
// primitives (blocked layouts, reorders not timed) against cfx's direct kernels (Sources/CFXKernels/
// conv_impl.h) under each instruction set the processor runs, and the time the layer's
// multiply-adds take at one core's FMA peak (benchmarks/networks/fma_peak.c). Median of 9 runs of
// 2000 calls each, in the thread's CPU time. Built and run by `benchmarks/harness.py conv-few-channels`.
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "cfx_kernels.h"
#include "../json/clock.h"  /* cpu_seconds, cmp_double */

#define CHECK(x) do { if ((x) != dnnl_success) { fprintf(stderr, "oneDNN failed: %s\n", #x); exit(1); } } while (0)
enum { OUT = 16, SIZE = 28, K = 3, PAD = 1, CALLS = 2000, RUNS = 9 };

// Median over RUNS of the CPU seconds per call of `call` (the thread's: time spent waiting for a core
// on a shared machine is not counted).
static double median_seconds(void (*call)(void *), void *context) {
    double runs[RUNS];
    for (int i = 0; i < CALLS; i++) call(context);  // warm-up
    for (int r = 0; r < RUNS; r++) {
        double start = cpu_seconds();
        for (int i = 0; i < CALLS; i++) call(context);
        runs[r] = (cpu_seconds() - start) / CALLS;
    }
    qsort(runs, RUNS, sizeof runs[0], cmp_double);
    return runs[RUNS / 2];
}

typedef struct {
    dnnl_primitive_t primitive, reorder;  // reorder: the output to plain NCHW, as cfx would need it (or NULL)
    dnnl_stream_t stream;
    dnnl_exec_arg_t args[3], reorder_args[2];
} onednn_call;

static void run_onednn(void *context) {
    onednn_call *c = context;
    CHECK(dnnl_primitive_execute(c->primitive, c->stream, 3, c->args));
    if (c->reorder) CHECK(dnnl_primitive_execute(c->reorder, c->stream, 2, c->reorder_args));
    CHECK(dnnl_stream_wait(c->stream));
}

static dnnl_memory_t allocated(const dnnl_memory_desc_t *md, dnnl_engine_t engine) {
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, engine, DNNL_MEMORY_ALLOCATE));
    return m;
}

static double onednn_seconds(int forward) {
    dnnl_engine_t engine;
    onednn_call c;
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&c.stream, engine, dnnl_stream_default_flags));
    dnnl_memory_desc_t x_any, w_any, y_any;
    dnnl_dims_t x_dims = {1, 1, SIZE, SIZE}, w_dims = {OUT, 1, K, K}, y_dims = {1, OUT, SIZE, SIZE};
    CHECK(dnnl_memory_desc_init_by_tag(&x_any, 4, x_dims, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&w_any, 4, w_dims, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&y_any, 4, y_dims, dnnl_f32, dnnl_format_tag_any));
    dnnl_dims_t strides = {1, 1}, pad = {PAD, PAD};
    dnnl_convolution_desc_t fd, bd;
    dnnl_primitive_desc_t fpd, bpd;
    CHECK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &x_any, &w_any,
                                             NULL, &y_any, strides, pad, pad));
    CHECK(dnnl_primitive_desc_create(&fpd, &fd, NULL, engine, NULL));
    CHECK(dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &x_any, &w_any, &y_any, strides, pad, pad));
    CHECK(dnnl_primitive_desc_create(&bpd, &bd, NULL, engine, fpd));
    dnnl_primitive_desc_t pd = forward ? fpd : bpd;
    CHECK(dnnl_primitive_create(&c.primitive, pd));
    dnnl_query_t in = forward ? dnnl_query_src_md : dnnl_query_diff_dst_md, out = forward ? dnnl_query_dst_md : dnnl_query_diff_src_md;
    c.args[0] = (dnnl_exec_arg_t){forward ? DNNL_ARG_SRC : DNNL_ARG_DIFF_DST, allocated(dnnl_primitive_desc_query_md(pd, in, 0), engine)};
    c.args[1] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, allocated(dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), engine)};
    c.args[2] = (dnnl_exec_arg_t){forward ? DNNL_ARG_DST : DNNL_ARG_DIFF_SRC, allocated(dnnl_primitive_desc_query_md(pd, out, 0), engine)};
    const char *impl = NULL;
    CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    c.reorder = NULL;
    double seconds = median_seconds(run_onednn, &c);
    printf("| oneDNN %d.%d.%d %s, `%s` | %.2f µs |\n", dnnl_version()->major, dnnl_version()->minor,
           dnnl_version()->patch, forward ? "forward" : "backward-data", impl, seconds * 1e6);
    if (forward) {  // the forward pass as cfx runs it: its output converted to plain NCHW after each call
        dnnl_memory_desc_t plain;
        dnnl_primitive_desc_t rpd;
        CHECK(dnnl_memory_desc_init_by_tag(&plain, 4, y_dims, dnnl_f32, dnnl_nchw));
        const dnnl_memory_desc_t *blocked = dnnl_primitive_desc_query_md(pd, out, 0);
        if (!dnnl_memory_desc_equal(blocked, &plain)) {
            CHECK(dnnl_reorder_primitive_desc_create(&rpd, blocked, engine, &plain, engine, NULL));
            CHECK(dnnl_primitive_create(&c.reorder, rpd));
            c.reorder_args[0] = (dnnl_exec_arg_t){DNNL_ARG_FROM, c.args[2].memory};
            c.reorder_args[1] = (dnnl_exec_arg_t){DNNL_ARG_TO, allocated(&plain, engine)};
            printf("| oneDNN %d.%d.%d forward and its output reorder to NCHW | %.2f µs |\n", dnnl_version()->major,
                   dnnl_version()->minor, dnnl_version()->patch, median_seconds(run_onednn, &c) * 1e6);
        }
    }
    return seconds;
}

typedef struct {
    cfx_conv_shape shape;
    float *dy, *w, *dx, *scratch;
} cfx_call;

static void run_cfx(void *context) {
    cfx_call *c = context;
    cfx_conv_input_gradient_s1_f32(&c->shape, c->dy, c->w, c->dx, c->scratch);
}

// The forward pass of the same layer (y in dy's place, x in dx's, no bias).
static void run_cfx_forward(void *context) {
    cfx_call *c = context;
    cfx_conv_forward_s1_f32(&c->shape, c->dx, c->w, NULL, c->dy, c->scratch);
}

// With an argument, only oneDNN's row (run again with ONEDNN_MAX_CPU_ISA=AVX2 for its AVX2 kernel).
int main(int argc, char **argv) {
    (void)argv;
    cfx_call c = {{1, 1, SIZE, SIZE, OUT, K, PAD}, NULL, NULL, NULL, NULL};
    c.dy = calloc(OUT * SIZE * SIZE, sizeof(float));
    c.w = calloc(OUT * K * K, sizeof(float));
    c.dx = calloc(SIZE * SIZE, sizeof(float));
    c.scratch = calloc(cfx_conv_s1_scratch(&c.shape), sizeof(float));
    for (int i = 0; i < OUT * SIZE * SIZE; i++) c.dy[i] = (float)((double)rand() / RAND_MAX) - 0.5f;
    for (int i = 0; i < OUT * K * K; i++) c.w[i] = (float)((double)rand() / RAND_MAX) - 0.5f;
    if (argc > 1) return onednn_seconds(0) < 0 || onednn_seconds(1) < 0;
    printf("multiply-adds: %d per pass\n\n| implementation | time per call |\n|---|---:|\n", OUT * K * K * SIZE * SIZE);
    onednn_seconds(0);
    for (int i = 0; cfx_kernels_isa_name(i); i++) {
        const char *set = cfx_kernels_isa_name(i);
        if (!cfx_kernels_use_isa(set)) continue;
        printf("| cfx kernel, input gradient, `%s` | %.2f µs |\n", set, median_seconds(run_cfx, &c) * 1e6);
    }
    onednn_seconds(1);
    for (int i = 0; cfx_kernels_isa_name(i); i++) {
        const char *set = cfx_kernels_isa_name(i);
        if (!cfx_kernels_use_isa(set)) continue;
        printf("| cfx kernel, forward, `%s` | %.2f µs |\n", set, median_seconds(run_cfx_forward, &c) * 1e6);
    }
    return 0;
}
