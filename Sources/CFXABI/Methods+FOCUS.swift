import CFXCore
import CFXFormats

// FOCUS through the C API: its explanation JSON.

/// cf (the closest point of the search the real ensemble predicts as a target, with the step that
/// reached it and `restored` after the sparsity pass, or null), orig_class, orig_proba, success, meta.
func focusJSON(_ e: FOCUSExplanation, _ context: ExplanationContext) -> JSON {
    let cf: JSON = e.cf.map { c in
        .object([("X", .numbers(c.x)), ("class", .int(c.predictedClass)), ("proba", .numbers(c.proba)),
                 ("distance", .double(c.distance)), ("changed", .int(c.changed)), ("step", .int(c.step))] + restoredJSON(c.restored))
    } ?? .null
    return .object([
        ("cf", cf),
        ("orig_class", .int(e.origClass)),
        ("orig_proba", .numbers(e.origProba)),
        ("success", .bool(e.success)),
        ("meta", metaJSON(context, stats: e.stats)),
    ])
}
