/// The genetic search's sparsity pass (key `sparsify`), as DiCE's post-hoc sparsity: each changed
/// feature is first put back to the instance's value (cfx's shared pass, restoration only: one-hot
/// variables restored whole) while the model still predicts a target; then each numerical feature
/// still changed is pulled toward the instance's value by bisection (DiCE's "binary" algorithm), as
/// far as the model still predicts a target. Both only move features toward the instance, so the
/// box, immutable and monotone constraints that held still hold.
extension GeneticSearch {
    /// Halvings of a pull: the feature ends within 2^−12 of its change from where validity ends.
    static let pullSteps = 12

    /// `c` after the pass, its loss, proximity and changed count recomputed; `restored` counts the
    /// features put back.
    func sparsified(_ c: GeneticCandidate, restoreFirst: Set<Int>) throws -> GeneticCandidate {
        let layout = explainer.layout
        let groups = layout.oneHot ? layout.variables.map { (start: $0.column, count: $0.categories) } : []
        var pass = SparsityPass(scales: explainer.scales, oneHot: groups)
        pass.restoreFirst = restoreFirst
        pass.cancellation = cancellation
        let session = self.session
        let result = try pass.run(original: factual.x, counterfactual: c.x, proba: c.proba,
                                  predict: { try session.predict($0) }, isValid: { _, p in self.isValid(p[...]) })
        let (point, proba) = try pulled(result.x, proba: result.proba)
        let genes = try layout.ordinal(fromModel: point[...], "counterfactual")
        var out = candidate(genes: genes, point: point, proba: proba)
        out.restored = result.restored
        return out
    }

    /// `point` with each changed numerical feature, largest change (in its scale) first, moved
    /// toward the instance's value by bisection while the model still predicts a target.
    func pulled(_ start: [Double], proba: [Double]) throws -> ([Double], [Double]) {
        var point = start, p = proba
        let layout = explainer.layout, x = factual.x, scales = explainer.scales
        let numerical = (0..<layout.ordinalFeatures).filter { layout.variableOfOrdinal[$0] < 0 }.map { layout.modelStart[$0] }
        let changed = numerical.filter { point[$0] != x[$0] }.sorted { abs(point[$0] - x[$0]) / scales[$0] > abs(point[$1] - x[$1]) / scales[$1] }
        for j in changed {
            try cancellation.check()
            // t: the share of the change kept; t = 1 is valid, t = 0 (restoration) was not.
            // An instance outside feature_range: the pull stops at the range's edge.
            var (low, high) = (0.0, 1.0)
            let far = point[j], box = explainer.constraints.lower[j]...explainer.constraints.upper[j]
            for _ in 0..<Self.pullSteps {
                let t = (low + high) / 2
                var trial = point
                trial[j] = x[j] + t * (far - x[j])
                guard box.contains(trial[j]) else { low = t; continue }
                let q = try session.predict(trial)
                if isValid(q[...]) { (high, point, p) = (t, trial, q) } else { low = t }
            }
        }
        return (point, p)
    }
}
