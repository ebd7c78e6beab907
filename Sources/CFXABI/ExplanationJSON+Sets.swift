import CFXCore
import CFXFormats

// The keys of diverse sets and the sparsity pass, added to an explanation only when asked for, so
// that the default output is unchanged.

/// "cfs" (the set's valid members, each like "cf"; empty when the search found no counterfactual
/// to start a set from) and "diversity" (det K of those members, or null), when the config asked
/// for a set (n_counterfactuals > 1); nothing otherwise.
func setJSON(_ members: [JSON]?, diversity: Double?) -> [(String, JSON)] {
    guard let members else { return [] }
    return [("cfs", .array(members)), ("diversity", diversity.map { .double($0) } ?? .null)]
}

/// "restored": features (one-hot variables count once) the sparsity pass put back, when it ran.
func restoredJSON(_ restored: Int?) -> [(String, JSON)] {
    restored.map { [("restored", .int($0))] } ?? []
}
