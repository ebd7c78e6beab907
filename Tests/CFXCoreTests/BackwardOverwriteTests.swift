import XCTest
@testable import CFXCore

/// The backward pass lets the first step to reach a gradient buffer write it instead of clearing it
/// and adding (relu, leaky relu, 2 × 2 max pooling, flatten): whatever the buffers held before, the
/// input gradient is the same to the bit, and a buffer that also gets a seed keeps it.
final class BackwardOverwriteTests: XCTestCase {
    /// Every overwriting layer, an odd-sized image (pooling leaves a row and a column without a
    /// window), a residual block (a buffer with two consumers) and a named buffer to seed.
    private func network(_ dtype: DType) throws -> Network {
        let nodes: [NetworkNode] = [
            .layer(Conv2D(outChannels: 4, kernelSize: 3, padding: 1)), .layer(Elementwise(.relu)),
            .residual(main: [.layer(Conv2D(outChannels: 4, kernelSize: 3, padding: 1)), .layer(Elementwise(.leakyRelu(slope: 0.1)))],
                      shortcut: [], name: "block"),
            .layer(Pool2D(.max, kernelSize: 2)), .layer(Flatten()), .layer(Dense(outputs: 6)), .layer(Elementwise(.relu)),
            .layer(Dense(outputs: 3)), .layer(Softmax()),
        ]
        return try randomNetwork(inputShape: [2, 9, 7], nodes, seed: 11, scale: 0.5).converted(to: dtype)
    }

    /// Input gradients of two rows, seeded at the last buffer (and at `extra` with its cotangent).
    private func gradient(_ evaluator: NetworkEvaluator, _ network: Network, _ x: [Double], _ c: [Double],
                          extra: (buffer: Int, cotangent: [Double])? = nil, poison: Bool = false) -> [Double] {
        let last = network.bufferShapes.count - 1
        x.withUnsafeBufferPointer { evaluator.forward($0, rows: 2) }
        if poison {  // stale values everywhere: a gradient that is neither cleared nor written shows
            for (b, size) in network.bufferShapes.map({ $0.reduce(1, *) }).enumerated() {
                evaluator.tape64?.gradients[b].update(repeating: .nan, count: 2 * size)
                evaluator.tape32?.gradients[b].update(repeating: .nan, count: 2 * size)
            }
        }
        return c.withUnsafeBufferPointer { top in
            guard let extra else { return Array(evaluator.backward(from: last, cotangent: top)) }
            return extra.cotangent.withUnsafeBufferPointer { Array(evaluator.backward(seeds: [(last, top), (extra.buffer, $0)])) }
        }
    }

    func testStaleGradientBuffersChangeNothing() throws {
        for dtype in DType.allCases {
            let network = try network(dtype)
            var rng = SplitMix64(state: 4)
            let x = randomValues(2 * network.featureCount, &rng), c = randomValues(6, &rng)
            let want = gradient(NetworkEvaluator(network, threads: 1), network, x, c)
            XCTAssertTrue(want.allSatisfy(\.isFinite), "\(dtype)")
            XCTAssertEqual(gradient(NetworkEvaluator(network, threads: 1), network, x, c, poison: true), want, "\(dtype)")
        }
    }

    /// A seed at the residual block's output, which pooling reaches first (and would otherwise
    /// write), adds to what flows back from the top: the sum of the two gradients taken apart, to rounding.
    func testSeededBufferKeepsItsSeed() throws {
        for dtype in DType.allCases {
            let network = try network(dtype), block = try network.outputBuffer("block")
            var rng = SplitMix64(state: 8)
            let x = randomValues(2 * network.featureCount, &rng), c = randomValues(6, &rng)
            let seed = randomValues(2 * network.bufferShapes[block].reduce(1, *), &rng)
            let evaluator = NetworkEvaluator(network, threads: 1)
            let both = gradient(evaluator, network, x, c, extra: (block, seed), poison: true)
            let top = gradient(evaluator, network, x, c)
            let alone = x.withUnsafeBufferPointer { xs in
                evaluator.forward(xs, rows: 2)
                return seed.withUnsafeBufferPointer { Array(evaluator.backward(from: block, cotangent: $0)) }
            }
            let scale = alone.map(abs).max() ?? 0
            XCTAssertGreaterThan(scale, 0.1, "\(dtype)")
            for i in both.indices {
                XCTAssertEqual(both[i], top[i] + alone[i], accuracy: 1e-5 * scale, "\(dtype) feature \(i)")
            }
        }
    }

    /// A relu whose output only a 2 × 2 max pooling reads: the pooling runs relu's backward pass in
    /// its own (`Pool2D.backwardThroughRelu`). A zero seed at the relu's output keeps the two passes
    /// apart (the pooling then adds to the seeded gradient, relu reads it): the same bits either way.
    func testPoolingThroughReluGivesTheBitsOfTheTwoPasses() throws {
        for dtype in DType.allCases {
            let nodes: [NetworkNode] = [
                .layer(Conv2D(outChannels: 4, kernelSize: 3, padding: 1)), .layer(Elementwise(.relu), name: "relu"),
                .layer(Pool2D(.max, kernelSize: 2)), .layer(Flatten()), .layer(Dense(outputs: 3)), .layer(Softmax()),
            ]
            let network = try randomNetwork(inputShape: [2, 9, 7], nodes, seed: 12, scale: 0.5).converted(to: dtype)
            let relu = try network.outputBuffer("relu")
            var rng = SplitMix64(state: 5)
            let x = randomValues(2 * network.featureCount, &rng), c = randomValues(6, &rng)
            let zeros = [Double](repeating: 0, count: 2 * network.bufferShapes[relu].reduce(1, *))
            let evaluator = NetworkEvaluator(network, threads: 1)
            let through = gradient(evaluator, network, x, c, poison: true)
            let apart = gradient(evaluator, network, x, c, extra: (relu, zeros), poison: true)
            XCTAssertTrue(through.contains { $0 != 0 } && through.allSatisfy(\.isFinite), "\(dtype)")
            XCTAssertEqual(through.map(\.bitPattern), apart.map(\.bitPattern), "\(dtype)")
        }
    }
}
