import CFXDNNL
import CFXKernels

extension Conv2D {
    /// Input channels up to which a float32 convolution of stride 1 runs on CFXKernels' direct
    /// kernels rather than oneDNN: oneDNN vectorises over channels (8 or 16 at a time), so a
    /// grayscale image's first layer keeps one lane busy (the Fashion-MNIST CNN's first layer took
    /// 30 µs for its input gradient where its multiply-adds need 2 µs), and it converts layouts
    /// around every call.
    static let fewChannels = 4
    /// Floats of scratch per thread at most (16 MiB).
    static let scratchLimit = 1 << 22

    /// Whether a float32 pass of this layer runs on the direct kernels, and the shape of one example.
    private func direct<T>(_ g: WindowGeometry, _: T.Type) -> cfx_conv_shape? {
        guard T.self == Float.self, stride == 1, g.channels <= Self.fewChannels else { return nil }
        let one = cfx_conv_shape(examples: 1, channels: g.channels, height: g.height, width: g.width,
                                 out_channels: outChannels, kernel: kernelSize, padding: padding)
        return withUnsafePointer(to: one) { cfx_conv_s1_scratch($0) } <= Self.scratchLimit ? one : nil
    }

    /// Runs `pass` on blocks of examples, one block per thread of the pool, each with its scratch
    /// and the example range's shape: each value is computed by one thread in one order, whatever
    /// their number.
    private func runDirect<T>(_ one: cfx_conv_shape, _ c: OperationContext<T>,
                              _ pass: (UnsafePointer<cfx_conv_shape>, Range<Int>, UnsafeMutablePointer<Float>) -> Void) {
        let scratchCount = withUnsafePointer(to: one) { cfx_conv_s1_scratch($0) }
        let blocks = blockRanges(c.batch, blocks: c.pool?.threads ?? 1)
        runTasks(blocks.count, on: c.pool) { t in
            var shape = one
            shape.examples = blocks[t].count
            withUnsafeTemporaryAllocation(of: Float.self, capacity: scratchCount) { scratch in
                pass(&shape, blocks[t], scratch.baseAddress!)
            }
        }
    }

    /// y = conv_W(x) + bias in CFXKernels when the layer qualifies (float32, stride 1, few input
    /// channels) and the kernel beats oneDNN's (the avx512 set, or no oneDNN); false, with y
    /// untouched, otherwise.
    func forwardDirect<T: NetworkScalar>(_ x: UnsafePointer<T>, _ weight: UnsafePointer<T>, _ bias: UnsafePointer<T>?,
                                         _ y: UnsafeMutablePointer<T>, _ g: WindowGeometry, _ c: OperationContext<T>) -> Bool {
        // oneDNN's forward (its layout conversion included) is quicker than the avx2 kernel's.
        guard cfx_kernels_wide() != 0 || cfx_dnnl_available() == 0, let one = direct(g, T.self) else { return false }
        runDirect(one, c) { shape, examples, scratch in
            cfx_conv_forward_s1_f32(shape, (x + examples.lowerBound * c.inputCount).floats, weight.floats, bias?.floats,
                                    (y + examples.lowerBound * c.outputCount).floats, scratch)
        }
        return true
    }

    /// dx += convᵀ_W(dy) in CFXKernels when the layer qualifies; false, with dx untouched, when it does not.
    func addDirectInputGradient<T: NetworkScalar>(_ dy: UnsafePointer<T>, _ weight: UnsafePointer<T>,
                                                  _ dx: UnsafeMutablePointer<T>, _ g: WindowGeometry,
                                                  _ c: OperationContext<T>) -> Bool {
        guard let one = direct(g, T.self) else { return false }
        runDirect(one, c) { shape, examples, scratch in
            cfx_conv_input_gradient_s1_f32(shape, (dy + examples.lowerBound * c.outputCount).floats, weight.floats,
                                           (dx + examples.lowerBound * c.inputCount).floats, scratch)
        }
        return true
    }
}
