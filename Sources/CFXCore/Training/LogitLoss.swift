import Glibc

/// The losses on one row's logits z (k values) that training, counterfactual training, ECCo's
/// searches and the adversarial attacks share, written once. With p = softmax(z):
///
/// - the cross-entropy CE(z, y) = log Σ_c exp(z_c) − z_y (the largest logit taken out of the
///   sum), with gradient p − e_y, which stays exact when p_y underflows;
/// - the energy E(z, y) = −z_y (JEM; ECCo and counterfactual training), and ECCo's regularised
///   energy E + 10⁻³ E², whose slope in E is 1 + 2·10⁻³ E.
enum LogitLoss {
    static func crossEntropy(logits z: UnsafePointer<Double>, classes k: Int, label y: Int) -> Double {
        var largest = -Double.infinity
        for c in 0..<k { largest = max(largest, z[c]) }
        var sum = 0.0
        for c in 0..<k { sum += exp(z[c] - largest) }
        return largest + log(sum) - z[y]
    }

    /// ∂CE/∂z_c = p_c − [c = y] for c = 0..<k, each handed to `write(c, value)`.
    @inline(__always)
    static func crossEntropyGradient(probabilities p: UnsafePointer<Double>, classes k: Int, label y: Int,
                                     _ write: (Int, Double) -> Void) {
        for c in 0..<k { write(c, p[c] - (c == y ? 1 : 0)) }
    }

    @inline(__always)
    static func energy(logits z: UnsafePointer<Double>, label y: Int) -> Double { -z[y] }

    /// d(E + 10⁻³ E²)/dE at E.
    @inline(__always)
    static func regularisedEnergySlope(_ energy: Double) -> Double { 1 + 2e-3 * energy }
}
