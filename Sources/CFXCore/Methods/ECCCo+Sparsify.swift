/// ECCCo's sparsity pass (key `sparsify`): after the search, on each counterfactual that reached
/// τ, with the search's own test (p_y⁺ ≥ τ), in units of the training MAD (fit) or the range.
extension ECCCoExplainer {
    /// `e` with its counterfactual sparsified when the params ask for it: `cf` and `last` become
    /// the sparse point, with its probabilities, distance and energy.
    func sparsified(_ e: ECCCoExplanation, original x: [Double], cancellation: Cancellation) throws -> ECCCoExplanation {
        let params = generator.params
        guard params.refinement.sparsify, let cf = e.cf else { return e }
        let network = generator.network, t = e.targetClass, tau = params.targetProba
        let session = ModelSession(model: network)
        var pass = SparsityPass(scales: scales)
        pass.repairSteps = params.refinement.sparsifyRepairSteps
        pass.cancellation = cancellation
        (pass.lower, pass.upper) = (generator.constraints.lower, generator.constraints.upper)
        var weights = [Double](repeating: 0, count: e.proba.count)
        weights[t] = 1
        let result = try pass.run(
            original: x, counterfactual: cf, proba: e.proba,
            predict: { try session.predict($0) }, isValid: { _, p in p[t] >= tau },
            scoreGradient: { [weights] in try session.scoreGradient(at: $0, weights: weights) })
        let evaluator = NetworkEvaluator(network)
        result.x.withUnsafeBufferPointer { evaluator.forward($0, rows: 1) }
        var stats = e.stats
        stats.predictCalls += session.predictCalls + 1
        stats.predictedRows += session.predictedRows + 1
        stats.gradientEvaluations += session.gradientEvaluations
        var out = ECCCoExplanation(cf: result.x, last: result.x, proba: result.proba, targetClass: t, origClass: e.origClass,
                                   origProba: e.origProba, steps: e.steps, distance: changeNorms(result.x, x).l1,
                                   energy: LogitLoss.energy(logits: evaluator.value(generator.logits).baseAddress!, label: t), stats: stats)
        out.restored = result.restored
        return out
    }
}
