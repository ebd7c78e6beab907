import XCTest
@testable import CFXCore

/// Batch norm: gradients in both modes against finite differences, running statistics against a
/// direct computation, and the initial values of a network built without tensors.
final class BatchNormTests: XCTestCase {
    /// A network with batch norm on features or on image channels; running variances made positive.
    private func network(_ inputShape: [Int], seed: UInt64) throws -> Network {
        let nodes: [NetworkNode] = inputShape.count == 1
            ? [.layer(Dense(outputs: 5)), .layer(BatchNorm()), .layer(Elementwise(.tanh)), .layer(Dense(outputs: 3)), .layer(Softmax())]
            : [.layer(BatchNorm(eps: 1e-3)), .layer(Elementwise(.tanh))]
        let network = try randomNetwork(inputShape: inputShape, nodes, seed: seed, scale: 0.8)
        for (name, _, range) in network.parameterList where name.hasSuffix("running_var") {
            for i in range { network.parameters[i] = 0.5 + abs(network.parameters[i]) }
        }
        return network
    }

    func testInferenceGradientsMatchFiniteDifferences() throws {
        try assertGradientsMatchFiniteDifferences(try network([4], seed: 21), rows: 3)
        try assertGradientsMatchFiniteDifferences(try network([2, 3, 2], seed: 22), rows: 2)
    }

    func testTrainingGradientsThroughBatchStatisticsMatchFiniteDifferences() throws {
        try assertGradientsMatchFiniteDifferences(try network([4], seed: 23), rows: 5, training: true)
        try assertGradientsMatchFiniteDifferences(try network([2, 3, 2], seed: 24), rows: 3, training: true)
    }

    func testTrainingModeNormalisesWithBatchStatisticsAndLeavesTensorsAlone() throws {
        let network = try Network(inputShape: [2, 1, 2], nodes: [.layer(BatchNorm())])
        let x: [Double] = [1, 3, 10, 20, /* row 2 */ 5, 7, 30, 40]
        let before = Array(network.parameters)
        let evaluator = NetworkEvaluator(network)
        x.withUnsafeBufferPointer { evaluator.forward($0, rows: 2, training: true) }
        XCTAssertEqual(Array(network.parameters), before, "a training forward pass writes no tensor")
        // channel 0: 1, 3, 5, 7 → mean 4, biased variance 5
        let y = Array(evaluator.value(1))
        XCTAssertEqual(y[0], (1 - 4) / (5 + 1e-5).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(y[5], (7 - 4) / (5 + 1e-5).squareRoot(), accuracy: 1e-12)
        // channel 1: 10, 20, 30, 40 → mean 25, biased variance 125
        XCTAssertEqual(y[2], (10 - 25) / (125 + 1e-5).squareRoot(), accuracy: 1e-12)
        // Inference mode uses the running statistics (mean 0, variance 1 initially).
        x.withUnsafeBufferPointer { evaluator.forward($0, rows: 2, training: false) }
        XCTAssertEqual(evaluator.value(1)[3], 20 / (1 + 1e-5).squareRoot(), accuracy: 1e-12)
    }

    func testRunningStatisticsFollowPyTorchsUpdate() throws {
        var rng = SplitMix64(state: 5)
        let network = try Network(inputShape: [3], nodes: [.layer(BatchNorm(momentum: 0.2))])
        try network.setParameter("layers.0.running_mean", [0.5, -1, 2])
        try network.setParameter("layers.0.running_var", [1, 2, 3])
        let rows = 7
        let x = randomValues(rows * 3, &rng, scale: 2)
        // Direct: mean and unbiased variance per feature.
        var expectedMean = [0.5, -1, 2], expectedVariance = [1.0, 2, 3]
        for j in 0..<3 {
            let column = (0..<rows).map { x[$0 * 3 + j] }
            let mean = column.reduce(0, +) / Double(rows)
            let unbiased = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(rows - 1)
            expectedMean[j] = 0.8 * expectedMean[j] + 0.2 * mean
            expectedVariance[j] = 0.8 * expectedVariance[j] + 0.2 * unbiased
        }
        // One shard of 7 rows, and the same batch as shards of 3 and 4 rows: the same update.
        let whole = NetworkEvaluator(network)
        x.withUnsafeBufferPointer { whole.forward($0, rows: rows, training: true) }
        let saved = Array(network.parameters)
        network.commitTrainingStep([whole])
        for j in 0..<3 {
            XCTAssertEqual(network.parameter("layers.0.running_mean")![j], expectedMean[j], accuracy: 1e-12)
            XCTAssertEqual(network.parameter("layers.0.running_var")![j], expectedVariance[j], accuracy: 1e-12)
        }
        _ = network.parameters.update(fromContentsOf: saved)
        let (a, b) = (NetworkEvaluator(network), NetworkEvaluator(network))
        Array(x[0..<9]).withUnsafeBufferPointer { a.forward($0, rows: 3, training: true) }
        Array(x[9...]).withUnsafeBufferPointer { b.forward($0, rows: 4, training: true) }
        network.commitTrainingStep([a, b])
        for j in 0..<3 {
            XCTAssertEqual(network.parameter("layers.0.running_mean")![j], expectedMean[j], accuracy: 1e-12)
            XCTAssertEqual(network.parameter("layers.0.running_var")![j], expectedVariance[j], accuracy: 1e-12)
        }
        // An inference pass changes nothing.
        let inference = NetworkEvaluator(network)
        x.withUnsafeBufferPointer { inference.forward($0, rows: rows) }
        let after = Array(network.parameters)
        network.commitTrainingStep([inference])
        XCTAssertEqual(Array(network.parameters), after)
    }

    func testInitialValuesAreDeterministicAndPyTorchLike() throws {
        let nodes: [NetworkNode] = [.layer(Dense(outputs: 8)), .layer(BatchNorm()), .layer(Dense(outputs: 3))]
        let a = try Network(inputShape: [16], nodes: nodes), b = try Network(inputShape: [16], nodes: nodes)
        let c = try Network(inputShape: [16], nodes: nodes, seed: 1)
        XCTAssertEqual(Array(a.parameters), Array(b.parameters))
        XCTAssertNotEqual(Array(a.parameters), Array(c.parameters))
        let weight = a.parameter("layers.0.weight")!
        XCTAssertTrue(weight.allSatisfy { abs($0) <= 0.25 })  // 1/√16
        XCTAssertGreaterThan(weight.map { abs($0) }.max()!, 0.2)
        XCTAssertEqual(Array(a.parameter("layers.1.weight")!), [Double](repeating: 1, count: 8))
        XCTAssertEqual(Array(a.parameter("layers.1.bias")!), [Double](repeating: 0, count: 8))
        XCTAssertEqual(Array(a.parameter("layers.1.running_mean")!), [Double](repeating: 0, count: 8))
        XCTAssertEqual(Array(a.parameter("layers.1.running_var")!), [Double](repeating: 1, count: 8))
        XCTAssertEqual(a.parameterList.filter { $0.spec.role == .state }.map(\.name), ["layers.1.running_mean", "layers.1.running_var"])
    }
}
