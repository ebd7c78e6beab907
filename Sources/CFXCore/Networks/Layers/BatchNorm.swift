/// Batch normalisation as PyTorch's BatchNorm1d/BatchNorm2d: per feature for [n] inputs, per
/// channel (over the batch and all positions) for [c, h, w] inputs.
///
///     y = γ · (x − μ) / √(σ² + eps) + β
///
/// Tensors, in this order and with PyTorch's names: trainable "weight" (γ, initially 1) and "bias"
/// (β, 0); state "running_mean" (0) and "running_var" (1). In inference mode μ and σ² are the
/// running statistics. In training mode they are the batch's mean and biased variance, and the
/// backward pass differentiates through them; the running statistics then move towards the
/// batch's mean and unbiased variance by `momentum` (r ← (1 − momentum)·r + momentum·batch) when
/// the step is committed (`commitTrainingStep`), not in the forward pass itself.
public final class BatchNorm: Operation, @unchecked Sendable {
    public let eps: Double
    public let momentum: Double

    public init(eps: Double = 1e-5, momentum: Double = 0.1) {
        self.eps = eps
        self.momentum = momentum
        super.init(kind: "batch_norm")
    }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        guard eps > 0, eps.isFinite else { throw CFXError(.model, "eps must be positive, got \(eps)") }
        guard (0...1).contains(momentum) else { throw CFXError(.model, "momentum must be in [0, 1], got \(momentum)") }
        return input
    }

    public override func parameterSpecs(for input: [Int]) -> [ParameterSpec] {
        let c = input[0]
        return [ParameterSpec("weight", [c]), ParameterSpec("bias", [c]),
                ParameterSpec("running_mean", [c], .state), ParameterSpec("running_var", [c], .state)]
    }

    public override func initialise(_ parameters: UnsafeMutablePointer<Double>, input: [Int], random: inout SeededRandom) {
        let c = input[0]
        for i in 0..<c {
            parameters[i] = 1  // γ
            parameters[c + i] = 0  // β
            parameters[2 * c + i] = 0  // running mean
            parameters[3 * c + i] = 1  // running variance
        }
    }

    /// Training mode keeps the batch's mean, 1/√(σ² + eps) and biased variance per channel.
    public override func scratchCount(input: [Int], batch: Int) -> Int { 3 * input[0] }

    public override func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { forwardValues(x, y, c) }
    public override func forward(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { forwardValues(x, y, c) }

    private func forwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        let channels = c.inputShape.channels, spatial = c.inputShape.height * c.inputShape.width
        let gamma = c.parameters, beta = c.parameters + channels
        let mean = c.training ? c.scratch : c.parameters + 2 * channels
        let inverse = c.scratch + channels, variance = c.training ? c.scratch + 2 * channels : c.parameters + 3 * channels
        if c.training { batchStatistics(x, c, mean: mean, variance: variance) }
        for ch in 0..<channels { inverse[ch] = 1 / (variance[ch] + T(eps)).squareRoot() }
        splitValues(c.batch * channels, of: spatial, on: c.pool) { planes in
            for plane in planes {
                let ch = plane % channels, scale = gamma[ch] * inverse[ch], shift = beta[ch] - mean[ch] * scale
                let base = plane * spatial
                for s in 0..<spatial { y[base + s] = x[base + s] * scale + shift }
            }
        }
    }

    /// Mean and biased variance of every channel over the batch (two passes, for accuracy).
    private func batchStatistics<T: NetworkScalar>(_ x: UnsafePointer<T>, _ c: OperationContext<T>,
                                                   mean: UnsafeMutablePointer<T>, variance: UnsafeMutablePointer<T>) {
        let channels = c.inputShape.channels, spatial = c.inputShape.height * c.inputShape.width
        let count = T(c.batch * spatial)
        for ch in 0..<channels {
            var total: T = 0
            for r in 0..<c.batch {
                let base = (r * channels + ch) * spatial
                for s in 0..<spatial { total += x[base + s] }
            }
            let mu = total / count
            var squares: T = 0
            for r in 0..<c.batch {
                let base = (r * channels + ch) * spatial
                for s in 0..<spatial {
                    let d = x[base + s] - mu
                    squares += d * d
                }
            }
            mean[ch] = mu
            variance[ch] = squares / count
        }
    }

    public override func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                  _ dx: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { backwardValues(x, y, dy, dx, c) }
    public override func backward(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                                  _ dx: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { backwardValues(x, y, dy, dx, c) }

    private func backwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, _ dy: UnsafePointer<T>,
                                                    _ dx: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        let channels = c.inputShape.channels, spatial = c.inputShape.height * c.inputShape.width
        let gamma = c.parameters
        let mean = c.training ? UnsafePointer(c.scratch) : UnsafePointer(c.parameters + 2 * channels)
        let inverse = c.scratch + channels  // written by the forward pass in either mode
        let count = T(c.batch * spatial)
        // Σ dy and Σ dy·x̂ over each channel: β's and γ's gradients, and the terms of the batch
        // statistics' contribution in training mode. An input gradient alone, in inference mode,
        // needs neither sum (each a serial chain of adds).
        let needsSums = c.training || c.parameterGradients != nil
        for ch in 0..<(needsSums ? channels : 0) {
            var sumDy: T = 0, sumDyXhat: T = 0
            for r in 0..<c.batch {
                let base = (r * channels + ch) * spatial
                for s in 0..<spatial {
                    sumDy += dy[base + s]
                    sumDyXhat += dy[base + s] * (x[base + s] - mean[ch]) * inverse[ch]
                }
            }
            if let grads = c.parameterGradients {
                grads[ch] += sumDyXhat
                grads[channels + ch] += sumDy
            }
            guard c.training else { continue }
            // dx = γ/√(σ²+eps) · (dy − mean(dy) − x̂ · mean(dy·x̂))
            let scale = gamma[ch] * inverse[ch], meanDy = sumDy / count, meanDyXhat = sumDyXhat / count
            for r in 0..<c.batch {
                let base = (r * channels + ch) * spatial
                for s in 0..<spatial {
                    let xhat = (x[base + s] - mean[ch]) * inverse[ch]
                    dx[base + s] += scale * (dy[base + s] - meanDy - xhat * meanDyXhat)
                }
            }
        }
        // Inference mode: dx += γ/√(σ²+eps) · dy, value by value.
        guard !c.training else { return }
        splitValues(c.batch * channels, of: spatial, on: c.pool) { planes in
            for plane in planes {
                let ch = plane % channels, scale = gamma[ch] * inverse[ch], base = plane * spatial
                for s in 0..<spatial { dx[base + s] += scale * dy[base + s] }
            }
        }
    }

    /// The running statistics move towards the whole batch's mean and unbiased variance, pooled
    /// exactly from the shards' means and biased variances (so they do not depend on how the
    /// batch was split, up to rounding).
    public override func commitTrainingStep<T: NetworkScalar>(_ parameters: UnsafeMutablePointer<Double>, input: [Int],
                                                              shards: [(scratch: UnsafePointer<T>, rows: Int)]) {
        let channels = input[0], spatial = input.count == 3 ? input[1] * input[2] : 1
        let runningMean = parameters + 2 * channels, runningVariance = parameters + 3 * channels
        let total = Double(shards.reduce(0) { $0 + $1.rows } * spatial)
        for ch in 0..<channels {
            var mean = 0.0
            for shard in shards { mean += Double(shard.rows * spatial) * Double(shard.scratch[ch]) }
            mean /= total
            var squares = 0.0  // Σ over all values of (x − mean)²
            for shard in shards {
                let d = Double(shard.scratch[ch]) - mean
                squares += Double(shard.rows * spatial) * (Double(shard.scratch[2 * channels + ch]) + d * d)
            }
            let unbiased = total > 1 ? squares / (total - 1) : squares
            runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * mean
            runningVariance[ch] = (1 - momentum) * runningVariance[ch] + momentum * unbiased
        }
    }
}
