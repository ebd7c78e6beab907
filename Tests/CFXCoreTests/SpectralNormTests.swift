import XCTest
@testable import CFXCore

/// The largest singular value of a rows × columns matrix (row-major), by power iteration on AᵀA run
/// to convergence: independent of the layers' own power iteration.
func largestSingularValue(_ a: [Double], rows: Int, columns: Int, iterations: Int = 5000) -> Double {
    var v = (0..<columns).map { 1 + 0.1 * Double($0 % 7) }
    var sigma = 0.0
    for _ in 0..<iterations {
        var av = [Double](repeating: 0, count: rows)
        for i in 0..<rows { for j in 0..<columns { av[i] += a[i * columns + j] * v[j] } }
        var atav = [Double](repeating: 0, count: columns)
        for i in 0..<rows { for j in 0..<columns { atav[j] += a[i * columns + j] * av[i] } }
        let norm = atav.reduce(0) { $0 + $1 * $1 }.squareRoot()
        sigma = norm.squareRoot()  // ‖AᵀA v‖ → σ² for a unit v
        v = atav.map { $0 / norm }
    }
    return sigma
}

/// The convolution (no bias) as an explicit matrix [outputs × inputs] on one input shape.
func convolutionMatrix(weight: [Double], channels: Int, height: Int, width: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int) -> (matrix: [Double], rows: Int, columns: Int) {
    let columns = channels * height * width
    var basisOutputs: [[Double]] = []
    for j in 0..<columns {
        var e = [Double](repeating: 0, count: columns)
        e[j] = 1
        basisOutputs.append(naiveConvolution(e, channels: channels, height: height, width: width, weight: weight, bias: nil,
                                             outChannels: outChannels, kernel: kernel, stride: stride, padding: padding))
    }
    let rows = basisOutputs[0].count
    var matrix = [Double](repeating: 0, count: rows * columns)
    for j in 0..<columns { for i in 0..<rows { matrix[i * columns + j] = basisOutputs[j][i] } }
    return (matrix, rows, columns)
}

final class SpectralNormTests: XCTestCase {
    private func sigma(_ network: Network, _ layer: String) -> Double { network.parameter("\(layer).weight_sigma")![0] }

    func testDenseSigmaIsTheLargestSingularValue() throws {
        // 2×2 closed form: σ² = (‖W‖²_F + √(‖W‖⁴_F − 4 det(W)²)) / 2
        let small = try Network(inputShape: [2], nodes: [.layer(Dense(outputs: 2, spectralNorm: SpectralNorm(coefficient: 100)))])
        try small.setParameter("layers.0.weight", [3, 1, -1, 2])
        small.parametersChanged()
        for _ in 0..<100 { small.prepareTrainingStep() }
        let frobenius = 9.0 + 1 + 1 + 4, det = 3.0 * 2 - 1 * -1
        XCTAssertEqual(sigma(small, "layers.0"), ((frobenius + (frobenius * frobenius - 4 * det * det).squareRoot()) / 2).squareRoot(), accuracy: 1e-12)

        let network = try randomNetwork(inputShape: [6], [.layer(Dense(outputs: 4, spectralNorm: SpectralNorm(coefficient: 100, powerIterations: 2)))], seed: 3)
        for _ in 0..<300 { network.prepareTrainingStep() }
        let weight = Array(network.parameter("layers.0.weight")!)
        XCTAssertEqual(sigma(network, "layers.0"), largestSingularValue(weight, rows: 4, columns: 6), accuracy: 1e-9)
        let u = network.parameter("layers.0.weight_u")!, v = network.parameter("layers.0.weight_v")!
        XCTAssertEqual(u.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-12)
        XCTAssertEqual(v.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-12)
    }

    func testConvolutionSigmaIsTheOperatorNormOnItsInputShape() throws {
        for (stride, padding) in [(2, 1), (1, 1), (1, 0)] {
            let conv = Conv2D(outChannels: 3, kernelSize: 3, stride: stride, padding: padding, spectralNorm: SpectralNorm(coefficient: 100))
            let network = try randomNetwork(inputShape: [2, 5, 5], [.layer(conv)], seed: 4)
            for _ in 0..<1000 { network.prepareTrainingStep() }
            let explicit = convolutionMatrix(weight: Array(network.parameter("layers.0.weight")!), channels: 2, height: 5, width: 5,
                                             outChannels: 3, kernel: 3, stride: stride, padding: padding)
            let expected = largestSingularValue(explicit.matrix, rows: explicit.rows, columns: explicit.columns)
            XCTAssertEqual(sigma(network, "layers.0"), expected, accuracy: 1e-8 * expected, "stride \(stride) padding \(padding)")
            XCTAssertEqual(network.parameter("layers.0.weight_u")!.count, explicit.rows)
        }
    }

    func testNormalisedWeightHasOperatorNormAtMostTheCoefficient() throws {
        let c = 0.5
        let conv = try randomNetwork(inputShape: [2, 5, 5], [.layer(Conv2D(outChannels: 3, kernelSize: 3, stride: 2, padding: 1, spectralNorm: SpectralNorm(coefficient: c)))], seed: 6)
        for _ in 0..<500 { conv.prepareTrainingStep() }
        XCTAssertGreaterThan(sigma(conv, "layers.0"), c, "the test needs a weight above the bound")
        let explicit = convolutionMatrix(weight: Array(conv.parameter("layers.0.weight_normalised")!), channels: 2, height: 5, width: 5,
                                         outChannels: 3, kernel: 3, stride: 2, padding: 1)
        let norm = largestSingularValue(explicit.matrix, rows: explicit.rows, columns: explicit.columns)
        XCTAssertLessThanOrEqual(norm, c * (1 + 1e-8))
        XCTAssertEqual(norm, c / (1 + 2e-5), accuracy: 1e-4, "σ/c > 1, so the norm is c up to the 1e-5 stabiliser")

        let dense = try randomNetwork(inputShape: [5], [.layer(Dense(outputs: 4, spectralNorm: SpectralNorm(coefficient: c)))], seed: 8)
        for _ in 0..<500 { dense.prepareTrainingStep() }
        XCTAssertLessThanOrEqual(largestSingularValue(Array(dense.parameter("layers.0.weight_normalised")!), rows: 4, columns: 5), c * (1 + 1e-8))

        // Below the bound, the weight passes (divided only by 1 + 1e-5).
        let loose = try randomNetwork(inputShape: [5], [.layer(Dense(outputs: 4, spectralNorm: SpectralNorm(coefficient: 1000)))], seed: 8)
        loose.prepareTrainingStep()
        for (a, b) in zip(loose.parameter("layers.0.weight_normalised")!, loose.parameter("layers.0.weight")!) {
            XCTAssertEqual(a, b / (1 + SpectralNorm.stabiliser), accuracy: 1e-15)
        }
    }

    func testGradientsThroughSigmaMatchFiniteDifferences() throws {
        for c in [0.3, 1000] {  // σ above the bound (the factor depends on W) and below it (pass-through)
            let dense = try randomNetwork(inputShape: [5], [.layer(Dense(outputs: 4, spectralNorm: SpectralNorm(coefficient: c))), .layer(Elementwise(.tanh)),
                                                            .layer(Dense(outputs: 3, spectralNorm: SpectralNorm(coefficient: c))), .layer(Softmax())], seed: 11)
            for _ in 0..<30 { dense.prepareTrainingStep() }  // then u and v stay fixed while the check perturbs W
            try assertGradientsMatchFiniteDifferences(dense, rows: 3)

            let conv = try randomNetwork(inputShape: [2, 5, 5], [
                .layer(Conv2D(outChannels: 3, kernelSize: 3, stride: 2, padding: 1, spectralNorm: SpectralNorm(coefficient: c))),
                .layer(Elementwise(.leakyRelu(slope: 0.01))),
                .layer(Conv2D(outChannels: 2, kernelSize: 1, bias: false, spectralNorm: SpectralNorm(coefficient: c))),
            ], seed: 12)
            for _ in 0..<30 { conv.prepareTrainingStep() }
            if c < 1 {
                for layer in ["layers.0", "layers.2"] {
                    XCTAssertGreaterThan(sigma(dense, layer), c)
                    XCTAssertGreaterThan(sigma(conv, layer), c)
                }
            }
            try assertGradientsMatchFiniteDifferences(conv, rows: 2)
        }
    }

    func testInitialVectorsAreDeterministicAndInferenceKeepsThem() throws {
        func build() throws -> Network {
            let network = try Network(inputShape: [2, 4, 4], nodes: [.layer(Conv2D(outChannels: 2, kernelSize: 3, spectralNorm: SpectralNorm(coefficient: 1))),
                                                                      .layer(Flatten()), .layer(Dense(outputs: 2, spectralNorm: SpectralNorm(coefficient: 1)))])
            for i in network.parameters.indices { network.parameters[i] = sin(Double(i)) }
            for (name, spec, range) in network.parameterList where spec.role == .state { for i in range { network.parameters[i] = 0 } ; _ = name }
            network.parametersChanged()
            return network
        }
        let a = try build(), b = try build()
        XCTAssertEqual(Array(a.parameters), Array(b.parameters))
        for name in ["layers.0.weight_u", "layers.0.weight_v", "layers.2.weight_u", "layers.2.weight_v"] {
            XCTAssertEqual(a.parameter(name)!.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-12, name)
        }
        let before = Array(a.parameters)
        _ = forwardOutput(a, (0..<64).map { cos(Double($0)) }, rows: 2)
        XCTAssertEqual(Array(a.parameters), before, "a forward pass changes no state")
        a.prepareTrainingStep()
        XCTAssertNotEqual(Array(a.parameter("layers.0.weight_u")!), Array(b.parameter("layers.0.weight_u")!))
    }
}
