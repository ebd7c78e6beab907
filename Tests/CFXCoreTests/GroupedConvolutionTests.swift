import XCTest
@testable import CFXCore

/// GroupedConv2D, the general 2-D convolution (groups, dilations, rectangular kernels, a stride
/// per axis, padding per side): exact gradients, agreement with Conv2D where both apply, and a
/// depthwise case against a direct computation.
final class GroupedConvolutionTests: XCTestCase {
    func testGradientsMatchFiniteDifferences() throws {
        let conv = GroupedConv2D(outChannels: 4, kernel: [2, 3], stride: [2, 1], padding: [1, 0, 0, 2], dilation: [2, 1], groups: 2)
        let network = try randomNetwork(inputShape: [2, 6, 5], [.layer(conv), .layer(Elementwise(.tanh)), .layer(Flatten()),
                                                                .layer(Dense(outputs: 3)), .layer(Softmax())], seed: 3)
        try assertGradientsMatchFiniteDifferences(network)
    }

    func testMatchesConv2DWhereBothApply() throws {
        let grouped = try randomNetwork(inputShape: [3, 7, 6], [.layer(GroupedConv2D(outChannels: 5, kernel: [3, 3], stride: [2, 2],
                                                                                     padding: [1, 1, 1, 1]))], seed: 5)
        let plain = try Network(inputShape: [3, 7, 6], nodes: [.layer(Conv2D(outChannels: 5, kernelSize: 3, stride: 2, padding: 1))])
        _ = plain.parameters.update(fromContentsOf: grouped.parameters)
        plain.parametersChanged()
        var rng = SplitMix64(state: 9)
        let x = randomValues(2 * 3 * 7 * 6, &rng)
        let (a, b) = (forwardOutput(grouped, x, rows: 2), forwardOutput(plain, x, rows: 2))
        XCTAssertEqual(a.count, b.count)
        for i in a.indices { XCTAssertEqual(a[i], b[i], accuracy: 1e-12) }
    }

    /// Depthwise (one group per channel), no bias, dilation 2: y[c] = Σ w[c, a] · x[c, 2a + oy] per row.
    func testDepthwiseDilatedAgainstDirectSums() throws {
        let network = try randomNetwork(inputShape: [2, 5, 1], [.layer(GroupedConv2D(outChannels: 2, kernel: [2, 1], dilation: [2, 1],
                                                                                     groups: 2, bias: false))], seed: 11)
        XCTAssertEqual(try network.outputShape("probabilities"), [2, 3, 1])
        let w = Array(network.parameters)
        let x = (0..<10).map { Double($0) + 0.5 }
        let y = forwardOutput(network, x, rows: 1)
        for c in 0..<2 {
            for oy in 0..<3 {
                XCTAssertEqual(y[c * 3 + oy], w[c * 2] * x[c * 5 + oy] + w[c * 2 + 1] * x[c * 5 + oy + 2], accuracy: 1e-12)
            }
        }
    }

    func testShapeErrors() {
        let cases: [(GroupedConv2D, String)] = [
            (GroupedConv2D(outChannels: 4, kernel: [3, 3], groups: 3), "groups 3 must divide"),
            (GroupedConv2D(outChannels: 4, kernel: [3, 3], dilation: [4, 1]), "larger than the padded input"),
            (GroupedConv2D(outChannels: 4, kernel: [3]), "kernel_size must be 2 values"),
            (GroupedConv2D(outChannels: 4, kernel: [3, 3], padding: [1, 1]), "padding must be 4 values"),
        ]
        for (conv, fragment) in cases {
            XCTAssertThrowsError(try Network(inputShape: [2, 6, 6], nodes: [.layer(conv)])) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(error)")
            }
        }
    }
}
