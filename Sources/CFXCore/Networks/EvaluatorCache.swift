/// Idle evaluators of one network kept between calls, so that repeated small calls (a service
/// predicting one row at a time) do not pay for buffers, prepared convolutions and reordered
/// weights each time. Owned by whoever owns the network (a model handle), never by the network
/// itself: evaluators hold their network. At most 2 are kept, each holding at most 2^24 values of
/// buffers; a float32 convolutional network's evaluator also holds oneDNN's copies of the weights
/// (one per direction and batch size, for the two most recent batch sizes). Thread-safe:
/// concurrent calls each take an evaluator of their own.
public final class EvaluatorCache: @unchecked Sendable {
    public let network: Network
    private let idle = Locked<[NetworkEvaluator]>([])

    public init(_ network: Network) { self.network = network }

    /// Runs `body` with an evaluator for `IntraOpThreads.current` threads: an idle one when there
    /// is one, otherwise a new one, kept afterwards when it is small enough.
    public func withEvaluator<R>(_ body: (NetworkEvaluator) throws -> R) rethrows -> R {
        let threads = IntraOpThreads.current
        let kept = idle.withLock { idle in idle.firstIndex { $0.threads == threads }.map { idle.remove(at: $0) } }
        let evaluator = kept ?? NetworkEvaluator(network, threads: threads)
        defer {
            if evaluator.heldValues <= 1 << 24 {
                idle.withLock { idle in if idle.count < 2 { idle.append(evaluator) } }
            }
        }
        return try body(evaluator)
    }

    /// Class probabilities of `rows` rows; a non-finite output is an error.
    public func predict(_ x: [Double], rows: Int) throws -> [Double] {
        var proba = [Double](repeating: 0, count: rows * network.classCount)
        try withEvaluator { evaluator in
            try x.withUnsafeBufferPointer { x in try proba.withUnsafeMutableBufferPointer { try evaluator.predict(x, rows: rows, into: $0) } }
        }
        try requireFinite(proba, "model output")
        return proba
    }

    /// Input gradients of `rows` rows (cotangents on the probabilities) in passes of at most
    /// `network.rowsPerPass` rows, so that memory stays bounded: one batched backward pass per pass.
    public func pullback(at x: [Double], rows: Int, cotangent: [Double], into gradient: UnsafeMutablePointer<Double>) throws {
        let (d, k) = (network.featureCount, network.classCount)
        try withEvaluator { evaluator in
            var start = 0
            while start < rows {
                let count = min(network.rowsPerPass, rows - start)
                try x.withUnsafeBufferPointer { x in
                    try cotangent.withUnsafeBufferPointer { c in
                        try evaluator.pullback(at: UnsafeBufferPointer(rebasing: x[start * d..<(start + count) * d]), rows: count,
                                               cotangent: UnsafeBufferPointer(rebasing: c[start * k..<(start + count) * k]),
                                               into: UnsafeMutableBufferPointer(start: gradient + start * d, count: count * d))
                    }
                }
                start += count
            }
        }
    }
}
