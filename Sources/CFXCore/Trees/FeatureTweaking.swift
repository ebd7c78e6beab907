/// Feature Tweaking (Tolomei et al., "Interpretable Predictions of Tree-based Ensembles via
/// Actionable Feature Tweaking", KDD 2017), for cfx's tree ensembles:
///
///     for each tree whose leaf for x does not favour the target class,
///       for each positive path (root to a leaf that favours the target),
///         x' = x with every test of the path that x fails passed by ε:
///              x'_j = θ − ε for a test x_j ≤ θ (or < θ), θ + ε for x_j > θ (or ≥ θ);
///     keep the x' the whole ensemble predicts as the target; return the closest (ℓ2 or ℓ1).
///
/// Deliberate differences (docs/methods/feature_tweaking.md): a tree is tried when its leaf does
/// not favour the target (in a binary forest: when it votes for the original class, as in the
/// paper); boosted trees' leaves favour a class by their sign (`TreeEnsemble.leaf(_:ofTree:favours:over:)`);
/// candidates that change an immutable feature, move a monotone one the wrong way or leave
/// feature_range are dropped; candidates are checked closest first and the search stops at the
/// first valid one, which is the closest valid candidate, as checking them all would find.
public final class FeatureTweakingExplainer: BatchExplainer, Sendable {
    public let ensemble: TreeEnsemble
    public let params: FeatureTweakingParams
    let constraints: Constraints
    let epsilon: [Double]
    let parents: [Int32]
    let leaves: [[Int]]
    let shrink: ThresholdShrink?
    /// Candidates sent to the ensemble in one predict call.
    static let batchRows = 64

    public init(model: Classifier, params: FeatureTweakingParams) throws {
        let ensemble = try model.treeEnsemble(for: FeatureTweakingMethod.name)
        try FeatureTweakingMethod.parameters.check(params, ModelShape(model))
        self.ensemble = ensemble
        self.params = params
        constraints = try Constraints(params.constraints, featureCount: ensemble.featureCount)
        epsilon = try params.epsilon.resolve(ensemble.featureCount, "epsilon")
        parents = ensemble.parents()
        leaves = ensemble.leaves()
        shrink = params.shrink ? ThresholdShrink(ensemble) : nil
    }

    public func explain(_ instances: [Double], rows: Int, threads: Int, control: RunControl = RunControl()) throws -> [FeatureTweakingExplanation] {
        try explainEachRow(instances, rows: rows, threads: threads, control: control)
    }

    var targetClass: TargetClass { params.targetClass }

    func explain(_ opening: TreeOpening, cancellation: Cancellation) throws -> FeatureTweakingExplanation {
        let (x, original, session) = (opening.x, opening.factual.predicted, opening.session)
        var (candidates, rejected) = try tweaks(of: x, original: original, targets: opening.targetList, cancellation: cancellation)
        candidates.sort { ($0.distance, $0.tree) < ($1.distance, $1.tree) }
        var explanation = FeatureTweakingExplanation(origClass: original, origProba: opening.factual.proba,
                                                     candidates: candidates.count, rejected: rejected)
        let cf = try closestValid(candidates, of: x, targets: opening.targets, session: session, cancellation: cancellation)
        explanation.cf = try refined(cf, opening, sparsify: params.refinement.sparsify, shrink: shrink)
        explanation.stats = opening.stats(gradients: 0)
        return explanation
    }

    /// Every distinct ε-tweak of `x` along a positive path of a tree that does not favour a
    /// target, and how many the constraints dropped.
    func tweaks(of x: [Double], original: Int, targets: [Int], cancellation: Cancellation) throws -> ([TweakCandidate], Int) {
        var seen = Set<[Double]>()
        var candidates: [TweakCandidate] = []
        var rejected = 0
        for t in 0..<ensemble.treeCount {
            if t % Cancellation.checkInterval == 0 { try cancellation.check() }
            let reached = ensemble.leaf(tree: t, row: x)
            for c in targets where !ensemble.leaf(reached, ofTree: t, favours: c, over: original) {
                for leaf in leaves[t] where ensemble.leaf(leaf, ofTree: t, favours: c, over: original) {
                    let tweaked = tweak(x, along: ensemble.path(to: leaf, parents: parents))
                    guard constraints.permits(tweaked, from: x) else { rejected += 1; continue }
                    guard seen.insert(tweaked).inserted else { continue }
                    candidates.append(TweakCandidate(x: tweaked, distance: distance(tweaked, x), tree: t))
                }
            }
        }
        return (candidates, rejected)
    }

    /// x with each failed test of `path` passed by ε (tests in root-to-leaf order, each on the
    /// value the earlier ones left).
    func tweak(_ x: [Double], along path: [TreeEnsemble.Condition]) -> [Double] {
        var y = x
        for test in path {
            let j = test.feature, v = y[j]
            let below = test.strict ? v < test.threshold : v <= test.threshold
            if below != test.left { y[j] = test.left ? test.threshold - epsilon[j] : test.threshold + epsilon[j] }
        }
        return y
    }

    func distance(_ a: [Double], _ b: [Double]) -> Double { params.distance.between(a, b) }

    /// The first candidate, in the given order (closest first), that the ensemble predicts as a
    /// target, checked in batches of `batchRows`.
    func closestValid(_ candidates: [TweakCandidate], of x: [Double], targets: Set<Int>, session: ModelSession,
                      cancellation: Cancellation) throws -> TweakCandidate? {
        let d = ensemble.featureCount, k = ensemble.classCount
        var start = 0
        while start < candidates.count {
            try cancellation.check()
            let batch = candidates[start..<min(start + FeatureTweakingExplainer.batchRows, candidates.count)]
            let proba = try session.predict(batch.flatMap(\.x), rows: batch.count)
            for (i, candidate) in batch.enumerated() {
                let p = Array(proba[i * k..<(i + 1) * k])
                let predicted = argmax(p)
                guard targets.contains(predicted) else { continue }
                var found = candidate
                (found.predictedClass, found.proba) = (predicted, p)
                found.changed = (0..<d).filter { candidate.x[$0] != x[$0] }.count
                return found
            }
            start += batch.count
        }
        return nil
    }
}

/// An ε-tweak of the instance: the point, its distance, the tree whose path made it, and, once
/// checked, its class and probabilities.
public struct TweakCandidate: Sendable {
    public let x: [Double]
    public let distance: Double
    public let tree: Int
    public var predictedClass = -1
    public var proba: [Double] = []
    /// Features changed from the instance (ℓ0).
    public var changed = 0
    /// Features the sparsity pass put back to the instance's values (nil: no pass).
    public var restored: Int? = nil
}

public struct FeatureTweakingExplanation: Sendable {
    /// The closest valid tweak, or nil when none flips the ensemble.
    public var cf: TweakCandidate?
    public let origClass: Int
    public let origProba: [Double]
    /// Distinct tweaks built (after the constraints), and tweaks the constraints dropped.
    public let candidates: Int
    public let rejected: Int
    public var stats = SearchStats()
    public var success: Bool { cf != nil }

    init(origClass: Int, origProba: [Double], candidates: Int, rejected: Int) {
        self.origClass = origClass
        self.origProba = origProba
        self.candidates = candidates
        self.rejected = rejected
    }
}
