/*
 * conv.c — see include/cfx_dnnl.h. oneDNN's C API (2.x), loaded at run time (dnnl_api.h): per
 * part, one forward or one backward-data primitive, its weights reordered once per set_weights,
 * reorders between the caller's plain (strided) tensors and the primitive's layouts around each
 * call.
 */
#include "cfx_dnnl.h"
#include "dnnl_api.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* oneDNN's functions (NULL without oneDNN) and its CPU engine, made at the first create. */
static const cfx_dnnl_api *D;
static dnnl_engine_t engine;
static int engine_ok;
static pthread_once_t engine_once = PTHREAD_ONCE_INIT;

static void make_engine(void) {
    D = cfx_dnnl_api_get();
    engine_ok = D && D->dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success;
}

struct cfx_dnnl_conv {
    int backward;
    size_t weights_offset;   /* the part's first weight in the layer's OIHW weights */
    size_t tensor_offset;    /* the part's first value in the layer's dst (forward) or diff_src (backward) */
    size_t bias_offset;      /* forward: the part's first output channel */
    dnnl_stream_t stream;
    dnnl_primitive_t primitive;
    /* Reorders between the caller's plain tensors and the primitive's layouts (NULL: the same). */
    dnnl_primitive_t to_input, from_output, to_weights;
    /* The caller's tensors (handles set per call), the primitive's own, the weights. */
    dnnl_memory_t input_plain, output_plain, bias, weights_plain;
    dnnl_memory_t input, output, weights;
    /* Backward: the part's input gradient, plain and contiguous, before it is added. */
    dnnl_memory_t sum;
    int sum_n, sum_c, sum_hw, caller_c;
};

static int desc(dnnl_memory_desc_t *md, int n, int c, int h, int w, dnnl_format_tag_t tag) {
    dnnl_dims_t dims = {n, c, h, w};
    return D->dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, tag) == dnnl_success;
}

/* Plain NCHW (or OIHW) dims n, c, h, w inside a tensor of `total_c` channels. */
static int strided(dnnl_memory_desc_t *md, int n, int c, int h, int w, int total_c) {
    dnnl_dims_t dims = {n, c, h, w}, strides = {(dnnl_dim_t)total_c * h * w, (dnnl_dim_t)h * w, w, 1};
    return D->dnnl_memory_desc_init_by_strides(md, 4, dims, dnnl_f32, strides) == dnnl_success;
}

static dnnl_memory_t memory(const dnnl_memory_desc_t *md, void *handle) {
    dnnl_memory_t m = NULL;
    return D->dnnl_memory_create(&m, md, engine, handle) == dnnl_success ? m : NULL;
}

/* The reorder from `from` to `to`: NULL when the layouts are equal (*ok untouched) or on failure (*ok = 0). */
static dnnl_primitive_t reorder(const dnnl_memory_desc_t *from, const dnnl_memory_desc_t *to, int *ok) {
    if (D->dnnl_memory_desc_equal(from, to)) return NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    if (D->dnnl_reorder_primitive_desc_create(&pd, from, engine, to, engine, NULL) != dnnl_success
        || D->dnnl_primitive_create(&p, pd) != dnnl_success) *ok = 0;
    if (pd) D->dnnl_primitive_desc_destroy(pd);
    return p;
}

static cfx_dnnl_conv *create(const cfx_dnnl_layer *l, int backward, int first, int count) {
    pthread_once(&engine_once, make_engine);
    if (!engine_ok || count <= 0) return NULL;
    if (backward ? first + count > l->in_channels : first + count > l->out_channels) return NULL;
    cfx_dnnl_conv *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    D->omp_set_num_threads(1);
    c->backward = backward;
    int ic = backward ? count : l->in_channels, oc = backward ? l->out_channels : count, k = l->kernel;
    dnnl_memory_desc_t src_any, dst_any, weights_any, src_plain, dst_plain, weights_plain, bias_md, sum_md;
    int ok = desc(&src_any, l->batch, ic, l->in_h, l->in_w, dnnl_format_tag_any)
          && desc(&dst_any, l->batch, oc, l->out_h, l->out_w, dnnl_format_tag_any)
          && desc(&weights_any, oc, ic, k, k, dnnl_format_tag_any)
          && strided(&src_plain, l->batch, ic, l->in_h, l->in_w, l->in_channels)
          && strided(&dst_plain, l->batch, oc, l->out_h, l->out_w, l->out_channels)
          && strided(&weights_plain, oc, ic, k, k, l->in_channels)
          && desc(&sum_md, l->batch, ic, l->in_h, l->in_w, dnnl_nchw);  /* backward: its gradient, contiguous */
    dnnl_dims_t bias_dims = {oc};
    ok = ok && D->dnnl_memory_desc_init_by_tag(&bias_md, 1, bias_dims, dnnl_f32, dnnl_x) == dnnl_success;
    if (!ok) goto fail;
    dnnl_dims_t strides = {l->stride, l->stride}, pad_l = {l->padding, l->padding};
    dnnl_dims_t pad_r = {(dnnl_dim_t)(l->out_h - 1) * l->stride + k - l->in_h - l->padding,
                         (dnnl_dim_t)(l->out_w - 1) * l->stride + k - l->in_w - l->padding};
    dnnl_convolution_desc_t fd, bd;
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL;
    int with_bias = !backward && l->has_bias;
    if (D->dnnl_convolution_forward_desc_init(&fd, backward ? dnnl_forward_training : dnnl_forward_inference, dnnl_convolution_direct,
                                           &src_any, &weights_any, with_bias ? &bias_md : NULL, &dst_any, strides, pad_l, pad_r) != dnnl_success
        || D->dnnl_primitive_desc_create(&fpd, &fd, NULL, engine, NULL) != dnnl_success)
        goto fail;
    if (backward && (D->dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &src_any, &weights_any, &dst_any,
                                                              strides, pad_l, pad_r) != dnnl_success
                     || D->dnnl_primitive_desc_create(&bpd, &bd, NULL, engine, fpd) != dnnl_success)) {
        D->dnnl_primitive_desc_destroy(fpd);
        goto fail;
    }
    dnnl_primitive_desc_t pd = backward ? bpd : fpd;
    /* Forward: input = src, output = dst. Backward: input = diff_dst, output = diff_src. */
    const dnnl_memory_desc_t *input_md = D->dnnl_primitive_desc_query_md(pd, backward ? dnnl_query_diff_dst_md : dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *output_md = D->dnnl_primitive_desc_query_md(pd, backward ? dnnl_query_diff_src_md : dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *weights_md = D->dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *input_plain = backward ? &dst_plain : &src_plain;
    const dnnl_memory_desc_t *output_plain = backward ? &src_plain : &dst_plain;
    c->input_plain = memory(input_plain, DNNL_MEMORY_NONE);
    c->weights_plain = memory(&weights_plain, DNNL_MEMORY_NONE);
    c->bias = memory(&bias_md, DNNL_MEMORY_NONE);
    c->to_input = reorder(input_plain, input_md, &ok);
    c->to_weights = reorder(&weights_plain, weights_md, &ok);
    c->input = c->to_input ? memory(input_md, DNNL_MEMORY_ALLOCATE) : NULL;
    c->weights = memory(weights_md, DNNL_MEMORY_ALLOCATE);
    if (backward) {
        /* The gradient goes to a contiguous buffer of its own, then is added to the caller's. */
        c->sum = memory(&sum_md, DNNL_MEMORY_ALLOCATE);
        c->from_output = reorder(output_md, &sum_md, &ok);
        c->output = c->from_output ? memory(output_md, DNNL_MEMORY_ALLOCATE) : NULL;
        c->sum_n = l->batch;
        c->sum_c = ic;
        c->sum_hw = l->in_h * l->in_w;
        c->caller_c = l->in_channels;
        c->tensor_offset = (size_t)first * l->in_h * l->in_w;
        c->weights_offset = (size_t)first * k * k;
        if (!c->sum || (c->from_output && !c->output)) ok = 0;
    } else {
        c->output_plain = memory(output_plain, DNNL_MEMORY_NONE);
        c->from_output = reorder(output_md, output_plain, &ok);
        c->output = c->from_output ? memory(output_md, DNNL_MEMORY_ALLOCATE) : NULL;
        c->tensor_offset = (size_t)first * l->out_h * l->out_w;
        c->bias_offset = (size_t)first;
        c->weights_offset = (size_t)first * l->in_channels * k * k;
        if (!c->output_plain || (c->from_output && !c->output)) ok = 0;
    }
    if (D->dnnl_primitive_create(&c->primitive, pd) != dnnl_success) ok = 0;
    D->dnnl_primitive_desc_destroy(fpd);
    if (bpd) D->dnnl_primitive_desc_destroy(bpd);
    if (!ok || !c->input_plain || !c->weights_plain || !c->bias || (c->to_input && !c->input) || !c->weights
        || D->dnnl_stream_create(&c->stream, engine, dnnl_stream_default_flags) != dnnl_success)
        goto fail;
    return c;
fail:
    cfx_dnnl_conv_free(c);
    return NULL;
}

cfx_dnnl_conv *cfx_dnnl_conv_create_forward(const cfx_dnnl_layer *layer, int out_first, int out_count) {
    return create(layer, 0, out_first, out_count);
}

cfx_dnnl_conv *cfx_dnnl_conv_create_backward(const cfx_dnnl_layer *layer, int in_first, int in_count) {
    return create(layer, 1, in_first, in_count);
}

static int reordered(cfx_dnnl_conv *c, dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    return D->dnnl_primitive_execute(r, c->stream, 2, args) == dnnl_success;
}

int cfx_dnnl_conv_set_weights(cfx_dnnl_conv *c, const float *weights) {
    D->omp_set_num_threads(1);
    if (D->dnnl_memory_set_data_handle(c->weights_plain, (void *)(weights + c->weights_offset)) != dnnl_success) return 1;
    if (c->to_weights) {
        if (!reordered(c, c->to_weights, c->weights_plain, c->weights)) return 1;
    } else {
        /* Same layout: a plain contiguous part (only forward parts can be). */
        const dnnl_memory_desc_t *md;
        void *to = NULL;
        if (D->dnnl_memory_get_memory_desc(c->weights, &md) != dnnl_success
            || D->dnnl_memory_get_data_handle(c->weights, &to) != dnnl_success) return 1;
        memcpy(to, weights + c->weights_offset, D->dnnl_memory_desc_get_size(md));
    }
    return D->dnnl_stream_wait(c->stream) != dnnl_success;
}

int cfx_dnnl_conv_forward(cfx_dnnl_conv *c, const float *src, const float *bias, float *dst) {
    if (c->backward) return 1;
    D->omp_set_num_threads(1);
    if (D->dnnl_memory_set_data_handle(c->input_plain, (void *)src) != dnnl_success
        || D->dnnl_memory_set_data_handle(c->output_plain, dst + c->tensor_offset) != dnnl_success
        || (bias && D->dnnl_memory_set_data_handle(c->bias, (void *)(bias + c->bias_offset)) != dnnl_success)) return 1;
    dnnl_memory_t in = c->to_input ? c->input : c->input_plain, out = c->from_output ? c->output : c->output_plain;
    if (c->to_input && !reordered(c, c->to_input, c->input_plain, c->input)) return 1;
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, in}, {DNNL_ARG_WEIGHTS, c->weights}, {DNNL_ARG_DST, out}, {DNNL_ARG_BIAS, c->bias}};
    if (D->dnnl_primitive_execute(c->primitive, c->stream, bias ? 4 : 3, args) != dnnl_success) return 1;
    if (c->from_output && !reordered(c, c->from_output, c->output, c->output_plain)) return 1;
    return D->dnnl_stream_wait(c->stream) != dnnl_success;
}

int cfx_dnnl_conv_backward_data(cfx_dnnl_conv *c, const float *diff_dst) {
    if (!c->backward) return 1;
    D->omp_set_num_threads(1);
    if (D->dnnl_memory_set_data_handle(c->input_plain, (void *)diff_dst) != dnnl_success) return 1;
    dnnl_memory_t in = c->to_input ? c->input : c->input_plain, out = c->from_output ? c->output : c->sum;
    if (c->to_input && !reordered(c, c->to_input, c->input_plain, c->input)) return 1;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, in}, {DNNL_ARG_WEIGHTS, c->weights}, {DNNL_ARG_DIFF_SRC, out}};
    if (D->dnnl_primitive_execute(c->primitive, c->stream, 3, args) != dnnl_success) return 1;
    if (c->from_output && !reordered(c, c->from_output, c->output, c->sum)) return 1;
    return D->dnnl_stream_wait(c->stream) != dnnl_success;
}

void cfx_dnnl_conv_add_input_gradient(const cfx_dnnl_conv *c, float *diff_src) {
    const float *sum = NULL;
    if (!c->backward || D->dnnl_memory_get_data_handle(c->sum, (void **)&sum) != dnnl_success) return;
    for (int n = 0; n < c->sum_n; n++) {
        float *to = diff_src + c->tensor_offset + (size_t)n * c->caller_c * c->sum_hw;
        const float *from = sum + (size_t)n * c->sum_c * c->sum_hw;
        for (size_t i = 0; i < (size_t)c->sum_c * c->sum_hw; i++) to[i] += from[i];
    }
}

int cfx_dnnl_available(void) {
    pthread_once(&engine_once, make_engine);
    return engine_ok;
}

void cfx_dnnl_version(int *major, int *minor, int *patch) {
    *major = *minor = *patch = 0;
    if (!cfx_dnnl_available()) return;
    const dnnl_version_t *v = D->dnnl_version();
    *major = v->major;
    *minor = v->minor;
    *patch = v->patch;
}

const char *cfx_dnnl_isa(void) {
    if (!cfx_dnnl_available()) return NULL;
    switch (D->dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

void cfx_dnnl_conv_free(cfx_dnnl_conv *c) {
    if (!c) return;
    dnnl_primitive_t primitives[] = {c->primitive, c->to_input, c->from_output, c->to_weights};
    for (size_t i = 0; i < sizeof primitives / sizeof *primitives; i++)
        if (primitives[i]) D->dnnl_primitive_destroy(primitives[i]);
    dnnl_memory_t memories[] = {c->input_plain, c->output_plain, c->bias, c->weights_plain, c->input, c->output, c->weights, c->sum};
    for (size_t i = 0; i < sizeof memories / sizeof *memories; i++)
        if (memories[i]) D->dnnl_memory_destroy(memories[i]);
    if (c->stream) D->dnnl_stream_destroy(c->stream);
    free(c);
}
