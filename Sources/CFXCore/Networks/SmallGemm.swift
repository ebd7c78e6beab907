/// C (m × n) = alpha · op(A) · op(B) + beta · C for small products, row-major, with the contract
/// of `gemm` in Gemm.swift (op(X) = X or Xᵀ, leading dimensions lda, ldb, ldc).
///
/// Why: a small MLP explained one instance at a time multiplies one row by each layer's weights
/// (m = 1), thousands of times per counterfactual. The plain loop computes each output as one
/// dependent chain of adds, so it waits on the adder's latency at every term. This kernel runs
/// eight outputs side by side (eight independent chains), which keeps the multiplier and adder
/// busy, and still adds every output's terms in the plain loop's order with a separate multiply
/// and add (no fused multiply-add): its results are bitwise those of the plain loop,
///
///     sum = 0; for p in 0..<k { sum += op(A)[i, p] · op(B)[p, j] }
///     C[i, j] = alpha · sum + (beta == 0 ? 0 : beta · C[i, j])
///
/// so replacing that loop changes no result. (OpenBLAS sums in another order, with fused
/// multiply-adds: its results differ from the plain loop's in the last bits.)
@inline(__always)
public func smallGemm<T: BinaryFloatingPoint>(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: T = 1,
                                              _ a: UnsafePointer<T>, lda: Int, _ b: UnsafePointer<T>, ldb: Int,
                                              beta: T, _ c: UnsafeMutablePointer<T>, ldc: Int) {
    // op(A)[i, p] = a[i·rowA + p·colA], op(B)[p, j] = b[p·rowB + j·colB]
    let (rowA, colA) = transposeA ? (1, lda) : (lda, 1)
    let (rowB, colB) = transposeB ? (1, ldb) : (ldb, 1)
    // A literal stride of 1 lets the compiler load B's eight columns as vectors (dx += dy·W).
    if colB == 1 {
        smallGemmRows(m: m, n: n, k: k, alpha: alpha, a, rowA: rowA, colA: colA, b, rowB: rowB, colB: 1, beta: beta, c, ldc: ldc)
    } else {
        smallGemmRows(m: m, n: n, k: k, alpha: alpha, a, rowA: rowA, colA: colA, b, rowB: rowB, colB: colB, beta: beta, c, ldc: ldc)
    }
}

@inline(__always)
private func smallGemmRows<T: BinaryFloatingPoint>(m: Int, n: Int, k: Int, alpha: T, _ a: UnsafePointer<T>, rowA: Int, colA: Int,
                                                  _ b: UnsafePointer<T>, rowB: Int, colB: Int,
                                                  beta: T, _ c: UnsafeMutablePointer<T>, ldc: Int) {
    for i in 0..<m {
        let ai = a + i * rowA, ci = c + i * ldc
        var j = 0
        while j + 8 <= n {
            let bj = b + j * colB
            var s0: T = 0, s1: T = 0, s2: T = 0, s3: T = 0, s4: T = 0, s5: T = 0, s6: T = 0, s7: T = 0
            for p in 0..<k {
                let x = ai[p * colA], bp = bj + p * rowB
                s0 += x * bp[0]
                s1 += x * bp[colB]
                s2 += x * bp[2 * colB]
                s3 += x * bp[3 * colB]
                s4 += x * bp[4 * colB]
                s5 += x * bp[5 * colB]
                s6 += x * bp[6 * colB]
                s7 += x * bp[7 * colB]
            }
            let cj = ci + j
            storeSmallGemm(s0, alpha, beta, cj)
            storeSmallGemm(s1, alpha, beta, cj + 1)
            storeSmallGemm(s2, alpha, beta, cj + 2)
            storeSmallGemm(s3, alpha, beta, cj + 3)
            storeSmallGemm(s4, alpha, beta, cj + 4)
            storeSmallGemm(s5, alpha, beta, cj + 5)
            storeSmallGemm(s6, alpha, beta, cj + 6)
            storeSmallGemm(s7, alpha, beta, cj + 7)
            j += 8
        }
        while j + 2 <= n {
            let bj = b + j * colB
            var s0: T = 0, s1: T = 0
            for p in 0..<k {
                let x = ai[p * colA], bp = bj + p * rowB
                s0 += x * bp[0]
                s1 += x * bp[colB]
            }
            storeSmallGemm(s0, alpha, beta, ci + j)
            storeSmallGemm(s1, alpha, beta, ci + j + 1)
            j += 2
        }
        if j < n {
            let bj = b + j * colB
            var s0: T = 0
            for p in 0..<k { s0 += ai[p * colA] * bj[p * rowB] }
            storeSmallGemm(s0, alpha, beta, ci + j)
        }
    }
}

/// C[i, j] = alpha · sum + (beta == 0 ? 0 : beta · C[i, j]), exactly as the plain loop writes it.
@inline(__always)
private func storeSmallGemm<T: BinaryFloatingPoint>(_ sum: T, _ alpha: T, _ beta: T, _ c: UnsafeMutablePointer<T>) {
    c.pointee = alpha * sum + (beta == 0 ? 0 : beta * c.pointee)
}
