import CFXKernels

// The value-by-value passes of NetworkScalar in CFXKernels, compiled there for the instruction set
// in use (this module is compiled for baseline x86-64, whose loops run four floats at a time).

extension Double {
    @inline(__always)
    public static func maxPool2Backward(planes: Int, height: Int, width: Int, _ argmax: UnsafePointer<Double>,
                                        _ dy: UnsafePointer<Double>, _ dx: UnsafeMutablePointer<Double>, accumulate: Bool) {
        cfx_max_pool2_backward_f64(planes, height, width, argmax, dy, dx, accumulate ? 1 : 0)
    }
    @inline(__always)
    public static func reluForward(count: Int, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>) {
        cfx_relu_forward_f64(count, x, y)
    }
    @inline(__always)
    public static func reluBackward(count: Int, _ x: UnsafePointer<Double>, _ dy: UnsafePointer<Double>, _ dx: UnsafeMutablePointer<Double>,
                                    accumulate: Bool) {
        cfx_relu_backward_f64(count, x, dy, dx, accumulate ? 1 : 0)
    }
    @inline(__always)
    public static func leakyReluForward(count: Int, slope: Double, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>) {
        cfx_leaky_relu_forward_f64(count, slope, x, y)
    }
    @inline(__always)
    public static func leakyReluBackward(count: Int, slope: Double, _ x: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                                         _ dx: UnsafeMutablePointer<Double>, accumulate: Bool) {
        cfx_leaky_relu_backward_f64(count, slope, x, dy, dx, accumulate ? 1 : 0)
    }
}

extension Float {
    @inline(__always)
    public static func maxPool2Backward(planes: Int, height: Int, width: Int, _ argmax: UnsafePointer<Float>,
                                        _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        cfx_max_pool2_backward_f32(planes, height, width, argmax, dy, dx, accumulate ? 1 : 0)
    }
    @inline(__always)
    public static func reluForward(count: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        cfx_relu_forward_f32(count, x, y)
    }
    @inline(__always)
    public static func reluBackward(count: Int, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                                    accumulate: Bool) {
        cfx_relu_backward_f32(count, x, dy, dx, accumulate ? 1 : 0)
    }
    @inline(__always)
    public static func leakyReluForward(count: Int, slope: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        cfx_leaky_relu_forward_f32(count, slope, x, y)
    }
    @inline(__always)
    public static func leakyReluBackward(count: Int, slope: Float, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                         _ dx: UnsafeMutablePointer<Float>, accumulate: Bool) {
        cfx_leaky_relu_backward_f32(count, slope, x, dy, dx, accumulate ? 1 : 0)
    }
}
