/// The threshold-aware shrink of the tree methods (key `shrink`; Feature Tweaking, FOCUS): along one
/// feature, with the others fixed, a tree ensemble is constant between consecutive split
/// thresholds. So for each changed feature j of a valid counterfactual x′ the values worth trying
/// between x_j and x′_j are x_j itself and, for each threshold θ between them that a tree can reach
/// as x_j moves (TreeEnsemble+Splits.swift), the value nearest x_j on x′_j's side of θ (in the
/// ensemble's arithmetic: float32 where it rounds inputs). The closest to x_j at which the real
/// ensemble still predicts a target class and the constraints hold replaces x′_j (at worst the
/// edge of x′_j's own interval, which changes no leaf). Features are taken largest change first,
/// in passes until one changes nothing (at most `maxPasses`). Where no single feature can move
/// back, an exchange may (other features one threshold further first: TreeExchange.swift); the
/// single passes follow each exchange.
struct ThresholdShrink {
    let ensemble: TreeEnsemble
    /// Steps an exchange may take before it gives up (TreeExchange.swift).
    let helpers: Int
    static let maxPasses = 8

    init(_ ensemble: TreeEnsemble, helpers: Int = defaultHelpers) {
        self.ensemble = ensemble
        self.helpers = helpers
    }

    /// `cf` (valid, with the ensemble's probabilities `proba`) shrunk towards `x`: single-feature
    /// passes to a fixed point, then an exchange where one lowers `distance`, and the single passes
    /// again, until the exchange finds nothing (at most `maxPasses` rounds).
    func run(_ cf: [Double], proba: [Double], of x: [Double], targets: Set<Int>, constraints: Constraints,
             session: ModelSession, distance: @escaping ([Double], [Double]) -> Double) throws -> (x: [Double], proba: [Double]) {
        let row = ShrinkRow(x: x, targets: targets, constraints: constraints, session: session, distance: distance)
        var current = try singlePasses(cf, proba: proba, row)
        for _ in 0..<Self.maxPasses {
            guard let exchanged = try exchange(current, row) else { break }
            current = try singlePasses(exchanged.x, proba: exchanged.proba, row)
        }
        return current
    }

    /// Each changed feature, largest change first, put at the value closest to x_j at which the
    /// point stays valid, in passes until one changes nothing (at most `passes`).
    func singlePasses(_ cf: [Double], proba: [Double], _ row: ShrinkRow, passes: Int = maxPasses) throws -> (x: [Double], proba: [Double]) {
        var (point, probabilities) = (cf, proba)
        let (x, k) = (row.x, ensemble.classCount)
        for _ in 0..<passes {
            var moved = false
            let order = x.indices.filter { point[$0] != x[$0] }.sorted { abs(point[$0] - x[$0]) > abs(point[$1] - x[$1]) }
            for j in order {
                let values = candidates(j, of: point, towards: x[j])
                guard !values.isEmpty else { continue }
                var rows: [Double] = []
                rows.reserveCapacity(values.count * x.count)
                for v in values { var y = point; y[j] = v; rows += y }
                let p = try row.session.predict(rows, rows: values.count)
                for (i, v) in values.enumerated() {  // closest to x_j first
                    let proba = Array(p[i * k..<(i + 1) * k])
                    var y = point
                    y[j] = v
                    guard row.accepts(y, proba) else { continue }
                    (point, probabilities, moved) = (y, proba, true)
                    break
                }
            }
            if !moved { break }
        }
        return (point, probabilities)
    }

    /// The values of feature j between `start` (x_j) and `point[j]` worth trying, closest to `start`
    /// first: `start`, then the value nearest `start` on `point[j]`'s side of each threshold in
    /// between that a tree reaches (the others leave the prediction as at a value tried before them).
    func candidates(_ j: Int, of point: [Double], towards start: Double) -> [Double] {
        let end = point[j]
        var values = [start]
        let up = end > start
        for split in ensemble.splits(of: j, reachedFrom: point, between: start, end) {
            let v = up ? ensemble.firstRight(of: split) : ensemble.lastLeft(of: split)
            if up ? (start < v && v < end) : (end < v && v < start) { values.append(v) }
        }
        return values.sorted { abs($0 - start) < abs($1 - start) }
    }
}

extension ThresholdShrink {
    /// The row `shrink`, shared by the tree methods.
    static func row<P>(_ path: WritableKeyPath<P, Bool>) -> Parameter<P> {
        .boolean("shrink", path, "move each changed feature back towards the instance as far as the split thresholds allow while the real ensemble stays valid (after `sparsify`), with exchanges: other features one threshold further where that lets changed ones back closer")
    }
}
