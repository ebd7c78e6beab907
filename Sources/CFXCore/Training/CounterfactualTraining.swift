import Glibc

/// Counterfactual training (Altmeyer, Buszydlik, van Deursen, Liem: "Counterfactual Training:
/// Teaching Models Plausible and Actionable Explanations"). With the energy E(x, y) = −z_y(x),
/// once per epoch after the burn-in:
///
/// 1. draw n_CE factuals x from the training rows without replacement;
/// 2. for each, a target y⁺ uniformly among the classes other than the model's prediction, and
///    x⁺, a random training row whose label is y⁺;
/// 3.–4. search x′ from x with the ECCo generator (`ECCoGenerator`: ≤ T steps, stop at p_y⁺ ≥ τ,
///    steps masked by the mutability constraints, clamped into the domain);
/// 5. a search that did not reach τ is immature: x′ := x⁺;
/// 6. the nascent counterfactual x_AE is the last point of the path with ‖x_t − x‖_∞ ≤ ε, or x;
/// 7. the tuples are split evenly over the epoch's mini-batches; each batch adds to its
///    cross-entropy
///
///        λ_div · mean[E(x⁺, y⁺) − E(x′, y⁺)] + λ_reg · mean[E(x⁺, y⁺)² + E(x′, y⁺)²]
///        + λ_adv · mean CE(M(x_AE), y)
///
///    with x⁺, x′, x_AE constants, after protecting the constraints on x⁺ (immutable
///    x⁺_d := x′_d, increase-only max(x′_d, x⁺_d), decrease-only min). A step whose loss is not
///    finite is skipped and counted.
///
/// The energy terms are computed in inference mode (batch norm uses its running statistics).
public struct CounterfactualTrainingConfig: Sendable {
    // Its config keys, with their constraints and meanings: CounterfactualTraining+Parameters.swift.
    /// n_CE.
    public var counterfactuals = 1000
    /// The searches (the ECCo generator); its feature range is ignored: `domain` bounds them.
    public var generator = ECCCoParams()
    /// λ_div, λ_reg, λ_adv.
    public var lambdas = CounterfactualTerms(divergence: 0.5, ridge: 0.1, adversarial: 0.25)
    /// ε of the nascent counterfactuals.
    public var nascentRadius = 0.3
    /// Fraction of the epochs trained conventionally first.
    public var burnIn = 0.0
    /// Per-feature bounds of the searches; nil: [min(μ − 2σ, min x), max(μ + 2σ, max x)] over the
    /// training rows (σ with n − 1, as the reference code).
    public var domain: (lower: PerFeature, upper: PerFeature)?
    /// Threads of the searches (0 = all cores).
    public var threads = 0

    public init() {}
}

/// Step 7's three terms: the energy gap E(x⁺, y⁺) − E(x′, y⁺), the energies' squares and the
/// nascent counterfactuals' cross-entropy. The config weighs them, a batch and an epoch sum them,
/// the report gives their means.
public struct CounterfactualTerms: Sendable, Equatable {
    public var divergence: Double
    public var ridge: Double
    public var adversarial: Double

    public init(divergence: Double = 0, ridge: Double = 0, adversarial: Double = 0) {
        (self.divergence, self.ridge, self.adversarial) = (divergence, ridge, adversarial)
    }

    /// Σ weight · term, in the order divergence, ridge, adversarial.
    func weighted(by w: CounterfactualTerms) -> Double {
        w.divergence * divergence + w.ridge * ridge + w.adversarial * adversarial
    }

    /// Each term times `scale`.
    func scaled(by scale: Double) -> CounterfactualTerms {
        CounterfactualTerms(divergence: scale * divergence, ridge: scale * ridge, adversarial: scale * adversarial)
    }

    static func += (sum: inout CounterfactualTerms, terms: CounterfactualTerms) {
        sum.divergence += terms.divergence
        sum.ridge += terms.ridge
        sum.adversarial += terms.adversarial
    }
}

/// What counterfactual training did in one epoch.
public struct CounterfactualEpochReport: Sendable {
    /// Tuples searched this epoch.
    public var counterfactuals = 0
    /// Share that reached τ.
    public var matureShare = 0.0
    /// Means over the epoch's batches of the unweighted terms.
    public var terms = CounterfactualTerms()
    /// Optimiser steps skipped because the loss was not finite.
    public var skippedSteps = 0
    public var searchSeconds = 0.0
    public var trainingSeconds = 0.0
}

/// The per-run state of counterfactual training: the data, the domain and the generator.
final class CounterfactualTraining {
    let config: CounterfactualTrainingConfig
    let generator: ECCoGenerator
    let data: TrainingData
    let classes: [Int]
    let trainIndices: [Int]
    /// Training rows of each class, for x⁺.
    let rowsByClass: [[Int]]
    let seed: UInt64
    /// Computes the energy terms on the calling thread.
    let evaluator: NetworkEvaluator
    let probabilities: Int

    init(network: Network, config: CounterfactualTrainingConfig, data: TrainingData, classes: [Int], trainIndices: [Int], seed: UInt64) throws {
        try config.validate()
        let d = network.featureCount
        let bounds: (lower: [Double], upper: [Double])
        if let domain = config.domain {
            bounds = (try domain.lower.resolve(d, "counterfactual_training.domain[0]"), try domain.upper.resolve(d, "counterfactual_training.domain[1]"))
        } else {
            bounds = defaultDomain(data.x, rows: trainIndices, features: d)
        }
        var params = config.generator
        params.constraints.featureRangeMin = .each(bounds.lower)
        params.constraints.featureRangeMax = .each(bounds.upper)
        let constraints: Constraints
        do {
            constraints = try Constraints(params.constraints, featureCount: d)
        } catch let error as CFXError {
            throw error.prefixed("counterfactual_training")
        }
        generator = try ECCoGenerator(network: network, params: params, constraints: constraints)
        self.config = config
        self.data = data
        self.classes = classes
        self.trainIndices = trainIndices
        var byClass = [[Int]](repeating: [], count: network.classCount)
        for i in trainIndices { byClass[classes[i]].append(i) }
        rowsByClass = byClass
        self.seed = seed
        evaluator = NetworkEvaluator(network)
        probabilities = try network.outputBuffer("probabilities")
    }

    /// Whether epoch `epoch` (0-based) of `epochs` is past the burn-in.
    func isActive(epoch: Int, epochs: Int) -> Bool { Double(epoch) >= config.burnIn * Double(epochs) }

    /// Steps 1–6 for one epoch: the tuples, split over `batches` mini-batches. `control`'s
    /// progress counts factuals; its cancellation stops every search within one step
    /// (`CFXError(.cancelled)`).
    func searchEpoch(_ epoch: Int, batches: Int, control: RunControl = RunControl()) throws -> CounterfactualEpoch {
        let started = monotonicSeconds()
        let d = generator.network.featureCount, k = generator.network.classCount
        var random = SeededRandom(seed: seed ^ 0xC0F1_7E2A_11D3_5B69 &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        // 1. n_CE factuals without replacement (a partial Fisher–Yates shuffle).
        var pool = trainIndices
        let m = min(config.counterfactuals, pool.count)
        for i in 0..<m { pool.swapAt(i, i + random.index(below: pool.count - i)) }
        let factuals = Array(pool[0..<m])
        var x = [Double](repeating: 0, count: m * d)
        for (r, i) in factuals.enumerated() { for j in 0..<d { x[r * d + j] = data.x[i * d + j] } }

        // 2. Targets other than the current prediction, and a training row of each target.
        x.withUnsafeBufferPointer { evaluator.forward($0, rows: m) }
        let p = evaluator.value(probabilities)
        let available = (0..<k).filter { !rowsByClass[$0].isEmpty }
        var targets = [Int](repeating: 0, count: m)
        var positive = [Double](repeating: 0, count: m * d)
        for r in 0..<m {
            let predicted = argmax(Array(p[r * k..<(r + 1) * k]))
            let choices = available.filter { $0 != predicted }
            guard !choices.isEmpty else { throw CFXError(.invalidArgument, "targets: counterfactual training needs training rows of at least 2 classes") }
            targets[r] = choices[random.index(below: choices.count)]
            let rows = rowsByClass[targets[r]]
            let i = rows[random.index(below: rows.count)]
            for j in 0..<d { positive[r * d + j] = data.x[i * d + j] }
        }

        // 3.–6. The searches, in chunks of rows, on all threads.
        let chunk = 64, chunks = (m + chunk - 1) / chunk
        let rowControl = RunControl(progress: control.progress.map { progress in
            { done, _, iterations in progress(min(done * chunk, m), m, iterations) }
        }, cancellation: control.cancellation)
        let searches = try parallelMap(count: chunks, threads: config.threads, control: rowControl) { [generator, config, x, targets] c in
            let lo = c * chunk, hi = min(m, lo + chunk)
            return try generator.search(Array(x[lo * d..<hi * d]), rows: hi - lo, targets: Array(targets[lo..<hi]),
                                        evaluator: NetworkEvaluator(generator.network), nascentRadius: config.nascentRadius,
                                        cancellation: control.cancellation)
        }
        var counterfactual = [Double](), nascent = [Double](), mature = 0
        for s in searches {
            counterfactual += s.counterfactuals
            nascent += s.nascent
            mature += s.mature.filter { $0 }.count
        }
        var offset = 0
        for s in searches {
            for (i, isMature) in s.mature.enumerated() where !isMature {
                let r = offset + i
                counterfactual.replaceSubrange(r * d..<(r + 1) * d, with: positive[r * d..<(r + 1) * d])
            }
            offset += s.mature.count
        }
        // Protect the constraints on x⁺ against x′.
        for r in 0..<m {
            for j in generator.params.constraints.immutable { positive[r * d + j] = counterfactual[r * d + j] }
            for f in generator.params.constraints.monotone {
                let (a, b) = (counterfactual[r * d + f.feature], positive[r * d + f.feature])
                positive[r * d + f.feature] = f.direction == .increase ? max(a, b) : min(a, b)
            }
        }
        var report = CounterfactualEpochReport()
        report.counterfactuals = m
        report.matureShare = Double(mature) / Double(max(m, 1))
        report.searchSeconds = monotonicSeconds() - started
        return CounterfactualEpoch(counterfactual: counterfactual, positive: positive, nascent: nascent, targets: targets,
                                   labels: factuals.map { classes[$0] }, batches: batches, report: report)
    }

    /// Step 7's extra terms for mini-batch `batch`: adds their parameter gradient to `gradient`
    /// and returns the weighted sum of the terms (0 when the batch holds no tuples).
    func addGradient(_ epoch: inout CounterfactualEpoch, batch: Int, into gradient: UnsafeMutablePointer<Double>) -> Double {
        let range = epoch.tuples(ofBatch: batch)
        let m = range.count
        guard m > 0 else { return 0 }
        let d = generator.network.featureCount, k = generator.network.classCount
        // Rows: x⁺ (0..<m), x′ (m..<2m), x_AE (2m..<3m).
        var rows = [Double](repeating: 0, count: 3 * m * d)
        for (i, r) in range.enumerated() {
            for j in 0..<d {
                rows[i * d + j] = epoch.positive[r * d + j]
                rows[(m + i) * d + j] = epoch.counterfactual[r * d + j]
                rows[(2 * m + i) * d + j] = epoch.nascent[r * d + j]
            }
        }
        rows.withUnsafeBufferPointer { evaluator.forward($0, rows: 3 * m) }
        let z = evaluator.value(generator.logits), p = evaluator.value(probabilities)
        var cotangent = [Double](repeating: 0, count: 3 * m * k)
        var terms = CounterfactualTerms()
        let scale = 1 / Double(m)
        let (lDiv, lReg, lAdv) = (config.lambdas.divergence, config.lambdas.ridge, config.lambdas.adversarial)
        for (i, r) in range.enumerated() {
            let y = epoch.targets[r], label = epoch.labels[r]
            let ePositive = LogitLoss.energy(logits: z.baseAddress! + i * k, label: y)
            let eCounterfactual = LogitLoss.energy(logits: z.baseAddress! + (m + i) * k, label: y)
            terms.divergence += ePositive - eCounterfactual
            terms.ridge += ePositive * ePositive + eCounterfactual * eCounterfactual
            // dE/dz_y = −1.
            cotangent[i * k + y] = scale * (-lDiv - 2 * lReg * ePositive)
            cotangent[(m + i) * k + y] = scale * (lDiv - 2 * lReg * eCounterfactual)
            let row = 2 * m + i
            terms.adversarial += LogitLoss.crossEntropy(logits: z.baseAddress! + row * k, classes: k, label: label)
            LogitLoss.crossEntropyGradient(probabilities: p.baseAddress! + row * k, classes: k, label: label) {
                cotangent[row * k + $0] = scale * lAdv * $1
            }
        }
        let total = scale * terms.weighted(by: config.lambdas)
        epoch.sums += terms.scaled(by: scale)
        epoch.batchesWithTuples += 1
        guard total.isFinite else { return total }
        cotangent.withUnsafeBufferPointer { _ = evaluator.backward(from: generator.logits, cotangent: $0, parameterGradients: gradient) }
        return total
    }
}

/// One epoch's tuples (x′, x⁺, x_AE, y⁺, y), and the sums the report averages.
struct CounterfactualEpoch {
    var counterfactual: [Double]
    var positive: [Double]
    var nascent: [Double]
    var targets: [Int]
    var labels: [Int]
    let batches: Int
    var report: CounterfactualEpochReport
    var sums = CounterfactualTerms()
    var batchesWithTuples = 0

    init(counterfactual: [Double], positive: [Double], nascent: [Double], targets: [Int], labels: [Int], batches: Int,
         report: CounterfactualEpochReport) {
        self.counterfactual = counterfactual
        self.positive = positive
        self.nascent = nascent
        self.targets = targets
        self.labels = labels
        self.batches = batches
        self.report = report
    }

    /// Tuples of batch b: an even split of the n tuples over the batches.
    func tuples(ofBatch b: Int) -> Range<Int> {
        let n = targets.count
        return (b * n / batches)..<((b + 1) * n / batches)
    }

    /// The report once every batch has run.
    func finished(trainingSeconds: Double, skipped: Int) -> CounterfactualEpochReport {
        var r = report
        let batches = Double(max(batchesWithTuples, 1))
        r.terms = CounterfactualTerms(divergence: sums.divergence / batches, ridge: sums.ridge / batches,
                                      adversarial: sums.adversarial / batches)
        r.trainingSeconds = trainingSeconds
        r.skippedSteps = skipped
        return r
    }
}

/// [min(μ − 2σ, min x), max(μ + 2σ, max x)] per feature over `rows`, σ the sample standard
/// deviation (n − 1 in the denominator, as the reference's infer_domain_constraints: Julia's std).
func defaultDomain(_ x: [Double], rows: [Int], features d: Int) -> (lower: [Double], upper: [Double]) {
    var lower = [Double](repeating: 0, count: d), upper = lower
    let n = Double(rows.count)
    for j in 0..<d {
        var mean = 0.0, low = Double.infinity, high = -Double.infinity
        for i in rows { mean += x[i * d + j]; low = min(low, x[i * d + j]); high = max(high, x[i * d + j]) }
        mean /= n
        var variance = 0.0
        for i in rows { variance += (x[i * d + j] - mean) * (x[i * d + j] - mean) }
        let sigma = rows.count > 1 ? (variance / (n - 1)).squareRoot() : 0
        lower[j] = min(mean - 2 * sigma, low)
        upper[j] = max(mean + 2 * sigma, high)
    }
    return (lower, upper)
}
