import CCFX
import CFXCore
import CFXFormats

// The counterfactual-training metrics of include/cfx.h: cfx_plausibility (IP, IP*, cost,
// validity) and cfx_robust_accuracy (FGSM, PGD).

/// Whole-number class indices from doubles, naming `what` in errors.
/// Class labels of a buffer that must be given (see classLabels).
private func classIndices(_ values: UnsafePointer<Double>?, _ n: Int, _ what: String, model: Classifier) throws -> [Int] {
    try classLabels(try required(values, what), n, classCount: model.classCount, what)
}

private struct PlausibilityOptions {
    var samples = 1000
    var lengthScale: Double?
    var seed = 0
    static let fields: [ConfigField<PlausibilityOptions>] = [
        .integer("samples", \.samples), .optionalNumber("length_scale", \.lengthScale), .integer("seed", \.seed),
    ]
}

@_cdecl("cfx_plausibility")
public func cfx_plausibility(_ modelHandle: OpaquePointer?, _ xTrain: UnsafePointer<Double>?, _ yTrain: UnsafePointer<Double>?, _ nTrain: Int,
                             _ x: UnsafePointer<Double>?, _ xCF: UnsafePointer<Double>?, _ targets: UnsafePointer<Double>?, _ n: Int, _ d: Int,
                             _ optionsJSON: UnsafePointer<CChar>?, _ jsonOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                             _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: jsonOut, "json_out") {
        let model = try object(modelHandle, .model, ModelHandle.self, "model").model
        var options = PlausibilityOptions()
        if let optionsJSON {
            try PlausibilityOptions.fields.decode(try JSON.parse(optionsJSON, "options_json").members("options_json"), into: &options,
                                                  context: "cfx_plausibility")
        }
        guard options.seed >= 0 else { throw CFXError.config("seed", "must be >= 0, got \(options.seed)") }
        guard (1...1_000_000).contains(options.samples) else { throw CFXError.config("samples", "must be in 1...1000000, got \(options.samples)") }
        if let l = options.lengthScale, !(l > 0 && l.isFinite) { throw CFXError.config("length_scale", "must be a positive number or null, got \(l)") }
        let training = try rows(xTrain, nTrain, d, model: model, "x_train")
        let report = try plausibilityReport(model: model, training: training, labels: try classIndices(yTrain, nTrain, "y_train", model: model),
                                            factuals: try rows(x, n, d, model: model), counterfactuals: try rows(xCF, n, d, model: model, "x_cf"),
                                            targets: try classIndices(targets, n, "targets", model: model), samples: options.samples,
                                            lengthScale: options.lengthScale, seed: UInt64(options.seed))
        return try JSON.object([
            ("ip", .double(report.meanImplausibility)), ("ip_star", .double(report.mmd2)),
            ("cost", .double(report.meanCost)), ("validity", .double(report.validity)),
            ("per_class", .array(report.mmd.map {
                .object([("target", .int($0.target)), ("n", .int($0.count)), ("mmd2", .double($0.mmd2)), ("length_scale", .double($0.lengthScale))])
            })),
            ("instances", .object([("ip", .numbers(report.implausibility)), ("cost", .numbers(report.cost)),
                                   ("valid", .array(report.valid.map { .bool($0) }))])),
        ]).serialized()
    }
}

private struct RobustnessOptions {
    var attack = "pgd"
    var epsilons = [0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1]
    var steps = 40
    var alpha = 0.01
    var randomStart = true
    var seed = 0
    var threads = 0
    static let fields: [ConfigField<RobustnessOptions>] = [
        .text("attack", \.attack), .numbers("epsilons", \.epsilons), .integer("steps", \.steps), .number("alpha", \.alpha),
        .boolean("random_start", \.randomStart), .integer("seed", \.seed), .integer("n_threads", \.threads),
    ]
}

@_cdecl("cfx_robust_accuracy")
public func cfx_robust_accuracy(_ modelHandle: OpaquePointer?, _ x: UnsafePointer<Double>?, _ y: UnsafePointer<Double>?, _ n: Int, _ d: Int,
                                _ optionsJSON: UnsafePointer<CChar>?, _ jsonOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: jsonOut, "json_out") {
        let network = try nativeNetwork(try object(modelHandle, .model, ModelHandle.self, "model").model, "attacked (robust accuracy needs exact gradients)")
        var options = RobustnessOptions()
        if let optionsJSON {
            try RobustnessOptions.fields.decode(try JSON.parse(optionsJSON, "options_json").members("options_json"), into: &options,
                                                context: "cfx_robust_accuracy")
        }
        guard options.seed >= 0 else { throw CFXError.config("seed", "must be >= 0, got \(options.seed)") }
        try requireThreadCount(options.threads)
        guard options.epsilons.count <= 10_000 else { throw CFXError.config("epsilons", "at most 10000 values") }
        guard (1...1_000_000).contains(options.steps) else { throw CFXError.config("steps", "must be in 1...1000000, got \(options.steps)") }
        let attack: Attack
        switch options.attack {
        case "fgsm": attack = .fgsm
        case "pgd": attack = .pgd(steps: options.steps, alpha: options.alpha, randomStart: options.randomStart)
        default: throw CFXError.config("attack", "expected \"fgsm\" or \"pgd\", got \"\(options.attack)\"")
        }
        let accuracy = try robustAccuracy(network: network, x: try rows(x, n, d, model: network), labels: try classIndices(y, n, "y", model: network),
                                          epsilons: options.epsilons, attack: attack, seed: UInt64(options.seed), threads: options.threads)
        return try JSON.object([("attack", .string(options.attack)), ("epsilons", .numbers(options.epsilons)),
                                       ("accuracy", .numbers(accuracy))]).serialized()
    }
}
