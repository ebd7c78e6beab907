/// A tree method's counterfactual, which the refinement passes (TreeSparsify.swift, TreeShrink.swift)
/// rebuild at the point they move it to.
protocol TreeRefinableCandidate {
    var x: [Double] { get }
    var proba: [Double] { get }
    var restored: Int? { get }
    /// This candidate at `point`, with the real ensemble's probabilities there and its other fields
    /// recomputed (`changed` features, `restored` as given).
    func moved(to point: [Double], proba: [Double], distance: Double, changed: Int, restored: Int?) -> Self
}

/// A tree method's explainer (Feature Tweaking, FOCUS): its constraints and distance, which the
/// refinement passes keep and report.
protocol TreeRefiningExplainer {
    associatedtype Candidate: TreeRefinableCandidate
    var constraints: Constraints { get }
    func distance(_ a: [Double], _ b: [Double]) -> Double
}

extension TreeRefiningExplainer {
    /// `cf` (valid for `x`) after the tree methods' sparsity pass (key `sparsify`).
    func sparsified(_ cf: Candidate, of x: [Double], targets: Set<Int>, session: ModelSession) throws -> Candidate {
        let result = try restoreFeatures(cf.x, proba: cf.proba, of: x, targets: targets, constraints: constraints, session: session)
        return moved(cf, to: result.x, proba: result.proba, of: x, restored: result.restored)
    }

    /// `cf` (valid for `x`) after the threshold-aware shrink (key `shrink`).
    func shrunk(_ cf: Candidate, by shrink: ThresholdShrink, of x: [Double], targets: Set<Int>,
                session: ModelSession) throws -> Candidate {
        let result = try shrink.run(cf.x, proba: cf.proba, of: x, targets: targets, constraints: constraints, session: session)
        return moved(cf, to: result.x, proba: result.proba, of: x, restored: cf.restored)
    }

    private func moved(_ cf: Candidate, to point: [Double], proba: [Double], of x: [Double], restored: Int?) -> Candidate {
        cf.moved(to: point, proba: proba, distance: distance(point, x),
                 changed: x.indices.filter { point[$0] != x[$0] }.count, restored: restored)
    }
}
