import XCTest
@testable import CFXCore

/// CFXKernels' dense products (the small-batch path of `Dense`): equal to the plain sums up to
/// rounding, and a row's result bitwise the same alone or inside a batch, in Double and Float.
final class DenseKernelTests: XCTestCase {
    // The MLP shapes (4-16-16-3, 30-32-32-2, 64-64-64-10) and remainders around the vector widths.
    private let shapes = [(16, 4), (16, 16), (3, 16), (32, 30), (32, 32), (2, 32), (64, 64), (10, 64),
                          (1, 1), (7, 5), (9, 17), (8, 8), (17, 33), (5, 0), (40, 129)]

    private func check<T: NetworkScalar>(_ type: T.Type, tolerance: T) {
        var random = SeededRandom(seed: 7)
        for (outputs, inputs) in shapes {
            let rows = 3
            let w = (0..<outputs * inputs).map { _ in T(random.uniform(-1, 1)) }
            let x = (0..<rows * inputs).map { _ in T(random.uniform(-1, 1)) }
            let dy = (0..<rows * outputs).map { _ in T(random.uniform(-1, 1)) }
            let y0 = (0..<rows * outputs).map { _ in T(random.uniform(-1, 1)) }
            let dx0 = (0..<rows * inputs).map { _ in T(random.uniform(-1, 1)) }
            var y = y0, dx = dx0
            T.denseForward(rows: rows, outputs: outputs, inputs: inputs, x, w, &y)
            T.denseBackward(rows: rows, outputs: outputs, inputs: inputs, dy, w, &dx, skippingZeros: false)
            for r in 0..<rows {
                for j in 0..<outputs {
                    var sum = y0[r * outputs + j]
                    for p in 0..<inputs { sum += x[r * inputs + p] * w[j * inputs + p] }
                    XCTAssertEqual(y[r * outputs + j], sum, accuracy: tolerance * T(inputs + 1), "forward \(outputs)x\(inputs) [\(r), \(j)]")
                }
                for i in 0..<inputs {
                    var sum = dx0[r * inputs + i]
                    for o in 0..<outputs { sum += dy[r * outputs + o] * w[o * inputs + i] }
                    XCTAssertEqual(dx[r * inputs + i], sum, accuracy: tolerance * T(outputs + 1), "backward \(outputs)x\(inputs) [\(r), \(i)]")
                }
                // The row alone: the same bits as in the batch.
                var yAlone = Array(y0[r * outputs..<(r + 1) * outputs]), dxAlone = Array(dx0[r * inputs..<(r + 1) * inputs])
                T.denseForward(rows: 1, outputs: outputs, inputs: inputs, Array(x[r * inputs..<(r + 1) * inputs]), w, &yAlone)
                T.denseBackward(rows: 1, outputs: outputs, inputs: inputs, Array(dy[r * outputs..<(r + 1) * outputs]), w, &dxAlone, skippingZeros: false)
                XCTAssertEqual(yAlone, Array(y[r * outputs..<(r + 1) * outputs]), "forward \(outputs)x\(inputs) row \(r) alone")
                XCTAssertEqual(dxAlone, Array(dx[r * inputs..<(r + 1) * inputs]), "backward \(outputs)x\(inputs) row \(r) alone")
            }
        }
    }

    /// An output computed in a group of sixteen or eight, and an input gradient in a block of
    /// eight, four, two or one vectors, has the bits it has computed alone.
    private func checkGrouping<T: NetworkScalar>(_ type: T.Type) {
        var random = SeededRandom(seed: 11)
        for inputs in [5, 16, 37, 64, 243, 300] {
            let outputs = 25
            let w = (0..<outputs * inputs).map { _ in T(random.uniform(-1, 1)) }
            let x = (0..<inputs).map { _ in T(random.uniform(-1, 1)) }
            let dy = (0..<outputs).map { _ in T(random.uniform(-1, 1)) }
            var all = [T](repeating: 0, count: outputs), dx = [T](repeating: 0, count: inputs)
            T.denseForward(rows: 1, outputs: outputs, inputs: inputs, x, w, &all)
            T.denseBackward(rows: 1, outputs: outputs, inputs: inputs, dy, w, &dx, skippingZeros: false)
            for j in 0..<outputs {
                var alone: [T] = [0]
                T.denseForward(rows: 1, outputs: 1, inputs: inputs, x, Array(w[j * inputs..<(j + 1) * inputs]), &alone)
                XCTAssertEqual(alone[0], all[j], "output \(j) of \(outputs) with \(inputs) inputs")
            }
            for i in 0..<inputs {
                var alone: [T] = [0]
                T.denseBackward(rows: 1, outputs: outputs, inputs: 1, dy, (0..<outputs).map { w[$0 * inputs + i] }, &alone, skippingZeros: false)
                XCTAssertEqual(alone[0], dx[i], "input gradient \(i) of \(inputs) with \(outputs) outputs")
            }
        }
    }

    /// Skipping the weight rows of outputs whose dy is zero (+0 or −0; relu's inactive units) changes
    /// no bit of a finite weight's input gradient, in a batch or alone.
    private func checkSkippingZeros<T: NetworkScalar>(_ type: T.Type) {
        var random = SeededRandom(seed: 17)
        for (outputs, inputs) in shapes + [(128, 300)] {
            let rows = 3
            let w = (0..<outputs * inputs).map { _ in T(random.uniform(-1, 1)) }
            let dy = (0..<rows * outputs).map { _ -> T in
                let u = random.uniform(-1, 1)
                return u < -0.3 ? 0 : u > 0.3 ? -0.0 : T(u)
            }
            let dx0 = (0..<rows * inputs).map { _ in T(random.uniform(-1, 1)) }
            var dense = dx0, skipping = dx0, zeros = [T](repeating: 0, count: rows * inputs), zerosSkipping = zeros
            T.denseBackward(rows: rows, outputs: outputs, inputs: inputs, dy, w, &dense, skippingZeros: false)
            T.denseBackward(rows: rows, outputs: outputs, inputs: inputs, dy, w, &skipping, skippingZeros: true)
            T.denseBackward(rows: rows, outputs: outputs, inputs: inputs, dy, w, &zeros, skippingZeros: false)
            T.denseBackward(rows: 1, outputs: outputs, inputs: inputs, dy, w, &zerosSkipping, skippingZeros: true)
            // Equal values of equal signs (zeros' too): the same bits, none being NaN.
            let same = { (a: [T], b: [T]) in zip(a, b).allSatisfy { $0 == $1 && $0.sign == $1.sign } }
            XCTAssertTrue(same(dense, skipping), "\(outputs)x\(inputs)")
            XCTAssertTrue(same(Array(zeros[0..<inputs]), Array(zerosSkipping[0..<inputs])), "\(outputs)x\(inputs) row 0 alone, onto zeros")
        }
    }

    func testSkippingZeroGradients() { forEachKernelSet { _ in checkSkippingZeros(Double.self); checkSkippingZeros(Float.self) } }

    func testDouble() { forEachKernelSet { _ in check(Double.self, tolerance: 1e-15); checkGrouping(Double.self) } }
    func testFloat() { forEachKernelSet { _ in check(Float.self, tolerance: 1e-6); checkGrouping(Float.self) } }

    /// Every output of the products on the test shapes, forward and input gradient, under one set.
    private func products<T: NetworkScalar>(_ type: T.Type) -> [T] {
        var random = SeededRandom(seed: 13), all: [T] = []
        for (outputs, inputs) in shapes + [(25, 300), (40, 243)] {
            let rows = 2
            let w = (0..<outputs * inputs).map { _ in T(random.uniform(-1, 1)) }
            let x = (0..<rows * inputs).map { _ in T(random.uniform(-1, 1)) }
            let dy = (0..<rows * outputs).map { _ in T(random.uniform(-1, 1)) }
            var y = [T](repeating: 0, count: rows * outputs), dx = [T](repeating: 0, count: rows * inputs)
            T.denseForward(rows: rows, outputs: outputs, inputs: inputs, x, w, &y)
            T.denseBackward(rows: rows, outputs: outputs, inputs: inputs, dy, w, &dx, skippingZeros: false)
            all += y + dx
        }
        return all
    }

    /// The AVX-512 and AVX2 sets give the same bits (both fuse every multiply-add); the baseline
    /// set, which fuses none, agrees to rounding and differs somewhere (else the sets are not what
    /// they say).
    private func checkSetsAgree<T: NetworkScalar>(_ type: T.Type, tolerance: T) {
        var results: [String: [T]] = [:]
        forEachKernelSet { results[$0] = products(type) }
        if let wide = results["avx512"], let avx2 = results["avx2"] { XCTAssertEqual(wide, avx2, "\(T.self): avx512 and avx2") }
        guard let baseline = results["baseline"], let fused = results["avx2"] ?? results["avx512"] else { return }
        XCTAssertEqual(baseline.count, fused.count)
        for (b, f) in zip(baseline, fused) { XCTAssertEqual(b, f, accuracy: tolerance * max(1, abs(f)), "\(T.self): baseline against fused") }
        XCTAssertNotEqual(baseline, fused, "\(T.self): the baseline set rounds products apart")
    }

    func testInstructionSetsAgree() {
        checkSetsAgree(Double.self, tolerance: 1e-12)
        checkSetsAgree(Float.self, tolerance: 1e-4)
    }

    func testKernelSetChoice() {
        let supported = KernelSet.supported
        XCTAssertEqual(supported.last, "baseline", "every processor runs the baseline set")
        XCTAssertTrue(supported.contains(KernelSet.current))
        let before = KernelSet.current
        XCTAssertFalse(KernelSet.use("avx1024"))
        XCTAssertFalse(KernelSet.use(""))
        XCTAssertEqual(KernelSet.current, before, "an unknown set changes nothing")
    }
}
