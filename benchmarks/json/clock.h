/* clock.h — the clocks and the sort of benchmarks/json's C programs. */
#ifndef CFX_BENCH_JSON_CLOCK_H
#define CFX_BENCH_JSON_CLOCK_H

#include <time.h>

/* Wall seconds (CLOCK_MONOTONIC). */
static inline double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds of the calling thread, which runs the search with n_threads 1. */
static inline double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* For qsort of doubles, ascending. */
static inline int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif
