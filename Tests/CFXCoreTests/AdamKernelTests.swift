import XCTest
@testable import CFXCore

/// `Adam.step` runs CFXKernels' `cfx_adam_step`: under every instruction set, its points are bitwise
/// those of the element-by-element Swift loop it replaced, at lengths around the vector widths.
final class AdamKernelTests: XCTestCase {
    /// The Swift loop, as Adam.step computed it before (TensorFlow 1's update).
    private struct ScalarAdam {
        var m: [Double], v: [Double], t = 0
        init(count: Int) { m = [Double](repeating: 0, count: count); v = m }

        mutating func step(_ x: inout [Double], gradient g: [Double], learningRate: Double) {
            t += 1
            let (beta1, beta2, epsilon) = (0.9, 0.999, 1e-8)
            let (root, denominator) = AdamCorrections.at(t, beta1: beta1, beta2: beta2)
            let stepSize = learningRate * root / denominator
            for i in x.indices {
                m[i] = beta1 * m[i] + (1 - beta1) * g[i]
                v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
                x[i] -= stepSize * m[i] / (v[i].squareRoot() + epsilon)
            }
        }
    }

    func testKernelMatchesTheSwiftLoop() {
        forEachKernelSet { set in
            var random = SeededRandom(seed: 5)
            for n in [0, 1, 3, 4, 5, 7, 8, 9, 13, 16, 30, 64, 67] {
                var adam = Adam(count: n, corrections: AdamCorrections(steps: 3))
                var reference = ScalarAdam(count: n)
                var x = (0..<n).map { _ in random.uniform(-2, 2) }, expected = x
                for step in 0..<6 {  // past the shared corrections' 3 steps
                    let g = (0..<n).map { i in i % 5 == 0 ? 0 : random.uniform(-1, 1) * pow(10, Double(i % 7) - 3) }
                    adam.step(&x, gradient: g, learningRate: 0.01 * Double(step + 1))
                    reference.step(&expected, gradient: g, learningRate: 0.01 * Double(step + 1))
                    XCTAssertEqual(x.map(\.bitPattern), expected.map(\.bitPattern), "\(set): \(n) values, step \(step)")
                }
            }
        }
    }
}
