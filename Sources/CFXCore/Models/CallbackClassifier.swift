import Glibc

/// A classifier whose predictions (and optionally vector-Jacobian products) come from the caller:
/// a C function pointer, a Python callable, a Julia function. The closures may be called from
/// several threads at once.
///
/// What a callback returns is checked before any method sees it, so that a buggy model fails
/// loudly instead of producing "counterfactuals" of nonsense: probabilities must be finite, in
/// [0, 1] and sum to 1 per row within `probabilityTolerance`; a model created with
/// `output: .logits` returns finite logits instead, and cfx applies the softmax. Gradients must
/// be finite and at most `gradientLimit` in magnitude.
public final class CallbackClassifier: Classifier {
    /// Writes rows × k probabilities (or logits) for rows × d inputs.
    public typealias Predict = @Sendable (_ x: UnsafeBufferPointer<Double>, _ rows: Int,
                                          _ proba: UnsafeMutableBufferPointer<Double>) throws -> Void
    /// Writes rows × d gradients of Σ cotangent ⊙ predict(x) (of the logits, for a logits model).
    public typealias VectorJacobianProduct = @Sendable (_ x: UnsafeBufferPointer<Double>, _ rows: Int,
                                                        _ cotangent: UnsafeBufferPointer<Double>,
                                                        _ grad: UnsafeMutableBufferPointer<Double>) throws -> Void

    /// What the predict callback returns: class probabilities (checked), logits (cfx applies the
    /// softmax) or any finite values (an encoder's codes, an autoencoder's reconstructions: models
    /// for auxiliary roles, not classifiers).
    public enum Output: String, Sendable, CaseIterable {
        case probabilities, logits, values
    }

    /// How far a probability may lie outside [0, 1], and a row's sum from 1.
    public static let probabilityTolerance = 1e-4
    /// The largest gradient magnitude accepted from a vjp callback.
    public static let gradientLimit = 1e100

    public let featureCount: Int
    public let classCount: Int
    public let output: Output
    let predictFunction: Predict
    let vjpFunction: VectorJacobianProduct?

    public var hasExactGradient: Bool { vjpFunction != nil }
    public var isClassifier: Bool { output != .values }

    public init(featureCount: Int, classCount: Int, output: Output = .probabilities,
                predict: @escaping Predict, vjp: VectorJacobianProduct?) throws {
        try requireSize(featureCount, atMost: Limits.features, "n_features")
        try requireSize(classCount, atMost: Limits.classes, "n_classes")
        self.featureCount = featureCount
        self.classCount = classCount
        self.output = output
        self.predictFunction = predict
        self.vjpFunction = vjp
    }

    public func makeEvaluator() -> ClassifierEvaluator { CallbackEvaluator(self) }
}

private final class CallbackEvaluator: ClassifierEvaluator {
    let model: CallbackClassifier
    /// Probabilities at the rows of a pullback of a logits model.
    private var proba: [Double] = []

    init(_ model: CallbackClassifier) { self.model = model }

    func predict(_ x: UnsafeBufferPointer<Double>, rows: Int, into proba: UnsafeMutableBufferPointer<Double>) throws {
        try model.predictFunction(x, rows, proba)
        let k = model.classCount
        for r in 0..<rows {
            let row = UnsafeMutableBufferPointer(rebasing: proba[r * k..<(r + 1) * k])
            switch model.output {
            case .probabilities: try checkProbabilities(row, r)
            case .logits: try softmaxOfLogits(row, r)
            case .values:
                if let c = row.firstIndex(where: { !$0.isFinite }) {
                    throw CFXError(.callback, "the predict callback returned \(row[c]) as output \(c) of row \(r); outputs must be finite")
                }
            }
        }
    }

    private func checkProbabilities(_ p: UnsafeMutableBufferPointer<Double>, _ r: Int) throws {
        let tolerance = CallbackClassifier.probabilityTolerance
        var sum = 0.0
        for (c, value) in p.enumerated() {
            guard value.isFinite, value >= -tolerance, value <= 1 + tolerance else {
                throw CFXError(.callback, "the predict callback returned \(value) as probability \(c) of row \(r); probabilities must be finite and in [0, 1] (a model that returns logits is created with \"output\": \"logits\")")
            }
            sum += value
        }
        guard abs(sum - 1) <= tolerance else {
            throw CFXError(.callback, "the predict callback's probabilities of row \(r) sum to \(sum), not 1 (within \(tolerance)); a model that returns logits is created with \"output\": \"logits\"")
        }
    }

    private func softmaxOfLogits(_ z: UnsafeMutableBufferPointer<Double>, _ r: Int) throws {
        if let c = z.firstIndex(where: { !$0.isFinite }) {
            throw CFXError(.callback, "the predict callback returned \(z[c]) as logit \(c) of row \(r); logits must be finite")
        }
        softmaxInPlace(z)
    }

    func pullback(at x: UnsafeBufferPointer<Double>, rows: Int, cotangent: UnsafeBufferPointer<Double>,
                  into grad: UnsafeMutableBufferPointer<Double>) throws {
        guard let vjp = model.vjpFunction else {
            throw CFXError(.internalError, "pullback requested from a callback model without a vector-Jacobian product")
        }
        switch model.output {
        case .probabilities, .values:
            try vjp(x, rows, cotangent, grad)
        case .logits:
            // d⟨c, softmax(z)⟩/dz_i = p_i (c_i − ⟨c, p⟩): the cotangent of the logits.
            let k = model.classCount
            if proba.count != rows * k { proba = [Double](repeating: 0, count: rows * k) }
            try proba.withUnsafeMutableBufferPointer { try predict(x, rows: rows, into: $0) }
            var logitCotangent = [Double](repeating: 0, count: rows * k)
            for r in 0..<rows {
                var dot = 0.0
                for c in 0..<k { dot += cotangent[r * k + c] * proba[r * k + c] }
                for c in 0..<k { logitCotangent[r * k + c] = proba[r * k + c] * (cotangent[r * k + c] - dot) }
            }
            try logitCotangent.withUnsafeBufferPointer { try vjp(x, rows, $0, grad) }
        }
        if let i = grad.firstIndex(where: { !$0.isFinite || abs($0) > CallbackClassifier.gradientLimit }) {
            throw CFXError(.callback, "the vjp callback returned \(grad[i]) for feature \(i % model.featureCount) of row \(i / model.featureCount); gradients must be finite and at most \(CallbackClassifier.gradientLimit) in magnitude")
        }
    }
}
