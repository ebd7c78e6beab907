import XCTest
import CFXKernels
@testable import CFXCore

/// CFXKernels' direct stride-1 convolutions (the float32 path of `Conv2D` for layers of few input
/// channels), forward pass and input gradient: equal to the plain sum in double up to float
/// rounding, and an example's result bitwise the same alone or in a batch, under every instruction set.
final class ConvKernelTests: XCTestCase {
    // (channels, height, width, out channels, kernel, padding): the Fashion-MNIST CNN's two layers,
    // odd sizes, 1×1, 2×2 and 5×5 kernels, no padding and more padding than the kernel, rows of
    // 8 to 16 values and longer.
    private let shapes = [(1, 28, 28, 16, 3, 1), (16, 14, 14, 32, 3, 1), (3, 7, 9, 5, 3, 0), (2, 5, 4, 3, 5, 4),
                          (4, 6, 6, 2, 1, 0), (1, 1, 1, 1, 1, 0), (2, 17, 33, 4, 5, 2), (1, 3, 40, 3, 3, 2),
                          // padding past kernel - 1: windows of padding only
                          (1, 4, 4, 2, 3, 3), (2, 2, 3, 2, 1, 2), (1, 5, 6, 3, 2, 4), (1, 2, 2, 2, 3, 6)]

    /// The plain sums in double of both passes: y[n][o][r][q] = bias[o] + Σ w[o][c][ky][kx] · x[n][c][r − p + ky][q − p + kx]
    /// and dx[n][c][y][x] = Σ w[o][c][ky][kx] · dy[n][o][y + p − ky][x + p − kx], each pair (input y, x; output r, q) once.
    private func expected(_ s: cfx_conv_shape, x: [Float], dy: [Float], w: [Float], bias: [Float]) -> (y: [Double], dx: [Double]) {
        let (k, p) = (s.kernel, s.padding)
        let outH = s.height + 2 * p - k + 1, outW = s.width + 2 * p - k + 1
        var y = (0..<s.examples * s.out_channels * outH * outW).map { Double(bias[($0 / (outH * outW)) % s.out_channels]) }
        var dx = [Double](repeating: 0, count: s.examples * s.channels * s.height * s.width)
        for n in 0..<s.examples {
            for c in 0..<s.channels {
                for row in 0..<s.height {
                    for column in 0..<s.width {
                        let xi = ((n * s.channels + c) * s.height + row) * s.width + column
                        for o in 0..<s.out_channels {
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    let r = row + p - ky, q = column + p - kx
                                    guard r >= 0, r < outH, q >= 0, q < outW else { continue }
                                    let yi = ((n * s.out_channels + o) * outH + r) * outW + q
                                    let tap = Double(w[((o * s.channels + c) * k + ky) * k + kx])
                                    y[yi] += tap * Double(x[xi])
                                    dx[xi] += tap * Double(dy[yi])
                                }
                            }
                        }
                    }
                }
            }
        }
        return (y, dx)
    }

    func testMatchesThePlainSumAndBatchesChangeNothing() {
        forEachKernelSet { set in
            var random = SeededRandom(seed: 3)
            for (channels, height, width, out, kernel, padding) in shapes {
                var s = cfx_conv_shape(examples: 3, channels: channels, height: height, width: width, out_channels: out,
                                       kernel: kernel, padding: padding)
                let outH = height + 2 * padding - kernel + 1, outW = width + 2 * padding - kernel + 1
                let per = channels * height * width, perY = out * outH * outW
                let x = (0..<3 * per).map { _ in Float(random.uniform(-1, 1)) }
                let dy = (0..<3 * perY).map { _ in Float(random.uniform(-1, 1)) }
                let w = (0..<out * channels * kernel * kernel).map { _ in Float(random.uniform(-1, 1)) }
                let bias = (0..<out).map { _ in Float(random.uniform(-1, 1)) }
                let start = (0..<3 * per).map { _ in Float(random.uniform(-1, 1)) }
                // (The scratch starts as NaN: anything the kernels read without writing shows.)
                var scratch = [Float](repeating: .nan, count: cfx_conv_s1_scratch(&s))
                var dx = start, y = [Float](repeating: .nan, count: 3 * perY)
                cfx_conv_input_gradient_s1_f32(&s, dy, w, &dx, &scratch)
                cfx_conv_forward_s1_f32(&s, x, w, bias, &y, &scratch)
                let want = expected(s, x: x, dy: dy, w: w, bias: bias)
                for i in dx.indices {
                    XCTAssertEqual(dx[i], start[i] + Float(want.dx[i]), accuracy: 1e-6 * Float(out * kernel * kernel + 1),
                                   "\(set) \(s) input gradient \(i)")
                }
                for i in y.indices {
                    XCTAssertEqual(y[i], Float(want.y[i]), accuracy: 1e-6 * Float(channels * kernel * kernel + 1), "\(set) \(s) output \(i)")
                }
                for n in 0..<3 {  // each example alone: the bits of the batch
                    var one = s
                    one.examples = 1
                    var alone = Array(start[n * per..<(n + 1) * per]), yAlone = [Float](repeating: .nan, count: perY)
                    cfx_conv_input_gradient_s1_f32(&one, Array(dy[n * perY..<(n + 1) * perY]), w, &alone, &scratch)
                    cfx_conv_forward_s1_f32(&one, Array(x[n * per..<(n + 1) * per]), w, bias, &yAlone, &scratch)
                    XCTAssertEqual(alone, Array(dx[n * per..<(n + 1) * per]), "\(set) \(s) example \(n) alone")
                    XCTAssertEqual(yAlone, Array(y[n * perY..<(n + 1) * perY]), "\(set) \(s) example \(n) alone, forward")
                }
            }
        }
    }
}
