import CFXKernels

// The value-by-value passes of NetworkScalar in CFXKernels, compiled there for the instruction set
// in use (this module is compiled for baseline x86-64, whose loops run four floats at a time). Each
// value is as the scalar expression gives it. A backward pass that does not `accumulate` writes dx
// as if it had been cleared first. Written once for both types, as in Scalar.swift.

extension NetworkScalar {
    /// Max pooling's backward pass: dx[argmax] += dy for each window. With `relu` (the input of the
    /// relu the pooling read; dx is then written, not added to), relu's backward pass follows in
    /// the same pass: dx = 0 + (relu > 0 ? ∂L/∂(relu's output) : 0).
    @inline(__always)
    public static func maxPool2Backward(planes: Int, height: Int, width: Int, _ argmax: UnsafePointer<Self>,
                                        _ dy: UnsafePointer<Self>, _ dx: UnsafeMutablePointer<Self>, accumulate: Bool,
                                        relu: UnsafePointer<Self>? = nil) {
        let accumulate: Int32 = accumulate ? 1 : 0
        switch dtype {
        case .float32: cfx_max_pool2_backward_f32(planes, height, width, retyped(argmax), retyped(dy), retyped(dx), accumulate,
                                                  relu.map { retyped($0) })
        case .float64: cfx_max_pool2_backward_f64(planes, height, width, retyped(argmax), retyped(dy), retyped(dx), accumulate,
                                                  relu.map { retyped($0) })
        }
    }

    /// relu: y = (0 >= x ? 0 : x).
    @inline(__always)
    public static func reluForward(count: Int, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>) {
        switch dtype {
        case .float32: cfx_relu_forward_f32(count, retyped(x), retyped(y))
        case .float64: cfx_relu_forward_f64(count, retyped(x), retyped(y))
        }
    }

    /// relu's backward pass: dx += (x > 0 ? dy : 0).
    @inline(__always)
    public static func reluBackward(count: Int, _ x: UnsafePointer<Self>, _ dy: UnsafePointer<Self>, _ dx: UnsafeMutablePointer<Self>,
                                    accumulate: Bool) {
        let accumulate: Int32 = accumulate ? 1 : 0
        switch dtype {
        case .float32: cfx_relu_backward_f32(count, retyped(x), retyped(dy), retyped(dx), accumulate)
        case .float64: cfx_relu_backward_f64(count, retyped(x), retyped(dy), retyped(dx), accumulate)
        }
    }

    /// Leaky relu: y = (x > 0 ? x : slope · x).
    @inline(__always)
    public static func leakyReluForward(count: Int, slope: Self, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>) {
        switch dtype {
        case .float32: cfx_leaky_relu_forward_f32(count, Float(slope), retyped(x), retyped(y))
        case .float64: cfx_leaky_relu_forward_f64(count, Double(slope), retyped(x), retyped(y))
        }
    }

    /// Leaky relu's backward pass: dx += (x > 0 ? dy : slope · dy).
    @inline(__always)
    public static func leakyReluBackward(count: Int, slope: Self, _ x: UnsafePointer<Self>, _ dy: UnsafePointer<Self>,
                                         _ dx: UnsafeMutablePointer<Self>, accumulate: Bool) {
        let accumulate: Int32 = accumulate ? 1 : 0
        switch dtype {
        case .float32: cfx_leaky_relu_backward_f32(count, Float(slope), retyped(x), retyped(dy), retyped(dx), accumulate)
        case .float64: cfx_leaky_relu_backward_f64(count, Double(slope), retyped(x), retyped(dy), retyped(dx), accumulate)
        }
    }
}
