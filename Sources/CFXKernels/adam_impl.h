/* Adam's update of a search's point (Optimisers/Adam.swift): the moments m and v from the
 * gradient g, then x moved by step_size · m / (√v + ε), in place. Written as Swift computes it, each
 * element alone (contraction is off, √ correctly rounded), so that the values are Swift's bits. */
static void KERNEL(adam_step)(size_t n, double beta1, double beta2, double epsilon, double step_size, double *restrict x,
                              double *restrict m, double *restrict v, const double *restrict g) {
    const double keep1 = 1 - beta1, keep2 = 1 - beta2;
    for (size_t j = 0; j < n; j++) {
        m[j] = beta1 * m[j] + keep1 * g[j];
        v[j] = beta2 * v[j] + keep2 * g[j] * g[j];
        x[j] -= step_size * m[j] / (__builtin_elementwise_sqrt(v[j]) + epsilon);
    }
}

/* Wachter's step after the model's gradient g (Methods/Wachter.swift), in one pass: the distance
 * term's gradient λ·sign(x − original) added to g, Adam's update of x (adam_step's operations), then
 * x clipped into [lower, upper] as Swift's min(max(x, lower), upper) (max(a, b) is b >= a ? b : a,
 * min(a, b) is b < a ? b : a). The values are those of the three Swift passes it replaces. */
static void KERNEL(adam_l1_step)(size_t n, const cfx_adam_l1_params *step, double *restrict x, double *restrict m,
                                 double *restrict v, const double *restrict g, const double *restrict original,
                                 const double *restrict lower, const double *restrict upper) {
    const double beta1 = step->beta1, beta2 = step->beta2, epsilon = step->epsilon, step_size = step->step_size;
    const double keep1 = 1 - beta1, keep2 = 1 - beta2, lambda = step->lambda;
    for (size_t j = 0; j < n; j++) {
        double d = x[j] - original[j];
        double gj = g[j] + lambda * (d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0);
        m[j] = beta1 * m[j] + keep1 * gj;
        v[j] = beta2 * v[j] + keep2 * gj * gj;
        double moved = x[j] - step_size * m[j] / (__builtin_elementwise_sqrt(v[j]) + epsilon);
        moved = lower[j] >= moved ? lower[j] : moved;
        x[j] = upper[j] < moved ? upper[j] : moved;
    }
}
