/// A 2-D convolution in its general form, as ONNX's Conv and PyTorch's Conv2d define it: groups
/// (depthwise when there are as many groups as channels), dilations, rectangular kernels, a stride
/// per axis and a padding per side. Computed directly, without im2col or BLAS: exact, but slower
/// than `Conv2D`, which a convolution that fits it (a square kernel, one stride, one padding, no
/// groups, no dilation) should use. Weight [out, in / groups, kh, kw] (PyTorch's layout), bias [out].
public final class GroupedConv2D: Operation, @unchecked Sendable {
    public let outChannels: Int
    /// [kh, kw], [sh, sw], [top, left, bottom, right], [dh, dw].
    public let kernel: [Int], stride: [Int], padding: [Int], dilation: [Int]
    public let groups: Int
    public let hasBias: Bool

    public init(outChannels: Int, kernel: [Int], stride: [Int] = [1, 1], padding: [Int] = [0, 0, 0, 0],
                dilation: [Int] = [1, 1], groups: Int = 1, bias: Bool = true) {
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.hasBias = bias
        super.init(kind: "grouped_conv2d")
    }

    /// The sizes of one example's pass.
    private struct Geometry {
        let inChannels: Int, height: Int, width: Int, outHeight: Int, outWidth: Int
        let kh: Int, kw: Int, sh: Int, sw: Int, top: Int, left: Int, dh: Int, dw: Int
        /// Input and output channels of one group.
        let groupIn: Int, groupOut: Int
    }

    private func geometry(_ input: [Int]) -> Geometry {
        let (h, w) = (input[1], input[2])
        let extentH = dilation[0] * (kernel[0] - 1) + 1, extentW = dilation[1] * (kernel[1] - 1) + 1
        return Geometry(inChannels: input[0], height: h, width: w,
                        outHeight: (h + padding[0] + padding[2] - extentH) / stride[0] + 1,
                        outWidth: (w + padding[1] + padding[3] - extentW) / stride[1] + 1,
                        kh: kernel[0], kw: kernel[1], sh: stride[0], sw: stride[1], top: padding[0], left: padding[1],
                        dh: dilation[0], dw: dilation[1], groupIn: input[0] / groups, groupOut: outChannels / groups)
    }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 3 else { throw CFXError(.model, "expects an image input [channels, height, width], got shape \(input)") }
        for (name, values, count, minimum) in [("kernel_size", kernel, 2, 1), ("stride", stride, 2, 1), ("padding", padding, 4, 0),
                                               ("dilation", dilation, 2, 1)] {
            guard values.count == count, values.allSatisfy({ $0 >= minimum && $0 <= Limits.window }) else {
                throw CFXError(.model, "\(name) must be \(count) values in \(minimum)...\(Limits.window), got \(values)")
            }
        }
        guard outChannels > 0, groups > 0 else { throw CFXError(.model, "out_channels and groups must be positive, got \(outChannels) and \(groups)") }
        guard input[0] % groups == 0, outChannels % groups == 0 else {
            throw CFXError(.model, "groups \(groups) must divide the input's \(input[0]) channels and out_channels \(outChannels)")
        }
        let extentH = dilation[0] * (kernel[0] - 1) + 1, extentW = dilation[1] * (kernel[1] - 1) + 1
        guard extentH <= input[1] + padding[0] + padding[2], extentW <= input[2] + padding[1] + padding[3] else {
            throw CFXError(.model, "the dilated kernel \(extentH)×\(extentW) is larger than the padded input")
        }
        let g = geometry(input)
        return [outChannels, g.outHeight, g.outWidth]
    }

    public override func parameterSpecs(for input: [Int]) -> [ParameterSpec] {
        var specs = [ParameterSpec("weight", [outChannels, input[0] / groups, kernel[0], kernel[1]])]
        if hasBias { specs.append(ParameterSpec("bias", [outChannels])) }
        return specs
    }

    /// PyTorch's default: weight and bias uniform in ±1/√fan_in, fan_in = in_channels / groups · kh · kw.
    public override func initialise(_ parameters: UnsafeMutablePointer<Double>, input: [Int], random: inout SeededRandom) {
        let fanIn = input[0] / groups * kernel[0] * kernel[1]
        let bound = 1 / Double(fanIn).squareRoot()
        let count = outChannels * fanIn + (hasBias ? outChannels : 0)
        for i in 0..<count { parameters[i] = random.uniform(-bound, bound) }
    }

    public override func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { forwardValues(x, y, c) }
    public override func forward(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { forwardValues(x, y, c) }

    public override func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                  _ dx: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { backwardValues(x, dy, dx, c) }
    public override func backward(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                                  _ dx: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { backwardValues(x, dy, dx, c) }

    /// Calls `body(weight offset, input offset)` for every tap of output (oy, ox) of output channel
    /// `o` inside the image; padding contributes nothing.
    @inline(__always)
    private func forEachTap(_ g: Geometry, _ o: Int, _ oy: Int, _ ox: Int, _ body: (Int, Int) -> Void) {
        let firstChannel = (o / g.groupOut) * g.groupIn
        for ic in 0..<g.groupIn {
            let weightBase = (o * g.groupIn + ic) * g.kh * g.kw, inputBase = (firstChannel + ic) * g.height * g.width
            for a in 0..<g.kh {
                let iy = oy * g.sh - g.top + a * g.dh
                guard iy >= 0, iy < g.height else { continue }
                for b in 0..<g.kw {
                    let ix = ox * g.sw - g.left + b * g.dw
                    guard ix >= 0, ix < g.width else { continue }
                    body(weightBase + a * g.kw + b, inputBase + iy * g.width + ix)
                }
            }
        }
    }

    private func forwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        let g = geometry(c.inputShape.dims), weight = c.parameters, bias = c.parameters + outChannels * g.groupIn * g.kh * g.kw
        let positions = g.outHeight * g.outWidth
        for n in 0..<c.batch {
            let xn = x + n * c.inputCount, yn = y + n * c.outputCount
            for o in 0..<outChannels {
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        var sum: T = hasBias ? bias[o] : 0
                        forEachTap(g, o, oy, ox) { w, i in sum += weight[w] * xn[i] }
                        yn[o * positions + oy * g.outWidth + ox] = sum
                    }
                }
            }
        }
    }

    private func backwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ dy: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>,
                                                  _ c: OperationContext<T>) {
        let g = geometry(c.inputShape.dims), weight = c.parameters, weightCount = outChannels * g.groupIn * g.kh * g.kw
        let positions = g.outHeight * g.outWidth
        for n in 0..<c.batch {
            let xn = x + n * c.inputCount, dyn = dy + n * c.outputCount, dxn = dx + n * c.inputCount
            for o in 0..<outChannels {
                for oy in 0..<g.outHeight {
                    for ox in 0..<g.outWidth {
                        let d = dyn[o * positions + oy * g.outWidth + ox]
                        forEachTap(g, o, oy, ox) { w, i in dxn[i] += weight[w] * d }
                        guard let grads = c.parameterGradients else { continue }
                        forEachTap(g, o, oy, ox) { w, i in grads[w] += xn[i] * d }
                        if hasBias { grads[weightCount + o] += d }
                    }
                }
            }
        }
    }
}
