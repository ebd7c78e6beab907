import Glibc

/// DDU's feature-space density (Mukhoti et al., "Deep Deterministic Uncertainty"): one Gaussian
/// per class, fitted to a network's feature output ("features", after global average pooling) on
/// the training data, in double precision.
///
/// - Mean and full covariance per class, with the unbiased 1/(n_c − 1) estimator.
/// - Covariances may be singular: ε·I is added with ε tried in DDU's order 0, 2.2e-308 (the
///   smallest normal double), 1e-308, 1e-307, …, 1e-1 until every class's Cholesky factorisation
///   succeeds. One ε serves all classes, as in DDU; the fitted object records it.
/// - log p_c(z) = −½(D·log 2π + ‖L⁻¹(z − μ_c)‖²) − Σ log L_ii, through the Cholesky factor L of
///   (Σ_c + ε·I): triangular solves only, never an explicit inverse.
/// - The mixture score is log Σ_c p_c(z) (log-sum-exp, no class prior), DDU's uncertainty score.
public final class FeatureDensity: Sendable {
    /// Where the labels that grouped the training rows came from.
    public enum LabelSource: String, Sendable {
        /// The caller's labels y (as DDU does, with the true labels).
        case given
        /// The network's predictions, because no labels were given.
        case predicted
    }

    /// The named network output the density lives on.
    public let featureOutput: String
    /// The number of input features d of the network it was fitted with.
    public let inputFeatures: Int
    /// The feature dimension D.
    public let dimension: Int
    public let classCount: Int
    /// k × D, row-major.
    public let means: [Double]
    /// k × D × D, as estimated (without the jitter).
    public let covariances: [Double]
    /// Training rows per class.
    public let counts: [Int]
    /// The ε added to every covariance's diagonal.
    public let jitter: Double
    public let labelSource: LabelSource
    /// k × D × D lower-triangular Cholesky factors of Σ_c + ε·I.
    let factors: [Double]
    /// −½·D·log 2π − Σ_i log L_ii per class.
    let logNormalisers: [Double]

    /// DDU's jitters, in the order it tries them.
    public static let jitterSequence: [Double] = [0, Double.leastNormalMagnitude] + (-308 ... -1).map { Double("1e\($0)")! }

    /// A density from its statistics. With `jitter` nil, ε is searched as in DDU; with a value
    /// (a loaded file), the factorisation must succeed with exactly that ε.
    public init(featureOutput: String, inputFeatures: Int, dimension: Int, means: [Double], covariances: [Double],
                counts: [Int], jitter: Double?, labelSource: LabelSource) throws {
        let k = counts.count
        guard dimension > 0, k > 0 else { throw CFXError(.invalidArgument, "density: needs at least one class and one feature dimension") }
        guard means.count == k * dimension, covariances.count == k * dimension * dimension else {
            throw CFXError(.shape, "density: means hold \(means.count) values and covariances \(covariances.count), expected \(k) × \(dimension) and \(k) × \(dimension) × \(dimension)")
        }
        try requireFinite(means, "means")
        try requireFinite(covariances, "covariances")
        let candidates: [Double]
        if let jitter {
            guard jitter >= 0, jitter.isFinite else { throw CFXError(.invalidArgument, "jitter: must be a finite number >= 0, got \(jitter)") }
            candidates = [jitter]
        } else {
            candidates = Self.jitterSequence
        }
        var found: (Double, [Double])?
        var previous: Double?
        for epsilon in candidates {
            // A jitter too small to change any diagonal element gives the very same matrices as the
            // last attempt, which failed: skip the factorisation (the outcome is identical).
            if let previous, Self.sameDiagonals(covariances, k: k, dimension: dimension, previous, epsilon) { continue }
            previous = epsilon
            if let factors = Self.choleskyAll(covariances, k: k, dimension: dimension, jitter: epsilon) {
                found = (epsilon, factors)
                break
            }
        }
        guard let (epsilon, factors) = found else {
            if let jitter {
                throw CFXError(.numeric, "density: a covariance is not positive definite with the recorded jitter \(jitter)")
            }
            throw CFXError(.numeric, "density: a class covariance is not positive definite even with jitter 0.1 (are the features finite and varied?)")
        }
        self.featureOutput = featureOutput
        self.inputFeatures = inputFeatures
        self.dimension = dimension
        self.classCount = k
        self.means = means
        self.covariances = covariances
        self.counts = counts
        self.jitter = epsilon
        self.labelSource = labelSource
        self.factors = factors
        let halfLogTwoPi = 0.5 * log(2 * Double.pi)
        self.logNormalisers = (0..<k).map { c in
            var logDet = 0.0
            for i in 0..<dimension { logDet += log(factors[c * dimension * dimension + i * dimension + i]) }
            return -Double(dimension) * halfLogTwoPi - logDet
        }
    }

    private static func sameDiagonals(_ covariances: [Double], k: Int, dimension n: Int, _ a: Double, _ b: Double) -> Bool {
        for c in 0..<k {
            for i in 0..<n {
                let v = covariances[c * n * n + i * n + i]
                if v + a != v + b { return false }
            }
        }
        return true
    }

    /// Cholesky factors of every class's Σ + ε·I, or nil when one is not positive definite.
    private static func choleskyAll(_ covariances: [Double], k: Int, dimension n: Int, jitter: Double) -> [Double]? {
        var factors = [Double](repeating: 0, count: k * n * n)
        for c in 0..<k {
            var matrix = Array(covariances[c * n * n..<(c + 1) * n * n])
            for i in 0..<n { matrix[i * n + i] += jitter }
            guard let factor = cholesky(matrix, n) else { return nil }
            factors.replaceSubrange(c * n * n..<(c + 1) * n * n, with: factor)
        }
        return factors
    }

    // MARK: Fitting

    /// Fits the density on `data`: the network's `featureOutput` over all rows (batched, on
    /// `threads` threads), grouped by `data.labels`, or by the network's predictions when there
    /// are none. Every class needs at least 2 rows.
    public static func fit(network: Network, featureOutput: String, data: Dataset, threads: Int) throws -> FeatureDensity {
        guard data.features == network.featureCount else {
            throw CFXError(.shape, "x has \(data.features) features per row, the model expects \(network.featureCount)")
        }
        let buffer = try network.outputBuffer(featureOutput)
        let last = network.bufferShapes.count - 1
        let D = network.bufferShapes[buffer].reduce(1, *)
        let k = network.classCount
        let needPredictions = data.labels == nil
        let (features, predictions) = try computeFeatures(network: network, buffer: needPredictions ? last : buffer, featureBuffer: buffer,
                                                          data: data, threads: threads, predict: needPredictions)
        let labels = data.labels ?? predictions
        var grouped = [[Int]](repeating: [], count: k)
        for (r, c) in labels.enumerated() { grouped[c].append(r) }
        let rowsOfClass = grouped
        for c in 0..<k where rowsOfClass[c].count < 2 {
            let source = needPredictions ? "predicted as" : "labelled"
            throw CFXError(.invalidArgument, "y: class \(c) has \(rowsOfClass[c].count) training rows \(source) it; a Gaussian with a covariance needs at least 2")
        }
        let statistics = try parallelMap(count: k, threads: threads) { c -> ([Double], [Double]) in
            classStatistics(features, D, rowsOfClass[c])
        }
        return try FeatureDensity(featureOutput: featureOutput, inputFeatures: network.featureCount, dimension: D,
                                  means: statistics.flatMap(\.0), covariances: statistics.flatMap(\.1),
                                  counts: rowsOfClass.map(\.count), jitter: nil, labelSource: needPredictions ? .predicted : .given)
    }

    /// Mean and covariance (1/(n−1)) of the rows `members` of `features` (rows × D).
    private static func classStatistics(_ features: [Double], _ D: Int, _ members: [Int]) -> ([Double], [Double]) {
        var mean = [Double](repeating: 0, count: D)
        for r in members { for j in 0..<D { mean[j] += features[r * D + j] } }
        for j in 0..<D { mean[j] /= Double(members.count) }
        var covariance = [Double](repeating: 0, count: D * D)
        var centred = [Double](repeating: 0, count: D)
        for r in members {
            for j in 0..<D { centred[j] = features[r * D + j] - mean[j] }
            for i in 0..<D {
                let ci = centred[i]
                for j in i..<D { covariance[i * D + j] += ci * centred[j] }
            }
        }
        let scale = 1 / Double(members.count - 1)
        for i in 0..<D {
            for j in i..<D {
                covariance[i * D + j] *= scale
                covariance[j * D + i] = covariance[i * D + j]
            }
        }
        return (mean, covariance)
    }

    /// The feature output (rows × D) of every row and, when asked, the predicted class of each.
    static func computeFeatures(network: Network, buffer through: Int, featureBuffer: Int, data: Dataset, threads: Int,
                                predict: Bool) throws -> ([Double], [Int]) {
        let D = network.bufferShapes[featureBuffer].reduce(1, *)
        let k = network.classCount
        let last = network.bufferShapes.count - 1
        let batch = min(64, network.rowsPerPass)
        let chunkCount = min(data.rows, max(1, (threads > 0 ? threads : availableCores()) * 4))
        let chunkSize = (data.rows + chunkCount - 1) / chunkCount
        let d = data.features
        let chunks = try parallelMap(count: chunkCount, threads: threads) { chunk -> ([Double], [Int]) in
            let start = chunk * chunkSize
            let end = min(data.rows, start + chunkSize)
            guard start < end else { return ([], []) }
            let evaluator = NetworkEvaluator(network)
            var features: [Double] = []
            features.reserveCapacity((end - start) * D)
            var predictions: [Int] = []
            var row = start
            while row < end {
                let rows = min(batch, end - row)
                data.x.withUnsafeBufferPointer { all in
                    evaluator.forward(UnsafeBufferPointer(rebasing: all[row * d..<(row + rows) * d]), rows: rows, through: through)
                }
                features.append(contentsOf: evaluator.value(featureBuffer))
                if predict {
                    let proba = evaluator.value(last)
                    for r in 0..<rows {
                        var best = 0
                        for c in 1..<k where proba[r * k + c] > proba[r * k + best] { best = c }
                        predictions.append(best)
                    }
                }
                row += rows
            }
            return (features, predictions)
        }
        let features = chunks.flatMap(\.0)
        try requireFinite(features, "features")
        return (features, chunks.flatMap(\.1))
    }

    // MARK: Log densities

    /// log p_c(z) of one feature vector for every class.
    public func logDensities(_ z: UnsafeBufferPointer<Double>) -> [Double] {
        var work = [Double](repeating: 0, count: dimension)
        return (0..<classCount).map { logDensity(z, class: $0, work: &work) }
    }

    /// log p_c(z) for one class; `work` (D doubles) receives w = L⁻¹(z − μ_c).
    public func logDensity(_ z: UnsafeBufferPointer<Double>, class c: Int, work w: inout [Double]) -> Double {
        let n = dimension
        let mean = c * n
        for i in 0..<n { w[i] = z[i] - means[mean + i] }
        factors.withUnsafeBufferPointer { f in
            forwardSubstitute(f.baseAddress! + c * n * n, n, &w)
        }
        var squared = 0.0
        for i in 0..<n { squared += w[i] * w[i] }
        return logNormalisers[c] - 0.5 * squared
    }

    /// log p_c(z) and its gradient −(Σ_c + εI)⁻¹(z − μ_c) with respect to z, written to `gradient`.
    public func logDensityAndGradient(_ z: UnsafeBufferPointer<Double>, class c: Int, gradient: inout [Double]) -> Double {
        let n = dimension
        let value = logDensity(z, class: c, work: &gradient)
        factors.withUnsafeBufferPointer { f in
            backSubstituteTransposed(f.baseAddress! + c * n * n, n, &gradient)
        }
        for i in 0..<n { gradient[i] = -gradient[i] }
        return value
    }

    /// log Σ_c exp(log p_c): DDU's density score (no class prior).
    public static func logSumExp(_ values: [Double]) -> Double {
        guard let top = values.max(), top.isFinite else { return values.max() ?? -.infinity }
        var sum = 0.0
        for v in values { sum += exp(v - top) }
        return top + log(sum)
    }

    /// Per-class log densities (rows × k) of feature vectors (rows × D).
    public func logDensities(features: [Double], rows: Int) throws -> [Double] {
        guard features.count == rows * dimension else {
            throw CFXError(.shape, "features hold \(features.count) values, expected \(rows) rows × \(dimension) (the density's dimension)")
        }
        try requireFinite(features, "features")
        var out: [Double] = []
        out.reserveCapacity(rows * classCount)
        features.withUnsafeBufferPointer { all in
            for r in 0..<rows { out += logDensities(UnsafeBufferPointer(rebasing: all[r * dimension..<(r + 1) * dimension])) }
        }
        return out
    }

    /// Per-class log densities (rows × k) of inputs (rows × d) through the network's feature output.
    public func logDensities(network: Network, inputs: [Double], rows: Int, threads: Int) throws -> [Double] {
        try check(network: network)
        let data = try Dataset(x: inputs, rows: rows, features: network.featureCount, labels: nil, classCount: network.classCount)
        let buffer = try network.outputBuffer(featureOutput)
        let (features, _) = try Self.computeFeatures(network: network, buffer: buffer, featureBuffer: buffer, data: data,
                                                     threads: threads, predict: false)
        return try logDensities(features: features, rows: rows)
    }

    /// Checks that `network` has this density's feature output with the right size.
    public func check(network: Network) throws {
        let buffer: Int
        do { buffer = try network.outputBuffer(featureOutput) } catch let error as CFXError {
            throw CFXError(.invalidArgument, "feature_output: \(error.message)")
        }
        let size = network.bufferShapes[buffer].reduce(1, *)
        guard size == dimension else {
            throw CFXError(.shape, "density: fitted on \(dimension) features of \"\(featureOutput)\", the model's output has \(size)")
        }
        guard network.featureCount == inputFeatures, network.classCount == classCount else {
            throw CFXError(.shape, "density: fitted for a model with \(inputFeatures) inputs and \(classCount) classes, this one has \(network.featureCount) and \(network.classCount)")
        }
    }
}

// MARK: Dense linear algebra (row-major, n × n)

/// The lower-triangular Cholesky factor L (L·Lᵀ = a), or nil when a pivot is not positive.
public func cholesky(_ a: [Double], _ n: Int) -> [Double]? {
    var l = [Double](repeating: 0, count: n * n)
    for j in 0..<n {
        var diagonal = a[j * n + j]
        for p in 0..<j { diagonal -= l[j * n + p] * l[j * n + p] }
        guard diagonal > 0, diagonal.isFinite else { return nil }
        let pivot = diagonal.squareRoot()
        l[j * n + j] = pivot
        for i in (j + 1)..<max(j + 1, n) {
            var value = a[i * n + j]
            for p in 0..<j { value -= l[i * n + p] * l[j * n + p] }
            l[i * n + j] = value / pivot
        }
    }
    return l
}

/// Solves L·w = b in place (L lower triangular, row-major).
func forwardSubstitute(_ l: UnsafePointer<Double>, _ n: Int, _ b: inout [Double]) {
    for i in 0..<n {
        var value = b[i]
        let row = l + i * n
        for p in 0..<i { value -= row[p] * b[p] }
        b[i] = value / row[i]
    }
}

/// Solves Lᵀ·v = b in place.
func backSubstituteTransposed(_ l: UnsafePointer<Double>, _ n: Int, _ b: inout [Double]) {
    for i in stride(from: n - 1, through: 0, by: -1) {
        var value = b[i]
        for p in (i + 1)..<max(i + 1, n) { value -= l[p * n + i] * b[p] }
        b[i] = value / l[i * n + i]
    }
}

/// A fitted density seen through its network, for the metrics' plausibility: log p_t(x) of an
/// input x is the class-t Gaussian's log density of the network's features of x.
public struct NetworkDensity: ClassConditionalDensity {
    public let density: FeatureDensity
    public let network: Network

    public init(_ density: FeatureDensity, network: Network) throws {
        try density.check(network: network)
        self.density = density
        self.network = network
    }

    public func logDensity(_ x: [Double], classIndex: Int) throws -> Double {
        try density.logDensities(network: network, inputs: x, rows: 1, threads: 1)[classIndex]
    }
}
