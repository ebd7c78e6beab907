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
    ]

    static let eccco = MethodEntry(
        name: "eccco",
        defaults: { ecccoFields.encode(ECCCoParams()) },
        configure: { model, members, options in
            var params = ECCCoParams()
            try ecccoFields.decode(members, into: &params, context: "method \"eccco\"", alsoKnown: commonKeys)
            let explainer = try ECCCoExplainer(model: model, params: params)
            let effective = JSON.object([("method", .string("eccco"))] + ecccoFields.encode(params) + RunOptions.fields.encode(options))
            let prepared = PreparedMethod { x, rows, control in
                try explainer.explain(x, rows: rows, threads: options.nThreads, control: control).map { ecccoJSON($0, params: effective) }
            }
            return ConfiguredMethod(effectiveConfig: effective, threads: options.nThreads, modelRoles: []) { _ in prepared }
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
