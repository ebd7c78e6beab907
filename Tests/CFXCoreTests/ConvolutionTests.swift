import XCTest
@testable import CFXCore

// MARK: Direct (naive) references

/// Cross-correlation of one example x [C, H, W] with weight [O, C, k, k], zero padding, as PyTorch.
func naiveConvolution(_ x: [Double], channels: Int, height: Int, width: Int, weight: [Double], bias: [Double]?,
                      outChannels: Int, kernel: Int, stride: Int, padding: Int) -> [Double] {
    let oh = (height + 2 * padding - kernel) / stride + 1, ow = (width + 2 * padding - kernel) / stride + 1
    var y = [Double](repeating: 0, count: outChannels * oh * ow)
    for o in 0..<outChannels {
        for i in 0..<oh {
            for j in 0..<ow {
                var sum = bias?[o] ?? 0
                for c in 0..<channels {
                    for a in 0..<kernel {
                        for b in 0..<kernel {
                            let r = i * stride + a - padding, s = j * stride + b - padding
                            guard r >= 0, r < height, s >= 0, s < width else { continue }
                            sum += weight[((o * channels + c) * kernel + a) * kernel + b] * x[(c * height + r) * width + s]
                        }
                    }
                }
                y[(o * oh + i) * ow + j] = sum
            }
        }
    }
    return y
}

/// Max or average pooling of one example, windows over the zero-padded (average, counting the
/// padding) or −∞-padded (max) input.
func naivePool(_ x: [Double], channels: Int, height: Int, width: Int, kernel: Int, stride: Int, padding: Int, max isMax: Bool) -> [Double] {
    let oh = (height + 2 * padding - kernel) / stride + 1, ow = (width + 2 * padding - kernel) / stride + 1
    var y: [Double] = []
    for c in 0..<channels {
        for i in 0..<oh {
            for j in 0..<ow {
                var values: [Double] = []
                for a in 0..<kernel {
                    for b in 0..<kernel {
                        let r = i * stride + a - padding, s = j * stride + b - padding
                        let inside = r >= 0 && r < height && s >= 0 && s < width
                        values.append(inside ? x[(c * height + r) * width + s] : (isMax ? -.infinity : 0))
                    }
                }
                y.append(isMax ? values.max()! : values.reduce(0, +) / Double(kernel * kernel))
            }
        }
    }
    return y
}

func forwardOutput(_ network: Network, _ x: [Double], rows: Int) -> [Double] {
    let evaluator = network.makeEvaluator() as! NetworkEvaluator
    x.withUnsafeBufferPointer { evaluator.forward($0, rows: rows) }
    return Array(evaluator.value(network.bufferShapes.count - 1))
}

/// The DDU/DeDUCE ResNet family without batch norm: a stride-1 3×3 stem, one BasicBlock-like
/// residual block per width (two 3×3 convolutions, stride 2 from the second stage on), leaky ReLU
/// 0.01, shortcuts by average pooling (kernel 2, or 1 on odd sizes, stride 2) and zero channel
/// padding, global average pooling as "features", a dense layer to the logits and softmax.
func dduResNet(channels: Int, size: Int, widths: [Int], classes: Int, spectralNorm: SpectralNorm?) -> [NetworkNode] {
    let leaky = { NetworkNode.layer(Elementwise(.leakyRelu(slope: 0.01))) }
    var nodes: [NetworkNode] = [.layer(Conv2D(outChannels: widths[0], kernelSize: 3, stride: 1, padding: 1, bias: false, spectralNorm: spectralNorm)), leaky()]
    var inChannels = widths[0], size = size
    for (stage, width) in widths.enumerated() {
        let stride = stage == 0 ? 1 : 2
        let main: [NetworkNode] = [
            .layer(Conv2D(outChannels: width, kernelSize: 3, stride: stride, padding: 1, bias: false, spectralNorm: spectralNorm)), leaky(),
            .layer(Conv2D(outChannels: width, kernelSize: 3, stride: 1, padding: 1, bias: false, spectralNorm: spectralNorm)),
        ]
        var shortcut: [NetworkNode] = []
        if stride != 1 || inChannels != width {
            shortcut = [.layer(Pool2D(.average, kernelSize: size % 2 == 0 ? stride : 1, stride: stride)), .layer(ChannelPad(outChannels: width))]
        }
        nodes += [.residual(main: main, shortcut: shortcut), leaky()]
        inChannels = width
        size = (size + stride - 1) / stride
    }
    return nodes + [.layer(GlobalAveragePool(), name: "features"), .layer(Dense(outputs: classes)), .layer(Softmax())]
}

final class ConvolutionTests: XCTestCase {
    func testConvolutionMatchesDirectConvolution() throws {
        // (channels, height, width, out, kernel, stride, padding, bias)
        let cases = [(2, 5, 5, 3, 3, 2, 1, true), (2, 5, 6, 3, 3, 1, 0, false), (3, 4, 4, 2, 1, 1, 0, true),
                     (1, 7, 6, 4, 3, 2, 2, true), (2, 6, 5, 2, 1, 2, 0, false), (16, 9, 9, 8, 3, 1, 1, true)]
        for (i, (c, h, w, o, k, s, p, bias)) in cases.enumerated() {
            let network = try randomNetwork(inputShape: [c, h, w], [.layer(Conv2D(outChannels: o, kernelSize: k, stride: s, padding: p, bias: bias))], seed: UInt64(i))
            var rng = SplitMix64(state: 99)
            let x = randomValues(3 * c * h * w, &rng)
            let y = forwardOutput(network, x, rows: 3)
            let weight = Array(network.parameter("layers.0.weight")!), b = bias ? Array(network.parameter("layers.0.bias")!) : nil
            let per = y.count / 3
            for n in 0..<3 {
                let expected = naiveConvolution(Array(x[n * c * h * w..<(n + 1) * c * h * w]), channels: c, height: h, width: w,
                                                weight: weight, bias: b, outChannels: o, kernel: k, stride: s, padding: p)
                XCTAssertEqual(expected.count, per)
                for j in 0..<per { XCTAssertEqual(y[n * per + j], expected[j], accuracy: 1e-12, "case \(i) example \(n) output \(j)") }
            }
        }
    }

    func testPoolingMatchesDirectPooling() throws {
        try forEachKernelSet { _ in try poolingMatchesDirectPooling() }
    }

    private func poolingMatchesDirectPooling() throws {
        // (channels, height, width, kernel, stride, padding)
        // The 2 × 2 cases run CFXKernels' pooling: its vector body (28 × 28) and its dropped odd edges.
        let cases = [(2, 5, 5, 3, 2, 1), (2, 6, 6, 2, 2, 0), (3, 5, 4, 2, 1, 1), (1, 7, 7, 1, 2, 0), (2, 5, 5, 3, 3, 0),
                     (3, 28, 28, 2, 2, 0), (2, 7, 9, 2, 2, 0)]
        for (i, (c, h, w, k, s, p)) in cases.enumerated() {
            for isMax in [true, false] {
                let pool = Pool2D(isMax ? .max : .average, kernelSize: k, stride: s, padding: p)
                let network = try Network(inputShape: [c, h, w], nodes: [.layer(pool)])
                var rng = SplitMix64(state: UInt64(i))
                let x = randomValues(2 * c * h * w, &rng)
                for (dtype, tolerance) in [(DType.float64, 1e-12), (.float32, 1e-6)] {
                    let y = forwardOutput(try network.converted(to: dtype), x, rows: 2)
                    let per = y.count / 2
                    for n in 0..<2 {
                        let expected = naivePool(Array(x[n * c * h * w..<(n + 1) * c * h * w]), channels: c, height: h, width: w,
                                                 kernel: k, stride: s, padding: p, max: isMax)
                        XCTAssertEqual(expected.count, per)
                        for j in 0..<per {
                            XCTAssertEqual(y[n * per + j], expected[j], accuracy: tolerance, "case \(i) max \(isMax) \(dtype) output \(j)")
                        }
                    }
                }
            }
        }
        XCTAssertEqual(Pool2D(.max, kernelSize: 3).stride, 3, "stride defaults to the kernel size")
    }

    /// 2 × 2 max pooling (its select-based path): the first largest value of a window in row-major
    /// order wins, and a NaN wins and ends its window row, as in the general scan; the gradient
    /// goes to the winner's position.
    func testMaxPoolingTiesAndNaNs() throws {
        try forEachKernelSet { _ in try maxPoolingTiesAndNaNs() }
    }

    private func maxPoolingTiesAndNaNs() throws {
        let (nan, inf) = (Double.nan, Double.infinity)
        // 2 × 2 windows in rows [a b] [c d], cycling through six patterns.
        let patterns: [[Double]] = [[1, 1, 1, 1], [-inf, -inf, -inf, -inf], [0, 2, 2, 1], [nan, 5, 3, nan], [1, nan, nan, 7], [-1, -2, 4, 4]]
        let winners = [0, 0, 1, 3, 2, 2]  // position in the window of the value that wins
        // Rows of 3 windows (one at a time), of 4 and 7 (four at a time, overlapping at 7) and of 18
        // (eight at a time, the last block overlapping).
        for (columns, dtype) in [3, 4, 7, 18].flatMap({ c in DType.allCases.map { (c, $0) } }) {
            let width = 2 * columns, windows = 2 * columns
            var x = [Double](repeating: 0, count: 4 * width)
            for w in 0..<windows {
                let (row, column) = (w / columns, w % columns)
                for (i, value) in patterns[w % 6].enumerated() { x[(2 * row + i / 2) * width + 2 * column + i % 2] = value }
            }
            let network = try Network(inputShape: [1, 4, width], nodes: [.layer(Pool2D(.max, kernelSize: 2))]).converted(to: dtype)
            let evaluator = network.makeEvaluator() as! NetworkEvaluator
            let y = forwardOutput(network, x, rows: 1)
            let cotangent = (0..<windows).map { Double($0 + 1) }
            x.withUnsafeBufferPointer { evaluator.forward($0, rows: 1) }
            let dx = cotangent.withUnsafeBufferPointer { Array(evaluator.backward(from: network.bufferShapes.count - 1, cotangent: $0)) }
            for w in 0..<windows {
                let expected = patterns[w % 6][winners[w % 6]]
                XCTAssertTrue(y[w] == expected || (y[w].isNaN && expected.isNaN), "\(dtype), \(columns) columns, window \(w): \(y[w]) instead of \(expected)")
                let (row, column) = (w / columns, w % columns)
                for i in 0..<4 {
                    let position = (2 * row + i / 2) * width + 2 * column + i % 2
                    XCTAssertEqual(dx[position], i == winners[w % 6] ? cotangent[w] : 0, "\(dtype), \(columns) columns, window \(w) position \(i)")
                }
            }
        }
    }

    func testShapingLayers() throws {
        let x = (0..<2 * 2 * 2 * 3).map(Double.init)  // 2 examples of [2, 2, 3]
        let gap = try Network(inputShape: [2, 2, 3], nodes: [.layer(GlobalAveragePool())])
        XCTAssertEqual(forwardOutput(gap, x, rows: 2), [2.5, 8.5, 14.5, 20.5])
        let flat = try Network(inputShape: [2, 2, 3], nodes: [.layer(Flatten())])
        XCTAssertEqual(flat.outputs.isEmpty, false)
        XCTAssertEqual(try flat.outputShape("probabilities"), [12])
        XCTAssertEqual(forwardOutput(flat, x, rows: 2), x)
        let pad = try Network(inputShape: [2, 2, 3], nodes: [.layer(ChannelPad(outChannels: 3))])
        XCTAssertEqual(try pad.outputShape("probabilities"), [3, 2, 3])
        let zeros = [Double](repeating: 0, count: 6)
        XCTAssertEqual(forwardOutput(pad, x, rows: 2), Array(x[0..<12]) + zeros + Array(x[12..<24]) + zeros)
    }

    func testShapeErrorsNameTheLayer() {
        func fails(_ input: [Int], _ nodes: [NetworkNode], _ mentions: String, line: UInt = #line) {
            XCTAssertThrowsError(try Network(inputShape: input, nodes: nodes), line: line) { error in
                let message = (error as? CFXError)?.message ?? "\(error)"
                XCTAssertTrue(message.contains(mentions), "\(message) should mention \(mentions)", line: line)
            }
        }
        fails([1, 4, 4], [.layer(Flatten()), .layer(Conv2D(outChannels: 2, kernelSize: 3))], "layers.1 (conv2d): expects an image input")
        fails([1, 4, 4], [.layer(Conv2D(outChannels: 2, kernelSize: 7, padding: 1))], "larger than the padded input 6×6")
        fails([1, 4, 4], [.layer(Conv2D(outChannels: 0, kernelSize: 3))], "out_channels")
        fails([1, 4, 4], [.layer(Conv2D(outChannels: 2, kernelSize: 3, stride: 0))], "stride")
        fails([3, 4, 4], [.layer(ChannelPad(outChannels: 2))], "layers.0 (channel_pad): out_channels 2 is smaller than the input's 3 channels")
        fails([3, 4, 4], [.layer(Pool2D(.max, kernelSize: 2, padding: 2))], "padding")
        fails([12], [.layer(GlobalAveragePool())], "image input")
        fails([1, 4, 4], [.layer(Conv2D(outChannels: 2, kernelSize: 3, spectralNorm: SpectralNorm(coefficient: 0)))], "coefficient")
    }

    // MARK: Gradients against finite differences

    func testConvolutionGradients() throws {
        let configurations: [(Conv2D, [Int])] = [
            (Conv2D(outChannels: 3, kernelSize: 3, stride: 2, padding: 1), [2, 5, 5]),
            (Conv2D(outChannels: 2, kernelSize: 3, stride: 1, padding: 1, bias: false), [2, 5, 4]),
            (Conv2D(outChannels: 3, kernelSize: 2, stride: 2, padding: 0), [2, 5, 5]),
            (Conv2D(outChannels: 3, kernelSize: 1), [2, 3, 3]),
            (Conv2D(outChannels: 2, kernelSize: 1, stride: 2, bias: false), [2, 5, 5]),
        ]
        for (i, (conv, shape)) in configurations.enumerated() {
            let network = try randomNetwork(inputShape: shape, [.layer(conv)], seed: UInt64(10 + i))
            try assertGradientsMatchFiniteDifferences(network, rows: 2)
        }
    }

    func testPoolingAndShapingGradients() throws {
        let layers: [(CFXCore.Operation, [Int])] = [
            (Pool2D(.max, kernelSize: 3, stride: 2, padding: 1), [2, 5, 5]),
            (Pool2D(.max, kernelSize: 2), [2, 5, 5]),
            (Pool2D(.average, kernelSize: 3, stride: 2, padding: 1), [2, 5, 5]),
            (Pool2D(.average, kernelSize: 1, stride: 2), [2, 5, 5]),
            (GlobalAveragePool(), [2, 5, 5]),
            (Flatten(), [2, 5, 5]),
            (ChannelPad(outChannels: 4), [2, 3, 3]),
        ]
        for (i, (layer, shape)) in layers.enumerated() {
            // A convolution first, so that the check also covers gradients flowing through the layer to parameters.
            let network = try randomNetwork(inputShape: shape, [.layer(Conv2D(outChannels: shape[0], kernelSize: 3, padding: 1)), .layer(layer)],
                                            seed: UInt64(20 + i))
            try assertGradientsMatchFiniteDifferences(network, rows: 2)
        }
    }

    func testDDUStyleResidualNetwork() throws {
        let nodes = dduResNet(channels: 1, size: 7, widths: [3, 4, 6], classes: 3, spectralNorm: SpectralNorm(coefficient: 1))
        let network = try randomNetwork(inputShape: [1, 7, 7], nodes, seed: 5, scale: 0.5)
        for _ in 0..<20 { network.prepareTrainingStep() }
        XCTAssertEqual(try network.outputShape("features"), [6])
        XCTAssertEqual(try network.outputShape("probabilities"), [3])
        XCTAssertNotNil(network.outputs["logits"])
        // 7 → 7 → 4 (conv stride 2 with padding 1; shortcut pools with kernel 1 on the odd size) → 2
        XCTAssertEqual(network.parameterList.first { $0.name == "layers.4.main.0.weight_u" }?.spec.shape, [4, 4, 4])
        XCTAssertEqual(network.parameterList.first { $0.name == "layers.6.main.0.weight_u" }?.spec.shape, [6, 2, 2])
        try assertGradientsMatchFiniteDifferences(network, rows: 2)
        try assertGradientsMatchFiniteDifferences(network, output: "features", rows: 1)
    }
}
