/// A search's view of a classifier on one thread: probabilities, gradients (exact when the model
/// has them, otherwise central differences batched into one predict call) and the call counts a
/// method reports.
public final class ModelSession {
    public let model: Classifier
    private let evaluator: ClassifierEvaluator
    /// Per-feature perturbation for numerical gradients.
    private let eps: [Double]
    private var perturbed: [Double] = []
    private var perturbedProba: [Double] = []

    /// Calls into the model's predict (each numerical gradient is one batched call).
    public var predictCalls: Int { counts[0] }
    /// Rows the model predicted in all those calls.
    public var predictedRows: Int { counts[1] }
    /// Gradient evaluations: exact pullbacks or numerical gradients.
    public var gradientEvaluations: Int { counts[2] }
    /// The three counts, in memory of their own: every call of a search changes them, and each
    /// change of a class's stored property costs a dynamic exclusivity check.
    private let counts: UnsafeMutablePointer<Int>

    /// `eps`: each feature's central-difference step, used only when the model has no exact gradient.
    public init(model: Classifier, eps: [Double]) {
        precondition(eps.count == model.featureCount, "eps is resolved per feature by the caller")
        self.model = model
        self.evaluator = model.makeEvaluator()
        self.eps = eps
        self.counts = .allocate(capacity: 3)
        counts.initialize(repeating: 0, count: 3)
    }

    deinit { counts.deallocate() }

    /// A session whose numerical gradients (of a model without an exact one) step every feature by
    /// `eps`; a session that only predicts needs no step and keeps the default.
    public convenience init(model: Classifier, eps: Double = 1e-3) {
        self.init(model: model, eps: [Double](repeating: eps, count: model.featureCount))
    }

    public var d: Int { model.featureCount }
    public var k: Int { model.classCount }

    /// Probabilities of the rows of `x`; rejects non-finite model outputs.
    public func predict(_ x: [Double], rows: Int = 1) throws -> [Double] {
        var proba = [Double](repeating: 0, count: rows * k)
        try predict(x, rows: rows, into: &proba)
        return proba
    }

    public func predict(_ x: [Double], rows: Int, into proba: inout [Double]) throws {
        counts[0] += 1
        counts[1] += rows
        try x.withUnsafeBufferPointer { xs in
            try proba.withUnsafeMutableBufferPointer { try evaluator.predict(xs, rows: rows, into: $0) }
        }
        try requireFinite(proba)
    }

    /// `predict` of the one row `x`, where the next predict will be of the row `next`, which the
    /// evaluator may compute in the same pass (`ClassifierEvaluator.predict(_:into:prefetching:)`).
    /// Counted as the one call of one row it answers; `next`'s predict counts when it is made.
    public func predict(_ x: [Double], into proba: inout [Double], prefetching next: [Double]) throws {
        counts[0] += 1
        counts[1] += 1
        try x.withUnsafeBufferPointer { xs in
            try next.withUnsafeBufferPointer { nexts in
                try proba.withUnsafeMutableBufferPointer { try evaluator.predict(xs, into: $0, prefetching: nexts) }
            }
        }
        try requireFinite(proba)
    }

    private func requireFinite(_ proba: [Double]) throws {
        if let i = firstNonFinite(proba) {
            throw CFXError(.numeric, "the model returned \(proba[i]) as probability \(i % k) of row \(i / k)")
        }
    }

    /// grad = Σ_j cotangent[j] ∂p_j/∂x at the single instance `x`.
    public func pullback(at x: [Double], cotangent: [Double], into grad: inout [Double]) throws {
        counts[2] += 1
        if let reason = model.gradientUnavailableReason { throw CFXError(.model, reason) }
        if model.hasExactGradient {
            try x.withUnsafeBufferPointer { xs in
                try cotangent.withUnsafeBufferPointer { cs in
                    try grad.withUnsafeMutableBufferPointer { try evaluator.pullback(at: xs, rows: 1, cotangent: cs, into: $0) }
                }
            }
            if let i = firstNonFinite(grad) {
                throw CFXError(.numeric, "the model's gradient is \(grad[i]) for feature \(i)")
            }
        } else {
            try numericalPullback(at: x, cotangent: cotangent, into: &grad)
        }
    }

    /// Central differences: the 2d rows x ± eps_j e_j go to the model in one predict call, then
    /// grad_j = Σ_c cotangent_c (p_c(x + eps_j e_j) − p_c(x − eps_j e_j)) / (2 eps_j).
    private func numericalPullback(at x: [Double], cotangent: [Double], into grad: inout [Double]) throws {
        try requireNumericalGradient(features: d)
        let rows = 2 * d
        if perturbed.count != rows * d {
            perturbed = [Double](repeating: 0, count: rows * d)
            perturbedProba = [Double](repeating: 0, count: rows * k)
        }
        for j in 0..<d {
            for i in 0..<d {
                perturbed[j * d + i] = x[i]
                perturbed[(d + j) * d + i] = x[i]
            }
            perturbed[j * d + j] += eps[j]
            perturbed[(d + j) * d + j] -= eps[j]
        }
        try predict(perturbed, rows: rows, into: &perturbedProba)
        for j in 0..<d {
            var total = 0.0
            for c in 0..<k {
                total += cotangent[c] * (perturbedProba[j * k + c] - perturbedProba[(d + j) * k + c])
            }
            grad[j] = total / (2 * eps[j])
        }
    }
}
