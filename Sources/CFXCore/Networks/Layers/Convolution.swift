/// 2-D convolution (cross-correlation, as PyTorch's `Conv2d`) of images [C, H, W] with a square
/// kernel, stride and zero padding: weight [out, C, k, k], bias [out]. A batch runs as one im2col
/// over several examples side by side and one GEMM per chunk of examples (chunks keep the column
/// matrix under `columnBudget` values); a single example of a 1×1 convolution of stride 1 skips
/// im2col. With `spectralNorm`, the weight is divided
/// by max(1, σ/c) + 1e-5 where σ is the norm of the convolution as an operator on this layer's
/// input shape (see `SpectralNorm`).
public final class Conv2D: Operation, WindowedOperation, @unchecked Sendable {
    public let outChannels: Int
    public let kernelSize: Int
    public let stride: Int
    public let padding: Int
    public let hasBias: Bool
    public let spectralNorm: SpectralNorm?

    public init(outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, bias: Bool = true,
                spectralNorm: SpectralNorm? = nil) {
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.hasBias = bias
        self.spectralNorm = spectralNorm
        super.init(kind: "conv2d")
    }

    /// No im2col needed: the input already is the column matrix.
    private var isPointwise: Bool { kernelSize == 1 && stride == 1 && padding == 0 }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        try checkWindow(input, what: "kernel")
        guard outChannels > 0 else { throw CFXError(.model, "out_channels must be positive, got \(outChannels)") }
        try spectralNorm?.validate()
        let g = geometry(input)
        return [outChannels, g.outHeight, g.outWidth]
    }

    public override func parameterSpecs(for input: [Int]) -> [ParameterSpec] {
        let weightShape = [outChannels, input[0], kernelSize, kernelSize]
        var specs = [ParameterSpec("weight", weightShape)]
        if hasBias { specs.append(ParameterSpec("bias", [outChannels])) }
        if spectralNorm != nil {
            let g = geometry(input)
            specs += SpectralNorm.specs(weight: weightShape, u: [outChannels, g.outHeight, g.outWidth], v: input)
        }
        return specs
    }

    /// PyTorch's default: weight and bias uniform in ±1/√fan_in, fan_in = in_channels · k · k.
    public override func initialise(_ parameters: UnsafeMutablePointer<Double>, input: [Int], random: inout SeededRandom) {
        let fanIn = input[0] * kernelSize * kernelSize
        let bound = 1 / Double(fanIn).squareRoot()
        for i in 0..<outChannels * fanIn + (hasBias ? outChannels : 0) { parameters[i] = random.uniform(-bound, bound) }
    }

    /// Most values of the column matrices one call holds at once (the workspace): 2^22.
    static let columnBudget = 1 << 22

    /// Examples per im2col + GEMM chunk.
    private func chunkRows(_ g: WindowGeometry, batch: Int) -> Int {
        let perExample = (g.columnRows + outChannels) * g.outputPositions
        return max(1, min(batch, Self.columnBudget / max(perExample, 1)))
    }

    public override func scratchCount(input: [Int], batch: Int) -> Int {
        spectralNorm == nil ? 0 : outChannels * geometry(input).columnRows
    }

    /// The column matrix of a chunk, then (for chunks of several examples) the GEMM's output.
    public override func workspaceCount(input: [Int], batch: Int) -> Int {
        let g = geometry(input), rows = chunkRows(g, batch: batch)
        return rows * g.outputPositions * (g.columnRows + (rows > 1 ? outChannels : 0))
    }

    private func layout<T>(_ parameters: UnsafeMutablePointer<T>, _ g: WindowGeometry) -> SpectralNorm.Layout<T> {
        let weightCount = outChannels * g.columnRows
        return SpectralNorm.Layout(parameters + weightCount + (hasBias ? outChannels : 0), weightCount: weightCount,
                                   uCount: outChannels * g.outputPositions, vCount: g.inputCount)
    }

    @inline(__always) private func effectiveWeight<T>(_ parameters: UnsafeMutablePointer<T>, _ g: WindowGeometry) -> UnsafePointer<T> {
        spectralNorm == nil ? UnsafePointer(parameters) : UnsafePointer(layout(parameters, g).normalised)
    }

    /// The layer's oneDNN convolution for a float32 call (T is Float), or nil.
    @inline(__always)
    private func prepared<T: NetworkScalar>(_ c: OperationContext<T>, _ g: WindowGeometry, _ weight: UnsafePointer<T>) -> DNNLConvolution? {
        let floats = unsafeBitCast(c, to: OperationContext<Float>.self)
        return DNNLConvolution.prepared(floats, g, outChannels: outChannels, hasBias: hasBias, weight: weight.floats)
    }

    /// The column matrix [C·k·k, rows·H'·W'] of examples start..<start+rows: a single example of a
    /// pointwise convolution is its own column matrix; otherwise im2col into `col`.
    private func columns<T: NetworkScalar>(_ x: UnsafePointer<T>, _ g: WindowGeometry, start: Int, rows: Int,
                                           _ col: UnsafeMutablePointer<T>, _ pool: IntraOpPool?) -> UnsafePointer<T> {
        if isPointwise && rows == 1 { return x + start * g.inputCount }
        let width = rows * g.outputPositions
        forEachColumnBlock(rows, g, pool: pool) { n, channels in
            im2col(x + (start + n) * g.inputCount, g, col + n * g.outputPositions, rowStride: width, channels: channels)
        }
        return UnsafePointer(col)
    }

    public override func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { forwardValues(x, y, c) }
    public override func forward(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { forwardValues(x, y, c) }

    private func forwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        let g = geometry(c.inputShape)
        let weight = effectiveWeight(c.parameters, g), positions = g.outputPositions
        let bias = c.parameters + outChannels * g.columnRows
        if forwardDirect(x, weight, hasBias ? UnsafePointer(bias) : nil, y, g, c) { return }
        if T.self == Float.self, let dnnl = prepared(c, g, weight),
           dnnl.forward(x.floats, bias: hasBias ? UnsafePointer(bias).floats : nil, y.floats, pool: c.pool) {
            return
        }
        let chunk = chunkRows(g, batch: c.batch)
        for start in Swift.stride(from: 0, to: c.batch, by: chunk) {
            let rows = min(chunk, c.batch - start), width = rows * positions
            let columns = self.columns(x, g, start: start, rows: rows, c.workspace, c.pool)
            if rows == 1 {
                // The GEMM writes the example's output directly, on top of the bias.
                let yn = y + start * c.outputCount
                for o in 0..<outChannels { (yn + o * positions).update(repeating: hasBias ? bias[o] : T.zero, count: positions) }
                gemm(on: c.pool, transposeA: false, transposeB: false, m: outChannels, n: positions, k: g.columnRows,
                     weight, lda: g.columnRows, columns, ldb: positions, beta: 1, yn, ldc: positions)
                continue
            }
            let z = c.workspace + g.columnRows * width  // [out, rows·H'·W']
            gemm(on: c.pool, transposeA: false, transposeB: false, m: outChannels, n: width, k: g.columnRows,
                 weight, lda: g.columnRows, columns, ldb: width, beta: 0, z, ldc: width)
            for n in 0..<rows {
                let yn = y + (start + n) * c.outputCount
                for o in 0..<outChannels {
                    let b: T = hasBias ? bias[o] : 0, zo = z + o * width + n * positions, yo = yn + o * positions
                    for p in 0..<positions { yo[p] = zo[p] + b }
                }
            }
        }
    }

    public override func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                  _ dx: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { backwardValues(x, y, dy, dx, c) }
    public override func backward(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                                  _ dx: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { backwardValues(x, y, dy, dx, c) }

    private func backwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, _ dy: UnsafePointer<T>,
                                                    _ dx: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        let g = geometry(c.inputShape)
        let weight = effectiveWeight(c.parameters, g), positions = g.outputPositions, weightCount = outChannels * g.columnRows
        if c.parameterGradients == nil, addDirectInputGradient(dy, weight, dx, g, c) { return }
        if T.self == Float.self, c.parameterGradients == nil, let dnnl = prepared(c, g, weight),
           dnnl.addInputGradient(dy.floats, dx.floats, pool: c.pool) {
            return
        }
        // With spectral normalisation, ∂L/∂W̃ gathers in the scratch first, then goes through W̃ = W / s(σ(W)).
        let normalisedGradient = c.scratch
        let chunk = chunkRows(g, batch: c.batch)
        for start in Swift.stride(from: 0, to: c.batch, by: chunk) {
            let rows = min(chunk, c.batch - start), width = rows * positions
            let col = c.workspace
            // ∂L/∂(GEMM output) [out, rows·H'·W']: the example's own dy, or the chunk's gathered side by side.
            let dz: UnsafePointer<T>
            if rows == 1 {
                dz = dy + start * c.outputCount
            } else {
                let gathered = c.workspace + g.columnRows * width
                for n in 0..<rows {
                    for o in 0..<outChannels {
                        let source = dy + (start + n) * c.outputCount + o * positions
                        (gathered + o * width + n * positions).update(from: source, count: positions)
                    }
                }
                dz = UnsafePointer(gathered)
            }
            if let dWeight = c.parameterGradients {
                // dW (+)= dz · colᵀ, db += Σ dz
                let columns = self.columns(x, g, start: start, rows: rows, col, c.pool)
                let target = spectralNorm == nil ? dWeight : normalisedGradient
                gemm(on: c.pool, transposeA: false, transposeB: true, m: outChannels, n: g.columnRows, k: width,
                     dz, lda: width, columns, ldb: width, beta: spectralNorm != nil && start == 0 ? 0 : 1, target, ldc: g.columnRows)
                if hasBias {
                    let dBias = dWeight + weightCount
                    for o in 0..<outChannels {
                        var sum: T = 0
                        for p in 0..<width { sum += dz[o * width + p] }
                        dBias[o] += sum
                    }
                }
            }
            // dx += conv_Wᵀ(dz): colGrad = Wᵀ · dz, then col2im (a single pointwise example adds Wᵀ · dz directly).
            if isPointwise && rows == 1 {
                gemm(on: c.pool, transposeA: true, transposeB: false, m: g.channels, n: positions, k: outChannels,
                     weight, lda: g.columnRows, dz, ldb: positions, beta: 1, dx + start * c.inputCount, ldc: positions)
                continue
            }
            gemm(on: c.pool, transposeA: true, transposeB: false, m: g.columnRows, n: width, k: outChannels,
                 weight, lda: g.columnRows, dz, ldb: width, beta: 0, col, ldc: width)
            forEachColumnBlock(rows, g, pool: c.pool) { n, channels in
                col2im(col + n * positions, g, dx + (start + n) * c.inputCount, rowStride: width, channels: channels)
            }
        }
        if let spectralNorm, let dWeight = c.parameterGradients, c.batch > 0 {
            spectralNorm.accumulateRawGradient(normalisedGradient, weight: c.parameters, count: weightCount,
                                               layout(c.parameters, g), into: dWeight)
        }
    }

    // Spectral normalisation's power iteration and σ, on the Double tensors of one example's shape.

    /// y = conv_W(x) for one example (no bias); `col` holds C·k·k × H'·W' values.
    private func convolve(_ x: UnsafePointer<Double>, _ weight: UnsafePointer<Double>, _ g: WindowGeometry,
                          _ col: UnsafeMutablePointer<Double>, _ y: UnsafeMutablePointer<Double>) {
        im2col(x, g, col, rowStride: g.outputPositions, channels: 0..<g.channels)
        gemm(transposeA: false, transposeB: false, m: outChannels, n: g.outputPositions, k: g.columnRows,
             weight, lda: g.columnRows, col, ldb: g.outputPositions, beta: 0, y, ldc: g.outputPositions)
    }

    /// dx += conv_Wᵀ(dy) for one example.
    private func convolveTranspose(_ dy: UnsafePointer<Double>, _ weight: UnsafePointer<Double>, _ g: WindowGeometry,
                                   _ col: UnsafeMutablePointer<Double>, _ dx: UnsafeMutablePointer<Double>) {
        gemm(transposeA: true, transposeB: false, m: g.columnRows, n: g.outputPositions, k: outChannels,
             weight, lda: g.columnRows, dy, ldb: g.outputPositions, beta: 0, col, ldc: g.outputPositions)
        col2im(col, g, dx, rowStride: g.outputPositions, channels: 0..<g.channels)
    }

    /// dW = dy · colᵀ for one example of input x and output gradient dy.
    private func weightGradient(_ x: UnsafePointer<Double>, _ dy: UnsafePointer<Double>, _ g: WindowGeometry,
                                _ col: UnsafeMutablePointer<Double>, _ dWeight: UnsafeMutablePointer<Double>) {
        im2col(x, g, col, rowStride: g.outputPositions, channels: 0..<g.channels)
        gemm(transposeA: false, transposeB: true, m: outChannels, n: g.columnRows, k: g.outputPositions,
             dy, lda: g.outputPositions, col, ldb: g.outputPositions, beta: 0, dWeight, ldc: g.columnRows)
    }

    public override func parametersChanged(_ parameters: UnsafeMutablePointer<Double>, input: [Int]) {
        guard let spectralNorm else { return }
        let g = geometry(input), l = layout(parameters, g)
        SpectralNorm.initialiseIfZero(l.u, outChannels * g.outputPositions, seed: 1)
        SpectralNorm.initialiseIfZero(l.v, g.inputCount, seed: 2)
        // σ = ⟨u, conv_W(v)⟩ is linear in W; its gradient is the weight gradient of input v, output gradient u.
        let col = UnsafeMutablePointer<Double>.allocate(capacity: max(g.columnRows * g.outputPositions, 1))
        defer { col.deallocate() }
        weightGradient(l.v, l.u, g, col, l.sigmaGrad)
        spectralNorm.finish(weight: parameters, count: outChannels * g.columnRows, l)
    }

    /// v ← normalise(conv_Wᵀ(u)), u ← normalise(conv_W(v)), `powerIterations` times; then W̃ anew.
    public override func prepareTrainingStep(_ parameters: UnsafeMutablePointer<Double>, input: [Int]) {
        guard let spectralNorm else { return }
        let g = geometry(input), l = layout(parameters, g)
        let uCount = outChannels * g.outputPositions
        SpectralNorm.initialiseIfZero(l.u, uCount, seed: 1)
        SpectralNorm.initialiseIfZero(l.v, g.inputCount, seed: 2)
        let col = UnsafeMutablePointer<Double>.allocate(capacity: max(g.columnRows * g.outputPositions, 1))
        defer { col.deallocate() }
        for _ in 0..<spectralNorm.powerIterations {
            l.v.update(repeating: 0, count: g.inputCount)
            convolveTranspose(l.u, parameters, g, col, l.v)
            SpectralNorm.normalise(l.v, g.inputCount)
            convolve(l.v, parameters, g, col, l.u)
            SpectralNorm.normalise(l.u, uCount)
        }
        parametersChanged(parameters, input: input)
    }
}

extension UnsafePointer {
    /// The same memory as Float, for code that has checked that Pointee is Float.
    @inline(__always) var floats: UnsafePointer<Float> { UnsafeRawPointer(self).assumingMemoryBound(to: Float.self) }
}

extension UnsafeMutablePointer {
    @inline(__always) var floats: UnsafeMutablePointer<Float> { UnsafeMutableRawPointer(self).assumingMemoryBound(to: Float.self) }
}
