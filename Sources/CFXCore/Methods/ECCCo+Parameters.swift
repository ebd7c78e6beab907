/// The `eccco` method (ECCCo.swift): its parameter table.
public enum ECCCoMethod: CounterfactualMethod {
    public static let name = "eccco"
    public static var defaults: ECCCoParams { ECCCoParams() }

    public static let parameters: [Parameter<ECCCoParams>] = [
        .targetClass("target_class", \.targetClass, allowsSame: false,
                     "`\"other\"` (the most probable class other than the prediction at x) or a class index"),
        .number("target_proba", \.targetProba, .above(0, upTo: 1), "τ: a search stops, and succeeds, once p_y⁺(x') ≥ τ"),
        .integer("max_steps", \.maxSteps, .in(1...1_000_000), "T: gradient steps at most"),
        .number("learning_rate", \.learningRate, .above(0), "step size of gradient descent"),
        .number("lambda_cost", \.lambdaCost, .atLeast(0), "λ_cst: weight of the L1 distance"),
        .number("lambda_energy", \.lambdaEnergy, .atLeast(0), "λ_egy: weight of the energy term"),
        .boolean("energy_decay", \.energyDecay, "φ_t = a (b + t)^−0.9 (true) or 1 (false)"),
    ] + ConstraintOptions.rows(\.constraints) + [
        .number("lambda_set_size", \.lambdaSetSize, .atLeast(0), "λ_Ω of the conformal set-size penalty; 0 = off (ECCo); > 0 needs a fit on labelled rows"),
        .number("alpha", \.alpha, .between(0, 1), "α of the conformal prediction set"),
        .number("temperature", \.temperature, .above(0), "T of the smooth set membership"),
        .number("kappa", \.kappa, .atLeast(0), "κ: set size free of penalty"),
    ] + RefinementOptions.sparsityRows(\.refinement)

    public static func check(_ params: ECCCoParams, model: Classifier) throws {
        _ = try ECCCoExplainer(model: model, params: params)
    }

    /// `fit` gives the calibration rows of the conformal penalty and the units of the sparsity
    /// pass; without either it is ignored.
    public static func prepare(_ params: ECCCoParams, model: Classifier, inputs: MethodInputs, seed: Int, threads: Int) throws -> ECCCoExplainer {
        let explainer = try ECCCoExplainer(model: model, params: params, training: inputs.training)
        guard params.lambdaSetSize > 0, let training = inputs.training else { return explainer }
        return try explainer.calibrated(on: training)
    }
}
