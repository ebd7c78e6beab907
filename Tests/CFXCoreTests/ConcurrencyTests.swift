import XCTest
@testable import CFXCore

/// Networks large enough to go through OpenBLAS give the same answers on several threads at once
/// as on one (Debian's serial OpenBLAS failed this: its buffer allocator races).
final class ConcurrencyTests: XCTestCase {
    func testBLASProductsOnSeveralThreadsMatchOneThread() throws {
        let network = try randomNetwork(inputShape: [64], [.layer(Dense(outputs: 128)), .layer(Elementwise(.tanh)),
                                                          .layer(Dense(outputs: 96)), .layer(Elementwise(.relu)),
                                                          .layer(Dense(outputs: 10)), .layer(Softmax())], seed: 21, scale: 0.2)
        var rng = SplitMix64(state: 22)
        let batches = (0..<8).map { _ in randomValues(32 * 64, &rng) }
        @Sendable func probabilities(_ batch: [Double]) throws -> [Double] {
            try ModelSession(model: network, eps: [Double](repeating: 1e-3, count: 64)).predict(batch, rows: 32)
        }
        let expected = try batches.map(probabilities)
        for _ in 0..<100 {
            let results = try parallelMap(count: 64, threads: 4) { i in try probabilities(batches[i % 8]) }
            for (i, result) in results.enumerated() { XCTAssertEqual(result, expected[i % 8], "batch \(i)") }
        }
    }
}
