/* The input gradient of a stride-1 convolution over few input channels, of one instruction set
 * (see cfx_kernels.h, isa.h). Library kernels vectorise over channels, so a grayscale image's first
 * layer (one input channel) keeps one lane of sixteen busy. Here dy is copied into a zero-bordered
 * buffer and the gradient into one with the same row stride, so that each kernel tap (output
 * channel o, kernel row ky, kernel column kx) is one long vector update of the whole plane at a
 * fixed offset. Each value sums its terms in the order (o, ky, kx), taps outside dy adding w * 0,
 * whatever the examples around it. */

/* Sixty-four values of the gradient at a time (four vectors, four independent chains) take every
 * tap in registers and are stored once. */
#define CONV_INPUT_GRADIENT_S1(SUFFIX, T)                                                            \
static void KERNEL(conv_input_gradient_s1_##SUFFIX)(const cfx_conv_shape *s, const T *dy, const T *w, T *dx, \
                                                   T *scratch) {                                     \
    typedef T v16 __attribute__((vector_size(16 * sizeof(T))));                                      \
    cfx_conv_copies g = cfx_conv_copies_of(s);                                                       \
    size_t k = s->kernel, p = s->padding, height = s->height, width = s->width, rowStride = g.rowStride; \
    size_t planeSize = g.paddedRows * rowStride;                                                     \
    T *padded = scratch, *sum = scratch + s->out_channels * planeSize;                               \
    for (size_t n = 0; n < s->examples; n++) {                                                       \
        for (size_t o = 0; o < s->out_channels; o++) {  /* zeros, dy's rows (each between zeros), zeros */ \
            T *copy = padded + o * planeSize;                                                        \
            const T *rows = dy + (n * s->out_channels + o) * g.outH * g.outW;                        \
            memset(copy, 0, ((k - 1) * rowStride + k - 1) * sizeof(T));                              \
            for (size_t r = 0; r < g.outH; r++) {                                                    \
                T *at = copy + (r + k - 1) * rowStride + k - 1;                                      \
                memcpy(at, rows + r * g.outW, g.outW * sizeof(T));                                   \
                memset(at + g.outW, 0, 2 * (k - 1) * sizeof(T));                                     \
            }                                                                                        \
            size_t written = (g.outH + k - 1) * rowStride + k - 1;                                   \
            memset(copy + written, 0, (planeSize - written) * sizeof(T));                            \
        }                                                                                            \
        for (size_t c = 0; c < s->channels; c++) {                                                   \
            T *plane = dx + (n * s->channels + c) * height * width;                                  \
            memset(sum, 0, g.sumFloats * sizeof(T));                                                 \
            for (size_t y = 0; y < height; y++) memcpy(sum + y * rowStride, plane + y * width, width * sizeof(T)); \
            for (size_t i = 0; i < g.sumFloats; i += 64) {                                           \
                v16 a0 = LOAD(v16, sum + i), a1 = LOAD(v16, sum + i + 16);                           \
                v16 a2 = LOAD(v16, sum + i + 32), a3 = LOAD(v16, sum + i + 48);                      \
                for (size_t o = 0; o < s->out_channels; o++) {                                       \
                    const T *taps = w + (o * s->channels + c) * k * k, *from = padded + o * planeSize + i; \
                    for (size_t ky = 0; ky < k; ky++)                                                \
                        for (size_t kx = 0; kx < k; kx++) {                                          \
                            /* dx[y][x] reads dy[y + p - ky][x + p - kx], here in the copy */        \
                            const T *at = from + (p + k - 1 - ky) * rowStride + p + k - 1 - kx;      \
                            v16 tap = SPLAT(v16, taps[ky * k + kx]);                                 \
                            a0 = MADD(tap, LOAD(v16, at), a0);                                       \
                            a1 = MADD(tap, LOAD(v16, at + 16), a1);                                  \
                            a2 = MADD(tap, LOAD(v16, at + 32), a2);                                  \
                            a3 = MADD(tap, LOAD(v16, at + 48), a3);                                  \
                        }                                                                            \
                }                                                                                    \
                memcpy(sum + i, &a0, sizeof a0);                                                     \
                memcpy(sum + i + 16, &a1, sizeof a1);                                                \
                memcpy(sum + i + 32, &a2, sizeof a2);                                                \
                memcpy(sum + i + 48, &a3, sizeof a3);                                                \
            }                                                                                        \
            for (size_t y = 0; y < height; y++) memcpy(plane + y * width, sum + y * rowStride, width * sizeof(T)); \
        }                                                                                            \
    }                                                                                                \
}

CONV_INPUT_GRADIENT_S1(f32, float)
