/* Conversions between a float32 network's Float buffers and the Double values a search reads and
 * writes (NetworkEvaluator.swift): each value rounded to nearest as Swift's Float(_:) rounds it, or
 * widened exactly as Double(_:) widens it. */
static void KERNEL(narrow_f64)(size_t n, const double *restrict x, float *restrict y) {
    for (size_t j = 0; j < n; j++) y[j] = (float)x[j];
}
static void KERNEL(widen_f32)(size_t n, const float *restrict x, double *restrict y) {
    for (size_t j = 0; j < n; j++) y[j] = (double)x[j];
}
