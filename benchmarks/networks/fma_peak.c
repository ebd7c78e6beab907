// The FMA peak of one core: float32 fused multiply-adds per second in a loop of independent
// chains (no loads, no dependencies between chains), with 512-bit vectors (AVX-512) and 256-bit
// vectors (AVX2), each where the processor runs it. The physical limit that a network's search
// step is compared with (torch_side_by_side.py, through benchmarks/cfxbench/isa.py). Timed in the
// thread's own CPU time, so that other processes on the machine do not count.
//
//   clang -O2 -o fma_peak fma_peak.c && ./fma_peak      prints one JSON object
#include <stdio.h>
#include <time.h>

#define CHAINS 12  // more independent chains than FMA latency x pipes, on current x86 cores

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

// Seconds for `rounds` rounds of CHAINS vector FMAs of LANES float lanes; the result is printed
// nowhere but kept live through *sink.
#define PEAK(NAME, TARGET, LANES)                                                                 \
    __attribute__((target(TARGET))) static double NAME(long rounds, float *sink) {               \
        typedef float v __attribute__((vector_size(4 * LANES)));                                  \
        v acc[CHAINS], a, b;                                                                      \
        for (int l = 0; l < LANES; l++) a[l] = 1.0f + 1e-7f * l, b[l] = 1e-7f;                    \
        for (int c = 0; c < CHAINS; c++) acc[c] = a * (float)c;                                   \
        double start = now();                                                                     \
        for (long r = 0; r < rounds; r++)                                                         \
            for (int c = 0; c < CHAINS; c++) {                                                    \
                acc[c] = __builtin_elementwise_fma(acc[c], a, b);                                 \
                __asm__ volatile("" : "+v"(acc[c]));                                              \
            }                                                                                     \
        double seconds = now() - start;                                                           \
        for (int c = 0; c < CHAINS; c++) *sink += acc[c][0];                                      \
        return seconds;                                                                           \
    }
PEAK(peak_avx512, "avx512f,fma", 16)
PEAK(peak_avx2, "avx2,fma", 8)

// Best of seven runs, in float multiply-adds per second.
static double best(double (*run)(long, float *), int lanes) {
    const long rounds = 20 * 1000 * 1000;
    float sink = 0;
    double fastest = 1e30;
    for (int i = 0; i < 7; i++) {
        double s = run(rounds, &sink);
        if (s < fastest) fastest = s;
    }
    return (double)rounds * CHAINS * lanes / fastest + 0 * sink;
}

int main(void) {
    __builtin_cpu_init();
    printf("{");
    if (__builtin_cpu_supports("avx512f")) printf("\"avx512\": %.4g, ", best(peak_avx512, 16));
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) printf("\"avx2\": %.4g, ", best(peak_avx2, 8));
    printf("\"unit\": \"float32 multiply-adds per second, one core\"}\n");
    return 0;
}
