/// FOCUS (Lucic, Oosterhuis, Haned and de Rijke, "FOCUS: Flexible Optimizable Counterfactual
/// Explanations for Tree Ensembles", AAAI 2022), for cfx's tree ensembles. With z(x′) the logits
/// of the ensemble relaxed at sharpness σ (`RelaxedTreeEnsemble`) and p̂ = softmax(τ z):
///
///     L(x′) = 1[the real ensemble predicts o at x′] · p̂_o(x′) + β · d(x′, x)
///
/// (o the original class; with a class index t as target, 1 − p̂_t in place of p̂_o), minimised by
/// Adam from x′ = x for `max_steps` steps, each followed by clipping into the constraints; after
/// each step the real ensemble decides the indicator, and the closest point (by d) it predicts as
/// a target is the counterfactual. d is ℓ2 (√(Σ + 10⁻¹⁰), the authors' "safe" form) or ℓ1.
///
/// Deliberate differences (docs/methods/focus.md): a forest's trees vote their leaves' class
/// probabilities (scikit-learn's average) rather than the leaf's majority class; boosted trees'
/// logits are their margins; immutable features have a zero gradient and monotone ones are
/// clipped to their side of x, as in cfx's other searches.
public final class FOCUSExplainer: BatchExplainer, Sendable {
    public let ensemble: TreeEnsemble
    public let relaxed: RelaxedTreeEnsemble
    public let params: FOCUSParams
    let constraints: Constraints
    /// Adam's bias corrections for the steps, shared by every row's search.
    let adamCorrections: AdamCorrections
    let shrink: ThresholdShrink?

    public init(model: Classifier, params: FOCUSParams) throws {
        let ensemble = try model.treeEnsemble(for: FOCUSMethod.name)
        try FOCUSMethod.parameters.check(params, ModelShape(model))
        self.ensemble = ensemble
        self.params = params
        relaxed = try RelaxedTreeEnsemble(ensemble, sigma: params.sigma, cutoff: params.cutoff)
        constraints = try Constraints(params.constraints, featureCount: ensemble.featureCount)
        adamCorrections = AdamCorrections(steps: params.maxSteps)
        shrink = params.shrink ? ThresholdShrink(ensemble) : nil
    }

    public func explain(_ instances: [Double], rows: Int, threads: Int, control: RunControl = RunControl()) throws -> [FOCUSExplanation] {
        try explainEachRow(instances, rows: rows, threads: threads, control: control)
    }

    var targetClass: TargetClass { params.targetClass }

    func explain(_ opening: TreeOpening, cancellation: Cancellation) throws -> FOCUSExplanation {
        var explanation = FOCUSExplanation(origClass: opening.factual.predicted, origProba: opening.factual.proba)
        var steps = 0
        if !opening.targets.isEmpty {
            var search = FOCUSSearch(explainer: self, opening: opening, beta: params.beta)
            var cf = try search.run(cancellation: cancellation)
            steps = search.steps
            if cf == nil && params.retry && params.beta > 0 {
                var again = FOCUSSearch(explainer: self, opening: opening, beta: 0)
                cf = try again.run(cancellation: cancellation)
                steps += again.steps
            }
            explanation.cf = try refined(cf, opening, sparsify: params.refinement.sparsify, shrink: shrink)
        }
        explanation.stats = opening.stats(gradients: steps)
        return explanation
    }

    func distance(_ a: [Double], _ b: [Double]) -> Double { params.distance.between(a, b) }
}

extension FOCUSExplainer: TreeRefiningExplainer {
    typealias Candidate = FOCUSCandidate
}

extension FOCUSCandidate: TreeRefinableCandidate {
    func moved(to point: [Double], proba: [Double], distance: Double, changed: Int, restored: Int?) -> FOCUSCandidate {
        var out = FOCUSCandidate(x: point, distance: distance, predictedClass: argmax(proba), proba: proba, step: step)
        (out.changed, out.restored) = (changed, restored)
        return out
    }
}

/// One row's search: the point, Adam, the indicator and the closest valid point so far.
struct FOCUSSearch {
    let explainer: FOCUSExplainer
    let opening: TreeOpening
    let relaxed: RelaxedTreeEvaluator
    /// β, the distance's weight in this search's loss.
    let beta: Double
    private(set) var steps = 0
    /// The relaxed logits, then softmax(τ z); the cotangent on the logits.
    private var z: [Double]
    private var w: [Double]

    init(explainer: FOCUSExplainer, opening: TreeOpening, beta: Double) {
        (self.explainer, self.opening, self.beta) = (explainer, opening, beta)
        relaxed = RelaxedTreeEvaluator(explainer.relaxed)
        z = [Double](repeating: 0, count: explainer.ensemble.classCount)
        w = z
    }

    /// Adam's steps from x; after each, the real ensemble's class at the point. Stops after
    /// `max_steps`, or once a valid point is known and `patience` steps in a row have found no closer one.
    mutating func run(cancellation: Cancellation) throws -> FOCUSCandidate? {
        let p = explainer.params, x = opening.x
        var point = x, proba = opening.factual.proba
        var adam = Adam(count: x.count, corrections: explainer.adamCorrections)
        var gradient = [Double](repeating: 0, count: x.count)
        var active = true  // the real ensemble still predicts no target at `point`
        var best: FOCUSCandidate?
        var stale = 0  // steps since `best` last improved
        for step in 0..<p.maxSteps {
            try cancellation.step(step)
            lossGradient(at: point, active: active, into: &gradient)
            explainer.constraints.mask(&gradient)
            adam.step(&point, gradient: gradient, learningRate: p.learningRate)
            explainer.constraints.apply(to: &point, original: x)
            steps += 1
            try opening.session.predict(point, rows: 1, into: &proba)
            let predicted = argmax(proba)
            active = !opening.targets.contains(predicted)
            if !active {
                let d = explainer.distance(point, x)
                if best.map({ d < $0.distance }) ?? true {
                    best = FOCUSCandidate(x: point, distance: d, predictedClass: predicted, proba: proba, step: step + 1)
                    best?.changed = x.indices.filter { point[$0] != x[$0] }.count
                    stale = 0
                    continue
                }
            }
            guard best != nil else { continue }
            stale += 1
            if p.patience > 0 && stale >= p.patience { break }
        }
        return best
    }

    /// ∂L/∂x′: β ∂d, plus, while active, the relaxed prediction loss's gradient.
    mutating func lossGradient(at point: [Double], active: Bool, into gradient: inout [Double]) {
        let p = explainer.params, x = opening.x
        switch p.distance {
        case .l1:
            for j in x.indices { gradient[j] = beta * (point[j] > x[j] ? 1 : point[j] < x[j] ? -1 : 0) }
        case .l2:
            let norm = (zip(point, x).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } + 1e-10).squareRoot()
            for j in x.indices { gradient[j] = beta * (point[j] - x[j]) / norm }
        }
        guard active else { return }
        let relaxed = self.relaxed
        point.withUnsafeBufferPointer { xs in z.withUnsafeMutableBufferPointer { relaxed.logits(xs, offset: 0, into: $0) } }
        z.withUnsafeMutableBufferPointer { softmaxInPlace($0, sharpness: p.temperature) }  // q = softmax(τ z)
        // L = q_o (target "other") or 1 − q_t: ∂L/∂z_c = ± τ q_a (δ_ac − q_c).
        let (a, sign): (Int, Double)
        if case .index(let t) = p.targetClass { (a, sign) = (t, -1) } else { (a, sign) = (opening.factual.predicted, 1) }
        for c in z.indices { w[c] = sign * p.temperature * z[a] * ((c == a ? 1 : 0) - z[c]) }
        gradient.withUnsafeMutableBufferPointer { g in w.withUnsafeBufferPointer { relaxed.logitPullback($0, into: g, offset: 0) } }
    }
}

/// A counterfactual FOCUS found: the point, its distance, the real ensemble's class and
/// probabilities there, and the step that reached it.
public struct FOCUSCandidate: Sendable {
    public let x: [Double]
    public let distance: Double
    public let predictedClass: Int
    public let proba: [Double]
    public let step: Int
    /// Features changed from the instance (ℓ0).
    public var changed = 0
    /// Features the sparsity pass put back to the instance's values (nil: no pass).
    public var restored: Int? = nil
}

public struct FOCUSExplanation: Sendable {
    /// The closest point of the search the real ensemble predicts as a target, or nil.
    public var cf: FOCUSCandidate?
    public let origClass: Int
    public let origProba: [Double]
    public var stats = SearchStats()
    public var success: Bool { cf != nil }

    init(origClass: Int, origProba: [Double]) {
        self.origClass = origClass
        self.origProba = origProba
    }
}
