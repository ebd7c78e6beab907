import XCTest
@testable import CFXCore

/// A predict that prefetches the next row (one pass of two rows, CFProto's candidate and next step)
/// answers both rows, and a pullback at the prefetched one, with the bits of fresh passes; a point
/// that is not the prefetched row, even by one ulp, gets its own pass.
final class PrefetchTests: XCTestCase {
    /// An MLP, whose two rows run as one chain call.
    private func mlp() throws -> Network {
        let nodes: [NetworkNode] = [.layer(Dense(outputs: 64)), .layer(Elementwise(.relu)), .layer(Dense(outputs: 37)),
                                    .layer(Elementwise(.relu)), .layer(Dense(outputs: 10)), .layer(Softmax())]
        return try randomNetwork(inputShape: [64], nodes, seed: 5, scale: 0.3)
    }

    /// A CNN run layer by layer: convolutions (a residual block, two input channels: cfx's direct
    /// kernel or oneDNN), pooling, and a dense layer too large for two rows to take the small-product
    /// kernel in an ordinary pass (64 × 300: at two rows more than `SmallProducts.denseKernelMultiplyAdds`).
    private func cnn() throws -> Network {
        let nodes: [NetworkNode] = [
            .layer(Conv2D(outChannels: 4, kernelSize: 3, padding: 1)), .layer(Elementwise(.relu)),
            .residual(main: [.layer(Conv2D(outChannels: 4, kernelSize: 3, padding: 1)), .layer(Elementwise(.leakyRelu(slope: 0.1)))],
                      shortcut: []),
            .layer(Pool2D(.max, kernelSize: 2)), .layer(Flatten()), .layer(Dense(outputs: 300)), .layer(Elementwise(.relu)),
            .layer(Dense(outputs: 10)), .layer(Softmax()),
        ]
        let network = try randomNetwork(inputShape: [2, 8, 8], nodes, seed: 7, scale: 0.4)
        XCTAssertFalse(SmallProducts.denseKernel(rows: 2, outputs: 300, inputs: 64))
        return network
    }

    func testPrefetchedRowIsTheRowAlone() throws {
        try forEachKernelSet { _ in
            for dtype in DType.allCases {
                try prefetchedRowIsTheRowAlone(try mlp().converted(to: dtype), "MLP \(dtype)")
                try prefetchedRowIsTheRowAlone(try cnn().converted(to: dtype), "CNN \(dtype)")
            }
        }
    }

    private func prefetchedRowIsTheRowAlone(_ network: Network, _ name: String) throws {
        let (d, k) = (network.featureCount, network.classCount)
        var random = SeededRandom(seed: 11)
        let x = (0..<d).map { _ in random.uniform(-2, 2) }, next = (0..<d).map { _ in random.uniform(-2, 2) }
        var nearby = next
        nearby[7] = nearby[7].nextUp
        let cotangent = (0..<k).map { _ in random.uniform(-1, 1) }
        func fresh(_ point: [Double]) throws -> (proba: [Double], gradient: [Double]) {
            let session = ModelSession(model: network)
            var gradient = [Double](repeating: 0, count: d)
            let proba = try session.predict(point)
            try session.pullback(at: point, cotangent: cotangent, into: &gradient)
            return (proba, gradient)
        }
        for then in [next, nearby] {
            let session = ModelSession(model: network)
            var proba = [Double](repeating: 0, count: k), gradient = [Double](repeating: 0, count: d)
            try session.predict(x, into: &proba, prefetching: next)
            XCTAssertEqual(proba, try fresh(x).proba, "\(name): the row asked for")
            XCTAssertEqual(try session.predict(then), try fresh(then).proba, "\(name): the next row")
            try session.pullback(at: then, cotangent: cotangent, into: &gradient)
            XCTAssertEqual(gradient, try fresh(then).gradient, "\(name): the gradient at the next row")
            XCTAssertTrue(gradient.contains { $0 != 0 }, "\(name): a gradient to compare")
            XCTAssertEqual(session.predictCalls, 2, "one call per row asked for")
        }
    }
}
