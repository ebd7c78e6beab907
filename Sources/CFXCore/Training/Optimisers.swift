import Glibc

/// A first-order optimiser over a network's trainable tensors, with torch.optim's semantics.
/// `step` updates `parameters[i]` for every i in `ranges` from `gradients[i]` (same layout).
public protocol TrainingOptimiser {
    mutating func step(_ parameters: UnsafeMutablePointer<Double>, gradients: UnsafePointer<Double>,
                       ranges: [Range<Int>], learningRate: Double)
}

/// Stochastic gradient descent as torch.optim.SGD (dampening 0): g ← ∇ + λθ (L2 weight decay
/// added to the gradient); with momentum μ, b ← μ·b + g (b = g on the first step) and the step
/// uses b, or g + μ·b with Nesterov momentum; θ ← θ − lr·step.
public struct SGD: TrainingOptimiser {
    public var momentum: Double
    public var nesterov: Bool
    public var weightDecay: Double
    private var buffer: [Double]
    private var started = false

    public init(count: Int, momentum: Double = 0, nesterov: Bool = false, weightDecay: Double = 0) {
        self.momentum = momentum
        self.nesterov = nesterov
        self.weightDecay = weightDecay
        buffer = [Double](repeating: 0, count: momentum != 0 ? count : 0)
    }

    public mutating func step(_ parameters: UnsafeMutablePointer<Double>, gradients: UnsafePointer<Double>,
                              ranges: [Range<Int>], learningRate: Double) {
        let first = !started
        started = true
        buffer.withUnsafeMutableBufferPointer { buffer in
            for range in ranges {
                for i in range {
                    var g = gradients[i] + weightDecay * parameters[i]
                    if momentum != 0 {
                        buffer[i] = first ? g : momentum * buffer[i] + g
                        g = nesterov ? g + momentum * buffer[i] : buffer[i]
                    }
                    parameters[i] -= learningRate * g
                }
            }
        }
    }
}

/// Adam as torch.optim.Adam: g ← ∇ + λθ; m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²;
/// θ ← θ − lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε). With `decoupled` weight decay it is AdamW
/// instead: θ ← θ·(1 − lr·λ) before the step, and the gradient is left alone.
public struct AdamOptimiser: TrainingOptimiser {
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double
    public var decoupled: Bool
    private var m: [Double]
    private var v: [Double]
    private var t = 0

    public init(count: Int, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
                weightDecay: Double = 0, decoupled: Bool = false) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.decoupled = decoupled
        m = [Double](repeating: 0, count: count)
        v = m
    }

    public mutating func step(_ parameters: UnsafeMutablePointer<Double>, gradients: UnsafePointer<Double>,
                              ranges: [Range<Int>], learningRate: Double) {
        t += 1
        let correction1 = 1 - pow(beta1, Double(t)), correction2 = 1 - pow(beta2, Double(t))
        let (b1, b2, eps, decay, decoupled) = (beta1, beta2, epsilon, weightDecay, decoupled)
        m.withUnsafeMutableBufferPointer { m in
            v.withUnsafeMutableBufferPointer { v in
                for range in ranges {
                    for i in range {
                        var g = gradients[i]
                        if decoupled {
                            parameters[i] *= 1 - learningRate * decay
                        } else {
                            g += decay * parameters[i]
                        }
                        m[i] = b1 * m[i] + (1 - b1) * g
                        v[i] = b2 * v[i] + (1 - b2) * g * g
                        parameters[i] -= learningRate * (m[i] / correction1) / ((v[i] / correction2).squareRoot() + eps)
                    }
                }
            }
        }
    }
}

/// The learning rate of each epoch.
public enum LearningRateSchedule: Sendable, Equatable {
    /// The base rate throughout.
    case constant
    /// base · gamma^⌊epoch / stepSize⌋ (torch's StepLR, stepped once per epoch).
    case step(stepSize: Int, gamma: Double)
    /// minimum + (base − minimum)·(1 + cos(π·epoch/epochs))/2 (torch's CosineAnnealingLR with
    /// T_max = epochs, stepped once per epoch).
    case cosine(minimum: Double)

    /// The rate of 0-based `epoch` out of `epochs`.
    public func rate(base: Double, epoch: Int, epochs: Int) -> Double {
        switch self {
        case .constant: return base
        case .step(let size, let gamma): return base * pow(gamma, Double(epoch / max(size, 1)))
        case .cosine(let minimum):
            return minimum + (base - minimum) * (1 + cos(Double.pi * Double(epoch) / Double(max(epochs, 1)))) / 2
        }
    }
}
