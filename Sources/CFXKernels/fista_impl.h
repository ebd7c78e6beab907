/* CFProto's FISTA update of the features no constraint rules (CFProto+Step.swift, FISTAUpdate):
 * clip the gradient, step, shrink toward the original inside the range, the momentum step, the
 * range. Written as Swift computes it, so that the values are Swift's bits: min(a, b) is
 * b < a ? b : a and max(a, b) is b >= a ? b : a, and nothing is fused (contraction is off). */
static void KERNEL(fista_update)(size_t n, double *restrict x, double *restrict y, double *restrict g,
                                 const double *restrict gnum, const double *restrict original,
                                 const double *restrict lower, const double *restrict upper, const cfx_fista_step *step) {
    const double rate = step->learning_rate, momentum = step->momentum, beta = step->beta;
    const double clip_min = step->clip_min, clip_max = step->clip_max;
    for (size_t j = 0; j < n; j++) {
        double c = clip_min >= g[j] ? clip_min : g[j];  /* min(max(g, clipMin), clipMax) */
        c = clip_max < c ? clip_max : c;
        g[j] = c;
        double z = y[j] - rate * (c + gnum[j]);
        double o = original[j], diff = z - o;
        double below = z - beta, above = z + beta;
        double down = upper[j] < below ? upper[j] : below;  /* min(z - beta, upper) */
        double up = lower[j] >= above ? lower[j] : above;   /* max(z + beta, lower) */
        double next = diff > beta ? down : diff < -beta ? up : o;
        double moved = next + momentum * (next - x[j]);
        moved = lower[j] >= moved ? lower[j] : moved;       /* min(max(moved, lower), upper) */
        y[j] = upper[j] < moved ? upper[j] : moved;
        x[j] = next;
    }
}
