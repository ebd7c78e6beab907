import XCTest
@testable import CFXCore

/// smallGemm: bitwise equal to the plain loop it is meant to replace, and equal to OpenBLAS up to
/// rounding, for every transpose, shape and alpha/beta, in Double and Float.
final class SmallGemmTests: XCTestCase {
    /// The plain loop of gemm's small-product branch (Gemm.swift), the kernel's specification.
    private func plainLoop<T: BinaryFloatingPoint>(_ tA: Bool, _ tB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: T,
                                                  _ a: [T], _ lda: Int, _ b: [T], _ ldb: Int, _ beta: T, _ c: inout [T], _ ldc: Int) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: T = 0
                for p in 0..<k {
                    sum += (tA ? a[p * lda + i] : a[i * lda + p]) * (tB ? b[j * ldb + p] : b[p * ldb + j])
                }
                c[i * ldc + j] = alpha * sum + (beta == 0 ? 0 : beta * c[i * ldc + j])
            }
        }
    }

    private struct Case {
        let tA: Bool, tB: Bool, m: Int, n: Int, k: Int, lda: Int, ldb: Int, ldc: Int
        init(_ tA: Bool, _ tB: Bool, _ m: Int, _ n: Int, _ k: Int, pad: Int) {
            (self.tA, self.tB, self.m, self.n, self.k) = (tA, tB, m, n, k)
            lda = (tA ? m : k) + pad
            ldb = (tB ? k : n) + pad
            ldc = n + pad
        }
        var aCount: Int { (tA ? k : m) * lda }
        var bCount: Int { (tB ? n : k) * ldb }
        var cCount: Int { m * ldc }
    }

    private func cases() -> [Case] {
        var out: [Case] = []
        // The MLP shapes (one row through 4-16-16-3, 30-32-32-2, 64-64-64-10) and odd remainders.
        let shapes = [(1, 16, 4), (1, 3, 16), (1, 4, 16), (1, 32, 30), (1, 30, 32), (1, 2, 32), (1, 64, 64), (1, 10, 64),
                      (3, 7, 5), (2, 9, 11), (5, 1, 3), (4, 17, 8), (1, 1, 1), (2, 8, 0)]
        for (m, n, k) in shapes {
            for tA in [false, true] {
                for tB in [false, true] {
                    for pad in [0, 3] { out.append(Case(tA, tB, m, n, k, pad: pad)) }
                }
            }
        }
        return out
    }

    private func run<T: BinaryFloatingPoint>(_ type: T.Type, seed: UInt64) {
        var random = SeededRandom(seed: seed)
        for c in cases() {
            for (alpha, beta) in [(T(1), T(0)), (T(1), T(1)), (T(0.5), T(-1.25))] {
                let a = (0..<c.aCount).map { _ in T(random.uniform(-1, 1)) }
                let b = (0..<c.bCount).map { _ in T(random.uniform(-1, 1)) }
                let c0 = (0..<c.cCount).map { _ in T(random.uniform(-1, 1)) }
                var expected = c0, actual = c0
                plainLoop(c.tA, c.tB, c.m, c.n, c.k, alpha, a, c.lda, b, c.ldb, beta, &expected, c.ldc)
                a.withUnsafeBufferPointer { a in
                    b.withUnsafeBufferPointer { b in
                        actual.withUnsafeMutableBufferPointer { out in
                            smallGemm(transposeA: c.tA, transposeB: c.tB, m: c.m, n: c.n, k: c.k, alpha: alpha,
                                      a.baseAddress!, lda: c.lda, b.baseAddress!, ldb: c.ldb, beta: beta,
                                      out.baseAddress!, ldc: c.ldc)
                        }
                    }
                }
                // Bitwise, padding included (left untouched).
                XCTAssertEqual(actual.map { $0.hashValue }, expected.map { $0.hashValue },
                               "\(T.self) tA \(c.tA) tB \(c.tB) m \(c.m) n \(c.n) k \(c.k) lda \(c.lda) alpha \(alpha) beta \(beta)")
                XCTAssertTrue(zip(actual, expected).allSatisfy { $0 == $1 })
            }
        }
    }

    func testBitwiseEqualToThePlainLoopInDouble() { run(Double.self, seed: 1) }

    func testBitwiseEqualToThePlainLoopInFloat() { run(Float.self, seed: 2) }

    /// Against cblas_dgemm (gemm sends products of 4096 multiply-adds or more to OpenBLAS).
    func testAgreesWithOpenBLAS() {
        var random = SeededRandom(seed: 3)
        for (m, n, k) in [(1, 64, 64), (1, 128, 64), (3, 40, 50), (2, 70, 33)] {
            for tA in [false, true] {
                for tB in [false, true] {
                    let c = Case(tA, tB, m, n, k, pad: 1)
                    XCTAssertGreaterThanOrEqual(m * n * k, 4096, "the BLAS path of gemm")
                    let a = (0..<c.aCount).map { _ in random.uniform(-1, 1) }
                    let b = (0..<c.bCount).map { _ in random.uniform(-1, 1) }
                    let c0 = (0..<c.cCount).map { _ in random.uniform(-1, 1) }
                    var blas = c0, small = c0
                    a.withUnsafeBufferPointer { a in
                        b.withUnsafeBufferPointer { b in
                            blas.withUnsafeMutableBufferPointer { out in
                                gemm(transposeA: tA, transposeB: tB, m: m, n: n, k: k, alpha: 0.75, a.baseAddress!, lda: c.lda,
                                     b.baseAddress!, ldb: c.ldb, beta: 0.5, out.baseAddress!, ldc: c.ldc)
                            }
                            small.withUnsafeMutableBufferPointer { out in
                                smallGemm(transposeA: tA, transposeB: tB, m: m, n: n, k: k, alpha: 0.75, a.baseAddress!, lda: c.lda,
                                          b.baseAddress!, ldb: c.ldb, beta: 0.5, out.baseAddress!, ldc: c.ldc)
                            }
                        }
                    }
                    for i in blas.indices { XCTAssertEqual(small[i], blas[i], accuracy: 1e-12, "m \(m) n \(n) k \(k) tA \(tA) tB \(tB)") }
                }
            }
        }
    }
}
