/// The sparsity pass every method can run after its search (config key `sparsify`): changed
/// features go back to the instance's values one at a time, the smallest normalised change first,
/// and a restoration is kept only when the counterfactual stays valid by the method's own test.
/// Restoring only ever moves a feature back to the instance's value, so box, immutable and
/// directional (increase-only / decrease-only) constraints that held before still hold after.
///
/// A search stops at the edge of validity, where restoring any feature usually loses it. So a
/// second round (`repairSteps` > 0, key `sparsify_repair_steps`) tries each remaining change
/// again with a repair: after the restoration, the features the search changed (single columns,
/// not one-hot groups) climb the method's score (e.g. p_t) in small steps until the point is valid,
/// each staying on its side of the instance's value and inside the box (so directional
/// constraints still hold: a feature only moves further the way the search moved it, or back).
/// A repaired restoration is kept when it is valid and the L1 distance stays within
/// `l1Budget` times the search's.
public struct SparsityPass: Sendable {
    /// Units in which changes are ranked (see `featureScales`).
    public let scales: [Double]
    /// Features restored together: one group per one-hot categorical variable, one per other feature.
    public let groups: [[Int]]

    /// The repair round: steps per restoration (0: restoration only), and the box.
    public var repairSteps = 0
    /// Groups holding any of these features are tried first (a set's members restore the
    /// features earlier members kept, so that they end up changing different features): all at
    /// once with a repair over the other changed features (within `setL1Budget`), then one by one.
    public var restoreFirst: Set<Int> = []
    static let setL1Budget = 1.25
    public var lower: [Double]?
    public var upper: [Double]?
    /// Checked every `Cancellation.checkInterval` repair steps.
    public var cancellation = Cancellation()
    /// Step of the repair, in units of the feature's scale, for the feature with the steepest score.
    static let repairStep = 0.02
    static let l1Budget = 1.05
    public static let defaultRepairSteps = 100
    /// The most repair steps a config may ask for.
    public static let maxRepairSteps = 100_000

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
    /// point); `scoreGradient`, for the repair round, the gradient of a score that grows toward
    /// validity (nil: no repair).
    public func run(original: [Double], counterfactual: [Double], proba: [Double],
                    predict: ([Double]) throws -> [Double],
                    isValid: (_ x: [Double], _ proba: [Double]) throws -> Bool,
                    scoreGradient: (([Double]) throws -> [Double])? = nil) throws -> Result {
        var x = counterfactual, p = proba, restored = 0
        func changedGroups() -> [[Int]] {
            // `restoreFirst` groups, then smallest normalised change first (ties: lowest column first).
            groups.compactMap { group -> (group: [Int], rank: Int, change: Double)? in
                var change = 0.0
                for j in group { change += abs(x[j] - original[j]) / scales[j] }
                let rank = group.contains(where: restoreFirst.contains) ? 0 : 1
                return change > 0 ? (group, rank, change) : nil
            }.sorted { ($0.rank, $0.change, $0.group[0]) < ($1.rank, $1.change, $1.group[0]) }.map(\.group)
        }
        for group in changedGroups() {
            var candidate = x
            for j in group { candidate[j] = original[j] }
            let q = try predict(candidate)
            if try isValid(candidate, q) {
                x = candidate
                p = q
                restored += 1
            }
        }
        guard repairSteps > 0, let scoreGradient else { return Result(x: x, proba: p, restored: restored) }
        let taken = changedGroups().filter { $0.contains(where: restoreFirst.contains) }
        if !taken.isEmpty {
            var candidate = x
            for group in taken { for j in group { candidate[j] = original[j] } }
            if let (repaired, q) = try repair(candidate, original: original, predict: predict, isValid: isValid,
                                              scoreGradient: scoreGradient),
               l1(repaired, original) <= Self.setL1Budget * l1(counterfactual, original) {
                x = repaired
                p = q
                restored += taken.count
            }
        }
        let budget = Self.l1Budget * l1(counterfactual, original)
        for group in changedGroups() {
            var candidate = x
            for j in group { candidate[j] = original[j] }
            guard let (repaired, q) = try repair(candidate, original: original, predict: predict, isValid: isValid,
                                                 scoreGradient: scoreGradient),
                  l1(repaired, original) <= budget else { continue }
            x = repaired
            p = q
            restored += 1
        }
        return Result(x: x, proba: p, restored: restored)
    }

    /// Steepest ascent of the score over the changed single-column features until valid.
    private func repair(_ start: [Double], original: [Double], predict: ([Double]) throws -> [Double],
                        isValid: ([Double], [Double]) throws -> Bool,
                        scoreGradient: ([Double]) throws -> [Double]) throws -> ([Double], [Double])? {
        let movable = groups.filter { $0.count == 1 }.map { $0[0] }.filter { start[$0] != original[$0] }
        guard !movable.isEmpty else { return nil }
        var x = start
        for step in 0..<repairSteps {
            try cancellation.step(step)
            let q = try predict(x)
            if try isValid(x, q) { return (x, q) }
            let g = try scoreGradient(x)
            var steepest = 0.0
            for j in movable { steepest = max(steepest, abs(g[j]) * scales[j]) }
            guard steepest > 0 else { return nil }
            for j in movable {
                var v = x[j] + Self.repairStep * scales[j] * (g[j] * scales[j] / steepest)
                if let lower { v = max(v, lower[j]) }
                if let upper { v = min(v, upper[j]) }
                // Never across the instance's value: a feature keeps the side the search moved it to.
                x[j] = start[j] > original[j] ? max(v, original[j]) : min(v, original[j])
            }
        }
        let q = try predict(x)
        return try isValid(x, q) ? (x, q) : nil
    }

    private func l1(_ a: [Double], _ b: [Double]) -> Double {
        var total = 0.0
        for j in a.indices { total += abs(a[j] - b[j]) }
        return total
    }
}

extension ModelSession {
    /// ∇ of Σ_c w_c p_c(x), the score a sparsity repair climbs.
    func scoreGradient(at x: [Double], weights: [Double]) throws -> [Double] {
        var g = [Double](repeating: 0, count: x.count)
        try pullback(at: x, cotangent: weights, into: &g)
        return g
    }
}

/// A set's members after the sparsity pass, in order: each tries first to restore the features
/// that the members before it changed from `original`, so that the set shares its changes.
func sparsifiedMembers<Member>(_ members: [Member], original: [Double], point: (Member) -> [Double],
                               sparsify: (Member, _ restoreFirst: Set<Int>) throws -> Member) rethrows -> [Member] {
    var used = Set<Int>()
    return try members.map { member in
        let sparse = try sparsify(member, used)
        let x = point(sparse)
        for j in x.indices where x[j] != original[j] { used.insert(j) }
        return sparse
    }
}
