/// The sizes of one 2-D convolution or pooling window over one example.
struct WindowGeometry {
    let channels: Int, height: Int, width: Int
    let kernel: Int, stride: Int, padding: Int
    let outHeight: Int, outWidth: Int

    init(channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int) {
        self.channels = channels
        self.height = height
        self.width = width
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        outHeight = (height + 2 * padding - kernel) / stride + 1
        outWidth = (width + 2 * padding - kernel) / stride + 1
    }

    init(_ input: TensorShape, kernel: Int, stride: Int, padding: Int) {
        self.init(channels: input.channels, height: input.height, width: input.width, kernel: kernel, stride: stride, padding: padding)
    }

    /// Rows and columns of the im2col matrix: (channel, kernel row, kernel column) × output position.
    var columnRows: Int { channels * kernel * kernel }
    var outputPositions: Int { outHeight * outWidth }
    var inputCount: Int { channels * height * width }

    /// The input rows and columns under the window of output (oy, ox), clipped to the image.
    @inline(__always) func window(_ oy: Int, _ ox: Int) -> (rows: Range<Int>, columns: Range<Int>) {
        let y0 = oy * stride - padding, x0 = ox * stride - padding
        return (max(y0, 0)..<min(y0 + kernel, height), max(x0, 0)..<min(x0 + kernel, width))
    }

    /// Output columns whose input column ox·stride + offset − padding lies inside the image.
    @inline(__always) func validColumns(offset b: Int) -> Range<Int> {
        let low = padding - b <= 0 ? 0 : (padding - b + stride - 1) / stride
        let last = width - 1 + padding - b
        let high = last < 0 ? 0 : min(outWidth, last / stride + 1)
        return low..<max(low, high)
    }

    /// Checks that the window fits the (padded) input; `what` names the window in errors.
    static func check(input: [Int], kernel: Int, stride: Int, padding: Int, what: String) throws {
        guard input.count == 3 else {
            throw CFXError(.model, "expects an image input [channels, height, width], got shape \(input)")
        }
        guard kernel > 0 else { throw CFXError(.model, "kernel_size must be positive, got \(kernel)") }
        guard stride > 0 else { throw CFXError(.model, "stride must be positive, got \(stride)") }
        guard padding >= 0 else { throw CFXError(.model, "padding must not be negative, got \(padding)") }
        for (name, value) in [("kernel_size", kernel), ("stride", stride), ("padding", padding)] where value > Limits.window {
            throw CFXError(.model, "\(name) \(value) is over the limit of \(Limits.window)")
        }
        guard kernel <= input[1] + 2 * padding, kernel <= input[2] + 2 * padding else {
            throw CFXError(.model, "\(what) \(kernel)×\(kernel) is larger than the padded input \(input[1] + 2 * padding)×\(input[2] + 2 * padding)")
        }
    }
}

/// Copies one example's input x [C, H, W] to its column matrix [C·k·k, H'·W'] (zero padding).
func im2col(_ x: UnsafePointer<Double>, _ g: WindowGeometry, _ col: UnsafeMutablePointer<Double>) {
    let positions = g.outputPositions
    var row = col
    for c in 0..<g.channels {
        let xc = x + c * g.height * g.width
        for a in 0..<g.kernel {
            for b in 0..<g.kernel {
                let valid = g.validColumns(offset: b)
                for oy in 0..<g.outHeight {
                    let dst = row + oy * g.outWidth
                    let iy = oy * g.stride + a - g.padding
                    guard iy >= 0, iy < g.height else {
                        dst.update(repeating: 0, count: g.outWidth)
                        continue
                    }
                    let base = iy * g.width + b - g.padding
                    for ox in 0..<valid.lowerBound { dst[ox] = 0 }
                    if g.stride == 1 {
                        for ox in valid { dst[ox] = xc[base + ox] }
                    } else {
                        for ox in valid { dst[ox] = xc[base + ox * g.stride] }
                    }
                    for ox in valid.upperBound..<g.outWidth { dst[ox] = 0 }
                }
                row += positions
            }
        }
    }
}

/// Adds a column matrix [C·k·k, H'·W'] back onto one example's input gradient dx [C, H, W]: the
/// transpose of `im2col`.
func col2im(_ col: UnsafePointer<Double>, _ g: WindowGeometry, _ dx: UnsafeMutablePointer<Double>) {
    let positions = g.outputPositions
    var row = col
    for c in 0..<g.channels {
        let dxc = dx + c * g.height * g.width
        for a in 0..<g.kernel {
            for b in 0..<g.kernel {
                let valid = g.validColumns(offset: b)
                for oy in 0..<g.outHeight {
                    let iy = oy * g.stride + a - g.padding
                    guard iy >= 0, iy < g.height else { continue }
                    let src = row + oy * g.outWidth
                    let base = iy * g.width + b - g.padding
                    if g.stride == 1 {
                        for ox in valid { dxc[base + ox] += src[ox] }
                    } else {
                        for ox in valid { dxc[base + ox * g.stride] += src[ox] }
                    }
                }
                row += positions
            }
        }
    }
}

/// 2-D convolution (cross-correlation, as PyTorch's `Conv2d`) of images [C, H, W] with a square
/// kernel, stride and zero padding: weight [out, C, k, k], bias [out]. Runs as im2col + GEMM per
/// example (a 1×1 convolution of stride 1 skips im2col). With `spectralNorm`, the weight is divided
/// by max(1, σ/c) + 1e-5 where σ is the norm of the convolution as an operator on this layer's
/// input shape (see `SpectralNorm`).
public final class Conv2D: Operation, @unchecked Sendable {
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

    private func geometry(_ input: [Int]) -> WindowGeometry {
        WindowGeometry(channels: input[0], height: input[1], width: input[2], kernel: kernelSize, stride: stride, padding: padding)
    }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        try WindowGeometry.check(input: input, kernel: kernelSize, stride: stride, padding: padding, what: "kernel")
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

    public override func scratchCount(input: [Int], batch: Int) -> Int {
        let g = geometry(input)
        return (isPointwise ? 0 : g.columnRows * g.outputPositions) + (spectralNorm == nil ? 0 : outChannels * g.columnRows)
    }

    private func layout(_ parameters: UnsafeMutablePointer<Double>, _ g: WindowGeometry) -> SpectralNorm.Layout {
        let weightCount = outChannels * g.columnRows
        return SpectralNorm.Layout(parameters + weightCount + (hasBias ? outChannels : 0), weightCount: weightCount,
                                   uCount: outChannels * g.outputPositions, vCount: g.inputCount)
    }

    @inline(__always) private func effectiveWeight(_ parameters: UnsafeMutablePointer<Double>, _ g: WindowGeometry) -> UnsafePointer<Double> {
        spectralNorm == nil ? UnsafePointer(parameters) : UnsafePointer(layout(parameters, g).normalised)
    }

    /// The column matrix of x (C·k·k × H'·W'): x itself for a pointwise convolution, else im2col into `col`.
    private func columns(_ x: UnsafePointer<Double>, _ g: WindowGeometry, _ col: UnsafeMutablePointer<Double>) -> UnsafePointer<Double> {
        if isPointwise { return x }
        im2col(x, g, col)
        return UnsafePointer(col)
    }

    /// y = conv_W(x) for one example (no bias); `col` holds C·k·k × H'·W' doubles unless pointwise.
    private func convolve(_ x: UnsafePointer<Double>, _ weight: UnsafePointer<Double>, _ g: WindowGeometry,
                          _ col: UnsafeMutablePointer<Double>, _ y: UnsafeMutablePointer<Double>, beta: Double) {
        let columns = self.columns(x, g, col)
        gemm(transposeA: false, transposeB: false, m: outChannels, n: g.outputPositions, k: g.columnRows,
             weight, lda: g.columnRows, columns, ldb: g.outputPositions, beta: beta, y, ldc: g.outputPositions)
    }

    /// dx += conv_Wᵀ(dy) for one example (the convolution's transpose).
    private func convolveTranspose(_ dy: UnsafePointer<Double>, _ weight: UnsafePointer<Double>, _ g: WindowGeometry,
                                   _ col: UnsafeMutablePointer<Double>, _ dx: UnsafeMutablePointer<Double>) {
        if isPointwise {
            gemm(transposeA: true, transposeB: false, m: g.channels, n: g.outputPositions, k: outChannels,
                 weight, lda: g.columnRows, dy, ldb: g.outputPositions, beta: 1, dx, ldc: g.outputPositions)
            return
        }
        gemm(transposeA: true, transposeB: false, m: g.columnRows, n: g.outputPositions, k: outChannels,
             weight, lda: g.columnRows, dy, ldb: g.outputPositions, beta: 0, col, ldc: g.outputPositions)
        col2im(col, g, dx)
    }

    /// dW (+)= dy · colᵀ for one example: the weight gradient of input x and output gradient dy.
    private func weightGradient(_ x: UnsafePointer<Double>, _ dy: UnsafePointer<Double>, _ g: WindowGeometry,
                                _ col: UnsafeMutablePointer<Double>, _ dWeight: UnsafeMutablePointer<Double>, beta: Double) {
        let columns = self.columns(x, g, col)
        gemm(transposeA: false, transposeB: true, m: outChannels, n: g.columnRows, k: g.outputPositions,
             dy, lda: g.outputPositions, columns, ldb: g.outputPositions, beta: beta, dWeight, ldc: g.columnRows)
    }

    public override func forward(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ c: OperationContext) {
        let g = WindowGeometry(c.inputShape, kernel: kernelSize, stride: stride, padding: padding)
        let weight = effectiveWeight(c.parameters, g), positions = g.outputPositions
        let bias = c.parameters + outChannels * g.columnRows
        for n in 0..<c.batch {
            let yn = y + n * c.outputCount
            if hasBias {
                for o in 0..<outChannels { (yn + o * positions).update(repeating: bias[o], count: positions) }
            }
            convolve(x + n * c.inputCount, weight, g, c.scratch, yn, beta: hasBias ? 1 : 0)
        }
    }

    public override func backward(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                                  _ dx: UnsafeMutablePointer<Double>, _ c: OperationContext) {
        let g = WindowGeometry(c.inputShape, kernel: kernelSize, stride: stride, padding: padding)
        let weight = effectiveWeight(c.parameters, g), positions = g.outputPositions, weightCount = outChannels * g.columnRows
        let col = c.scratch
        // With spectral normalisation, ∂L/∂W̃ gathers here first, then goes through W̃ = W / s(σ(W)).
        let normalisedGradient = col + (isPointwise ? 0 : g.columnRows * positions)
        for n in 0..<c.batch {
            let xn = x + n * c.inputCount, dyn = dy + n * c.outputCount
            if let dWeight = c.parameterGradients {
                if spectralNorm != nil {
                    weightGradient(xn, dyn, g, col, normalisedGradient, beta: n == 0 ? 0 : 1)
                } else {
                    weightGradient(xn, dyn, g, col, dWeight, beta: 1)
                }
                if hasBias {
                    let dBias = dWeight + weightCount
                    for o in 0..<outChannels {
                        var sum = 0.0
                        for p in 0..<positions { sum += dyn[o * positions + p] }
                        dBias[o] += sum
                    }
                }
            }
            convolveTranspose(dyn, weight, g, col, dx + n * c.inputCount)
        }
        if let spectralNorm, let dWeight = c.parameterGradients, c.batch > 0 {
            spectralNorm.accumulateRawGradient(normalisedGradient, weight: c.parameters, count: weightCount,
                                               layout(c.parameters, g), into: dWeight)
        }
    }

    public override func parametersChanged(_ parameters: UnsafeMutablePointer<Double>, input: [Int]) {
        guard let spectralNorm else { return }
        let g = geometry(input), l = layout(parameters, g)
        SpectralNorm.initialiseIfZero(l.u, outChannels * g.outputPositions, seed: 1)
        SpectralNorm.initialiseIfZero(l.v, g.inputCount, seed: 2)
        // σ = ⟨u, conv_W(v)⟩ is linear in W; its gradient is the weight gradient of input v, output gradient u.
        let col = UnsafeMutablePointer<Double>.allocate(capacity: max(g.columnRows * g.outputPositions, 1))
        defer { col.deallocate() }
        weightGradient(l.v, l.u, g, col, l.sigmaGrad, beta: 0)
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
            convolve(l.v, parameters, g, col, l.u, beta: 0)
            SpectralNorm.normalise(l.u, uCount)
        }
        parametersChanged(parameters, input: input)
    }
}
