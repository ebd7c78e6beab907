/*
 * test_kernels.c — cfx's few-channel convolution kernel (Sources/CFXKernels/conv_impl.h) on every
 * shape that Conv2D accepts for kernels 1-6, padding 0-8 and inputs up to 9 x 12, under each
 * instruction set the processor runs. Built with AddressSanitizer and UBSan straight from the
 * kernel sources by Tests/sanitizers.sh (asan-c, as CI runs it), so that a read or write past dy,
 * dx or the scratch (allocated at exactly the documented sizes) fails; the scratch starts as NaN,
 * so a value read before it is written shows. Each value is checked against the plain sum in
 * double, and the sets that fuse multiply-adds (avx512, avx2) against each other bit for bit.
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

/* The kernel's dx for one shape under the current set (caller frees). */
static float *gradient(const cfx_conv_shape *s, const float *dy, const float *w) {
    size_t scratchCount = cfx_conv_input_gradient_s1_scratch(s);
    float *dx = calloc(s->examples * s->channels * s->height * s->width + 1, sizeof(float));
    float *scratch = malloc(scratchCount * sizeof(float));
    for (size_t i = 0; i < scratchCount; i++) scratch[i] = NAN;
    cfx_conv_input_gradient_s1_f32(s, dy, w, dx, scratch);
    free(scratch);
    return dx;
}

/* Values of dx that differ from the plain sum by more than float rounding. */
static long wrong(const cfx_conv_shape *s, const float *dy, const float *w, const float *dx) {
    size_t k = s->kernel, p = s->padding, outH = s->height + 2 * p - k + 1, outW = s->width + 2 * p - k + 1;
    long bad = 0;
    for (size_t n = 0; n < s->examples; n++)
        for (size_t c = 0; c < s->channels; c++)
            for (size_t y = 0; y < s->height; y++)
                for (size_t x = 0; x < s->width; x++) {
                    double sum = 0;
                    for (size_t o = 0; o < s->out_channels; o++)
                        for (size_t ky = 0; ky < k; ky++)
                            for (size_t kx = 0; kx < k; kx++) {
                                long r = (long)(y + p) - (long)ky, q = (long)(x + p) - (long)kx;
                                if (r < 0 || q < 0 || r >= (long)outH || q >= (long)outW) continue;
                                sum += (double)w[((o * s->channels + c) * k + ky) * k + kx]
                                     * dy[((n * s->out_channels + o) * outH + r) * outW + q];
                            }
                    if (!(fabs(dx[((n * s->channels + c) * s->height + y) * s->width + x] - sum) < 1e-4)) bad++;
                }
    return bad;
}

int main(void) {
    const char *sets[] = {"avx512", "avx2", "baseline"};
    long cases = 0, bad = 0, differing = 0;
    unsigned state = 1;
    for (size_t k = 1; k <= 6; k++)
        for (size_t p = 0; p <= 8; p++)
            for (size_t h = 1; h <= 9; h++)
                for (size_t wd = 1; wd <= (h == 9 ? 12 : 9); wd++) {
                    if (k > h + 2 * p || k > wd + 2 * p) continue;  /* as Conv2D rejects */
                    cfx_conv_shape s = {2, 1 + (h + wd) % 3, h, wd, 1 + (k + p) % 3, k, p};
                    size_t outH = h + 2 * p - k + 1, outW = wd + 2 * p - k + 1;
                    size_t dyCount = s.examples * s.out_channels * outH * outW, wCount = s.out_channels * s.channels * k * k;
                    float *dy = malloc(dyCount * sizeof(float)), *w = malloc(wCount * sizeof(float)), *fused = NULL;
                    for (size_t i = 0; i < dyCount; i++) dy[i] = next(&state);
                    for (size_t i = 0; i < wCount; i++) w[i] = next(&state);
                    for (int i = 0; i < 3; i++) {
                        if (!cfx_kernels_use_isa(sets[i])) continue;
                        float *dx = gradient(&s, dy, w);
                        long wrongValues = wrong(&s, dy, w, dx);
                        if (wrongValues && bad < 5)
                            printf("FAIL: %s k%zu p%zu %zux%zu: %ld values off the plain sum\n", sets[i], k, p, h, wd, wrongValues);
                        bad += wrongValues != 0;
                        cases++;
                        if (i < 2 && fused) differing += memcmp(fused, dx, s.examples * s.channels * h * wd * sizeof(float)) != 0;
                        if (i < 2 && !fused) fused = dx; else free(dx);
                    }
                    free(fused);
                    free(dy);
                    free(w);
                }
    if (differing) printf("FAIL: avx512 and avx2 differ on %ld shapes\n", differing);
    printf("few-channel convolution kernel: %ld shapes and sets, %ld wrong\n", cases, bad);
    printf("%ld passed, %ld failed\n", cases - bad - differing, bad + differing);
    return bad || differing;
}
