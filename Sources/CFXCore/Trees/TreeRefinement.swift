/// What the tree methods (Feature Tweaking, FOCUS) share around their searches: the opening (the
/// ensemble the model is; the real ensemble's view of the instance and the classes that count) and
/// the refinement passes (TreeSparsify.swift, TreeShrink.swift), which rebuild a counterfactual at
/// the point they move it to.
protocol TreeRefinableCandidate {
    var x: [Double] { get }
    var proba: [Double] { get }
    var restored: Int? { get }
    /// This candidate at `point`, with the real ensemble's probabilities there and its other fields
    /// recomputed (`changed` features, `restored` as given).
    func moved(to point: [Double], proba: [Double], distance: Double, changed: Int, restored: Int?) -> Self
}

extension Classifier {
    /// The tree ensemble `method` explains: the model's, or a config error naming the model.
    func treeEnsemble(for method: String) throws -> TreeEnsemble {
        guard let ensemble = treeEnsemble else {
            throw CFXError.config("model", "\(method) needs a tree ensemble (an XGBoost JSON, LightGBM text or ONNX tree model loaded by cfx_model_load)")
        }
        return ensemble
    }
}

/// One row's opening: a session on the real ensemble, the instance as it sees it (`Factual`) and
/// the target classes (in `TargetClass.classes` order, and as a set).
struct TreeOpening {
    let started = monotonicSeconds()
    let session: ModelSession
    let factual: Factual
    let targetList: [Int]
    let targets: Set<Int>

    init(_ x: [Double], ensemble: TreeEnsemble, target: TargetClass) throws {
        session = ModelSession(model: ensemble)
        factual = Factual(x: x, proba: try session.predict(x))
        targetList = target.classes(of: ensemble.classCount, original: factual.predicted)
        targets = Set(targetList)
    }

    var x: [Double] { factual.x }

    /// The row's search statistics so far: the session's calls, and `gradients` evaluated.
    func stats(gradients: Int) -> SearchStats {
        SearchStats(predictCalls: session.predictCalls, predictedRows: session.predictedRows,
                    gradientEvaluations: gradients, seconds: monotonicSeconds() - started)
    }
}

/// A tree method's explainer (Feature Tweaking, FOCUS): its ensemble and target, the row's search
/// from its opening, and its constraints and distance, which the refinement passes keep and report.
protocol TreeRefiningExplainer: Sendable {
    associatedtype Candidate: TreeRefinableCandidate
    associatedtype Explanation
    var ensemble: TreeEnsemble { get }
    var targetClass: TargetClass { get }
    var constraints: Constraints { get }
    func distance(_ a: [Double], _ b: [Double]) -> Double
    /// One row's explanation, from its opening.
    func explain(_ opening: TreeOpening, cancellation: Cancellation) throws -> Explanation
}

extension TreeRefiningExplainer {
    /// Every row's explanation (`explainRows`: threads, cancellation, per-row errors), each from its opening.
    func explainEachRow(_ instances: [Double], rows: Int, threads: Int, control: RunControl) throws -> [Explanation] {
        try explainRows(instances, rows: rows, model: ensemble, threads: threads, control: control) { x, cancellation in
            try self.explain(TreeOpening(x, ensemble: self.ensemble, target: self.targetClass), cancellation: cancellation)
        }
    }

    /// `cf` (valid for the opening's instance, or nil) after the sparsity pass when `sparsify`,
    /// then the threshold-aware shrink when there is one.
    func refined(_ cf: Candidate?, _ opening: TreeOpening, sparsify: Bool, shrink: ThresholdShrink?) throws -> Candidate? {
        guard var cf else { return nil }
        if sparsify { cf = try sparsified(cf, opening) }
        if let shrink { cf = try shrunk(cf, by: shrink, opening) }
        return cf
    }

    /// `cf` (valid) after the tree methods' sparsity pass (key `sparsify`).
    func sparsified(_ cf: Candidate, _ opening: TreeOpening) throws -> Candidate {
        let result = try restoreFeatures(cf.x, proba: cf.proba, of: opening.x, targets: opening.targets,
                                         constraints: constraints, session: opening.session)
        return moved(cf, to: result.x, proba: result.proba, of: opening.x, restored: result.restored)
    }

    /// `cf` (valid) after the threshold-aware shrink (key `shrink`).
    func shrunk(_ cf: Candidate, by shrink: ThresholdShrink, _ opening: TreeOpening) throws -> Candidate {
        let result = try shrink.run(cf.x, proba: cf.proba, of: opening.x, targets: opening.targets,
                                    constraints: constraints, session: opening.session, distance: distance)
        return moved(cf, to: result.x, proba: result.proba, of: opening.x, restored: cf.restored)
    }

    private func moved(_ cf: Candidate, to point: [Double], proba: [Double], of x: [Double], restored: Int?) -> Candidate {
        cf.moved(to: point, proba: proba, distance: distance(point, x),
                 changed: x.indices.filter { point[$0] != x[$0] }.count, restored: restored)
    }
}
