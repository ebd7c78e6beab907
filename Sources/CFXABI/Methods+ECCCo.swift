import CFXCore
import CFXFormats

// ECCCo through the C API: its config fields and explanation JSON.

extension MethodEntry {
    static let ecccoFields: [ConfigField<ECCCoParams>] = [
        .targetClass("target_class", \.targetClass),
        .number("target_proba", \.targetProba),
        .integer("max_steps", \.maxSteps),
        .number("learning_rate", \.learningRate),
        .number("lambda_cost", \.lambdaCost),
        .number("lambda_energy", \.lambdaEnergy),
        .boolean("energy_decay", \.energyDecay),
        .range("feature_range", \.featureRangeMin, \.featureRangeMax),
        .indices("immutable", \.immutable),
        .monotone("monotone", \.monotone),
        .number("lambda_set_size", \.lambdaSetSize),
        .number("alpha", \.alpha),
        .number("temperature", \.temperature),
        .number("kappa", \.kappa),
    ]

    static let eccco = MethodEntry(
        name: "eccco",
        defaults: { ecccoFields.encode(ECCCoParams()) },
        configure: { model, members, options in
            var params = ECCCoParams()
            try ecccoFields.decode(members, into: &params, context: "method \"eccco\"", alsoKnown: commonKeys)
            let explainer = try ECCCoExplainer(model: model, params: params)
            let effective = JSON.object([("method", .string("eccco"))] + ecccoFields.encode(params) + RunOptions.fields.encode(options))
            // fit gives the calibration rows of the conformal penalty; without the penalty it is ignored.
            return ConfiguredMethod(effectiveConfig: effective, threads: options.nThreads, modelRoles: []) { inputs in
                let ready = try params.lambdaSetSize > 0 ? inputs.training.map { try explainer.calibrated(on: $0) } ?? explainer : explainer
                return PreparedMethod { x, rows, threads, control in
                    try ready.explain(x, rows: rows, threads: threads, control: control).map { ecccoJSON($0, params: effective) }
                }
            }
        })
}

/// cf (null unless p_y⁺ ≥ target_proba was reached), last (the final point either way),
/// orig_class, orig_proba, target_class, success, meta.
func ecccoJSON(_ e: ECCCoExplanation, params: JSON) -> JSON {
    let last = JSON.object([
        ("X", .numbers(e.last)), ("class", .int(argmaxIndex(e.proba))), ("proba", .numbers(e.proba)),
        ("distance", .double(e.distance)), ("energy", .double(e.energy)), ("steps", .int(e.steps)),
    ])
    return .object([
        ("cf", e.success ? last : .null),
        ("last", last),
        ("orig_class", .int(e.origClass)),
        ("orig_proba", .numbers(e.origProba)),
        ("target_class", .int(e.targetClass)),
        ("success", .bool(e.success)),
        ("meta", metaJSON(method: "eccco", params: params, stats: e.stats)),
    ])
}

private func argmaxIndex(_ values: [Double]) -> Int {
    values.indices.max { values[$0] < values[$1] } ?? 0
}
