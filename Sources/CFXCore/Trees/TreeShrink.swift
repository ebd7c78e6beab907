/// The threshold-aware shrink of the tree methods (key `shrink`; Feature Tweaking, FOCUS): along one
/// feature, with the others fixed, a tree ensemble is constant between consecutive split
/// thresholds. So for each changed feature j of a valid counterfactual x′ the values worth trying
/// between x_j and x′_j are x_j itself and, for each threshold θ between them, the value nearest
/// x_j on x′_j's side of θ (in the ensemble's arithmetic: float32 where it rounds inputs). The
/// closest to x_j at which the real ensemble still predicts a target class and the constraints
/// hold replaces x′_j (at worst the edge of x′_j's own interval, which changes no leaf). Features
/// are taken largest change first, in passes until one changes nothing (at most `maxPasses`).
struct ThresholdShrink {
    let ensemble: TreeEnsemble
    /// Per feature, the distinct (threshold, strict) of its splits.
    let splits: [[TreeEnsemble.Split]]
    static let maxPasses = 8

    init(_ ensemble: TreeEnsemble) {
        self.ensemble = ensemble
        splits = ensemble.splitsByFeature()
    }

    /// `cf` (valid, with the ensemble's probabilities `proba`) shrunk towards `x`: the point and its probabilities.
    func run(_ cf: [Double], proba: [Double], of x: [Double], targets: Set<Int>, constraints: Constraints,
             session: ModelSession) throws -> (x: [Double], proba: [Double]) {
        var (point, probabilities) = (cf, proba)
        let k = ensemble.classCount
        for _ in 0..<Self.maxPasses {
            var moved = false
            let order = x.indices.filter { point[$0] != x[$0] }.sorted { abs(point[$0] - x[$0]) > abs(point[$1] - x[$1]) }
            for j in order {
                let values = candidates(j, from: x[j], to: point[j])
                guard !values.isEmpty else { continue }
                var rows: [Double] = []
                rows.reserveCapacity(values.count * x.count)
                for v in values { var y = point; y[j] = v; rows += y }
                let p = try session.predict(rows, rows: values.count)
                for (i, v) in values.enumerated() {  // closest to x_j first
                    let row = Array(p[i * k..<(i + 1) * k])
                    var y = point
                    y[j] = v
                    guard targets.contains(argmax(row)), constraints.permits(y, from: x) else { continue }
                    (point, probabilities, moved) = (y, row, true)
                    break
                }
            }
            if !moved { break }
        }
        return (point, probabilities)
    }

    /// The values between `start` (x_j) and `end` (x′_j) worth trying, closest to `start` first:
    /// `start`, then the value nearest `start` on `end`'s side of each threshold in between.
    func candidates(_ j: Int, from start: Double, to end: Double) -> [Double] {
        var values = [start]
        let up = end > start
        for split in splits[j] {
            let v = up ? ensemble.firstRight(of: split) : ensemble.lastLeft(of: split)
            if up ? (start < v && v < end) : (end < v && v < start) { values.append(v) }
        }
        return values.sorted { abs($0 - start) < abs($1 - start) }
    }
}

extension TreeEnsemble {
    /// A split's test: left when x ≤ threshold, or x < threshold when strict.
    struct Split: Hashable {
        let threshold: Double
        let strict: Bool
    }

    /// Per feature, its splits' distinct tests (reachable nodes only).
    func splitsByFeature() -> [[Split]] {
        var sets = [Set<Split>](repeating: [], count: featureCount)
        var stack = roots.map(Int.init)
        while let n = stack.popLast() {
            guard feature[n] >= 0 else { continue }
            sets[Int(feature[n])].insert(Split(threshold: threshold[n], strict: flags[n].contains(.strict)))
            stack += [Int(left[n]), Int(right[n])]
        }
        return sets.map { $0.sorted { ($0.threshold, $0.strict ? 1 : 0) < ($1.threshold, $1.strict ? 1 : 0) } }
    }

    /// The smallest value that goes right at `split` (after rounding to float32 where the ensemble does).
    func firstRight(of split: Split) -> Double {
        if split.strict { return split.threshold }
        return precision == .float64 ? split.threshold.nextUp : Double(Float(split.threshold).nextUp)
    }

    /// The largest value that goes left at `split`.
    func lastLeft(of split: Split) -> Double {
        if !split.strict { return split.threshold }
        return precision == .float64 ? split.threshold.nextDown : Double(Float(split.threshold).nextDown)
    }
}

extension ThresholdShrink {
    /// The row `shrink`, shared by the tree methods.
    static func row<P>(_ path: WritableKeyPath<P, Bool>) -> Parameter<P> {
        .boolean("shrink", path, "move each changed feature back towards the instance as far as the split thresholds allow while the real ensemble stays valid (after `sparsify`)")
    }
}
