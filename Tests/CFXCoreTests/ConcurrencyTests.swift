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
            try ModelSession(model: network).predict(batch, rows: 32)
        }
        let expected = try batches.map(probabilities)
        for _ in 0..<100 {
            let results = try parallelMap(count: 64, threads: 4) { i in try probabilities(batches[i % 8]) }
            for (i, result) in results.enumerated() { XCTAssertEqual(result, expected[i % 8], "batch \(i)") }
        }
    }

    func testIntraOpPoolRunsEveryTaskOnceAndCanBeFreed() {
        for threads in [1, 2, 4] {
            let pool = IntraOpPool(threads: threads)
            XCTAssertEqual(pool.threads, threads)
            let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: 37)
            defer { counts.deallocate() }
            for round in 0..<200 {
                counts.initialize(repeating: 0)
                let tasks = round % 37 + 1
                pool.run(tasks: tasks) { counts[$0] += 1 }  // each index by one thread only
                XCTAssertEqual(Array(counts[0..<tasks]), [Int](repeating: 1, count: tasks), "round \(round), \(threads) threads")
            }
        }
    }

    func testEvaluatorsWithThreadsOfTheirOwnOnSeveralThreadsAtOnce() throws {
        // Float32 convolutions (oneDNN, in parts) and float64 ones (im2col + GEMM in blocks), each
        // evaluator with a pool of 2 threads, 4 evaluators at once: the results of one thread alone.
        let nodes: [NetworkNode] = [.layer(Conv2D(outChannels: 64, kernelSize: 3, padding: 1)), .layer(Elementwise(.relu)),
                                    .layer(Conv2D(outChannels: 64, kernelSize: 3, padding: 1)), .layer(GlobalAveragePool()),
                                    .layer(Dense(outputs: 10)), .layer(Softmax())]
        let base = try randomNetwork(inputShape: [16, 20, 20], nodes, seed: 9, scale: 0.1)
        for network in [base, try base.converted(to: .float32)] {
            var rng = SplitMix64(state: 10)
            let x = randomValues(network.featureCount, &rng), cotangent = randomValues(network.classCount, &rng)
            @Sendable func gradient(threads: Int) throws -> [Double] {
                var grad = [Double](repeating: 0, count: network.featureCount)
                let evaluator = NetworkEvaluator(network, threads: threads)
                try x.withUnsafeBufferPointer { x in
                    try cotangent.withUnsafeBufferPointer { c in
                        try grad.withUnsafeMutableBufferPointer { try evaluator.pullback(at: x, rows: 1, cotangent: c, into: $0) }
                    }
                }
                return grad
            }
            let expected = try gradient(threads: 1)
            let results = try parallelMap(count: 8, threads: 4) { _ in try gradient(threads: 2) }
            for result in results { XCTAssertEqual(result, expected, "\(network.dtype)") }
        }
    }
}
