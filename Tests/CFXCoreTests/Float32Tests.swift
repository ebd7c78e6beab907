import XCTest
@testable import CFXCore

/// The float32 engine against float64, and results that do not depend on the thread count.
final class Float32Tests: XCTestCase {
    /// Convolutions (spectrally normalised and not), batch norm, both poolings, residual blocks,
    /// dense layers and the usual activations: every kind of layer the engine has.
    private func mixedNetwork() throws -> Network {
        let nodes: [NetworkNode] = [
            .layer(Conv2D(outChannels: 6, kernelSize: 3, padding: 1, spectralNorm: SpectralNorm(coefficient: 3))),
            .layer(BatchNorm()), .layer(Elementwise(.relu)),
            .residual(main: [.layer(Conv2D(outChannels: 6, kernelSize: 3, padding: 1)), .layer(Elementwise(.tanh))], shortcut: []),
            .layer(Pool2D(.max, kernelSize: 2)),
            .layer(Conv2D(outChannels: 8, kernelSize: 1)), .layer(Elementwise(.leakyRelu(slope: 0.1))),
            .layer(Pool2D(.average, kernelSize: 3, stride: 2, padding: 1)),
            .layer(Flatten()), .layer(Dense(outputs: 12)), .layer(Elementwise(.softplus)),
            .layer(Dense(outputs: 10), name: "features"), .layer(Elementwise(.sigmoid)), .layer(Dense(outputs: 4)), .layer(Softmax()),
        ]
        let network = try randomNetwork(inputShape: [2, 10, 10], nodes, seed: 3, scale: 0.4)
        // Batch norm's running variance must be positive.
        for (name, _, range) in network.parameterList where name.hasSuffix("running_var") {
            for i in range { network.parameters[i] = abs(network.parameters[i]) + 0.5 }
        }
        network.parametersChanged()
        return network
    }

    /// One forward and backward pass; without `parameterGradients` only the input gradient is
    /// asked for (the searches' case, which float32 convolutions run through oneDNN).
    private func pass(_ network: Network, _ x: [Double], rows: Int, cotangent: [Double], threads: Int = 1,
                      training: Bool = false, parameterGradients: Bool = true) -> (output: [Double], input: [Double], parameters: [Double]) {
        let evaluator = NetworkEvaluator(network, threads: threads)
        let last = network.bufferShapes.count - 1
        x.withUnsafeBufferPointer { evaluator.forward($0, rows: rows, training: training) }
        let output = Array(evaluator.value(last))
        var parameters = [Double](repeating: 0, count: network.parameters.count)
        let input = cotangent.withUnsafeBufferPointer { c in
            parameters.withUnsafeMutableBufferPointer {
                Array(evaluator.backward(from: last, cotangent: c, parameterGradients: parameterGradients ? $0.baseAddress : nil))
            }
        }
        return (output, input, parameters)
    }

    private func assertClose(_ a: [Double], _ b: [Double], relative: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let scale = max(a.map(abs).max() ?? 0, 1e-12)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst / scale, relative, "\(what): largest difference \(worst) against values up to \(scale)", file: file, line: line)
    }

    func testFloat32AgreesWithFloat64() throws {
        let network64 = try mixedNetwork()
        let network32 = try network64.converted(to: .float32)
        XCTAssertEqual(network32.dtype, .float32)
        XCTAssertTrue(try network32.converted(to: .float32) === network32)
        var rng = SplitMix64(state: 11)
        let rows = 16
        let x = randomValues(rows * network64.featureCount, &rng, scale: 1)
        let cotangent = randomValues(rows * network64.classCount, &rng)
        for training in [false, true] {
            let a = pass(network64, x, rows: rows, cotangent: cotangent, training: training)
            let b = pass(network32, x, rows: rows, cotangent: cotangent, training: training)
            if !training {  // the searches' pass: input gradients alone
                let searched = pass(network32, x, rows: rows, cotangent: cotangent, parameterGradients: false)
                assertClose(a.input, searched.input, relative: 1e-3, "input gradient alone")
            }
            XCTAssertLessThanOrEqual(zip(a.output, b.output).map { abs($0 - $1) }.max()!, 1e-4, "probabilities, training \(training)")
            let k = network64.classCount
            for r in 0..<rows {
                let row64 = a.output[r * k..<(r + 1) * k], row32 = b.output[r * k..<(r + 1) * k]
                if row64.max()! - row64.sorted().dropLast().last! > 1e-4 {  // a clear winner must win in both
                    XCTAssertEqual(row64.firstIndex(of: row64.max()!), row32.firstIndex(of: row32.max()!), "row \(r)")
                }
            }
            assertClose(a.input, b.input, relative: 1e-3, "input gradient, training \(training)")
            assertClose(a.parameters, b.parameters, relative: 1e-3, "parameter gradients, training \(training)")
        }
        // Converting back gives float64 again, with the same tensors.
        let back = try network32.converted(to: .float64)
        XCTAssertEqual(Array(back.parameters), Array(network64.parameters))
    }

    func testFloat32DerivedTensorsFollowTraining() throws {
        // Spectral normalisation's power iteration and batch norm's running statistics change the
        // Double tensors; the float copy must follow them.
        let network = try mixedNetwork().converted(to: .float32)
        network.prepareTrainingStep()
        for i in network.parameters.indices {
            XCTAssertEqual(network.parameters32[i], Float(network.parameters[i]), "tensor value \(i)")
        }
    }

    /// A network whose products are large enough to be split into blocks (≥ 2^22 multiply-adds).
    private func wideNetwork() throws -> Network {
        let nodes: [NetworkNode] = [
            .layer(Conv2D(outChannels: 32, kernelSize: 3, padding: 1)), .layer(Elementwise(.relu)),
            .layer(Conv2D(outChannels: 32, kernelSize: 3, padding: 1)), .layer(Elementwise(.relu)),
            .layer(Conv2D(outChannels: 64, kernelSize: 1)), .layer(GlobalAveragePool()),
            .layer(Dense(outputs: 10)), .layer(Softmax()),
        ]
        return try randomNetwork(inputShape: [32, 24, 24], nodes, seed: 8, scale: 0.1)
    }

    /// One input channel: the float32 input gradient of its first layer runs in CFXKernels.
    private func grayscaleNetwork() throws -> Network {
        let nodes: [NetworkNode] = [
            .layer(Conv2D(outChannels: 16, kernelSize: 3, padding: 1)), .layer(Elementwise(.relu)),
            .layer(Conv2D(outChannels: 32, kernelSize: 3, padding: 1)), .layer(GlobalAveragePool()),
            .layer(Dense(outputs: 10)), .layer(Softmax()),
        ]
        return try randomNetwork(inputShape: [1, 20, 20], nodes, seed: 9, scale: 0.3)
    }

    /// Batch norm, leaky relu and a residual join over 18,432 values a row: split over the threads.
    private func normalisedNetwork() throws -> Network {
        let nodes: [NetworkNode] = [
            .layer(Conv2D(outChannels: 32, kernelSize: 3, padding: 1)), .layer(BatchNorm()), .layer(Elementwise(.leakyRelu(slope: 0.01))),
            .residual(main: [.layer(Conv2D(outChannels: 32, kernelSize: 3, padding: 1)), .layer(Elementwise(.leakyRelu(slope: 0.01)))],
                      shortcut: []),
            .layer(GlobalAveragePool()), .layer(Dense(outputs: 10)), .layer(Softmax()),
        ]
        let network = try randomNetwork(inputShape: [32, 24, 24], nodes, seed: 10, scale: 0.1)
        try network.setParameter("layers.1.running_var", (0..<32).map { 0.5 + Double($0) / 32 })
        return network
    }

    func testResultsDoNotDependOnTheThreadCount() throws {
        let base = try wideNetwork(), gray = try grayscaleNetwork(), normalised = try normalisedNetwork()
        for network in [base, try base.converted(to: .float32), gray, try gray.converted(to: .float32),
                        normalised, try normalised.converted(to: .float32)] {
            for rows in [1, 3] {
                var rng = SplitMix64(state: UInt64(rows))
                let x = randomValues(rows * network.featureCount, &rng)
                let cotangent = randomValues(rows * network.classCount, &rng)
                for training in [false, true] {
                    let serial = pass(network, x, rows: rows, cotangent: cotangent, threads: 1, training: training, parameterGradients: training)
                    for threads in [2, 3] {
                        let parallel = pass(network, x, rows: rows, cotangent: cotangent, threads: threads, training: training,
                                            parameterGradients: training)
                        let what = "\(network.dtype), \(rows) rows, \(threads) threads, training \(training)"
                        XCTAssertEqual(parallel.output, serial.output, what)
                        XCTAssertEqual(parallel.input, serial.input, what)
                        XCTAssertEqual(parallel.parameters, serial.parameters, what)
                    }
                }
            }
        }
    }

    func testBatchedConvolutionInChunksMatchesOneExampleAtATime() throws {
        // 64 channels at 24×24: (576 + 64) · 576 values per example, so a batch of 20 runs in chunks.
        let network = try randomNetwork(inputShape: [64, 24, 24], [.layer(Conv2D(outChannels: 64, kernelSize: 3, padding: 1)),
                                                                    .layer(GlobalAveragePool()), .layer(Dense(outputs: 3)), .layer(Softmax())],
                                        seed: 4, scale: 0.05)
        let rows = 20
        var rng = SplitMix64(state: 5)
        let x = randomValues(rows * network.featureCount, &rng)
        let cotangent = randomValues(rows * network.classCount, &rng)
        let batch = pass(network, x, rows: rows, cotangent: cotangent)
        let (d, k) = (network.featureCount, network.classCount)
        for r in 0..<rows {
            let one = pass(network, Array(x[r * d..<(r + 1) * d]), rows: 1, cotangent: Array(cotangent[r * k..<(r + 1) * k]))
            assertClose(Array(batch.output[r * k..<(r + 1) * k]), one.output, relative: 1e-12, "output of row \(r)")
            assertClose(Array(batch.input[r * d..<(r + 1) * d]), one.input, relative: 1e-12, "input gradient of row \(r)")
        }
    }
}
