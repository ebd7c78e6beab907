import Foundation
import XCTest
@testable import CFXCore

/// Optimisers against hand computations, the cross-entropy gradient against finite differences,
/// and training runs: accuracy on digits, early stopping, cancellation, determinism.
final class TrainingTests: XCTestCase {
    /// Each plain key of the training config is checked, and its error names it.
    func testEachTrainingKeyIsCheckedAndNamed() throws {
        let spoilt: [(String, (inout TrainingConfig) -> Void)] = [
            ("learning_rate", { $0.learningRate = 0 }), ("momentum", { $0.momentum = 1 }), ("beta1", { $0.beta1 = -0.1 }),
            ("beta2", { $0.beta2 = .nan }), ("epsilon", { $0.epsilon = 0 }), ("weight_decay", { $0.weightDecay = -1 }),
            ("batch_size", { $0.batchSize = 0 }), ("epochs", { $0.epochs = 1_000_001 }), ("validation_split", { $0.validationSplit = 1 }),
            ("early_stopping_patience", { $0.earlyStoppingPatience = -1 }), ("n_threads", { $0.threads = -1 }),
            ("nesterov", { $0.nesterov = true; $0.momentum = 0 }), ("early_stopping_patience", { $0.earlyStoppingPatience = 2 }),
        ]
        for (key, spoil) in spoilt {
            var config = TrainingConfig()
            spoil(&config)
            XCTAssertThrowsError(try config.validate(), key) { error in
                XCTAssertTrue("\(error)".hasPrefix("\(key): "), "\(error)")
            }
        }
        XCTAssertNoThrow(try TrainingConfig().validate())
    }

    // MARK: Optimisers and schedules

    func testSGDStepsMatchAHandComputation() {
        var p: [Double] = [1, -2], g: [Double] = [0.5, 0.25]
        // momentum 0.9, weight decay 0.1, lr 0.1
        var sgd = SGD(count: 2, momentum: 0.9, weightDecay: 0.1)
        sgd.step(&p, gradients: g, ranges: [0..<2], learningRate: 0.1)
        // step 1: d = g + 0.1·p = [0.6, 0.05]; b = d; p -= 0.1·b
        XCTAssertEqual(p[0], 1 - 0.06, accuracy: 1e-15)
        XCTAssertEqual(p[1], -2 - 0.005, accuracy: 1e-15)
        g = [0.1, -0.3]
        sgd.step(&p, gradients: g, ranges: [0..<2], learningRate: 0.1)
        // step 2: d = g + 0.1·p; b = 0.9·b + d
        let d0 = 0.1 + 0.1 * 0.94, b0 = 0.9 * 0.6 + d0
        let d1 = -0.3 + 0.1 * -2.005, b1 = 0.9 * 0.05 + d1
        XCTAssertEqual(p[0], 0.94 - 0.1 * b0, accuracy: 1e-15)
        XCTAssertEqual(p[1], -2.005 - 0.1 * b1, accuracy: 1e-15)

        // Nesterov: the step is d + μ·b.
        var q: [Double] = [1], nesterov = SGD(count: 1, momentum: 0.5, nesterov: true)
        nesterov.step(&q, gradients: [2], ranges: [0..<1], learningRate: 0.1)
        XCTAssertEqual(q[0], 1 - 0.1 * (2 + 0.5 * 2), accuracy: 1e-15)
        nesterov.step(&q, gradients: [1], ranges: [0..<1], learningRate: 0.1)
        XCTAssertEqual(q[0], 0.7 - 0.1 * (1 + 0.5 * (0.5 * 2 + 1)), accuracy: 1e-15)

        // Plain SGD, and only the given ranges move.
        var r: [Double] = [1, 1, 1], plain = SGD(count: 3)
        plain.step(&r, gradients: [1, 1, 1], ranges: [0..<1, 2..<3], learningRate: 0.5)
        XCTAssertEqual(r, [0.5, 1, 0.5])
    }

    func testAdamStepsMatchAHandComputation() {
        var p: [Double] = [1], adam = AdamOptimiser(count: 1, weightDecay: 0.1)
        adam.step(&p, gradients: [0.5], ranges: [0..<1], learningRate: 0.01)
        // t = 1: g = 0.5 + 0.1 = 0.6; m̂ = g, v̂ = g²: step = lr·g/(|g| + ε)
        XCTAssertEqual(p[0], 1 - 0.01 * 0.6 / (0.6 + 1e-8), accuracy: 1e-15)
        let p1 = p[0]
        adam.step(&p, gradients: [-0.2], ranges: [0..<1], learningRate: 0.01)
        let g2 = -0.2 + 0.1 * p1
        let m = 0.9 * 0.1 * 0.6 + 0.1 * g2, v = 0.999 * 0.001 * 0.36 + 0.001 * g2 * g2
        let mHat = m / (1 - 0.81), vHat = v / (1 - 0.999 * 0.999)
        XCTAssertEqual(p[0], p1 - 0.01 * mHat / (vHat.squareRoot() + 1e-8), accuracy: 1e-15)

        // AdamW: decay applied to the weights, not the gradient.
        var w: [Double] = [2], adamW = AdamOptimiser(count: 1, weightDecay: 0.1, decoupled: true)
        adamW.step(&w, gradients: [0.5], ranges: [0..<1], learningRate: 0.01)
        XCTAssertEqual(w[0], 2 * (1 - 0.001) - 0.01 * 0.5 / (0.5 + 1e-8), accuracy: 1e-15)
    }

    func testSchedules() {
        XCTAssertEqual(LearningRateSchedule.constant.rate(base: 0.1, epoch: 7, epochs: 10), 0.1)
        let step = LearningRateSchedule.step(stepSize: 3, gamma: 0.5)
        XCTAssertEqual([0, 2, 3, 5, 6].map { step.rate(base: 0.1, epoch: $0, epochs: 10) }, [0.1, 0.1, 0.05, 0.05, 0.025])
        let cosine = LearningRateSchedule.cosine(minimum: 0.01)
        XCTAssertEqual(cosine.rate(base: 0.1, epoch: 0, epochs: 4), 0.1, accuracy: 1e-15)
        XCTAssertEqual(cosine.rate(base: 0.1, epoch: 2, epochs: 4), 0.055, accuracy: 1e-15)
    }

    // MARK: Losses

    /// Mean loss of `rows` rows and its gradient with respect to every tensor, through a shard worker.
    private func lossAndGradient(_ network: Network, loss: Loss, x: [Double], classes: [Int]?, values: [Double]?, width: Int) throws
        -> (Double, [Double]) {
        let plan = try LossPlan(network: network, loss: loss)
        let rows = x.count / network.featureCount
        let worker = ShardWorker(network: network, plan: plan, features: network.featureCount, width: width, capacity: rows)
        let data = TrainingData(x: x, classes: classes, values: values, width: width, features: network.featureCount)
        let (sum, _) = worker.trainingStep(Array(0..<rows)[...], data: data, scale: Double(rows))
        return (sum / Double(rows), worker.gradients)
    }

    private func assertLossGradientMatchesFiniteDifferences(_ network: Network, loss: Loss, x: [Double], classes: [Int]?,
                                                            values: [Double]?, width: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let (_, gradient) = try lossAndGradient(network, loss: loss, x: x, classes: classes, values: values, width: width)
        let h = 1e-6
        for (name, spec, range) in network.parameterList where spec.role == .trainable {
            for p in range {
                let saved = network.parameters[p]
                network.parameters[p] = saved + h
                let up = try lossAndGradient(network, loss: loss, x: x, classes: classes, values: values, width: width).0
                network.parameters[p] = saved - h
                let down = try lossAndGradient(network, loss: loss, x: x, classes: classes, values: values, width: width).0
                network.parameters[p] = saved
                let numeric = (up - down) / (2 * h)
                XCTAssertEqual(gradient[p], numeric, accuracy: 1e-7 + 1e-5 * abs(numeric), "\(name)[\(p - range.lowerBound)]", file: file, line: line)
            }
        }
    }

    func testCrossEntropyGradientMatchesFiniteDifferences() throws {
        var rng = SplitMix64(state: 31)
        let x = randomValues(4 * 3, &rng, scale: 1.5), classes = [0, 2, 1, 2]
        // From the logits (softmax last), and from probabilities (no softmax: a sigmoid output).
        let softmax = try randomNetwork(inputShape: [3], [.layer(Dense(outputs: 4)), .layer(Elementwise(.tanh)),
                                                         .layer(Dense(outputs: 3)), .layer(Softmax())], seed: 31)
        XCTAssertTrue(try LossPlan(network: softmax, loss: .crossEntropy).fromLogits)
        try assertLossGradientMatchesFiniteDifferences(softmax, loss: .crossEntropy, x: x, classes: classes, values: nil, width: 3)
        let sigmoid = try randomNetwork(inputShape: [3], [.layer(Dense(outputs: 3)), .layer(Elementwise(.sigmoid))], seed: 32)
        XCTAssertFalse(try LossPlan(network: sigmoid, loss: .crossEntropy).fromLogits)
        try assertLossGradientMatchesFiniteDifferences(sigmoid, loss: .crossEntropy, x: x, classes: classes, values: nil, width: 3)
        // With batch norm in training mode, through the batch statistics.
        let normalised = try randomNetwork(inputShape: [3], [.layer(Dense(outputs: 4)), .layer(BatchNorm()), .layer(Elementwise(.relu)),
                                                            .layer(Dense(outputs: 3)), .layer(Softmax())], seed: 33)
        try assertLossGradientMatchesFiniteDifferences(normalised, loss: .crossEntropy, x: x, classes: classes, values: nil, width: 3)
        // The loss value: −log p_y, exact for confident wrong answers (no log(0)).
        let confident = try Network(inputShape: [1], nodes: [.layer(Dense(outputs: 2)), .layer(Softmax())])
        try confident.setParameter("layers.0.weight", [1000, -1000])
        try confident.setParameter("layers.0.bias", [0, 0])
        let (loss, _) = try lossAndGradient(confident, loss: .crossEntropy, x: [1], classes: [1], values: nil, width: 2)
        XCTAssertEqual(loss, 2000, accuracy: 1e-9)
    }

    func testMeanSquaredErrorGradientMatchesFiniteDifferences() throws {
        var rng = SplitMix64(state: 41)
        let x = randomValues(3 * 4, &rng)
        let autoencoder = try randomNetwork(inputShape: [4], [.layer(Dense(outputs: 2), name: "code"), .layer(Elementwise(.tanh)),
                                                             .layer(Dense(outputs: 4))], seed: 41, scale: 0.7)
        try assertLossGradientMatchesFiniteDifferences(autoencoder, loss: .meanSquaredError(output: "probabilities"), x: x,
                                                       classes: nil, values: x, width: 4)
        let targets = randomValues(3 * 2, &rng)
        try assertLossGradientMatchesFiniteDifferences(autoencoder, loss: .meanSquaredError(output: "code"), x: x,
                                                       classes: nil, values: targets, width: 2)
    }

    // MARK: Training runs

    struct Digits {
        let xTrain: [Double], yTrain: [Int], xTest: [Double], yTest: [Int]

        init() throws {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../fixtures/digits.json")
            let object = try JSONSerialization.jsonObject(with: try Data(contentsOf: url)) as! [String: Any]
            let mean = (object["mean"] as! [NSNumber]).map(\.doubleValue), scale = (object["scale"] as! [NSNumber]).map(\.doubleValue)
            func standardised(_ key: String) -> [Double] {
                (object[key] as! [[NSNumber]]).flatMap { row in row.enumerated().map { ($1.doubleValue - mean[$0]) / scale[$0] } }
            }
            xTrain = standardised("x_train")
            xTest = standardised("x_test")
            yTrain = (object["y_train"] as! [NSNumber]).map(\.intValue)
            yTest = (object["y_test"] as! [NSNumber]).map(\.intValue)
        }
    }

    func accuracy(_ network: Network, _ x: [Double], _ y: [Int]) throws -> Double {
        let proba = try ModelSession(model: network).predict(x, rows: y.count)
        let k = network.classCount
        let correct = y.indices.filter { r in (0..<k).max { proba[r * k + $0] < proba[r * k + $1] } == y[r] }.count
        return Double(correct) / Double(y.count)
    }

    func testMLPReachesNinetyFivePercentOnDigits() throws {
        let digits = try Digits()
        let network = try Network(inputShape: [64], nodes: [.layer(Dense(outputs: 64)), .layer(Elementwise(.relu)),
                                                            .layer(Dense(outputs: 10)), .layer(Softmax())], seed: 1)
        var config = TrainingConfig()
        config.learningRate = 0.003
        config.epochs = 15
        config.threads = 2
        config.seed = 3
        let started = Date()
        let report = try Trainer(network: network, config: config)
            .train(x: digits.xTrain, rows: digits.yTrain.count, targets: .classes(digits.yTrain))
        let seconds = Date().timeIntervalSince(started)
        let testAccuracy = try accuracy(network, digits.xTest, digits.yTest)
        print("digits MLP: test accuracy \(testAccuracy), train loss \(report.history.last!.loss), \(seconds) s")
        XCTAssertEqual(report.history.count, 15)
        XCTAssertLessThan(report.history.last!.loss, report.history.first!.loss)
        XCTAssertGreaterThanOrEqual(testAccuracy, 0.95)
    }

    func testBatchNormMLPWithSGDTrainsOnDigits() throws {
        let digits = try Digits()
        let network = try Network(inputShape: [64], nodes: [.layer(Dense(outputs: 32)), .layer(BatchNorm()), .layer(Elementwise(.relu)),
                                                            .layer(Dense(outputs: 10)), .layer(Softmax())])
        var config = TrainingConfig()
        config.optimiser = .sgd
        config.learningRate = 0.05
        config.nesterov = true
        config.weightDecay = 1e-4
        config.schedule = .cosine(minimum: 0)
        config.epochs = 10
        config.batchSize = 128  // two shards of 64 rows
        config.threads = 2
        let report = try Trainer(network: network, config: config)
            .train(x: digits.xTrain, rows: digits.yTrain.count, targets: .classes(digits.yTrain))
        XCTAssertEqual(report.threads, 2)
        let testAccuracy = try accuracy(network, digits.xTest, digits.yTest)
        print("digits batch-norm MLP (SGD): test accuracy \(testAccuracy)")
        XCTAssertGreaterThanOrEqual(testAccuracy, 0.93)
        XCTAssertNotEqual(Array(network.parameter("layers.1.running_mean")!), [Double](repeating: 0, count: 32))
    }

    func testFloat32CNNWithBatchNormTrainsOnDigits() throws {
        // float32 passes (oneDNN convolutions forward, im2col + sgemm weight gradients), float64
        // master weights, batch norm's running statistics from float32 shards.
        let digits = try Digits()
        let network = try Network(inputShape: [1, 8, 8], nodes: [
            .layer(Conv2D(outChannels: 8, kernelSize: 3, padding: 1)), .layer(BatchNorm()), .layer(Elementwise(.relu)),
            .layer(Pool2D(.max, kernelSize: 2)), .layer(Flatten()), .layer(Dense(outputs: 10)), .layer(Softmax()),
        ], dtype: .float32, seed: 2)
        var config = TrainingConfig()
        config.learningRate = 0.01
        config.epochs = 8
        config.threads = 2
        config.seed = 4
        let report = try Trainer(network: network, config: config)
            .train(x: digits.xTrain, rows: digits.yTrain.count, targets: .classes(digits.yTrain))
        let testAccuracy = try accuracy(network, digits.xTest, digits.yTest)
        print("digits float32 CNN: test accuracy \(testAccuracy)")
        XCTAssertLessThan(report.history.last!.loss, report.history.first!.loss)
        XCTAssertGreaterThanOrEqual(testAccuracy, 0.93)
        // The same weights in float64 classify the test set the same way, to a few rows.
        let agreement = try accuracy(network, digits.xTest, digits.yTest) - accuracy(network.converted(to: .float64), digits.xTest, digits.yTest)
        XCTAssertLessThanOrEqual(abs(agreement), 0.005)
    }

    /// 60 rows with random labels: the validation loss soon rises, so early stopping fires.
    private func noise() -> (x: [Double], y: [Int]) {
        var rng = SplitMix64(state: 51)
        return (randomValues(60 * 5, &rng), (0..<60).map { _ in Int.random(in: 0..<3, using: &rng) })
    }

    private func noiseNetwork() throws -> Network {
        try Network(inputShape: [5], nodes: [.layer(Dense(outputs: 32)), .layer(Elementwise(.tanh)),
                                             .layer(Dense(outputs: 3)), .layer(Softmax())])
    }

    func testEarlyStoppingRestoresTheBestEpoch() throws {
        let (x, y) = noise()
        let network = try noiseNetwork()
        var config = TrainingConfig()
        config.learningRate = 0.02
        config.epochs = 200
        config.batchSize = 8
        config.validationSplit = 0.3
        config.earlyStoppingPatience = 4
        var snapshots: [[Double]] = []
        let report = try Trainer(network: network, config: config).train(x: x, rows: 60, targets: .classes(y)) { _ in
            snapshots.append(Array(network.parameters))
            return true
        }
        XCTAssertEqual(report.validationRows, 18)
        XCTAssertTrue(report.stoppedEarly)
        XCTAssertTrue(report.restoredBestWeights)
        let best = try XCTUnwrap(report.bestEpoch)
        XCTAssertEqual(report.history.count, best + 4)
        let losses = report.history.map { $0.validationLoss! }
        XCTAssertEqual(losses.min(), losses[best - 1])
        XCTAssertEqual(Array(network.parameters), snapshots[best - 1])
    }

    func testCancellingFromTheProgressCallbackKeepsTheLastEpoch() throws {
        let (x, y) = noise()
        let network = try noiseNetwork()
        var config = TrainingConfig()
        config.epochs = 50
        var snapshots: [[Double]] = []
        let report = try Trainer(network: network, config: config).train(x: x, rows: 60, targets: .classes(y)) { epoch in
            snapshots.append(Array(network.parameters))
            return epoch.epoch < 3
        }
        XCTAssertTrue(report.cancelled)
        XCTAssertEqual(report.history.count, 3)
        XCTAssertEqual(Array(network.parameters), snapshots[2])
        XCTAssertGreaterThan(try accuracy(network, x, y), 0)  // still usable
    }

    func testRunsAreDeterministicForASeedAndThreadCount() throws {
        let digits = try Digits()
        let rows = 512
        let x = Array(digits.xTrain[0..<rows * 64]), y = Array(digits.yTrain[0..<rows])
        func run(threads: Int, seed: UInt64) throws -> [Double] {
            let network = try Network(inputShape: [64], nodes: [.layer(Dense(outputs: 16)), .layer(BatchNorm()), .layer(Elementwise(.relu)),
                                                                .layer(Dense(outputs: 10)), .layer(Softmax())])
            var config = TrainingConfig()
            config.epochs = 2
            config.batchSize = 128
            config.threads = threads
            config.seed = seed
            config.validationSplit = 0.1
            _ = try Trainer(network: network, config: config).train(x: x, rows: rows, targets: .classes(y))
            return Array(network.parameters)
        }
        XCTAssertEqual(try run(threads: 2, seed: 4), try run(threads: 2, seed: 4))
        XCTAssertEqual(try run(threads: 1, seed: 4), try run(threads: 1, seed: 4))
        XCTAssertNotEqual(try run(threads: 2, seed: 4), try run(threads: 2, seed: 5))
    }

    func testAutoencoderLossFalls() throws {
        let digits = try Digits()
        let rows = 400
        let network = try Network(inputShape: [64], nodes: [.layer(Dense(outputs: 12)), .layer(Elementwise(.tanh), name: "code"),
                                                            .layer(Dense(outputs: 64))])
        var config = TrainingConfig()
        config.loss = .meanSquaredError(output: "probabilities")
        config.learningRate = 0.01
        config.epochs = 10
        let report = try Trainer(network: network, config: config).train(x: Array(digits.xTrain[0..<rows * 64]), rows: rows, targets: .input)
        XCTAssertNil(report.history[0].accuracy)
        XCTAssertLessThan(report.history.last!.loss, 0.6 * report.history[0].loss)
    }

    func testBadInputsAreRejectedAndADivergingRunRestoresTheWeights() throws {
        let (x, y) = noise()
        let network = try noiseNetwork()
        let before = Array(network.parameters)
        func fails(_ targets: TrainingTargets, _ configure: (inout TrainingConfig) -> Void = { _ in }, _ kind: CFXError.Kind, _ text: String,
                   line: UInt = #line) {
            var config = TrainingConfig()
            configure(&config)
            XCTAssertThrowsError(try Trainer(network: network, config: config).train(x: x, rows: 60, targets: targets), line: line) {
                let error = $0 as! CFXError
                XCTAssertEqual(error.kind, kind, "\(error)", line: line)
                XCTAssertTrue(error.message.contains(text), error.message, line: line)
            }
            XCTAssertEqual(Array(network.parameters), before, line: line)
        }
        fails(.classes(y.map { $0 == 2 ? 3 : $0 }), { _ in }, .invalidArgument, "class 3 is out of range")
        fails(.classes(Array(y[0..<10])), { _ in }, .shape, "10 class indices for 60 rows")
        fails(.classes(y), { $0.batchSize = 0 }, .config, "batch_size")
        fails(.classes(y), { $0.earlyStoppingPatience = 2 }, .config, "validation_split > 0")
        fails(.values(x, width: 5), { $0.loss = .meanSquaredError(output: "probabilities") }, .shape, "5 values per row")
        // Divergence (mean squared error has unbounded gradients) fails and leaves the weights as they were.
        let linear = try Network(inputShape: [5], nodes: [.layer(Dense(outputs: 5))])
        let initial = Array(linear.parameters)
        var config = TrainingConfig()
        config.loss = .meanSquaredError(output: "probabilities")
        config.optimiser = .sgd
        config.learningRate = 1e100
        XCTAssertThrowsError(try Trainer(network: linear, config: config).train(x: x, rows: 60, targets: .input)) {
            XCTAssertTrue(($0 as! CFXError).message.contains("training diverged"), "\($0)")
        }
        XCTAssertEqual(Array(linear.parameters), initial)
    }
}
