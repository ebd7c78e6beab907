/* The kernels for AVX-512 processors (x86-64-v4: AVX-512 F, BW, CD, DQ, VL, and FMA). */
#if defined(__x86_64__)
#define ISA avx512
#define ISA_FMA 1
#define ISA_GROUP 8
#define ISA_PAIRS 1
#define ISA_WIDE 1
#pragma clang attribute push(__attribute__((target("arch=x86-64-v4"), min_vector_width(512))), apply_to = function)
#include "kernels_impl.h"
#pragma clang attribute pop
#endif
