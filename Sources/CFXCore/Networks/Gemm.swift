import CBLAS
import Synchronization

/// Debian's serial OpenBLAS (0.3.21, built SINGLE_THREADED without USE_LOCKING) is not safe to
/// call from several threads at once: its buffer allocator races, and concurrent dgemm calls gave
/// wrong (run-to-run different) results in data-parallel training. One call at a time, then.
/// Uncontended, the lock costs nanoseconds; a thread-safe BLAS (OpenBLAS built with
/// USE_LOCKING=1, or the pthread build with one thread) would let calls overlap again.
private let blasLock = Mutex(())

/// C (m × n) = alpha · op(A) · op(B) + beta · C, row-major, with op(X) = X or Xᵀ.
///
/// Products of a few thousand multiply-adds (a small MLP explained one instance at a time) run in
/// plain loops, where a BLAS call's fixed cost would dominate; larger ones go to OpenBLAS.
@inline(__always)
func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Double = 1,
          _ a: UnsafePointer<Double>, lda: Int, _ b: UnsafePointer<Double>, ldb: Int,
          beta: Double, _ c: UnsafeMutablePointer<Double>, ldc: Int) {
    if m * n * k >= 4096 {
        blasLock.withLock { _ in
            cblas_dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                        Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
        }
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
