/// Max or average pooling of images [C, H, W] over square windows, as PyTorch's `max_pool2d` and
/// `avg_pool2d` (floor mode). Max pooling pads with −∞ and remembers each output's position in the
/// scratch memory for the backward pass. Average pooling counts padded zeros in the window
/// (PyTorch's default `count_include_pad=True`): every output is a window sum divided by k².
public final class Pool2D: Operation, WindowedOperation, @unchecked Sendable {
    public enum Mode: Sendable { case max, average }

    public let mode: Mode
    public let kernelSize: Int
    public let stride: Int
    public let padding: Int

    /// `stride` defaults to the kernel size, as in PyTorch.
    public init(_ mode: Mode, kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        self.mode = mode
        self.kernelSize = kernelSize
        self.stride = stride ?? kernelSize
        self.padding = padding
        super.init(kind: mode == .max ? "max_pool2d" : "avg_pool2d")
    }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        try checkWindow(input, what: "window")
        guard 2 * padding <= kernelSize else {
            throw CFXError(.model, "padding must be at most half the kernel size, got padding \(padding) for kernel_size \(kernelSize)")
        }
        // Max pooling keeps each output's position in the scratch, in the network's number type:
        // Float holds whole numbers exactly up to 2^24.
        guard mode == .average || input[1] * input[2] <= 1 << 24 else {
            throw CFXError(.model, "max pooling takes planes of at most 2^24 positions, got \(input[1])×\(input[2])")
        }
        let g = geometry(input)
        return [input[0], g.outHeight, g.outWidth]
    }

    /// 2 × 2 max pooling of stride 2 (maxTiled's windows), whose passes run in CFXKernels.
    private var isMax2: Bool { mode == .max && padding == 0 && stride == 2 && kernelSize == 2 }

    /// Its backward pass can write dx.
    public override var overwritesInputGradient: Bool { isMax2 }

    /// Whether its backward pass can take a relu's before it in the same pass (`backwardThroughRelu`).
    var takesReluBackward: Bool { isMax2 }

    /// The backward passes of this pooling and of the relu whose output it read, in one (for
    /// `takesReluBackward`, when both would write their input's gradient): dx, the relu input's
    /// gradient, gets the bits the two passes give one after the other; the relu output's gradient
    /// is not written.
    func backwardThroughRelu<T: NetworkScalar>(reluInput: UnsafePointer<T>, _ dy: UnsafePointer<T>,
                                               _ dx: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        let (g, planes, _, _) = sizes(c)
        T.maxPool2Backward(planes: planes, height: g.height, width: g.width, UnsafePointer(c.scratch), dy, dx,
                           accumulate: false, relu: reluInput)
    }

    public override func scratchCount(input: [Int], batch: Int) -> Int {
        guard mode == .max else { return 0 }
        let g = geometry(input)
        return batch * input[0] * g.outputPositions
    }

    /// A pass's window and planes (examples × channels), with a plane's input and output sizes.
    private func sizes<T>(_ c: OperationContext<T>) -> (WindowGeometry, planes: Int, inPlane: Int, outPlane: Int) {
        let g = geometry(c.inputShape)
        return (g, c.batch * g.channels, g.height * g.width, g.outputPositions)
    }

    /// Average pooling's 1/k² (padded zeros count in the window).
    private func averageScale<T: NetworkScalar>() -> T { 1 / T(kernelSize * kernelSize) }

    /// Plane by plane, the positions chosen kept row after row in scratch.
    public override var forwardsRowsAlone: Bool { true }

    public override func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { forwardValues(x, y, c) }
    public override func forward(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { forwardValues(x, y, c) }

    private func forwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        let (g, planes, inPlane, outPlane) = sizes(c)
        let scale: T = averageScale()
        if mode == .max && padding == 0 && stride == kernelSize {
            maxTiled(x, y, c.scratch, g, planes: planes)
            return
        }
        for plane in 0..<planes {
            let xp = x + plane * inPlane, yp = y + plane * outPlane, argmax = c.scratch + plane * outPlane
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    let (rows, columns) = g.window(oy, ox)
                    let out = oy * g.outWidth + ox
                    if mode == .max {
                        var best = -T.infinity, at = rows.lowerBound * g.width + columns.lowerBound
                        for iy in rows {
                            for ix in columns where xp[iy * g.width + ix] > best || xp[iy * g.width + ix].isNaN {
                                best = xp[iy * g.width + ix]
                                at = iy * g.width + ix
                                if best.isNaN { break }
                            }
                        }
                        yp[out] = best
                        argmax[out] = T(at)
                    } else {
                        var sum: T = 0
                        for iy in rows {
                            for ix in columns { sum += xp[iy * g.width + ix] }
                        }
                        yp[out] = sum * scale
                    }
                }
            }
        }
    }

    /// Max pooling over windows that tile the image (stride = kernel, no padding, so every window
    /// lies inside it): the general loop's result (the first largest value in row-major order; a
    /// NaN ends the scan of its window row) without its per-window clipping.
    private func maxTiled<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ argmax: UnsafeMutablePointer<T>,
                          _ g: WindowGeometry, planes: Int) {
        let k = kernelSize, width = g.width, inPlane = g.height * g.width, outPlane = g.outputPositions
        if k == 2 {  // the most common window, in CFXKernels (selects, no mispredicted branches)
            T.maxPool2(planes: planes, height: g.height, width: g.width, x, y, argmax)
            return
        }
        for plane in 0..<planes {
            let xp = x + plane * inPlane, yp = y + plane * outPlane, ap = argmax + plane * outPlane
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    let first = oy * k * width + ox * k
                    var best = -T.infinity, at = first
                    for a in 0..<k {
                        let row = first + a * width
                        for b in 0..<k {
                            let v = xp[row + b]
                            if v > best || v.isNaN {
                                best = v
                                at = row + b
                                if v.isNaN { break }
                            }
                        }
                    }
                    yp[oy * g.outWidth + ox] = best
                    ap[oy * g.outWidth + ox] = T(at)
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
        let (g, planes, inPlane, outPlane) = sizes(c)
        if isMax2 {
            T.maxPool2Backward(planes: planes, height: g.height, width: g.width, UnsafePointer(c.scratch), dy, dx,
                               accumulate: !c.overwrite)
            return
        }
        let scale: T = averageScale()
        for plane in 0..<planes {
            let dxp = dx + plane * inPlane, dyp = dy + plane * outPlane, argmax = c.scratch + plane * outPlane
            if mode == .max {
                for out in 0..<outPlane { dxp[argmax[out].index] += dyp[out] }
                continue
            }
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    let (rows, columns) = g.window(oy, ox)
                    let share = dyp[oy * g.outWidth + ox] * scale
                    for iy in rows {
                        for ix in columns { dxp[iy * g.width + ix] += share }
                    }
                }
            }
        }
    }
}

/// Average over each channel's positions: [C, H, W] → [C].
public final class GlobalAveragePool: Operation, @unchecked Sendable {
    public init() { super.init(kind: "global_avg_pool") }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 3 else { throw CFXError(.model, "expects an image input [channels, height, width], got shape \(input)") }
        return [input[0]]
    }

    public override func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { forwardValues(x, y, c) }
    public override func forward(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { forwardValues(x, y, c) }

    private func forwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        let plane = c.inputShape.height * c.inputShape.width, scale = 1 / T(plane)
        for p in 0..<c.batch * c.inputShape.channels {
            var sum: T = 0
            for i in 0..<plane { sum += x[p * plane + i] }
            y[p] = sum * scale
        }
    }

    public override func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                  _ dx: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { backwardValues(x, y, dy, dx, c) }
    public override func backward(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                                  _ dx: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { backwardValues(x, y, dy, dx, c) }

    private func backwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, _ dy: UnsafePointer<T>,
                                                    _ dx: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        let plane = c.inputShape.height * c.inputShape.width, scale = 1 / T(plane)
        for p in 0..<c.batch * c.inputShape.channels {
            let share = dy[p] * scale
            for i in 0..<plane { dx[p * plane + i] += share }
        }
    }
}
