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
