/// The keys of a training config's `"counterfactual_training": {...}`, one row each: the C API
/// reads, writes and checks them from here (docs/training.md describes them).
extension CounterfactualTrainingConfig {
    public static let parameters: [Parameter<CounterfactualTrainingConfig>] = [
        .integer("n_ce", \.counterfactuals, .in(1...10_000_000), "n_CE: factuals searched once per epoch after the burn-in"),
        .number("tau", \.generator.targetProba, .above(0, upTo: 1), "τ: a search stops, mature, once p_y⁺(x′) ≥ τ"),
        .integer("max_steps", \.generator.maxSteps, .in(1...1_000_000), "T: gradient steps of a search at most"),
        .number("learning_rate", \.generator.learningRate, .above(0), "step size of the searches"),
        .number("lambda_cost", \.generator.lambdaCost, .atLeast(0), "λ_cst: weight of the searches' L1 distance"),
        .number("lambda_energy", \.generator.lambdaEnergy, .atLeast(0), "λ_egy: weight of the searches' energy term"),
        .boolean("energy_decay", \.generator.energyDecay, "φ_t = a (b + t)^−0.9 (true) or 1 (false)"),
        .number("lambda_div", \.lambdas.divergence, .atLeast(0), "λ_div: weight of the energy gap E(x⁺, y⁺) − E(x′, y⁺)"),
        .number("lambda_reg", \.lambdas.ridge, .atLeast(0), "λ_reg: weight of the energies' squares"),
        .number("lambda_adv", \.lambdas.adversarial, .atLeast(0), "λ_adv: weight of the nascent counterfactuals' cross-entropy"),
        .number("epsilon", \.nascentRadius, .atLeast(0), "ε: the radius of the nascent counterfactual x_AE"),
        .number("burn_in", \.burnIn, .atLeast(0, below: 1), "share of the epochs trained conventionally first"),
        Parameter("domain", .optionalRange(\.domain), constraint: "null or [min, max]",
                  "the searches' box, each bound a number or one per feature (null: from the training rows)"),
        ConstraintOptions.immutableRow(\.generator.constraints),
        ConstraintOptions.monotoneRow(\.generator.constraints),
        .integer("n_threads", \.threads, .in(0...Limits.threads), "threads of the searches (0 = all cores)"),
    ]

    /// Checks every key's constraint (feature indices against the limit: the data is not known
    /// yet), then the rest of the generator's parameters.
    func validate() throws {
        do {
            try Self.parameters.check(self, ModelShape(features: Limits.features, classes: 2))
            try generator.validate(classCount: 2)
        } catch let error as CFXError {
            throw error.prefixed("counterfactual_training")
        }
    }
}
