import XCTest
@testable import CFXCore

/// A small residual convolutional classifier on 1×6×6 images with a 6-dimensional "features"
/// output (global average pooling) and 3 classes, random weights.
func smallFeatureNetwork(seed: UInt64 = 11) throws -> Network {
    let network = try randomNetwork(inputShape: [1, 6, 6], [
        .layer(Conv2D(outChannels: 6, kernelSize: 3, padding: 1)),
        .layer(Elementwise(.leakyRelu(slope: 0.01))),
        .residual(main: [.layer(Conv2D(outChannels: 6, kernelSize: 3, padding: 1)), .layer(Elementwise(.leakyRelu(slope: 0.01)))], shortcut: []),
        .layer(GlobalAveragePool(), name: "features"),
        .layer(Dense(outputs: 3)),
        .layer(Softmax()),
    ], seed: seed, scale: 0.5)
    // A steep last layer centred on the mean feature vector of random images, so that the
    // classes are balanced and a few changed pixels can flip them.
    let weights = network.parameter("layers.4.weight")!
    for i in weights.indices { weights[i] *= 30 }
    var rng = SplitMix64(state: seed &+ 1)
    let x = (0..<64 * 36).map { _ in Double.random(in: 0...1, using: &rng) }
    let evaluator = NetworkEvaluator(network)
    let buffer = try network.outputBuffer("features")
    x.withUnsafeBufferPointer { evaluator.forward($0, rows: 64, through: buffer) }
    let z = evaluator.value(buffer)
    let bias = network.parameter("layers.4.bias")!
    for c in 0..<3 {
        var mean = 0.0
        for r in 0..<64 { for j in 0..<6 { mean += weights[c * 6 + j] * z[r * 6 + j] / 64 } }
        bias[c] = -mean
    }
    network.parametersChanged()
    return network
}

/// `rows` images with pixels in [0, 1] and labels r mod 3.
func imageData(_ network: Network, rows: Int, seed: UInt64) throws -> Dataset {
    var rng = SplitMix64(state: seed)
    let x = (0..<rows * network.featureCount).map { _ in Double.random(in: 0...1, using: &rng) }
    return try Dataset(x: x, rows: rows, features: network.featureCount, labels: (0..<rows).map { $0 % 3 }, classCount: 3)
}

final class FeatureDensityTests: XCTestCase {
    /// log N(z; μ, Σ) through an explicit 3×3 inverse and determinant (cofactors).
    func directLogDensity(_ z: [Double], _ mu: [Double], _ s: [Double]) -> Double {
        let (a, b, c, d, e, f, g, h, i) = (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8])
        let det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
        let inverse = [e * i - f * h, c * h - b * i, b * f - c * e,
                       f * g - d * i, a * i - c * g, c * d - a * f,
                       d * h - e * g, b * g - a * h, a * e - b * d].map { $0 / det }
        let v = zip(z, mu).map { $0 - $1 }
        var q = 0.0
        for r in 0..<3 { for col in 0..<3 { q += v[r] * inverse[r * 3 + col] * v[col] } }
        return -0.5 * (3 * log(2 * Double.pi) + log(det) + q)
    }

    func testLogDensityMatchesDirectComputation() throws {
        let means = [0.5, -1.0, 2.0, 1.0, 1.0, 1.0]
        let covariances = [2.0, 0.3, -0.2, 0.3, 1.0, 0.1, -0.2, 0.1, 0.5,
                           1.0, 0.9, 0.0, 0.9, 1.0, 0.0, 0.0, 0.0, 3.0]
        let density = try FeatureDensity(featureOutput: "features", inputFeatures: 3, dimension: 3, means: means, covariances: covariances,
                                         counts: [10, 10], jitter: nil, labelSource: .given)
        XCTAssertEqual(density.jitter, 0)
        for z in [[0.0, 0.0, 0.0], [1.5, -2.0, 0.3], [3.0, 1.0, 1.0]] {
            let values = z.withUnsafeBufferPointer { density.logDensities($0) }
            for c in 0..<2 {
                let expected = directLogDensity(z, Array(means[c * 3..<c * 3 + 3]), Array(covariances[c * 9..<c * 9 + 9]))
                XCTAssertEqual(values[c], expected, accuracy: 1e-12 * max(1, abs(expected)))
            }
            let mixture = FeatureDensity.logSumExp(values)
            XCTAssertEqual(mixture, log(exp(values[0]) + exp(values[1])), accuracy: 1e-12)
        }
    }

    func testFitEstimatesMeanAndUnbiasedCovariance() throws {
        let network = try smallFeatureNetwork()
        let data = try imageData(network, rows: 60, seed: 3)
        let density = try FeatureDensity.fit(network: network, featureOutput: "features", data: data, threads: 2)
        XCTAssertEqual(density.counts, [20, 20, 20])
        XCTAssertEqual(density.labelSource, .given)
        // Features computed one row at a time, statistics by hand for class 1.
        let evaluator = NetworkEvaluator(network)
        let buffer = try network.outputBuffer("features")
        let D = density.dimension
        XCTAssertEqual(D, 6)
        let rows = stride(from: 1, to: 60, by: 3).map { r -> [Double] in
            Array(data.row(r)).withUnsafeBufferPointer { evaluator.forward($0, rows: 1, through: buffer) }
            return Array(evaluator.value(buffer))
        }
        let mean = (0..<D).map { j in rows.reduce(0) { $0 + $1[j] } / 20 }
        for j in 0..<D { XCTAssertEqual(density.means[D + j], mean[j], accuracy: 1e-12) }
        for i in 0..<D {
            for j in 0..<D {
                let expected = rows.reduce(0) { $0 + ($1[i] - mean[i]) * ($1[j] - mean[j]) } / 19
                XCTAssertEqual(density.covariances[D * D + i * D + j], expected, accuracy: 1e-12)
            }
        }
    }

    func testSingularCovarianceTakesTheFirstJitterThatWorks() throws {
        // Rank 1 in 3 dimensions: [1, 2, 3]·t.
        let ts = [-1.0, 0.0, 0.5, 2.0]
        let points = ts.map { t in [t, 2 * t, 3 * t] }
        let mean = (0..<3).map { j in points.reduce(0) { $0 + $1[j] } / 4 }
        var covariance = [Double](repeating: 0, count: 9)
        for p in points { for i in 0..<3 { for j in 0..<3 { covariance[i * 3 + j] += (p[i] - mean[i]) * (p[j] - mean[j]) / 3 } } }
        let density = try FeatureDensity(featureOutput: "features", inputFeatures: 3, dimension: 3, means: mean, covariances: covariance,
                                         counts: [4], jitter: nil, labelSource: .given)
        XCTAssertGreaterThan(density.jitter, 0)
        let index = try XCTUnwrap(FeatureDensity.jitterSequence.firstIndex(of: density.jitter))
        // Every earlier jitter fails; the recorded one works.
        for epsilon in FeatureDensity.jitterSequence[..<index] {
            var m = covariance
            for i in 0..<3 { m[i * 4] += epsilon }
            XCTAssertNil(cholesky(m, 3), "jitter \(epsilon)")
        }
        XCTAssertEqual(FeatureDensity.jitterSequence.prefix(3), [0, Double.leastNormalMagnitude, 1e-308])
        XCTAssertEqual(FeatureDensity.jitterSequence.last, 0.1)
        // Reloading with the recorded jitter gives the same densities.
        let reloaded = try FeatureDensity(featureOutput: "features", inputFeatures: 3, dimension: 3, means: mean, covariances: covariance,
                                          counts: [4], jitter: density.jitter, labelSource: .given)
        let z = [0.2, 0.1, 0.7]
        XCTAssertEqual(z.withUnsafeBufferPointer { density.logDensities($0) }, z.withUnsafeBufferPointer { reloaded.logDensities($0) })
        XCTAssertThrowsError(try FeatureDensity(featureOutput: "features", inputFeatures: 3, dimension: 3, means: mean, covariances: covariance,
                                                counts: [4], jitter: 0, labelSource: .given))
    }

    func testInputGradientOfLogDensityMatchesFiniteDifferences() throws {
        let network = try smallFeatureNetwork()
        let density = try FeatureDensity.fit(network: network, featureOutput: "features", data: try imageData(network, rows: 90, seed: 5), threads: 1)
        let evaluator = NetworkEvaluator(network)
        let buffer = try network.outputBuffer("features")
        func logP(_ x: [Double]) -> Double {
            x.withUnsafeBufferPointer { evaluator.forward($0, rows: 1, through: buffer) }
            var work = [Double](repeating: 0, count: density.dimension)
            return density.logDensity(evaluator.value(buffer), class: 2, work: &work)
        }
        var rng = SplitMix64(state: 9)
        let x = (0..<36).map { _ in Double.random(in: 0...1, using: &rng) }
        x.withUnsafeBufferPointer { evaluator.forward($0, rows: 1, through: buffer) }
        var featureGradient = [Double](repeating: 0, count: density.dimension)
        _ = density.logDensityAndGradient(evaluator.value(buffer), class: 2, gradient: &featureGradient)
        let gradient = featureGradient.withUnsafeBufferPointer { Array(evaluator.backward(seeds: [(buffer, $0)])) }
        let h = 1e-6
        for j in 0..<36 {
            var plus = x, minus = x
            plus[j] += h
            minus[j] -= h
            let numeric = (logP(plus) - logP(minus)) / (2 * h)
            XCTAssertEqual(gradient[j], numeric, accuracy: 1e-5 * max(1, abs(numeric)), "feature \(j)")
        }
    }
}

final class DeDUCESearchTests: XCTestCase {
    var network: Network!
    var density: FeatureDensity!
    var images: Dataset!

    override func setUpWithError() throws {
        network = try smallFeatureNetwork()
        density = try FeatureDensity.fit(network: network, featureOutput: "features", data: try imageData(network, rows: 90, seed: 5), threads: 1)
        images = try imageData(network, rows: 6, seed: 77)
    }

    func testGradientIsEquationFive() throws {
        // The oracle's gradient for μ = 1 against the two terms computed separately:
        // ∇ℓ_c/ℓ_c from the probabilities' pullback, ∇log p_t/|log p_t| through the features.
        let x = Array(images.row(0))
        let oracle = NetworkOracle(network: network, density: density, featureBuffer: try network.outputBuffer("features"),
                                   logitsBuffer: network.outputs["logits"])
        let t = try oracle.evaluate(x, target: 0).proba.enumerated().min { $0.element < $1.element }!.offset  // the least likely class
        let (proba, logDensity) = try oracle.evaluate(x, target: t)
        XCTAssertLessThan(proba[t], 0.5)
        let g = try oracle.gradient(.normalised(mu: 1, densityWeight: 1), target: t)
        let evaluator = NetworkEvaluator(network)
        var cotangent = [0.0, 0.0, 0.0]
        cotangent[t] = -1 / proba[t]
        var ce = [Double](repeating: 0, count: 36)
        try x.withUnsafeBufferPointer { xs in
            try cotangent.withUnsafeBufferPointer { cs in
                try ce.withUnsafeMutableBufferPointer { try evaluator.pullback(at: xs, rows: 1, cotangent: cs, into: $0) }
            }
        }
        let buffer = try network.outputBuffer("features")
        x.withUnsafeBufferPointer { evaluator.forward($0, rows: 1, through: buffer) }
        var zGradient = [Double](repeating: 0, count: density.dimension)
        _ = density.logDensityAndGradient(evaluator.value(buffer), class: t, gradient: &zGradient)
        let dens = zGradient.withUnsafeBufferPointer { Array(evaluator.backward(seeds: [(buffer, $0)])) }
        let lc = -log(proba[t])
        for j in 0..<36 {
            let expected = ce[j] / lc - dens[j] / abs(logDensity!)
            XCTAssertEqual(g[j], expected, accuracy: 1e-9 * max(1, abs(expected)))
        }
        // With momentum 0 the first move is −sign(g)·step at argmax |g|.
        var params = DeDUCEParams()
        params.momentum = 0
        params.targetClass = .index(t)
        params.maxIter = 1
        params.trace = true
        let explainer = try SaliencyExplainer.deduce(network: network, params: params, density: density)
        let e = try explainer.run(x, instance: 0, target: t)
        let best = largestMagnitudes(g, count: 1, excluding: { _ in false })[0]
        XCTAssertEqual(e.trace!.changed[0], [best])
        if e.cf == nil {
            XCTAssertEqual(e.trace!.changed.count, 2)
        }
        var moved = x
        moved[best] = min(max(x[best] - (g[best] > 0 ? 1 : -1) * 0.2, 0), 1)
        let (after, _) = try oracle.evaluate(moved, target: t)
        XCTAssertEqual(e.trace!.targetProba[1], after[t], accuracy: 1e-15)
    }

    func testSearchRespectsMaxChangesRangeAndStopsAtFirstSuccess() throws {
        for (maxChanges, step, perStep) in [(1, 0.3, 1), (2, 0.2, 2), (5, 0.2, 1)] {
            var params = DeDUCEParams()
            params.maxChanges = maxChanges
            params.step = step
            params.featuresPerStep = perStep
            params.trace = true
            params.maxIter = 60
            let explainer = try SaliencyExplainer.deduce(network: network, params: params, density: density)
            let results = try explainer.explain(images.x, rows: images.rows, threads: 2)
            XCTAssertEqual(results.count, 12)  // 6 instances × the 2 other classes
            for e in results {
                let trace = try XCTUnwrap(e.trace)
                var counts = [Int](repeating: 0, count: 36)
                for changed in trace.changed { for j in changed { counts[j] += 1 } }
                XCTAssertLessThanOrEqual(counts.max()!, maxChanges)
                XCTAssertTrue(trace.changed.dropLast().allSatisfy { (1...perStep).contains($0.count) })
                // Every point before the last missed the confidence.
                XCTAssertTrue(trace.targetProba.dropLast().allSatisfy { $0 < params.targetConfidence })
                XCTAssertEqual(trace.targetProba.count, trace.changed.count)
                if let cf = e.cf {
                    XCTAssertGreaterThanOrEqual(trace.targetProba.last!, 0.5)
                    XCTAssertEqual(cf.iterations, trace.targetProba.count - 1)
                    XCTAssertTrue(cf.x.allSatisfy { (0...1).contains($0) })
                    let x0 = Array(images.row(e.instance))
                    XCTAssertEqual(cf.l0, zip(cf.x, x0).filter { $0 != $1 }.count)
                    XCTAssertLessThanOrEqual(cf.l0, cf.iterations * perStep)
                    XCTAssertEqual(cf.logDensity!, trace.logDensity.last!)
                    XCTAssertEqual(cf.proba[e.targetClass], trace.targetProba.last!)
                } else {
                    XCTAssertNotNil(e.reason)
                    XCTAssertLessThan(trace.targetProba.last!, 0.5)
                }
            }
            XCTAssertTrue(results.contains { $0.success }, "some search should succeed (max_changes \(maxChanges))")
        }
    }

    /// `immutable` pixels keep their values and `monotone` ones move only their way, in DeDUCE and
    /// JSMA alike; the features constrained are ones the unconstrained searches changed (down, for
    /// the increase-only ones), so that the test fails if the keys are ignored.
    func testImmutableAndMonotoneFeaturesAreHonoured() throws {
        var deduce = DeDUCEParams()
        deduce.maxIter = 80
        var jsma = DeDUCEParams.jsmaDefaults
        jsma.maxIter = 80
        let runs: [(DeDUCEParams, (DeDUCEParams) throws -> SaliencyExplainer)] = [
            (deduce, { try SaliencyExplainer.deduce(network: self.network, params: $0, density: self.density) }),
            (jsma, { try SaliencyExplainer.jsma(model: self.network, params: $0) }),
        ]
        for (params, make) in runs {
            func changes(_ p: DeDUCEParams) throws -> [(x0: [Double], cf: [Double])] {
                try make(p).explain(images.x, rows: images.rows, threads: 2).compactMap { e in
                    e.cf.map { (Array(images.row(e.instance)), $0.x) }
                }
            }
            let free = try changes(params)
            var changed = [Int](repeating: 0, count: 36), lowered = [Int](repeating: 0, count: 36)
            for (x0, cf) in free {
                for j in 0..<36 where cf[j] != x0[j] { changed[j] += 1 }
                for j in 0..<36 where cf[j] < x0[j] { lowered[j] += 1 }
            }
            let immutable = Array((0..<36).sorted { changed[$0] > changed[$1] }.prefix(3))
            let increasing = Array((0..<36).filter { !immutable.contains($0) }.sorted { lowered[$0] > lowered[$1] }.prefix(3))
            XCTAssertTrue(immutable.allSatisfy { changed[$0] > 0 } && increasing.allSatisfy { lowered[$0] > 0 })
            var constrained = params
            constrained.constraints.immutable = immutable
            constrained.constraints.monotone = increasing.map { MonotoneFeature(feature: $0, direction: .increase) }
            let found = try changes(constrained)
            XCTAssertFalse(found.isEmpty)
            for (x0, cf) in found {
                XCTAssertEqual(immutable.map { cf[$0] }, immutable.map { x0[$0] })
                XCTAssertTrue(increasing.allSatisfy { cf[$0] >= x0[$0] })
            }
        }
    }

    func testResultsDoNotDependOnThreads() throws {
        let explainer = try SaliencyExplainer.deduce(network: network, params: DeDUCEParams(), density: density)
        let one = try explainer.explain(images.x, rows: images.rows, threads: 1)
        let two = try explainer.explain(images.x, rows: images.rows, threads: 2)
        XCTAssertEqual(one.map { $0.cf?.x }, two.map { $0.cf?.x })
        XCTAssertEqual(one.map { "\($0.instance),\($0.targetClass)" }, two.map { "\($0.instance),\($0.targetClass)" })
    }

    func testJSMAIsTheSameLoopWithTheCrossEntropyRule() throws {
        // DeDUCE's rule with the density term weighted 0, JSMA's masking and no momentum takes
        // exactly JSMA's steps: the loops are one and the same, only the gradient rule differs.
        var params = DeDUCEParams.jsmaDefaults
        params.maxIter = 80
        params.trace = true
        let jsma = try SaliencyExplainer.jsma(model: network, params: params)
        let deduceRule = SaliencyRule(gradient: .normalised(mu: 1, densityWeight: 0), masking: .boundsReached, momentum: 0)
        let deduceLoop = try SaliencyExplainer(model: network, params: params, rule: deduceRule, density: density)
        let a = try jsma.explain(images.x, rows: images.rows, threads: 2)
        let b = try deduceLoop.explain(images.x, rows: images.rows, threads: 2)
        XCTAssertEqual(a.map { $0.trace!.changed }, b.map { $0.trace!.changed })
        XCTAssertEqual(a.map { $0.cf?.x }, b.map { $0.cf?.x })
        // And the full DeDUCE rule takes other steps on at least one pair.
        let full = try SaliencyExplainer(model: network, params: params,
                                         rule: SaliencyRule(gradient: .normalised(mu: 1, densityWeight: 1), masking: .boundsReached, momentum: 0),
                                         density: density)
        XCTAssertNotEqual(try full.explain(images.x, rows: images.rows, threads: 2).map { $0.trace!.changed }, a.map { $0.trace!.changed })
    }

    func testJSMAMasksFeaturesThatReachABound() throws {
        // Replays each JSMA trace with the cross-entropy gradient computed independently (the
        // model's pullback of −1/p_t): the direction of every move, the clipping, and that a
        // feature on a bound after its change is never chosen again.
        var params = DeDUCEParams.jsmaDefaults
        params.step = 0.45
        params.trace = true
        params.maxIter = 100
        let jsma = try SaliencyExplainer.jsma(model: network, params: params)
        let session = ModelSession(model: network, eps: 1e-5)
        var sawBound = false
        for e in try jsma.explain(images.x, rows: images.rows, threads: 2) {
            var x = Array(images.row(e.instance))
            var atBound = Set<Int>()
            for changed in e.trace!.changed.dropLast() {
                let p = try session.predict(x)
                var cotangent = [0.0, 0.0, 0.0]
                cotangent[e.targetClass] = -1 / p[e.targetClass]
                var g = [Double](repeating: 0, count: 36)
                try session.pullback(at: x, cotangent: cotangent, into: &g)
                for j in changed {
                    XCTAssertFalse(atBound.contains(j), "feature \(j) changed after reaching a bound")
                    let unmasked = (0..<36).filter { !atBound.contains($0) }
                    XCTAssertEqual(abs(g[j]), unmasked.map { abs(g[$0]) }.max()!, accuracy: 1e-9, "j \(j) best \(unmasked.max { abs(g[$0]) < abs(g[$1]) }!) x \(x[j]) ")
                    x[j] = min(max(x[j] - (g[j] > 0 ? 1 : -1) * params.step, 0), 1)
                    if x[j] == 0 || x[j] == 1 { atBound.insert(j); sawBound = true }
                }
            }
            if let cf = e.cf { XCTAssertEqual(cf.x, x) }
        }
        XCTAssertTrue(sawBound)
    }

    func testValidation() throws {
        var params = DeDUCEParams()
        params.targetClass = .index(3)
        XCTAssertThrowsError(try SaliencyExplainer.deduce(network: network, params: params, density: density)) {
            XCTAssertTrue("\($0)".contains("target_class"))
        }
        params.targetClass = .list([0, 0])
        XCTAssertThrowsError(try SaliencyExplainer.deduce(network: network, params: params, density: density))
        params = DeDUCEParams()
        params.featuresPerStep = 0
        XCTAssertThrowsError(try SaliencyExplainer.deduce(network: network, params: params, density: density))
        params = DeDUCEParams()
        params.loss = "other"
        XCTAssertThrowsError(try SaliencyExplainer.deduce(network: network, params: params, density: density))
    }
}

