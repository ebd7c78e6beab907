/// A tree ensemble for cfx's gradient searches (Wachter, ECCCo, sets, sparsify, constraints): it
/// predicts with the real ensemble, so every validity check, loss value and returned probability is
/// the real ensemble's, and its gradient is that of the ensemble relaxed at sharpness σ (FOCUS's
/// sigmoid splits, `RelaxedTreeEnsemble`). Made by cfx_model_convert's "relax_sigma".
public final class TreeEnsembleWithRelaxedGradient: Classifier, @unchecked Sendable {
    public let ensemble: TreeEnsemble
    public let relaxed: RelaxedTreeEnsemble

    public init(_ ensemble: TreeEnsemble, sigma: Double) throws {
        self.ensemble = ensemble
        relaxed = try RelaxedTreeEnsemble(ensemble, sigma: sigma)
    }

    public var featureCount: Int { ensemble.featureCount }
    public var classCount: Int { ensemble.classCount }
    public var hasExactGradient: Bool { true }

    public func makeEvaluator() -> ClassifierEvaluator {
        Evaluator(real: ensemble.makeEvaluator(), relaxed: relaxed.makeEvaluator())
    }

    /// The real ensemble's predictions, the relaxation's pullbacks.
    private final class Evaluator: ClassifierEvaluator {
        let real: ClassifierEvaluator
        let relaxed: ClassifierEvaluator

        init(real: ClassifierEvaluator, relaxed: ClassifierEvaluator) {
            (self.real, self.relaxed) = (real, relaxed)
        }

        func predict(_ x: UnsafeBufferPointer<Double>, rows: Int, into proba: UnsafeMutableBufferPointer<Double>) throws {
            try real.predict(x, rows: rows, into: proba)
        }

        func pullback(at x: UnsafeBufferPointer<Double>, rows: Int, cotangent: UnsafeBufferPointer<Double>,
                      into grad: UnsafeMutableBufferPointer<Double>) throws {
            try relaxed.pullback(at: x, rows: rows, cotangent: cotangent, into: grad)
        }
    }
}

extension Classifier {
    /// The tree ensemble this model is, or predicts with (nil for other models).
    public var treeEnsemble: TreeEnsemble? {
        (self as? TreeEnsemble) ?? (self as? TreeEnsembleWithRelaxedGradient)?.ensemble
    }
}
