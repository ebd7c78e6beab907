import CFXCore
import CFXFormats

/// alibi's keys for one explanation, plus `meta`.
func wachterJSON(_ explanation: WachterExplanation, _ context: ExplanationContext) -> JSON {
    .object([
        ("cf", explanation.cf.map(candidateJSON) ?? .null),
        ("all", .array(explanation.all.map { .array($0.map(candidateJSON)) })),
        ("orig_class", .int(explanation.origClass)),
        ("orig_proba", .double(explanation.origProba)),
        ("success", .bool(explanation.success)),
    ] + setJSON(explanation.cfs?.map(candidateJSON), diversity: explanation.diversity) + [
        ("meta", metaJSON(context, stats: explanation.stats)),
    ])
}

private func candidateJSON(_ c: WachterCandidate) -> JSON {
    .object([
        ("X", .numbers(c.x)),
        ("distance", .double(c.distance)),
        ("lambda", .double(c.lambda)),
        ("index", .int(c.index)),
        ("class", .int(c.predictedClass)),
        ("proba", .numbers(c.proba)),
        ("loss", .double(c.loss)),
    ] + restoredJSON(c.restored))
}

/// alibi's CounterfactualProto keys (cf, all, orig_class, orig_proba, id_proto), plus success,
/// the trust score of cf and meta.
func cfprotoJSON(_ e: CFProtoExplanation, explainer: CFProtoExplainer, _ context: ExplanationContext) -> JSON {
    func candidate(_ c: CFProtoCandidate) -> [(String, JSON)] {
        [("X", .numbers(c.x)), ("class", .int(c.predictedClass)), ("proba", .numbers(c.proba)),
         ("distance", .double(c.distance)), ("c", .double(c.c)), ("c_step", .int(c.cStep)), ("iteration", .int(c.iteration))] + restoredJSON(c.restored)
    }
    let cf: JSON = e.cf.map { c in
        .object(candidate(c) + [("grads_graph", .numbers(e.gradsGraph ?? [])), ("grads_num", .numbers(e.gradsNum ?? []))])
    } ?? .null
    var extra: [(String, JSON)] = [
        ("iterations", .int(e.iterations)),
        ("feature_range", .array([.numbers(explainer.featureRange.lower), .numbers(explainer.featureRange.upper)])),
    ]
    if let values = explainer.categoryValues { extra.append(("category_values", .array(values.map { .numbers($0) }))) }
    return .object([
        ("cf", cf),
        ("all", .array(e.all.map { .array($0.map { .object(candidate($0)) }) })),
        ("orig_class", .int(e.origClass)),
        ("orig_proba", .numbers(e.origProba)),
        ("id_proto", e.idProto.map { .int($0) } ?? .null),
        ("trust_score", e.trustScore.map { .double($0) } ?? .null),
        ("success", .bool(e.success)),
    ] + setJSON(e.cfs?.map { .object(candidate($0)) }, diversity: e.diversity) + [
        ("meta", metaJSON(context, stats: e.stats, extra: extra)),
    ])
}

/// What an explanation's `meta` holds besides the search's cost: the method, the effective
/// config, and `warnings` about the instance (outside feature_range: the search clips it).
struct ExplanationContext {
    let method: String
    let params: JSON
    var warnings: [String] = []
}

/// The method, the effective config, the search's cost, a method's own `extra` members, then
/// `warnings` when there are any.
func metaJSON(_ context: ExplanationContext, stats: SearchStats, extra: [(String, JSON)] = []) -> JSON {
    .object([
        ("method", .string(context.method)),
        ("params", context.params),
        ("model_calls", .int(stats.predictCalls)),
        ("predicted_rows", .int(stats.predictedRows)),
        ("gradient_evaluations", .int(stats.gradientEvaluations)),
        ("seconds", .double(stats.seconds)),
    ] + extra + (context.warnings.isEmpty ? [] : [("warnings", .array(context.warnings.map { .string($0) }))]))
}
