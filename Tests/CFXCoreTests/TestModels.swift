import XCTest
@testable import CFXCore

/// A deterministic pseudo-random generator so that test networks are the same on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}

func randomValues(_ count: Int, _ rng: inout SplitMix64, scale: Double = 1) -> [Double] {
    (0..<count).map { _ in Double.random(in: -scale...scale, using: &rng) }
}

/// A network with every tensor drawn uniformly from [-scale, scale].
func randomNetwork(inputShape: [Int], _ nodes: [NetworkNode], seed: UInt64, scale: Double = 1) throws -> Network {
    var rng = SplitMix64(state: seed)
    let network = try Network(inputShape: inputShape, nodes: nodes)
    for i in network.parameters.indices { network.parameters[i] = Double.random(in: -scale...scale, using: &rng) }
    network.parametersChanged()
    return network
}

/// A 2-feature, 3-class linear softmax classifier with well-separated classes.
func linearSoftmax() throws -> Network {
    let network = try Network(inputShape: [2], nodes: [.layer(Dense(outputs: 3)), .layer(Softmax())])
    try network.setParameter("layers.0.weight", [3, 0, 0, 3, -3, -3])
    try network.setParameter("layers.0.bias", [0, 0, 0])
    return network
}

/// The same classifier as a callback model, with or without its exact vector-Jacobian product.
func callbackCopy(of network: Network, exactGradient: Bool) throws -> CallbackClassifier {
    let predict: CallbackClassifier.Predict = { x, rows, proba in
        let evaluator = network.makeEvaluator()
        try evaluator.predict(x, rows: rows, into: proba)
    }
    let vjp: CallbackClassifier.VectorJacobianProduct = { x, rows, cotangent, grad in
        try network.makeEvaluator().pullback(at: x, rows: rows, cotangent: cotangent, into: grad)
    }
    return try CallbackClassifier(featureCount: network.featureCount, classCount: network.classCount,
                                  predict: predict, vjp: exactGradient ? vjp : nil)
}

// MARK: Gradient checks

/// Σ cotangent ⊙ output(x) for buffer `buffer`.
func objective(_ evaluator: NetworkEvaluator, _ x: [Double], rows: Int, buffer: Int, _ cotangent: [Double], training: Bool = false) -> Double {
    x.withUnsafeBufferPointer { evaluator.forward($0, rows: rows, through: buffer, training: training) }
    return zip(evaluator.value(buffer), cotangent).reduce(0) { $0 + $1.0 * $1.1 }
}

/// Checks ∂/∂x and ∂/∂θ (every trainable tensor) of Σ cotangent ⊙ output against central differences,
/// in inference mode or (`training`) in training mode, where batch norm differentiates through the
/// batch statistics.
func assertGradientsMatchFiniteDifferences(_ network: Network, output: String = "probabilities", rows: Int = 2, seed: UInt64 = 7,
                                           training: Bool = false, file: StaticString = #filePath, line: UInt = #line) throws {
    var rng = SplitMix64(state: seed)
    let buffer = try network.outputBuffer(output)
    let outputCount = try network.outputShape(output).reduce(1, *)
    let evaluator = network.makeEvaluator() as! NetworkEvaluator
    let x = randomValues(rows * network.featureCount, &rng, scale: 1.5)
    let cotangent = randomValues(rows * outputCount, &rng)
    x.withUnsafeBufferPointer { evaluator.forward($0, rows: rows, through: buffer, training: training) }
    var parameterGradients = [Double](repeating: 0, count: network.parameters.count)
    let inputGradient = cotangent.withUnsafeBufferPointer { cs in
        parameterGradients.withUnsafeMutableBufferPointer { Array(evaluator.backward(from: buffer, cotangent: cs, parameterGradients: $0.baseAddress)) }
    }
    let h = 1e-6
    func tolerance(_ v: Double) -> Double { 1e-6 + 1e-5 * abs(v) }
    for j in 0..<x.count {
        var plus = x, minus = x
        plus[j] += h
        minus[j] -= h
        let numeric = (objective(evaluator, plus, rows: rows, buffer: buffer, cotangent, training: training) - objective(evaluator, minus, rows: rows, buffer: buffer, cotangent, training: training)) / (2 * h)
        XCTAssertEqual(inputGradient[j], numeric, accuracy: tolerance(numeric), "input \(j)", file: file, line: line)
    }
    for (name, spec, range) in network.parameterList where spec.role == .trainable {
        for p in range {
            let saved = network.parameters[p]
            network.parameters[p] = saved + h
            network.parametersChanged()
            let up = objective(evaluator, x, rows: rows, buffer: buffer, cotangent, training: training)
            network.parameters[p] = saved - h
            network.parametersChanged()
            let down = objective(evaluator, x, rows: rows, buffer: buffer, cotangent, training: training)
            network.parameters[p] = saved
            network.parametersChanged()
            let numeric = (up - down) / (2 * h)
            XCTAssertEqual(parameterGradients[p], numeric, accuracy: tolerance(numeric), "\(name)[\(p - range.lowerBound)]", file: file, line: line)
        }
    }
}

/// Runs `body` under every instruction set of cfx's kernels that this processor runs (see
/// `KernelSet`), then returns to the set in use before.
func forEachKernelSet(_ body: (String) throws -> Void) rethrows {
    let before = KernelSet.current
    defer { KernelSet.use(before) }
    for set in KernelSet.supported {
        XCTAssertTrue(KernelSet.use(set))
        XCTAssertEqual(KernelSet.current, set)
        try body(set)
    }
}
