import CCFX
import CFXCore
import CFXFormats
import Glibc

// The "Training" section of include/cfx.h: cfx_model_train and the "train"
// entry of cfx_default_config.

/// The training config's keys, read into TrainingConfig: the plain ones from its table, `loss` /
/// `output`, `optimizer`, `seed`, `schedule` and `counterfactual_training` here, because they are not
/// plain values.
private struct TrainingFields {
    var config = TrainingConfig()
    var loss = "cross_entropy"
    var output = "probabilities"

    /// In the order configs list them: the table's rows (TrainingConfig+Parameters.swift) with the
    /// keys read here put in their places.
    static let fields: [ConfigField<TrainingFields>] = {
        let plain = TrainingConfig.parameters.map { $0.field.lifted(\TrainingFields.config) }
        let split = plain.firstIndex { $0.key == "validation_split" } ?? plain.count
        return [.text("loss", \.loss), .text("output", \.output), optimizerField] + plain[..<split] + [seedField, scheduleField]
            + plain[split...] + [counterfactualField]
    }()

    private static let optimizerField = ConfigField<TrainingFields>(key: "optimizer", read: { value, p in
        let name = try value.text("optimizer")
        guard let optimiser = TrainingConfig.Optimiser(rawValue: name) else {
            throw CFXError.config("optimizer", "expected \"sgd\" or \"adam\", got \"\(name)\"")
        }
        p.config.optimiser = optimiser
    }, write: { .string($0.config.optimiser.rawValue) })

    private static let seedField = ConfigField<TrainingFields>(key: "seed", read: { value, p in
        let seed = try value.integer("seed")
        guard seed >= 0 else { throw CFXError.config("seed", "must be >= 0, got \(seed)") }
        p.config.seed = UInt64(seed)
    }, write: { .int(Int(truncatingIfNeeded: $0.config.seed)) })

    private static let scheduleField = ConfigField<TrainingFields>(key: "schedule", read: { value, p in p.config.schedule = try readSchedule(value) },
                                                                   write: { writeSchedule($0.config.schedule) })

    private static let counterfactualField = ConfigField<TrainingFields>(key: "counterfactual_training", read: { value, p in
        if case .null = value { p.config.counterfactual = nil; return }
        var ct = CounterfactualTrainingConfig()
        let members = try value.members("counterfactual_training")
        do {
            try counterfactualFields.decode(members, into: &ct, context: "counterfactual_training")
        } catch let error as CFXError {
            throw error.prefixed("counterfactual_training")
        }
        p.config.counterfactual = ct
    }, write: { p in p.config.counterfactual.map { .object(counterfactualFields.encode($0)) } ?? .null })

    /// The keys of "counterfactual_training": {...}.
    static let counterfactualFields = CounterfactualTrainingConfig.parameters.map(\.field)

    /// Parses {"method": "train" (optional), ...keys...}; unknown keys and bad values are errors.
    static func parse(_ config: JSON) throws -> TrainingFields {
        var members = try config.members("config")
        if let method = config["method"] {
            guard try method.text("method") == "train" else {
                throw CFXError.config("method", "a training config may only say \"method\": \"train\", got \(method)")
            }
            members.removeAll { $0.0 == "method" }
        }
        var fields = TrainingFields()
        try Self.fields.decode(members, into: &fields, context: "training", alsoKnown: ["method"])
        switch fields.loss {
        case "cross_entropy":
            fields.config.loss = .crossEntropy  // "output" is ignored: cross-entropy reads the probabilities
        case "mse": fields.config.loss = .meanSquaredError(output: fields.output)
        default: throw CFXError.config("loss", "expected \"cross_entropy\" or \"mse\", got \"\(fields.loss)\"")
        }
        try fields.config.validate()
        return fields
    }

    var effective: JSON { .object([("method", .string("train"))] + Self.fields.encode(self)) }
}

private func readSchedule(_ value: JSON) throws -> LearningRateSchedule {
    var members: [(String, JSON)]
    if case .string = value {
        members = [("type", value)]
    } else {
        members = try value.members("schedule")
    }
    guard let typeValue = members.first(where: { $0.0 == "type" })?.1 else {
        throw CFXError.config("schedule.type", "missing; one of \"constant\", \"step\", \"cosine\"")
    }
    let type = try typeValue.text("schedule.type")
    let allowed: [String: [String]] = ["constant": [], "step": ["step_size", "gamma"], "cosine": ["min_learning_rate"]]
    guard let keys = allowed[type] else {
        throw CFXError.config("schedule.type", "expected \"constant\", \"step\" or \"cosine\", got \"\(type)\"")
    }
    members.removeAll { $0.0 == "type" }
    if let extra = members.first(where: { !keys.contains($0.0) }) {
        throw CFXError.config("schedule.\(extra.0)", "unknown key for a \(type) schedule; known keys: \((["type"] + keys).joined(separator: ", "))")
    }
    let object = JSON.object(members)
    switch type {
    case "step":
        return .step(stepSize: try object["step_size"].map { try $0.integer("schedule.step_size") } ?? 10,
                     gamma: try object["gamma"].map { try $0.number("schedule.gamma") } ?? 0.1)
    case "cosine":
        return .cosine(minimum: try object["min_learning_rate"].map { try $0.number("schedule.min_learning_rate") } ?? 0)
    default:
        return .constant
    }
}

private func writeSchedule(_ schedule: LearningRateSchedule) -> JSON {
    switch schedule {
    case .constant: return .object([("type", .string("constant"))])
    case .step(let size, let gamma): return .object([("type", .string("step")), ("step_size", .int(size)), ("gamma", .double(gamma))])
    case .cosine(let minimum): return .object([("type", .string("cosine")), ("min_learning_rate", .double(minimum))])
    }
}

/// The default training config, as cfx_default_config("train") returns it.
func trainingDefaultConfig() -> JSON { TrainingFields().effective }

private func optional(_ value: Double?) -> JSON { value.map { .double($0) } ?? .null }

private func epochJSON(_ epoch: EpochReport, epochs: Int?) -> JSON {
    var members: [(String, JSON)] = [("epoch", .int(epoch.epoch))]
    if let epochs { members.append(("epochs", .int(epochs))) }
    return .object(members + [
        ("loss", .double(epoch.loss)), ("accuracy", optional(epoch.accuracy)),
        ("val_loss", optional(epoch.validationLoss)), ("val_accuracy", optional(epoch.validationAccuracy)),
        ("learning_rate", .double(epoch.learningRate)), ("seconds", .double(epoch.seconds)),
        ("rows_per_second", .double(epoch.rowsPerSecond)),
    ] + (epoch.counterfactual.map { [("counterfactual", counterfactualJSON($0))] } ?? []))
}

private func counterfactualJSON(_ r: CounterfactualEpochReport) -> JSON {
    .object([
        ("n_ce", .int(r.counterfactuals)), ("mature_share", .double(r.matureShare)),
        ("divergence", .double(r.terms.divergence)), ("ridge", .double(r.terms.ridge)), ("adversarial", .double(r.terms.adversarial)),
        ("skipped_steps", .int(r.skippedSteps)), ("search_seconds", .double(r.searchSeconds)),
        ("training_seconds", .double(r.trainingSeconds)),
    ])
}

@_cdecl("cfx_model_train")
public func cfx_model_train(_ handle: OpaquePointer?, _ x: UnsafePointer<Double>?, _ n: Int, _ d: Int,
                            _ targets: UnsafePointer<Double>?, _ targetWidth: Int, _ config: UnsafePointer<CChar>?,
                            _ progress: cfx_progress_fn?, _ user: UnsafeMutableRawPointer?,
                            _ reportOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                            _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    var cancelledAfter: Int?
    let status = withStatus(err) {
        let out = try output(reportOut, "report_json")
        let network = try nativeNetwork(try object(handle, .model, ModelHandle.self, "model").model, "trained")
        let fields = try TrainingFields.parse(try JSON.parse(try required(config, "config_json"), "config_json"))
        let values = try rows(x, n, d, model: network)
        let trainingTargets = try readTargets(targets, targetWidth, n: n, classCount: network.classCount, loss: fields.config.loss)
        let trainer = try Trainer(network: network, config: fields.config)
        var callbackFailure: CFXError?
        /// Sends one report to the caller's callback; false stops training.
        func send(_ report: JSON) -> Bool {
            guard let progress else { return true }
            do {
                let text = try report.serialized()
                defer { free(text) }
                return progress(user, text) == 0
            } catch let error as CFXError {
                callbackFailure = error
                return false
            } catch {
                return false
            }
        }
        let report = try trainer.train(x: values, rows: n, targets: trainingTargets,
                                       progress: progress.map { _ in { send(epochJSON($0, epochs: fields.config.epochs)) } },
                                       batchProgress: progress.map { _ in { send(batchJSON($0, epochs: fields.config.epochs)) } })
        if let callbackFailure { throw callbackFailure }
        let result = JSON.object([
            ("history", .array(report.history.map { epochJSON($0, epochs: nil) })),
            ("epochs_run", .int(report.history.count)),
            ("best_epoch", report.bestEpoch.map { .int($0) } ?? .null),
            ("stopped_early", .bool(report.stoppedEarly)),
            ("restored_best_weights", .bool(report.restoredBestWeights)),
            ("cancelled", .bool(report.cancelled)),
            ("train_rows", .int(report.trainingRows)),
            ("validation_rows", .int(report.validationRows)),
            ("n_threads", .int(report.threads)),
            ("seconds", .double(report.seconds)),
            ("config", fields.effective),
        ])
        out.pointee = try result.serialized()
        if report.cancelled {
            cancelledAfter = report.history.count
            throw CFXError(.cancelled, "training cancelled by the progress callback after epoch \(report.history.count); the model keeps that epoch's weights")
        }
    }
    if status != CFX_OK && cancelledAfter == nil, let reportOut, let text = reportOut.pointee {
        free(text)
        reportOut.pointee = nil
    }
    return status
}

/// A report of an epoch in progress: told apart from an epoch's report by "in_progress": true.
private func batchJSON(_ state: BatchReport, epochs: Int) -> JSON {
    var fields: [(String, JSON)] = [("epoch", .int(state.epoch)), ("epochs", .int(epochs)), ("batches_done", .int(state.batchesDone)),
                                    ("batches", .int(state.batches)), ("seconds", .double(state.seconds)), ("in_progress", .bool(true))]
    if let searches = state.searches {
        fields += [("searches_done", .int(searches.done)), ("searches", .int(searches.total))]
    }
    return .object(fields)
}

/// The caller's targets as the trainer takes them, checked.
private func readTargets(_ targets: UnsafePointer<Double>?, _ width: Int, n: Int, classCount: Int, loss: Loss) throws -> TrainingTargets {
    switch loss {
    case .crossEntropy:
        let targets = try required(targets, "targets")  // cross_entropy needs class indices
        guard width == 1 else {
            throw CFXError(.shape, "target_width: cross_entropy takes one class index per row (target_width 1), got \(UInt(bitPattern: width))")
        }
        return .classes(try classLabels(targets, n, classCount: classCount, "targets"))
    case .meanSquaredError:
        guard let targets else { return .input }
        guard width > 0 else { throw CFXError(.shape, "target_width: must be the width of the output, got \(UInt(bitPattern: width))") }
        let count = try bufferCount(rows: n, width: width, "targets")
        let values = Array(UnsafeBufferPointer(start: targets, count: count))
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw CFXError(.numeric, "targets: row \(i / width), value \(i % width) is \(values[i]); only finite numbers are accepted")
        }
        return .values(values, width: width)
    }
}
