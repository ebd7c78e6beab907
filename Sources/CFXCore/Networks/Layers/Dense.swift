/// y = W x + b, W stored outputs × inputs (PyTorch's layout). Takes one-dimensional inputs.
/// With `spectralNorm`, the layer uses W̃ = W / (max(1, σ(W)/c) + 1e-5) (see `SpectralNorm`).
public final class Dense: Operation, @unchecked Sendable {
    public let outputs: Int
    public let spectralNorm: SpectralNorm?

    public init(outputs: Int, spectralNorm: SpectralNorm? = nil) {
        self.outputs = outputs
        self.spectralNorm = spectralNorm
        super.init(kind: "dense")
    }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 1 else { throw CFXError(.model, "expects a flat input, got shape \(input) (add a flatten layer)") }
        guard outputs > 0 else { throw CFXError(.model, "outputs must be positive, got \(outputs)") }
        try spectralNorm?.validate()
        return [outputs]
    }

    public override func parameterSpecs(for input: [Int]) -> [ParameterSpec] {
        let own = [ParameterSpec("weight", [outputs, input[0]]), ParameterSpec("bias", [outputs])]
        guard spectralNorm != nil else { return own }
        return own + SpectralNorm.specs(weight: [outputs, input[0]], u: [outputs], v: [input[0]])
    }

    public override func scratchCount(input: [Int], batch: Int) -> Int {
        spectralNorm == nil ? 0 : outputs * input[0]
    }

    private func layout<T>(_ parameters: UnsafeMutablePointer<T>, inputs: Int) -> SpectralNorm.Layout<T> {
        SpectralNorm.Layout(parameters + outputs * inputs + outputs, weightCount: outputs * inputs, uCount: outputs, vCount: inputs)
    }

    /// The weight the layer multiplies by: W, or W̃ with spectral normalisation.
    @inline(__always) private func effectiveWeight<T>(_ parameters: UnsafeMutablePointer<T>, inputs: Int) -> UnsafePointer<T> {
        spectralNorm == nil ? UnsafePointer(parameters) : UnsafePointer(layout(parameters, inputs: inputs).normalised)
    }

    /// PyTorch's default (Kaiming uniform with a = √5): weight and bias from U(−1/√in, 1/√in).
    public override func initialise(_ parameters: UnsafeMutablePointer<Double>, input: [Int], random: inout SeededRandom) {
        let bound = 1 / Double(input[0]).squareRoot()
        for i in 0..<outputs * (input[0] + 1) { parameters[i] = random.uniform(-bound, bound) }
    }

    /// With `rowsAlone` any number of rows takes the kernel, which computes a row as it does alone.
    public override var forwardsRowsAlone: Bool { true }

    public override func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { forwardValues(x, y, c) }
    public override func forward(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { forwardValues(x, y, c) }

    private func forwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        let inputs = c.inputCount, weight = effectiveWeight(c.parameters, inputs: inputs), bias = c.parameters + outputs * inputs
        for r in 0..<c.batch { (y + r * outputs).update(from: bias, count: outputs) }
        if c.rowsAlone || SmallProducts.denseKernel(rows: c.batch, outputs: outputs, inputs: inputs) {
            T.denseForward(rows: c.batch, outputs: outputs, inputs: inputs, x, weight, y)
            return
        }
        gemm(on: c.pool, transposeA: false, transposeB: true, m: c.batch, n: outputs, k: inputs,
             x, lda: inputs, weight, ldb: inputs, beta: 1, y, ldc: outputs)
    }

    public override func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                  _ dx: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { backwardValues(x, y, dy, dx, c) }
    public override func backward(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                                  _ dx: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { backwardValues(x, y, dy, dx, c) }

    private func backwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, _ dy: UnsafePointer<T>,
                                                    _ dx: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        let inputs = c.inputCount, weight = effectiveWeight(c.parameters, inputs: inputs)
        // dx += dy · W
        if SmallProducts.denseKernel(rows: c.batch, outputs: outputs, inputs: inputs) {
            T.denseBackward(rows: c.batch, outputs: outputs, inputs: inputs, dy, weight, dx,
                            skippingZeros: FiniteWeight.check(weight, count: outputs * inputs, c))
        } else {
            gemm(on: c.pool, transposeA: false, transposeB: false, m: c.batch, n: inputs, k: outputs,
                 dy, lda: outputs, weight, ldb: inputs, beta: 1, dx, ldc: inputs)
        }
        guard let dWeight = c.parameterGradients else { return }
        // dW += dyᵀ · x (through W̃ → W with spectral normalisation), db += Σ dy
        if let spectralNorm {
            gemm(transposeA: true, transposeB: false, m: outputs, n: inputs, k: c.batch,
                 dy, lda: outputs, x, ldb: inputs, beta: 0, c.scratch, ldc: inputs)
            spectralNorm.accumulateRawGradient(c.scratch, weight: c.parameters, count: outputs * inputs,
                                               layout(c.parameters, inputs: inputs), into: dWeight)
        } else {
            gemm(transposeA: true, transposeB: false, m: outputs, n: inputs, k: c.batch,
                 dy, lda: outputs, x, ldb: inputs, beta: 1, dWeight, ldc: inputs)
        }
        let dBias = dWeight + outputs * inputs
        for r in 0..<c.batch {
            for o in 0..<outputs { dBias[o] += dy[r * outputs + o] }
        }
    }

    public override func parametersChanged(_ parameters: UnsafeMutablePointer<Double>, input: [Int]) {
        guard let spectralNorm else { return }
        let inputs = input[0], l = layout(parameters, inputs: inputs)
        SpectralNorm.initialiseIfZero(l.u, outputs, seed: 1)
        SpectralNorm.initialiseIfZero(l.v, inputs, seed: 2)
        // ∂σ/∂W = u vᵀ for σ = uᵀ W v
        for o in 0..<outputs {
            for i in 0..<inputs { l.sigmaGrad[o * inputs + i] = l.u[o] * l.v[i] }
        }
        spectralNorm.finish(weight: parameters, count: outputs * inputs, l)
    }

    /// v ← normalise(Wᵀ u), u ← normalise(W v), `powerIterations` times; then W̃ anew.
    public override func prepareTrainingStep(_ parameters: UnsafeMutablePointer<Double>, input: [Int]) {
        guard let spectralNorm else { return }
        let inputs = input[0], l = layout(parameters, inputs: inputs)
        SpectralNorm.initialiseIfZero(l.u, outputs, seed: 1)
        SpectralNorm.initialiseIfZero(l.v, inputs, seed: 2)
        for _ in 0..<spectralNorm.powerIterations {
            for i in 0..<inputs { l.v[i] = 0 }
            for o in 0..<outputs {
                for i in 0..<inputs { l.v[i] += parameters[o * inputs + i] * l.u[o] }
            }
            SpectralNorm.normalise(l.v, inputs)
            for o in 0..<outputs {
                var sum = 0.0
                for i in 0..<inputs { sum += parameters[o * inputs + i] * l.v[i] }
                l.u[o] = sum
            }
            SpectralNorm.normalise(l.u, outputs)
        }
        parametersChanged(parameters, input: input)
    }
}

/// Whether a dense layer's weight (as one evaluator multiplies by it) is finite, kept per call site
/// until the tensors change: then its input gradient may skip the weight rows of outputs whose
/// gradient is zero (`NetworkScalar.denseBackward`), the inactive units behind a relu.
private final class FiniteWeight {
    let version: Int
    let weight: UnsafeRawPointer
    let finite: Bool

    private init(version: Int, weight: UnsafeRawPointer, finite: Bool) {
        self.version = version
        self.weight = weight
        self.finite = finite
    }

    static func check<T: NetworkScalar>(_ weight: UnsafePointer<T>, count: Int, _ c: OperationContext<T>) -> Bool {
        if let known = c.cache.value as? FiniteWeight, known.version == c.parametersVersion, known.weight == UnsafeRawPointer(weight) {
            return known.finite
        }
        var finite = true
        for i in 0..<count where !weight[i].isFinite {
            finite = false
            break
        }
        c.cache.value = FiniteWeight(version: c.parametersVersion, weight: UnsafeRawPointer(weight), finite: finite)
        return finite
    }
}
