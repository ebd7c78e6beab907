import Glibc

/// Adam as TensorFlow 1's AdamOptimizer applies it (alibi's optimiser): bias correction folded into
/// the step size, ε added to √v.
public struct Adam {
    public var beta1 = 0.9
    public var beta2 = 0.999
    public var epsilon = 1e-8
    private var m: [Double]
    private var v: [Double]
    private var t = 0

    public init(count: Int) {
        m = [Double](repeating: 0, count: count)
        v = m
    }

    /// Forgets the moments and the step count, as re-initialising the optimiser's variables does.
    public mutating func reset() {
        for i in m.indices { m[i] = 0; v[i] = 0 }
        t = 0
    }

    /// x ← x − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε)
    public mutating func step(_ x: inout [Double], gradient g: [Double], learningRate: Double) {
        t += 1
        let tt = Double(t)
        let stepSize = learningRate * (1 - pow(beta2, tt)).squareRoot() / (1 - pow(beta1, tt))
        for i in x.indices {
            m[i] = beta1 * m[i] + (1 - beta1) * g[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            x[i] -= stepSize * m[i] / (v[i].squareRoot() + epsilon)
        }
    }
}
