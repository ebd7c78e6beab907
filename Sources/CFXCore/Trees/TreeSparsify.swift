/// The sparsity pass of the tree methods (Feature Tweaking, FOCUS; key `sparsify`): the shared
/// pass (Search/Sparsify.swift) puts a counterfactual's changed features back to the instance's
/// values one at a time, smallest change first in units of feature_range's width (raw units when
/// the range is the unbounded default), and keeps a restoration only when the real ensemble still
/// predicts a target class and the constraints hold. Restoration only: no repair round.
func restoreFeatures(_ cf: [Double], proba: [Double], of x: [Double], targets: Set<Int>, constraints: Constraints,
                     session: ModelSession) throws -> SparsityPass.Result {
    let pass = SparsityPass(scales: featureScales(lower: constraints.lower, upper: constraints.upper))
    return try pass.run(original: x, counterfactual: cf, proba: proba, predict: { try session.predict($0) },
                        isValid: { y, p in targets.contains(argmax(p)) && constraints.permits(y, from: x) })
}
