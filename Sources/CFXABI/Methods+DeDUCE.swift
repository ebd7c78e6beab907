import CFXCore
import CFXFormats

// DeDUCE and JSMA through the C API: their explanation JSON.

/// One explanation of DeDUCE or JSMA: one instance and one target class.
func saliencyJSON(_ e: SaliencyExplanation, _ context: ExplanationContext, density: FeatureDensity?) -> JSON {
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
        ("meta", metaJSON(context, stats: e.stats)),
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
