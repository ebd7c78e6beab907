import CFXCore
import CFXFormats

// The keys of diverse sets and the sparsity pass, added to an explanation only when asked for, so
// that the default output is unchanged.

/// "cfs" (the set's valid members, each like "cf") and "diversity" (det K of those members), when
/// the config asked for a set (n_counterfactuals > 1); nothing otherwise.
func setJSON(_ members: [JSON]?, diversity: Double?, params: JSON) -> [(String, JSON)] {
    guard let members else {
        if let n = params["n_counterfactuals"], case .int(let k) = n, k > 1 {
            // asked for a set but the search found no counterfactual to start one from
            return [("cfs", .array([])), ("diversity", .null)]
        }
        return []
    }
    return [("cfs", .array(members)), ("diversity", diversity.map { .double($0) } ?? .null)]
}

/// "restored": features (one-hot variables count once) the sparsity pass put back, when it ran.
func restoredJSON(_ restored: Int?) -> [(String, JSON)] {
    restored.map { [("restored", .int($0))] } ?? []
}
