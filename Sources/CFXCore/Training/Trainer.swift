import Glibc

/// Everything a training run needs besides the data; the C API's config keys in brackets.
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

    /// Throws a config error naming the first bad value.
    public func validate() throws {
        guard learningRate > 0, learningRate.isFinite else { throw CFXError.config("learning_rate", "must be a positive number, got \(learningRate)") }
        guard (0..<1).contains(momentum) else { throw CFXError.config("momentum", "must be in [0, 1), got \(momentum)") }
        guard !nesterov || momentum > 0 else { throw CFXError.config("nesterov", "Nesterov momentum needs momentum > 0") }
        guard (0..<1).contains(beta1) else { throw CFXError.config("beta1", "must be in [0, 1), got \(beta1)") }
        guard (0..<1).contains(beta2) else { throw CFXError.config("beta2", "must be in [0, 1), got \(beta2)") }
        guard epsilon > 0, epsilon.isFinite else { throw CFXError.config("epsilon", "must be positive, got \(epsilon)") }
        guard weightDecay >= 0, weightDecay.isFinite else { throw CFXError.config("weight_decay", "must be >= 0, got \(weightDecay)") }
        guard (1...1 << 24).contains(batchSize) else { throw CFXError.config("batch_size", "must be in 1...16777216, got \(batchSize)") }
        guard (1...1_000_000).contains(epochs) else { throw CFXError.config("epochs", "must be in 1...1000000, got \(epochs)") }
        guard validationSplit >= 0, validationSplit < 1 else { throw CFXError.config("validation_split", "must be in [0, 1), got \(validationSplit)") }
        guard earlyStoppingPatience >= 0 else { throw CFXError.config("early_stopping_patience", "must be >= 0, got \(earlyStoppingPatience)") }
        guard earlyStoppingPatience == 0 || validationSplit > 0 else {
            throw CFXError.config("early_stopping_patience", "early stopping watches the validation loss: set validation_split > 0")
        }
        try requireThreadCount(threads)
        if let counterfactual {
            guard loss == .crossEntropy else { throw CFXError.config("counterfactual_training", "needs the cross_entropy loss") }
            try counterfactual.validate()
        }
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

        // The validation rows: the last ⌊rows · split⌋ of a seeded permutation.
        var order = Array(0..<rows)
        var splitter = SeededRandom(seed: config.seed ^ 0x5F3C_A1D2_7E6B_9C84)
        let validationCount = Int((Double(rows) * config.validationSplit).rounded(.down))
        if validationCount > 0 { splitter.shuffle(&order) }
        let trainIndices = Array(order[0..<rows - validationCount]), validationIndices = Array(order[(rows - validationCount)...])
        guard !trainIndices.isEmpty else { throw CFXError.config("validation_split", "leaves no training rows out of \(rows)") }
        if config.validationSplit > 0 && validationIndices.isEmpty {
            throw CFXError.config("validation_split", "\(config.validationSplit) of \(rows) rows is less than one validation row")
        }

        let threads = config.threads > 0 ? config.threads : availableCores()
        let batch = min(config.batchSize, trainIndices.count)
        let shardCount = min(threads, max(1, batch / Trainer.minimumShardRows))
        let shardRows = (batch + shardCount - 1) / shardCount
        guard let shardElements = checkedProduct(shardRows, network.rowElements), shardElements <= Limits.bufferElements else {
            throw CFXError.config("batch_size", "\(batch) rows in \(shardCount) shard(s) need more than \(Limits.bufferElements) values of activations per shard for this network; use a smaller batch_size or more n_threads")
        }
        let workers = (0..<shardCount).map { _ in ShardWorker(network: network, plan: plan, features: d, width: width,
                                                              capacity: shardRows) }
        let validationWorkers = validationIndices.isEmpty ? [] : workers
        let trainableRanges = network.parameterList.filter { $0.spec.role == .trainable }.map(\.range)
        let count = network.parameters.count
        var optimiser: TrainingOptimiser = switch config.optimiser {
        case .sgd: SGD(count: count, momentum: config.momentum, nesterov: config.nesterov, weightDecay: config.weightDecay)
        case .adam: AdamOptimiser(count: count, beta1: config.beta1, beta2: config.beta2, epsilon: config.epsilon,
                                  weightDecay: config.weightDecay, decoupled: config.decoupledWeightDecay)
        }
        let initial = Array(network.parameters)
        var best: (loss: Double, epoch: Int, parameters: [Double])?
        var report = TrainingReport()
        report.trainingRows = trainIndices.count
        report.validationRows = validationIndices.count
        report.threads = shardCount
        let started = monotonicSeconds()
        var shuffler = SeededRandom(seed: config.seed)
        var epochOrder = trainIndices
        var gradient = [Double](repeating: 0, count: count)
        let data = TrainingData(x: x, classes: classes, values: values, width: width, features: d)
        let counterfactualTraining = try config.counterfactual.map {
            try CounterfactualTraining(network: network, config: $0, data: data, classes: classes!, trainIndices: trainIndices, seed: config.seed)
        }

        var epochStartParameters = batchProgress == nil ? [] : initial
        do {
            epochs: for epoch in 0..<config.epochs {
                let epochStarted = monotonicSeconds()
                var reportedAt = epochStarted
                let batches = (epochOrder.count + batch - 1) / batch
                var batchesDone = 0
                let rate = config.schedule.rate(base: config.learningRate, epoch: epoch, epochs: config.epochs)
                if config.shuffle { shuffler.shuffle(&epochOrder) }
                var lossSum = 0.0, correct = 0
                var start = 0
                var counterfactualEpoch = try counterfactualTraining.flatMap { ct in
                    ct.isActive(epoch: epoch, epochs: config.epochs)
                        ? try ct.searchEpoch(epoch, batches: (epochOrder.count + batch - 1) / batch) : nil
                }
                var batchIndex = 0, skipped = 0
                while start < epochOrder.count {
                    let end = min(start + batch, epochOrder.count)
                    let batchRows = end - start
                    let shards = min(shardCount, max(1, batchRows / Trainer.minimumShardRows))
                    let batchIndices = epochOrder[start..<end]
                    network.prepareTrainingStep()
                    let results = try parallelMap(count: shards, threads: shards) { s in
                        let (lo, hi) = shardBounds(s, shards, batchRows)
                        let first = batchIndices.startIndex
                        return workers[s].trainingStep(batchIndices[first + lo..<first + hi], data: data, scale: Double(batchRows))
                    }
                    network.commitTrainingStep(workers[0..<shards].map(\.evaluator))
                    gradient.withUnsafeMutableBufferPointer { g in
                        g.update(repeating: 0)
                        for s in 0..<shards {
                            let shardGradient = workers[s].gradients
                            for range in trainableRanges { for i in range { g[i] += shardGradient[i] } }
                        }
                        if counterfactualEpoch != nil, let ct = counterfactualTraining {
                            let terms = ct.addGradient(&counterfactualEpoch!, batch: batchIndex, into: g.baseAddress!)
                            guard terms.isFinite else { skipped += 1; return }  // skip the step, counted in the report
                        }
                        optimiser.step(network.parameters.baseAddress!, gradients: g.baseAddress!, ranges: trainableRanges, learningRate: rate)
                    }
                    batchIndex += 1
                    network.parametersChanged()
                    for result in results {
                        lossSum += result.loss
                        correct += result.correct
                    }
                    guard lossSum.isFinite else {
                        throw CFXError(.numeric, "epoch \(epoch + 1): training diverged: the loss is \(lossSum) (try a smaller learning_rate)")
                    }
                    for range in trainableRanges {
                        for i in range where !network.parameters[i].isFinite {
                            throw CFXError(.numeric, "epoch \(epoch + 1): training diverged: a weight became \(network.parameters[i]) (try a smaller learning_rate)")
                        }
                    }
                    start = end
                    batchesDone += 1
                    if let batchProgress, batchesDone < batches {
                        let now = monotonicSeconds()
                        if batchesDone % Trainer.batchReportInterval == 0 || now - reportedAt >= RunControl.reportInterval {
                            reportedAt = now
                            let state = BatchReport(epoch: epoch + 1, batchesDone: batchesDone, batches: batches, seconds: now - epochStarted)
                            if !batchProgress(state) {
                                _ = network.parameters.update(fromContentsOf: epochStartParameters)
                                network.parametersChanged()
                                report.cancelled = true
                                break epochs
                            }
                        }
                    }
                }
                var entry = EpochReport(epoch: epoch + 1, loss: lossSum / Double(epochOrder.count),
                                        accuracy: classes == nil ? nil : Double(correct) / Double(epochOrder.count),
                                        validationLoss: nil, validationAccuracy: nil, learningRate: rate, seconds: 0, rowsPerSecond: 0)
                if !validationIndices.isEmpty {
                    let (loss, correctCount) = try evaluate(validationIndices, data: data, workers: validationWorkers, batch: batch)
                    entry.validationLoss = loss
                    entry.validationAccuracy = classes == nil ? nil : Double(correctCount) / Double(validationIndices.count)
                    guard loss.isFinite else { throw CFXError(.numeric, "epoch \(epoch + 1): the validation loss is \(loss)") }
                    if best == nil || loss < best!.loss { best = (loss, epoch + 1, Array(network.parameters)) }
                }
                entry.seconds = monotonicSeconds() - epochStarted
                entry.counterfactual = counterfactualEpoch.map {
                    $0.finished(trainingSeconds: entry.seconds - $0.report.searchSeconds, skipped: skipped)
                }
                entry.rowsPerSecond = Double(epochOrder.count) / max(entry.seconds, 1e-9)
                report.history.append(entry)
                report.bestEpoch = best?.epoch
                if batchProgress != nil { epochStartParameters = Array(network.parameters) }
                if let progress, !progress(entry) {
                    report.cancelled = true
                    break
                }
                if config.earlyStoppingPatience > 0, let best, epoch + 1 - best.epoch >= config.earlyStoppingPatience {
                    report.stoppedEarly = epoch + 1 < config.epochs
                    break
                }
            }
        } catch {
            _ = network.parameters.update(fromContentsOf: initial)
            network.parametersChanged()
            throw error
        }
        if config.earlyStoppingPatience > 0, !report.cancelled, let best, best.epoch != report.history.count {
            _ = network.parameters.update(fromContentsOf: best.parameters)
            network.parametersChanged()
            report.restoredBestWeights = true
        }
        report.seconds = monotonicSeconds() - started
        return report
    }

    /// Mean loss and number correct of `indices` in inference mode.
    private func evaluate(_ indices: [Int], data: TrainingData, workers: [ShardWorker], batch: Int) throws -> (Double, Int) {
        let chunks = (indices.count + batch - 1) / batch
        let results = try parallelMap(count: workers.count, threads: workers.count) { w in
            var loss = 0.0, correct = 0
            var c = w
            while c < chunks {
                let r = workers[w].evaluation(indices[c * batch..<min((c + 1) * batch, indices.count)], data: data)
                loss += r.loss
                correct += r.correct
                c += workers.count
            }
            return (loss, correct)
        }
        return (results.reduce(0) { $0 + $1.0 } / Double(indices.count), results.reduce(0) { $0 + $1.1 })
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

/// The training set as the workers read it.
struct TrainingData: @unchecked Sendable {
    let x: [Double]
    let classes: [Int]?
    let values: [Double]?
    let width: Int
    let features: Int
}

/// Rows lo..<hi of shard s out of `shards` over `rows` rows: near-equal, the first ones larger.
private func shardBounds(_ s: Int, _ shards: Int, _ rows: Int) -> (Int, Int) {
    let base = rows / shards, extra = rows % shards
    let lo = s * base + min(s, extra)
    return (lo, lo + base + (s < extra ? 1 : 0))
}

/// One shard's evaluator and buffers; used by one thread at a time.
final class ShardWorker: @unchecked Sendable {
    let evaluator: NetworkEvaluator
    let plan: LossPlan
    let features: Int
    let width: Int
    private(set) var gradients: [Double]
    private var x: [Double]
    private var classes: [Int]
    private var targets: [Double]
    private var cotangent: [Double]

    init(network: Network, plan: LossPlan, features: Int, width: Int, capacity: Int) {
        evaluator = NetworkEvaluator(network)
        self.plan = plan
        self.features = features
        self.width = width
        gradients = [Double](repeating: 0, count: network.parameters.count)
        x = [Double](repeating: 0, count: capacity * features)
        classes = [Int](repeating: 0, count: capacity)
        targets = [Double](repeating: 0, count: capacity * width)
        // The loss's gradient enters at the logits or at the output, both `width` wide.
        cotangent = [Double](repeating: 0, count: capacity * width)
    }

    /// Copies the rows `indices` into this worker's buffers.
    private func gather(_ indices: ArraySlice<Int>, _ data: TrainingData) {
        let rows = indices.count
        if x.count < rows * features {
            x = [Double](repeating: 0, count: rows * features)
            classes = [Int](repeating: 0, count: rows)
            targets = [Double](repeating: 0, count: rows * width)
            cotangent = [Double](repeating: 0, count: rows * width)
        }
        for (r, i) in indices.enumerated() {
            for j in 0..<features { x[r * features + j] = data.x[i * features + j] }
            if let classes = data.classes { self.classes[r] = classes[i] }
            if let values = data.values { for j in 0..<width { targets[r * width + j] = values[i * width + j] } }
        }
    }

    /// Forward in training mode, loss, backward: the gradient of (sum of this shard's losses) /
    /// `scale` lands in `gradients`.
    func trainingStep(_ indices: ArraySlice<Int>, data: TrainingData, scale: Double) -> (loss: Double, correct: Int) {
        gather(indices, data)
        let rows = indices.count
        x.withUnsafeBufferPointer { evaluator.forward($0, rows: rows, training: true) }
        let result = lossOf(rows: rows, data: data, cotangent: true, scale: scale)
        for i in gradients.indices { gradients[i] = 0 }
        cotangent.withUnsafeBufferPointer { c in
            gradients.withUnsafeMutableBufferPointer { g in
                _ = evaluator.backward(from: plan.gradientBuffer, cotangent: c, parameterGradients: g.baseAddress)
            }
        }
        return result
    }

    /// Loss and number correct of `indices` in inference mode.
    func evaluation(_ indices: ArraySlice<Int>, data: TrainingData) -> (loss: Double, correct: Int) {
        gather(indices, data)
        let rows = indices.count
        x.withUnsafeBufferPointer { evaluator.forward($0, rows: rows, training: false) }
        return lossOf(rows: rows, data: data, cotangent: false, scale: 1)
    }

    private func lossOf(rows: Int, data: TrainingData, cotangent wanted: Bool, scale: Double) -> (loss: Double, correct: Int) {
        classes.withUnsafeBufferPointer { classes in
            targets.withUnsafeBufferPointer { targets in
                cotangent.withUnsafeMutableBufferPointer { cotangent in
                    plan.evaluate(evaluator, rows: rows, classes: data.classes == nil ? nil : classes.baseAddress,
                                  targets: data.values == nil ? nil : targets.baseAddress,
                                  cotangent: wanted ? cotangent.baseAddress : nil, scale: scale)
                }
            }
        }
    }
}
