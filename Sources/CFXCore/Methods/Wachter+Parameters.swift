/// Wachter's parameters (the loss and search: Wachter.swift), alibi's defaults.
public struct WachterParams: ConstrainedParameters, Sendable, Equatable {
    public var targetProba = 1.0
    public var tol = 0.05
    public var targetClass = TargetClass.other
    public var maxIter = 1000
    public var earlyStop = 50
    public var lamInit = 0.1
    public var maxLamSteps = 10
    public var learningRateInit = 0.1
    public var decay = true
    public var constraints = ConstraintOptions(featureRange: -1e10, 1e10)
    public var eps = PerFeature.all(0.01)
    /// Only "identity" (start at x), as in alibi.
    public var initialisation = "identity"
    /// Only "l1", as in alibi.
    public var distanceFunction = "l1"
    /// Fill `all`, per λ round, with counterfactuals met (alibi's `all`).
    public var returnAll = true
    /// What a round of `all` holds: its closest counterfactual (`closest`, cfx's default: one per
    /// round, cheap to write and read) or every step that met the target (`every`, alibi's list).
    public var allCandidates = AllCandidates.closest
    /// Beyond alibi: a diverse set and the sparsity pass (DiverseSet.swift, Sparsify.swift).
    public var refinement = RefinementOptions()

    public init() {}

    /// Bounds max_iter and early_stop, so that a typo cannot start a search that runs for days.
    static let maxSteps = 10_000_000
}

extension WachterMethod {
    public static let parameters: [Parameter<WachterParams>] = [
        .number("target_proba", \.targetProba, .in(0...1), "probability the target class should reach"),
        .number("tol", \.tol, .atLeast(0), "tolerance around `target_proba`"),
        .targetClass("target_class", \.targetClass, allowsSame: true,
                     "`\"other\"` (the most probable class other than the original, chosen anew at every step), `\"same\"`, or a class index"),
        .integer("max_iter", \.maxIter, .in(10...WachterParams.maxSteps), "steps per λ round (the λ sweep runs max_iter/10 steps per order)"),
        .integer("early_stop", \.earlyStop, .in(1...WachterParams.maxSteps), "consecutive steps with, or without, a counterfactual that end a round"),
        .number("lam_init", \.lamInit, .above(0), "largest λ of the sweep"),
        .integer("max_lam_steps", \.maxLamSteps, .in(1...1000), "bisection rounds"),
        .number("learning_rate_init", \.learningRateInit, .above(0), "Adam's initial learning rate"),
        .boolean("decay", \.decay, "decay the learning rate linearly to 0 over `max_iter`"),
        ConstraintOptions.featureRangeRow(\.constraints),
        .perFeature("eps", \.eps, .each(.above(0)),
                    "step of the numerical gradient (number or per feature); only used by models without gradients"),
        .text("init", \.initialisation, .oneOf(["identity"]), "start at the instance (the only option, as in alibi)"),
        .text("distance_fn", \.distanceFunction, .oneOf(["l1"]), "the only option, as in alibi"),
        ConstraintOptions.immutableRow(\.constraints),
        ConstraintOptions.monotoneRow(\.constraints),
        .boolean("return_all", \.returnAll, "fill `all`, one list per bisection round"),
        .choice("all_candidates", \.allCandidates,
                "what a round of `all` holds: its closest counterfactual, or `\"every\"` step that met the target (alibi's list)"),
    ] + RefinementOptions.rows(\.refinement)
}
