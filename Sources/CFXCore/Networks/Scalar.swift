import CBLAS
import CFXKernels
import Glibc

/// The number type a network computes in. Float64 is exact enough for gradient checks and small
/// tabular models; float32 halves memory traffic and doubles the SIMD width (convolutional networks,
/// PyTorch's weights as they are).
public enum DType: String, Sendable, CaseIterable {
    case float32, float64
}

/// Float or Double: what the layers' forward and backward passes are generic over.
public protocol NetworkScalar: BinaryFloatingPoint, Sendable {
    static var dtype: DType { get }
    /// `operation.forward` / `backward` for this type: the override of this number type, so that
    /// code generic over the type (the evaluator's tape) reaches the layer's specialised pass.
    static func forward(_ operation: Operation, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>,
                        _ context: OperationContext<Self>)
    static func backward(_ operation: Operation, _ x: UnsafePointer<Self>, _ y: UnsafePointer<Self>, _ dy: UnsafePointer<Self>,
                         _ dx: UnsafeMutablePointer<Self>, _ context: OperationContext<Self>)
    /// C = alpha · op(A) · op(B) + beta · C through OpenBLAS (sgemm or dgemm), row-major.
    static func blasGemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                         _ a: UnsafePointer<Self>, lda: Int, _ b: UnsafePointer<Self>, ldb: Int,
                         beta: Self, _ c: UnsafeMutablePointer<Self>, ldc: Int)
    /// y (rows × outputs) += x (rows × inputs) · wᵀ, w outputs × inputs (CFXKernels: one or a few rows).
    static func denseForward(rows: Int, outputs: Int, inputs: Int, _ x: UnsafePointer<Self>, _ w: UnsafePointer<Self>,
                             _ y: UnsafeMutablePointer<Self>)
    /// dx (rows × inputs) += dy (rows × outputs) · w (CFXKernels).
    static func denseBackward(rows: Int, outputs: Int, inputs: Int, _ dy: UnsafePointer<Self>, _ w: UnsafePointer<Self>,
                              _ dx: UnsafeMutablePointer<Self>)
    /// Softmax of each row, and its backward pass dx += y ⊙ (dy − ⟨dy, y⟩) (CFXKernels).
    static func softmax(rows: Int, width: Int, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>)
    static func softmaxBackward(rows: Int, width: Int, _ y: UnsafePointer<Self>, _ dy: UnsafePointer<Self>,
                                _ dx: UnsafeMutablePointer<Self>)
    /// A small MLP's forward / backward pass in one call (CFXKernels; `SmallChain`).
    static func chainForward(_ layers: UnsafePointer<cfx_chain_layer>, count: Int, rows: Int, _ parameters: UnsafePointer<Self>,
                             _ values: UnsafePointer<UnsafeMutablePointer<Self>?>)
    static func chainBackward(_ layers: UnsafePointer<cfx_chain_layer>, count: Int, rows: Int, _ parameters: UnsafePointer<Self>,
                              _ values: UnsafePointer<UnsafeMutablePointer<Self>?>, _ gradients: UnsafePointer<UnsafeMutablePointer<Self>?>)
    /// 2 × 2, stride 2 max pooling: values and argmax positions (CFXKernels).
    static func maxPool2(planes: Int, height: Int, width: Int, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>,
                         _ argmax: UnsafeMutablePointer<Self>)
    /// Its backward pass: dx[argmax] += dy for each window (CFXKernels).
    static func maxPool2Backward(planes: Int, height: Int, width: Int, _ argmax: UnsafePointer<Self>, _ dy: UnsafePointer<Self>,
                                 _ dx: UnsafeMutablePointer<Self>, accumulate: Bool)
    /// relu and leaky relu, value by value, and their backward passes (dx += …) (CFXKernels; each
    /// value as the scalar expression gives it: Scalar+Elementwise.swift). A backward pass that does
    /// not `accumulate` writes dx as if it had been cleared first.
    static func reluForward(count: Int, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>)
    static func reluBackward(count: Int, _ x: UnsafePointer<Self>, _ dy: UnsafePointer<Self>, _ dx: UnsafeMutablePointer<Self>,
                             accumulate: Bool)
    static func leakyReluForward(count: Int, slope: Self, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>)
    static func leakyReluBackward(count: Int, slope: Self, _ x: UnsafePointer<Self>, _ dy: UnsafePointer<Self>,
                                  _ dx: UnsafeMutablePointer<Self>, accumulate: Bool)
    static func exponential(_ x: Self) -> Self
    /// The whole number this value holds (max pooling's positions), without the generic
    /// conversion's slow path.
    var index: Int { get }
    static func logOnePlus(_ x: Self) -> Self
    static func hyperbolicTangent(_ x: Self) -> Self
}

@inline(__always) private func transpose(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension Double: NetworkScalar {
    public static var dtype: DType { .float64 }
    @inline(__always)
    public static func forward(_ operation: Operation, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>,
                               _ context: OperationContext<Double>) { operation.forward(x, y, context) }
    @inline(__always)
    public static func backward(_ operation: Operation, _ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                                _ dx: UnsafeMutablePointer<Double>, _ context: OperationContext<Double>) {
        operation.backward(x, y, dy, dx, context)
    }
    @inline(__always)
    public static func blasGemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Double,
                                _ a: UnsafePointer<Double>, lda: Int, _ b: UnsafePointer<Double>, ldb: Int,
                                beta: Double, _ c: UnsafeMutablePointer<Double>, ldc: Int) {
        cblas_dgemm(CblasRowMajor, transpose(transposeA), transpose(transposeB), Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inline(__always)
    public static func denseForward(rows: Int, outputs: Int, inputs: Int, _ x: UnsafePointer<Double>, _ w: UnsafePointer<Double>,
                                    _ y: UnsafeMutablePointer<Double>) {
        cfx_dense_forward_f64(rows, outputs, inputs, x, w, y)
    }
    @inline(__always)
    public static func denseBackward(rows: Int, outputs: Int, inputs: Int, _ dy: UnsafePointer<Double>, _ w: UnsafePointer<Double>,
                                     _ dx: UnsafeMutablePointer<Double>) {
        cfx_dense_backward_f64(rows, outputs, inputs, dy, w, dx)
    }
    @inline(__always)
    public static func softmax(rows: Int, width: Int, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>) {
        cfx_softmax_f64(rows, width, x, y)
    }
    @inline(__always)
    public static func softmaxBackward(rows: Int, width: Int, _ y: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                                       _ dx: UnsafeMutablePointer<Double>) {
        cfx_softmax_backward_f64(rows, width, y, dy, dx)
    }
    @inline(__always)
    public static func chainForward(_ layers: UnsafePointer<cfx_chain_layer>, count: Int, rows: Int, _ parameters: UnsafePointer<Double>,
                                    _ values: UnsafePointer<UnsafeMutablePointer<Double>?>) {
        cfx_chain_forward_f64(layers, count, rows, parameters, values)
    }
    @inline(__always)
    public static func chainBackward(_ layers: UnsafePointer<cfx_chain_layer>, count: Int, rows: Int, _ parameters: UnsafePointer<Double>,
                                     _ values: UnsafePointer<UnsafeMutablePointer<Double>?>, _ gradients: UnsafePointer<UnsafeMutablePointer<Double>?>) {
        cfx_chain_backward_f64(layers, count, rows, parameters, values, gradients)
    }
    @inline(__always)
    public static func maxPool2(planes: Int, height: Int, width: Int, _ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>,
                                _ argmax: UnsafeMutablePointer<Double>) {
        cfx_max_pool2_f64(planes, height, width, x, y, argmax)
    }
    @inline(__always) public static func exponential(_ x: Double) -> Double { Glibc.exp(x) }
    @inline(__always) public var index: Int { Int(self) }
    @inline(__always) public static func logOnePlus(_ x: Double) -> Double { Glibc.log1p(x) }
    @inline(__always) public static func hyperbolicTangent(_ x: Double) -> Double { Glibc.tanh(x) }
}

extension Float: NetworkScalar {
    public static var dtype: DType { .float32 }
    @inline(__always)
    public static func forward(_ operation: Operation, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                               _ context: OperationContext<Float>) { operation.forward(x, y, context) }
    @inline(__always)
    public static func backward(_ operation: Operation, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                _ dx: UnsafeMutablePointer<Float>, _ context: OperationContext<Float>) {
        operation.backward(x, y, dy, dx, context)
    }
    @inline(__always)
    public static func blasGemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
                                beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transpose(transposeA), transpose(transposeB), Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inline(__always)
    public static func denseForward(rows: Int, outputs: Int, inputs: Int, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                    _ y: UnsafeMutablePointer<Float>) {
        cfx_dense_forward_f32(rows, outputs, inputs, x, w, y)
    }
    @inline(__always)
    public static func denseBackward(rows: Int, outputs: Int, inputs: Int, _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                     _ dx: UnsafeMutablePointer<Float>) {
        cfx_dense_backward_f32(rows, outputs, inputs, dy, w, dx)
    }
    @inline(__always)
    public static func softmax(rows: Int, width: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        cfx_softmax_f32(rows, width, x, y)
    }
    @inline(__always)
    public static func softmaxBackward(rows: Int, width: Int, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                       _ dx: UnsafeMutablePointer<Float>) {
        cfx_softmax_backward_f32(rows, width, y, dy, dx)
    }
    @inline(__always)
    public static func chainForward(_ layers: UnsafePointer<cfx_chain_layer>, count: Int, rows: Int, _ parameters: UnsafePointer<Float>,
                                    _ values: UnsafePointer<UnsafeMutablePointer<Float>?>) {
        cfx_chain_forward_f32(layers, count, rows, parameters, values)
    }
    @inline(__always)
    public static func chainBackward(_ layers: UnsafePointer<cfx_chain_layer>, count: Int, rows: Int, _ parameters: UnsafePointer<Float>,
                                     _ values: UnsafePointer<UnsafeMutablePointer<Float>?>, _ gradients: UnsafePointer<UnsafeMutablePointer<Float>?>) {
        cfx_chain_backward_f32(layers, count, rows, parameters, values, gradients)
    }
    @inline(__always)
    public static func maxPool2(planes: Int, height: Int, width: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                _ argmax: UnsafeMutablePointer<Float>) {
        cfx_max_pool2_f32(planes, height, width, x, y, argmax)
    }
    @inline(__always) public static func exponential(_ x: Float) -> Float { Glibc.expf(x) }
    @inline(__always) public var index: Int { Int(self) }
    @inline(__always) public static func logOnePlus(_ x: Float) -> Float { Glibc.log1pf(x) }
    @inline(__always) public static func hyperbolicTangent(_ x: Float) -> Float { Glibc.tanhf(x) }
}
