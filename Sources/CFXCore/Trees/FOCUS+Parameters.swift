/// FOCUS's parameters (the search: FOCUS.swift). cfx's defaults, tuned on the training rows of a
/// 100-tree random forest (breast cancer; benchmarks/results/trees_forest.md measures them on its
/// test rows); the authors' code's are in the comments and docs/methods/focus.md.
public struct FOCUSParams: Sendable, Equatable, ConstrainedParameters {
    public var targetClass = TargetClass.other
    /// σ: the sigmoid's sharpness at each split, per unit of the feature (the authors' code: 1).
    public var sigma = 3.0
    /// τ: the sharpness of the softmax over the relaxed ensemble's logits (the authors' code: 1).
    public var temperature = 1.0
    /// β: the distance's weight (the authors' code: 0.01).
    public var beta = 0.001
    /// Adam's step size (the authors' code: 0.001).
    public var learningRate = 0.2
    public var maxSteps = 1000
    /// Stop once a valid point is known and this many steps in a row found no closer one (0: take
    /// every step, as the authors' code does).
    public var patience = 60
    /// When no step reaches a target, search once more from x with β = 0 (not in the paper).
    public var retry = true
    /// Relaxed nodes reached with a weight below this are left out (0: none, as in the paper).
    public var cutoff = 0.0
    /// The distance (the authors' code: Euclidean).
    public var distance = TweakDistance.l1
    public var constraints = ConstraintOptions(featureRange: -1e10, 1e10)
    /// Only `sparsify` is a key (restoration on the real ensemble: TreeSparsify.swift; on by
    /// default, before the shrink; not in the paper).
    public var refinement: RefinementOptions = {
        var options = RefinementOptions()
        options.sparsify = true
        return options
    }()
    /// The threshold-aware shrink after the search (TreeShrink.swift; not in the paper).
    public var shrink = true

    public init() {}
}

public enum FOCUSMethod: CounterfactualMethod {
    public static let name = "focus"
    public static var defaults: FOCUSParams { FOCUSParams() }

    public static let parameters: [Parameter<FOCUSParams>] = [
        .targetClass("target_class", \.targetClass, allowsSame: false,
                     "`\"other\"` (the loss lowers the original class's relaxed probability; any other class is valid) or a class index"),
        .number("sigma", \.sigma, RelaxedTreeEnsemble.sigmaConstraint, "σ: each split's sigmoid 1 / (1 + exp(−σ (x_f − θ))), per unit of the feature"),
        .number("temperature", \.temperature, .above(0), "τ: the relaxed ensemble's probabilities are softmax(τ z) of its logits z"),
        .number("beta", \.beta, .atLeast(0), "β: the distance's weight in the loss"),
        .number("learning_rate", \.learningRate, .above(0), "Adam's step size"),
        .integer("max_steps", \.maxSteps, .in(1...1_000_000), "Adam steps at most (the closest valid point is kept)"),
        .integer("patience", \.patience, .in(0...1_000_000),
                 "stop once a valid point is known and this many steps in a row found no closer one (0: take all `max_steps`)"),
        .number("cutoff", \.cutoff, RelaxedTreeEnsemble.cutoffConstraint,
                "leave out the relaxed trees' nodes reached with a weight below this, with their subtrees (0: evaluate every node)"),
        .choice("distance", \.distance, "the distance in the loss and the one the closest valid point minimises: `\"l2\"` or `\"l1\"`"),
        .boolean("retry", \.retry, "when no step reaches a target class, search once more from the instance with β = 0 (the prediction loss alone)"),
    ] + ConstraintOptions.rows(\.constraints) + [RefinementOptions.sparsifyRow(\.refinement), ThresholdShrink.row(\.shrink)]

    public static func check(_ params: FOCUSParams, model: Classifier) throws {
        _ = try FOCUSExplainer(model: model, params: params)
    }

    /// Nothing to fit: the relaxation is built when the explainer is made.
    public static func prepare(_ params: FOCUSParams, model: Classifier, inputs: MethodInputs, seed: Int,
                               threads: Int) throws -> FOCUSExplainer {
        try FOCUSExplainer(model: model, params: params)
    }
}
