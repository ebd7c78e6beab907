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

/* CFProto's gradient of the loss terms FISTA differentiates at y (CFProto+Loss.swift), without
 * autoencoder, encoder or categories: 2(y − original), plus the prediction term's model gradient
 * when there is one, plus 2θ(y − prototype) when there is a prototype, added in that order as the
 * Swift passes did (two_theta is 2θ, computed by the caller as Swift computes it). */
static void KERNEL(proto_gradient)(size_t n, const double *restrict y, const double *restrict original,
                                   const double *restrict model_gradient, const double *restrict prototype, double two_theta,
                                   double *restrict grad) {
    if (model_gradient && prototype) {
        for (size_t j = 0; j < n; j++) grad[j] = (2 * (y[j] - original[j]) + model_gradient[j]) + two_theta * (y[j] - prototype[j]);
    } else if (model_gradient) {
        for (size_t j = 0; j < n; j++) grad[j] = 2 * (y[j] - original[j]) + model_gradient[j];
    } else if (prototype) {
        for (size_t j = 0; j < n; j++) grad[j] = 2 * (y[j] - original[j]) + two_theta * (y[j] - prototype[j]);
    } else {
        for (size_t j = 0; j < n; j++) grad[j] = 2 * (y[j] - original[j]);
    }
}

/* CFProto's elastic net ‖y − original‖₂² + β‖y − original‖₁ (CFProto+Loss.swift, elasticNet): four
 * partial sums of each norm, lane l taking the features j ≡ l (mod 4) of the whole groups of four
 * and lane 0 the rest, added as ((s0 + s1) + (s2 + s3)). A lane's |d| is d < 0 ? −d : d (fabs in the
 * rest), as the Swift function computes them. */
static double KERNEL(elastic_net)(size_t n, const double *restrict y, const double *restrict original, double beta) {
    typedef double lanes __attribute__((vector_size(32)));
    typedef long long mask __attribute__((vector_size(32)));
    lanes l1 = {0, 0, 0, 0}, l2 = {0, 0, 0, 0};
    const size_t whole = n / 4 * 4;
    for (size_t j = 0; j < whole; j += 4) {
        lanes d = LOAD(lanes, y + j) - LOAD(lanes, original + j), negated = -d;
        mask negative = d < 0;  /* d < 0 ? -d : d, lane by lane */
        l1 += (lanes)((negative & (mask)negated) | (~negative & (mask)d));
        l2 += d * d;
    }
    for (size_t j = whole; j < n; j++) {
        double d = y[j] - original[j];
        l1[0] += __builtin_fabs(d);
        l2[0] += d * d;
    }
    return ((l2[0] + l2[1]) + (l2[2] + l2[3])) + beta * ((l1[0] + l1[1]) + (l1[2] + l1[3]));
}

/* The number of NaNs and infinities (all exponent bits set) among n values: one branch-free pass. */
static size_t KERNEL(count_nonfinite)(size_t n, const double *restrict x) {
    const unsigned long long exponent = 0x7ff0000000000000ull;
    size_t count = 0;
    for (size_t j = 0; j < n; j++) {
        unsigned long long bits;
        memcpy(&bits, x + j, sizeof bits);
        count += (bits & exponent) == exponent;
    }
    return count;
}
