/// Metrics of diverse sets (n instances, k counterfactuals each): every member measured as
/// `CounterfactualEvaluator.evaluate` measures a counterfactual, plus each set's diversity.
///
///   diversity        mean over pairs of found members of Σ_f |a_f − b_f|
///   diversity_mad    DiCE's diversity: mean over pairs of (1/d) Σ_f |a_f − b_f| / MAD_f (training data)
///   count_diversity  DiCE's count diversity: mean over pairs and features of [|a_f − b_f| > sparsity_tol]
public struct SetDiversity: Sendable, Equatable {
    public let l1: Double
    public let mad: Double?
    public let count: Double

    /// nil with fewer than two members; `mad` nil without MADs (zeros divided by `madZeroScale`).
    public init?(_ members: [[Double]], mad: [Double]?, madZeroScale: Double = 1, tol: Double) {
        guard members.count >= 2, let d = members.first?.count, d > 0 else { return nil }
        var l1 = 0.0, scaled = 0.0, differing = 0.0, pairs = 0.0
        for i in 0..<members.count {
            for j in 0..<i {
                pairs += 1
                for f in 0..<d {
                    let delta = abs(members[i][f] - members[j][f])
                    l1 += delta
                    if let mad { scaled += delta / (mad[f] > 0 ? mad[f] : madZeroScale) / Double(d) }
                    if delta > tol { differing += 1 }
                }
            }
        }
        self.l1 = l1 / pairs
        self.mad = mad == nil ? nil : scaled / pairs
        self.count = differing / (pairs * Double(d))
    }
}

public struct SetMetrics: Sendable {
    /// Row i·k + j is member j of set i.
    public let members: CounterfactualMetrics
    public let k: Int
    public let diversity: [SetDiversity?]
    public let membersFound: [Int]
    public let membersValid: [Int]
    public var allValid: [Bool] { membersValid.map { $0 == k } }
}

extension CounterfactualEvaluator {
    /// Measures n sets: `x` (n × d) and `members` (n × k × d, a member all NaN: missing). The
    /// request's targets are per set (one for all, or n).
    public func evaluateSets(x: [Double], members: [Double], sets n: Int, k: Int, _ request: EvaluationRequest) throws -> SetMetrics {
        let d = model.featureCount
        guard k >= 1, members.count == n * k * d, x.count == n * d else {
            throw CFXError(.shape, "x_cfs: holds \(members.count) values, expected \(n) sets × \(k) members × \(d) features")
        }
        var expanded = request
        if request.targets.count == n && n > 1 { expanded.targets = request.targets.flatMap { [TargetClass](repeating: $0, count: k) } }
        if let costs = request.costs { expanded.costs = costs.flatMap { [InstanceCost](repeating: $0, count: k) } }
        var rows: [Double] = []
        rows.reserveCapacity(n * k * d)
        for i in 0..<n { for _ in 0..<k { rows += x[i * d..<(i + 1) * d] } }
        let metrics = try evaluate(x: rows, counterfactuals: members, rows: n * k, expanded)
        var diversity: [SetDiversity?] = [], found: [Int] = [], valid: [Int] = []
        for i in 0..<n {
            let range = i * k..<(i + 1) * k
            let present = range.filter { metrics.instances[$0].found }
            found.append(present.count)
            valid.append(range.filter { metrics.instances[$0].valid }.count)
            diversity.append(SetDiversity(present.map { Array(members[$0 * d..<($0 + 1) * d]) }, mad: metrics.mad,
                                          madZeroScale: options.madZeroScale, tol: options.sparsityTol))
        }
        return SetMetrics(members: metrics, k: k, diversity: diversity, membersFound: found, membersValid: valid)
    }
}
