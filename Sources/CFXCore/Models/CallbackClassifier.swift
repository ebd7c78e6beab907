/// A classifier whose predictions (and optionally vector-Jacobian products) come from the caller:
/// a C function pointer, a Python callable, a Julia function. The closures may be called from
/// several threads at once.
public final class CallbackClassifier: Classifier {
    /// Writes rows × k probabilities for rows × d inputs.
    public typealias Predict = @Sendable (_ x: UnsafeBufferPointer<Double>, _ rows: Int,
                                          _ proba: UnsafeMutableBufferPointer<Double>) throws -> Void
    /// Writes rows × d gradients of Σ cotangent ⊙ predict(x).
    public typealias VectorJacobianProduct = @Sendable (_ x: UnsafeBufferPointer<Double>, _ rows: Int,
                                                        _ cotangent: UnsafeBufferPointer<Double>,
                                                        _ grad: UnsafeMutableBufferPointer<Double>) throws -> Void

    public let featureCount: Int
    public let classCount: Int
    let predictFunction: Predict
    let vjpFunction: VectorJacobianProduct?

    public var hasExactGradient: Bool { vjpFunction != nil }

    public init(featureCount: Int, classCount: Int, predict: @escaping Predict, vjp: VectorJacobianProduct?) throws {
        guard featureCount > 0 else { throw CFXError(.invalidArgument, "n_features: must be positive") }
        guard classCount > 0 else { throw CFXError(.invalidArgument, "n_classes: must be positive") }
        self.featureCount = featureCount
        self.classCount = classCount
        self.predictFunction = predict
        self.vjpFunction = vjp
    }

    public func makeEvaluator() -> ClassifierEvaluator { CallbackEvaluator(self) }
}

private final class CallbackEvaluator: ClassifierEvaluator {
    let model: CallbackClassifier
    init(_ model: CallbackClassifier) { self.model = model }

    func predict(_ x: UnsafeBufferPointer<Double>, rows: Int, into proba: UnsafeMutableBufferPointer<Double>) throws {
        try model.predictFunction(x, rows, proba)
    }

    func pullback(at x: UnsafeBufferPointer<Double>, rows: Int, cotangent: UnsafeBufferPointer<Double>,
                  into grad: UnsafeMutableBufferPointer<Double>) throws {
        guard let vjp = model.vjpFunction else {
            throw CFXError(.internalError, "pullback requested from a callback model without a vector-Jacobian product")
        }
        try vjp(x, rows, cotangent, grad)
    }
}
