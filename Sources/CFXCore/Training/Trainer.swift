import Glibc

/// Trains a network in place: minibatch gradient descent on one loss, each batch split into
/// shards that run on their own threads, each with its own evaluator, their parameter gradients
/// summed in shard order.
///
/// Determinism: for a fixed seed, config and thread count, a run gives bit-identical weights.
/// A batch of B rows is split into S = min(threads, max(1, B / 64)) shards of near-equal size,
/// so with more than one shard the gradient is summed in a different order than with one, and
/// results differ between thread counts in the last bits (and more through batch norm: in
/// training mode each shard normalises with its own statistics — "ghost batch norm" — while
/// the running statistics are updated from the whole batch's mean and unbiased variance, pooled
/// exactly from the shards').
public final class Trainer {
    /// Smaller shards cost more in thread start-up than they save.
    public static let minimumShardRows = 64
    /// Batches between two reports of an epoch in progress (at the most).
    public static let batchReportInterval = 128
    public let network: Network
    public let config: TrainingConfig
    private let plan: LossPlan

    public init(network: Network, config: TrainingConfig) throws {
        try config.validate()
        self.network = network
        self.config = config
        plan = try LossPlan(network: network, loss: config.loss)
    }

    /// Trains on `rows` rows of `x` (row-major, network.featureCount values each). `progress` is
    /// called after every epoch on the calling thread; returning false stops training after
    /// that epoch (the report says `cancelled`). On an error (bad targets, a loss that becomes
    /// NaN) the network's tensors are restored to what they were before the call.
    ///
    /// `batchProgress`, when given, is called on the calling thread during an epoch, every
    /// `Trainer.batchReportInterval` batches or `RunControl.reportInterval` seconds, whichever
    /// comes first; returning false stops training at once, with the weights of the last
    /// completed epoch (or the initial ones during the first).
    public func train(x: [Double], rows: Int, targets: TrainingTargets,
                      progress: ((EpochReport) -> Bool)? = nil) throws -> TrainingReport {
        try train(x: x, rows: rows, targets: targets, progress: progress, batchProgress: nil)
    }

    public func train(x: [Double], rows: Int, targets: TrainingTargets, progress: ((EpochReport) -> Bool)?,
                      batchProgress: ((BatchReport) -> Bool)?) throws -> TrainingReport {
        let d = network.featureCount
        guard rows > 0, x.count == checkedProduct(rows, d) else { throw CFXError(.shape, "x holds \(x.count) values, expected \(rows) rows × \(d) features") }
        try requireFinite(x, "x")
        let (classes, values, width) = try checkedTargets(targets, rows: rows, x: x)
        let split = try TrainingSplit(rows: rows, config: config)
        let data = TrainingData(x: x, classes: classes, values: values, width: width, features: d)
        let initial = Array(network.parameters)
        let run = try TrainingRun(network: network, config: config, plan: plan, data: data, split: split, initial: initial,
                                  batchProgress: batchProgress)
        do {
            for epoch in 0..<config.epochs {
                guard let entry = try run.epoch(epoch) else { break }  // stopped by batchProgress
                if let progress, !progress(entry) {
                    run.report.cancelled = true
                    break
                }
                if run.stopsEarly(after: epoch) { break }
            }
        } catch {
            run.restore(initial)
            throw error
        }
        return run.finished()
    }

    private func checkedTargets(_ targets: TrainingTargets, rows: Int, x: [Double]) throws -> ([Int]?, [Double]?, Int) {
        switch (config.loss, targets) {
        case (.crossEntropy, .classes(let classes)):
            guard classes.count == rows else { throw CFXError(.shape, "targets: \(classes.count) class indices for \(rows) rows") }
            if let i = classes.firstIndex(where: { !(0..<network.classCount).contains($0) }) {
                throw CFXError(.invalidArgument, "targets[\(i)]: class \(classes[i]) is out of range for a model with \(network.classCount) classes")
            }
            return (classes, nil, plan.outputWidth)
        case (.meanSquaredError(let output), .values(let values, let width)):
            guard width == plan.outputWidth else {
                throw CFXError(.shape, "targets: \(width) values per row, the output \"\(output)\" has \(plan.outputWidth)")
            }
            guard values.count == rows * width else { throw CFXError(.shape, "targets: \(values.count) values, expected \(rows) × \(width)") }
            try requireFinite(values, "targets")
            return (nil, values, width)
        case (.meanSquaredError(let output), .input):
            guard plan.outputWidth == network.featureCount else {
                throw CFXError(.shape, "targets: without targets the input is the target (an autoencoder), but the output \"\(output)\" has \(plan.outputWidth) values and the input \(network.featureCount)")
            }
            return (nil, x, network.featureCount)
        case (.crossEntropy, _):
            throw CFXError(.invalidArgument, "targets: cross_entropy needs one class index per row")
        case (.meanSquaredError, .classes):
            throw CFXError(.invalidArgument, "targets: mse needs target values, not class indices")
        }
    }
}
