import XCTest
@testable import CFXCore

/// The idle evaluators a model handle keeps between predict/vjp calls (`EvaluatorCache`).
final class EvaluatorCacheTests: XCTestCase {
    /// A network whose cache predicted and differentiated (so that it keeps idle evaluators, on one
    /// and on two threads) is freed with the cache, its last reference.
    func testNetworkWithIdleEvaluatorsIsFreed() throws {
        for dtype in [DType.float64, .float32] {
            weak var freed: Network?
            // The network's only references live in this function.
            func use() throws {
                let source = try randomNetwork(inputShape: [1, 6, 6], [.layer(Conv2D(outChannels: 2, kernelSize: 3)), .layer(Flatten()),
                                                                      .layer(Dense(outputs: 3)), .layer(Softmax())], seed: 1, scale: 0.5)
                let cache = EvaluatorCache(try source.converted(to: dtype))
                freed = cache.network
                let x = [Double](repeating: 0.5, count: 36)
                for threads in [1, 2] {
                    let proba = try IntraOpThreads.with(threads) { try cache.predict(x, rows: 1) }
                    XCTAssertEqual(proba.reduce(0, +), 1, accuracy: 1e-6)
                    var grad = [Double](repeating: 0, count: 36)
                    try IntraOpThreads.with(threads) { try cache.pullback(at: x, rows: 1, cotangent: [1, 0, 0], into: &grad) }
                    XCTAssertTrue(grad.contains { $0 != 0 }, "\(dtype): gradient of 0")
                }
            }
            try use()
            XCTAssertNil(freed, "\(dtype): the network outlived its last reference")
        }
    }
}
