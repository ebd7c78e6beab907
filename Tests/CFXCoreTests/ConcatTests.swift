import XCTest
@testable import CFXCore

/// Concat blocks: branches of one tensor joined along one example's first axis, exact in both
/// number types.
final class ConcatTests: XCTestCase {
    /// A DenseNet-style block (x, f(x)) on images, then an inception-style one of three branches.
    private func imageNetwork() throws -> Network {
        try randomNetwork(inputShape: [2, 5, 5], [
            .layer(Conv2D(outChannels: 3, kernelSize: 3, padding: 1)), .layer(Elementwise(.tanh)),
            .concat(branches: [[], [.layer(Conv2D(outChannels: 2, kernelSize: 3, padding: 1)), .layer(Elementwise(.softplus))]], name: "dense"),
            .concat(branches: [[.layer(Conv2D(outChannels: 2, kernelSize: 1))],
                               [.layer(Pool2D(.max, kernelSize: 3, stride: 1, padding: 1)), .layer(Conv2D(outChannels: 1, kernelSize: 1))],
                               [.layer(Conv2D(outChannels: 3, kernelSize: 3, padding: 1)), .layer(Elementwise(.tanh), name: "third")]],
                    name: "features"),
            .layer(GlobalAveragePool()), .layer(Dense(outputs: 3)), .layer(Softmax()),
        ], seed: 21, scale: 0.5)
    }

    func testConcatBlocksMatchFiniteDifferences() throws {
        let features = try randomNetwork(inputShape: [6], [
            .layer(Dense(outputs: 4)),
            .concat(branches: [[.layer(Elementwise(.tanh)), .layer(Dense(outputs: 3))], [], [.layer(Dense(outputs: 2))]], name: "joined"),
            .layer(Elementwise(.sigmoid)), .layer(Dense(outputs: 3)), .layer(Softmax()),
        ], seed: 20, scale: 0.7)
        XCTAssertEqual(try features.outputShape("joined"), [9])
        XCTAssertEqual(features.parameterList.map(\.name), [
            "layers.0.weight", "layers.0.bias", "layers.1.branches.0.1.weight", "layers.1.branches.0.1.bias",
            "layers.1.branches.2.0.weight", "layers.1.branches.2.0.bias", "layers.3.weight", "layers.3.bias",
        ])
        try assertGradientsMatchFiniteDifferences(features, rows: 3)
        try assertGradientsMatchFiniteDifferences(features, output: "joined")
        let images = try imageNetwork()
        XCTAssertEqual(try images.outputShape("dense"), [5, 5, 5])
        XCTAssertEqual(try images.outputShape("features"), [6, 5, 5])
        try assertGradientsMatchFiniteDifferences(images)
        try assertGradientsMatchFiniteDifferences(images, output: "features")
    }

    /// The join is a copy: each row of the output holds each branch's row, in branch order, to the bit.
    func testForwardPassPlacesEachBranchInOrder() throws {
        for dtype in [DType.float64, .float32] {
            let network = try imageNetwork().converted(to: dtype)
            var rng = SplitMix64(state: 5)
            let rows = 3
            let x = randomValues(rows * network.featureCount, &rng)
            let evaluator = network.makeEvaluator() as! NetworkEvaluator
            x.withUnsafeBufferPointer { evaluator.forward($0, rows: rows, through: network.bufferShapes.count - 1, training: false) }
            let dense = Array(evaluator.value(try network.outputBuffer("dense")))
            let features = Array(evaluator.value(try network.outputBuffer("features")))
            let third = Array(evaluator.value(try network.outputBuffer("third")))
            let tanhInput = Array(evaluator.value(2))  // the block's identity branch: the tanh's output
            for r in 0..<rows {
                XCTAssertEqual(Array(dense[r * 125..<r * 125 + 75]), Array(tanhInput[r * 75..<(r + 1) * 75]), "\(dtype) row \(r)")
                XCTAssertEqual(Array(features[r * 150 + 75..<(r + 1) * 150]), Array(third[r * 75..<(r + 1) * 75]), "\(dtype) row \(r)")
            }
        }
    }

    /// Float32 gives float64's probabilities and gradients, to float32's precision.
    func testFloat32AgreesWithFloat64() throws {
        let network64 = try imageNetwork()
        let network32 = try network64.converted(to: .float32)
        var rng = SplitMix64(state: 8)
        let rows = 4
        let x = randomValues(rows * network64.featureCount, &rng), cotangent = randomValues(rows * 3, &rng)
        func pass(_ network: Network) -> ([Double], [Double]) {
            let evaluator = network.makeEvaluator() as! NetworkEvaluator
            let last = network.bufferShapes.count - 1
            x.withUnsafeBufferPointer { evaluator.forward($0, rows: rows, through: last, training: false) }
            let output = Array(evaluator.value(last))
            return (output, cotangent.withUnsafeBufferPointer { Array(evaluator.backward(from: last, cotangent: $0, parameterGradients: nil)) })
        }
        let (p64, g64) = pass(network64), (p32, g32) = pass(network32)
        for i in p64.indices { XCTAssertEqual(p32[i], p64[i], accuracy: 1e-5) }
        let scale = g64.map(abs).max()!
        XCTAssertGreaterThan(scale, 1e-3)
        for i in g64.indices { XCTAssertEqual(g32[i], g64[i], accuracy: 1e-4 * scale, "input \(i)") }
    }

    func testMismatchedBranchesNameTheBlock() {
        func fails(_ shape: [Int], _ nodes: [NetworkNode], _ prefix: String, line: UInt = #line) {
            XCTAssertThrowsError(try Network(inputShape: shape, nodes: nodes), line: line) {
                XCTAssertTrue(($0 as! CFXError).message.hasPrefix(prefix), "\($0)", line: line)
            }
        }
        fails([2, 4, 4], [.concat(branches: [[], [.layer(Pool2D(.max, kernelSize: 2))]])], "layers.0 (concat): branch 1 gives [2, 2, 2], branch 0 [2, 4, 4]")
        fails([2, 4, 4], [.concat(branches: [[], [.layer(Flatten())]])], "layers.0 (concat): branch 1 gives [32]")
        fails([4], [.layer(Dense(outputs: 3)), .concat(branches: [[.layer(Dense(outputs: 2))]])], "layers.1 (concat): needs at least two branches")
        fails([4], [.concat(branches: [[], [.layer(Dense(outputs: 0))]])], "layers.0.branches.1.0 (dense)")
    }
}
