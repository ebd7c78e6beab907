import XCTest
import CFXKernels
@testable import CFXCore

/// CFXKernels' input gradient of a stride-1 convolution over few channels (the float32 path of
/// `Conv2D` for such layers): equal to the plain sum in double up to float rounding, and an
/// example's result bitwise the same alone or in a batch, under every instruction set.
final class ConvKernelTests: XCTestCase {
    // (channels, height, width, out channels, kernel, padding): the Fashion-MNIST CNN's first layer,
    // odd sizes, 1×1, 2×2 and 5×5 kernels, no padding and more padding than the kernel.
    private let shapes = [(1, 28, 28, 16, 3, 1), (3, 7, 9, 5, 3, 0), (2, 5, 4, 3, 5, 4), (4, 6, 6, 2, 1, 0),
                          (1, 1, 1, 1, 1, 0), (2, 17, 33, 4, 5, 2), (1, 3, 40, 3, 3, 2),
                          // padding past kernel - 1: windows of padding only
                          (1, 4, 4, 2, 3, 3), (2, 2, 3, 2, 1, 2), (1, 5, 6, 3, 2, 4), (1, 2, 2, 2, 3, 6)]

    /// The plain sum in double: dx[n][c][y][x] = Σ w[o][c][ky][kx] · dy[n][o][y + p − ky][x + p − kx].
    /// (The kernel's scratch starts as NaN: anything it reads without writing shows.)
    private func expected(_ s: cfx_conv_shape, _ dy: [Float], _ w: [Float]) -> [Double] {
        let (k, p) = (s.kernel, s.padding)
        let outH = s.height + 2 * p - k + 1, outW = s.width + 2 * p - k + 1
        var dx = [Double](repeating: 0, count: s.examples * s.channels * s.height * s.width)
        for n in 0..<s.examples {
            for c in 0..<s.channels {
                for y in 0..<s.height {
                    for x in 0..<s.width {
                        var sum = 0.0
                        for o in 0..<s.out_channels {
                            for ky in 0..<k {
                                for kx in 0..<k {
                                    let r = y + p - ky, q = x + p - kx
                                    guard r >= 0, r < outH, q >= 0, q < outW else { continue }
                                    sum += Double(w[((o * s.channels + c) * k + ky) * k + kx]) * Double(dy[((n * s.out_channels + o) * outH + r) * outW + q])
                                }
                            }
                        }
                        dx[((n * s.channels + c) * s.height + y) * s.width + x] = sum
                    }
                }
            }
        }
        return dx
    }

    func testMatchesThePlainSumAndBatchesChangeNothing() {
        forEachKernelSet { set in
            var random = SeededRandom(seed: 3)
            for (channels, height, width, out, kernel, padding) in shapes {
                var s = cfx_conv_shape(examples: 3, channels: channels, height: height, width: width, out_channels: out,
                                       kernel: kernel, padding: padding)
                let outH = height + 2 * padding - kernel + 1, outW = width + 2 * padding - kernel + 1
                let dy = (0..<3 * out * outH * outW).map { _ in Float(random.uniform(-1, 1)) }
                let w = (0..<out * channels * kernel * kernel).map { _ in Float(random.uniform(-1, 1)) }
                let start = (0..<3 * channels * height * width).map { _ in Float(random.uniform(-1, 1)) }
                var dx = start, scratch = [Float](repeating: .nan, count: cfx_conv_input_gradient_s1_scratch(&s))
                cfx_conv_input_gradient_s1_f32(&s, dy, w, &dx, &scratch)
                let want = expected(s, dy, w), terms = Float(out * kernel * kernel)
                for i in dx.indices {
                    XCTAssertEqual(dx[i], start[i] + Float(want[i]), accuracy: 1e-6 * (terms + 1), "\(set) \(s) value \(i)")
                }
                let per = channels * height * width, perDy = out * outH * outW
                for n in 0..<3 {  // each example alone: the bits of the batch
                    var one = s
                    one.examples = 1
                    var alone = Array(start[n * per..<(n + 1) * per])
                    cfx_conv_input_gradient_s1_f32(&one, Array(dy[n * perDy..<(n + 1) * perDy]), w, &alone, &scratch)
                    XCTAssertEqual(alone, Array(dx[n * per..<(n + 1) * per]), "\(set) \(s) example \(n) alone")
                }
            }
        }
    }
}
