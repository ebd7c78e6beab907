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

/// A layer with a square window, `kernelSize` wide, moved by `stride` over the input padded by
/// `padding`: a convolution or a pooling layer.
protocol WindowedOperation {
    var kernelSize: Int { get }
    var stride: Int { get }
    var padding: Int { get }
}

extension WindowedOperation {
    /// The window over one example of shape `input` ([C, H, W]).
    func geometry(_ input: [Int]) -> WindowGeometry {
        WindowGeometry(channels: input[0], height: input[1], width: input[2], kernel: kernelSize, stride: stride, padding: padding)
    }

    func geometry(_ input: TensorShape) -> WindowGeometry {
        WindowGeometry(input, kernel: kernelSize, stride: stride, padding: padding)
    }

    /// Checks that the window fits `input`; `what` names the window in errors.
    func checkWindow(_ input: [Int], what: String) throws {
        try WindowGeometry.check(input: input, kernel: kernelSize, stride: stride, padding: padding, what: what)
    }
}
