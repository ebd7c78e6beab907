/// Quality and cost metrics of counterfactuals (issue 8). For instance x and counterfactual x'
/// (d features), with the model's predicted class c(·) and probabilities p(·):
///
/// - validity: c(x') = t for a target class t, c(x') ≠ c(x) for "other", c(x') = c(x) for
///   "same"; with a target probability p*, also p_t(x') ≥ p* (t for "other" is the most
///   probable class other than c(x) at x'). A missing counterfactual is invalid.
/// - proximity: L1 = Σ_j |x'_j − x_j|, L2 = (Σ_j (x'_j − x_j)²)^½ and, with training data X,
///   L1-MAD = Σ_j |x'_j − x_j| / MAD_j with MAD_j = median_i |X_ij − median(X_j)| (Wachter et
///   al.); a feature with MAD_j = 0 is divided by `madZeroScale` (1 by default) instead.
/// - sparsity: L0 = #{j : |x'_j − x_j| > sparsityTol}.
/// - plausibility: the L2 (or L1) distance from x' to the nearest training point of class
///   c(x') (classes from the given labels, or the model's predictions); ‖AE(x') − x'‖² with an
///   autoencoder; log q(x' | t) with a class-conditional density (a hook, see
///   `ClassConditionalDensity`).
/// - constraints: x' inside the feature range (± constraintTol), immutable features exactly
///   equal to x's, monotone features moved only in their direction (x'_j ≥ x_j for
///   increase-only, exactly), every categorical group a valid category.
/// - cost: seconds, model calls and gradient evaluations, as the explanations report them.
///
/// Missing counterfactuals (rows of NaN) count as invalid and are left out of every other
/// statistic except cost.

/// The norm of the nearest-neighbour distance (plausibility).
public enum PlausibilityNorm: String, Sendable, CaseIterable { case l2, l1 }

/// The instances that distance, sparsity, plausibility and constraint statistics summarise:
/// every counterfactual found, or only the valid ones.
public enum SummaryPopulation: String, Sendable, CaseIterable { case found, valid }

/// A categorical feature: with one-hot encoding, columns start..<start+count hold one category
/// each; with ordinal encoding, column `start` holds a category index 0..<count (alibi's
/// `cat_vars` {start: count}).
public struct CategoricalGroup: Sendable, Equatable {
    public let start: Int
    public let count: Int
    public init(start: Int, count: Int) {
        self.start = start
        self.count = count
    }
}

/// The log density of a point under one class's fitted density (DDU's Gaussian discriminant
/// analysis on a feature extractor). The hook for the density objects another part of cfx
/// provides: give one to `CounterfactualEvaluator` and `logDensity` is filled with
/// log q(x' | t) for the target class t.
public protocol ClassConditionalDensity: Sendable {
    func logDensity(_ x: [Double], classIndex: Int) throws -> Double
}

/// Options that do not change from one batch to the next.
public struct EvaluationOptions: Sendable {
    /// [min, max] per feature; nil checks no range.
    public var featureRange: (lower: PerFeature, upper: PerFeature)?
    public var immutable: [Int] = []
    /// Features that may only increase or only decrease.
    public var monotone: [MonotoneFeature] = []
    public var categorical: [CategoricalGroup] = []
    /// Whether categorical groups are one-hot (true) or ordinal columns (false).
    public var oneHot = true
    /// A feature counts as changed when |x'_j − x_j| > sparsityTol.
    public var sparsityTol = 1e-6
    /// Slack of the range and category checks (immutable features are compared exactly).
    public var constraintTol = 0.0
    public var plausibilityNorm = PlausibilityNorm.l2
    /// The divisor of a feature whose MAD is 0.
    public var madZeroScale = 1.0
    public var summariseOver = SummaryPopulation.found
    /// Threads for the nearest-neighbour search (0 = all cores).
    public var threads = 0

    public init() {}
}

/// What one batch is measured against: the target class (one for all, or one per instance), an
/// optional target probability, and optionally the cost each explanation reported.
public struct EvaluationRequest: Sendable {
    public var targets: [TargetClass]
    public var targetProba: Double?
    public var costs: [InstanceCost]?

    public init(targets: [TargetClass] = [.other], targetProba: Double? = nil, costs: [InstanceCost]? = nil) {
        self.targets = targets
        self.targetProba = targetProba
        self.costs = costs
    }
}

/// What finding one counterfactual cost; NaN when unknown.
public struct InstanceCost: Sendable, Equatable {
    public var seconds: Double
    public var modelCalls: Double
    public var gradientEvaluations: Double
    public init(seconds: Double = .nan, modelCalls: Double = .nan, gradientEvaluations: Double = .nan) {
        self.seconds = seconds
        self.modelCalls = modelCalls
        self.gradientEvaluations = gradientEvaluations
    }
}

/// The metrics of one instance. Values that do not apply are NaN (numbers) or nil.
public struct InstanceMetrics: Sendable {
    public var found = false
    public var origClass = 0
    public var cfClass: Int?
    /// The class validity is judged against (for "other": the most probable class ≠ c(x) at x').
    public var targetClass: Int?
    public var valid = false
    public var targetProba = Double.nan
    public var l1 = Double.nan
    public var l2 = Double.nan
    public var l1MAD = Double.nan
    public var l0 = Double.nan
    public var nnDistance = Double.nan
    /// The nearest training point's row (the smallest index among equally near points).
    public var nnIndex: Int?
    public var aeError = Double.nan
    public var logDensity = Double.nan
    public var inRange: Bool?
    public var immutableOK: Bool?
    public var monotoneOK: Bool?
    public var categoriesOK: Bool?
    public var cost = InstanceCost()

    public var constraintsOK: Bool? {
        guard let inRange, let immutableOK, let monotoneOK, let categoriesOK else { return nil }
        return inRange && immutableOK && monotoneOK && categoriesOK
    }
}

/// The metrics a batch reports, in output order. `rawValue` is the JSON and Python key.
public enum Metric: String, Sendable, CaseIterable {
    case validity, targetProba = "target_proba", l1, l2, l1MAD = "l1_mad", l0
    case nnDistance = "nn_distance", aeError = "ae_error", logDensity = "log_density"
    case inRange = "in_range", immutableOK = "immutable_ok", monotoneOK = "monotone_ok", categoriesOK = "categories_ok"
    case constraintsOK = "constraints_ok"
    case seconds, modelCalls = "model_calls", gradientEvaluations = "gradient_evaluations"

    /// Whether the per-instance values are true/false (their mean is a rate).
    public var isBoolean: Bool {
        switch self {
        case .validity, .inRange, .immutableOK, .monotoneOK, .categoriesOK, .constraintsOK: return true
        default: return false
        }
    }

    /// The value of this metric for one instance (booleans as 0/1), NaN when it does not apply.
    public func value(_ m: InstanceMetrics) -> Double {
        func flag(_ b: Bool?) -> Double { b.map { $0 ? 1 : 0 } ?? .nan }
        switch self {
        case .validity: return m.valid ? 1 : 0
        case .targetProba: return m.targetProba
        case .l1: return m.l1
        case .l2: return m.l2
        case .l1MAD: return m.l1MAD
        case .l0: return m.l0
        case .nnDistance: return m.nnDistance
        case .aeError: return m.aeError
        case .logDensity: return m.logDensity
        case .inRange: return flag(m.inRange)
        case .immutableOK: return flag(m.immutableOK)
        case .monotoneOK: return flag(m.monotoneOK)
        case .categoriesOK: return flag(m.categoriesOK)
        case .constraintsOK: return flag(m.constraintsOK)
        case .seconds: return m.cost.seconds
        case .modelCalls: return m.cost.modelCalls
        case .gradientEvaluations: return m.cost.gradientEvaluations
        }
    }
}

/// The metrics of a batch: per instance, and summarised per metric.
public struct CounterfactualMetrics: Sendable {
    public let instances: [InstanceMetrics]
    /// Each feature's MAD over the training data (nil without training data).
    public let mad: [Double]?
    public let summariseOver: SummaryPopulation

    public var foundCount: Int { instances.filter(\.found).count }
    public var validCount: Int { instances.filter(\.valid).count }

    /// The values of `metric`, one per instance, NaN where it does not apply.
    public func values(_ metric: Metric) -> [Double] { instances.map(metric.value) }

    /// Validity over every instance; cost over every instance that reported it; every other
    /// metric over the counterfactuals found (or only the valid ones, per `summariseOver`).
    public func summary(_ metric: Metric) -> Summary {
        switch metric {
        case .validity, .seconds, .modelCalls, .gradientEvaluations:
            return Summary(values(metric))
        default:
            let included = instances.filter { summariseOver == .found ? $0.found : $0.valid }
            return Summary(included.map(metric.value))
        }
    }
}

/// Training data prepared for the metrics: each point's class and each feature's MAD.
public struct TrainingReference: Sendable {
    public let data: Dataset
    /// Each row's class: the given label, or the model's prediction.
    public let classes: [Int]
    public let mad: [Double]
    /// Row indices per class, in increasing order.
    let rowsByClass: [[Int]]

    public init(data: Dataset, model: Classifier) throws {
        guard data.features == model.featureCount else {
            throw CFXError(.shape, "x_train has \(data.features) features per row, the model expects \(model.featureCount)")
        }
        self.data = data
        if let labels = data.labels {
            classes = labels
        } else {
            let session = ModelSession(model: model)
            var predicted: [Int] = []
            predicted.reserveCapacity(data.rows)
            let chunk = 1024
            var start = 0
            while start < data.rows {
                let rows = min(chunk, data.rows - start)
                let proba = try session.predict(Array(data.x[start * data.features..<(start + rows) * data.features]), rows: rows)
                for r in 0..<rows { predicted.append(argmax(Array(proba[r * model.classCount..<(r + 1) * model.classCount]))) }
                start += rows
            }
            classes = predicted
        }
        var byClass = [[Int]](repeating: [], count: model.classCount)
        for (r, c) in classes.enumerated() { byClass[c].append(r) }
        rowsByClass = byClass
        mad = data.medianAbsoluteDeviations()
    }
}

/// Computes `CounterfactualMetrics` for batches of (instance, counterfactual) pairs against one
/// model, and optionally training data, an autoencoder and a class-conditional density.
public struct CounterfactualEvaluator: Sendable {
    public let model: Classifier
    public let training: TrainingReference?
    public let options: EvaluationOptions
    public var autoencoder: Classifier?
    public var density: ClassConditionalDensity?
    private let lower: [Double]?
    private let upper: [Double]?

    public init(model: Classifier, training: TrainingReference? = nil, options: EvaluationOptions = EvaluationOptions(),
                autoencoder: Classifier? = nil, density: ClassConditionalDensity? = nil) throws {
        let d = model.featureCount
        var bounds: (lower: [Double], upper: [Double])?
        if let range = options.featureRange {
            let constraints = try Constraints(lower: range.lower, upper: range.upper, immutable: options.immutable,
                                              monotone: options.monotone, featureCount: d)
            bounds = (constraints.lower, constraints.upper)
        } else {
            _ = try Constraints(lower: .all(0), upper: .all(0), immutable: options.immutable, monotone: options.monotone, featureCount: d)
        }
        guard options.sparsityTol >= 0, options.sparsityTol.isFinite else {
            throw CFXError.config("sparsity_tol", "must be a finite number >= 0, got \(options.sparsityTol)")
        }
        guard options.constraintTol >= 0, options.constraintTol.isFinite else {
            throw CFXError.config("constraint_tol", "must be a finite number >= 0, got \(options.constraintTol)")
        }
        guard options.madZeroScale > 0, options.madZeroScale.isFinite else {
            throw CFXError.config("mad_zero_scale", "must be a finite number > 0, got \(options.madZeroScale)")
        }
        try requireThreadCount(options.threads)
        var used = [Bool](repeating: false, count: d)
        for group in options.categorical {
            let width = options.oneHot ? group.count : 1
            guard group.start >= 0, group.start < d, group.count >= 1, width <= d - group.start else {
                throw CFXError.config("cat_vars", "group {\(group.start): \(group.count)} does not fit in \(d) features")
            }
            for j in group.start..<group.start + width {
                guard !used[j] else { throw CFXError.config("cat_vars", "groups overlap at feature \(j)") }
                used[j] = true
            }
        }
        if let training, training.data.features != d {
            throw CFXError(.shape, "x_train has \(training.data.features) features per row, the model expects \(d)")
        }
        self.model = model
        self.training = training
        self.options = options
        self.density = density
        self.lower = bounds?.lower
        self.upper = bounds?.upper
        self.autoencoder = nil
        try setAutoencoder(autoencoder)
    }

    /// An autoencoder must map d features to d outputs.
    public mutating func setAutoencoder(_ autoencoder: Classifier?) throws {
        if let autoencoder, autoencoder.featureCount != model.featureCount || autoencoder.classCount != model.featureCount {
            throw CFXError(.shape, "autoencoder: maps \(autoencoder.featureCount) features to \(autoencoder.classCount) outputs, expected \(model.featureCount) to \(model.featureCount)")
        }
        self.autoencoder = autoencoder
    }

    /// Measures `rows` pairs: `x` and `counterfactuals` are rows × d, row-major. A counterfactual
    /// row of NaN means none was found; any other NaN or infinity is an error.
    public func evaluate(x: [Double], counterfactuals xcf: [Double], rows n: Int,
                         _ request: EvaluationRequest = EvaluationRequest()) throws -> CounterfactualMetrics {
        let d = model.featureCount, k = model.classCount
        try model.checkShape(count: x.count, rows: n, features: d, "x")
        try model.checkShape(count: xcf.count, rows: n, features: d, "x_cf")
        if let i = x.firstIndex(where: { !$0.isFinite }) {
            throw CFXError(.numeric, "x: row \(i / d), feature \(i % d) is \(x[i]); only finite numbers are accepted")
        }
        guard request.targets.count == 1 || request.targets.count == n else {
            throw CFXError.config("target_class", "has \(request.targets.count) classes for \(n) instances (give one, or one per instance)")
        }
        for (i, t) in request.targets.enumerated() {
            if case .index(let c) = t, !(0..<k).contains(c) {
                throw CFXError.config(request.targets.count == 1 ? "target_class" : "target_class[\(i)]", "class \(c) is outside 0..<\(k)")
            }
        }
        if let p = request.targetProba, !(0...1).contains(p) {
            throw CFXError.config("target_proba", "must be in [0, 1], got \(p)")
        }
        if let costs = request.costs, costs.count != n {
            throw CFXError(.shape, "meta: has \(costs.count) entries for \(n) instances")
        }

        // Which rows have a counterfactual.
        var foundRows: [Int] = []
        for r in 0..<n {
            let row = xcf[r * d..<(r + 1) * d]
            if row.allSatisfy(\.isNaN) { continue }
            if let j = row.firstIndex(where: { !$0.isFinite }) {
                throw CFXError(.numeric, "x_cf: row \(r), feature \(j - r * d) is \(xcf[j]); a row is either all NaN (no counterfactual) or finite")
            }
            foundRows.append(r)
        }

        let session = ModelSession(model: model)
        let origProba = try session.predict(x, rows: n)
        let cfX = foundRows.flatMap { Array(xcf[$0 * d..<($0 + 1) * d]) }
        let cfProba = foundRows.isEmpty ? [] : try session.predict(cfX, rows: foundRows.count)
        var reconstructions: [Double] = []
        if let autoencoder, !foundRows.isEmpty {
            reconstructions = try ModelSession(model: autoencoder).predict(cfX, rows: foundRows.count)
        }

        var metrics = [InstanceMetrics](repeating: InstanceMetrics(), count: n)
        for r in 0..<n {
            metrics[r].origClass = argmax(Array(origProba[r * k..<(r + 1) * k]))
            if let costs = request.costs { metrics[r].cost = costs[r] }
        }
        for (f, r) in foundRows.enumerated() {
            let orig = Array(x[r * d..<(r + 1) * d])
            let cf = Array(cfX[f * d..<(f + 1) * d])
            let p = Array(cfProba[f * k..<(f + 1) * k])
            var m = metrics[r]
            m.found = true
            let cfClass = argmax(p)
            m.cfClass = cfClass
            let goal = request.targets.count == 1 ? request.targets[0] : request.targets[r]
            let t = goal.resolve(probabilities: p, original: m.origClass)
            m.targetClass = t
            m.targetProba = t >= 0 ? p[t] : .nan
            var classOK: Bool
            switch goal {
            case .other: classOK = cfClass != m.origClass
            case .same: classOK = cfClass == m.origClass
            case .index(let c): classOK = cfClass == c
            }
            if let pStar = request.targetProba, !(t >= 0 && p[t] >= pStar) { classOK = false }
            m.valid = classOK

            var l1 = 0.0, l2 = 0.0, l0 = 0.0, l1MAD = 0.0
            for j in 0..<d {
                let delta = abs(cf[j] - orig[j])
                l1 += delta
                l2 += delta * delta
                if delta > options.sparsityTol { l0 += 1 }
                if let mad = training?.mad { l1MAD += delta / (mad[j] > 0 ? mad[j] : options.madZeroScale) }
            }
            m.l1 = l1
            m.l2 = l2.squareRoot()
            m.l0 = l0
            if training != nil { m.l1MAD = l1MAD }

            if autoencoder != nil {
                var error = 0.0
                for j in 0..<d {
                    let e = reconstructions[f * d + j] - cf[j]
                    error += e * e
                }
                m.aeError = error
            }
            if let density, t >= 0 { m.logDensity = try density.logDensity(cf, classIndex: t) }

            let tol = options.constraintTol
            if let lower, let upper {
                m.inRange = (0..<d).allSatisfy { cf[$0] >= lower[$0] - tol && cf[$0] <= upper[$0] + tol }
            } else {
                m.inRange = true
            }
            m.immutableOK = options.immutable.allSatisfy { cf[$0] == orig[$0] }
            m.monotoneOK = options.monotone.allSatisfy { $0.allows(cf[$0.feature], from: orig[$0.feature]) }
            m.categoriesOK = options.categorical.allSatisfy { validCategory(cf, $0) }
            metrics[r] = m
        }

        if let training {
            let nearest = try parallelMap(count: foundRows.count, threads: options.threads) { [options] f in
                let cf = Array(cfX[f * d..<(f + 1) * d])
                return nearestPoint(to: cf, among: training.rowsByClass[argmax(Array(cfProba[f * k..<(f + 1) * k]))],
                                    in: training.data, norm: options.plausibilityNorm)
            }
            for (f, r) in foundRows.enumerated() {
                if let point = nearest[f] {
                    metrics[r].nnIndex = point.index
                    metrics[r].nnDistance = point.distance
                }
            }
        }
        return CounterfactualMetrics(instances: metrics, mad: training?.mad, summariseOver: options.summariseOver)
    }

    /// One-hot: every column within tol of 0 or 1 and exactly one within tol of 1. Ordinal: within
    /// tol of a whole number in 0..<count.
    private func validCategory(_ x: [Double], _ group: CategoricalGroup) -> Bool {
        let tol = options.constraintTol
        if options.oneHot {
            var ones = 0
            for j in group.start..<group.start + group.count {
                if abs(x[j] - 1) <= tol { ones += 1 } else if abs(x[j]) > tol { return false }
            }
            return ones == 1
        }
        let v = x[group.start]
        let nearest = v.rounded()
        return abs(v - nearest) <= tol && nearest >= 0 && nearest < Double(group.count)
    }
}

/// The nearest of `candidates` (row indices of `data`) to `x`, the smallest index among ties.
func nearestPoint(to x: [Double], among candidates: [Int], in data: Dataset, norm: PlausibilityNorm) -> (index: Int, distance: Double)? {
    var best: (Int, Double)?
    let d = data.features
    data.x.withUnsafeBufferPointer { rows in
        for r in candidates {
            var total = 0.0
            let base = r * d
            switch norm {
            case .l2:
                for j in 0..<d {
                    let e = rows[base + j] - x[j]
                    total += e * e
                }
            case .l1:
                for j in 0..<d { total += abs(rows[base + j] - x[j]) }
            }
            if best == nil || total < best!.1 { best = (r, total) }  // strict: the first of equals stays
        }
    }
    guard let best else { return nil }
    return (best.0, norm == .l2 ? best.1.squareRoot() : best.1)
}
