import Glibc

/// ECCCo's generator as counterfactual training uses it (Altmeyer et al., AAAI 2024; the "ECCo"
/// variant without the conformal term). With the energy E(x, y) = −z_y(x), the raw logit of
/// class y before softmax, each step t = 1…T of plain gradient descent minimises
///
///     L_t(x') = logitCE(z(x'), y⁺) + λ_cst ‖x' − x‖₁ + λ_egy φ_t (E(x', y⁺) + 10⁻³ E(x', y⁺)²)
///     φ_t = a (b + t)^−0.9,  b = round(T / 25),  a = b / 10
///
/// (with `energyDecay` off, φ_t = 1), stopping as soon as softmax(z(x'))[y⁺] ≥ τ. Each step Δ is
/// masked by the constraints (immutable features do not move, increase-only take max(Δ, 0),
/// decrease-only min(Δ, 0)), then x' is clamped into the feature range.
///
/// Step size: the paper says 0.25; the reference code runs 0.1 (its configured rate never reaches
/// its optimiser). cfx defaults to 0.1 (`learning_rate`).
///
/// ECCCo's conformal set-size penalty is an option (`lambdaSetSize` > 0, after `calibrate`):
/// + λ_Ω Ω(x'), Ω = max(0, Σ_y C_y(x') − κ), C_y = σ((q̂ − s_y(x')) / T) the smooth membership of
/// class y in the conformal prediction set, s_y = 1 − p_y the split-conformal score and q̂ its
/// ⌈(n + 1)(1 − α)⌉-th smallest value over n calibration rows (their true labels).
///
/// The energy needs the logits, so the model must be a native network ending in softmax.
public struct ECCCoParams: ConstrainedParameters, Sendable, Equatable {
    /// "other": the most probable class other than the prediction at x; or a class index.
    public var targetClass = TargetClass.other
    /// τ: a search stops (and succeeds) once p_y⁺(x') ≥ τ.
    public var targetProba = 0.75
    /// T.
    public var maxSteps = 30
    public var learningRate = 0.1
    public var lambdaCost = 0.001
    public var lambdaEnergy = 5.0
    /// φ_t as above (true) or 1 (false).
    public var energyDecay = true
    public var constraints = ConstraintOptions(featureRange: -1e10, 1e10)
    /// λ_Ω of the conformal set-size penalty; 0 = off (ECCo).
    public var lambdaSetSize = 0.0
    /// α, T and κ of the smooth conformal set.
    public var alpha = 0.05
    public var temperature = 0.1
    public var kappa = 1.0
    /// The sparsity pass on each counterfactual (ECCCo+Sparsify.swift); no sets.
    public var refinement = RefinementOptions()

    public init() {}

    /// Checks every value (the table's rows: ECCCo+Parameters.swift) against the model.
    func validate(_ shape: ModelShape) throws {
        try ECCCoMethod.parameters.check(self, shape)
        guard shape.classes >= 2 else { throw CFXError.config("model", "a counterfactual needs at least 2 classes, the model has \(shape.classes)") }
    }

    /// The checks that need no model (feature indices are checked when a network is known).
    func validate(classCount k: Int) throws {
        try validate(ModelShape(features: Limits.features, classes: k))
    }

    /// φ_t for step t = 1…T.
    func energyWeight(step t: Int) -> Double {
        guard energyDecay else { return 1 }
        let b = (Double(maxSteps) / 25).rounded()
        return b / 10 * pow(b + Double(t), -0.9)
    }
}

/// The searches of a batch of rows, run together: one forward and one backward pass per step
/// over the rows still searching.
public struct ECCoSearches {
    /// Final x' of every row (rows × d).
    public var counterfactuals: [Double]
    /// softmax(z(x')) of every row (rows × k).
    public var probabilities: [Double]
    /// Whether row r reached p_y⁺ ≥ τ.
    public var mature: [Bool]
    /// Gradient steps row r took.
    public var steps: [Int]
    /// The last point of each path with ‖x_t − x‖_∞ ≤ `nascentRadius` (x itself at worst), when asked.
    public var nascent: [Double]
}

/// The ECCo objective bound to one native network and its constraints.
public struct ECCoGenerator: @unchecked Sendable {
    public let network: Network
    public let params: ECCCoParams
    public let constraints: Constraints
    let logits: Int
    /// q̂ of the conformal penalty, when calibrated.
    public var quantile: Double?

    public init(network: Network, params: ECCCoParams, constraints: Constraints) throws {
        try params.validate(ModelShape(network))
        guard let logits = network.outputs["logits"] else {
            throw CFXError.config("model", "eccco needs the logits: a native network whose last layer is softmax")
        }
        self.network = network
        self.params = params
        self.constraints = constraints
        self.logits = logits
    }

    /// Searches from each row of `x` (rows × d) towards `targets[r]`, on `evaluator`'s thread.
    public func search(_ x: [Double], rows: Int, targets: [Int], evaluator: NetworkEvaluator, nascentRadius: Double? = nil,
                       cancellation: Cancellation = Cancellation()) throws -> ECCoSearches {
        let d = network.featureCount, k = network.classCount
        var result = ECCoSearches(counterfactuals: x, probabilities: [Double](repeating: 0, count: rows * k),
                                  mature: [Bool](repeating: false, count: rows), steps: [Int](repeating: 0, count: rows),
                                  nascent: nascentRadius == nil ? [] : x)
        var active = Array(0..<rows)
        var batch = [Double](), cotangent = [Double]()
        var original = [Double](repeating: 0, count: d), point = original, gradient = original
        let probabilitiesBuffer = try network.outputBuffer("probabilities")
        for t in 0...params.maxSteps {
            try cancellation.check()
            // Forward the rows still searching; the ones that reached τ stop here.
            batch.removeAll(keepingCapacity: true)
            for r in active { batch += result.counterfactuals[r * d..<(r + 1) * d] }
            batch.withUnsafeBufferPointer { evaluator.forward($0, rows: active.count, training: false) }
            let p = evaluator.value(probabilitiesBuffer), z = evaluator.value(logits)
            for (i, r) in active.enumerated() {
                for c in 0..<k { result.probabilities[r * k + c] = p[i * k + c] }
                if p[i * k + targets[r]] >= params.targetProba { result.mature[r] = true }
            }
            if let i = (0..<active.count * k).first(where: { !p[$0].isFinite }) {
                throw CFXError(.numeric, "the model returned \(p[i]) for row \(active[i / k]) during the eccco search")
            }
            guard t < params.maxSteps else { break }
            let searching = active.enumerated().filter { !result.mature[$0.element] }
            if searching.isEmpty { break }

            // ∂L/∂z: softmax − onehot(y⁺) from the cross-entropy, and the energy's −(1 + 2·10⁻³E)·λ φ_t at y⁺.
            let phi = params.lambdaEnergy * params.energyWeight(step: t + 1)
            cotangent = [Double](repeating: 0, count: active.count * k)
            for (i, r) in searching {
                let y = targets[r]
                LogitLoss.crossEntropyGradient(probabilities: p.baseAddress! + i * k, classes: k, label: y) { cotangent[i * k + $0] = $1 }
                let energy = LogitLoss.energy(logits: z.baseAddress! + i * k, label: y)
                cotangent[i * k + y] -= phi * LogitLoss.regularisedEnergySlope(energy)
            }
            let dx: UnsafeBufferPointer<Double>
            if let q = quantile, params.lambdaSetSize > 0 {
                // Ω's gradient enters at the probabilities: ∂C_y/∂p_y = C_y(1 − C_y) / T, when Σ C > κ.
                var setCotangent = [Double](repeating: 0, count: active.count * k)
                for (i, _) in searching {
                    let c = (0..<k).map { 1 / (1 + exp(-(q - (1 - p[i * k + $0])) / params.temperature)) }
                    guard c.reduce(0, +) > params.kappa else { continue }
                    for y in 0..<k { setCotangent[i * k + y] = params.lambdaSetSize * c[y] * (1 - c[y]) / params.temperature }
                }
                dx = cotangent.withUnsafeBufferPointer { ct in
                    setCotangent.withUnsafeBufferPointer { st in
                        evaluator.backward(seeds: [(buffer: logits, cotangent: ct), (buffer: probabilitiesBuffer, cotangent: st)])
                    }
                }
            } else {
                dx = cotangent.withUnsafeBufferPointer { evaluator.backward(from: logits, cotangent: $0) }
            }
            for (i, r) in searching {
                for j in 0..<d {
                    original[j] = x[r * d + j]
                    point[j] = result.counterfactuals[r * d + j]
                    let difference = point[j] - original[j]
                    gradient[j] = dx[i * d + j] + params.lambdaCost * (difference > 0 ? 1 : difference < 0 ? -1 : 0)
                }
                constraints.mask(&gradient)
                for j in 0..<d { point[j] -= params.learningRate * gradient[j] }
                constraints.apply(to: &point, original: original)
                result.counterfactuals.replaceSubrange(r * d..<(r + 1) * d, with: point)
                result.steps[r] += 1
                if let radius = nascentRadius, zip(point, original).allSatisfy({ abs($0 - $1) <= radius }) {
                    result.nascent.replaceSubrange(r * d..<(r + 1) * d, with: point)
                }
            }
            active = searching.map(\.element)
        }
        return result
    }
}

/// q̂: the ⌈(n + 1)(1 − α)⌉-th smallest score 1 − p_y(x_i) over calibration rows (x_i, y_i)
/// (the largest score when that rank exceeds n).
public func conformalQuantile(model: Classifier, data: Dataset, alpha: Double) throws -> Double {
    guard let labels = data.labels else {
        throw CFXError(.invalidArgument, "eccco: the conformal penalty calibrates on labelled rows; pass y to fit")
    }
    guard data.rows > 0 else { throw CFXError(.invalidArgument, "eccco: no calibration rows") }
    let k = model.classCount
    let proba = try ModelSession(model: model).predict(data.x, rows: data.rows)
    let scores = (0..<data.rows).map { 1 - proba[$0 * k + labels[$0]] }.sorted()
    let rank = Int((Double(data.rows + 1) * (1 - alpha)).rounded(.up))
    return scores[min(rank, data.rows) - 1]
}

/// One row's ECCCo counterfactual.
public struct ECCCoExplanation: Sendable {
    /// x' when the search reached τ, else nil.
    public let cf: [Double]?
    /// The last point of the search (x' or the point where T ran out).
    public let last: [Double]
    public let proba: [Double]
    public let targetClass: Int
    public let origClass: Int
    public let origProba: [Double]
    public let steps: Int
    /// ‖x' − x‖₁ and E(x', y⁺) = −z_y⁺(x') at the last point.
    public let distance: Double
    public let energy: Double
    public internal(set) var stats: SearchStats
    /// Features the sparsity pass restored (nil: no pass).
    public internal(set) var restored: Int? = nil
    public var success: Bool { cf != nil }
}

/// The `eccco` method: ECCo searches batched over instances, in chunks spread over threads.
public final class ECCCoExplainer: BatchExplainer, @unchecked Sendable {
    public private(set) var generator: ECCoGenerator
    /// Units of the sparsity order: the training MAD, else the range (empty without `sparsify`).
    let scales: [Double]
    /// Rows searched together on one thread.
    static let chunkRows = 64

    /// `training`, when given, sets the units of the sparsity pass (its MAD).
    public init(model: Classifier, params: ECCCoParams, training: Dataset? = nil) throws {
        guard let network = model as? Network else {
            throw CFXError.config("model", "eccco needs the logits: a native network whose last layer is softmax, not a callback model")
        }
        let constraints = try Constraints(params.constraints, featureCount: network.featureCount)
        generator = try ECCoGenerator(network: network, params: params, constraints: constraints)
        scales = params.refinement.sparsify ? featureScales(lower: constraints.lower, upper: constraints.upper, training: training) : []
    }

    /// An explainer whose conformal penalty is calibrated on `data` (split conformal: rows not
    /// used for training, with labels).
    public func calibrated(on data: Dataset) throws -> ECCCoExplainer {
        let copy = try ECCCoExplainer(model: generator.network, params: generator.params, training: data)
        copy.generator.quantile = try conformalQuantile(model: generator.network, data: data, alpha: generator.params.alpha)
        return copy
    }

    public func explain(_ instances: [Double], rows: Int, threads: Int, control: RunControl = RunControl()) throws -> [ECCCoExplanation] {
        let network = generator.network
        if generator.params.lambdaSetSize > 0 && generator.quantile == nil {
            throw CFXError(.invalidArgument, "eccco: lambda_set_size > 0 needs calibration data; call fit with labelled rows first")
        }
        try network.checkShape(count: instances.count, rows: rows, features: network.featureCount)
        try requireFinite(instances, "x")
        let d = network.featureCount, k = network.classCount
        let chunks = (rows + Self.chunkRows - 1) / Self.chunkRows
        // Progress counts rows (a chunk's rows are done together).
        let rowControl = RunControl(progress: control.progress.map { progress in
            { done, _, iterations in progress(min(done * Self.chunkRows, rows), rows, iterations) }
        }, cancellation: control.cancellation)
        let parts = try parallelMap(count: chunks, threads: threads, control: rowControl) { [self, generator] c in
            let started = monotonicSeconds()
            let lo = c * Self.chunkRows, hi = min(rows, lo + Self.chunkRows)
            let x = Array(instances[lo * d..<hi * d])
            let evaluator = NetworkEvaluator(network)
            let proba = try ModelSession(model: network).predict(x, rows: hi - lo)
            let factuals = (0..<hi - lo).map { Factual(x: Array(x[$0 * d..<($0 + 1) * d]), proba: Array(proba[$0 * k..<($0 + 1) * k])) }
            let targets = factuals.map { generator.params.targetClass.resolve(probabilities: $0.proba, original: $0.predicted) }
            let found = try generator.search(x, rows: hi - lo, targets: targets, evaluator: evaluator, cancellation: control.cancellation)
            // The energies at the last points: one more forward pass.
            found.counterfactuals.withUnsafeBufferPointer { evaluator.forward($0, rows: hi - lo) }
            let z = evaluator.value(generator.logits)
            let share = (monotonicSeconds() - started) / Double(hi - lo)
            return try (0..<hi - lo).map { i in
                let last = Array(found.counterfactuals[i * d..<(i + 1) * d])
                let distance = zip(last, factuals[i].x).reduce(0) { $0 + abs($1.0 - $1.1) }
                let stats = SearchStats(predictCalls: found.steps[i] + 1, predictedRows: found.steps[i] + 1,
                                        gradientEvaluations: found.steps[i], seconds: share)
                let e = ECCCoExplanation(cf: found.mature[i] ? last : nil, last: last, proba: Array(found.probabilities[i * k..<(i + 1) * k]),
                                         targetClass: targets[i], origClass: factuals[i].predicted, origProba: factuals[i].proba,
                                         steps: found.steps[i], distance: distance, energy: LogitLoss.energy(logits: z.baseAddress! + i * k, label: targets[i]), stats: stats)
                return try sparsified(e, original: factuals[i].x, cancellation: control.cancellation)
            }
        }
        return parts.flatMap { $0 }
    }
}
