/// Wachter's diverse sets and sparsity pass (keys n_counterfactuals, diversity_weight, sparsify):
/// both run after the λ search, from its counterfactual, with its validity test.
extension WachterSearch {
    /// The search's own test: |p_t − target_proba| ≤ tol, t resolved at `p`.
    func isValid(_ p: [Double]) -> Bool {
        let t = explainer.params.targetClass.resolve(probabilities: p, original: factual.predicted)
        return abs(p[t] - explainer.params.targetProba) <= explainer.params.tol
    }

    /// A candidate at `x`, its loss at `lambda`.
    mutating func candidate(at point: [Double], lambda: Double, index: Int) throws -> WachterCandidate {
        x = point
        proba = try session.predict(point)
        return WachterCandidate(x: x, distance: distance, lambda: lambda, index: index, predictedClass: argmax(proba),
                                proba: proba, loss: loss(lambda: lambda))
    }

    /// Adds the set and applies the sparsity pass, as the params ask.
    mutating func refine(_ e: inout WachterExplanation) throws {
        guard let cf = e.cf else {
            if explainer.params.refinement.nCounterfactuals > 1 { e.cfs = [] }
            return
        }
        if explainer.params.refinement.nCounterfactuals > 1 {
            var members = try diverseSet(from: cf)
            if explainer.params.refinement.sparsify {
                members = try sparsifiedMembers(members, original: factual.x, point: \.x) { try sparsified($0, restoreFirst: $1) }
            }
            e.cfs = members
            e.diversity = DiversityKernel(scales: explainer.scales).determinant(members.map(\.x))
        }
        if explainer.params.refinement.sparsify { e.cf = try sparsified(cf) }
    }

    /// k members optimised jointly at the λ of `cf`, each member's loss over k times `cf`'s (the
    /// mean over the set, in units of the single counterfactual's loss, so that det K weighs the
    /// same whatever the scale of the loss); an invalid member follows the prediction term alone
    /// (λ = 0) until it is valid again. Returns the valid ones, `cf`'s descendant first; members
    /// have index −1 (they come from no bisection step).
    mutating func diverseSet(from cf: WachterCandidate) throws -> [WachterCandidate] {
        let lambda = cf.lambda
        let unit = max(cf.loss, 1e-12) * Double(explainer.params.refinement.nCounterfactuals)
        var probe = self
        let (constraints, original) = (explainer.constraints, factual.x)
        let objective = SetMemberObjective(evaluate: { point in
            probe.x = point
            probe.proba = try probe.session.predict(point)
            let valid = probe.meetsTarget
            try probe.computeGradient(lambda: valid ? lambda : 0)
            return (probe.loss(lambda: lambda) / unit, probe.gradient.map { $0 / unit }, valid)
        }, project: { constraints.apply(to: &$0, original: original) })
        let start = setStart(counterfactual: cf.x, count: explainer.params.refinement.nCounterfactuals, scales: explainer.scales,
                             seed: explainer.seed, project: objective.project)
        let settings = SetSearchSettings(steps: explainer.params.maxIter, learningRate: explainer.params.learningRateInit,
                                         diversityWeight: explainer.params.refinement.diversityWeight, patience: explainer.params.earlyStop)
        let points = try optimiseDiverseSet(start: start, kernel: DiversityKernel(scales: explainer.scales),
                                            objective: objective, settings: settings, cancellation: cancellation)
        return try points.compactMap { $0 }.map { try candidate(at: $0, lambda: lambda, index: -1) }
    }

    /// `c` after the sparsity pass, with its distance and loss recomputed.
    /// `restoreFirst`: features to try restoring first (those earlier members of a set changed).
    mutating func sparsified(_ c: WachterCandidate,
                             restoreFirst: Set<Int> = []) throws -> WachterCandidate {
        let session = self.session
        var pass = SparsityPass(scales: explainer.scales)
        pass.restoreFirst = restoreFirst
        pass.repairSteps = explainer.params.refinement.sparsifyRepairSteps
        pass.cancellation = cancellation
        (pass.lower, pass.upper) = (explainer.constraints.lower, explainer.constraints.upper)
        var weights = [Double](repeating: 0, count: c.proba.count)
        weights[explainer.params.targetClass.resolve(probabilities: c.proba, original: factual.predicted)] = 1
        let result = try pass.run(
            original: factual.x, counterfactual: c.x, proba: c.proba,
            predict: { try session.predict($0) }, isValid: { _, p in isValid(p) },
            scoreGradient: { [weights] in try session.scoreGradient(at: $0, weights: weights) })
        var out = try candidate(at: result.x, lambda: c.lambda, index: c.index)
        out.restored = result.restored
        return out
    }
}
