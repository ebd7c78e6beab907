/// A function applied to every value on its own: relu, leaky relu, tanh, sigmoid, softplus.
public final class Elementwise: Operation, @unchecked Sendable {
    public enum Function: Sendable, Equatable {
        case relu
        case leakyRelu(slope: Double)
        case tanh
        case sigmoid
        case softplus
    }

    public let function: Function

    public init(_ function: Function) {
        self.function = function
        switch function {
        case .relu: super.init(kind: "relu")
        case .leakyRelu: super.init(kind: "leaky_relu")
        case .tanh: super.init(kind: "tanh")
        case .sigmoid: super.init(kind: "sigmoid")
        case .softplus: super.init(kind: "softplus")
        }
    }

    public override func outputShape(for input: [Int]) throws -> [Int] { input }

    /// relu and leaky relu (CFXKernels) write dx when asked.
    public override var overwritesInputGradient: Bool {
        switch function {
        case .relu, .leakyRelu: true
        default: false
        }
    }

    /// Value by value.
    public override var forwardsRowsAlone: Bool { true }

    public override func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { forwardValues(x, y, c) }
    public override func forward(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { forwardValues(x, y, c) }

    private func forwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        let count = c.batch * c.inputCount
        switch function {
        // relu y = max(x, 0), leaky relu y = x > 0 ? x : slope · x (CFXKernels)
        case .relu: splitValues(count, on: c.pool) { r in T.reluForward(count: r.count, x + r.lowerBound, y + r.lowerBound) }
        case .leakyRelu(let slope):
            splitValues(count, on: c.pool) { r in T.leakyReluForward(count: r.count, slope: T(slope), x + r.lowerBound, y + r.lowerBound) }
        case .tanh: for i in 0..<count { y[i] = T.hyperbolicTangent(x[i]) }
        case .sigmoid: for i in 0..<count { y[i] = logistic(x[i]) }
        // log(1 + eˣ) without overflow for large x
        case .softplus: for i in 0..<count { y[i] = max(x[i], 0) + T.logOnePlus(T.exponential(-abs(x[i]))) }
        }
    }

    public override func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                  _ dx: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { backwardValues(x, y, dy, dx, c) }
    public override func backward(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                                  _ dx: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { backwardValues(x, y, dy, dx, c) }

    private func backwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, _ dy: UnsafePointer<T>,
                                                    _ dx: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        let count = c.batch * c.inputCount
        switch function {
        // dx += x > 0 ? dy : 0, and x > 0 ? dy : slope · dy (CFXKernels: selects, no branches)
        case .relu:
            splitValues(count, on: c.pool) { r in
                T.reluBackward(count: r.count, x + r.lowerBound, dy + r.lowerBound, dx + r.lowerBound, accumulate: !c.overwrite)
            }
        case .leakyRelu(let slope):
            splitValues(count, on: c.pool) { r in
                T.leakyReluBackward(count: r.count, slope: T(slope), x + r.lowerBound, dy + r.lowerBound, dx + r.lowerBound,
                                    accumulate: !c.overwrite)
            }
        case .tanh: for i in 0..<count { dx[i] += dy[i] * (1 - y[i] * y[i]) }
        case .sigmoid: for i in 0..<count { dx[i] += dy[i] * y[i] * (1 - y[i]) }
        case .softplus: for i in 0..<count { dx[i] += dy[i] * logistic(x[i]) }
        }
    }
}

/// Softmax over each example's values.
public final class Softmax: Operation, @unchecked Sendable {
    public init() { super.init(kind: "softmax") }

    public override func outputShape(for input: [Int]) throws -> [Int] { input }

    /// Row by row.
    public override var forwardsRowsAlone: Bool { true }

    public override func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { forwardValues(x, y, c) }
    public override func forward(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { forwardValues(x, y, c) }

    private func forwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        T.softmax(rows: c.batch, width: c.inputCount, x, y)
    }

    public override func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                  _ dx: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { backwardValues(x, y, dy, dx, c) }
    public override func backward(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                                  _ dx: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { backwardValues(x, y, dy, dx, c) }

    private func backwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, _ dy: UnsafePointer<T>,
                                                    _ dx: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        T.softmaxBackward(rows: c.batch, width: c.inputCount, y, dy, dx)
    }
}

@inline(__always) func logistic<T: NetworkScalar>(_ z: T) -> T {
    if z >= 0 { return 1 / (1 + T.exponential(-z)) }
    let e = T.exponential(z)
    return e / (1 + e)
}
