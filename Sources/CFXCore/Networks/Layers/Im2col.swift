/// Copies channels `channels` of one example's input x [C, H, W] to its column matrix: row
/// (c, kernel row, kernel column), column output position, rows `rowStride` apart (so that the
/// columns of several examples can sit side by side); padding reads as zero.
func im2col<T: NetworkScalar>(_ x: UnsafePointer<T>, _ g: WindowGeometry, _ col: UnsafeMutablePointer<T>,
                              rowStride: Int, channels: Range<Int>) {
    var row = col + channels.lowerBound * g.kernel * g.kernel * rowStride
    for c in channels {
        let xc = x + c * g.height * g.width
        for a in 0..<g.kernel {
            for b in 0..<g.kernel {
                let valid = g.validColumns(offset: b)
                for oy in 0..<g.outHeight {
                    let dst = row + oy * g.outWidth
                    let iy = oy * g.stride + a - g.padding
                    guard iy >= 0, iy < g.height else {
                        dst.update(repeating: 0, count: g.outWidth)
                        continue
                    }
                    let base = iy * g.width + b - g.padding
                    for ox in 0..<valid.lowerBound { dst[ox] = 0 }
                    if g.stride == 1 {
                        for ox in valid { dst[ox] = xc[base + ox] }
                    } else {
                        for ox in valid { dst[ox] = xc[base + ox * g.stride] }
                    }
                    for ox in valid.upperBound..<g.outWidth { dst[ox] = 0 }
                }
                row += rowStride
            }
        }
    }
}

/// Adds channels `channels` of a column matrix (rows `rowStride` apart) back onto one example's
/// input gradient dx [C, H, W]: the transpose of `im2col`.
func col2im<T: NetworkScalar>(_ col: UnsafePointer<T>, _ g: WindowGeometry, _ dx: UnsafeMutablePointer<T>,
                              rowStride: Int, channels: Range<Int>) {
    var row = col + channels.lowerBound * g.kernel * g.kernel * rowStride
    for c in channels {
        let dxc = dx + c * g.height * g.width
        for a in 0..<g.kernel {
            for b in 0..<g.kernel {
                let valid = g.validColumns(offset: b)
                for oy in 0..<g.outHeight {
                    let iy = oy * g.stride + a - g.padding
                    guard iy >= 0, iy < g.height else { continue }
                    let src = row + oy * g.outWidth
                    let base = iy * g.width + b - g.padding
                    if g.stride == 1 {
                        for ox in valid { dxc[base + ox] += src[ox] }
                    } else {
                        for ox in valid { dxc[base + ox * g.stride] += src[ox] }
                    }
                }
                row += rowStride
            }
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
