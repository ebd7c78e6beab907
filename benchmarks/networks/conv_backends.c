// Convolution backends for cfx's float32 engine (issue 12, item 2): times the 20 convolution layers
// of the DDU ResNet-18 at 28x28x1 input with
//   (a) batched im2col + OpenBLAS cblas_sgemm (one im2col and one GEMM per layer over the batch),
//       2 threads either as 2 pthreads splitting the GEMM (OpenBLAS at 1 thread) or OpenBLAS's own 2 threads;
//   (b) oneDNN's convolution primitives (forward and backward-data) with format_tag::any, timed with the
//       layout conversions excluded and with a plain NCHW <-> blocked reorder around every layer, plus
//       oneDNN forced to plain NCHW activations.
// Forward = all layers' forward convolutions; forward + input gradient adds every layer's backward-data
// convolution (conv1's too: searches need the gradient with respect to the image).
// Only convolutions are timed (no BN, ReLU, additions): the question is which kernel to build on.
// Build and run: python3 benchmarks/harness.py conv-backends (run_conv_backends.sh)
#define _GNU_SOURCE
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../json/clock.h"  /* now_seconds, cmp_double */

#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>

void openblas_set_num_threads(int);
char *openblas_get_corename(void);
char *openblas_get_config(void);

#define CHECK(call)                                                                          \
    do {                                                                                     \
        dnnl_status_t s_ = (call);                                                           \
        if (s_ != dnnl_success) {                                                            \
            fprintf(stderr, "oneDNN error %d at %s:%d: %s\n", (int)s_, __FILE__, __LINE__, #call); \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

// ---------------------------------------------------------------------------------------------
// The network: conv1, then BasicBlocks [2,2,2,2] with widths 64..512, strides 1,2,2,2, 3x3 pad 1
// convolutions and a 1x1 stride-2 shortcut convolution wherever the shape changes.

typedef struct { int cin, cout, h, w, k, stride, pad, ho, wo; } Layer;

enum { MAX_LAYERS = 32 };
static Layer layers[MAX_LAYERS];
static int n_layers;

static void add_layer(int cin, int cout, int h, int k, int stride, int pad) {
    Layer l = {cin, cout, h, h, k, stride, pad, 0, 0};
    l.ho = (h + 2 * pad - k) / stride + 1;
    l.wo = l.ho;
    layers[n_layers++] = l;
}

static void build_resnet18(void) {
    add_layer(1, 64, 28, 3, 1, 1);
    int h = 28, c = 64;
    const int widths[4] = {64, 128, 256, 512}, strides[4] = {1, 2, 2, 2};
    for (int s = 0; s < 4; s++)
        for (int b = 0; b < 2; b++) {
            int stride = b == 0 ? strides[s] : 1, cout = widths[s];
            int ho = (h + 2 - 3) / stride + 1;
            add_layer(c, cout, h, 3, stride, 1);
            add_layer(cout, cout, ho, 3, 1, 1);
            if (stride != 1 || c != cout) add_layer(c, cout, h, 1, stride, 0);
            h = ho;
            c = cout;
        }
}

static double layer_flops(const Layer *l, int batch) {  // multiply-adds x 2, forward only
    return 2.0 * batch * l->cout * l->ho * l->wo * (double)l->cin * l->k * l->k;
}

// ---------------------------------------------------------------------------------------------
// Helpers


static double median(double *v, int n) {
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static float *alloc_floats(size_t n) {
    float *p = aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64);
    if (!p) { fprintf(stderr, "out of memory\n"); exit(1); }
    return p;
}

static unsigned long long rng_state = 0x9E3779B97F4A7C15ull;
static float uniform(void) {  // in [-1, 1)
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) * (2.0 / (1ull << 24)) - 1.0);
}

// Per-layer data shared by all backends: input X and output gradient dY in plain NCHW, weights OIHW.
typedef struct { float *x, *w, *dy; } LayerData;
static LayerData data[MAX_LAYERS];

static size_t in_size(const Layer *l, int b) { return (size_t)b * l->cin * l->h * l->w; }
static size_t out_size(const Layer *l, int b) { return (size_t)b * l->cout * l->ho * l->wo; }
static size_t w_size(const Layer *l) { return (size_t)l->cout * l->cin * l->k * l->k; }

static void make_data(int batch) {
    for (int i = 0; i < n_layers; i++) {
        const Layer *l = &layers[i];
        data[i].x = alloc_floats(in_size(l, batch));
        data[i].dy = alloc_floats(out_size(l, batch));
        data[i].w = alloc_floats(w_size(l));
        for (size_t j = 0; j < in_size(l, batch); j++) data[i].x[j] = uniform();
        for (size_t j = 0; j < out_size(l, batch); j++) data[i].dy[j] = uniform();
        float scale = 1.0f / sqrtf((float)(l->cin * l->k * l->k));
        for (size_t j = 0; j < w_size(l); j++) data[i].w[j] = scale * uniform();
    }
}

static void free_data(void) {
    for (int i = 0; i < n_layers; i++) { free(data[i].x); free(data[i].dy); free(data[i].w); }
}

// NCHW <-> CNHW (the im2col backend keeps activations channel-major over the whole batch so that
// one GEMM writes a layer's output directly; at batch 1 the two layouts coincide).
static void nchw_to_cnhw(const float *src, float *dst, int n, int c, int hw) {
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
            memcpy(dst + ((size_t)ch * n + b) * hw, src + ((size_t)b * c + ch) * hw, hw * sizeof(float));
}
static void cnhw_to_nchw(const float *src, float *dst, int n, int c, int hw) {
    for (int b = 0; b < n; b++)
        for (int ch = 0; ch < c; ch++)
            memcpy(dst + ((size_t)b * c + ch) * hw, src + ((size_t)ch * n + b) * hw, hw * sizeof(float));
}

// ---------------------------------------------------------------------------------------------
// A two-thread pool: the caller plus one worker, released and joined with barriers.

typedef void (*Task)(void *arg, int tid, int nth);
static struct {
    pthread_t thread;
    pthread_barrier_t start, done;
    Task task;
    void *arg;
    int quit;
} pool;

static void *pool_worker(void *unused) {
    (void)unused;
    for (;;) {
        pthread_barrier_wait(&pool.start);
        if (pool.quit) return NULL;
        pool.task(pool.arg, 1, 2);
        pthread_barrier_wait(&pool.done);
    }
}
static void pool_start(void) {
    pthread_barrier_init(&pool.start, NULL, 2);
    pthread_barrier_init(&pool.done, NULL, 2);
    pthread_create(&pool.thread, NULL, pool_worker, NULL);
}
static void pool_stop(void) {
    pool.quit = 1;
    pthread_barrier_wait(&pool.start);
    pthread_join(pool.thread, NULL);
}
static void run_parallel(Task task, void *arg, int nth) {
    if (nth == 1) { task(arg, 0, 1); return; }
    pool.task = task;
    pool.arg = arg;
    pthread_barrier_wait(&pool.start);
    task(arg, 0, 2);
    pthread_barrier_wait(&pool.done);
}

static void split(int n, int tid, int nth, int *lo, int *hi) {
    *lo = (int)((long)n * tid / nth);
    *hi = (int)((long)n * (tid + 1) / nth);
}

// ---------------------------------------------------------------------------------------------
// (a) im2col + sgemm, batched. Activations CNHW: x[c][b][h][w]. col is K x N with K = cin*k*k rows
// and N = batch*ho*wo columns; forward Y (cout x N) = W (cout x K) * col; backward-data
// dcol (K x N) = W^T * dY, then col2im scatters dcol back into dX.

typedef struct {
    const Layer *l;
    int batch;
    const float *x, *w, *dy;
    float *y, *dx, *col;
} ConvJob;

// Input channels [c0, c1) of images [b0, b1) into col, which has (b1 - b0) * ho * wo columns.
static void im2col_part(const ConvJob *j, int c0, int c1, int b0, int b1, float *col) {
    const Layer *l = j->l;
    const int hw = l->h * l->w, ohw = l->ho * l->wo;
    const size_t ncol = (size_t)(b1 - b0) * ohw;
    for (int c = c0; c < c1; c++)
        for (int ki = 0; ki < l->k; ki++)
            for (int kj = 0; kj < l->k; kj++) {
                float *row = col + ((size_t)(c * l->k + ki) * l->k + kj) * ncol;
                for (int b = b0; b < b1; b++) {
                    const float *img = j->x + ((size_t)c * j->batch + b) * hw;
                    float *out = row + (size_t)(b - b0) * ohw;
                    for (int oh = 0; oh < l->ho; oh++) {
                        int ih = oh * l->stride - l->pad + ki;
                        float *o = out + oh * l->wo;
                        if (ih < 0 || ih >= l->h) { memset(o, 0, l->wo * sizeof(float)); continue; }
                        const float *in = img + ih * l->w;
                        for (int ow = 0; ow < l->wo; ow++) {
                            int iw = ow * l->stride - l->pad + kj;
                            o[ow] = (iw >= 0 && iw < l->w) ? in[iw] : 0.0f;
                        }
                    }
                }
            }
}

// Scatter-adds col (images [b0, b1)) into dX's input channels [c0, c1): threads that own disjoint
// channels or disjoint images never write the same element.
static void col2im_part(const ConvJob *j, int c0, int c1, int b0, int b1, const float *col) {
    const Layer *l = j->l;
    const int hw = l->h * l->w, ohw = l->ho * l->wo;
    const size_t ncol = (size_t)(b1 - b0) * ohw;
    for (int c = c0; c < c1; c++)
        memset(j->dx + ((size_t)c * j->batch + b0) * hw, 0, (size_t)(b1 - b0) * hw * sizeof(float));
    for (int c = c0; c < c1; c++)
        for (int ki = 0; ki < l->k; ki++)
            for (int kj = 0; kj < l->k; kj++) {
                const float *row = col + ((size_t)(c * l->k + ki) * l->k + kj) * ncol;
                for (int b = b0; b < b1; b++) {
                    float *img = j->dx + ((size_t)c * j->batch + b) * hw;
                    const float *in = row + (size_t)(b - b0) * ohw;
                    for (int oh = 0; oh < l->ho; oh++) {
                        int ih = oh * l->stride - l->pad + ki;
                        if (ih < 0 || ih >= l->h) continue;
                        float *o = img + ih * l->w;
                        const float *r = in + oh * l->wo;
                        for (int ow = 0; ow < l->wo; ow++) {
                            int iw = ow * l->stride - l->pad + kj;
                            if (iw >= 0 && iw < l->w) o[iw] += r[ow];
                        }
                    }
                }
            }
}

// One GEMM, split over threads along the larger of M and N.
static void gemm_part(int transA, int M, int N, int K, const float *A, const float *B, float *C,
                      int tid, int nth) {
    int lda = transA ? M : K, lo, hi;
    if (N >= M) {
        split(N, tid, nth, &lo, &hi);
        if (hi > lo)
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, CblasNoTrans, M, hi - lo, K,
                        1.0f, A, lda, B + lo, N, 0.0f, C + lo, N);
    } else {
        split(M, tid, nth, &lo, &hi);
        if (hi > lo)
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, CblasNoTrans, hi - lo, N, K,
                        1.0f, transA ? A + lo : A + (size_t)lo * K, lda, B, N, 0.0f, C + (size_t)lo * N, N);
    }
}

static pthread_barrier_t phase_barrier;  // between im2col and GEMM inside one 2-thread task

static void forward_task(void *arg, int tid, int nth) {
    const ConvJob *j = arg;
    const Layer *l = j->l;
    int lo, hi;
    split(l->cin, tid, nth, &lo, &hi);
    im2col_part(j, lo, hi, 0, j->batch, j->col);
    if (nth > 1) pthread_barrier_wait(&phase_barrier);
    gemm_part(0, l->cout, j->batch * l->ho * l->wo, l->cin * l->k * l->k, j->w, j->col, j->y, tid, nth);
}

static void backward_task(void *arg, int tid, int nth) {
    const ConvJob *j = arg;
    const Layer *l = j->l;
    int lo, hi;
    gemm_part(1, l->cin * l->k * l->k, j->batch * l->ho * l->wo, l->cout, j->w, j->dy, j->col, tid, nth);
    if (nth > 1) pthread_barrier_wait(&phase_barrier);
    split(l->cin, tid, nth, &lo, &hi);
    col2im_part(j, lo, hi, 0, j->batch, j->col);
}

// Tiled variant: each thread takes a share of the images and walks it in tiles of a few images, so
// that a tile's im2col buffer (K x tile columns) stays in cache instead of streaming one
// K x (batch*ho*wo) matrix through memory. Still batched: one GEMM covers a tile's images.
enum { TILE_COLS = 1024 };  // target columns per tile (at K = 576: 2.4 MB)
static float *tile_col[2];

static void tiled_task(void *arg, int tid, int nth, int backward) {
    const ConvJob *j = arg;
    const Layer *l = j->l;
    const int ohw = l->ho * l->wo, K = l->cin * l->k * l->k, N = j->batch * ohw;
    int per_tile = TILE_COLS / ohw > 0 ? TILE_COLS / ohw : 1, lo, hi;
    split(j->batch, tid, nth, &lo, &hi);
    for (int b0 = lo; b0 < hi; b0 += per_tile) {
        int b1 = b0 + per_tile < hi ? b0 + per_tile : hi, n = (b1 - b0) * ohw;
        float *col = tile_col[tid];
        if (!backward) {
            im2col_part(j, 0, l->cin, b0, b1, col);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, l->cout, n, K, 1.0f, j->w, K, col, n, 0.0f,
                        j->y + (size_t)b0 * ohw, N);
        } else {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, n, l->cout, 1.0f, j->w, K,
                        j->dy + (size_t)b0 * ohw, N, 0.0f, col, n);
            col2im_part(j, 0, l->cin, b0, b1, col);
        }
    }
}
static void tiled_forward_task(void *arg, int tid, int nth) { tiled_task(arg, tid, nth, 0); }
static void tiled_backward_task(void *arg, int tid, int nth) { tiled_task(arg, tid, nth, 1); }

// mode 0: 1 thread; mode 1: 2 pthreads splitting each layer, OpenBLAS 1 thread; mode 2: OpenBLAS 2
// threads; mode 3/4: tiled by images, 1 thread / 2 pthreads sharing the images.
typedef struct { float *x[MAX_LAYERS], *y[MAX_LAYERS], *dy[MAX_LAYERS], *dx[MAX_LAYERS], *col; } Im2colBufs;

static void im2col_setup(Im2colBufs *bf, int batch) {
    size_t col_max = 0;
    for (int i = 0; i < n_layers; i++) {
        const Layer *l = &layers[i];
        size_t c = (size_t)l->cin * l->k * l->k * batch * l->ho * l->wo;
        if (c > col_max) col_max = c;
        bf->x[i] = alloc_floats(in_size(l, batch));
        bf->dx[i] = alloc_floats(in_size(l, batch));
        bf->y[i] = alloc_floats(out_size(l, batch));
        bf->dy[i] = alloc_floats(out_size(l, batch));
        nchw_to_cnhw(data[i].x, bf->x[i], batch, l->cin, l->h * l->w);
        nchw_to_cnhw(data[i].dy, bf->dy[i], batch, l->cout, l->ho * l->wo);
    }
    bf->col = alloc_floats(col_max);
    memset(bf->col, 0, col_max * sizeof(float));
    size_t tile_max = 0;  // largest tile buffer: K x (images per tile x ho x wo), >= 1 image
    for (int i = 0; i < n_layers; i++) {
        const Layer *l = &layers[i];
        int ohw = l->ho * l->wo, per = TILE_COLS / ohw > 0 ? TILE_COLS / ohw : 1;
        if (per > batch) per = batch;
        size_t t = (size_t)l->cin * l->k * l->k * per * ohw;
        if (t > tile_max) tile_max = t;
    }
    for (int t = 0; t < 2; t++) { free(tile_col[t]); tile_col[t] = alloc_floats(tile_max); }
}

static void im2col_free(Im2colBufs *bf) {
    for (int i = 0; i < n_layers; i++) { free(bf->x[i]); free(bf->dx[i]); free(bf->y[i]); free(bf->dy[i]); }
    free(bf->col);
}

static void im2col_pass(Im2colBufs *bf, int batch, int mode, int backward) {
    int nth = mode == 1 || mode == 4 ? 2 : 1;
    for (int i = 0; i < n_layers; i++) {
        ConvJob j = {&layers[i], batch, bf->x[i], data[i].w, bf->dy[i], bf->y[i], bf->dx[i], bf->col};
        if (mode >= 3) run_parallel(backward ? tiled_backward_task : tiled_forward_task, &j, nth);
        else run_parallel(backward ? backward_task : forward_task, &j, nth);
    }
}

// ---------------------------------------------------------------------------------------------
// (b) oneDNN. variant 0: format_tag::any, conv primitives only (activations stay blocked from layer
// to layer); variant 1: the same primitives with a reorder plain NCHW -> blocked before and
// blocked -> NCHW after every layer (the cost if cfx's own code needs plain activations between
// layers); variant 2: activations forced to plain NCHW (weights any). Weights are reordered once at
// setup (persistent in a model), never timed.

static dnnl_engine_t engine;
static dnnl_stream_t stream;

typedef struct {
    dnnl_primitive_t fwd, bwd;
    dnnl_primitive_t r_x, r_y, r_dy, r_dx;  // reorders plain <-> chosen; NULL when layouts equal
    dnnl_memory_t x_plain, y_plain, dy_plain, dx_plain;
    dnnl_memory_t x, w_fwd, w_bwd, y, dy, dx;
    const char *impl_fwd, *impl_bwd;
} DnnlLayer;

static dnnl_memory_t make_memory(const dnnl_memory_desc_t *md) {
    dnnl_memory_t m;
    CHECK(dnnl_memory_create(&m, md, engine, DNNL_MEMORY_ALLOCATE));
    return m;
}

static void md_plain(dnnl_memory_desc_t *md, int n, int c, int h, int w, dnnl_format_tag_t tag) {
    dnnl_dims_t dims = {n, c, h, w};
    CHECK(dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, tag));
}

// Reorder primitive from src to dst layout, or NULL when they are the same layout.
static dnnl_primitive_t make_reorder(const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst) {
    if (dnnl_memory_desc_equal(src, dst)) return NULL;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    CHECK(dnnl_reorder_primitive_desc_create(&pd, src, engine, dst, engine, NULL));
    CHECK(dnnl_primitive_create(&p, pd));
    CHECK(dnnl_primitive_desc_destroy(pd));
    return p;
}

static void run_reorder(dnnl_primitive_t r, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    CHECK(dnnl_primitive_execute(r, stream, 2, args));
}

// Copies plain data into `to` through a reorder (or directly when the layout is already plain).
static void fill_from_plain(const float *src, const dnnl_memory_desc_t *plain_md, dnnl_memory_t to) {
    const dnnl_memory_desc_t *to_md;
    CHECK(dnnl_memory_get_memory_desc(to, &to_md));
    dnnl_memory_t tmp;
    CHECK(dnnl_memory_create(&tmp, plain_md, engine, (void *)src));
    dnnl_primitive_t r = make_reorder(plain_md, to_md);
    if (r) { run_reorder(r, tmp, to); dnnl_primitive_destroy(r); }
    else {
        void *h;
        CHECK(dnnl_memory_get_data_handle(to, &h));
        memcpy(h, src, dnnl_memory_desc_get_size(plain_md));
    }
    CHECK(dnnl_stream_wait(stream));
    dnnl_memory_destroy(tmp);
}

static void dnnl_setup(DnnlLayer *dl, const Layer *l, int batch, int variant) {
    memset(dl, 0, sizeof *dl);
    dnnl_format_tag_t act = variant == 2 ? dnnl_nchw : dnnl_format_tag_any;
    dnnl_memory_desc_t x_any, y_any, w_any, x_pl, y_pl, w_pl;
    md_plain(&x_any, batch, l->cin, l->h, l->w, act);
    md_plain(&y_any, batch, l->cout, l->ho, l->wo, act);
    md_plain(&w_any, l->cout, l->cin, l->k, l->k, dnnl_format_tag_any);
    md_plain(&x_pl, batch, l->cin, l->h, l->w, dnnl_nchw);
    md_plain(&y_pl, batch, l->cout, l->ho, l->wo, dnnl_nchw);
    md_plain(&w_pl, l->cout, l->cin, l->k, l->k, dnnl_oihw);
    dnnl_dims_t strides = {l->stride, l->stride}, pad = {l->pad, l->pad};
    dnnl_dims_t pad_r = {(l->ho - 1) * l->stride + l->k - l->h - l->pad,
                         (l->wo - 1) * l->stride + l->k - l->w - l->pad};

    dnnl_convolution_desc_t fd, bd;
    dnnl_primitive_desc_t fpd, bpd;
    CHECK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &x_any,
                                             &w_any, NULL, &y_any, strides, pad, pad_r));
    CHECK(dnnl_primitive_desc_create(&fpd, &fd, NULL, engine, NULL));
    CHECK(dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &x_any, &w_any, &y_any,
                                                   strides, pad, pad_r));
    CHECK(dnnl_primitive_desc_create(&bpd, &bd, NULL, engine, fpd));
    CHECK(dnnl_primitive_desc_query(fpd, dnnl_query_impl_info_str, 0, &dl->impl_fwd));
    CHECK(dnnl_primitive_desc_query(bpd, dnnl_query_impl_info_str, 0, &dl->impl_bwd));

    const dnnl_memory_desc_t *x_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *wf_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *y_md = dnnl_primitive_desc_query_md(fpd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *dx_md = dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_src_md, 0);
    const dnnl_memory_desc_t *wb_md = dnnl_primitive_desc_query_md(bpd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dy_md = dnnl_primitive_desc_query_md(bpd, dnnl_query_diff_dst_md, 0);
    dl->x = make_memory(x_md);
    dl->y = make_memory(y_md);
    dl->w_fwd = make_memory(wf_md);
    dl->w_bwd = make_memory(wb_md);
    dl->dy = make_memory(dy_md);
    dl->dx = make_memory(dx_md);
    dl->x_plain = make_memory(&x_pl);
    dl->dx_plain = make_memory(&x_pl);
    dl->y_plain = make_memory(&y_pl);
    dl->dy_plain = make_memory(&y_pl);
    dl->r_x = make_reorder(&x_pl, x_md);
    dl->r_y = make_reorder(y_md, &y_pl);
    dl->r_dy = make_reorder(&y_pl, dy_md);
    dl->r_dx = make_reorder(dx_md, &x_pl);
    CHECK(dnnl_primitive_create(&dl->fwd, fpd));
    CHECK(dnnl_primitive_create(&dl->bwd, bpd));
    CHECK(dnnl_primitive_desc_destroy(fpd));
    CHECK(dnnl_primitive_desc_destroy(bpd));
}

static void dnnl_fill(DnnlLayer *dl, const Layer *l, const LayerData *d, int batch) {
    dnnl_memory_desc_t x_pl, y_pl, w_pl;
    md_plain(&x_pl, batch, l->cin, l->h, l->w, dnnl_nchw);
    md_plain(&y_pl, batch, l->cout, l->ho, l->wo, dnnl_nchw);
    md_plain(&w_pl, l->cout, l->cin, l->k, l->k, dnnl_oihw);
    fill_from_plain(d->x, &x_pl, dl->x);
    fill_from_plain(d->x, &x_pl, dl->x_plain);
    fill_from_plain(d->dy, &y_pl, dl->dy);
    fill_from_plain(d->dy, &y_pl, dl->dy_plain);
    fill_from_plain(d->w, &w_pl, dl->w_fwd);
    fill_from_plain(d->w, &w_pl, dl->w_bwd);
}

static void dnnl_destroy(DnnlLayer *dl) {
    dnnl_primitive_t ps[] = {dl->fwd, dl->bwd, dl->r_x, dl->r_y, dl->r_dy, dl->r_dx};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) if (ps[i]) dnnl_primitive_destroy(ps[i]);
    dnnl_memory_t ms[] = {dl->x_plain, dl->y_plain, dl->dy_plain, dl->dx_plain, dl->x, dl->w_fwd,
                          dl->w_bwd, dl->y, dl->dy, dl->dx};
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++) dnnl_memory_destroy(ms[i]);
}

static void dnnl_pass(DnnlLayer *dls, int variant, int backward) {
    int reorders = variant == 1;
    for (int i = 0; i < n_layers; i++) {
        DnnlLayer *dl = &dls[i];
        if (!backward) {
            if (reorders && dl->r_x) run_reorder(dl->r_x, dl->x_plain, dl->x);
            dnnl_exec_arg_t a[3] = {{DNNL_ARG_SRC, dl->x}, {DNNL_ARG_WEIGHTS, dl->w_fwd}, {DNNL_ARG_DST, dl->y}};
            CHECK(dnnl_primitive_execute(dl->fwd, stream, 3, a));
            if (reorders && dl->r_y) run_reorder(dl->r_y, dl->y, dl->y_plain);
        } else {
            if (reorders && dl->r_dy) run_reorder(dl->r_dy, dl->dy_plain, dl->dy);
            dnnl_exec_arg_t a[3] = {{DNNL_ARG_DIFF_DST, dl->dy}, {DNNL_ARG_WEIGHTS, dl->w_bwd},
                                    {DNNL_ARG_DIFF_SRC, dl->dx}};
            CHECK(dnnl_primitive_execute(dl->bwd, stream, 3, a));
            if (reorders && dl->r_dx) run_reorder(dl->r_dx, dl->dx, dl->dx_plain);
        }
    }
    CHECK(dnnl_stream_wait(stream));
}

// Reads a oneDNN memory back as plain NCHW.
static void dnnl_to_plain(dnnl_memory_t m, int n, int c, int h, int w, float *out) {
    const dnnl_memory_desc_t *md;
    CHECK(dnnl_memory_get_memory_desc(m, &md));
    dnnl_memory_desc_t pl;
    md_plain(&pl, n, c, h, w, dnnl_nchw);
    dnnl_memory_t tmp;
    CHECK(dnnl_memory_create(&tmp, &pl, engine, out));
    dnnl_primitive_t r = make_reorder(md, &pl);
    if (r) { run_reorder(r, m, tmp); dnnl_primitive_destroy(r); }
    else { void *h_; CHECK(dnnl_memory_get_data_handle(m, &h_)); memcpy(out, h_, dnnl_memory_desc_get_size(&pl)); }
    CHECK(dnnl_stream_wait(stream));
    dnnl_memory_destroy(tmp);
}

// ---------------------------------------------------------------------------------------------
// Measurement

static int warmup = 3, runs = 9;

typedef struct { double fwd_ms, total_ms, total_min_ms; } Timing;

typedef void (*PassFn)(void *ctx, int backward);

typedef struct { const char *name; PassFn pass; void *ctx; int blas_threads; } Bench;

// Rounds of one forward pass + one backward-data pass per backend, warm-up rounds first.
static void time_interleaved(Bench *b, int nb, int n_runs, Timing *out) {
    static double f[8][256], t[8][256];
    for (int r = 0; r < warmup + n_runs; r++)
        for (int q = 0; q < nb; q++) {
            int k = (q + r) % nb;
            openblas_set_num_threads(b[k].blas_threads);
            double t0 = now_seconds();
            b[k].pass(b[k].ctx, 0);
            double t1 = now_seconds();
            b[k].pass(b[k].ctx, 1);
            double t2 = now_seconds();
            if (r >= warmup) { f[k][r - warmup] = (t1 - t0) * 1e3; t[k][r - warmup] = (t2 - t0) * 1e3; }
        }
    for (int k = 0; k < nb; k++) {
        double fm = median(f[k], n_runs), tm = median(t[k], n_runs);  // median() sorts: t[k][0] is the minimum
        out[k] = (Timing){fm, tm, t[k][0]};
    }
}

typedef struct { Im2colBufs *bf; int batch, mode; } Im2colCtx;
static void im2col_passfn(void *c, int backward) {
    Im2colCtx *x = c;
    im2col_pass(x->bf, x->batch, x->mode, backward);
}
typedef struct { DnnlLayer *dls; int variant; } DnnlCtx;
static void dnnl_passfn(void *c, int backward) {
    DnnlCtx *x = c;
    dnnl_pass(x->dls, x->variant, backward);
}

static double net_flops(int batch) {
    double f = 0;
    for (int i = 0; i < n_layers; i++) f += layer_flops(&layers[i], batch);
    return f;
}

static void report(const char *backend, int batch, int threads, Timing t) {
    double f = net_flops(batch);
    printf("| %-44s | %2d | %d | %8.2f | %6.1f | %8.2f | %6.1f | %8.2f |\n", backend, batch, threads, t.fwd_ms,
           f / (t.fwd_ms * 1e6), t.total_ms, 2 * f / (t.total_ms * 1e6), t.total_min_ms);
    fflush(stdout);
}

// max |a - b| / max |b|
static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (e > d) d = e;
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    return m > 0 ? d / m : d;
}

// Compares oneDNN's forward outputs and input gradients with im2col + sgemm, layer by layer.
static double agreement(Im2colBufs *bf, DnnlLayer *dls, int batch) {
    double worst = 0;
    for (int i = 0; i < n_layers; i++) {
        const Layer *l = &layers[i];
        float *a = alloc_floats(out_size(l, batch)), *b = alloc_floats(out_size(l, batch));
        cnhw_to_nchw(bf->y[i], a, batch, l->cout, l->ho * l->wo);
        dnnl_to_plain(dls[i].y, batch, l->cout, l->ho, l->wo, b);
        double e = rel_diff(b, a, out_size(l, batch));
        if (e > worst) worst = e;
        free(a); free(b);
        a = alloc_floats(in_size(l, batch)); b = alloc_floats(in_size(l, batch));
        cnhw_to_nchw(bf->dx[i], a, batch, l->cin, l->h * l->w);
        dnnl_to_plain(dls[i].dx, batch, l->cin, l->h, l->w, b);
        e = rel_diff(b, a, in_size(l, batch));
        if (e > worst) worst = e;
        free(a); free(b);
    }
    return worst;
}

// Direct (naive, double-accumulated) forward convolution of one layer, to check im2col itself.
static double check_im2col_direct(Im2colBufs *bf, int batch) {
    double worst = 0;
    for (int i = 0; i < n_layers; i++) {
        const Layer *l = &layers[i];
        size_t n = out_size(l, batch);
        float *ref = alloc_floats(n), *got = alloc_floats(n);
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < l->cout; o++)
                for (int oh = 0; oh < l->ho; oh++)
                    for (int ow = 0; ow < l->wo; ow++) {
                        double s = 0;
                        for (int c = 0; c < l->cin; c++)
                            for (int ki = 0; ki < l->k; ki++)
                                for (int kj = 0; kj < l->k; kj++) {
                                    int ih = oh * l->stride - l->pad + ki, iw = ow * l->stride - l->pad + kj;
                                    if (ih < 0 || ih >= l->h || iw < 0 || iw >= l->w) continue;
                                    s += (double)data[i].w[((o * l->cin + c) * l->k + ki) * l->k + kj] *
                                         data[i].x[(((size_t)b * l->cin + c) * l->h + ih) * l->w + iw];
                                }
                        ref[(((size_t)b * l->cout + o) * l->ho + oh) * l->wo + ow] = (float)s;
                    }
        cnhw_to_nchw(bf->y[i], got, batch, l->cout, l->ho * l->wo);
        double e = rel_diff(got, ref, n);
        if (e > worst) worst = e;
        free(ref); free(got);
    }
    return worst;
}

// Runs both passes untiled and tiled (2 pthreads) and compares outputs and input gradients.
static double tiled_vs_untiled(Im2colBufs *bf, int batch) {
    double worst = 0;
    float *keep_y[MAX_LAYERS], *keep_dx[MAX_LAYERS];
    im2col_pass(bf, batch, 0, 0);
    im2col_pass(bf, batch, 0, 1);
    for (int i = 0; i < n_layers; i++) {
        size_t ny = out_size(&layers[i], batch), nx = in_size(&layers[i], batch);
        keep_y[i] = alloc_floats(ny); memcpy(keep_y[i], bf->y[i], ny * sizeof(float));
        keep_dx[i] = alloc_floats(nx); memcpy(keep_dx[i], bf->dx[i], nx * sizeof(float));
    }
    im2col_pass(bf, batch, 4, 0);
    im2col_pass(bf, batch, 4, 1);
    for (int i = 0; i < n_layers; i++) {
        double e = rel_diff(bf->y[i], keep_y[i], out_size(&layers[i], batch));
        if (e > worst) worst = e;
        e = rel_diff(bf->dx[i], keep_dx[i], in_size(&layers[i], batch));
        if (e > worst) worst = e;
        free(keep_y[i]); free(keep_dx[i]);
    }
    return worst;
}

int main(int argc, char **argv) {
    if (argc > 1) runs = atoi(argv[1]);
    if (runs < 1 || runs > 80) runs = 9;
    build_resnet18();
    printf("OpenBLAS core: %s; config: %s\n", openblas_get_corename(), openblas_get_config());
    const dnnl_version_t *v = dnnl_version();
    printf("oneDNN %d.%d.%d (cpu runtime %s, isa %s)\n", v->major, v->minor, v->patch,
           v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : v->cpu_runtime == DNNL_RUNTIME_TBB ? "TBB" : "other",
           "see impl names");
    printf("layers: %d convolutions; forward %.3f GFLOP per image, forward + input gradient %.3f GFLOP\n",
           n_layers, net_flops(1) / 1e9, 2 * net_flops(1) / 1e9);
    printf("backends timed interleaved (round-robin); medians of %d runs (batch 64) / %d runs (batch 1) after %d "
           "warm-up rounds\n\n", runs, 3 * runs, warmup);
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    pool_start();
    pthread_barrier_init(&phase_barrier, NULL, 2);

    printf("| backend | batch | threads | forward ms | GFLOP/s | fwd + input grad ms | GFLOP/s | fwd + grad min ms |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    const int batches[2] = {1, 64};
    char agree[2][256] = {"", ""};
    double direct_err = 0, tiled_err = 0;
    const char *dnnl_names[3] = {"oneDNN, any layout, no reorders", "oneDNN, any layout + NCHW reorders per layer",
                                 "oneDNN, plain NCHW activations"};
    for (int bi = 0; bi < 2; bi++) {
        int batch = batches[bi];
        make_data(batch);
        Im2colBufs bf;
        im2col_setup(&bf, batch);
        for (int threads = 1; threads <= 2; threads++) {
            // All backends of this (batch, threads) cell are timed interleaved, round by round, so that
            // a neighbour's load hits them alike; each round starts at a different backend.
            omp_set_num_threads(threads);  // before creating primitives: oneDNN tunes them to it
            Bench b[8];
            int nb = 0;
            Im2colCtx ic[4];
            int modes[4], nm = 0;
            const char *mnames[4];
            int mblas[4];
            if (threads == 1) {
                modes[nm] = 0; mnames[nm] = "im2col + OpenBLAS sgemm"; mblas[nm++] = 1;
                if (batch > 1) { modes[nm] = 3; mnames[nm] = "im2col + sgemm tiled (1024 cols)"; mblas[nm++] = 1; }
            } else {
                modes[nm] = 1; mnames[nm] = "im2col + OpenBLAS sgemm, 2 pthreads split"; mblas[nm++] = 1;
                if (batch > 1) { modes[nm] = 4; mnames[nm] = "im2col + sgemm tiled, 2 pthreads"; mblas[nm++] = 1; }
                modes[nm] = 2; mnames[nm] = "im2col + OpenBLAS sgemm, OpenBLAS 2 threads"; mblas[nm++] = 2;
            }
            for (int m = 0; m < nm; m++) {
                ic[m] = (Im2colCtx){&bf, batch, modes[m]};
                b[nb++] = (Bench){mnames[m], im2col_passfn, &ic[m], mblas[m]};
            }
            DnnlLayer *dls[3];
            DnnlCtx dc[3];
            for (int variant = 0; variant < 3; variant++) {
                dls[variant] = calloc(n_layers, sizeof *dls[variant]);
                for (int i = 0; i < n_layers; i++) {
                    dnnl_setup(&dls[variant][i], &layers[i], batch, variant);
                    dnnl_fill(&dls[variant][i], &layers[i], &data[i], batch);
                }
                dc[variant] = (DnnlCtx){dls[variant], variant};
                b[nb++] = (Bench){dnnl_names[variant], dnnl_passfn, &dc[variant], 1};
            }
            Timing t[8];
            time_interleaved(b, nb, batch == 1 ? 3 * runs : runs, t);
            for (int k = 0; k < nb; k++) report(b[k].name, batch, threads, t[k]);
            openblas_set_num_threads(1);
            if (threads == 2) {
                // Agreement: rerun the serial im2col passes, compare with oneDNN's last outputs.
                im2col_pass(&bf, batch, 0, 0);
                im2col_pass(&bf, batch, 0, 1);
                for (int variant = 0; variant < 3; variant += 2) {
                    double e = agreement(&bf, dls[variant], batch);
                    size_t off = strlen(agree[bi]);
                    snprintf(agree[bi] + off, sizeof agree[bi] - off, "%sbatch %d: oneDNN %s vs im2col: %.2e",
                             off ? "; " : "", batch, variant ? "plain" : "any", e);
                }
                fprintf(stderr, "batch %d impls (fwd / bwd-data), any layout:\n", batch);
                for (int i = 0; i < n_layers; i++)
                    fprintf(stderr, "  %2d %4d->%-4d %2dx%-2d k%d s%d: %s / %s\n", i, layers[i].cin, layers[i].cout,
                            layers[i].h, layers[i].w, layers[i].k, layers[i].stride, dls[0][i].impl_fwd,
                            dls[0][i].impl_bwd);
            }
            for (int variant = 0; variant < 3; variant++) {
                for (int i = 0; i < n_layers; i++) dnnl_destroy(&dls[variant][i]);
                free(dls[variant]);
            }
        }
        if (batch == 1) {
            im2col_pass(&bf, batch, 0, 0);
            direct_err = check_im2col_direct(&bf, batch);
        }
        if (batch > 1) tiled_err = tiled_vs_untiled(&bf, batch);
        im2col_free(&bf);
        free_data();
    }
    printf("\nagreement (max abs diff / max abs value over all layers' outputs and input gradients):\n");
    for (int bi = 0; bi < 2; bi++) printf("  %s\n", agree[bi]);
    printf("  batch 1: im2col + sgemm forward vs direct double-accumulated convolution: %.2e\n", direct_err);
    printf("  batch 64: tiled, 2 pthreads vs untiled im2col + sgemm: %.2e\n", tiled_err);
    pool_stop();
    return 0;
}
