import CFXCore
import CFXFormats

/// alibi's keys for one explanation, plus `meta`.
func wachterJSON(_ explanation: WachterExplanation, params: JSON) -> JSON {
    .object([
        ("cf", explanation.cf.map(candidateJSON) ?? .null),
        ("all", .array(explanation.all.map { .array($0.map(candidateJSON)) })),
        ("orig_class", .int(explanation.origClass)),
        ("orig_proba", .double(explanation.origProba)),
        ("success", .bool(explanation.success)),
        ("meta", metaJSON(method: "wachter", params: params, stats: explanation.stats)),
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
    ])
}

func metaJSON(method: String, params: JSON, stats: SearchStats) -> JSON {
    .object([
        ("method", .string(method)),
        ("params", params),
        ("model_calls", .int(stats.predictCalls)),
        ("predicted_rows", .int(stats.predictedRows)),
        ("gradient_evaluations", .int(stats.gradientEvaluations)),
        ("seconds", .double(stats.seconds)),
    ])
}
