import Glibc

/// What training minimises, averaged over the rows of a batch.
public enum Loss: Sendable, Equatable {
    /// −log p_y for class-index targets, on the network's probabilities. When the network ends
    /// with softmax it is computed from the logits (log-sum-exp − z_y) and backpropagated from
    /// them with gradient p − onehot(y), which stays exact when p_y underflows.
    case crossEntropy
    /// Mean over rows and values of (output − target)², torch's MSELoss: targets of the width of
    /// the output (`output`: "probabilities" by default, or any named output), or the input itself
    /// (an autoencoder).
    case meanSquaredError(output: String)
}

/// Targets of the rows of a training set.
public enum TrainingTargets: Sendable {
    /// Class indices, one per row (cross-entropy).
    case classes([Int])
    /// `width` values per row, row-major (mean squared error).
    case values([Double], width: Int)
    /// The input rows themselves (mean squared error of an autoencoder).
    case input
}

/// How one shard's loss is computed and where its gradient enters the network.
struct LossPlan {
    let loss: Loss
    /// Buffer read for the loss and accuracy (probabilities, or the MSE output).
    let outputBuffer: Int
    let outputWidth: Int
    /// Buffer the cotangent is placed on: the logits for softmax cross-entropy.
    let gradientBuffer: Int
    let fromLogits: Bool

    init(network: Network, loss: Loss) throws {
        self.loss = loss
        switch loss {
        case .crossEntropy:
            guard network.classCount >= 2 else {
                throw CFXError.config("loss", "cross_entropy needs a network with at least 2 outputs (classes), this one has \(network.classCount)")
            }
            outputBuffer = try network.outputBuffer("probabilities")
            outputWidth = network.classCount
            if let logits = network.outputs["logits"] {
                (gradientBuffer, fromLogits) = (logits, true)
            } else {
                (gradientBuffer, fromLogits) = (outputBuffer, false)
            }
        case .meanSquaredError(let output):
            guard let buffer = network.outputs[output] else {
                throw CFXError.config("output", "the network has no output \"\(output)\"; its outputs are \(network.outputs.keys.sorted().joined(separator: ", "))")
            }
            outputBuffer = buffer
            outputWidth = try network.outputShape(output).reduce(1, *)
            (gradientBuffer, fromLogits) = (buffer, false)
        }
    }

    /// Sum over `rows` rows of the loss, the number predicted correctly (cross-entropy), and, when
    /// `cotangent` is given, the gradient of (sum of losses) / `scale` with respect to
    /// `gradientBuffer` written into it. `target(r)` gives row r's class; `values(r)` its target row.
    func evaluate(_ evaluator: NetworkEvaluator, rows: Int, classes: UnsafePointer<Int>?, targets: UnsafePointer<Double>?,
                  cotangent: UnsafeMutablePointer<Double>?, scale: Double) -> (loss: Double, correct: Int) {
        let output = evaluator.value(outputBuffer).baseAddress!
        let k = outputWidth
        var total = 0.0, correct = 0
        switch loss {
        case .crossEntropy:
            let classes = classes!
            let logits = fromLogits ? evaluator.value(gradientBuffer).baseAddress! : output
            for r in 0..<rows {
                let p = output + r * k, y = classes[r]
                var best = 0
                for j in 1..<k where p[j] > p[best] { best = j }
                if best == y { correct += 1 }
                if fromLogits {
                    total += LogitLoss.crossEntropy(logits: logits + r * k, classes: k, label: y)
                    if let cotangent {
                        LogitLoss.crossEntropyGradient(probabilities: p, classes: k, label: y) { cotangent[r * k + $0] = $1 / scale }
                    }
                } else {
                    let py = max(p[y], 1e-300)
                    total -= log(py)
                    if let cotangent {
                        for j in 0..<k { cotangent[r * k + j] = 0 }
                        cotangent[r * k + y] = -1 / (py * scale)
                    }
                }
            }
        case .meanSquaredError:
            let t = targets!
            for i in 0..<rows * k {
                let d = output[i] - t[i]
                total += d * d / Double(k)
                cotangent?[i] = 2 * d / (Double(k) * scale)
            }
        }
        return (total, correct)
    }
}
