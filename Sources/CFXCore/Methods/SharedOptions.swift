/// The option groups every method shares, declared once: each method embeds them in its
/// parameters and puts their rows in its table (`Parameter`), so that a key means the same
/// everywhere and is checked the same way.

/// What a counterfactual may not do: leave the box `feature_range`, change an `immutable`
/// feature, or move a `monotone` feature the wrong way (`Constraints` is their resolved form).
public struct ConstraintOptions: Sendable, Equatable {
    public var featureRangeMin: PerFeature
    public var featureRangeMax: PerFeature
    public var immutable: [Int] = []
    /// Features that may only increase or only decrease from the instance.
    public var monotone: [MonotoneFeature] = []

    /// The group's config keys: its rows and the errors of `Constraints` name them.
    public static let featureRangeKey = "feature_range", immutableKey = "immutable", monotoneKey = "monotone"

    /// The box [lower, upper] for every feature, nothing immutable or monotone.
    public init(featureRange lower: Double, _ upper: Double) {
        featureRangeMin = .all(lower)
        featureRangeMax = .all(upper)
    }

    /// The row `feature_range`: [min, max], each a number or one per feature.
    public static func featureRangeRow<P>(_ path: WritableKeyPath<P, ConstraintOptions>,
                                          doc: String = "`[min, max]`, each a number or one value per feature") -> Parameter<P> {
        Parameter(featureRangeKey, .range(path.appending(path: \.featureRangeMin), path.appending(path: \.featureRangeMax)),
                  constraint: "min <= max", doc)
    }

    /// The row `immutable`: feature indices in 0..<features.
    public static func immutableRow<P>(_ path: WritableKeyPath<P, ConstraintOptions>,
                                       doc: String = "feature indices that never change") -> Parameter<P> {
        let indices = path.appending(path: \.immutable)
        return Parameter(immutableKey, .indices(indices), constraint: "indices in 0..<features", doc) { p, shape in
            p[keyPath: indices].first { !(0..<shape.features).contains($0) }.map { "feature index \($0) is outside 0..<\(shape.features)" }
        }
    }

    /// The row `monotone`: {"feature index": "increase" | "decrease"}, none also immutable.
    public static func monotoneRow<P>(_ path: WritableKeyPath<P, ConstraintOptions>,
                                      doc: String = "`{\"feature index\": \"increase\" | \"decrease\"}`: features that may only move one way") -> Parameter<P> {
        Parameter(monotoneKey, .monotone(path.appending(path: \.monotone)), constraint: "indices in 0..<features, not immutable", doc) { p, shape in
            monotoneProblem(p[keyPath: path].monotone, immutable: p[keyPath: path].immutable, featureCount: shape.features)
        }
    }

    /// The three rows, for methods that list them together.
    public static func rows<P>(_ path: WritableKeyPath<P, ConstraintOptions>) -> [Parameter<P>] {
        [featureRangeRow(path), immutableRow(path), monotoneRow(path)]
    }
}

/// What a method may do after its search: a diverse set of counterfactuals (`n_counterfactuals`,
/// `diversity_weight`: DiverseSet.swift) and the sparsity pass (`sparsify`,
/// `sparsify_repair_steps`: Sparsify.swift).
public struct RefinementOptions: Sendable, Equatable {
    public var nCounterfactuals = 1
    public var diversityWeight = DiversityKernel.defaultWeight
    public var sparsify = false
    public var sparsifyRepairSteps = SparsityPass.defaultRepairSteps

    public init() {}

    /// Whether feature scales are needed (the set's diversity or the sparsity order).
    public var needsScales: Bool { sparsify || nCounterfactuals > 1 }

    /// The rows `n_counterfactuals` and `diversity_weight`.
    public static func setRows<P>(_ path: WritableKeyPath<P, RefinementOptions>) -> [Parameter<P>] {
        [.integer("n_counterfactuals", path.appending(path: \.nCounterfactuals), .in(1...maxCounterfactuals),
                  "size of a diverse set of counterfactuals (1: the single counterfactual only)"),
         .number("diversity_weight", path.appending(path: \.diversityWeight), .atLeast(0),
                 "weight of the set's diversity term (det K)")]
    }

    /// The row `sparsify` alone, for a method without gradients to repair with (Feature Tweaking).
    public static func sparsifyRow<P>(_ path: WritableKeyPath<P, RefinementOptions>) -> Parameter<P> {
        .boolean("sparsify", path.appending(path: \.sparsify),
                 "put changed features back to the instance's values while the counterfactual stays valid")
    }

    /// The rows `sparsify` and `sparsify_repair_steps`.
    public static func sparsityRows<P>(_ path: WritableKeyPath<P, RefinementOptions>) -> [Parameter<P>] {
        [sparsifyRow(path),
         .integer("sparsify_repair_steps", path.appending(path: \.sparsifyRepairSteps), .in(0...SparsityPass.maxRepairSteps),
                  "gradient steps that repair a restoration which broke validity (0: restoration only)")]
    }

    /// The four rows.
    public static func rows<P>(_ path: WritableKeyPath<P, RefinementOptions>) -> [Parameter<P>] {
        setRows(path) + sparsityRows(path)
    }
}

extension Constraints {
    /// The resolved form of `options` for `d` features.
    public init(_ options: ConstraintOptions, featureCount d: Int) throws {
        try self.init(lower: options.featureRangeMin, upper: options.featureRangeMax, immutable: options.immutable,
                      monotone: options.monotone, featureCount: d)
    }
}

extension CategoricalLayout {
    /// The rows `cat_vars` ({"start column": categories}) and `ohe` (one-hot groups), for methods
    /// that take categorical variables (CFProto, genetic); `CategoricalLayout`'s errors name them.
    public static func rows<P>(_ variables: WritableKeyPath<P, [CategoricalVariable]>, _ ohe: WritableKeyPath<P, Bool>) -> [Parameter<P>] {
        [Parameter(CFProtoParams.catVarsKey, .categoricalVariables(variables), "categorical variables `{\"start column\": number of categories}`"),
         Parameter("ohe", .boolean(ohe), constraint: "needs cat_vars", "categorical variables are one-hot encoded") { p, _ in
             p[keyPath: ohe] && p[keyPath: variables].isEmpty ? "is true but cat_vars is empty" : nil
         }]
    }
}
