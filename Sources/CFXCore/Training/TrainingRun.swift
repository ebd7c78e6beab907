import Glibc

/// The rows a run trains on and the rows it validates on: the validation rows are the last
/// ⌊rows · validation_split⌋ of a seeded permutation (no permutation without a split).
struct TrainingSplit {
    let train: [Int]
    let validation: [Int]

    init(rows: Int, config: TrainingConfig) throws {
        var order = Array(0..<rows)
        var splitter = SeededRandom(seed: config.seed ^ 0x5F3C_A1D2_7E6B_9C84)
        let validationCount = Int((Double(rows) * config.validationSplit).rounded(.down))
        if validationCount > 0 { splitter.shuffle(&order) }
        train = Array(order[0..<rows - validationCount])
        validation = Array(order[(rows - validationCount)...])
        guard !train.isEmpty else { throw CFXError.config("validation_split", "leaves no training rows out of \(rows)") }
        if config.validationSplit > 0 && validation.isEmpty {
            throw CFXError.config("validation_split", "\(config.validationSplit) of \(rows) rows is less than one validation row")
        }
    }
}

/// One `Trainer.train` call: the state kept across its epochs, and its steps — an epoch, a
/// batch's optimiser step, the validation, the restore of the best weights.
final class TrainingRun {
    let network: Network
    let config: TrainingConfig
    let data: TrainingData
    let split: TrainingSplit
    /// Rows per batch, and the shards a full batch is split into.
    let batch: Int
    let shardCount: Int
    let workers: [ShardWorker]
    let trainableRanges: [Range<Int>]
    let counterfactualTraining: CounterfactualTraining?
    let batchProgress: ((BatchReport) -> Bool)?
    var optimiser: TrainingOptimiser
    var shuffler: SeededRandom
    var epochOrder: [Int]
    var gradient: [Double]
    var best: (loss: Double, epoch: Int, parameters: [Double])?
    /// The weights a stop during an epoch goes back to (kept only with `batchProgress`).
    var epochStartParameters: [Double]
    var report = TrainingReport()
    let started: Double

    init(network: Network, config: TrainingConfig, plan: LossPlan, data: TrainingData, split: TrainingSplit, initial: [Double],
         batchProgress: ((BatchReport) -> Bool)?) throws {
        let threads = config.threads > 0 ? config.threads : availableCores()
        let batch = min(config.batchSize, split.train.count)
        let shardCount = min(threads, max(1, batch / Trainer.minimumShardRows))
        let shardRows = (batch + shardCount - 1) / shardCount
        guard let shardElements = checkedProduct(shardRows, network.rowElements), shardElements <= Limits.bufferElements else {
            throw CFXError.config("batch_size", "\(batch) rows in \(shardCount) shard(s) need more than \(Limits.bufferElements) values of activations per shard for this network; use a smaller batch_size or more n_threads")
        }
        (self.network, self.config, self.data, self.split, self.batch, self.shardCount) = (network, config, data, split, batch, shardCount)
        self.batchProgress = batchProgress
        workers = (0..<shardCount).map { _ in ShardWorker(network: network, plan: plan, features: data.features, width: data.width,
                                                         capacity: shardRows) }
        trainableRanges = network.parameterList.filter { $0.spec.role == .trainable }.map(\.range)
        let count = network.parameters.count
        optimiser = switch config.optimiser {
        case .sgd: SGD(count: count, momentum: config.momentum, nesterov: config.nesterov, weightDecay: config.weightDecay)
        case .adam: AdamOptimiser(count: count, beta1: config.beta1, beta2: config.beta2, epsilon: config.epsilon,
                                  weightDecay: config.weightDecay, decoupled: config.decoupledWeightDecay)
        }
        report.trainingRows = split.train.count
        report.validationRows = split.validation.count
        report.threads = shardCount
        started = monotonicSeconds()
        shuffler = SeededRandom(seed: config.seed)
        epochOrder = split.train
        gradient = [Double](repeating: 0, count: count)
        counterfactualTraining = try config.counterfactual.map {
            try CounterfactualTraining(network: network, config: $0, data: data, classes: data.classes!, trainIndices: split.train,
                                       seed: config.seed)
        }
        epochStartParameters = batchProgress == nil ? [] : initial
    }

    /// Where an epoch in progress is.
    private struct EpochProgress {
        let epoch: Int
        let started: Double
        let batches: Int
        var reportedAt: Double
        var batchesDone = 0
        var lossSum = 0.0
        var correct = 0
        var skipped = 0

        init(epoch: Int, batches: Int) {
            self.epoch = epoch
            self.batches = batches
            started = monotonicSeconds()
            reportedAt = started
        }
    }

    /// Runs epoch `epoch` (0-based): its counterfactual searches, its batches, its validation.
    /// Returns its report, also added to the history; nil when `batchProgress` stopped it (the
    /// weights are the last completed epoch's again and the report says cancelled).
    func epoch(_ epoch: Int) throws -> EpochReport? {
        var progress = EpochProgress(epoch: epoch, batches: (epochOrder.count + batch - 1) / batch)
        let rate = config.schedule.rate(base: config.learningRate, epoch: epoch, epochs: config.epochs)
        if config.shuffle { shuffler.shuffle(&epochOrder) }
        var counterfactualEpoch: CounterfactualEpoch?
        do {
            counterfactualEpoch = try counterfactualSearches(progress)
        } catch let error as CFXError where error.kind == .cancelled && batchProgress != nil {
            return stop()
        }
        var start = 0
        while start < epochOrder.count {
            let end = min(start + batch, epochOrder.count)
            try step(epochOrder[start..<end], index: progress.batchesDone, rate: rate, counterfactual: &counterfactualEpoch,
                     progress: &progress)
            start = end
            progress.batchesDone += 1
            if !reportBatch(&progress) { return stop() }
        }
        return try finish(progress, rate: rate, counterfactual: counterfactualEpoch)
    }

    /// Counterfactual training's searches for the epoch (nil when off or in the burn-in). With
    /// `batchProgress`, it is called while they run; returning false cancels them.
    private func counterfactualSearches(_ progress: EpochProgress) throws -> CounterfactualEpoch? {
        guard let ct = counterfactualTraining, ct.isActive(epoch: progress.epoch, epochs: config.epochs) else { return nil }
        let control = RunControl(progress: batchProgress.map { report in
            { [progress] done, total, _ in
                var state = BatchReport(epoch: progress.epoch + 1, batchesDone: 0, batches: progress.batches,
                                        seconds: monotonicSeconds() - progress.started)
                state.searches = (done, total)
                return report(state)
            }
        })
        return try ct.searchEpoch(progress.epoch, batches: progress.batches, control: control)
    }

    /// One optimiser step on the rows `indices`: the shards' gradients summed in shard order, plus
    /// counterfactual training's terms; then the divergence checks.
    private func step(_ indices: ArraySlice<Int>, index: Int, rate: Double, counterfactual: inout CounterfactualEpoch?,
                      progress: inout EpochProgress) throws {
        let rows = indices.count
        let shards = min(shardCount, max(1, rows / Trainer.minimumShardRows))
        network.prepareTrainingStep()
        let results = try parallelMap(count: shards, threads: shards) { [workers, data] s in
            let (lo, hi) = shardBounds(s, shards, rows)
            let first = indices.startIndex
            return workers[s].trainingStep(indices[first + lo..<first + hi], data: data, scale: Double(rows))
        }
        network.commitTrainingStep(workers[0..<shards].map(\.evaluator))
        gradient.withUnsafeMutableBufferPointer { g in
            g.update(repeating: 0)
            for s in 0..<shards {
                let shardGradient = workers[s].gradients
                for range in trainableRanges { for i in range { g[i] += shardGradient[i] } }
            }
            if counterfactual != nil, let ct = counterfactualTraining {
                let terms = ct.addGradient(&counterfactual!, batch: index, into: g.baseAddress!)
                guard terms.isFinite else { progress.skipped += 1; return }  // skip the step, counted in the report
            }
            optimiser.step(network.parameters.baseAddress!, gradients: g.baseAddress!, ranges: trainableRanges, learningRate: rate)
        }
        network.parametersChanged()
        for result in results {
            progress.lossSum += result.loss
            progress.correct += result.correct
        }
        guard progress.lossSum.isFinite else {
            throw CFXError(.numeric, "epoch \(progress.epoch + 1): training diverged: the loss is \(progress.lossSum) (try a smaller learning_rate)")
        }
        for range in trainableRanges {
            for i in range where !network.parameters[i].isFinite {
                throw CFXError(.numeric, "epoch \(progress.epoch + 1): training diverged: a weight became \(network.parameters[i]) (try a smaller learning_rate)")
            }
        }
    }

    /// Calls `batchProgress` when a report is due; false when it asked to stop.
    private func reportBatch(_ progress: inout EpochProgress) -> Bool {
        guard let batchProgress, progress.batchesDone < progress.batches else { return true }
        let now = monotonicSeconds()
        guard progress.batchesDone % Trainer.batchReportInterval == 0 || now - progress.reportedAt >= RunControl.reportInterval else {
            return true
        }
        progress.reportedAt = now
        return batchProgress(BatchReport(epoch: progress.epoch + 1, batchesDone: progress.batchesDone, batches: progress.batches,
                                         seconds: now - progress.started))
    }

    /// Stops the run during an epoch: back to the weights the epoch started from.
    private func stop() -> EpochReport? {
        restore(epochStartParameters)
        report.cancelled = true
        return nil
    }

    /// The epoch's report after its last batch: validation, the best epoch, timing.
    private func finish(_ progress: EpochProgress, rate: Double, counterfactual: CounterfactualEpoch?) throws -> EpochReport {
        let rows = Double(epochOrder.count)
        var entry = EpochReport(epoch: progress.epoch + 1, loss: progress.lossSum / rows,
                                accuracy: data.classes == nil ? nil : Double(progress.correct) / rows,
                                validationLoss: nil, validationAccuracy: nil, learningRate: rate, seconds: 0, rowsPerSecond: 0)
        if !split.validation.isEmpty {
            let (loss, correctCount) = try validate()
            entry.validationLoss = loss
            entry.validationAccuracy = data.classes == nil ? nil : Double(correctCount) / Double(split.validation.count)
            guard loss.isFinite else { throw CFXError(.numeric, "epoch \(progress.epoch + 1): the validation loss is \(loss)") }
            if best == nil || loss < best!.loss { best = (loss, progress.epoch + 1, Array(network.parameters)) }
        }
        entry.seconds = monotonicSeconds() - progress.started
        entry.counterfactual = counterfactual.map {
            $0.finished(trainingSeconds: entry.seconds - $0.report.searchSeconds, skipped: progress.skipped)
        }
        entry.rowsPerSecond = rows / max(entry.seconds, 1e-9)
        report.history.append(entry)
        report.bestEpoch = best?.epoch
        if batchProgress != nil { epochStartParameters = Array(network.parameters) }
        return entry
    }

    /// Mean loss and number correct of the validation rows in inference mode.
    private func validate() throws -> (Double, Int) {
        let indices = split.validation
        let chunks = (indices.count + batch - 1) / batch
        let results = try parallelMap(count: workers.count, threads: workers.count) { [workers, batch, data] w in
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

    /// Whether early stopping ends the run after epoch `epoch` (0-based).
    func stopsEarly(after epoch: Int) -> Bool {
        guard config.earlyStoppingPatience > 0, let best, epoch + 1 - best.epoch >= config.earlyStoppingPatience else { return false }
        report.stoppedEarly = epoch + 1 < config.epochs
        return true
    }

    /// Puts `parameters` back into the network.
    func restore(_ parameters: [Double]) {
        _ = network.parameters.update(fromContentsOf: parameters)
        network.parametersChanged()
    }

    /// The report at the end of the run, after early stopping's restore of the best weights.
    func finished() -> TrainingReport {
        if config.earlyStoppingPatience > 0, !report.cancelled, let best, best.epoch != report.history.count {
            restore(best.parameters)
            report.restoredBestWeights = true
        }
        report.seconds = monotonicSeconds() - started
        return report
    }
}
