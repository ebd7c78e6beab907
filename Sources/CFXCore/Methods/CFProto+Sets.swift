/// CFProto's diverse sets and sparsity pass (keys n_counterfactuals, diversity_weight, sparsify):
/// both run after the c search, from its counterfactual, with its validity test (another class
/// after κ, one of the target classes, and the trust-score threshold when one is set).
extension CFProtoSearch {
    /// Whether a model-space point with probabilities `p` is a counterfactual of this search.
    func isValid(model x: [Double], _ p: [Double]) throws -> Bool {
        guard isCounterfactual(p) else { return false }
        guard params.threshold > 0 else { return true }
        let y = try explainer.categorical?.numeric(fromModel: x[...], "cf") ?? x
        guard let score = try trustScore(searchPoint: y, modelPoint: x, cfClass: argmax(p)) else { return false }
        return score > params.threshold
    }

    /// A candidate at the model-space point `x`, with `c`'s search bookkeeping.
    func candidate(model x: [Double], from c: CFProtoCandidate) throws -> CFProtoCandidate {
        let p = try session.predict(x)
        let y = try explainer.categorical?.numeric(fromModel: x[...], "cf") ?? x
        return CFProtoCandidate(x: x, predictedClass: argmax(p), proba: p, distance: elasticNet(y), c: c.c, cStep: c.cStep,
                                iteration: c.iteration)
    }

    /// Adds the set and applies the sparsity pass, as the params ask.
    func refine(_ e: inout CFProtoExplanation) throws {
        guard let cf = e.cf else {
            if params.refinement.nCounterfactuals > 1 { e.cfs = [] }
            return
        }
        if params.refinement.nCounterfactuals > 1 {
            var members = try diverseSet(from: cf)
            if params.refinement.sparsify {
                members = try sparsifiedMembers(members, original: factual.x, point: \.x) { try sparsified($0, restoreFirst: $1) }
            }
            e.cfs = members
            let search = try members.map { try explainer.categorical?.numeric(fromModel: $0.x[...], "cf") ?? $0.x }
            e.diversity = DiversityKernel(scales: explainer.searchScales).determinant(search)
        }
        if params.refinement.sparsify {
            let sparse = try sparsified(cf)
            e.cf = sparse
            let y = try explainer.categorical?.numeric(fromModel: sparse.x[...], "cf") ?? sparse.x
            e.trustScore = try trustScore(searchPoint: y, modelPoint: sparse.x, cfClass: sparse.predictedClass)
        }
    }

    /// k members optimised jointly in the search space at the c of `cf`, each with the loss FISTA
    /// minimises plus β‖y − x‖₁ (by Adam, since the shrinkage step has no joint form), divided by k
    /// times that loss at `cf` (the set's mean in units of the single counterfactual's loss):
    /// CFProto's terms (θ = 10 on the prototype) would otherwise outweigh det K, which lies in
    /// [0, 1], and pull every member to the same point. An invalid member follows the prediction
    /// term with 10 c until it is valid again. Returns the valid members.
    func diverseSet(from cf: CFProtoCandidate) throws -> [CFProtoCandidate] {
        let c = max(cf.c, 1e-3)
        let numerical = blackBox && usesPredictionTerm
        let cfSearch = try explainer.categorical?.numeric(fromModel: cf.x[...], "cf") ?? cf.x
        func memberLoss(_ y: [Double], c: Double) throws -> (loss: Double, gradient: [Double], valid: Bool) {
            let input = modelInput(y)
            var loss = try optimisedLoss(at: y, c: c)
            var gradient = try optimisedLossGradient(at: y, c: c)
            for j in y.indices {
                let diff = y[j] - original[j]
                loss += params.beta * abs(diff)
                gradient[j] += params.beta * (diff > 0 ? 1 : diff < 0 ? -1 : 0)
            }
            let p = try session.predict(input)
            if numerical {
                loss += c * max(0, hinge(p).value)
                add(&gradient, try numericalPredictionGradient([y]).map { $0 * c })
            }
            explainer.constraints.mask(&gradient)
            return (loss, gradient, try isValid(model: input, p))
        }
        let unit = max(try memberLoss(cfSearch, c: c).loss, 1e-12) * Double(params.refinement.nCounterfactuals)
        let objective = SetMemberObjective(evaluate: { y in
            var (loss, gradient, valid) = try memberLoss(y, c: c)
            if !valid { (loss, gradient, valid) = try memberLoss(y, c: 10 * c) }
            return (loss / unit, gradient.map { $0 / unit }, valid)
        }, project: { [constraints = explainer.constraints, original] in constraints.apply(to: &$0, original: original) })
        let start = setStart(counterfactual: cfSearch,
                             count: params.refinement.nCounterfactuals, scales: explainer.searchScales, seed: explainer.seed,
                             project: objective.project)
        let settings = SetSearchSettings(steps: params.maxIterations, learningRate: params.learningRateInit,
                                         diversityWeight: params.refinement.diversityWeight, patience: max(50, params.maxIterations / 20))
        let points = try optimiseDiverseSet(start: start, kernel: DiversityKernel(scales: explainer.searchScales),
                                            objective: objective, settings: settings, cancellation: cancellation)
        return try points.compactMap { $0 }.map { try candidate(model: modelInput($0), from: cf) }
    }

    /// `c` after the sparsity pass in the model space (one-hot variables restored as a whole).
    /// `restoreFirst`: features to try restoring first (those earlier members of a set changed).
    func sparsified(_ c: CFProtoCandidate, restoreFirst: Set<Int> = []) throws -> CFProtoCandidate {
        let layout = explainer.categorical?.layout
        let oneHot = layout.map { l in l.oneHot ? l.variables.map { (start: $0.column, count: $0.categories) } : [] } ?? []
        var pass = SparsityPass(scales: explainer.modelScales, oneHot: oneHot)
        pass.restoreFirst = restoreFirst
        pass.cancellation = cancellation
        if explainer.categorical == nil {  // the box is the search space's: the model's only without categories
            pass.repairSteps = params.refinement.sparsifyRepairSteps
            (pass.lower, pass.upper) = (explainer.constraints.lower, explainer.constraints.upper)
        }
        // The repair climbs p_cf − p_orig.
        var weights = [Double](repeating: 0, count: c.proba.count)
        weights[c.predictedClass] += 1
        weights[factual.predicted] -= 1
        let result = try pass.run(
            original: factual.x, counterfactual: c.x, proba: c.proba,
            predict: { try session.predict($0) }, isValid: { try isValid(model: $0, $1) },
            scoreGradient: { [session, weights] in try session.scoreGradient(at: $0, weights: weights) })
        var out = try candidate(model: result.x, from: c)
        out.restored = result.restored
        return out
    }
}
