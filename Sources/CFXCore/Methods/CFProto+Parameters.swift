/// CFProto's parameters (the loss: CFProto.swift), alibi's defaults: the constructor's, then
/// fit()'s, then explain()'s, then cfx's own.
public struct CFProtoParams: ConstrainedParameters, Sendable, Equatable {
    public var kappa = 0.0
    public var beta = 0.1
    public var gamma = 0.0
    public var theta = 0.0
    /// Categorical variables: start column (in the model's input) → number of categories.
    public var catVars: [CategoricalVariable] = []
    /// The config key of `catVars`: its row and the errors of `CategoricalLayout` name it.
    public static let catVarsKey = "cat_vars"
    public var ohe = false
    public var useKdtree = false
    public var learningRateInit = 1e-2
    public var maxIterations = 1000
    public var cInit = 10.0
    public var cSteps = 10
    /// eps[0] for dL/dp (one per class or one for all), eps[1] for dp/dx (per search feature).
    public var epsProba = PerFeature.all(1e-3)
    public var epsInput = PerFeature.all(1e-3)
    public var clipMin = -1000.0
    public var clipMax = 1000.0
    public var updateNumGrad = 1
    // alibi's explain() arguments.
    /// Classes a prototype (and the counterfactual) may belong to; nil: all but the original.
    public var targetClass: [Int]? = nil
    /// Nearest encodings (or k-d tree points) per prototype; nil: the class mean (encoder), 1 (trees).
    public var k: Int? = nil
    public var kType = "mean"
    public var threshold = 0.0
    // alibi's fit() arguments.
    public var dType = "abdm"
    public var w: Double? = nil
    public var discPerc: [Double] = [25, 50, 75]
    public var standardizeCatVars = false
    public var smooth = 1.0
    public var center = true
    public var updateFeatureRange = true
    // Beyond alibi.
    /// The feature range is in the search space; immutable features are model-input columns (a
    /// column of a one-hot group fixes the whole variable); monotone features may not be categorical.
    public var constraints = ConstraintOptions(featureRange: -1e10, 1e10)
    public var returnAll = true
    /// Diverse sets and the sparsity pass (DiverseSet.swift, Sparsify.swift).
    public var refinement = RefinementOptions()

    public init() {}

    static let maxSteps = 10_000_000

    /// The config key of the value at `path` (errors outside the table name it).
    static func key<V>(_ path: WritableKeyPath<CFProtoParams, V>) -> String { CFProtoMethod.parameters.key(path) }

    /// Whether the prediction term is dropped (alibi's fast mode for black-box models).
    public var predictionTermDropped: Bool { cInit == 0 && cSteps == 1 }

    /// Checks every value against the model: the table's rows, then what depends on the
    /// categorical layout (the search space's features).
    public func validate(featureCount d: Int, classCount k: Int) throws {
        try CFProtoMethod.parameters.check(self, ModelShape(features: d, classes: k))
        _ = try epsProba.resolve(k, "\(CFProtoParams.key(\.epsProba))[0]")
        let layout = try CategoricalLayout(variables: catVars, oneHot: ohe, modelFeatures: d)
        _ = try epsInput.resolve(layout.ordinalFeatures, "\(CFProtoParams.key(\.epsInput))[1]")
        let categoricalColumns = Set(layout.ordinalColumns)
        for m in constraints.monotone where categoricalColumns.contains(layout.ordinalColumn(ofModelColumn: m.feature)) {
            throw CFXError.config(ConstraintOptions.monotoneKey, "feature \(m.feature) is categorical; categories have no direction")
        }
        _ = try constraints.featureRangeMin.resolve(layout.ordinalFeatures, "\(ConstraintOptions.featureRangeKey)[0]")
        _ = try constraints.featureRangeMax.resolve(layout.ordinalFeatures, "\(ConstraintOptions.featureRangeKey)[1]")
    }
}

extension CFProtoMethod {
    // In alibi's order: the constructor's arguments, fit()'s, explain()'s, then cfx's own.
    public static let parameters: [Parameter<CFProtoParams>] = [
        .number("kappa", \.kappa, .atLeast(0), "κ: margin of the prediction term"),
        .number("beta", \.beta, .atLeast(0), "β: weight of the L1 distance"),
        ConstraintOptions.featureRangeRow(\.constraints, doc: "`[min, max]`, numbers or one value per search-space feature"),
        .number("gamma", \.gamma, .atLeast(0), "γ: weight of the autoencoder term"),
        .number("theta", \.theta, .atLeast(0), "θ: weight of the prototype term"),
    ] + CategoricalLayout.rows(\.catVars, \.ohe) + [
        .boolean("use_kdtree", \.useKdtree, "k-d tree prototypes (without an encoder)"),
        .number("learning_rate_init", \.learningRateInit, .above(0), "initial learning rate"),
        .integer("max_iterations", \.maxIterations, .in(1...CFProtoParams.maxSteps), "FISTA iterations per c step"),
        .number("c_init", \.cInit, .atLeast(0), "first c (weight of the prediction term)"),
        .integer("c_steps", \.cSteps, .in(1...1000), "c steps"),
        Parameter("eps", .range(\.epsProba, \.epsInput), constraint: "each > 0",
                  "`[eps for dL/dp (number or per class), eps for dp/dx (number or per feature)]`") { p, shape in
            let positive = ValueConstraint<PerFeature>.each(.above(0))
            return positive.violation(p.epsProba, shape).map { "eps[0] \($0)" } ?? positive.violation(p.epsInput, shape).map { "eps[1] \($0)" }
        },
        Parameter("clip", .pair(\.clipMin, \.clipMax), constraint: "min < max", "gradient clipping range") { p, _ in
            p.clipMin < p.clipMax ? nil : "expected [min, max] with min < max, got [\(p.clipMin), \(p.clipMax)]"
        },
        .integer("update_num_grad", \.updateNumGrad, .in(1...CFProtoParams.maxSteps), "iterations between numerical gradient updates"),
        .text("d_type", \.dType, .oneOf(["abdm", "mvdm", "abdm-mvdm"]), "distance between categories"),
        Parameter("w", .optionalNumber(\.w), constraint: "in [0, 1] with abdm-mvdm", "weight of ABDM in `\"abdm-mvdm\"`") { p, _ in
            guard p.dType == "abdm-mvdm" else { return nil }
            if let w = p.w, (0...1).contains(w) { return nil }
            return "d_type \"abdm-mvdm\" needs a weight w in [0, 1], got \(p.w.map { "\($0)" } ?? "null")"
        },
        .numbers("disc_perc", \.discPerc, each: .in(0...100), "percentiles binning numerical features for ABDM"),
        .boolean("standardize_cat_vars", \.standardizeCatVars, "standardise the category values"),
        .number("smooth", \.smooth, .above(0), "smoothing of the category values' MDS"),
        .boolean("center", \.center, "centre the category values"),
        .boolean("update_feature_range", \.updateFeatureRange, "set the categorical features' range from their values"),
        Parameter("target_class", .optionalIndices(\.targetClass), constraint: "null or classes",
                  "list of classes for the prototype and the counterfactual (null: all but the original)") { p, shape in
            guard let classes = p.targetClass else { return nil }
            guard !classes.isEmpty else { return "must list at least one class (or be null)" }
            return classes.first { !(0..<shape.classes).contains($0) }.map { "class \($0) is outside 0..<\(shape.classes)" }
        },
        .optionalInteger("k", \.k, .atLeast(1), "nearest encodings or points per prototype (null: the class mean, 1 with trees)"),
        .text("k_type", \.kType, .oneOf(["mean", "point"]), "prototype from the mean of the k nearest, or the k-th point"),
        .number("threshold", \.threshold, .atLeast(0), "minimum trust score of a counterfactual (0 = no check)"),
        ConstraintOptions.immutableRow(\.constraints,
                                       doc: "model-input columns that never change (a column of a one-hot group fixes the variable)"),
        ConstraintOptions.monotoneRow(\.constraints),
        .boolean("return_all", \.returnAll, "fill `all`, one list per c step"),
    ] + RefinementOptions.rows(\.refinement)
}
