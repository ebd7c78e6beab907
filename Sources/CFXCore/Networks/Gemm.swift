import CBLAS

/// cfx's private OpenBLAS runs each call on the calling thread (cfx's own threads run in parallel).
/// Debian's serial build is not used because concurrent calls race in its buffer allocator (seen as
/// run-to-run different results in data-parallel training); the pthread build locks it.
private let blasOnCallingThread: Void = openblas_set_num_threads(1)

/// C (m × n) = alpha · op(A) · op(B) + beta · C, row-major, with op(X) = X or Xᵀ.
///
/// Products of a few thousand multiply-adds (a small MLP explained one instance at a time) run in
/// plain loops, where a BLAS call's fixed cost would dominate; larger ones go to OpenBLAS.
@inline(__always)
public func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Double = 1,
          _ a: UnsafePointer<Double>, lda: Int, _ b: UnsafePointer<Double>, ldb: Int,
          beta: Double, _ c: UnsafeMutablePointer<Double>, ldc: Int) {
    if m * n * k >= 4096 {
        _ = blasOnCallingThread
        cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        return
    }
    for i in 0..<m {
        for j in 0..<n {
            var sum = 0.0
            for p in 0..<k {
                sum += (transposeA ? a[p * lda + i] : a[i * lda + p]) * (transposeB ? b[j * ldb + p] : b[p * ldb + j])
            }
            c[i * ldc + j] = alpha * sum + (beta == 0 ? 0 : beta * c[i * ldc + j])
        }
    }
}
