import Glibc

/// DeDUCE (Höltgen, Schut, Brauner and Gal, 2021) and the JSMA baseline as the DeDUCE paper runs
/// it: one saliency loop with two gradient rules.
///
/// Each iteration at x' (k changes made so far):
///  1. evaluate the model; stop with success when the target probability f(x')_t ≥ γ
///     (`target_confidence`), with failure when k = `max_iter`;
///  2. g = ∇L (the rule's gradient); zero g on masked features (DeDUCE: changed `max_changes`
///     times; JSMA: reached a bound of `feature_range`), on `immutable` features, and on
///     `monotone` features whose move would go the wrong way (these are then not chosen);
///  3. choose the `features_per_step` unmasked features with the largest |g| (ties: lowest index),
///     before momentum;
///  4. g ← g + m·g_prev; move each chosen feature by −sign(g)·`step`, clip it to the range, count
///     the change (a clipped no-op counts too; so does a monotone feature that momentum turned the
///     wrong way, which stays at the instance's value); g_prev ← g.
///
/// DeDUCE's loss (the paper's equation (5), normalisers held constant at x'):
///     L = μ·ℓ_c/|ℓ_c| − log p_t/|log p_t|
/// or, as the ablation of its appendix A, the weighted loss of equation (4): L = −log p_t + λ·ℓ_c.
/// ℓ_c is the cross-entropy to the target t and p_t the target class's Gaussian density in
/// feature space (`FeatureDensity`). JSMA: L = ℓ_c, no momentum, features masked at the bounds.
///
/// Deliberate differences from Algorithm 1 as the paper writes it (cfx follows the reference code):
/// - the move is −sign(g)·δ (descent on L); the paper's line 8 writes +sign(g)·δ;
/// - features are chosen on g before momentum, and only the move uses g + m·g_prev; equation (6)
///   suggests momentum also enters the choice;
/// - the stopping test is f(x')_t ≥ γ (the paper's loop runs while f(x')_t ≤ γ).
/// Differences from the reference code: ties in |g| choose the lowest index (the code moves every
/// tied feature); a search with every feature masked fails at once (the code keeps counting no-op
/// changes); the point after the max_iter-th change is evaluated too (the code never looks at it).
public enum SaliencyGradient: Sendable, Equatable {
    /// μ·∇ℓ_c/|ℓ_c| − w·∇log p_t/|log p_t| (equation (5); w = 1 for DeDUCE, 0 leaves ℓ_c alone).
    case normalised(mu: Double, densityWeight: Double)
    /// −∇log p_t + λ·∇ℓ_c (equation (4)).
    case weighted(lambda: Double)
    /// ∇ℓ_c (JSMA).
    case crossEntropy

    var needsDensity: Bool {
        switch self {
        case .normalised(_, let w): return w != 0
        case .weighted: return true
        case .crossEntropy: return false
        }
    }
}

/// Which features the loop stops changing.
public enum SaliencyMasking: Sendable, Equatable {
    /// A feature changed this many times (DeDUCE's max_changes).
    case maxChanges(Int)
    /// A feature that reached a bound of the range after a change, for good (JSMA).
    case boundsReached
}

/// The part of the loop that differs between DeDUCE and JSMA.
public struct SaliencyRule: Sendable, Equatable {
    public var gradient: SaliencyGradient
    public var masking: SaliencyMasking
    public var momentum: Double

    public init(gradient: SaliencyGradient, masking: SaliencyMasking, momentum: Double) {
        self.gradient = gradient
        self.masking = masking
        self.momentum = momentum
    }

    /// JSMA as the DeDUCE paper runs it.
    public static let jsma = SaliencyRule(gradient: .crossEntropy, masking: .boundsReached, momentum: 0)
}

/// The target classes of each instance.
public enum TargetClasses: Sendable, Equatable {
    case index(Int)
    case list([Int])
    /// Every class other than the instance's prediction (the paper's protocol).
    case all

    func resolve(original: Int, classCount k: Int) -> [Int] {
        switch self {
        case .index(let c): return [c]
        case .list(let cs): return cs
        case .all: return (0..<k).filter { $0 != original }
        }
    }
}

/// A counterfactual the loop found.
public struct SaliencyCounterfactual: Sendable {
    public let x: [Double]
    public let predictedClass: Int
    public let proba: [Double]
    /// Features that differ from the instance, and Σ|x' − x|.
    public let l0: Int
    public let l1: Double
    /// Moves made (iterations of the loop).
    public let iterations: Int
    /// log p_t at the counterfactual (nil without a density).
    public let logDensity: Double?
    /// Features the sparsity pass restored (nil: no pass).
    public var restored: Int? = nil
}

/// Per iteration, for plots: the target probability and log density at each point evaluated,
/// and the features changed after it (empty at the last point).
public struct SaliencyTrace: Sendable {
    public var targetProba: [Double] = []
    public var logDensity: [Double] = []
    public var changed: [[Int]] = []
}

/// The outcome for one instance and one target class.
public struct SaliencyExplanation: Sendable {
    public let instance: Int
    public let targetClass: Int
    public let origClass: Int
    public let origProba: Double
    public internal(set) var cf: SaliencyCounterfactual?
    /// Why no counterfactual was found.
    public let reason: String?
    /// log p_t at the instance (nil without a density).
    public let logDensityBefore: Double?
    public let trace: SaliencyTrace?
    public internal(set) var stats: SearchStats
    public var success: Bool { cf != nil }
}

/// One loop for DeDUCE and JSMA: `rule` is the only difference between them.
public final class SaliencyExplainer: BatchExplainer, Sendable {
    public let model: Classifier
    public let params: DeDUCEParams
    public let rule: SaliencyRule
    public let density: FeatureDensity?
    /// The box, immutable and monotone features (config keys feature_range, immutable, monotone).
    let constraints: Constraints
    var lower: [Double] { constraints.lower }
    var upper: [Double] { constraints.upper }
    /// Features with an immutable or monotone constraint.
    let constrained: [Bool]
    let featureBuffer: Int?
    let logitsBuffer: Int?

    /// DeDUCE: the params' rule with a density fitted on the network's feature output.
    public static func deduce(network: Network, params: DeDUCEParams, density: FeatureDensity) throws -> SaliencyExplainer {
        try SaliencyExplainer(model: network, params: params, rule: params.rule, density: density)
    }

    /// JSMA as the DeDUCE paper runs it, on any model with gradients (native or callback).
    public static func jsma(model: Classifier, params: DeDUCEParams) throws -> SaliencyExplainer {
        try SaliencyExplainer(model: model, params: params, rule: .jsma, density: nil)
    }

    public init(model: Classifier, params: DeDUCEParams, rule: SaliencyRule, density: FeatureDensity?) throws {
        try model.requireExplainable()
        try (rule == .jsma ? JSMAMethod.parameters : DeDUCEMethod.parameters).check(params, ModelShape(model))
        constraints = try Constraints(params.constraints, featureCount: model.featureCount)
        var constrained = [Bool](repeating: false, count: model.featureCount)
        for j in constraints.immutable + constraints.monotone.map(\.feature) { constrained[j] = true }
        self.constrained = constrained
        if let density {
            guard let network = model as? Network else {
                throw CFXError.config("model", "a feature-space density needs a native network (a callback model has no \"\(params.featureOutput)\" output)")
            }
            try density.check(network: network)
            featureBuffer = try network.outputBuffer(density.featureOutput)
        } else {
            guard !rule.gradient.needsDensity else { throw CFXError.config("density", "this gradient rule needs a fitted feature density") }
            featureBuffer = nil
        }
        logitsBuffer = (model as? Network)?.outputs["logits"]
        self.model = model
        self.params = params
        self.rule = rule
        self.density = density
    }

    /// Explains every row of `instances` for each of its target classes; the result lists the
    /// pairs instance-major, spread over `threads` threads (0 = all cores).
    public func explain(_ instances: [Double], rows: Int, threads: Int, control: RunControl = RunControl()) throws -> [SaliencyExplanation] {
        try model.checkShape(count: instances.count, rows: rows, features: model.featureCount)
        try requireFinite(instances, "x")
        let d = model.featureCount
        // The original predictions first (cheap), to resolve "all".
        let proba = try ModelSession(model: model).predict(instances, rows: rows)
        let k = model.classCount
        var pairList: [(Int, Int)] = []
        for r in 0..<rows {
            let original = argmax(Array(proba[r * k..<(r + 1) * k]))
            for t in params.targetClass.resolve(original: original, classCount: k) { pairList.append((r, t)) }
        }
        let pairs = pairList
        let results = try parallelMap(count: pairs.count, threads: threads, control: control) { [self] i -> Result<SaliencyExplanation, CFXError> in
            let (r, t) = pairs[i]
            do {
                let row = Array(instances[r * d..<(r + 1) * d])
                return .success(try sparsified(try run(row, instance: r, target: t, cancellation: control.cancellation), original: row,
                                               cancellation: control.cancellation))
            } catch let error as CFXError where error.kind == .cancelled {
                throw error
            } catch let error as CFXError {
                return .failure(error.prefixed("instance \(r), target \(t)"))
            }
        }
        return try results.map { try $0.get() }
    }

    /// One search; `cancellation` is checked every `Cancellation.checkInterval` iterations.
    public func run(_ x0: [Double], instance: Int, target t: Int, cancellation: Cancellation = Cancellation()) throws -> SaliencyExplanation {
        let started = monotonicSeconds()
        let oracle = makeOracle()
        let d = model.featureCount
        let n = params.featuresPerStep
        var x = x0
        var changes = [Int](repeating: 0, count: d)
        var boundMasked = [Bool](repeating: false, count: d)
        var previous = [Double](repeating: 0, count: d)
        var trace: SaliencyTrace? = params.trace ? SaliencyTrace() : nil
        var iterations = 0
        var factual: Factual?
        var logDensityBefore: Double?
        var found: SaliencyCounterfactual?
        var reason: String?
        while true {
            try cancellation.step(iterations)
            let (proba, logDensity) = try oracle.evaluate(x, target: t)
            if iterations == 0 {
                factual = Factual(x: x0, proba: proba)
                logDensityBefore = logDensity
            }
            trace?.targetProba.append(proba[t])
            if let logDensity { trace?.logDensity.append(logDensity) }
            if proba[t] >= params.targetConfidence {
                let (l0, l1) = changeNorms(x, x0)
                found = SaliencyCounterfactual(x: x, predictedClass: argmax(proba), proba: proba, l0: l0, l1: l1,
                                               iterations: iterations, logDensity: logDensity)
                break
            }
            if iterations == params.maxIter {
                reason = "the target probability is \(proba[t]) < \(params.targetConfidence) after max_iter = \(params.maxIter) iterations"
                break
            }
            var g = try oracle.gradient(rule.gradient, target: t)
            let masked: (Int) -> Bool
            switch rule.masking {
            case .maxChanges(let limit): masked = { changes[$0] >= limit }
            case .boundsReached: masked = { boundMasked[$0] }
            }
            // Immutable features get no gradient, monotone ones only the sign of an allowed move;
            // a constrained feature left without gradient is not chosen.
            constraints.mask(&g)
            for j in 0..<d where masked(j) { g[j] = 0 }
            let chosen = largestMagnitudes(g, count: n) { [constrained] in masked($0) || (constrained[$0] && g[$0] == 0) }
            guard !chosen.isEmpty else {
                reason = "every feature is masked after \(iterations) iterations (target probability \(proba[t]))"
                break
            }
            if rule.momentum != 0 {
                for j in 0..<d { g[j] += rule.momentum * previous[j] }
                previous = g
            }
            move(&x, chosen, g, original: x0, changes: &changes, boundMasked: &boundMasked)
            trace?.changed.append(chosen)
            iterations += 1
        }
        if trace != nil { trace!.changed.append([]) }
        var stats = oracle.stats
        stats.seconds = monotonicSeconds() - started
        return SaliencyExplanation(instance: instance, targetClass: t, origClass: factual?.predicted ?? 0,
                                   origProba: factual?.predictedProba ?? 0, cf: found,
                                   reason: reason, logDensityBefore: logDensityBefore, trace: trace, stats: stats)
    }
}

extension SaliencyExplainer {
    /// Moves each chosen feature by −sign(g)·step inside the box, counts the change and masks a
    /// feature that reached a bound (JSMA); a monotone feature that momentum turned the wrong way
    /// stays at the instance's value.
    func move(_ x: inout [Double], _ chosen: [Int], _ g: [Double], original x0: [Double], changes: inout [Int],
              boundMasked: inout [Bool]) {
        for j in chosen {
            let direction: Double = g[j] > 0 ? 1 : (g[j] < 0 ? -1 : 0)
            x[j] = min(max(x[j] - direction * params.step, lower[j]), upper[j])
            changes[j] += 1
            if x[j] == lower[j] || x[j] == upper[j] { boundMasked[j] = true }
        }
        constraints.applyDirections(to: &x, original: x0)
    }
}

/// L0 and L1 of x − x0: the features that differ and Σ|x − x0|.
func changeNorms(_ x: [Double], _ x0: [Double]) -> (l0: Int, l1: Double) {
    var l0 = 0, l1 = 0.0
    for j in x0.indices where x[j] != x0[j] {
        l0 += 1
        l1 += abs(x[j] - x0[j])
    }
    return (l0, l1)
}

/// Indices of the `count` largest |g| among features not excluded, largest first (ties: lowest index).
func largestMagnitudes(_ g: [Double], count: Int, excluding excluded: (Int) -> Bool) -> [Int] {
    var best: [Int] = []
    for j in g.indices where !excluded(j) {
        let value = abs(g[j])
        if best.count == count {
            guard value > abs(g[best[count - 1]]) else { continue }
            best.removeLast()
        }
        var position = best.count
        while position > 0 && abs(g[best[position - 1]]) < value { position -= 1 }
        best.insert(j, at: position)
    }
    return best
}


// MARK: Model access

/// What the loop asks of the model: probabilities (and log p_t) at x, then the rule's gradient there.
protocol SaliencyOracle: AnyObject {
    func evaluate(_ x: [Double], target: Int) throws -> (proba: [Double], logDensity: Double?)
    /// The gradient of the rule's loss at the point last evaluated.
    func gradient(_ rule: SaliencyGradient, target: Int) throws -> [Double]
    var stats: SearchStats { get }
}

/// Coefficients (a, b) of g = a·∇ℓ_c + b·∇(−log p_t) for a rule at ℓ_c and log p_t.
func lossCoefficients(_ rule: SaliencyGradient, crossEntropy: Double, logDensity: Double?) -> (Double, Double) {
    switch rule {
    case .crossEntropy:
        return (1, 0)
    case .weighted(let lambda):
        return (lambda, 1)
    case .normalised(let mu, let weight):
        let a = crossEntropy > 0 ? mu / crossEntropy : 0
        let lp = logDensity ?? 0
        let b = weight != 0 && lp != 0 ? weight / abs(lp) : 0
        return (a, b)
    }
}

/// A native network: one forward pass gives probabilities, logits and features; one backward
/// pass, seeded at the logits (cross-entropy) and the features (density), gives the gradient.
final class NetworkOracle: SaliencyOracle {
    let network: Network
    let evaluator: NetworkEvaluator
    let density: FeatureDensity?
    let featureBuffer: Int?
    let logitsBuffer: Int?
    let last: Int
    var x: [Double] = []
    var proba: [Double] = []
    var logDensity: Double?
    var densityGradient: [Double]
    var stats = SearchStats()

    init(network: Network, density: FeatureDensity?, featureBuffer: Int?, logitsBuffer: Int?) {
        self.network = network
        self.evaluator = NetworkEvaluator(network)
        self.density = density
        self.featureBuffer = featureBuffer
        self.logitsBuffer = logitsBuffer
        self.last = network.bufferShapes.count - 1
        self.densityGradient = [Double](repeating: 0, count: density?.dimension ?? 0)
    }

    func evaluate(_ x: [Double], target t: Int) throws -> (proba: [Double], logDensity: Double?) {
        self.x = x
        x.withUnsafeBufferPointer { evaluator.forward($0, rows: 1, through: last) }
        stats.predictCalls += 1
        stats.predictedRows += 1
        proba = Array(evaluator.value(last))
        try requireFinite(proba, "model output")
        if let density, let featureBuffer {
            logDensity = density.logDensityAndGradient(evaluator.value(featureBuffer), class: t, gradient: &densityGradient)
        } else {
            logDensity = nil
        }
        return (proba, logDensity)
    }

    func gradient(_ rule: SaliencyGradient, target t: Int) throws -> [Double] {
        let crossEntropy: Double
        var crossEntropyCotangent: [Double]
        let crossEntropyBuffer: Int
        if let logitsBuffer {
            // ℓ_c = logsumexp(z) − z_t, ∂ℓ_c/∂z = softmax(z) − e_t, exact even when p_t underflows.
            let logits = Array(evaluator.value(logitsBuffer))
            crossEntropy = FeatureDensity.logSumExp(logits) - logits[t]
            crossEntropyCotangent = proba
            crossEntropyCotangent[t] -= 1
            crossEntropyBuffer = logitsBuffer
        } else {
            crossEntropy = -log(proba[t])
            crossEntropyCotangent = [Double](repeating: 0, count: proba.count)
            crossEntropyCotangent[t] = -1 / proba[t]
            crossEntropyBuffer = last
        }
        let (a, b) = lossCoefficients(rule, crossEntropy: crossEntropy, logDensity: logDensity)
        for i in crossEntropyCotangent.indices { crossEntropyCotangent[i] *= a }
        // ∇(−log p_t) w.r.t. the features is −densityGradient.
        let densityCotangent = densityGradient.map { -b * $0 }
        stats.gradientEvaluations += 1
        return try crossEntropyCotangent.withUnsafeBufferPointer { ce in
            try densityCotangent.withUnsafeBufferPointer { dc in
                var seeds: [(buffer: Int, cotangent: UnsafeBufferPointer<Double>)] = [(crossEntropyBuffer, ce)]
                if b != 0, let featureBuffer { seeds.append((featureBuffer, dc)) }
                let gradient = Array(evaluator.backward(seeds: seeds))
                try requireFinite(gradient, "gradient")
                return gradient
            }
        }
    }
}

/// Any classifier (JSMA only): the cross-entropy gradient through the model's pullback.
final class SessionOracle: SaliencyOracle {
    let session: ModelSession
    var x: [Double] = []
    var proba: [Double] = []
    var stats: SearchStats {
        var s = SearchStats()
        s.predictCalls = session.predictCalls
        s.predictedRows = session.predictedRows
        s.gradientEvaluations = session.gradientEvaluations
        return s
    }

    init(model: Classifier) {
        session = ModelSession(model: model, eps: 1e-5)
    }

    func evaluate(_ x: [Double], target: Int) throws -> (proba: [Double], logDensity: Double?) {
        self.x = x
        proba = try session.predict(x)
        return (proba, nil)
    }

    func gradient(_ rule: SaliencyGradient, target t: Int) throws -> [Double] {
        guard proba[t] > 0 else { throw CFXError(.numeric, "the target probability is 0: the cross-entropy gradient is undefined") }
        let crossEntropy = -log(proba[t])
        let (a, _) = lossCoefficients(rule, crossEntropy: crossEntropy, logDensity: nil)
        var cotangent = [Double](repeating: 0, count: proba.count)
        cotangent[t] = -a / proba[t]
        var gradient = [Double](repeating: 0, count: x.count)
        try session.pullback(at: x, cotangent: cotangent, into: &gradient)
        return gradient
    }
}
