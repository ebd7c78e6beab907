import CFXCore
import CFXFormats

// DeDUCE and JSMA through the C API: their config fields, how they are prepared (a feature
// density from cfx_explainer_fit or cfx_explainer_set_density) and their explanation JSON.

extension ConfigField {
    /// A class index, a list of them, or "all" (every class but the prediction).
    static func targetClasses(_ key: String, _ path: WritableKeyPath<P, TargetClasses>) -> ConfigField {
        ConfigField(key: key, read: { value, p in
            switch value {
            case .string("all"): p[keyPath: path] = .all
            case .int, .double: p[keyPath: path] = .index(try value.integer(key))
            case .array(let items): p[keyPath: path] = .list(try items.enumerated().map { try $1.integer("\(key)[\($0)]") })
            default: throw CFXError.config(key, "expected a class index, a list of them or \"all\", got \(value)")
            }
        }, write: { p in
            switch p[keyPath: path] {
            case .all: return .string("all")
            case .index(let c): return .int(c)
            case .list(let cs): return .array(cs.map { .int($0) })
            }
        })
    }
}

extension MethodEntry {
    static let jsmaFields: [ConfigField<DeDUCEParams>] = [
        .targetClasses("target_class", \.targetClass),
        .number("target_confidence", \.targetConfidence),
        .number("step", \.step),
        .integer("max_iter", \.maxIter),
        .integer("features_per_step", \.featuresPerStep),
        .range("feature_range", \.featureRangeMin, \.featureRangeMax),
        .boolean("trace", \.trace),
        .boolean("sparsify", \.sparsify),
        .integer("sparsify_repair_steps", \.sparsifyRepairSteps),
    ]

    static let deduceFields: [ConfigField<DeDUCEParams>] = jsmaFields + [
        .integer("max_changes", \.maxChanges),
        .number("momentum", \.momentum),
        .text("loss", \.loss),
        .number("mu", \.mu),
        .number("lambda", \.lambda),
        .text("feature_output", \.featureOutput),
    ]

    static let deduce = MethodEntry(
        name: "deduce",
        defaults: { deduceFields.encode(DeDUCEParams()) },
        configure: { model, members, options in
            var params = DeDUCEParams()
            try deduceFields.decode(members, into: &params, context: "method \"deduce\"", alsoKnown: commonKeys)
            try params.validate(classCount: model.classCount, featureCount: model.featureCount)
            guard let network = model as? Network else {
                throw CFXError.config("model", "deduce needs a native network with a \"\(params.featureOutput)\" output; a callback model has none")
            }
            do { _ = try network.outputBuffer(params.featureOutput) } catch let error as CFXError {
                throw CFXError.config("feature_output", error.message)
            }
            let effective = JSON.object([("method", .string("deduce"))] + deduceFields.encode(params) + RunOptions.fields.encode(options))
            return ConfiguredMethod(effectiveConfig: effective, threads: options.nThreads, modelRoles: []) { inputs in
                let density: FeatureDensity
                if let given = inputs.density {
                    guard given.featureOutput == params.featureOutput else {
                        throw CFXError.config("feature_output", "the density was fitted on \"\(given.featureOutput)\", the config asks for \"\(params.featureOutput)\"")
                    }
                    density = given
                } else if let training = inputs.training {
                    density = try FeatureDensity.fit(network: network, featureOutput: params.featureOutput, data: training, threads: options.nThreads)
                } else {
                    throw CFXError(.invalidArgument, "deduce: not fitted; call cfx_explainer_fit with training data (or cfx_explainer_set_density) before explaining")
                }
                let explainer = try SaliencyExplainer.deduce(network: network, params: params, density: density)
                return PreparedMethod { x, rows, threads, control in
                    try explainer.explain(x, rows: rows, threads: threads, control: control).map { saliencyJSON($0, method: "deduce", params: effective, density: density) }
                }
            }
        })

    static let jsma = MethodEntry(
        name: "jsma",
        defaults: { jsmaFields.encode(DeDUCEParams.jsmaDefaults) },
        configure: { model, members, options in
            var params = DeDUCEParams.jsmaDefaults
            try jsmaFields.decode(members, into: &params, context: "method \"jsma\"", alsoKnown: commonKeys)
            let explainer = try SaliencyExplainer.jsma(model: model, params: params)
            let effective = JSON.object([("method", .string("jsma"))] + jsmaFields.encode(params) + RunOptions.fields.encode(options))
            // JSMA needs no training data; a fit is accepted and ignored.
            let prepared = PreparedMethod { x, rows, threads, control in
                try explainer.explain(x, rows: rows, threads: threads, control: control).map { saliencyJSON($0, method: "jsma", params: effective, density: nil) }
            }
            return ConfiguredMethod(effectiveConfig: effective, threads: options.nThreads, modelRoles: []) { _ in prepared }
        })
}

/// One explanation of DeDUCE or JSMA: one instance and one target class.
func saliencyJSON(_ e: SaliencyExplanation, method: String, params: JSON, density: FeatureDensity?) -> JSON {
    let cf: JSON = e.cf.map { c in
        .object([
            ("X", .numbers(c.x)),
            ("class", .int(c.predictedClass)),
            ("proba", .numbers(c.proba)),
            ("L0", .int(c.l0)),
            ("L1", .double(c.l1)),
            ("iterations", .int(c.iterations)),
            ("log_density", density == nil ? .null : .object([
                ("before", e.logDensityBefore.map { .double($0) } ?? .null),
                ("after", c.logDensity.map { .double($0) } ?? .null),
            ])),
        ] + restoredJSON(c.restored))
    } ?? .null
    var members: [(String, JSON)] = [
        ("instance", .int(e.instance)),
        ("target_class", .int(e.targetClass)),
        ("cf", cf),
    ]
    if let reason = e.reason { members.append(("reason", .string(reason))) }
    members += [
        ("orig_class", .int(e.origClass)),
        ("orig_proba", .double(e.origProba)),
        ("success", .bool(e.success)),
        ("meta", metaJSON(method: method, params: params, stats: e.stats)),
    ]
    if let trace = e.trace {
        members.append(("trace", .object([
            ("target_proba", .numbers(trace.targetProba)),
            ("log_density", density == nil ? .null : .numbers(trace.logDensity)),
            ("changed", .array(trace.changed.map { .array($0.map { .int($0) }) })),
        ])))
    }
    return .object(members)
}
