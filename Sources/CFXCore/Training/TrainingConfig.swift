import Glibc

/// Everything a training run needs besides the data; the C API's config keys in the comments (the
/// plain keys' table and the checks: TrainingConfig+Parameters.swift).
public struct TrainingConfig: Sendable {
    public enum Optimiser: String, Sendable { case sgd, adam }

    public var loss: Loss = .crossEntropy                  // "loss": "cross_entropy" | "mse" (+ "output")
    public var optimiser: Optimiser = .adam                // "optimizer"
    public var learningRate = 0.001                        // "learning_rate"
    public var momentum = 0.9                              // "momentum" (SGD)
    public var nesterov = false                            // "nesterov" (SGD)
    public var beta1 = 0.9                                 // "beta1" (Adam)
    public var beta2 = 0.999                               // "beta2" (Adam)
    public var epsilon = 1e-8                              // "epsilon" (Adam)
    public var weightDecay = 0.0                           // "weight_decay": L2 added to the gradient
    public var decoupledWeightDecay = false                // "decoupled_weight_decay": AdamW
    public var batchSize = 32                              // "batch_size"
    public var epochs = 10                                 // "epochs"
    public var shuffle = true                              // "shuffle"
    public var seed: UInt64 = 0                            // "seed"
    public var schedule: LearningRateSchedule = .constant  // "schedule"
    public var validationSplit = 0.0                       // "validation_split"
    public var earlyStoppingPatience = 0                   // "early_stopping_patience", 0 = off
    /// 1 by default: threads are started per batch, so more threads only pay with large batches.
    public var threads = 1                                 // "n_threads", 0 = all cores
    /// Counterfactual training on top of the cross-entropy (see `CounterfactualTrainingConfig`).
    public var counterfactual: CounterfactualTrainingConfig?  // "counterfactual_training"

    public init() {}
}

/// One epoch's numbers, as the progress callback and the report give them.
public struct EpochReport: Sendable {
    /// 1-based.
    public var epoch: Int
    /// Mean training loss over the epoch's batches (training mode, weights as they were for each batch).
    public var loss: Double
    /// Training accuracy over the epoch (cross-entropy only).
    public var accuracy: Double?
    /// Loss and accuracy on the validation rows after the epoch (inference mode), when there are any.
    public var validationLoss: Double?
    public var validationAccuracy: Double?
    public var learningRate: Double
    public var seconds: Double
    public var rowsPerSecond: Double
    /// Counterfactual training's terms, maturity and timing (nil when off or in the burn-in).
    public var counterfactual: CounterfactualEpochReport?
}

/// Where an epoch in progress is: reported while it runs, so that a long epoch can be watched
/// and cancelled.
public struct BatchReport: Sendable {
    /// 1-based: the epoch in progress.
    public var epoch: Int
    public var batchesDone: Int
    public var batches: Int
    /// Since the epoch started.
    public var seconds: Double
    /// During counterfactual training's searches at the start of the epoch (before its first
    /// batch): factuals searched so far, of the epoch's n_CE.
    public var searches: (done: Int, total: Int)? = nil
}

/// How a run ended.
public struct TrainingReport: Sendable {
    public var history: [EpochReport] = []
    /// The epoch with the lowest validation loss (1-based), when there is a validation split.
    public var bestEpoch: Int?
    public var stoppedEarly = false
    /// The weights are the best epoch's (early stopping restored them).
    public var restoredBestWeights = false
    /// The progress callback asked to stop; the weights are the last completed epoch's.
    public var cancelled = false
    public var trainingRows = 0
    public var validationRows = 0
    public var threads = 1
    public var seconds = 0.0
}
