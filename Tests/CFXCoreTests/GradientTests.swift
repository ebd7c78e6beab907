import XCTest
@testable import CFXCore

/// Exact gradients (backpropagation) against central finite differences.
final class GradientTests: XCTestCase {
    /// Σ cotangent ⊙ p(x), the scalar whose gradient a pullback returns.
    private func objective(_ session: ModelSession, _ x: [Double], _ cotangent: [Double]) throws -> Double {
        zip(try session.predict(x), cotangent).reduce(0) { $0 + $1.0 * $1.1 }
    }

    private func assertPullbackMatchesFiniteDifferences(_ model: Classifier, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) throws {
        var rng = SplitMix64(state: seed)
        let session = ModelSession(model: model, eps: [Double](repeating: 1e-3, count: model.featureCount))
        for _ in 0..<5 {
            let x = randomValues(model.featureCount, &rng, scale: 2)
            let cotangent = randomValues(model.classCount, &rng)
            var grad = [Double](repeating: 0, count: model.featureCount)
            try session.pullback(at: x, cotangent: cotangent, into: &grad)
            let h = 1e-6
            for j in 0..<model.featureCount {
                var plus = x, minus = x
                plus[j] += h
                minus[j] -= h
                let numeric = (try objective(session, plus, cotangent) - objective(session, minus, cotangent)) / (2 * h)
                XCTAssertEqual(grad[j], numeric, accuracy: 1e-7 + 1e-5 * abs(numeric), "feature \(j)", file: file, line: line)
            }
        }
    }

    func testEveryActivationMatchesFiniteDifferences() throws {
        var rng = SplitMix64(state: 1)
        for activation in Activation.allCases where activation != .softmax {
            let network = try Network(inputWidth: 5, layers: [
                randomDense(5, 7, &rng), .activation(activation), randomDense(7, 4, &rng), .activation(.softmax),
            ])
            try assertPullbackMatchesFiniteDifferences(network, seed: 10)
        }
    }

    func testDeepNetworkWithoutSoftmaxMatchesFiniteDifferences() throws {
        var rng = SplitMix64(state: 2)
        let network = try Network(inputWidth: 6, layers: [
            randomDense(6, 8, &rng), .activation(.tanh), randomDense(8, 8, &rng), .activation(.relu),
            randomDense(8, 3, &rng), .activation(.sigmoid),
        ])
        try assertPullbackMatchesFiniteDifferences(network, seed: 11)
    }

    func testBatchedPullbackEqualsRowByRow() throws {
        var rng = SplitMix64(state: 3)
        let network = try Network(inputWidth: 3, layers: [randomDense(3, 5, &rng), .activation(.tanh),
                                                         randomDense(5, 2, &rng), .activation(.softmax)])
        let evaluator = network.makeEvaluator()
        let x = randomValues(12, &rng), cotangent = randomValues(8, &rng)
        var batched = [Double](repeating: 0, count: 12)
        try x.withUnsafeBufferPointer { xs in
            try cotangent.withUnsafeBufferPointer { cs in
                try batched.withUnsafeMutableBufferPointer { try evaluator.pullback(at: xs, rows: 4, cotangent: cs, into: $0) }
            }
        }
        let session = ModelSession(model: network, eps: [1e-3, 1e-3, 1e-3])
        for r in 0..<4 {
            var row = [Double](repeating: 0, count: 3)
            try session.pullback(at: Array(x[r * 3..<r * 3 + 3]), cotangent: Array(cotangent[r * 2..<r * 2 + 2]), into: &row)
            for j in 0..<3 { XCTAssertEqual(batched[r * 3 + j], row[j], accuracy: 1e-14) }
        }
    }

    func testNumericalGradientOfCallbackModelApproximatesExactOne() throws {
        var rng = SplitMix64(state: 4)
        let network = try Network(inputWidth: 4, layers: [randomDense(4, 6, &rng), .activation(.tanh),
                                                         randomDense(6, 3, &rng), .activation(.softmax)])
        let blackBox = try callbackCopy(of: network, exactGradient: false)
        XCTAssertFalse(blackBox.hasExactGradient)
        let numeric = ModelSession(model: blackBox, eps: [Double](repeating: 1e-4, count: 4))
        let exact = ModelSession(model: network, eps: [Double](repeating: 1e-4, count: 4))
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
        let network = try Network(inputWidth: 2, layers: [
            .dense(Dense(inputs: 2, outputs: 2, weights: [1000, 0, 0, -1000], bias: [0, 0])), .activation(.softmax),
        ])
        let p = try ModelSession(model: network, eps: [1e-3, 1e-3]).predict([1, 1])
        XCTAssertEqual(p[0], 1, accuracy: 1e-12)
        XCTAssertEqual(p[1], 0, accuracy: 1e-12)
    }
}
