/*
 * dnnl_api.h — the oneDNN functions conv.c calls, resolved at run time by loader.c: libcfx.so does
 * not link oneDNN, so that it loads where oneDNN is not installed (float32 convolutions then run
 * on cfx's own im2col + sgemm path). oneDNN's header gives the types and signatures only.
 */
#ifndef CFX_DNNL_API_H
#define CFX_DNNL_API_H

#include <oneapi/dnnl/dnnl.h>

/* Every oneDNN function used, X(name). */
#define CFX_DNNL_FUNCTIONS(X) \
    X(dnnl_engine_create) X(dnnl_memory_desc_init_by_tag) X(dnnl_memory_desc_init_by_strides) \
    X(dnnl_memory_create) X(dnnl_memory_desc_equal) X(dnnl_reorder_primitive_desc_create) \
    X(dnnl_primitive_create) X(dnnl_primitive_desc_destroy) X(dnnl_convolution_forward_desc_init) \
    X(dnnl_primitive_desc_create) X(dnnl_convolution_backward_data_desc_init) X(dnnl_primitive_desc_query_md) \
    X(dnnl_stream_create) X(dnnl_primitive_execute) X(dnnl_memory_set_data_handle) \
    X(dnnl_memory_get_memory_desc) X(dnnl_memory_get_data_handle) X(dnnl_memory_desc_get_size) \
    X(dnnl_stream_wait) X(dnnl_version) X(dnnl_primitive_destroy) X(dnnl_memory_destroy) \
    X(dnnl_stream_destroy) X(dnnl_get_effective_cpu_isa)

typedef struct {
#define CFX_DNNL_FIELD(name) __typeof__(&name) name;
    CFX_DNNL_FUNCTIONS(CFX_DNNL_FIELD)
#undef CFX_DNNL_FIELD
    /* libgomp's (oneDNN's OpenMP runtime, loaded with it). cfx runs each part on one thread and
     * spreads parts over its own threads: OpenMP teams that spin while they wait stall badly on
     * a loaded machine. */
    void (*omp_set_num_threads)(int threads);
} cfx_dnnl_api;

/* The oneDNN functions, loaded once (thread-safe) at the first call; NULL when oneDNN is not
 * available: libdnnl.so.2 cannot be loaded, lacks a function, or CFX_DNNL=off is set. */
const cfx_dnnl_api *cfx_dnnl_api_get(void);

#endif
