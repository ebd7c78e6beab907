import CFXKernels

extension Conv2D {
    /// Input channels up to which a float32 input gradient of stride 1 runs in CFXKernels: oneDNN
    /// vectorises over channels (8 or 16 at a time), so a grayscale image's first layer keeps one
    /// lane busy (the Fashion-MNIST CNN's first layer took 30 µs where its multiply-adds need 2 µs).
    static let fewChannels = 4
    /// Floats of scratch per thread at most (16 MiB).
    static let scratchLimit = 1 << 22

    /// dx += convᵀ_W(dy) in CFXKernels when the layer qualifies (float32, stride 1, few input
    /// channels); false, with dx untouched, when it does not. Examples are spread over the pool's
    /// threads; each value is computed by one thread in one order, whatever their number.
    func addFewChannelInputGradient<T: NetworkScalar>(_ dy: UnsafePointer<T>, _ weight: UnsafePointer<T>,
                                                      _ dx: UnsafeMutablePointer<T>, _ g: WindowGeometry,
                                                      _ c: OperationContext<T>) -> Bool {
        guard T.self == Float.self, stride == 1, g.channels <= Self.fewChannels else { return false }
        var one = cfx_conv_shape(examples: 1, channels: g.channels, height: g.height, width: g.width,
                                 out_channels: outChannels, kernel: kernelSize, padding: padding)
        // The scratch (about one example's dy with a border) stays small: past it, the other paths.
        let scratchCount = cfx_conv_input_gradient_s1_scratch(&one)
        guard scratchCount <= Self.scratchLimit else { return false }
        let blocks = blockRanges(c.batch, blocks: c.pool?.threads ?? 1)
        runTasks(blocks.count, on: c.pool) { t in
            let examples = blocks[t]
            var shape = one
            shape.examples = examples.count
            withUnsafeTemporaryAllocation(of: Float.self, capacity: scratchCount) { scratch in
                cfx_conv_input_gradient_s1_f32(&shape, (dy + examples.lowerBound * c.outputCount).floats, weight.floats,
                                               (dx + examples.lowerBound * c.inputCount).floats, scratch.baseAddress)
            }
        }
        return true
    }
}
