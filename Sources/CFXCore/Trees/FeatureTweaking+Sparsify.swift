/// Feature Tweaking's sparsity pass (key `sparsify`): the closest valid tweak moves every feature
/// tested on its path, but the ensemble often gives the target with fewer of those changes. The
/// shared pass (Search/Sparsify.swift) puts changed features back to the instance's values one at a
/// time, smallest change first in units of feature_range's width (raw units when the range is the
/// unbounded default, the unit of the method's own distance), and keeps a restoration only when
/// the real ensemble still predicts a target class and the constraints hold. Trees have no
/// gradient, so there is no repair round (`sparsify_repair_steps` is not a key of this method).
extension FeatureTweakingExplainer {
    /// `cf` (a valid tweak of `x`) after the pass: its point, class, probabilities, distance,
    /// changed count and `restored` describe the sparse counterfactual.
    func sparsified(_ cf: TweakCandidate, of x: [Double], targets: Set<Int>, session: ModelSession) throws -> TweakCandidate {
        let pass = SparsityPass(scales: featureScales(lower: constraints.lower, upper: constraints.upper))
        let result = try pass.run(original: x, counterfactual: cf.x, proba: cf.proba,
                                  predict: { try session.predict($0) },
                                  isValid: { y, p in targets.contains(argmax(p)) && self.allowed(y, from: x) })
        var out = TweakCandidate(x: result.x, distance: distance(result.x, x), tree: cf.tree)
        (out.predictedClass, out.proba) = (argmax(result.proba), result.proba)
        out.changed = x.indices.filter { result.x[$0] != x[$0] }.count
        out.restored = result.restored
        return out
    }
}
