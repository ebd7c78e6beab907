import XCTest
import CFXKernels
@testable import CFXCore

/// CFXKernels' relu, leaky relu and 2 × 2 max pooling backward passes: under every instruction set,
/// each value's bits are those of the scalar expression the layers define (NaNs and signed zeros
/// included), adding to dx or writing it as a cleared dx would give.
final class ElementwiseKernelTests: XCTestCase {
    /// Values with NaNs, zeros of both signs and ties.
    private func values<T: NetworkScalar>(_ count: Int, _ random: inout SeededRandom) -> [T] {
        (0..<count).map { _ in
            switch Int(random.uniform(0, 10)) {
            case 0: T.nan
            case 1: -T.zero
            case 2: T.zero
            case 3: 1
            default: T(random.uniform(-2, 2))
            }
        }
    }

    private func sameBits<T: BinaryFloatingPoint>(_ a: T, _ b: T) -> Bool {
        a.sign == b.sign && a.exponentBitPattern == b.exponentBitPattern && a.significandBitPattern == b.significandBitPattern
    }

    private func assertBits<T: NetworkScalar>(_ got: [T], _ want: [T], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        for i in got.indices where !sameBits(got[i], want[i]) {
            XCTFail("\(what): value \(i) is \(got[i]), expected \(want[i])", file: file, line: line)
            return
        }
    }

    private func checkActivations<T: NetworkScalar>(_: T.Type, set: String) {
        var random = SeededRandom(seed: 5)
        let slope: T = 0.01
        for count in [0, 1, 7, 15, 16, 17, 31, 64, 100] {
            let x: [T] = values(count, &random), dy: [T] = values(count, &random), start: [T] = values(count, &random)
            var y = [T](repeating: 7, count: count)
            T.reluForward(count: count, x, &y)
            assertBits(y, x.map { max($0, 0) }, "\(set) \(T.self) relu, \(count) values")
            T.leakyReluForward(count: count, slope: slope, x, &y)
            assertBits(y, x.map { $0 > 0 ? $0 : slope * $0 }, "\(set) \(T.self) leaky relu, \(count) values")
            for accumulate in [true, false] {
                let base = accumulate ? start : [T](repeating: 0, count: count)
                var dx = start
                T.reluBackward(count: count, x, dy, &dx, accumulate: accumulate)
                assertBits(dx, (0..<count).map { base[$0] + (x[$0] > 0 ? dy[$0] : 0) }, "\(set) \(T.self) relu backward, accumulate \(accumulate)")
                dx = start
                T.leakyReluBackward(count: count, slope: slope, x, dy, &dx, accumulate: accumulate)
                assertBits(dx, (0..<count).map { base[$0] + (x[$0] > 0 ? dy[$0] : slope * dy[$0]) },
                           "\(set) \(T.self) leaky relu backward, accumulate \(accumulate)")
            }
        }
    }

    func testActivationsGiveTheScalarBits() {
        forEachKernelSet { set in
            checkActivations(Float.self, set: set)
            checkActivations(Double.self, set: set)
        }
    }

    /// dx[argmax] += dy per window, the other values untouched; odd edges (no window) included.
    private func checkPoolBackward<T: NetworkScalar>(_: T.Type, set: String) {
        var random = SeededRandom(seed: 9)
        for (planes, height, width) in [(1, 2, 2), (3, 28, 28), (2, 14, 14), (2, 9, 7), (1, 5, 33), (2, 3, 17), (1, 1, 4), (1, 5, 24), (2, 4, 11)] {
            let x: [T] = values(planes * height * width, &random), outputs = planes * (height / 2) * (width / 2)
            var y = [T](repeating: 0, count: outputs), argmax = [T](repeating: 0, count: outputs)
            T.maxPool2(planes: planes, height: height, width: width, x, &y, &argmax)
            let dy: [T] = values(outputs, &random), start: [T] = values(planes * height * width, &random)
            for accumulate in [true, false] {
                var want = accumulate ? start : [T](repeating: 0, count: start.count)
                for plane in 0..<planes {
                    for o in 0..<outputs / planes {
                        let out = plane * (outputs / planes) + o
                        want[plane * height * width + argmax[out].index] += dy[out]
                    }
                }
                var dx = start
                T.maxPool2Backward(planes: planes, height: height, width: width, argmax, dy, &dx, accumulate: accumulate)
                assertBits(dx, want, "\(set) \(T.self) max pool backward \(planes)×\(height)×\(width), accumulate \(accumulate)")
            }
            // With a relu's input: the bits of writing the pooling's gradient, then relu's backward pass writing its own.
            let reluInput: [T] = values(planes * height * width, &random)
            var pooled = start, want = start
            T.maxPool2Backward(planes: planes, height: height, width: width, argmax, dy, &pooled, accumulate: false)
            T.reluBackward(count: start.count, reluInput, pooled, &want, accumulate: false)
            for accumulate in [true, false] {
                var dx = start
                T.maxPool2Backward(planes: planes, height: height, width: width, argmax, dy, &dx, accumulate: accumulate, relu: reluInput)
                assertBits(dx, want, "\(set) \(T.self) max pool and relu backward \(planes)×\(height)×\(width), accumulate \(accumulate)")
            }
        }
    }

    func testMaxPoolBackwardAddsAtTheArgmax() {
        forEachKernelSet { set in
            checkPoolBackward(Float.self, set: set)
            checkPoolBackward(Double.self, set: set)
        }
    }
}
