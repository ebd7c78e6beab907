/* Softmax of one 10-class row (the digits MLP's output) timed against the softmax that called the
 * C library's exp (old_softmax.c, made by run.sh from an earlier commit), alternating, in one
 * process; the kernel set is the processor's widest or CFX_ISA's. See run.sh. */
#include <stddef.h>
#include <stdio.h>
#include <time.h>

void cfx_softmax_f64(size_t, size_t, const double *, double *);
void old_softmax_f64(size_t, size_t, const double *, double *);
const char *cfx_kernels_isa(void);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Seconds for n softmaxes of x, nudging one logit each time so that nothing is hoisted. */
static double timed(void (*softmax)(size_t, size_t, const double *, double *), double *x, int n) {
    double y[10], t = now();
    volatile double sink = 0;
    for (int i = 0; i < n; i++) x[i % 10] += 1e-9, softmax(1, 10, x, y), sink += y[3];
    return now() - t;
}

int main(void) {
    double x[10] = {-3.2, 12.5, 0.1, -0.5, 7, 11.7, 12.2, -30, 2, 1}, mine = 0, old = 0;
    enum { N = 2000000, ROUNDS = 6 };
    for (int round = 0; round < ROUNDS; round++) mine += timed(cfx_softmax_f64, x, N), old += timed(old_softmax_f64, x, N);
    printf("%s: cfx's exp %.1f ns per softmax of 10, the C library's %.1f ns, ratio %.2f\n", cfx_kernels_isa(),
           mine / (ROUNDS * N) * 1e9, old / (ROUNDS * N) * 1e9, old / mine);
}
