import XCTest
@testable import CFXCore

/// An MLP's passes in one C call (`SmallChain`) give the bits of the layer-by-layer passes.
final class SmallChainTests: XCTestCase {
    private func mlp(dtype: DType) throws -> Network {
        let nodes: [NetworkNode] = [.layer(Dense(outputs: 64)), .layer(Elementwise(.relu)), .layer(Dense(outputs: 37)),
                                    .layer(Elementwise(.relu)), .layer(Dense(outputs: 10)), .layer(Softmax())]
        return try randomNetwork(inputShape: [64], nodes, seed: 5, scale: 0.3).converted(to: dtype)
    }

    /// The chain's values against the layer-by-layer pass's: the same bits in float32; in float64
    /// within rounding, as its dense layers with a multiple of 8 outputs add their terms in input
    /// order (`cfx_chain_layer`'s `transposed`), NaN where the other has NaN.
    private func assertChainValues(_ chained: [Double], _ layered: [Double], _ dtype: DType, _ message: String,
                                   file: StaticString = #filePath, line: UInt = #line) {
        guard dtype == .float64 else {
            return XCTAssertEqual(chained.map(\.bitPattern), layered.map(\.bitPattern), message, file: file, line: line)
        }
        XCTAssertEqual(chained.count, layered.count, message, file: file, line: line)
        for (a, b) in zip(chained, layered) where !(a.isNaN && b.isNaN) {
            XCTAssertEqual(a, b, accuracy: 1e-12 * max(1, abs(b)), message, file: file, line: line)
        }
    }

    /// The input-order products give a row the same bits alone or paired, whichever inputs are
    /// zero in the other row (an input is left out only when it is zero in both).
    func testRowsAloneInInputOrder() throws {
        try forEachKernelSet { _ in try rowsAloneInInputOrder() }
    }

    private func rowsAloneInInputOrder() throws {
        let network = try mlp(dtype: .float64)
        var random = SeededRandom(seed: 21)
        var x = (0..<128).map { _ in random.uniform(-2, 2) }
        for i in stride(from: 0, to: 64, by: 3) { x[i] = 0 }       // zero in row 0 only, or in both
        for i in stride(from: 64, to: 128, by: 2) { x[i] = 0 }     // zero in row 1
        let chained = NetworkEvaluator(network, threads: 1, smallChain: true)
        func predict(_ rows: ArraySlice<Double>, _ evaluator: NetworkEvaluator) -> [Double] {
            var proba = [Double](repeating: 0, count: rows.count / 64 * 10)
            Array(rows).withUnsafeBufferPointer { xs in
                try! proba.withUnsafeMutableBufferPointer { try evaluator.predict(xs, rows: rows.count / 64, into: $0) }
            }
            return proba
        }
        let paired = predict(x[...], chained), alone = predict(x[0..<64], chained) + predict(x[64..<128], chained)
        XCTAssertEqual(paired.map(\.bitPattern), alone.map(\.bitPattern))
        let layered = predict(x[...], NetworkEvaluator(network, threads: 1, smallChain: false))
        assertChainValues(paired, layered, .float64, "against layer by layer")
        XCTAssertNotEqual(paired, layered, "the input-order products are in use")
    }

    private func passes(_ network: Network, rows: Int, smallChain: Bool) -> (proba: [Double], gradient: [Double]) {
        var random = SeededRandom(seed: 9)
        let x = (0..<rows * 64).map { _ in random.uniform(-2, 2) }
        let cotangent = (0..<rows * 10).map { _ in random.uniform(-1, 1) }
        let evaluator = NetworkEvaluator(network, threads: 1, smallChain: smallChain)
        var proba = [Double](repeating: 0, count: rows * 10), gradient = [Double](repeating: 0, count: rows * 64)
        x.withUnsafeBufferPointer { xs in
            try! proba.withUnsafeMutableBufferPointer { try evaluator.predict(xs, rows: rows, into: $0) }
            cotangent.withUnsafeBufferPointer { cs in
                try! gradient.withUnsafeMutableBufferPointer { try evaluator.pullback(at: xs, rows: rows, cotangent: cs, into: $0) }
            }
        }
        return (proba, gradient)
    }

    func testSameBitsAsLayerByLayer() throws {
        try forEachKernelSet { _ in try sameBitsAsLayerByLayer() }
    }

    private func sameBitsAsLayerByLayer() throws {
        for dtype in DType.allCases {
            let network = try mlp(dtype: dtype)
            assertChain(network)
            // 1 and 3 rows take the chain; 20 rows of a 64 x 64 product do not (the layers' GEMMs).
            for rows in [1, 3, 20] {
                let chained = passes(network, rows: rows, smallChain: true), layered = passes(network, rows: rows, smallChain: false)
                assertChainValues(chained.proba, layered.proba, dtype, "\(dtype) probabilities, \(rows) rows")
                assertChainValues(chained.gradient, layered.gradient, dtype, "\(dtype) input gradient, \(rows) rows")
                XCTAssertTrue(chained.gradient.contains { $0 != 0 }, "\(dtype): a gradient to compare")
            }
        }
    }

    /// The chain's backward pass writes its gradients instead of adding to cleared ones: passes
    /// one after another on one evaluator get the gradients of fresh layer-by-layer passes.
    func testRepeatedPassesGetFreshGradients() throws {
        try forEachKernelSet { _ in try repeatedPassesGetFreshGradients() }
    }

    private func repeatedPassesGetFreshGradients() throws {
        for dtype in DType.allCases {
            let network = try mlp(dtype: dtype)
            let chained = NetworkEvaluator(network, threads: 1, smallChain: true)
            var random = SeededRandom(seed: 12)
            for pass in 0..<3 {
                let x = (0..<64).map { _ in random.uniform(-2, 2) }
                let cotangent = (0..<10).map { _ in random.uniform(-1, 1) }
                let gradients = [chained, NetworkEvaluator(network, threads: 1, smallChain: false)].map { evaluator in
                    var gradient = [Double](repeating: 0, count: 64)
                    x.withUnsafeBufferPointer { xs in
                        cotangent.withUnsafeBufferPointer { cs in
                            try! gradient.withUnsafeMutableBufferPointer { try evaluator.pullback(at: xs, rows: 1, cotangent: cs, into: $0) }
                        }
                    }
                    return gradient
                }
                assertChainValues(gradients[0], gradients[1], dtype, "\(dtype), pass \(pass)")
            }
        }
    }

    func testOnlyPlainChains() throws {
        let spectral = try randomNetwork(inputShape: [4], [.layer(Dense(outputs: 3, spectralNorm: SpectralNorm(coefficient: 2))), .layer(Softmax())], seed: 1)
        XCTAssertNil(SmallChain(spectral))  // (nil allocates nothing)
        let tanh = try randomNetwork(inputShape: [4], [.layer(Dense(outputs: 3)), .layer(Elementwise(.tanh)), .layer(Dense(outputs: 2))], seed: 1)
        XCTAssertNil(SmallChain(tanh))
        let residual = try randomNetwork(inputShape: [4], [.residual(main: [.layer(Dense(outputs: 4))], shortcut: []), .layer(Softmax())], seed: 1)
        XCTAssertNil(SmallChain(residual))
        let logits = try randomNetwork(inputShape: [4], [.layer(Dense(outputs: 3)), .layer(Elementwise(.relu)), .layer(Dense(outputs: 2))], seed: 1)
        assertChain(logits)
    }

    private func assertChain(_ network: Network, file: StaticString = #filePath, line: UInt = #line) {
        let chain = SmallChain(network)
        XCTAssertNotNil(chain, file: file, line: line)
        chain?.deallocate()
    }

    /// After a chained forward pass: seeds at an inner buffer and at the output together, and a
    /// backward pass with parameter gradients (both layer by layer), as without the chain.
    func testOtherBackwardPassesAfterAChainedForward() throws {
        try forEachKernelSet { _ in try otherBackwardPassesAfterAChainedForward() }
    }

    private func otherBackwardPassesAfterAChainedForward() throws {
        for dtype in DType.allCases {
            let network = try mlp(dtype: dtype)
            let logits = network.bufferShapes.count - 2, last = network.bufferShapes.count - 1
            var random = SeededRandom(seed: 4)
            let x = (0..<64).map { _ in random.uniform(-2, 2) }
            let seed = (0..<10).map { _ in random.uniform(-1, 1) }
            func run(_ smallChain: Bool) -> (seeds: [Double], input: [Double], parameters: [Double]) {
                let evaluator = NetworkEvaluator(network, threads: 1, smallChain: smallChain)
                x.withUnsafeBufferPointer { evaluator.forward($0, rows: 1) }
                let seeds = seed.withUnsafeBufferPointer { s in
                    Array(evaluator.backward(seeds: [(buffer: logits, cotangent: s), (buffer: last, cotangent: s)]))
                }
                var parameters = [Double](repeating: 0, count: network.parameters.count)
                let input = seed.withUnsafeBufferPointer { s in
                    parameters.withUnsafeMutableBufferPointer { Array(evaluator.backward(from: last, cotangent: s, parameterGradients: $0.baseAddress)) }
                }
                return (seeds, input, parameters)
            }
            let chained = run(true), layered = run(false)
            assertChainValues(chained.seeds, layered.seeds, dtype, "\(dtype): two seeds")
            assertChainValues(chained.input, layered.input, dtype, "\(dtype): input gradient beside parameter gradients")
            assertChainValues(chained.parameters, layered.parameters, dtype, "\(dtype): parameter gradients")
            XCTAssertTrue(chained.parameters.contains { $0 != 0 })
        }
    }

    /// An input gradient skips the inactive units only for a finite weight, as layer by layer:
    /// a -inf weight that turns its unit off makes 0 × -inf = NaN reach the input's gradient, from
    /// the pass after the tensors changed on.
    func testNonFiniteWeightIsNotSkipped() throws {
        try forEachKernelSet { _ in try nonFiniteWeightIsNotSkipped() }
    }

    private func nonFiniteWeightIsNotSkipped() throws {
        for dtype in DType.allCases {
            let network = try mlp(dtype: dtype)
            var random = SeededRandom(seed: 3)
            var x = (0..<64).map { _ in random.uniform(-2, 2) }
            x[0] = 1.5
            let cotangent = (0..<10).map { _ in random.uniform(-1, 1) }
            let evaluators = [true, false].map { NetworkEvaluator(network, threads: 1, smallChain: $0) }
            func gradients() -> [[Double]] {
                evaluators.map { evaluator in
                    var gradient = [Double](repeating: 0, count: 64)
                    x.withUnsafeBufferPointer { xs in
                        cotangent.withUnsafeBufferPointer { cs in
                            gradient.withUnsafeMutableBufferPointer { try? evaluator.pullback(at: xs, rows: 1, cotangent: cs, into: $0) }
                        }
                    }
                    return gradient
                }
            }
            let finite = gradients()
            assertChainValues(finite[0], finite[1], dtype, "\(dtype): finite weights")
            network.parameters[0] = -.infinity  // the first unit's weight of input 0 (x[0] > 0): the unit is off
            network.parametersChanged()
            let changed = gradients()
            assertChainValues(changed[0], changed[1], dtype, "\(dtype): a -inf weight")
            XCTAssertTrue(changed[1][0].isNaN, "\(dtype): layer by layer, 0 × -inf reaches input 0")
        }
    }
}
