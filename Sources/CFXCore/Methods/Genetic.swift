/// A model-agnostic genetic search in the manner of DiCE's genetic explainer (Mothilal et al.,
/// dice_ml `DiceGenetic`, after GeCo, Schleich et al. 2021). It only predicts, so it serves any
/// classifier: callbacks, native networks, tree ensembles. A candidate y of the instance x (in the
/// ordinal space: one gene per numerical feature and per categorical variable) has the loss
///
///     loss(y) = max(0, max_{c≠t} p_c(y) − p_t(y))                        hinge on the target t
///             + proximity_weight · Σ_j w_j |y_j − x_j| / R_j / Σ_j w_j   numerical features j
///             + sparsity_weight · #{j : y_j ≠ x_j} / #genes
///
/// with w_j = 1 / MAD_j (training rows; 1 where the MAD is 0 or there are none) and R_j the width
/// of the feature's range. Each generation is scored by ONE batched predict; the n fittest are kept
/// and the rest of the next generation are children of two parents drawn from the fitter half, each
/// gene from either parent (0.4 each), back to the instance's value (0.1) or drawn anew in its range (0.1). The search stops after
/// `maxiterations` generations, or after `GeneticSearch.patience` generations in a row whose best
/// loss moved by at most `thresh` while the n fittest were valid. Deliberate differences from DiCE:
/// docs/methods/genetic.md.
public final class GeneticExplainer: BatchExplainer, Sendable {
    public let model: Classifier
    public let params: GeneticParams
    let layout: CategoricalLayout
    let constraints: Constraints
    /// The box each model column's new values are drawn from (feature_range, else the training
    /// rows' span); unused for categorical columns.
    let box: (lower: [Double], upper: [Double])
    /// Per gene: the proximity coefficient w_j / R_j / Σ w (0 for a categorical variable).
    let proximityCoefficients: [Double]
    /// Model-space units of the set's diversity and the sparsity order (`featureScales`).
    let scales: [Double]
    /// Training rows (ordinal) and the model's class of each, for the "kdtree" initialisation.
    let training: (ordinal: [[Double]], classes: [Int])?
    let seed: UInt64

    /// The config's checks (no training rows: the ranges feature_range leaves open are not required yet).
    public convenience init(model: Classifier, params: GeneticParams) throws {
        try self.init(model: model, params: params, training: nil, seed: 0, requireRanges: false)
    }

    public init(model: Classifier, params: GeneticParams, training: Dataset?, seed: Int, requireRanges: Bool = true) throws {
        try model.requireExplainable()
        let d = model.featureCount
        try GeneticMethod.parameters.check(params, ModelShape(model))
        let layout = try CategoricalLayout(variables: params.catVars, oneHot: params.ohe, modelFeatures: d)
        let constraints = try Constraints(params.constraints, featureCount: d)
        for m in constraints.monotone where layout.variableOfOrdinal[layout.ordinalColumn(ofModelColumn: m.feature)] >= 0 {
            throw CFXError.config(ConstraintOptions.monotoneKey, "feature \(m.feature) is categorical; categories have no direction")
        }
        if let training, training.features != d {
            throw CFXError(.shape, "x_train has \(training.features) features, the model \(d)")
        }
        self.model = model
        self.params = params
        self.layout = layout
        self.constraints = constraints
        self.seed = UInt64(seed)
        box = try Self.samplingBox(constraints, layout: layout, training: training, required: requireRanges)
        scales = featureScales(lower: box.lower, upper: box.upper, training: training)
        proximityCoefficients = Self.proximityCoefficients(layout: layout, box: box, mads: training?.medianAbsoluteDeviations())
        self.training = try training.map { try Self.classified($0, model: model, layout: layout) }
    }

    public func explain(_ instances: [Double], rows: Int, threads: Int, control: RunControl = RunControl()) throws -> [GeneticExplanation] {
        try explainRows(instances, rows: rows, model: model, threads: threads, control: control) { x, cancellation in
            try self.explainOne(x, cancellation: cancellation)
        }
    }

    func explainOne(_ x: [Double], cancellation: Cancellation) throws -> GeneticExplanation {
        let started = monotonicSeconds()
        var search = try GeneticSearch(explainer: self, instance: x, cancellation: cancellation)
        var explanation = GeneticExplanation(origClass: search.factual.predicted, origProba: search.factual.proba)
        let archive = try search.run()
        explanation.generations = search.generations
        try search.finish(&explanation, from: archive)
        explanation.stats = SearchStats(predictCalls: search.session.predictCalls, predictedRows: search.session.predictedRows,
                                        gradientEvaluations: 0, seconds: monotonicSeconds() - started)
        return explanation
    }

    // MARK: The loss

    /// The hinge on the target: how far the most probable other class lies above the target's
    /// probability (0 once the target is the most probable).
    static func hinge(_ p: ArraySlice<Double>, target t: Int) -> Double {
        var other = -Double.infinity
        for c in p.indices where c - p.startIndex != t { other = max(other, p[c]) }
        return max(0, other - p[p.startIndex + t])
    }

    /// The proximity term of genes `y` (ordinal) from the instance `x`.
    func proximity(_ y: [Double], _ x: [Double]) -> Double {
        var total = 0.0
        for j in y.indices where proximityCoefficients[j] > 0 { total += proximityCoefficients[j] * abs(y[j] - x[j]) }
        return total
    }

    /// Genes changed from the instance (a categorical variable counts once).
    static func changed(_ y: [Double], _ x: [Double]) -> Int {
        var count = 0
        for j in y.indices where y[j] != x[j] { count += 1 }
        return count
    }

    /// The whole loss of genes `y` with probabilities `p` toward target `t`.
    func loss(_ y: [Double], _ x: [Double], proba p: ArraySlice<Double>, target t: Int) -> Double {
        let sparsity = Double(Self.changed(y, x)) / Double(max(y.count, 1))
        return Self.hinge(p, target: t) + params.proximityWeight * proximity(y, x) + params.sparsityWeight * sparsity
    }
}

/// A counterfactual of the genetic search: its point (the model's input space), class,
/// probabilities, loss, proximity term and changed features (a categorical variable counts once).
public struct GeneticCandidate: Sendable {
    public let x: [Double]
    public let predictedClass: Int
    public let proba: [Double]
    public let loss: Double
    public let proximity: Double
    public let changed: Int
    /// Features the sparsity pass put back to the instance's values (nil: no pass).
    public var restored: Int? = nil
}

public struct GeneticExplanation: Sendable {
    /// The fittest valid candidate, or nil when no generation held one.
    public var cf: GeneticCandidate?
    /// With n_counterfactuals > 1: the diverse set (`cf` first), and its det K.
    public var cfs: [GeneticCandidate]?
    public var diversity: Double?
    public let origClass: Int
    public let origProba: [Double]
    /// Generations scored.
    public var generations = 0
    public var stats = SearchStats()
    public var success: Bool { cf != nil }

    init(origClass: Int, origProba: [Double]) {
        self.origClass = origClass
        self.origProba = origProba
    }
}
