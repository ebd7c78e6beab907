import Glibc

/// The training set as the workers read it.
struct TrainingData: @unchecked Sendable {
    let x: [Double]
    let classes: [Int]?
    let values: [Double]?
    let width: Int
    let features: Int
}

/// Rows lo..<hi of shard s out of `shards` over `rows` rows: near-equal, the first ones larger.
func shardBounds(_ s: Int, _ shards: Int, _ rows: Int) -> (Int, Int) {
    let base = rows / shards, extra = rows % shards
    let lo = s * base + min(s, extra)
    return (lo, lo + base + (s < extra ? 1 : 0))
}

/// One shard's evaluator and buffers; used by one thread at a time.
final class ShardWorker: @unchecked Sendable {
    let evaluator: NetworkEvaluator
    let plan: LossPlan
    let features: Int
    let width: Int
    private(set) var gradients: [Double]
    private var x: [Double]
    private var classes: [Int]
    private var targets: [Double]
    private var cotangent: [Double]

    init(network: Network, plan: LossPlan, features: Int, width: Int, capacity: Int) {
        evaluator = NetworkEvaluator(network)
        self.plan = plan
        self.features = features
        self.width = width
        gradients = [Double](repeating: 0, count: network.parameters.count)
        x = [Double](repeating: 0, count: capacity * features)
        classes = [Int](repeating: 0, count: capacity)
        targets = [Double](repeating: 0, count: capacity * width)
        // The loss's gradient enters at the logits or at the output, both `width` wide.
        cotangent = [Double](repeating: 0, count: capacity * width)
    }

    /// Copies the rows `indices` into this worker's buffers.
    private func gather(_ indices: ArraySlice<Int>, _ data: TrainingData) {
        let rows = indices.count
        if x.count < rows * features {
            x = [Double](repeating: 0, count: rows * features)
            classes = [Int](repeating: 0, count: rows)
            targets = [Double](repeating: 0, count: rows * width)
            cotangent = [Double](repeating: 0, count: rows * width)
        }
        for (r, i) in indices.enumerated() {
            for j in 0..<features { x[r * features + j] = data.x[i * features + j] }
            if let classes = data.classes { self.classes[r] = classes[i] }
            if let values = data.values { for j in 0..<width { targets[r * width + j] = values[i * width + j] } }
        }
    }

    /// Forward in training mode, loss, backward: the gradient of (sum of this shard's losses) /
    /// `scale` lands in `gradients`.
    func trainingStep(_ indices: ArraySlice<Int>, data: TrainingData, scale: Double) -> (loss: Double, correct: Int) {
        gather(indices, data)
        let rows = indices.count
        x.withUnsafeBufferPointer { evaluator.forward($0, rows: rows, training: true) }
        let result = lossOf(rows: rows, data: data, cotangent: true, scale: scale)
        for i in gradients.indices { gradients[i] = 0 }
        cotangent.withUnsafeBufferPointer { c in
            gradients.withUnsafeMutableBufferPointer { g in
                _ = evaluator.backward(from: plan.gradientBuffer, cotangent: c, parameterGradients: g.baseAddress)
            }
        }
        return result
    }

    /// Loss and number correct of `indices` in inference mode.
    func evaluation(_ indices: ArraySlice<Int>, data: TrainingData) -> (loss: Double, correct: Int) {
        gather(indices, data)
        let rows = indices.count
        x.withUnsafeBufferPointer { evaluator.forward($0, rows: rows, training: false) }
        return lossOf(rows: rows, data: data, cotangent: false, scale: 1)
    }

    private func lossOf(rows: Int, data: TrainingData, cotangent wanted: Bool, scale: Double) -> (loss: Double, correct: Int) {
        classes.withUnsafeBufferPointer { classes in
            targets.withUnsafeBufferPointer { targets in
                cotangent.withUnsafeMutableBufferPointer { cotangent in
                    plan.evaluate(evaluator, rows: rows, classes: data.classes == nil ? nil : classes.baseAddress,
                                  targets: data.values == nil ? nil : targets.baseAddress,
                                  cotangent: wanted ? cotangent.baseAddress : nil, scale: scale)
                }
            }
        }
    }
}
