import CFXKernels
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
    /// Bias corrections of the first steps, computed once and shared (nil: computed per step).
    private let corrections: AdamCorrections?

    public init(count: Int, corrections: AdamCorrections? = nil) {
        m = [Double](repeating: 0, count: count)
        v = m
        self.corrections = corrections
    }

    /// Forgets the moments and the step count, as re-initialising the optimiser's variables does.
    public mutating func reset() {
        for i in m.indices { m[i] = 0; v[i] = 0 }
        t = 0
    }

    /// x ← x − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε)
    public mutating func step(_ x: inout [Double], gradient g: [Double], learningRate: Double) {
        let stepSize = nextStepSize(learningRate: learningRate)
        let n = min(m.count, x.count, g.count, v.count)
        assert(x.count == m.count && g.count == m.count && v.count == m.count, "Adam: a search's own buffers, of one size")
        // CFXKernels' `cfx_adam_step`: the same operations per element in C, vectorised for the
        // processor (the same values); the square roots and divisions of a scalar loop were a
        // tenth of a small MLP's Wachter search.
        m.withUnsafeMutableBufferPointer { m in
            v.withUnsafeMutableBufferPointer { v in
                x.withUnsafeMutableBufferPointer { x in
                    g.withUnsafeBufferPointer { g in
                        guard n > 0 else { return }
                        cfx_adam_step(n, beta1, beta2, epsilon, stepSize, x.baseAddress!, m.baseAddress!, v.baseAddress!, g.baseAddress!)
                    }
                }
            }
        }
    }

    /// `step` on the gradient g + λ·sign(x − original) (an L1 distance term added to the loss),
    /// then x clipped into [lower, upper]: what Wachter's gradient, `step` and `Constraints.apply`
    /// do without immutable or monotone features, in one pass (CFXKernels' `cfx_adam_l1_step`,
    /// the same operations in the same order: the same values).
    public mutating func stepWithL1(_ x: inout [Double], gradient g: [Double], lambda: Double, original: [Double],
                                    lower: [Double], upper: [Double], learningRate: Double) {
        var parameters = cfx_adam_l1_params(beta1: beta1, beta2: beta2, epsilon: epsilon,
                                            step_size: nextStepSize(learningRate: learningRate), lambda: lambda)
        let n = m.count
        precondition(x.count == n && g.count == n && v.count == n && original.count == n && lower.count == n && upper.count == n,
                     "Adam: a search's own buffers, of one size")
        guard n > 0 else { return }
        m.withUnsafeMutableBufferPointer { m in
            v.withUnsafeMutableBufferPointer { v in
                x.withUnsafeMutableBufferPointer { x in
                    cfx_adam_l1_step(n, &parameters, x.baseAddress!, m.baseAddress!, v.baseAddress!, g, original, lower, upper)
                }
            }
        }
    }

    /// Counts the step and returns its size lr·√(1−β₂ᵗ)/(1−β₁ᵗ).
    private mutating func nextStepSize(learningRate: Double) -> Double {
        t += 1
        let root: Double, denominator: Double
        if let corrections, t <= corrections.root.count, corrections.beta1 == beta1, corrections.beta2 == beta2 {
            (root, denominator) = (corrections.root[t - 1], corrections.denominator[t - 1])
        } else {
            (root, denominator) = AdamCorrections.at(t, beta1: beta1, beta2: beta2)
        }
        return learningRate * root / denominator
    }
}

/// Adam's bias corrections √(1−β₂ᵗ) and 1−β₁ᵗ for t = 1…steps: a search restarts Adam every
/// round and would otherwise call pow twice per step. Same expressions, so the same values.
public final class AdamCorrections: Sendable {
    public let beta1: Double
    public let beta2: Double
    let root: [Double]
    let denominator: [Double]

    /// At most `maxSteps` entries are kept (later steps compute theirs).
    static let maxSteps = 4096

    public init(steps: Int, beta1: Double = 0.9, beta2: Double = 0.999) {
        self.beta1 = beta1
        self.beta2 = beta2
        let count = max(0, min(steps, Self.maxSteps))
        let values = (0..<count).map { Self.at($0 + 1, beta1: beta1, beta2: beta2) }
        root = values.map(\.root)
        denominator = values.map(\.denominator)
    }

    @inline(__always)
    static func at(_ t: Int, beta1: Double, beta2: Double) -> (root: Double, denominator: Double) {
        let tt = Double(t)
        return ((1 - pow(beta2, tt)).squareRoot(), 1 - pow(beta1, tt))
    }
}
