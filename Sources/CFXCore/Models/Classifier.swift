import Glibc

/// A classifier: `featureCount` inputs in, `classCount` class probabilities out.
///
/// A classifier is immutable and may be shared between threads; each thread works through its own
/// `ClassifierEvaluator`, which owns the scratch memory of a forward and backward pass.
public protocol Classifier: AnyObject, Sendable {
    var featureCount: Int { get }
    var classCount: Int { get }
    /// Whether `ClassifierEvaluator.pullback` is available (a native network, or a callback model
    /// with a vector-Jacobian product). Otherwise cfx differentiates by central differences.
    var hasExactGradient: Bool { get }
    /// Whether the outputs are class probabilities (false for a callback model of plain values,
    /// which serves as an encoder or autoencoder only).
    var isClassifier: Bool { get }
    /// Why the model has no gradient at all, not even a numerical one (a tree ensemble is
    /// piecewise constant), or nil. Gradient searches then fail with this message.
    var gradientUnavailableReason: String? { get }
    func makeEvaluator() -> ClassifierEvaluator
}

/// The predicted class of probabilities `values`: the index of the largest, the first of equal
/// ones (0 when there are none, or when the first is NaN).
public func argmax(_ values: [Double]) -> Int {
    var best = 0
    for i in values.indices where values[i] > values[best] { best = i }
    return best
}

/// softmax(s · z) in place, the largest z subtracted first (s, the sharpness, is 1 for the plain
/// softmax): exp(s (z_c − max z)), then each divided by their sum, added in order.
func softmaxInPlace(_ z: UnsafeMutableBufferPointer<Double>, sharpness s: Double = 1) {
    let top = z.max() ?? 0
    for c in z.indices { z[c] = exp(s * (z[c] - top)) }
    let sum = z.reduce(0, +)
    for c in z.indices { z[c] /= sum }
}

/// One thread's handle on a classifier. Not thread-safe; cheap to create.
public protocol ClassifierEvaluator: AnyObject {
    /// Writes the probabilities of the `rows` rows of `x` (rows × d, row-major) into `proba`
    /// (rows × k).
    func predict(_ x: UnsafeBufferPointer<Double>, rows: Int, into proba: UnsafeMutableBufferPointer<Double>) throws

    /// Writes `grad` (rows × d) = for each row, Σ_j cotangent[j] · ∂proba[j]/∂x: the gradient of
    /// Σ cotangent ⊙ predict(x). Only called when the classifier has an exact gradient.
    func pullback(at x: UnsafeBufferPointer<Double>, rows: Int, cotangent: UnsafeBufferPointer<Double>,
                  into grad: UnsafeMutableBufferPointer<Double>) throws

    /// `predict` of the one row `x`, where the caller will next predict (and may differentiate at)
    /// the row `next`: an evaluator may run both in one pass and keep `next`'s (a search's
    /// candidate and its next step). The probabilities are those of `predict`, bit for bit.
    func predict(_ x: UnsafeBufferPointer<Double>, into proba: UnsafeMutableBufferPointer<Double>,
                 prefetching next: UnsafeBufferPointer<Double>) throws
}

extension ClassifierEvaluator {
    public func predict(_ x: UnsafeBufferPointer<Double>, into proba: UnsafeMutableBufferPointer<Double>,
                        prefetching next: UnsafeBufferPointer<Double>) throws {
        try predict(x, rows: 1, into: proba)
    }
}

extension Classifier {
    public var isClassifier: Bool { true }
    public var gradientUnavailableReason: String? { nil }

    /// Throws a config error unless this model can be explained: a classifier of at least 2 classes.
    public func requireExplainable() throws {
        guard isClassifier else {
            throw CFXError.config("model", "a model of plain values (\"output\": \"values\") can be an encoder or autoencoder, not the classifier a method explains")
        }
        guard classCount >= 2 else {
            throw CFXError.config("model", "a counterfactual needs at least 2 classes, the model has \(classCount)")
        }
    }

    /// Checks that an n × d buffer fits this classifier, naming `what` in the error.
    public func checkShape(count: Int, rows: Int, features: Int, _ what: String = "x") throws {
        guard features == featureCount else {
            throw CFXError(.shape, "\(what) has \(features) features per row, the model expects \(featureCount)")
        }
        let (needed, overflow) = rows.multipliedReportingOverflow(by: features)
        guard !overflow, count == needed else {
            throw CFXError(.shape, "\(what) holds \(count) values, expected \(rows) rows × \(features) features")
        }
    }
}
