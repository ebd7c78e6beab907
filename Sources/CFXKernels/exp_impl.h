/* cfx's own exp for softmax (softmax_impl.h): within 1 ULP of the correctly rounded exp, the same bits on
 * every x86-64 processor and under every instruction set, and a loop of it vectorises.
 *
 * Why not the C library's: glibc's exp picks an FMA or a non-FMA variant by processor, so its last
 * bits may differ between machines, and as a call per value it was ~6% of a small MLP's search step
 * (two 10-class softmaxes a step; benchmarks/results/mlp_speed.md).
 *
 * How: plain C arithmetic only, each operation rounded (contraction is off: no fused multiply-add;
 * no rounding instruction beyond SSE2, no table, no branch), so every compilation of it gives the
 * same bits. exp(x) = 2^k exp(r), k = round(x / ln 2), r = x − k ln 2 (|r| ≲ ln2 / 2), with ln 2 in
 * two parts (Cody and Waite) so that hi = x − k ln2hi is exact and r = hi − lo carries
 * lo = k ln2lo. exp(r) = 1 + r + r c / (2 − c), c = r − r² P(r²), where P(t) is a degree-4 fit
 * (Chebyshev, mpmath; |error| < 2^-54) to (r coth(r/2) − 2) / t on t ≤ (ln2/2)²: the classic rational
 * form of fdlibm's exp (Tang's and Cody-Waite's argument reduction), written as
 * 1 − ((lo − r c / (2 − c)) − hi) so that r's own rounding cancels. 2^k multiplies in two halves,
 * 2^k1 then 2^k2 (k1 + k2 = k): the first is exact, so a subnormal result is rounded once, and
 * both halves stay normal numbers down to x = −746 (0) and up to 710 (∞). x is clamped to that
 * range first, so −∞ gives 0 and +∞ gives ∞; a NaN passes every step as NaN. */
#ifndef CFX_EXP_IMPL_H
#define CFX_EXP_IMPL_H

#include <stdint.h>
#include <string.h>

#pragma clang fp contract(off)

static inline uint64_t cfx_exp_bits(double x) { uint64_t u; memcpy(&u, &x, sizeof u); return u; }
static inline double cfx_exp_double(uint64_t u) { double x; memcpy(&x, &u, sizeof x); return x; }

/* Adding then subtracting 1.5 · 2^52 rounds a double of magnitude < 2^51 to the nearest integer
 * (ties to even); the sum's low bits are then that integer. */
#define CFX_EXP_ROUNDER 0x1.8p52

/* 2^k for an integer k in [−1022, 1023], held as the double k + 1.5 · 2^52 (rounded = k + rounder). */
static inline double cfx_exp_two_to(double rounded) {
    return cfx_exp_double((cfx_exp_bits(rounded) - cfx_exp_bits(CFX_EXP_ROUNDER) + 1023) << 52);
}

static inline double cfx_exp(double x) {
    x = x < -746.0 ? -746.0 : x;  /* exp(−746) < 2^-1075: 0; also −∞ → 0 */
    x = x > 710.0 ? 710.0 : x;    /* exp(710) > the largest double: ∞ */
    const double ln2hi = 0x1.62e42feep-1;          /* ln 2 to 32 bits: k ln2hi is exact */
    const double ln2lo = 0x1.a39ef35793c76p-33;    /* ln 2 − ln2hi */
    double k = (x * 0x1.71547652b82fep0 + CFX_EXP_ROUNDER) - CFX_EXP_ROUNDER;  /* round(x / ln 2) */
    double hi = x - k * ln2hi, lo = k * ln2lo, r = hi - lo, t = r * r;
    double c = r - t * (0x1.5555555555553p-3 + t * (-0x1.6c16c16c0ab48p-9 + t * (0x1.1566ab5bcf6ecp-14 +
                        t * (-0x1.bbd5311684979p-20 + t * 0x1.63f1d4c93e813p-25))));
    double y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);  /* exp(r) */
    double half = k * 0.5 + CFX_EXP_ROUNDER;               /* k1 = round(k / 2), as a rounded double */
    double rest = (k - (half - CFX_EXP_ROUNDER)) + CFX_EXP_ROUNDER;  /* k2 = k − k1 */
    return y * cfx_exp_two_to(half) * cfx_exp_two_to(rest);
}

/* The float exp: the double one, rounded to float (within 1 float ULP: the double's error is far
 * below a float's half ULP). */
static inline float cfx_expf(float x) { return (float)cfx_exp((double)x); }

#endif
