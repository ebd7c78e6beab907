import Glibc

/// A dense layer y = W x + b, with W stored out × in, row-major (PyTorch's layout).
public struct Dense: Sendable {
    public let inputs: Int
    public let outputs: Int
    public let weights: [Double]
    public let bias: [Double]

    public init(inputs: Int, outputs: Int, weights: [Double], bias: [Double]) {
        self.inputs = inputs
        self.outputs = outputs
        self.weights = weights
        self.bias = bias
    }
}

public enum Activation: String, Sendable, CaseIterable {
    case relu, tanh, sigmoid, softmax
}

public enum Layer: Sendable {
    case dense(Dense)
    case activation(Activation)

    public var name: String {
        switch self {
        case .dense: return "dense"
        case .activation(let a): return a.rawValue
        }
    }
}

/// A feed-forward network that cfx evaluates and differentiates itself. Its output is read as
/// class probabilities.
public final class Network: Classifier, @unchecked Sendable {
    public let featureCount: Int
    public let classCount: Int
    public let layers: [Layer]
    /// The layers as plain descriptors over `parameters`, so that passes on several threads share
    /// the weights without touching reference counts.
    let compiled: [CompiledLayer]
    /// Width of the activations after each layer (widths[0] is the input width).
    let widths: [Int]
    private let parameters: UnsafeMutableBufferPointer<Double>

    public var hasExactGradient: Bool { true }

    /// Validates shapes and values; errors name the layer ("layers[2] (dense): ...").
    public init(inputWidth: Int, layers: [Layer]) throws {
        guard inputWidth > 0 else { throw CFXError(.model, "input_shape: must be a positive width, got \(inputWidth)") }
        guard !layers.isEmpty else { throw CFXError(.model, "layers: a network needs at least one layer") }
        var widths = [inputWidth]
        for (i, layer) in layers.enumerated() {
            let width = widths[widths.count - 1]
            let context = "layers[\(i)] (\(layer.name))"
            if case .dense(let dense) = layer {
                guard dense.inputs == width else {
                    throw CFXError(.model, "\(context): weights have \(dense.inputs) columns, but the layer's input has width \(width)")
                }
                guard dense.outputs > 0, dense.weights.count == dense.outputs * dense.inputs else {
                    throw CFXError(.model, "\(context): weights hold \(dense.weights.count) values, expected \(dense.outputs) × \(dense.inputs)")
                }
                guard dense.bias.count == dense.outputs else {
                    throw CFXError(.model, "\(context): bias has \(dense.bias.count) values, expected \(dense.outputs)")
                }
                do {
                    try requireFinite(dense.weights, "\(context).weights")
                    try requireFinite(dense.bias, "\(context).bias")
                } catch let error as CFXError {
                    throw CFXError(.model, error.message)
                }
                widths.append(dense.outputs)
            } else {
                widths.append(width)
            }
        }
        self.featureCount = inputWidth
        self.classCount = widths[widths.count - 1]
        self.layers = layers
        self.widths = widths

        let parameterCount = layers.reduce(0) { total, layer in
            if case .dense(let dense) = layer { return total + dense.weights.count + dense.bias.count }
            return total
        }
        parameters = .allocate(capacity: max(parameterCount, 1))
        var offset = 0
        var compiled: [CompiledLayer] = []
        for (i, layer) in layers.enumerated() {
            switch layer {
            case .dense(let dense):
                let weights = parameters.baseAddress! + offset
                weights.initialize(from: dense.weights, count: dense.weights.count)
                let bias = weights + dense.weights.count
                bias.initialize(from: dense.bias, count: dense.bias.count)
                offset += dense.weights.count + dense.bias.count
                compiled.append(CompiledLayer(kind: .dense, inputs: widths[i], outputs: widths[i + 1],
                                              weights: UnsafePointer(weights), bias: UnsafePointer(bias)))
            case .activation(let activation):
                compiled.append(CompiledLayer(kind: .activation(activation), inputs: widths[i], outputs: widths[i + 1],
                                              weights: nil, bias: nil))
            }
        }
        self.compiled = compiled
    }

    deinit { parameters.deallocate() }

    public func makeEvaluator() -> ClassifierEvaluator { NetworkEvaluator(self) }
}

/// A layer as the passes see it: its kind, widths and pointers into the network's parameters.
struct CompiledLayer {
    enum Kind { case dense, activation(Activation) }
    let kind: Kind
    let inputs: Int
    let outputs: Int
    let weights: UnsafePointer<Double>?  // outputs × inputs, row-major
    let bias: UnsafePointer<Double>?
}

/// Forward and backward passes in scratch memory owned by one thread. The activations of the last
/// forward pass are kept, so a pullback at the point just predicted costs one backward pass.
final class NetworkEvaluator: ClassifierEvaluator {
    private let network: Network
    private let layers: [CompiledLayer]
    private let widths: [Int]
    private let maxWidth: Int
    private var rows = 0
    private var capacityRows = 0
    /// The input and every layer's output for `capacityRows` rows, one after the other.
    private var activations = UnsafeMutableBufferPointer<Double>(start: nil, count: 0)
    private var offsets: [Int] = []
    private var gradient = UnsafeMutableBufferPointer<Double>(start: nil, count: 0)
    private var gradientNext = UnsafeMutableBufferPointer<Double>(start: nil, count: 0)

    init(_ network: Network) {
        self.network = network
        self.layers = network.compiled
        self.widths = network.widths
        self.maxWidth = network.widths.max() ?? 1
    }

    deinit {
        activations.deallocate()
        gradient.deallocate()
        gradientNext.deallocate()
    }

    private func reserve(rows: Int) {
        guard rows > capacityRows else { return }
        activations.deallocate()
        gradient.deallocate()
        gradientNext.deallocate()
        offsets = widths.reduce(into: [0]) { $0.append($0[$0.count - 1] + $1 * rows) }
        activations = .allocate(capacity: offsets[offsets.count - 1])
        gradient = .allocate(capacity: maxWidth * rows)
        gradientNext = .allocate(capacity: maxWidth * rows)
        capacityRows = rows
    }

    private func activation(_ l: Int) -> UnsafeMutablePointer<Double> { activations.baseAddress! + offsets[l] }

    func predict(_ x: UnsafeBufferPointer<Double>, rows: Int, into proba: UnsafeMutableBufferPointer<Double>) throws {
        forward(x, rows: rows)
        proba.baseAddress!.update(from: activation(layers.count), count: rows * network.classCount)
    }

    func pullback(at x: UnsafeBufferPointer<Double>, rows: Int, cotangent: UnsafeBufferPointer<Double>,
                  into grad: UnsafeMutableBufferPointer<Double>) throws {
        if !holdsForwardPass(of: x, rows: rows) { forward(x, rows: rows) }
        gradient.baseAddress!.update(from: cotangent.baseAddress!, count: rows * network.classCount)
        for l in stride(from: layers.count - 1, through: 0, by: -1) {
            backward(layer: l)
            swap(&gradient, &gradientNext)
        }
        grad.baseAddress!.update(from: gradient.baseAddress!, count: rows * network.featureCount)
    }

    private func holdsForwardPass(of x: UnsafeBufferPointer<Double>, rows: Int) -> Bool {
        rows == self.rows && memcmp(activation(0), x.baseAddress!, rows * network.featureCount * MemoryLayout<Double>.size) == 0
    }

    private func forward(_ x: UnsafeBufferPointer<Double>, rows: Int) {
        reserve(rows: rows)
        self.rows = rows
        activation(0).update(from: x.baseAddress!, count: rows * network.featureCount)
        for (l, layer) in layers.enumerated() {
            Self.forward(layer, input: activation(l), output: activation(l + 1), rows: rows)
        }
    }

    private static func forward(_ layer: CompiledLayer, input: UnsafeMutablePointer<Double>, output: UnsafeMutablePointer<Double>, rows: Int) {
        let width = layer.outputs
        switch layer.kind {
        case .dense:
            let w = layer.weights!, b = layer.bias!
            for r in 0..<rows {
                let xRow = input + r * layer.inputs
                for o in 0..<width {
                    let wRow = w + o * layer.inputs
                    var sum = b[o]
                    for i in 0..<layer.inputs { sum += wRow[i] * xRow[i] }
                    output[r * width + o] = sum
                }
            }
        case .activation(.relu):
            for i in 0..<rows * width { output[i] = max(input[i], 0) }
        case .activation(.tanh):
            for i in 0..<rows * width { output[i] = tanh(input[i]) }
        case .activation(.sigmoid):
            for i in 0..<rows * width { output[i] = sigmoid(input[i]) }
        case .activation(.softmax):
            for r in 0..<rows {
                let row = r * width
                var largest = -Double.infinity
                for i in 0..<width { largest = max(largest, input[row + i]) }
                var total = 0.0
                for i in 0..<width {
                    let e = exp(input[row + i] - largest)
                    output[row + i] = e
                    total += e
                }
                for i in 0..<width { output[row + i] /= total }
            }
        }
    }

    /// gradientNext = ∂/∂(input of layer l), from gradient = ∂/∂(output of layer l).
    private func backward(layer l: Int) {
        let layer = layers[l]
        let inputWidth = layer.inputs, width = layer.outputs
        let count = rows * inputWidth
        let input = activation(l), output = activation(l + 1)
        let g = gradient.baseAddress!, next = gradientNext.baseAddress!
        switch layer.kind {
        case .dense:
            let w = layer.weights!
            next.update(repeating: 0, count: count)
            for r in 0..<rows {
                let nextRow = next + r * inputWidth
                for o in 0..<width {
                    let go = g[r * width + o]
                    if go == 0 { continue }
                    let wRow = w + o * inputWidth
                    for i in 0..<inputWidth { nextRow[i] += go * wRow[i] }
                }
            }
        case .activation(.relu):
            for i in 0..<count { next[i] = input[i] > 0 ? g[i] : 0 }
        case .activation(.tanh):
            for i in 0..<count { next[i] = g[i] * (1 - output[i] * output[i]) }
        case .activation(.sigmoid):
            for i in 0..<count { next[i] = g[i] * output[i] * (1 - output[i]) }
        case .activation(.softmax):
            for r in 0..<rows {
                let row = r * width
                var dot = 0.0
                for i in 0..<width { dot += g[row + i] * output[row + i] }
                for i in 0..<width { next[row + i] = output[row + i] * (g[row + i] - dot) }
            }
        }
    }
}

@inline(__always) func sigmoid(_ z: Double) -> Double {
    z >= 0 ? 1 / (1 + exp(-z)) : { let e = exp(z); return e / (1 + e) }()
}
