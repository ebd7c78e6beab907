import XCTest
@testable import CFXCore

/// Exact gradients (backpropagation) against central finite differences, for inputs and parameters.
final class GradientTests: XCTestCase {
    func testEveryActivationMatchesFiniteDifferences() throws {
        let functions: [Elementwise.Function] = [.relu, .leakyRelu(slope: 0.01), .tanh, .sigmoid, .softplus]
        for function in functions {
            let network = try randomNetwork(inputShape: [5], [.layer(Dense(outputs: 7)), .layer(Elementwise(function)),
                                                              .layer(Dense(outputs: 4)), .layer(Softmax())], seed: 10)
            try assertGradientsMatchFiniteDifferences(network)
        }
    }

    func testLargeDenseLayersUseBLASAndStillMatch() throws {
        // 3 × 40 × 50 multiply-adds goes through OpenBLAS.
        let network = try randomNetwork(inputShape: [40], [.layer(Dense(outputs: 50)), .layer(Elementwise(.tanh)),
                                                           .layer(Dense(outputs: 3)), .layer(Softmax())], seed: 12, scale: 0.3)
        try assertGradientsMatchFiniteDifferences(network, rows: 3)
    }

    func testResidualBlocksAndNamedOutputs() throws {
        let network = try randomNetwork(inputShape: [6], [
            .layer(Dense(outputs: 8)),
            .residual(main: [.layer(Elementwise(.tanh)), .layer(Dense(outputs: 8))], shortcut: []),
            .residual(main: [.layer(Dense(outputs: 5))], shortcut: [.layer(Dense(outputs: 5))], name: "features"),
            .layer(Dense(outputs: 3)), .layer(Softmax()),
        ], seed: 13, scale: 0.5)
        XCTAssertEqual(try network.outputShape("features"), [5])
        XCTAssertEqual(try network.outputShape("logits"), [3])
        XCTAssertEqual(network.parameterList.map(\.name), [
            "layers.0.weight", "layers.0.bias", "layers.1.main.1.weight", "layers.1.main.1.bias",
            "layers.2.main.0.weight", "layers.2.main.0.bias", "layers.2.shortcut.0.weight", "layers.2.shortcut.0.bias",
            "layers.3.weight", "layers.3.bias",
        ])
        try assertGradientsMatchFiniteDifferences(network)
        try assertGradientsMatchFiniteDifferences(network, output: "features")
        try assertGradientsMatchFiniteDifferences(network, output: "logits")
        XCTAssertThrowsError(try network.outputBuffer("encoding"))
    }

    func testShapeMismatchesNameTheLayer() {
        XCTAssertThrowsError(try Network(inputShape: [4], nodes: [
            .residual(main: [.layer(Dense(outputs: 3))], shortcut: []),
        ])) { XCTAssertTrue(($0 as! CFXError).message.hasPrefix("layers.0 (residual)"), "\($0)") }
        XCTAssertThrowsError(try Network(inputShape: [1, 4, 4], nodes: [.layer(Dense(outputs: 3))])) {
            XCTAssertTrue(($0 as! CFXError).message.hasPrefix("layers.0 (dense)"), "\($0)")
        }
    }

    func testBatchedPullbackEqualsRowByRow() throws {
        var rng = SplitMix64(state: 3)
        let network = try randomNetwork(inputShape: [3], [.layer(Dense(outputs: 5)), .layer(Elementwise(.tanh)),
                                                         .layer(Dense(outputs: 2)), .layer(Softmax())], seed: 3)
        let evaluator = network.makeEvaluator()
        let x = randomValues(12, &rng), cotangent = randomValues(8, &rng)
        var batched = [Double](repeating: 0, count: 12)
        try x.withUnsafeBufferPointer { xs in
            try cotangent.withUnsafeBufferPointer { cs in
                try batched.withUnsafeMutableBufferPointer { try evaluator.pullback(at: xs, rows: 4, cotangent: cs, into: $0) }
            }
        }
        let session = ModelSession(model: network)
        for r in 0..<4 {
            var row = [Double](repeating: 0, count: 3)
            try session.pullback(at: Array(x[r * 3..<r * 3 + 3]), cotangent: Array(cotangent[r * 2..<r * 2 + 2]), into: &row)
            for j in 0..<3 { XCTAssertEqual(batched[r * 3 + j], row[j], accuracy: 1e-14) }
        }
    }

    func testNumericalGradientOfCallbackModelApproximatesExactOne() throws {
        var rng = SplitMix64(state: 4)
        let network = try randomNetwork(inputShape: [4], [.layer(Dense(outputs: 6)), .layer(Elementwise(.tanh)),
                                                         .layer(Dense(outputs: 3)), .layer(Softmax())], seed: 4)
        let blackBox = try callbackCopy(of: network, exactGradient: false)
        XCTAssertFalse(blackBox.hasExactGradient)
        let numeric = ModelSession(model: blackBox, eps: 1e-4)
        let exact = ModelSession(model: network, eps: 1e-4)
        let x = randomValues(4, &rng), cotangent = [1.0, -0.5, 0.25]
        var g1 = [Double](repeating: 0, count: 4), g2 = g1
        try numeric.pullback(at: x, cotangent: cotangent, into: &g1)
        try exact.pullback(at: x, cotangent: cotangent, into: &g2)
        for j in 0..<4 { XCTAssertEqual(g1[j], g2[j], accuracy: 1e-7) }
        // One batched predict call of 2d rows per numerical gradient.
        XCTAssertEqual(numeric.predictCalls, 1)
        XCTAssertEqual(numeric.predictedRows, 8)
    }

    func testSoftmaxIsStableForLargeLogits() throws {
        let network = try Network(inputShape: [2], nodes: [.layer(Dense(outputs: 2)), .layer(Softmax())])
        try network.setParameter("layers.0.weight", [1000, 0, 0, -1000])
        let p = try ModelSession(model: network).predict([1, 1])
        XCTAssertEqual(p[0], 1, accuracy: 1e-12)
        XCTAssertEqual(p[1], 0, accuracy: 1e-12)
    }
}
