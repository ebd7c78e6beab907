/// Feature Tweaking's parameters (the search: FeatureTweaking.swift).
public struct FeatureTweakingParams: Sendable, Equatable {
    public var targetClass = TargetClass.other
    /// ε: how far past a threshold a tweaked feature goes (the original code's default, 0.01).
    public var epsilon = PerFeature.all(0.01)
    public var distance = TweakDistance.l2
    public var constraints = ConstraintOptions(featureRange: -1e10, 1e10)
    /// Only `sparsify` is a key (no gradient to repair with: FeatureTweaking+Sparsify.swift).
    public var refinement = RefinementOptions()
    /// The threshold-aware shrink after the search (TreeShrink.swift); off by default.
    public var shrink = false

    public init() {}
}

/// The cost a counterfactual minimises among the candidates (Feature Tweaking, FOCUS).
public enum TweakDistance: String, Sendable, CaseIterable {
    case l2, l1

    public func between(_ a: [Double], _ b: [Double]) -> Double {
        switch self {
        case .l1: return zip(a, b).reduce(0) { $0 + abs($1.0 - $1.1) }
        case .l2: return zip(a, b).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
        }
    }
}

public enum FeatureTweakingMethod: CounterfactualMethod {
    public static let name = "feature_tweaking"
    public static var defaults: FeatureTweakingParams { FeatureTweakingParams() }

    public static let parameters: [Parameter<FeatureTweakingParams>] = [
        .targetClass("target_class", \.targetClass, allowsSame: false,
                     "`\"other\"` (every class but the original; the closest counterfactual of any) or a class index"),
        .perFeature("epsilon", \.epsilon, .each(.above(0)),
                    "ε: a tweaked feature goes this far past the threshold it must pass (number or per feature)"),
        .choice("distance", \.distance, "the cost the closest candidate minimises: `\"l2\"` (Euclidean) or `\"l1\"`"),
    ] + ConstraintOptions.rows(\.constraints) + [RefinementOptions.sparsifyRow(\.refinement), ThresholdShrink.row(\.shrink)]

    public static func check(_ params: FeatureTweakingParams, model: Classifier) throws {
        _ = try FeatureTweakingExplainer(model: model, params: params)
    }

    /// No warning for an instance outside feature_range: it is not clipped; only its tweaks must
    /// lie in the range.
    public static func inputRange(_ params: FeatureTweakingParams, featureCount d: Int) -> (lower: [Double], upper: [Double])? { nil }

    /// Nothing to fit: the trees' paths are read when the explainer is made.
    public static func prepare(_ params: FeatureTweakingParams, model: Classifier, inputs: MethodInputs, seed: Int,
                               threads: Int) throws -> FeatureTweakingExplainer {
        try FeatureTweakingExplainer(model: model, params: params)
    }
}
