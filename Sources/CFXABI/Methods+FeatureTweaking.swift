import CFXCore
import CFXFormats

// Feature Tweaking through the C API: its explanation JSON.

/// cf (the closest ε-tweak the ensemble predicts as a target, with `restored` after the sparsity
/// pass, or null), orig_class, orig_proba, candidates (distinct tweaks built), rejected (dropped by
/// the constraints), success, meta.
func featureTweakingJSON(_ e: FeatureTweakingExplanation, _ context: ExplanationContext) -> JSON {
    let cf: JSON = e.cf.map { c in
        .object([("X", .numbers(c.x)), ("class", .int(c.predictedClass)), ("proba", .numbers(c.proba)),
                 ("distance", .double(c.distance)), ("changed", .int(c.changed)), ("tree", .int(c.tree))] + restoredJSON(c.restored))
    } ?? .null
    return .object([
        ("cf", cf),
        ("orig_class", .int(e.origClass)),
        ("orig_proba", .numbers(e.origProba)),
        ("candidates", .int(e.candidates)),
        ("rejected", .int(e.rejected)),
        ("success", .bool(e.success)),
        ("meta", metaJSON(context, stats: e.stats)),
    ])
}
