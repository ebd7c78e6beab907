import Glibc

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

    public override func forward(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ c: OperationContext) {
        let count = c.batch * c.inputCount
        switch function {
        case .relu: for i in 0..<count { y[i] = max(x[i], 0) }
        case .leakyRelu(let slope): for i in 0..<count { y[i] = x[i] > 0 ? x[i] : slope * x[i] }
        case .tanh: for i in 0..<count { y[i] = Glibc.tanh(x[i]) }
        case .sigmoid: for i in 0..<count { y[i] = logistic(x[i]) }
        // log(1 + eˣ) without overflow for large x
        case .softplus: for i in 0..<count { y[i] = max(x[i], 0) + log1p(exp(-abs(x[i]))) }
        }
    }

    public override func backward(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                         _ dx: UnsafeMutablePointer<Double>, _ c: OperationContext) {
        let count = c.batch * c.inputCount
        switch function {
        // A select rather than a branch: vectorised, and no mispredictions on random signs.
        case .relu: for i in 0..<count { dx[i] += x[i] > 0 ? dy[i] : 0 }
        case .leakyRelu(let slope): for i in 0..<count { dx[i] += x[i] > 0 ? dy[i] : slope * dy[i] }
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

    public override func forward(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ c: OperationContext) {
        let width = c.inputCount
        for r in 0..<c.batch {
            let xr = x + r * width, yr = y + r * width
            var largest = -Double.infinity
            for i in 0..<width { largest = max(largest, xr[i]) }
            var total = 0.0
            for i in 0..<width {
                yr[i] = exp(xr[i] - largest)
                total += yr[i]
            }
            for i in 0..<width { yr[i] /= total }
        }
    }

    public override func backward(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                         _ dx: UnsafeMutablePointer<Double>, _ c: OperationContext) {
        let width = c.inputCount
        for r in 0..<c.batch {
            let yr = y + r * width, dyr = dy + r * width, dxr = dx + r * width
            var dot = 0.0
            for i in 0..<width { dot += dyr[i] * yr[i] }
            for i in 0..<width { dxr[i] += yr[i] * (dyr[i] - dot) }
        }
    }
}

@inline(__always) func logistic(_ z: Double) -> Double {
    if z >= 0 { return 1 / (1 + exp(-z)) }
    let e = exp(z)
    return e / (1 + e)
}
