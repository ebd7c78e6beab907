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
