import CBLAS

/// cfx's private OpenBLAS runs each call on the calling thread: cfx splits work across threads
/// itself (batch rows, and `IntraOpPool` blocks of one product). Debian's serial build is not used
/// because concurrent calls race in its buffer allocator (seen as run-to-run different results in
/// data-parallel training); the pthread build locks it.
private let blasOnCallingThread: Void = openblas_set_num_threads(1)

/// C (m × n) = alpha · op(A) · op(B) + beta · C, row-major, with op(X) = X or Xᵀ.
///
/// Products of a few thousand multiply-adds run in `smallGemm`, where a BLAS call's fixed cost
/// would dominate (`SmallProducts.smallGemm`); larger ones go to OpenBLAS.
@inline(__always)
public func gemm<T: NetworkScalar>(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: T = 1,
                                   _ a: UnsafePointer<T>, lda: Int, _ b: UnsafePointer<T>, ldb: Int,
                                   beta: T, _ c: UnsafeMutablePointer<T>, ldc: Int) {
    if !SmallProducts.smallGemm(m: m, n: n, k: k) {
        _ = blasOnCallingThread
        T.blasGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                   a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
        return
    }
    smallGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a, lda: lda, b, ldb: ldb,
              beta: beta, c, ldc: ldc)
}

/// `gemm` split into blocks of C's rows or columns that run on `pool`'s threads. The blocks depend
/// only on the sizes (about 2^21 multiply-adds each, at most 8), never on the thread count, so the
/// result is the same whatever the number of threads.
public func gemm<T: NetworkScalar>(on pool: IntraOpPool?, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                                   alpha: T = 1, _ a: UnsafePointer<T>, lda: Int, _ b: UnsafePointer<T>, ldb: Int,
                                   beta: T, _ c: UnsafeMutablePointer<T>, ldc: Int) {
    let blocks = min(8, max(1, (m * n * k) >> 21))
    guard blocks > 1 else {
        gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
             a, lda: lda, b, ldb: ldb, beta: beta, c, ldc: ldc)
        return
    }
    let splitRows = m > n
    let ranges = blockRanges(splitRows ? m : n, blocks: blocks, align: 16)
    // The same blocks without a pool: the result must not depend on the threads.
    runTasks(ranges.count, on: pool) { t in
        let r = ranges[t]
        if splitRows {
            gemm(transposeA: transposeA, transposeB: transposeB, m: r.count, n: n, k: k, alpha: alpha,
                 transposeA ? a + r.lowerBound : a + r.lowerBound * lda, lda: lda, b, ldb: ldb,
                 beta: beta, c + r.lowerBound * ldc, ldc: ldc)
        } else {
            gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: r.count, k: k, alpha: alpha,
                 a, lda: lda, transposeB ? b + r.lowerBound * ldb : b + r.lowerBound, ldb: ldb,
                 beta: beta, c + r.lowerBound, ldc: ldc)
        }
    }
}

/// 0..<count cut into at most `blocks` consecutive ranges whose bounds are multiples of `align`.
func blockRanges(_ count: Int, blocks: Int, align: Int = 1) -> [Range<Int>] {
    let size = max(align, (count + blocks - 1) / blocks + align - 1) / align * align
    return stride(from: 0, to: count, by: size).map { $0..<min($0 + size, count) }
}

/// body(range) for consecutive ranges covering 0..<count, items of `size` values each: one range
/// per thread of `pool` when there are at least 2^14 values (below that a hand-off costs about what
/// it saves; bounds multiples of 64 for single values), 0..<count on the calling thread otherwise.
/// Only for work that computes every value on its own, which no split can change.
func splitValues(_ count: Int, of size: Int = 1, on pool: IntraOpPool?, _ body: (Range<Int>) -> Void) {
    guard let pool, count * size >= 1 << 14 else { return body(0..<count) }
    let ranges = blockRanges(count, blocks: pool.threads, align: size == 1 ? 64 : 1)
    pool.run(tasks: ranges.count) { body(ranges[$0]) }
}

/// body(0..<tasks) on `pool`, or in order on the calling thread without one.
@inline(__always)
func runTasks(_ tasks: Int, on pool: IntraOpPool?, _ body: (Int) -> Void) {
    if let pool {
        pool.run(tasks: tasks, body)
    } else {
        for t in 0..<tasks { body(t) }
    }
}

/// The name of the OpenBLAS kernel set in use (e.g. "SkylakeX", "Haswell"), for benchmark reports.
public func blasCoreName() -> String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
}
