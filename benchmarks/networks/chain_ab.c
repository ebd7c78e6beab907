// Two or more builds of cfx's kernels (Sources/CFXKernels) against each other on a small MLP's
// chain: cfx_chain_forward (1 and 2 rows) and cfx_chain_backward (1 row) of a relu/relu/softmax
// MLP, float64 and float32, and the two steps a search makes (Wachter: input gradient + 1-row
// forward; CFProto: input gradient + 2-row forward). Each library is one kernel build (made by
// run_chain_ab.sh); they are loaded side by side and alternated, and each figure is the least thread
// CPU time of 5 rounds, so that the machine's other load moves them alike. The first library's
// outputs and input gradients are compared bit for bit with each other library's.
//
//   bash benchmarks/networks/run_chain_ab.sh REV [REV...]   (CFX_ISA picks the kernel set; DIMS=64,64,64,10)
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cfx_kernels.h"

typedef void (*fwd64)(const cfx_chain_layer *, size_t, size_t, const double *, double *const *);
typedef void (*bwd64)(const cfx_chain_layer *, size_t, size_t, const double *, double *const *, double *const *);
typedef void (*fwd32)(const cfx_chain_layer *, size_t, size_t, const float *, float *const *);
typedef void (*bwd32)(const cfx_chain_layer *, size_t, size_t, const float *, float *const *, float *const *);
enum { NL = 6, MAXLIB = 8, MAXW = 512 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static const char *base(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int main(int argc, char **argv) {
    int nlib = argc - 1, reps = getenv("REPS") ? atoi(getenv("REPS")) : 20000;
    size_t dims[4] = {64, 64, 64, 10};
    if (getenv("DIMS")) sscanf(getenv("DIMS"), "%zu,%zu,%zu,%zu", &dims[0], &dims[1], &dims[2], &dims[3]);
    if (nlib < 1 || nlib > MAXLIB || dims[0] > MAXW / 2 || dims[3] > MAXW / 4) { fprintf(stderr, "usage: chain_ab LIB.so...\n"); return 2; }
    cfx_chain_layer L[NL];
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        L[2 * i] = (cfx_chain_layer){CFX_CHAIN_DENSE, dims[i], dims[i + 1], off};
        off += dims[i] * dims[i + 1] + dims[i + 1];
        L[2 * i + 1] = (cfx_chain_layer){i < 2 ? CFX_CHAIN_RELU : CFX_CHAIN_SOFTMAX, dims[i + 1], dims[i + 1], 0};
    }
    double *P = aligned_alloc(64, (off * 8 + 63) / 64 * 64);
    float *Pf = aligned_alloc(64, (off * 4 + 63) / 64 * 64);
    srand(1);
    for (size_t i = 0; i < off; i++) Pf[i] = (float)(P[i] = (rand() / (double)RAND_MAX - 0.5) * 0.4);
    size_t sz[NL + 1] = {dims[0], dims[1], dims[1], dims[2], dims[2], dims[3], dims[3]};
    double *V[NL + 1], *G[NL + 1];
    float *Vf[NL + 1], *Gf[NL + 1];
    for (int i = 0; i <= NL; i++) {
        V[i] = calloc(2 * sz[i], 8), G[i] = calloc(2 * sz[i], 8), Vf[i] = calloc(2 * sz[i], 4), Gf[i] = calloc(2 * sz[i], 4);
    }
    for (size_t i = 0; i < 2 * dims[0]; i++) Vf[0][i] = (float)(V[0][i] = rand() / (double)RAND_MAX);
    fwd64 f[MAXLIB];
    bwd64 b[MAXLIB];
    fwd32 ff[MAXLIB];
    bwd32 bf[MAXLIB];
    for (int k = 0; k < nlib; k++) {
        void *h = dlopen(argv[k + 1], RTLD_NOW | RTLD_LOCAL);
        if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
        f[k] = (fwd64)dlsym(h, "ab_forward_f64"), b[k] = (bwd64)dlsym(h, "ab_backward_f64");
        ff[k] = (fwd32)dlsym(h, "ab_forward_f32"), bf[k] = (bwd32)dlsym(h, "ab_backward_f32");
        if (!f[k] || !b[k] || !ff[k] || !bf[k]) { fprintf(stderr, "%s: not a run_chain_ab.sh build\n", argv[k + 1]); return 1; }
    }
    // bits: each library's outputs and input gradients against the first's, at 1 and 2 rows
    static double ref[3][MAXW];
    static float reff[3][MAXW];
    int differ = 0;
    for (int k = 0; k < nlib; k++)
        for (size_t rows = 1; rows <= 2; rows++) {
            f[k](L, NL, rows, P, V);
            ff[k](L, NL, rows, Pf, Vf);
            for (int i = 0; i <= NL; i++) memset(G[i], 0, 2 * sz[i] * 8), memset(Gf[i], 0, 2 * sz[i] * 4);
            G[NL][0] = Gf[NL][0] = 1, G[NL][dims[3] - 1] = Gf[NL][dims[3] - 1] = -1;
            if (rows == 2) G[NL][dims[3] + 1] = Gf[NL][dims[3] + 1] = 2;
            b[k](L, NL, rows, P, V, G);
            bf[k](L, NL, rows, Pf, Vf, Gf);
            double cur[MAXW];
            float curf[MAXW];
            size_t n = 0;
            for (size_t i = 0; i < rows * dims[3]; i++, n++) cur[n] = V[NL][i], curf[n] = Vf[NL][i];
            for (size_t i = 0; i < rows * dims[0]; i++, n++) cur[n] = G[0][i], curf[n] = Gf[0][i];
            if (k == 0) { memcpy(ref[rows], cur, n * 8); memcpy(reff[rows], curf, n * 4); continue; }
            int d64 = memcmp(ref[rows], cur, n * 8) != 0, d32 = memcmp(reff[rows], curf, n * 4) != 0;
            differ |= d64 | d32;
            printf("%s, %zu row(s): float64 %s, float32 %s as %s\n", base(argv[k + 1]), rows, d64 ? "DIFFERS" : "the same bits",
                   d32 ? "DIFFERS" : "the same bits", base(argv[1]));
        }
    double best[MAXLIB][10];
    for (int k = 0; k < nlib; k++)
        for (int j = 0; j < 10; j++) best[k][j] = 1e9;
    for (int round = 0; round < 5; round++)
        for (int k = 0; k < nlib; k++) {
            double t[10];
#define TIME(J, BODY) do { t[J] = now(); for (int r = 0; r < reps; r++) { BODY; } t[J] = now() - t[J]; } while (0)
            TIME(0, f[k](L, NL, 1, P, V));
            TIME(1, f[k](L, NL, 2, P, V));
            TIME(2, b[k](L, NL, 1, P, V, G));
            TIME(3, ff[k](L, NL, 1, Pf, Vf));
            TIME(4, ff[k](L, NL, 2, Pf, Vf));
            TIME(5, bf[k](L, NL, 1, Pf, Vf, Gf));
            TIME(6, b[k](L, NL, 1, P, V, G); f[k](L, NL, 1, P, V));
            TIME(7, b[k](L, NL, 1, P, V, G); f[k](L, NL, 2, P, V));
            TIME(8, bf[k](L, NL, 1, Pf, Vf, Gf); ff[k](L, NL, 1, Pf, Vf));
            TIME(9, bf[k](L, NL, 1, Pf, Vf, Gf); ff[k](L, NL, 2, Pf, Vf));
            for (int j = 0; j < 10; j++) if (t[j] < best[k][j]) best[k][j] = t[j];
        }
    printf("ns per call (%zu-%zu-%zu-%zu, CFX_ISA=%s): forward 1 row, 2 rows, input gradient | float32 the same "
           "| gradient + 1-row forward, gradient + 2-row forward | float32 the same\n",
           dims[0], dims[1], dims[2], dims[3], getenv("CFX_ISA") ? getenv("CFX_ISA") : "the processor's");
    for (int k = 0; k < nlib; k++) {
        printf("%s:", base(argv[k + 1]));
        for (int j = 0; j < 10; j++) printf(" %.0f%s", best[k][j] / reps * 1e9, j == 2 || j == 5 || j == 7 ? " |" : "");
        printf("\n");
    }
    return differ;
}
