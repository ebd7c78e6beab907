/// Feature Tweaking's sparsity pass (key `sparsify`): the closest valid tweak moves every feature
/// tested on its path, but the ensemble often gives the target with fewer of those changes; the
/// tree methods' pass (TreeSparsify.swift) restores what it can. Trees have no gradient, so there
/// is no repair round (`sparsify_repair_steps` is not a key of this method).
extension FeatureTweakingExplainer {
    /// `cf` (a valid tweak of `x`) after the pass: its point, class, probabilities, distance,
    /// changed count and `restored` describe the sparse counterfactual.
    func sparsified(_ cf: TweakCandidate, of x: [Double], targets: Set<Int>, session: ModelSession) throws -> TweakCandidate {
        let result = try restoreFeatures(cf.x, proba: cf.proba, of: x, targets: targets, constraints: constraints, session: session)
        var out = TweakCandidate(x: result.x, distance: distance(result.x, x), tree: cf.tree)
        (out.predictedClass, out.proba) = (argmax(result.proba), result.proba)
        out.changed = x.indices.filter { result.x[$0] != x[$0] }.count
        out.restored = result.restored
        return out
    }

    /// `cf` after the threshold-aware shrink (TreeShrink.swift), its fields recomputed.
    func shrunk(_ cf: TweakCandidate, by shrink: ThresholdShrink, of x: [Double], targets: Set<Int>,
                session: ModelSession) throws -> TweakCandidate {
        let result = try shrink.run(cf.x, proba: cf.proba, of: x, targets: targets, constraints: constraints, session: session)
        var out = TweakCandidate(x: result.x, distance: distance(result.x, x), tree: cf.tree)
        (out.predictedClass, out.proba, out.restored) = (argmax(result.proba), result.proba, cf.restored)
        out.changed = x.indices.filter { result.x[$0] != x[$0] }.count
        return out
    }
}
