import XCTest
import CFXKernels
@testable import CFXCore

/// The kernels that replaced a search's Swift passes (Wachter's `Adam.stepWithL1`, CFProto's
/// `cfx_proto_gradient` and `cfx_elastic_net`): under every instruction set, their values are bitwise
/// those of the passes they replaced, at lengths around the vector widths, with features at the
/// original value (zero differences of both signs) and points clipped to the box.
final class SearchKernelTests: XCTestCase {
    private let lengths = [0, 1, 3, 4, 5, 7, 8, 9, 13, 16, 30, 64, 67]

    private func bits(_ values: [Double]) -> [UInt64] { values.map(\.bitPattern) }

    /// A point near `original`: some features equal to it, one a negative zero against a zero.
    private func point(near original: [Double], _ random: inout SeededRandom) -> [Double] {
        original.indices.map { j in
            switch j % 4 {
            case 0: original[j]
            case 1: original[j] == 0 ? -0.0 : original[j] + random.uniform(-0.1, 0.1)
            default: original[j] + random.uniform(-0.1, 0.1)
            }
        }
    }

    func testAdamL1StepMatchesWachtersPasses() throws {
        try forEachKernelSet { set in
            var random = SeededRandom(seed: 11)
            for n in lengths {
                let original = (0..<n).map { $0 % 5 == 1 ? 0 : random.uniform(-1, 1) }
                let lower = original.map { $0 - 0.08 }, upper = original.map { $0 + 0.06 }
                let box = try Constraints(lower: .each(lower), upper: .each(upper), immutable: [], featureCount: n)
                var fused = Adam(count: n, corrections: AdamCorrections(steps: 3)), passes = fused
                var x = point(near: original, &random), expected = x
                for step in 0..<8 {  // past the shared corrections' 3 steps, into the box's edges
                    // One sign per feature (most features then run into the box), of sizes 10⁻³ to 10.
                    let g: [Double] = (0..<n).map { i in
                        let size: Double = random.uniform(0.5, 1) * pow(10, Double(i % 5) - 3)
                        return i % 6 == 0 ? 0 : i % 2 == 0 ? size : -size
                    }
                    let lambda = step == 2 ? 0 : 0.002 * Double(step + 1)
                    fused.stepWithL1(&x, gradient: g, lambda: lambda, original: original, lower: lower, upper: upper, learningRate: 0.03)
                    // Wachter's gradient, Adam's step and the constraints, as the search runs them with rules.
                    var gradient = g
                    for j in 0..<n {
                        let difference = expected[j] - original[j]
                        gradient[j] += lambda * (difference > 0 ? 1 : difference < 0 ? -1 : 0)
                    }
                    passes.step(&expected, gradient: gradient, learningRate: 0.03)
                    box.apply(to: &expected, original: original)
                    XCTAssertEqual(bits(x), bits(expected), "\(set): \(n) features, step \(step)")
                }
                XCTAssertTrue(n < 8 || (zip(x, upper).contains { $0 == $1 } && zip(x, lower).contains { $0 == $1 }),
                              "\(set): \(n) features, none clipped on one side of the box")
            }
        }
    }

    func testProtoGradientMatchesTheSwiftPasses() {
        forEachKernelSet { set in
            var random = SeededRandom(seed: 12)
            for n in lengths {
                let original = (0..<n).map { $0 % 5 == 1 ? 0 : random.uniform(-1, 1) }
                let y = point(near: original, &random)
                let modelGradient = (0..<n).map { _ in random.uniform(-3, 3) }, prototype = (0..<n).map { _ in random.uniform(-1, 1) }
                let theta = 10.0
                for (useModel, usePrototype) in [(false, false), (true, false), (false, true), (true, true)] {
                    var expected = (0..<n).map { 2 * (y[$0] - original[$0]) }
                    if useModel { for j in 0..<n { expected[j] += modelGradient[j] } }
                    if usePrototype { for j in 0..<n { expected[j] += 2 * theta * (y[j] - prototype[j]) } }
                    var grad = [Double](repeating: .nan, count: n)
                    withPointer(useModel ? modelGradient : nil) { m in
                        withPointer(usePrototype ? prototype : nil) { cfx_proto_gradient(n, y, original, m, $0, 2 * theta, &grad) }
                    }
                    XCTAssertEqual(bits(grad), bits(expected), "\(set): \(n) features, model \(useModel), prototype \(usePrototype)")
                }
            }
        }
    }

    /// CFProtoSearch.elasticNet as written in Swift before the kernel.
    private func swiftElasticNet(_ y: [Double], _ original: [Double], beta: Double) -> Double {
        var l1 = SIMD4<Double>(), l2 = SIMD4<Double>()
        let n = y.count, whole = n / 4 * 4
        for j in stride(from: 0, to: whole, by: 4) {
            let d = SIMD4(y[j], y[j + 1], y[j + 2], y[j + 3]) - SIMD4(original[j], original[j + 1], original[j + 2], original[j + 3])
            l1 += d.replacing(with: -d, where: d .< 0)
            l2 += d * d
        }
        for j in whole..<n {
            let d = y[j] - original[j]
            l1[0] += abs(d)
            l2[0] += d * d
        }
        return ((l2[0] + l2[1]) + (l2[2] + l2[3])) + beta * ((l1[0] + l1[1]) + (l1[2] + l1[3]))
    }

    func testElasticNetMatchesTheSwiftSums() {
        forEachKernelSet { set in
            var random = SeededRandom(seed: 13)
            for n in lengths {
                let original = (0..<n).map { $0 % 5 == 1 ? 0 : random.uniform(-1, 1) * pow(10, Double($0 % 7) - 3) }
                let y = point(near: original, &random)
                for beta in [0.1, 0, 3] {
                    let got = cfx_elastic_net(n, y, original, beta)
                    XCTAssertEqual(got.bitPattern, swiftElasticNet(y, original, beta: beta).bitPattern, "\(set): \(n) features, beta \(beta)")
                }
            }
        }
    }

    func testFirstNonFiniteFindsEveryNaNAndInfinity() {
        forEachKernelSet { set in
            for n in lengths where n > 0 {
                let finite = (0..<n).map { [Double.greatestFiniteMagnitude, -0.0, 1, .leastNonzeroMagnitude][$0 % 4] }
                XCTAssertNil(firstNonFinite(finite), "\(set): \(n) finite values")
                for bad in [Double.nan, -Double.nan, .infinity, -.infinity, Double(bitPattern: 0x7ff0_0000_0000_0001)] {
                    for at in Set([0, n / 2, n - 1]) {
                        var values = finite
                        values[at] = bad
                        XCTAssertEqual(firstNonFinite(values), at, "\(set): \(bad) at \(at) of \(n)")
                    }
                }
            }
        }
    }

    func testConversionsRoundAsSwift() {
        forEachKernelSet { set in
            var random = SeededRandom(seed: 14)
            for n in lengths {
                // Ties to even, subnormals, overflow to infinity, NaNs and zeros of both signs among random values.
                let special: [Double] = [1 + 0x1p-24, 1 + 0x1p-24 + 0x1p-52, 0x1p-140, -0x1p-150, 1e300, -.nan, -0.0, .infinity]
                let x = (0..<n).map { $0 % 3 == 0 ? special[($0 / 3) % special.count] : random.uniform(-1e3, 1e3) }
                var narrowed = [Float](repeating: 7, count: n), widened = [Double](repeating: 7, count: n)
                cfx_narrow_f64(n, x, &narrowed)
                XCTAssertEqual(narrowed.map(\.bitPattern), x.map { Float($0).bitPattern }, "\(set): \(n) values narrowed")
                cfx_widen_f32(n, narrowed, &widened)
                XCTAssertEqual(bits(widened), narrowed.map { Double($0).bitPattern }, "\(set): \(n) values widened")
            }
        }
    }
}
