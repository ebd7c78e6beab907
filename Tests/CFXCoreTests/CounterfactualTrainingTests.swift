import XCTest
@testable import CFXCore

/// Two interleaved half circles ("moons") with noise, labels 0/1, deterministic.
func moons(_ n: Int, seed: UInt64, noise: Double = 0.1) -> (x: [Double], y: [Int]) {
    var random = SeededRandom(seed: seed)
    var x: [Double] = [], y: [Int] = []
    for i in 0..<n {
        let label = i % 2, angle = Double.pi * random.unit()
        let (a, b) = label == 0 ? (cos(angle), sin(angle)) : (1 - cos(angle), 0.5 - sin(angle))
        x += [a + noise * random.uniform(-1, 1), b + noise * random.uniform(-1, 1)]
        y.append(label)
    }
    return (x, y)
}

final class CounterfactualTrainingTests: XCTestCase {
    private func mlp() throws -> Network {
        try Network(inputShape: [2], nodes: [.layer(Dense(outputs: 32)), .layer(Elementwise(.relu)),
                                              .layer(Dense(outputs: 2)), .layer(Softmax())], seed: 3)
    }

    private func config(_ counterfactual: CounterfactualTrainingConfig?) -> TrainingConfig {
        var config = TrainingConfig()
        config.epochs = 8
        config.batchSize = 30
        config.seed = 5
        config.counterfactual = counterfactual
        return config
    }

    private func accuracy(_ network: Network, _ data: (x: [Double], y: [Int])) throws -> Double {
        let proba = try ModelSession(model: network).predict(data.x, rows: data.y.count)
        return Double(data.y.indices.filter { argmax([proba[2 * $0], proba[2 * $0 + 1]]) == data.y[$0] }.count) / Double(data.y.count)
    }

    func testEpochsReportTheTermsAndAccuracyStaysNearTheBaseline() throws {
        let train = moons(600, seed: 1), test = moons(400, seed: 2)
        let baseline = try mlp(), trained = try mlp()
        _ = try Trainer(network: baseline, config: config(nil)).train(x: train.x, rows: 600, targets: .classes(train.y))
        var ct = CounterfactualTrainingConfig()
        ct.counterfactuals = 200
        ct.burnIn = 0.25
        let report = try Trainer(network: trained, config: config(ct)).train(x: train.x, rows: 600, targets: .classes(train.y))
        XCTAssertNil(report.history[0].counterfactual, "epochs 1-2 are the burn-in")
        XCTAssertNil(report.history[1].counterfactual)
        for entry in report.history[2...] {
            let epoch = try XCTUnwrap(entry.counterfactual)
            XCTAssertEqual(epoch.counterfactuals, 200)
            XCTAssertTrue((0...1).contains(epoch.matureShare))
            XCTAssertTrue(epoch.terms.divergence.isFinite && epoch.terms.ridge > 0 && epoch.terms.adversarial > 0)
            XCTAssertGreaterThan(epoch.searchSeconds, 0)
            XCTAssertEqual(epoch.skippedSteps, 0)
        }
        XCTAssertGreaterThan(report.history.last!.counterfactual!.matureShare, 0.5)
        let (a, b) = (try accuracy(baseline, test), try accuracy(trained, test))
        XCTAssertGreaterThan(a, 0.8)
        XCTAssertLessThan(abs(a - b), 0.05, "baseline \(a), counterfactual training \(b)")
    }

    /// A stop asked for while an epoch's searches run ends them within a step: the run returns
    /// cancelled, at once, with the weights it started from. The searches here would run for a
    /// long time (τ 1 is never reached, T 50,000 steps: half a minute in a debug build); without
    /// the per-step check they run to the end.
    func testCancelDuringTheSearchesReturnsPromptly() throws {
        let train = moons(64, seed: 1)
        let network = try mlp()
        let initial = Array(network.parameters)
        var ct = CounterfactualTrainingConfig()
        ct.counterfactuals = 64
        ct.generator.targetProba = 1
        ct.generator.maxSteps = 50_000
        ct.threads = 1
        var seen: [BatchReport] = [], cancelledAt = 0.0
        let report = try Trainer(network: network, config: config(ct)).train(
            x: train.x, rows: 64, targets: .classes(train.y), progress: { _ in true },
            batchProgress: { state in
                seen.append(state)
                cancelledAt = monotonicSeconds()
                return false
            })
        let latency = monotonicSeconds() - cancelledAt
        XCTAssertTrue(report.cancelled)
        XCTAssertTrue(report.history.isEmpty)
        XCTAssertEqual(Array(network.parameters), initial)
        XCTAssertEqual(seen.count, 1)
        XCTAssertEqual(seen[0].epoch, 1)
        XCTAssertEqual(seen[0].batchesDone, 0)
        XCTAssertEqual(seen[0].searches?.total, 64)
        XCTAssertLessThan(latency, 2, "the searches went on for \(latency) s after the stop")
    }

    func testSearchesRespectTheConstraintsAndProtectThePositives() throws {
        let train = moons(300, seed: 4)
        let network = try mlp()
        _ = try Trainer(network: network, config: config(nil)).train(x: train.x, rows: 300, targets: .classes(train.y))
        var ct = CounterfactualTrainingConfig()
        ct.counterfactuals = 100
        ct.generator.constraints.immutable = [1]
        ct.generator.constraints.monotone = [MonotoneFeature(feature: 0, direction: .increase)]
        let data = TrainingData(x: train.x, classes: train.y, values: nil, width: 2, features: 2)
        let training = try CounterfactualTraining(network: network, config: ct, data: data, classes: train.y,
                                                  trainIndices: Array(0..<300), seed: 9)
        let epoch = try training.searchEpoch(0, batches: 10)
        XCTAssertEqual(epoch.targets.count, 100)
        let (lower, upper) = defaultDomain(train.x, rows: Array(0..<300), features: 2)
        for r in 0..<100 {
            let cf = Array(epoch.counterfactual[2 * r..<2 * r + 2]), positive = Array(epoch.positive[2 * r..<2 * r + 2])
            // Immutable: x⁺ copies x′; increase-only: x⁺ ≥ x′.
            XCTAssertEqual(positive[1], cf[1])
            XCTAssertGreaterThanOrEqual(positive[0], cf[0])
            for j in 0..<2 { XCTAssertTrue((lower[j]...upper[j]).contains(cf[j])) }
        }
        XCTAssertEqual(epoch.tuples(ofBatch: 0), 0..<10)
        XCTAssertEqual(epoch.tuples(ofBatch: 9), 90..<100)
    }

    /// The default domain is the reference's: μ ± 2σ with the sample standard deviation (n − 1),
    /// widened to the rows' extremes. Rows 0, 1, 2, 10 of one feature (99 is not one of the rows):
    /// μ = 3.25, σ = √(62.75 / 3); with two features, the second's bounds are its extremes.
    func testDefaultDomainUsesTheSampleStandardDeviation() {
        let (lower, upper) = defaultDomain([0, 5, 1, 5, 2, 5, 10, 5, 99, 99], rows: [0, 1, 2, 3], features: 2)
        let sigma = (62.75 / 3).squareRoot()
        XCTAssertEqual(lower[0], 3.25 - 2 * sigma, accuracy: 1e-12)
        XCTAssertEqual(upper[0], 3.25 + 2 * sigma, accuracy: 1e-12)
        XCTAssertEqual(lower[1], 5)
        XCTAssertEqual(upper[1], 5)
        let one = defaultDomain([4, 7], rows: [1], features: 1)
        XCTAssertEqual(one.lower, [7])
        XCTAssertEqual(one.upper, [7])
    }

    /// The parameter gradient of step 7's extra terms matches central differences of their value.
    func testExtraTermsGradientMatchesFiniteDifferences() throws {
        let train = moons(120, seed: 6)
        let network = try mlp()
        var ct = CounterfactualTrainingConfig()
        ct.counterfactuals = 40
        let data = TrainingData(x: train.x, classes: train.y, values: nil, width: 2, features: 2)
        let training = try CounterfactualTraining(network: network, config: ct, data: data, classes: train.y,
                                                  trainIndices: Array(0..<120), seed: 2)
        let epoch = try training.searchEpoch(0, batches: 4)
        var gradient = [Double](repeating: 0, count: network.parameters.count)
        var copy = epoch
        _ = gradient.withUnsafeMutableBufferPointer { training.addGradient(&copy, batch: 1, into: $0.baseAddress!) }
        var scratch = gradient
        func value() -> Double {
            var e = epoch
            return scratch.withUnsafeMutableBufferPointer { training.addGradient(&e, batch: 1, into: $0.baseAddress!) }
        }
        for i in stride(from: 0, to: network.parameters.count, by: 7) {
            let saved = network.parameters[i]
            network.parameters[i] = saved + 1e-5
            network.parametersChanged()
            let plus = value()
            network.parameters[i] = saved - 1e-5
            network.parametersChanged()
            let minus = value()
            network.parameters[i] = saved
            network.parametersChanged()
            XCTAssertEqual(gradient[i], (plus - minus) / 2e-5, accuracy: 1e-5 + 1e-4 * abs(gradient[i]), "parameter \(i)")
        }
    }

    /// Each key of the table is checked, and its error names it (as the config spells it).
    func testEachKeyIsCheckedAndNamed() throws {
        let spoilt: [(String, (inout CounterfactualTrainingConfig) -> Void)] = [
            ("n_ce", { $0.counterfactuals = 0 }), ("tau", { $0.generator.targetProba = 1.5 }),
            ("max_steps", { $0.generator.maxSteps = 0 }), ("learning_rate", { $0.generator.learningRate = 0 }),
            ("lambda_cost", { $0.generator.lambdaCost = -1 }), ("lambda_energy", { $0.generator.lambdaEnergy = .nan }),
            ("lambda_div", { $0.lambdas.divergence = -1 }), ("lambda_reg", { $0.lambdas.ridge = -1 }),
            ("lambda_adv", { $0.lambdas.adversarial = -1 }), ("epsilon", { $0.nascentRadius = -0.5 }),
            ("burn_in", { $0.burnIn = 1 }), ("immutable", { $0.generator.constraints.immutable = [-1] }),
            ("n_threads", { $0.threads = -1 }),
        ]
        for (key, spoil) in spoilt {
            var ct = CounterfactualTrainingConfig()
            spoil(&ct)
            XCTAssertThrowsError(try config(ct).validate(), key) { error in
                XCTAssertTrue("\(error)".hasPrefix("counterfactual_training: \(key): "), "\(error)")
            }
        }
        XCTAssertNoThrow(try config(CounterfactualTrainingConfig()).validate())
        XCTAssertEqual(CounterfactualTrainingConfig.parameters.map(\.key), ["n_ce", "tau", "max_steps", "learning_rate", "lambda_cost",
            "lambda_energy", "energy_decay", "lambda_div", "lambda_reg", "lambda_adv", "epsilon", "burn_in", "domain", "immutable",
            "monotone", "n_threads"])
    }

    func testBadConfigsAreErrors() throws {
        var ct = CounterfactualTrainingConfig()
        ct.burnIn = 1
        XCTAssertThrowsError(try config(ct).validate())
        ct = CounterfactualTrainingConfig()
        var c = config(ct)
        c.loss = .meanSquaredError(output: "probabilities")
        XCTAssertThrowsError(try c.validate())
    }
}
