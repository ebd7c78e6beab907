/// Feature Tweaking's sparsity pass (key `sparsify`): the closest valid tweak moves every feature
/// tested on its path, but the ensemble often gives the target with fewer of those changes; the
/// tree methods' pass (TreeSparsify.swift) restores what it can. Trees have no gradient, so there
/// is no repair round (`sparsify_repair_steps` is not a key of this method). The shrink and the
/// pass rebuild a tweak through TreeRefinement.swift.
extension FeatureTweakingExplainer: TreeRefiningExplainer {
    typealias Candidate = TweakCandidate
}

extension TweakCandidate: TreeRefinableCandidate {
    func moved(to point: [Double], proba: [Double], distance: Double, changed: Int, restored: Int?) -> TweakCandidate {
        var out = TweakCandidate(x: point, distance: distance, tree: tree)
        (out.predictedClass, out.proba, out.changed, out.restored) = (argmax(proba), proba, changed, restored)
        return out
    }
}
