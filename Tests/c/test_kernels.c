/*
 * test_kernels.c — cfx's direct stride-1 convolution kernels (Sources/CFXKernels/conv_impl.h), the
 * forward pass and the input gradient, on every shape that Conv2D accepts for kernels 1-6, padding
 * 0-8 and inputs up to 9 x 12, and on larger layers (blocks of several planes and rows, rows of 8
 * and 16 values and more), under each instruction set the processor runs. Built with
 * AddressSanitizer and UBSan straight from the kernel sources by Tests/sanitizers.sh (asan-c, as CI
 * runs it), so that a read or write past the tensors or the scratch (allocated at exactly the
 * documented sizes) fails; the scratch starts as NaN, so a value read before it is written shows.
 * Each value is checked against the plain sum in double, and the sets that fuse multiply-adds
 * (avx512, avx2) against each other bit for bit.
 */
#include "cfx_kernels.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float next(unsigned *state) {
    *state = *state * 1103515245u + 12345u;
    return (float)((*state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

typedef struct {
    cfx_conv_shape s;
    size_t outH, outW, inCount, outCount, wCount;
} layer;

static layer layer_of(cfx_conv_shape s) {
    layer l = {s, s.height + 2 * s.padding - s.kernel + 1, s.width + 2 * s.padding - s.kernel + 1, 0, 0, 0};
    l.inCount = s.examples * s.channels * s.height * s.width;
    l.outCount = s.examples * s.out_channels * l.outH * l.outW;
    l.wCount = s.out_channels * s.channels * s.kernel * s.kernel;
    return l;
}

/* The kernel's result for one layer under the current set (caller frees): forward y from x (with a
 * bias), or the input gradient added to `start` from dy. */
static float *run(const layer *l, int forward, const float *in, const float *w, const float *bias, const float *start) {
    size_t scratchCount = cfx_conv_s1_scratch(&l->s), count = forward ? l->outCount : l->inCount;
    float *out = malloc((count + 1) * sizeof(float)), *scratch = malloc(scratchCount * sizeof(float));
    for (size_t i = 0; i < scratchCount; i++) scratch[i] = NAN;
    if (forward) {
        for (size_t i = 0; i < count; i++) out[i] = NAN;
        cfx_conv_forward_s1_f32(&l->s, in, w, bias, out, scratch);
    } else {
        memcpy(out, start, count * sizeof(float));
        cfx_conv_input_gradient_s1_f32(&l->s, in, w, out, scratch);
    }
    free(scratch);
    return out;
}

/* Values that differ from the plain sum in double by more than float rounding. */
static long wrong(const layer *l, int forward, const float *in, const float *w, const float *bias, const float *start,
                  const float *out) {
    const cfx_conv_shape *s = &l->s;
    long k = (long)s->kernel, p = (long)s->padding, bad = 0;
    double *sum = calloc(forward ? l->outCount : l->inCount, sizeof(double));
    for (size_t n = 0; n < s->examples; n++)
        for (size_t c = 0; c < s->channels; c++)
            for (long y = 0; y < (long)s->height; y++)
                for (long x = 0; x < (long)s->width; x++)
                    for (size_t o = 0; o < s->out_channels; o++)
                        for (long ky = 0; ky < k; ky++)
                            for (long kx = 0; kx < k; kx++) {
                                long r = y + p - ky, q = x + p - kx;
                                if (r < 0 || q < 0 || r >= (long)l->outH || q >= (long)l->outW) continue;
                                size_t xi = ((n * s->channels + c) * s->height + (size_t)y) * s->width + (size_t)x;
                                size_t yi = ((n * s->out_channels + o) * l->outH + (size_t)r) * l->outW + (size_t)q;
                                double tap = w[((o * s->channels + c) * s->kernel + (size_t)ky) * s->kernel + (size_t)kx];
                                if (forward) sum[yi] += tap * in[xi]; else sum[xi] += tap * in[yi];
                            }
    size_t count = forward ? l->outCount : l->inCount, plane = forward ? l->outH * l->outW : 1;
    for (size_t i = 0; i < count; i++) {
        double want = sum[i] + (forward ? bias[(i / plane) % s->out_channels] : start[i]);
        if (!(fabs(out[i] - want) < 1e-4)) bad++;
    }
    free(sum);
    return bad;
}

static const char *sets[] = {"avx512", "avx2", "baseline"};
static long cases, bad, differing;

/* Both passes of one layer under every set. */
static void check(cfx_conv_shape shape, unsigned *state) {
    layer l = layer_of(shape);
    float *x = malloc(l.inCount * sizeof(float)), *dy = malloc(l.outCount * sizeof(float));
    float *w = malloc(l.wCount * sizeof(float)), *bias = malloc(shape.out_channels * sizeof(float));
    float *start = malloc(l.inCount * sizeof(float));
    for (size_t i = 0; i < l.inCount; i++) x[i] = next(state), start[i] = next(state);
    for (size_t i = 0; i < l.outCount; i++) dy[i] = next(state);
    for (size_t i = 0; i < l.wCount; i++) w[i] = next(state);
    for (size_t i = 0; i < shape.out_channels; i++) bias[i] = next(state);
    for (int forward = 0; forward < 2; forward++) {
        float *fused = NULL;
        size_t count = forward ? l.outCount : l.inCount;
        for (int i = 0; i < 3; i++) {
            if (!cfx_kernels_use_isa(sets[i])) continue;
            float *out = run(&l, forward, forward ? x : dy, w, bias, start);
            long wrongValues = wrong(&l, forward, forward ? x : dy, w, bias, start, out);
            if (wrongValues && bad < 5)
                printf("FAIL: %s %s k%zu p%zu %zux%zu, %zu -> %zu channels: %ld values off the plain sum\n", sets[i],
                       forward ? "forward" : "input gradient", shape.kernel, shape.padding, shape.height, shape.width,
                       shape.channels, shape.out_channels, wrongValues);
            bad += wrongValues != 0;
            cases++;
            if (i < 2 && fused) differing += memcmp(fused, out, count * sizeof(float)) != 0;
            if (i < 2 && !fused) fused = out; else free(out);
        }
        free(fused);
    }
    free(x), free(dy), free(w), free(bias), free(start);
}

int main(void) {
    unsigned state = 1;
    for (size_t k = 1; k <= 6; k++)
        for (size_t p = 0; p <= 8; p++)
            for (size_t h = 1; h <= 9; h++)
                for (size_t wd = 1; wd <= (h == 9 ? 12 : 9); wd++) {
                    if (k > h + 2 * p || k > wd + 2 * p) continue;  /* as Conv2D rejects */
                    check((cfx_conv_shape){2, 1 + (h + wd) % 3, h, wd, 1 + (k + p) % 3, k, p}, &state);
                }
    /* Larger layers: the Fashion-MNIST CNN's two, blocks of planes and rows with edges, wide rows. */
    const cfx_conv_shape larger[] = {{2, 1, 28, 28, 16, 3, 1}, {2, 16, 14, 14, 32, 3, 1}, {2, 3, 17, 33, 5, 5, 2},
                                     {3, 2, 20, 16, 7, 3, 0}, {1, 5, 11, 40, 9, 3, 2}, {2, 6, 9, 19, 1, 3, 1},
                                     {1, 4, 13, 8, 6, 2, 1}, {2, 1, 30, 17, 2, 4, 3}};
    for (size_t i = 0; i < sizeof larger / sizeof larger[0]; i++) check(larger[i], &state);
    if (differing) printf("FAIL: avx512 and avx2 differ on %ld shapes and passes\n", differing);
    printf("direct convolution kernels: %ld shapes, passes and sets, %ld wrong\n", cases, bad);
    printf("%ld passed, %ld failed\n", cases - bad - differing, bad + differing);
    return bad || differing;
}
