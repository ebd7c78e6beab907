import CCFX
import CFXCore
import CFXFormats

// The evaluation functions of include/cfx.h (section "Evaluation"): an evaluator bound to a model
// and, optionally, training data and an autoencoder, that measures batches of counterfactuals.

/// What a `cfx_evaluator *` points at. Setting the autoencoder swaps the evaluator under a lock, so
/// that evaluate calls running at the same time see it either before or after the change.
final class EvaluatorHandle: ModelHolding {
    let model: Classifier
    let effectiveOptions: JSON
    private let state: Locked<CounterfactualEvaluator>

    init(_ evaluator: CounterfactualEvaluator, effectiveOptions: JSON) {
        model = evaluator.model
        self.effectiveOptions = effectiveOptions
        state = Locked(evaluator)
    }

    var evaluator: CounterfactualEvaluator { state.withLock { $0 } }

    func setModel(_ role: String, _ model: Classifier?) throws {
        switch role {
        case "autoencoder":
            try state.withLock { try $0.setAutoencoder(model) }
        case "density":
            throw CFXError.config("role", "a density is set with cfx_evaluator_set_density; accepted roles: autoencoder")
        default:
            throw CFXError.config("role", "the evaluator takes no \"\(role)\" model (it accepts: autoencoder)")
        }
    }

    func setDensity(_ density: FeatureDensity?) throws {
        let adapter = try density.map { density -> NetworkDensity in
            try NetworkDensity(density, network: try nativeNetwork(model, "given an evaluator density"))
        }
        state.withLock { $0.density = adapter }
    }
}

// MARK: Options

extension EvaluationOptions {
    static let fields: [ConfigField<EvaluationOptions>] = [
        ConfigField(key: "feature_range", read: { value, options in
            if case .null = value { options.featureRange = nil; return }
            let bounds = try value.items("feature_range")
            guard bounds.count == 2 else { throw CFXError.config("feature_range", "expected [min, max] or null, got \(bounds.count) values") }
            options.featureRange = (try bounds[0].perFeature("feature_range[0]"), try bounds[1].perFeature("feature_range[1]"))
        }, write: { options in
            guard let range = options.featureRange else { return .null }
            return .array([.perFeature(range.lower), .perFeature(range.upper)])
        }),
        .indices("immutable", \.immutable),
        .monotone("monotone", \.monotone),
        ConfigField(key: "cat_vars", read: { value, options in
            options.categorical = try readCategoricalVariables(value, "cat_vars")
        }, write: { options in
            .object(options.categorical.map { (String($0.column), .int($0.categories)) })
        }),
        .boolean("ohe", \.oneHot),
        .number("sparsity_tol", \.sparsityTol),
        .number("constraint_tol", \.constraintTol),
        .choice("plausibility_norm", \.plausibilityNorm),
        .number("mad_zero_scale", \.madZeroScale),
        .choice("summarise_over", \.summariseOver),
        .integer("n_threads", \.threads),
    ]
}

/// Parses the per-call request: {"target_class", "target_proba", "meta"}, every key optional.
func evaluationRequest(_ json: JSON?, rows n: Int) throws -> EvaluationRequest {
    var request = EvaluationRequest()
    guard let json else { return request }
    for (key, value) in try json.members("request_json") {
        switch key {
        case "target_class":
            if case .array(let items) = value {
                request.targets = try items.enumerated().map { try readTargetClass($1, "target_class[\($0)]") }
            } else {
                request.targets = [try readTargetClass(value, "target_class")]
            }
        case "target_proba":
            if case .null = value { request.targetProba = nil } else { request.targetProba = try value.number("target_proba") }
        case "meta":
            let items = try value.items("meta")
            guard items.count == n else { throw CFXError(.shape, "meta: has \(items.count) entries for \(n) instances") }
            request.costs = try items.enumerated().map { i, item in
                if case .null = item { return InstanceCost() }
                let key = "meta[\(i)]"
                _ = try item.members(key)
                func read(_ name: String) throws -> Double {
                    guard let v = item[name], !(v.isNull) else { return .nan }
                    return try v.number("\(key).\(name)")
                }
                return InstanceCost(seconds: try read("seconds"), modelCalls: try read("model_calls"),
                                    gradientEvaluations: try read("gradient_evaluations"))
            }
        default:
            throw CFXError.config(key, "unknown key for cfx_evaluate; known keys: target_class, target_proba, meta")
        }
    }
    return request
}


private extension JSON {
    var isNull: Bool { if case .null = self { return true } else { return false } }
}

// MARK: Results

func summaryJSON(_ s: Summary) -> JSON {
    .object([("n", .int(s.count)), ("mean", .double(s.mean)), ("std", .double(s.std)), ("median", .double(s.median)),
             ("min", .double(s.min)), ("max", .double(s.max))])
}

private func optionalInts(_ values: [Int?]) -> JSON { .array(values.map { $0.map { .int($0) } ?? .null }) }

func metricsJSON(_ metrics: CounterfactualMetrics, options: JSON) -> JSON {
    let columns: [(String, JSON)] = Metric.allCases.map { metric in
        let values = metrics.values(metric)
        if metric.isBoolean { return (metric.rawValue, .array(values.map { $0.isNaN ? .null : .bool($0 == 1) })) }
        if metric == .l0 { return (metric.rawValue, .array(values.map { $0.isNaN ? .null : .int(Int($0)) })) }
        return (metric.rawValue, .numbers(values))
    }
    let instances = metrics.instances
    return .object([
        ("n", .int(instances.count)),
        ("n_found", .int(metrics.foundCount)),
        ("n_valid", .int(metrics.validCount)),
        ("summary", .object(Metric.allCases.map { ($0.rawValue, summaryJSON(metrics.summary($0))) })),
        ("instances", .object([
            ("found", .array(instances.map { .bool($0.found) })),
            ("orig_class", .array(instances.map { .int($0.origClass) })),
            ("cf_class", optionalInts(instances.map(\.cfClass))),
            ("target_class", optionalInts(instances.map(\.targetClass))),
            ("nn_index", optionalInts(instances.map(\.nnIndex))),
        ] + columns)),
        ("mad", metrics.mad.map { JSON.numbers($0) } ?? .null),
        ("options", options),
    ])
}

// MARK: Exports

@_cdecl("cfx_evaluator_create")
public func cfx_evaluator_create(_ modelHandle: OpaquePointer?, _ xTrain: UnsafePointer<Double>?, _ nTrain: Int, _ d: Int,
                                 _ yTrain: UnsafePointer<Double>?, _ optionsJSON: UnsafePointer<CChar>?,
                                 _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: out, "out") {
        let model = try object(modelHandle, .model, ModelHandle.self, "model").model
        var options = EvaluationOptions()
        if let optionsJSON {
            let members = try JSON.parse(optionsJSON, "options_json").members("options_json")
            try EvaluationOptions.fields.decode(members, into: &options, context: "the evaluator")
        }
        var reference: TrainingReference?
        if let xTrain {
            let values = try rows(xTrain, nTrain, d, model: model, "x_train")
            let labels = try yTrain.map { try classLabels($0, nTrain, classCount: model.classCount, "y_train") }
            let data = try Dataset(x: values, rows: nTrain, features: d, labels: labels, classCount: model.classCount)
            reference = try TrainingReference(data: data, model: model)
        } else {
            guard nTrain == 0 else { throw CFXError(.invalidArgument, "x_train: NULL pointer with n_train = \(UInt(bitPattern: nTrain)) (give no training data with NULL and 0)") }
            guard yTrain == nil else { throw CFXError(.invalidArgument, "y_train: labels without x_train") }
        }
        let evaluator = try CounterfactualEvaluator(model: model, training: reference, options: options)
        return retainedHandle(EvaluatorHandle(evaluator, effectiveOptions: .object(EvaluationOptions.fields.encode(options))), .evaluator)
    }
}

@_cdecl("cfx_evaluator_free")
public func cfx_evaluator_free(_ evaluator: OpaquePointer?) { release(evaluator, .evaluator) }

@_cdecl("cfx_evaluator_set_model")
public func cfx_evaluator_set_model(_ handle: OpaquePointer?, _ role: UnsafePointer<CChar>?, _ modelHandle: OpaquePointer?,
                                    _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err) {
        let evaluator = try object(handle, .evaluator, EvaluatorHandle.self, "evaluator")
        let role = String(cString: try required(role, "role"))
        let model = try modelHandle.map { try object($0, .model, ModelHandle.self, "model").model }
        try evaluator.setModel(role, model)
    }
}

/// Sets (or, with NULL, removes) the density of log_density: a fitted feature density of the
/// evaluator's native network.
@_cdecl("cfx_evaluator_set_density")
public func cfx_evaluator_set_density(_ handle: OpaquePointer?, _ densityHandle: OpaquePointer?,
                                      _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err) {
        let evaluator = try object(handle, .evaluator, EvaluatorHandle.self, "evaluator")
        let density = try densityHandle.map { try object($0, .density, FeatureDensity.self, "density") }
        try evaluator.setDensity(density)
    }
}

@_cdecl("cfx_evaluate")
public func cfx_evaluate(_ handle: OpaquePointer?, _ x: UnsafePointer<Double>?, _ xCF: UnsafePointer<Double>?, _ n: Int, _ d: Int,
                         _ requestJSON: UnsafePointer<CChar>?, _ jsonOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                         _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: jsonOut, "json_out") {
        let (handle, instances) = try objectAndRows(handle, .evaluator, EvaluatorHandle.self, "evaluator", x, n, d)
        // Counterfactuals may hold rows of NaN (none found): copied as they are, checked by the core.
        let counterfactuals = Array(UnsafeBufferPointer(start: try required(xCF, "x_cf"), count: n * d))
        let request = try evaluationRequest(try requestJSON.map { try JSON.parse($0, "request_json") }, rows: n)
        let metrics = try handle.evaluator.evaluate(x: instances, counterfactuals: counterfactuals, rows: n, request)
        return try metricsJSON(metrics, options: handle.effectiveOptions).serialized()
    }
}
