import Glibc

/// Counterfactual instances of Wachter et al. (2017) as alibi's `CounterFactual` finds them:
///
///     L(x') = (p_t(x') − target_proba)² + λ · ‖x' − x‖₁
///
/// minimised by Adam with a linearly decaying learning rate, x' clipped to the feature range.
/// λ is searched: a sweep over lam_init / 10^i (i = 0…9) finds bounds, then bisection. The
/// parameters: Wachter+Parameters.swift.
public enum WachterMethod: CounterfactualMethod {
    public static let name = "wachter"
    public static var defaults: WachterParams { WachterParams() }

    public static func check(_ params: WachterParams, model: Classifier) throws {
        _ = try WachterExplainer(model: model, params: params)
    }

    /// alibi's CounterFactual needs no fit; training data, if given, only sets the feature scales
    /// (MAD) of the sparsity order and the set's diversity.
    public static func prepare(_ params: WachterParams, model: Classifier, inputs: MethodInputs, seed: Int, threads: Int) throws -> WachterExplainer {
        try WachterExplainer(model: model, params: params, training: inputs.training, seed: seed)
    }
}

/// The counterfactuals a round of `all` keeps.
public enum AllCandidates: String, Sendable, CaseIterable {
    case closest, every
}

/// A point that met the counterfactual condition |p_t(x') − target_proba| ≤ tol.
public struct WachterCandidate: Sendable {
    public let x: [Double]
    public let distance: Double
    public let lambda: Double
    /// Step of the bisection phase at which it was met: round · max_iter + step.
    public let index: Int
    public let predictedClass: Int
    public let proba: [Double]
    public let loss: Double
    /// Features the sparsity pass put back to the instance's values (nil: no pass).
    public var restored: Int? = nil
}

public struct WachterExplanation: Sendable {
    /// The candidate closest to the instance, or nil when none was found.
    public internal(set) var cf: WachterCandidate?
    /// Per bisection round, the candidates met in it, all or the closest (`allCandidates`); empty
    /// lists when `returnAll` is off.
    public let all: [[WachterCandidate]]
    public let origClass: Int
    public let origProba: Double
    public internal(set) var stats: SearchStats
    /// With n_counterfactuals > 1: the set's valid members (cf's search first; none when the search
    /// found no counterfactual to start from) and det K (nil then).
    public internal(set) var cfs: [WachterCandidate]? = nil
    public internal(set) var diversity: Double? = nil
    public var success: Bool { cf != nil }
}

/// Cost of one search, reported in every explanation's `meta`.
public struct SearchStats: Sendable {
    public var predictCalls = 0
    public var predictedRows = 0
    public var gradientEvaluations = 0
    public var seconds = 0.0
}

public final class WachterExplainer: BatchExplainer, Sendable {
    public let model: Classifier
    public let params: WachterParams
    let constraints: Constraints
    let eps: [Double]
    /// Feature units of the sparsity order and the set's diversity (training MAD, else range).
    let scales: [Double]
    let seed: UInt64
    /// Adam's bias corrections for a round's steps, shared by every search of this explainer.
    let adamCorrections: AdamCorrections

    /// alibi raises λ after a round only when it met at least this many counterfactuals.
    static let counterfactualsToRaiseLambda = 5
    /// The λ sweep covers this many orders of magnitude below lam_init.
    static let sweepOrders = 10

    /// `training`, when given, only sets the feature scales (its MAD); `seed` the set's start.
    public init(model: Classifier, params: WachterParams, training: Dataset? = nil, seed: Int = 0) throws {
        try model.requireExplainable()
        try WachterMethod.parameters.check(params, ModelShape(model))
        let d = model.featureCount
        self.constraints = try Constraints(params.constraints, featureCount: d)
        self.eps = try params.eps.resolve(d, "eps")
        self.scales = params.refinement.needsScales
            ? featureScales(lower: constraints.lower, upper: constraints.upper, training: training) : []
        self.seed = UInt64(seed)
        self.model = model
        self.params = params
        self.adamCorrections = AdamCorrections(steps: params.maxIter)
    }

    /// Explains each row of `instances` (rows × d), spread over `threads` threads (0 = all cores);
    /// `control` reports progress and can cancel (checked every `Cancellation.checkInterval` steps).
    public func explain(_ instances: [Double], rows: Int, threads: Int, control: RunControl = RunControl()) throws -> [WachterExplanation] {
        try explainRows(instances, rows: rows, model: model, threads: threads, control: control) { row, cancellation in
            try self.explainChecked(row, cancellation)
        }
    }

    public func explain(_ x: [Double]) throws -> WachterExplanation {
        try explain(x, rows: 1, threads: 1)[0]
    }

    private func explainChecked(_ x: [Double], _ cancellation: Cancellation) throws -> WachterExplanation {
        let started = monotonicSeconds()
        let session = ModelSession(model: model, eps: eps)
        var search = WachterSearch(explainer: self, factual: Factual(x: x, proba: try session.predict(x)), session: session,
                                   cancellation: cancellation)
        let explanation = try search.run()
        var result = WachterExplanation(cf: explanation.cf, all: explanation.all, origClass: search.factual.predicted,
                                        origProba: search.factual.predictedProba, stats: search.stats)
        try search.refine(&result)
        result.stats = search.stats
        result.stats.seconds = monotonicSeconds() - started
        return result
    }
}

/// The state of one instance's search; lives on one thread.
struct WachterSearch {
    /// The explainer's parameters, constraints and scales.
    let explainer: WachterExplainer
    let session: ModelSession
    let cancellation: Cancellation
    let factual: Factual

    var x: [Double]
    var proba: [Double]
    var adam: Adam
    var gradient: [Double]
    var cotangent: [Double]

    init(explainer: WachterExplainer, factual: Factual, session: ModelSession,
         cancellation: Cancellation = Cancellation()) {
        self.explainer = explainer
        self.session = session
        self.cancellation = cancellation
        self.factual = factual
        self.x = factual.x
        self.proba = factual.proba
        self.adam = Adam(count: factual.x.count, corrections: explainer.adamCorrections)
        self.gradient = [Double](repeating: 0, count: factual.x.count)
        self.cotangent = [Double](repeating: 0, count: session.k)
    }

    var stats: SearchStats {
        SearchStats(predictCalls: session.predictCalls, predictedRows: session.predictedRows,
                    gradientEvaluations: session.gradientEvaluations)
    }

    // MARK: The loss

    var targetClass: Int { explainer.params.targetClass.resolve(probabilities: proba, original: factual.predicted) }

    var distance: Double {
        var total = 0.0
        for j in x.indices { total += abs(x[j] - factual.x[j]) }
        return total
    }

    /// (p_t(x') − target_proba)² + λ‖x' − x‖₁ at the current point.
    func loss(lambda: Double) -> Double { loss(lambda: lambda, distance: distance) }

    /// `loss(lambda:)` where `distance` is the current point's.
    func loss(lambda: Double, distance: Double) -> Double {
        let p = proba[targetClass] - explainer.params.targetProba
        return p * p + lambda * distance
    }

    /// ∇L = 2(p_t − target_proba) ∇p_t + λ sign(x' − x), with immutable features masked.
    mutating func computeGradient(lambda: Double) throws {
        try computeModelGradient()
        for j in x.indices {
            let difference = x[j] - factual.x[j]
            gradient[j] += lambda * (difference > 0 ? 1 : difference < 0 ? -1 : 0)
        }
        explainer.constraints.mask(&gradient)
    }

    /// The prediction term's part of ∇L, 2(p_t − target_proba) ∇p_t, into `gradient`.
    mutating func computeModelGradient() throws {
        let t = targetClass
        for c in cotangent.indices { cotangent[c] = 0 }
        cotangent[t] = 2 * (proba[t] - explainer.params.targetProba)
        try session.pullback(at: x, cotangent: cotangent, into: &gradient)
    }

    var meetsTarget: Bool { abs(proba[targetClass] - explainer.params.targetProba) <= explainer.params.tol }

    // MARK: The search

    /// One Adam step at learning-rate step `i` of a round, then clipping; refreshes `proba`. Without
    /// immutable or monotone features, the distance term's gradient, Adam's update and the clipping
    /// run as one kernel (`Adam.stepWithL1`: the same values as the three passes).
    mutating func step(_ i: Int, lambda: Double) throws {
        let decayed = explainer.params.decay ? 1 - Double(min(i, explainer.params.maxIter)) / Double(explainer.params.maxIter) : 1
        let (constraints, learningRate) = (explainer.constraints, explainer.params.learningRateInit * decayed)
        if constraints.immutable.isEmpty && constraints.monotone.isEmpty {
            try computeModelGradient()
            adam.stepWithL1(&x, gradient: gradient, lambda: lambda, original: factual.x, lower: constraints.lower, upper: constraints.upper,
                            learningRate: learningRate)
        } else {
            try computeGradient(lambda: lambda)
            adam.step(&x, gradient: gradient, learningRate: learningRate)
            constraints.apply(to: &x, original: factual.x)
        }
        try session.predict(x, rows: 1, into: &proba)
    }

    mutating func run() throws -> (cf: WachterCandidate?, all: [[WachterCandidate]]) {
        var (lower, upper) = try sweepLambdaBounds()
        var lambda = (lower + upper) / 2

        // Bisection, warm-started from the instance and then from each round's last point.
        x = factual.x
        proba = factual.proba
        var best: WachterCandidate?
        var all: [[WachterCandidate]] = []
        for round in 0..<explainer.params.maxLamSteps {
            try cancellation.check()
            adam.reset()
            var found = 0, notFound = 0, foundThisRound = 0
            var met: [WachterCandidate] = []
            for i in 0..<explainer.params.maxIter {
                try cancellation.step(i)
                try step(i, lambda: lambda)
                if meetsTarget {
                    // A candidate is made only when it is kept (the best so far, or in `all`).
                    let distance = self.distance
                    let isBest = best.map { distance < $0.distance } ?? true
                    let isKept = explainer.params.returnAll && keeps(distance, in: met)
                    if isBest || isKept {
                        let candidate = WachterCandidate(x: x, distance: distance, lambda: lambda, index: round * explainer.params.maxIter + i,
                                                         predictedClass: argmax(proba), proba: proba, loss: loss(lambda: lambda, distance: distance))
                        if isBest { best = candidate }
                        if isKept { keep(candidate, in: &met) }
                    }
                    foundThisRound += 1
                    found += 1
                    notFound = 0
                } else {
                    found = 0
                    notFound += 1
                }
                if found >= explainer.params.earlyStop || notFound >= explainer.params.earlyStop { break }
            }
            all.append(met)
            if foundThisRound >= WachterExplainer.counterfactualsToRaiseLambda {
                // Enough counterfactuals: weigh the distance more.
                lower = max(lambda, lower)
                lambda = upper < 1e9 ? (lower + upper) / 2 : lambda * 10
            } else {
                upper = min(upper, lambda)
                lambda = lower > 0 ? (lower + upper) / 2 : lambda / 10
            }
        }
        return (best, all)
    }

    /// Whether a candidate at `distance` joins its round's list in `all`: every one does, or only
    /// the closest so far.
    func keeps(_ distance: Double, in met: [WachterCandidate]) -> Bool {
        switch explainer.params.allCandidates {
        case .every: return true
        case .closest: return met.isEmpty || distance < met[0].distance
        }
    }

    /// Adds a candidate that `keeps` admits to its round's list in `all`.
    func keep(_ candidate: WachterCandidate, in met: inout [WachterCandidate]) {
        switch explainer.params.allCandidates {
        case .every: met.append(candidate)
        case .closest: met = [candidate]
        }
    }

    /// Runs max_iter/10 steps at each λ = lam_init/10^i, warm-started, and counts the steps that
    /// met the target. The lower bound is the second λ (in decreasing order) with counterfactuals,
    /// the upper bound the last λ with none (lam_init when every λ had some).
    mutating func sweepLambdaBounds() throws -> (lower: Double, upper: Double) {
        let orders = WachterExplainer.sweepOrders
        let lambdas = (0..<orders).map { explainer.params.lamInit / pow(10, Double($0)) }
        var counts = [Int](repeating: 0, count: orders)
        for (order, lambda) in lambdas.enumerated() {
            try cancellation.check()
            adam.reset()
            for i in 0..<explainer.params.maxIter / orders {
                try cancellation.step(i)
                try step(i, lambda: lambda)
                if meetsTarget { counts[order] += 1 }
            }
        }
        let withCounterfactuals = counts.indices.filter { counts[$0] > 0 }
        // alibi fails when fewer than two orders met the target; cfx then takes the one that did,
        // or 0 when none did (bisection then keeps dividing λ by 10).
        let lower = withCounterfactuals.count >= 2 ? lambdas[withCounterfactuals[1]]
            : withCounterfactuals.first.map { lambdas[$0] } ?? 0
        let upper = lambdas[counts.lastIndex(of: 0) ?? 0]
        return (lower, upper)
    }
}

/// Seconds on a monotonic clock.
public func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9
}
