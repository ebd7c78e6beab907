import CBLAS
import CFXKernels
import Glibc

/// The number type a network computes in. Float64 is exact enough for gradient checks and small
/// tabular models; float32 halves memory traffic and doubles the SIMD width (convolutional networks,
/// PyTorch's weights as they are).
public enum DType: String, Sendable, CaseIterable {
    case float32, float64
}

/// Float or Double: what the layers' forward and backward passes are generic over. Only Float and
/// Double conform; each names its `dtype`, and the passes below (and Scalar+Elementwise.swift) are
/// written once for both.
public protocol NetworkScalar: BinaryFloatingPoint, Sendable {
    static var dtype: DType { get }
}

extension Double: NetworkScalar {
    public static var dtype: DType { .float64 }
}

extension Float: NetworkScalar {
    public static var dtype: DType { .float32 }
}

// Each pass switches on `dtype` and calls the function of that number type (OpenBLAS's sgemm or
// dgemm, CFXKernels' _f32 or _f64). In code specialised for Float or Double, which is all of the
// layers' passes, `dtype` is a constant: the switch and the conversions below fold away and the
// one call remains, as if written for that type. In a branch `Self` is that branch's type, so
// `retyped` and the conversions of a value (`Float(slope)`) change nothing but the name of the type.

/// `p`, whose element type is `U` under another name.
@inline(__always) func retyped<T, U>(_ p: UnsafePointer<T>) -> UnsafePointer<U> {
    UnsafeRawPointer(p).assumingMemoryBound(to: U.self)
}

@inline(__always) func retyped<T, U>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<U> {
    UnsafeMutableRawPointer(p).assumingMemoryBound(to: U.self)
}

@inline(__always) private func transpose(_ t: Bool) -> CBLAS_TRANSPOSE { t ? CblasTrans : CblasNoTrans }

extension NetworkScalar {
    /// `operation.forward` / `backward` for this type: the override of this number type, so that
    /// code generic over the type (the evaluator's tape) reaches the layer's specialised pass.
    @inline(__always)
    public static func forward(_ operation: Operation, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>,
                               _ context: OperationContext<Self>) {
        switch dtype {
        case .float32: operation.forward(retyped(x), retyped(y), unsafeBitCast(context, to: OperationContext<Float>.self))
        case .float64: operation.forward(retyped(x), retyped(y), unsafeBitCast(context, to: OperationContext<Double>.self))
        }
    }

    @inline(__always)
    public static func backward(_ operation: Operation, _ x: UnsafePointer<Self>, _ y: UnsafePointer<Self>, _ dy: UnsafePointer<Self>,
                                _ dx: UnsafeMutablePointer<Self>, _ context: OperationContext<Self>) {
        switch dtype {
        case .float32:
            operation.backward(retyped(x), retyped(y), retyped(dy), retyped(dx),
                               unsafeBitCast(context, to: OperationContext<Float>.self))
        case .float64:
            operation.backward(retyped(x), retyped(y), retyped(dy), retyped(dx),
                               unsafeBitCast(context, to: OperationContext<Double>.self))
        }
    }

    /// C = alpha · op(A) · op(B) + beta · C through OpenBLAS (sgemm or dgemm), row-major.
    @inline(__always)
    public static func blasGemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Self,
                                _ a: UnsafePointer<Self>, lda: Int, _ b: UnsafePointer<Self>, ldb: Int,
                                beta: Self, _ c: UnsafeMutablePointer<Self>, ldc: Int) {
        let (ta, tb, m, n, k, lda, ldb, ldc) = (transpose(transposeA), transpose(transposeB), Int32(m), Int32(n), Int32(k),
                                                Int32(lda), Int32(ldb), Int32(ldc))
        switch dtype {
        case .float32: cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, Float(alpha), retyped(a), lda, retyped(b), ldb, Float(beta), retyped(c), ldc)
        case .float64: cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, Double(alpha), retyped(a), lda, retyped(b), ldb, Double(beta), retyped(c), ldc)
        }
    }

    /// y (rows × outputs) += x (rows × inputs) · wᵀ, w outputs × inputs (CFXKernels: one or a few rows).
    @inline(__always)
    public static func denseForward(rows: Int, outputs: Int, inputs: Int, _ x: UnsafePointer<Self>, _ w: UnsafePointer<Self>,
                                    _ y: UnsafeMutablePointer<Self>) {
        switch dtype {
        case .float32: cfx_dense_forward_f32(rows, outputs, inputs, retyped(x), retyped(w), retyped(y))
        case .float64: cfx_dense_forward_f64(rows, outputs, inputs, retyped(x), retyped(w), retyped(y))
        }
    }

    /// dx (rows × inputs) += dy (rows × outputs) · w (CFXKernels); `skippingZeros` (for a finite w
    /// only) skips the weight rows of outputs whose dy is zero, which changes no bit.
    @inline(__always)
    public static func denseBackward(rows: Int, outputs: Int, inputs: Int, _ dy: UnsafePointer<Self>, _ w: UnsafePointer<Self>,
                                     _ dx: UnsafeMutablePointer<Self>, skippingZeros: Bool) {
        let skip: Int32 = skippingZeros ? 1 : 0
        switch dtype {
        case .float32: cfx_dense_backward_f32(rows, outputs, inputs, retyped(dy), retyped(w), retyped(dx), skip)
        case .float64: cfx_dense_backward_f64(rows, outputs, inputs, retyped(dy), retyped(w), retyped(dx), skip)
        }
    }

    /// Softmax of each row (CFXKernels).
    @inline(__always)
    public static func softmax(rows: Int, width: Int, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>) {
        switch dtype {
        case .float32: cfx_softmax_f32(rows, width, retyped(x), retyped(y))
        case .float64: cfx_softmax_f64(rows, width, retyped(x), retyped(y))
        }
    }

    /// Softmax's backward pass dx += y ⊙ (dy − ⟨dy, y⟩) (CFXKernels).
    @inline(__always)
    public static func softmaxBackward(rows: Int, width: Int, _ y: UnsafePointer<Self>, _ dy: UnsafePointer<Self>,
                                       _ dx: UnsafeMutablePointer<Self>) {
        switch dtype {
        case .float32: cfx_softmax_backward_f32(rows, width, retyped(y), retyped(dy), retyped(dx))
        case .float64: cfx_softmax_backward_f64(rows, width, retyped(y), retyped(dy), retyped(dx))
        }
    }

    /// A small MLP's forward pass in one call (CFXKernels; `SmallChain`).
    @inline(__always)
    public static func chainForward(_ layers: UnsafePointer<cfx_chain_layer>, count: Int, rows: Int, _ parameters: UnsafePointer<Self>,
                                    _ values: UnsafePointer<UnsafeMutablePointer<Self>?>) {
        switch dtype {
        case .float32: cfx_chain_forward_f32(layers, count, rows, retyped(parameters), retyped(values))
        case .float64: cfx_chain_forward_f64(layers, count, rows, retyped(parameters), retyped(values))
        }
    }

    /// Its backward pass (CFXKernels; `SmallChain`).
    @inline(__always)
    public static func chainBackward(_ layers: UnsafePointer<cfx_chain_layer>, count: Int, rows: Int, _ parameters: UnsafePointer<Self>,
                                     _ values: UnsafePointer<UnsafeMutablePointer<Self>?>, _ gradients: UnsafePointer<UnsafeMutablePointer<Self>?>) {
        switch dtype {
        case .float32: cfx_chain_backward_f32(layers, count, rows, retyped(parameters), retyped(values), retyped(gradients))
        case .float64: cfx_chain_backward_f64(layers, count, rows, retyped(parameters), retyped(values), retyped(gradients))
        }
    }

    /// 2 × 2, stride 2 max pooling: values and argmax positions (CFXKernels).
    @inline(__always)
    public static func maxPool2(planes: Int, height: Int, width: Int, _ x: UnsafePointer<Self>, _ y: UnsafeMutablePointer<Self>,
                                _ argmax: UnsafeMutablePointer<Self>) {
        switch dtype {
        case .float32: cfx_max_pool2_f32(planes, height, width, retyped(x), retyped(y), retyped(argmax))
        case .float64: cfx_max_pool2_f64(planes, height, width, retyped(x), retyped(y), retyped(argmax))
        }
    }

    @inline(__always) public static func exponential(_ x: Self) -> Self {
        switch dtype {
        case .float32: Self(Glibc.expf(Float(x)))
        case .float64: Self(Glibc.exp(Double(x)))
        }
    }

    @inline(__always) public static func logOnePlus(_ x: Self) -> Self {
        switch dtype {
        case .float32: Self(Glibc.log1pf(Float(x)))
        case .float64: Self(Glibc.log1p(Double(x)))
        }
    }

    @inline(__always) public static func hyperbolicTangent(_ x: Self) -> Self {
        switch dtype {
        case .float32: Self(Glibc.tanhf(Float(x)))
        case .float64: Self(Glibc.tanh(Double(x)))
        }
    }

    /// The whole number this value holds (max pooling's positions).
    @inline(__always) public var index: Int {
        switch Self.dtype {
        case .float32: Int(Float(self))
        case .float64: Int(Double(self))
        }
    }
}
