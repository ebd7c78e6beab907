/// The sparsity pass every method can run after its search (config key `sparsify`): changed
/// features go back to the instance's values one at a time, the smallest normalised change first,
/// and a restoration is kept only when the counterfactual stays valid by the method's own test.
/// Restoring only ever moves a feature back to the instance's value, so box, immutable and
/// directional (increase-only / decrease-only) constraints that held before still hold after.
public struct SparsityPass: Sendable {
    /// Units in which changes are ranked (see `featureScales`).
    public let scales: [Double]
    /// Features restored together: one group per one-hot categorical variable, one per other feature.
    public let groups: [[Int]]

    public init(scales: [Double], groups: [[Int]]? = nil) {
        self.scales = scales
        self.groups = groups ?? scales.indices.map { [$0] }
    }

    /// One-hot groups given as (first column, number of columns); every other feature alone.
    public init(scales: [Double], oneHot: [(start: Int, count: Int)]) {
        var groupOf = [Int?](repeating: nil, count: scales.count)
        var groups: [[Int]] = []
        for (start, count) in oneHot where start >= 0 && count > 0 && start + count <= scales.count {
            groups.append(Array(start..<start + count))
            for j in start..<start + count { groupOf[j] = groups.count - 1 }
        }
        for j in scales.indices where groupOf[j] == nil { groups.append([j]) }
        self.init(scales: scales, groups: groups)
    }

    public struct Result: Sendable {
        public let x: [Double]
        public let proba: [Double]
        /// Groups (features, or whole one-hot variables) put back to the instance's values.
        public let restored: Int
    }

    /// Sparsifies `counterfactual` (with model probabilities `proba`) of `original`. `predict`
    /// gives the model's probabilities at a point; `isValid` is the method's test on them (and the
    /// point).
    public func run(original: [Double], counterfactual: [Double], proba: [Double],
                    predict: ([Double]) throws -> [Double],
                    isValid: (_ x: [Double], _ proba: [Double]) throws -> Bool) throws -> Result {
        var x = counterfactual, p = proba, restored = 0
        // Changed groups, smallest normalised change first (ties: lowest column first).
        let changed = groups.compactMap { group -> (group: [Int], change: Double)? in
            var change = 0.0
            for j in group { change += abs(x[j] - original[j]) / scales[j] }
            return change > 0 ? (group, change) : nil
        }.sorted { ($0.change, $0.group[0]) < ($1.change, $1.group[0]) }
        for (group, _) in changed {
            var candidate = x
            for j in group { candidate[j] = original[j] }
            let q = try predict(candidate)
            if try isValid(candidate, q) {
                x = candidate
                p = q
                restored += 1
            }
        }
        return Result(x: x, proba: p, restored: restored)
    }
}
