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
    /// Categorical variables (alibi's `cat_vars` {column: categories}): with one-hot encoding,
    /// columns column..<column+categories hold one category each; with ordinal encoding, the one
    /// column holds a category index 0..<categories.
    public var categorical: [CategoricalVariable] = []
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
