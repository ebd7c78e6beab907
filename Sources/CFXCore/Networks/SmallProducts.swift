/// Where a matrix product leaves OpenBLAS: below these sizes a BLAS call's fixed cost (argument
/// checks, packing the matrices, choosing a kernel) outweighs its arithmetic. There are two routes
/// around it, with their own cut-offs, and this is the one place that says which product takes
/// which (docs/networks.md, "Small networks").
enum SmallProducts {
    /// A dense layer's products go to cfx's vectorised kernels (CFXKernels) at one row, whatever the
    /// size, or at most this many multiply-adds in all. At one row the kernel is as fast as
    /// OpenBLAS's AVX-512 small-matrix path and 4–8× faster than its AVX2 kernels, which pack the
    /// whole weight matrix for every call; from two rows on, OpenBLAS's AVX-512 path is faster
    /// (`benchmarks/results/dense_rows.md`).
    static let denseKernelMultiplyAdds = 1 << 15

    /// Any other product (`gemm`: convolutions, a dense layer's weight gradient) of fewer
    /// multiply-adds than this runs in `smallGemm` (a small MLP explained one instance at a time).
    static let smallGemmMultiplyAdds = 4096

    /// Whether a dense layer's product of `rows` rows takes the CFXKernels kernels.
    @inline(__always) static func denseKernel(rows: Int, outputs: Int, inputs: Int) -> Bool {
        denseKernel(rows: rows, limit: denseKernelRows(outputs: outputs, inputs: inputs))
    }

    /// The most rows (at least 1 counted for 0) whose product with an outputs × inputs weight takes
    /// the CFXKernels kernels beyond the one row that always does: P·r ≤ `denseKernelMultiplyAdds`
    /// for P = outputs · inputs, that is r ≤ ⌊denseKernelMultiplyAdds / P⌋.
    @inline(__always) static func denseKernelRows(outputs: Int, inputs: Int) -> Int {
        let product = outputs * inputs
        return product > 0 ? denseKernelMultiplyAdds / product : Int.max
    }

    /// `denseKernel` for a layer (or the tightest of several) whose `denseKernelRows` is `limit`.
    @inline(__always) static func denseKernel(rows: Int, limit: Int) -> Bool {
        rows == 1 || max(rows, 1) <= limit
    }

    /// Whether an m × n × k product runs in `smallGemm` rather than OpenBLAS.
    @inline(__always) static func smallGemm(m: Int, n: Int, k: Int) -> Bool {
        m * n * k < smallGemmMultiplyAdds
    }
}
