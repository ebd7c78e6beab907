import CFXCore
import CFXFormats

// ECCCo through the C API: its explanation JSON.

/// cf (null unless p_y⁺ ≥ target_proba was reached), last (the final point either way; with
/// `restored` after the sparsity pass),
/// orig_class, orig_proba, target_class, success, meta.
func ecccoJSON(_ e: ECCCoExplanation, _ context: ExplanationContext) -> JSON {
    let last = JSON.object([
        ("X", .numbers(e.last)), ("class", .int(argmax(e.proba))), ("proba", .numbers(e.proba)),
        ("distance", .double(e.distance)), ("energy", .double(e.energy)), ("steps", .int(e.steps)),
    ] + restoredJSON(e.restored))
    return .object([
        ("cf", e.success ? last : .null),
        ("last", last),
        ("orig_class", .int(e.origClass)),
        ("orig_proba", .numbers(e.origProba)),
        ("target_class", .int(e.targetClass)),
        ("success", .bool(e.success)),
        ("meta", metaJSON(context, stats: e.stats)),
    ])
}
