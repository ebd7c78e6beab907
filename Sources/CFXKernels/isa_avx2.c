/* The kernels for AVX2 processors (x86-64-v3: AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE). */
#if defined(__x86_64__)
#define ISA avx2
#define ISA_FMA 1
#define ISA_GROUP 4
#define ISA_PAIRS 3
#define ISA_WIDE 0
#pragma clang attribute push(__attribute__((target("arch=x86-64-v3"))), apply_to = function)
#include "kernels_impl.h"
#pragma clang attribute pop
#endif
