/// DeDUCE's and JSMA's sparsity pass (key `sparsify`): after the loop, with its own test (the
/// target probability at least target_confidence), in units of the feature range.
extension SaliencyExplainer {
    func makeOracle() -> SaliencyOracle {
        if let network = model as? Network {
            NetworkOracle(network: network, density: density, featureBuffer: featureBuffer, logitsBuffer: logitsBuffer)
        } else {
            SessionOracle(model: model)
        }
    }

    /// `e` with its counterfactual sparsified when the params ask for it.
    func sparsified(_ e: SaliencyExplanation, original x0: [Double], cancellation: Cancellation = Cancellation()) throws -> SaliencyExplanation {
        guard params.refinement.sparsify, let cf = e.cf else { return e }
        let oracle = makeOracle()
        let t = e.targetClass, confidence = params.targetConfidence
        var pass = SparsityPass(scales: featureScales(lower: lower, upper: upper))
        pass.repairSteps = params.refinement.sparsifyRepairSteps
        pass.cancellation = cancellation
        (pass.lower, pass.upper) = (lower, upper)
        let session = ModelSession(model: model, eps: 1e-5)
        var weights = [Double](repeating: 0, count: cf.proba.count)
        weights[t] = 1
        let result = try pass.run(
            original: x0, counterfactual: cf.x, proba: cf.proba,
            predict: { try oracle.evaluate($0, target: t).proba }, isValid: { _, p in p[t] >= confidence },
            scoreGradient: { [weights] in try session.scoreGradient(at: $0, weights: weights) })
        let (proba, logDensity) = try oracle.evaluate(result.x, target: t)
        let (l0, l1) = changeNorms(result.x, x0)
        var out = e
        out.cf = SaliencyCounterfactual(x: result.x, predictedClass: argmax(proba), proba: proba, l0: l0, l1: l1,
                                        iterations: cf.iterations, logDensity: logDensity, restored: result.restored)
        out.stats.predictCalls += oracle.stats.predictCalls
        out.stats.predictedRows += oracle.stats.predictedRows
        return out
    }
}
