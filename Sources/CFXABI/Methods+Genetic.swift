import CFXCore
import CFXFormats

// The genetic search through the C API: its explanation JSON.

/// cf (the fittest valid candidate, with `restored` after the sparsity pass, or null), orig_class,
/// orig_proba, generations (scored), success, cfs and diversity (with n_counterfactuals > 1), meta.
func geneticJSON(_ e: GeneticExplanation, _ context: ExplanationContext) -> JSON {
    func candidate(_ c: GeneticCandidate) -> JSON {
        .object([("X", .numbers(c.x)), ("class", .int(c.predictedClass)), ("proba", .numbers(c.proba)),
                 ("loss", .double(c.loss)), ("proximity", .double(c.proximity)), ("changed", .int(c.changed))] + restoredJSON(c.restored))
    }
    return .object([
        ("cf", e.cf.map(candidate) ?? .null),
        ("orig_class", .int(e.origClass)),
        ("orig_proba", .numbers(e.origProba)),
        ("generations", .int(e.generations)),
        ("success", .bool(e.success)),
    ] + setJSON(e.cfs?.map(candidate), diversity: e.diversity) + [
        ("meta", metaJSON(context, stats: e.stats)),
    ])
}
