/// The walk `im2col` and `col2im` share, over the rows of channels `channels` of a column matrix
/// (channel c, kernel row a, kernel column b; rows `rowStride` apart) and in each the output rows
/// oy: `span(offset, input)` with `offset` the matrix index of (row, oy, output column 0) and
/// `input`, when input row iy = oy·stride + a − padding lies in the image, the input index of
/// output column 0 (c·H·W + iy·W + b − padding) and the output columns whose input column lies in
/// it (nil when the row is all padding).
@inline(__always)
private func forEachColumnSpan(_ g: WindowGeometry, rowStride: Int, channels: Range<Int>,
                               _ span: (_ offset: Int, _ input: (base: Int, valid: Range<Int>)?) -> Void) {
    var row = channels.lowerBound * g.kernel * g.kernel * rowStride
    for c in channels {
        let plane = c * g.height * g.width
        for a in 0..<g.kernel {
            for b in 0..<g.kernel {
                let valid = g.validColumns(offset: b)
                for oy in 0..<g.outHeight {
                    let iy = oy * g.stride + a - g.padding
                    span(row + oy * g.outWidth, iy >= 0 && iy < g.height ? (plane + iy * g.width + b - g.padding, valid) : nil)
                }
                row += rowStride
            }
        }
    }
}

/// Copies channels `channels` of one example's input x [C, H, W] to its column matrix: row
/// (c, kernel row, kernel column), column output position, rows `rowStride` apart (so that the
/// columns of several examples can sit side by side); padding reads as zero.
func im2col<T: NetworkScalar>(_ x: UnsafePointer<T>, _ g: WindowGeometry, _ col: UnsafeMutablePointer<T>,
                              rowStride: Int, channels: Range<Int>) {
    forEachColumnSpan(g, rowStride: rowStride, channels: channels) { offset, input in
        let dst = col + offset
        guard let (base, valid) = input else {
            dst.update(repeating: 0, count: g.outWidth)
            return
        }
        for ox in 0..<valid.lowerBound { dst[ox] = 0 }
        if g.stride == 1 {
            for ox in valid { dst[ox] = x[base + ox] }
        } else {
            for ox in valid { dst[ox] = x[base + ox * g.stride] }
        }
        for ox in valid.upperBound..<g.outWidth { dst[ox] = 0 }
    }
}

/// Adds channels `channels` of a column matrix (rows `rowStride` apart) back onto one example's
/// input gradient dx [C, H, W]: the transpose of `im2col`.
func col2im<T: NetworkScalar>(_ col: UnsafePointer<T>, _ g: WindowGeometry, _ dx: UnsafeMutablePointer<T>,
                              rowStride: Int, channels: Range<Int>) {
    forEachColumnSpan(g, rowStride: rowStride, channels: channels) { offset, input in
        guard let (base, valid) = input else { return }
        let src = col + offset
        if g.stride == 1 {
            for ox in valid { dx[base + ox] += src[ox] }
        } else {
            for ox in valid { dx[base + ox * g.stride] += src[ox] }
        }
    }
}

/// Runs `body(example, channels)` over `examples` examples of `g`'s input: one task per example,
/// or, for a single example, one per block of channels; on `pool` when the copy is large enough
/// to be worth sharing. Tasks touch disjoint memory, so the result never depends on the threads.
func forEachColumnBlock(_ examples: Int, _ g: WindowGeometry, pool: IntraOpPool?,
                        _ body: (_ example: Int, _ channels: Range<Int>) -> Void) {
    let large = examples * g.columnRows * g.outputPositions >= 1 << 16
    guard let pool, large else {
        for n in 0..<examples { body(n, 0..<g.channels) }
        return
    }
    if examples > 1 {
        pool.run(tasks: examples) { n in body(n, 0..<g.channels) }
    } else {
        let blocks = blockRanges(g.channels, blocks: pool.threads)
        pool.run(tasks: blocks.count) { t in body(0, blocks[t]) }
    }
}
