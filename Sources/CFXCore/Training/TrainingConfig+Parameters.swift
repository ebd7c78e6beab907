/// The plain keys of a training config, one row each: the C API reads, writes and checks them from
/// here (docs/training.md describes them). `loss`, `output`, `optimizer`, `seed`, `schedule` and
/// `counterfactual_training` are not plain values: the C API reads them itself
/// (CFXABI/Exports+Training.swift); `validate` checks what relates two keys.
extension TrainingConfig {
    public static let parameters: [Parameter<TrainingConfig>] = [
        .number("learning_rate", \.learningRate, .above(0), "step size"),
        .number("momentum", \.momentum, .atLeast(0, below: 1), "SGD's momentum"),
        .boolean("nesterov", \.nesterov, "SGD: Nesterov momentum (needs momentum > 0)"),
        .number("beta1", \.beta1, .atLeast(0, below: 1), "Adam's β1"),
        .number("beta2", \.beta2, .atLeast(0, below: 1), "Adam's β2"),
        .number("epsilon", \.epsilon, .above(0), "Adam's ε"),
        .number("weight_decay", \.weightDecay, .atLeast(0), "L2 penalty added to the gradient of every trainable tensor"),
        .boolean("decoupled_weight_decay", \.decoupledWeightDecay, "Adam only: decay the weights directly instead (AdamW)"),
        .integer("batch_size", \.batchSize, .in(1...1 << 24), "rows per batch"),
        .integer("epochs", \.epochs, .in(1...1_000_000), "passes over the rows"),
        .boolean("shuffle", \.shuffle, "reshuffle the rows every epoch"),
        .number("validation_split", \.validationSplit, .atLeast(0, below: 1), "share of the rows held out and evaluated after every epoch"),
        .integer("early_stopping_patience", \.earlyStoppingPatience, .atLeast(0),
                 "stop after this many epochs without a lower validation loss (0 = off; needs a validation split)"),
        .integer("n_threads", \.threads, .in(0...Limits.threads), "threads (0 = all cores)"),
    ]

    /// Throws a config error naming the first bad value.
    public func validate() throws {
        try Self.parameters.check(self, ModelShape(features: Limits.features, classes: 2))
        guard !nesterov || momentum > 0 else { throw CFXError.config("nesterov", "Nesterov momentum needs momentum > 0") }
        guard earlyStoppingPatience == 0 || validationSplit > 0 else {
            throw CFXError.config("early_stopping_patience", "early stopping watches the validation loss: set validation_split > 0")
        }
        if let counterfactual {
            guard loss == .crossEntropy else { throw CFXError.config("counterfactual_training", "needs the cross_entropy loss") }
            try counterfactual.validate()
        }
        try validateSchedule()
    }

    private func validateSchedule() throws {
        switch schedule {
        case .constant: break
        case .step(let size, let gamma):
            guard size >= 1 else { throw CFXError.config("schedule.step_size", "must be >= 1, got \(size)") }
            guard gamma > 0, gamma.isFinite else { throw CFXError.config("schedule.gamma", "must be positive, got \(gamma)") }
        case .cosine(let minimum):
            guard minimum >= 0, minimum <= learningRate else {
                throw CFXError.config("schedule.min_learning_rate", "must be in [0, learning_rate], got \(minimum)")
            }
        }
    }
}
