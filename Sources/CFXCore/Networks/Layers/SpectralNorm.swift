import Glibc

/// Spectral normalisation of a layer's weight as DDU (omegafragger/DDU) does it: the layer uses
///
///     W̃ = W / (max(1, σ/c) + 1e-5)
///
/// where σ is the largest singular value of the layer's linear map (a dense layer's matrix, a
/// convolution as an operator on its input shape), estimated by power iteration with vectors u
/// (output side) and v (input side). The vectors are state tensors ("weight_u", "weight_v"): they
/// advance by `powerIterations` steps before each training batch (`prepareTrainingStep`), are saved
/// with the model and stay frozen at inference. σ = ⟨u, A(W) v⟩ is recomputed whenever the weight
/// changes, and gradients reach the raw weight through σ with u and v held constant (as PyTorch's
/// spectral norm does).
///
/// A layer with spectral normalisation owns, after its own tensors: "weight_u" (state),
/// "weight_v" (state), "weight_normalised" (derived, W̃), "weight_sigma_grad" (derived, ∂σ/∂W, which
/// depends only on u and v) and "weight_sigma" (derived, [σ]).
public struct SpectralNorm: Sendable, Equatable {
    /// c: the largest operator norm the layer may have.
    public let coefficient: Double
    /// Power-iteration steps per training batch.
    public let powerIterations: Int

    /// Added to the factor "for stability", as DDU's convolutional spectral norm does.
    public static let stabiliser = 1e-5
    /// Norms below this do not divide (PyTorch's `normalize` eps).
    static let normEpsilon = 1e-12

    public init(coefficient: Double, powerIterations: Int = 1) {
        self.coefficient = coefficient
        self.powerIterations = powerIterations
    }

    func validate() throws {
        guard coefficient > 0, coefficient.isFinite else {
            throw CFXError(.model, "spectral_norm.coefficient must be a positive number, got \(coefficient)")
        }
        guard powerIterations >= 1, powerIterations <= 1000 else {
            throw CFXError(.model, "spectral_norm.power_iterations must be between 1 and 1000, got \(powerIterations)")
        }
    }

    /// The state and derived tensors, for a weight of `weightShape`, u of `uShape`, v of `vShape`.
    static func specs(weight weightShape: [Int], u uShape: [Int], v vShape: [Int]) -> [ParameterSpec] {
        [ParameterSpec("weight_u", uShape, .state), ParameterSpec("weight_v", vShape, .state),
         ParameterSpec("weight_normalised", weightShape, .derived), ParameterSpec("weight_sigma_grad", weightShape, .derived),
         ParameterSpec("weight_sigma", [1], .derived)]
    }

    /// The divisor of the weight for a given σ.
    @inline(__always) func factor(_ sigma: Double) -> Double { max(1, sigma / coefficient) + SpectralNorm.stabiliser }

    /// Where the tensors of `specs(...)` live, given where they start.
    struct Layout<T> {
        let u: UnsafeMutablePointer<T>
        let v: UnsafeMutablePointer<T>
        let normalised: UnsafeMutablePointer<T>
        let sigmaGrad: UnsafeMutablePointer<T>
        let sigma: UnsafeMutablePointer<T>

        init(_ start: UnsafeMutablePointer<T>, weightCount: Int, uCount: Int, vCount: Int) {
            u = start
            v = u + uCount
            normalised = v + vCount
            sigmaGrad = normalised + weightCount
            sigma = sigmaGrad + weightCount
        }
    }

    /// x ← x / max(‖x‖, 1e-12).
    static func normalise(_ x: UnsafeMutablePointer<Double>, _ count: Int) {
        var sum = 0.0
        for i in 0..<count { sum += x[i] * x[i] }
        let scale = 1 / max(sum.squareRoot(), normEpsilon)
        for i in 0..<count { x[i] *= scale }
    }

    /// A vector that is all zeros (a network just built) becomes a fixed pseudo-random unit
    /// vector, so that training is reproducible; any other vector is kept.
    static func initialiseIfZero(_ x: UnsafeMutablePointer<Double>, _ count: Int, seed: UInt64) {
        for i in 0..<count where x[i] != 0 { return }
        var state = seed &+ UInt64(count) &* 0x9E3779B97F4A7C15
        for i in 0..<count {
            state &+= 0x9E3779B97F4A7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            z ^= z >> 31
            x[i] = Double(z >> 11) / Double(1 << 53) * 2 - 1
        }
        normalise(x, count)
    }

    /// Sets σ and W̃ = W / factor(σ) from the raw weight and ∂σ/∂W (already in the layout).
    func finish(weight: UnsafePointer<Double>, count: Int, _ layout: Layout<Double>) {
        var sigma = 0.0
        for i in 0..<count { sigma += layout.sigmaGrad[i] * weight[i] }  // σ = ⟨∂σ/∂W, W⟩ (σ is linear in W)
        layout.sigma[0] = sigma
        let scale = 1 / factor(sigma)
        for i in 0..<count { layout.normalised[i] = weight[i] * scale }
    }

    /// Given G = ∂L/∂W̃, adds ∂L/∂W = G/s − [σ/c > 1] · ⟨G, W⟩/(c s²) · ∂σ/∂W to `dWeight`.
    /// In the network's number type T (the tensors a pass sees).
    func accumulateRawGradient<T: NetworkScalar>(_ g: UnsafePointer<T>, weight: UnsafePointer<T>, count: Int,
                                                 _ layout: Layout<T>, into dWeight: UnsafeMutablePointer<T>) {
        let sigma = Double(layout.sigma[0]), s = factor(sigma)
        let divisor = T(s)
        for i in 0..<count { dWeight[i] += g[i] / divisor }
        guard sigma / coefficient > 1 else { return }
        var dot = 0.0
        for i in 0..<count { dot += Double(g[i]) * Double(weight[i]) }
        let k = T(dot / (coefficient * s * s))
        for i in 0..<count { dWeight[i] -= k * layout.sigmaGrad[i] }
    }
}
