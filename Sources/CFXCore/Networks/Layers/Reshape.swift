/// [C, H, W] → [C·H·W] in the same (row-major) order; a flat input passes unchanged.
public final class Flatten: Operation, @unchecked Sendable {
    public init() { super.init(kind: "flatten") }

    public override func outputShape(for input: [Int]) throws -> [Int] { [input.reduce(1, *)] }

    public override var overwritesInputGradient: Bool { true }

    /// A copy.
    public override var forwardsRowsAlone: Bool { true }

    public override func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { forwardValues(x, y, c) }
    public override func forward(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { forwardValues(x, y, c) }

    private func forwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        y.update(from: x, count: c.batch * c.inputCount)
    }

    public override func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                  _ dx: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { backwardValues(x, y, dy, dx, c) }
    public override func backward(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                                  _ dx: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { backwardValues(x, y, dy, dx, c) }

    private func backwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, _ dy: UnsafePointer<T>,
                                                    _ dx: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        if c.overwrite {
            for i in 0..<c.batch * c.inputCount { dx[i] = 0 + dy[i] }
        } else {
            for i in 0..<c.batch * c.inputCount { dx[i] += dy[i] }
        }
    }
}

/// Zero channels appended to an image: [C, H, W] → [outChannels, H, W], the input's channels first
/// (the shortcut of DDU's ResNets, after average pooling).
public final class ChannelPad: Operation, @unchecked Sendable {
    public let outChannels: Int

    public init(outChannels: Int) {
        self.outChannels = outChannels
        super.init(kind: "channel_pad")
    }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 3 else { throw CFXError(.model, "expects an image input [channels, height, width], got shape \(input)") }
        guard outChannels >= input[0] else {
            throw CFXError(.model, "out_channels \(outChannels) is smaller than the input's \(input[0]) channels")
        }
        return [outChannels, input[1], input[2]]
    }

    public override func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { forwardValues(x, y, c) }
    public override func forward(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { forwardValues(x, y, c) }

    private func forwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        let inCount = c.inputCount, outCount = c.outputCount
        for n in 0..<c.batch {
            (y + n * outCount).update(from: x + n * inCount, count: inCount)
            (y + n * outCount + inCount).update(repeating: 0, count: outCount - inCount)
        }
    }

    public override func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                                  _ dx: UnsafeMutablePointer<Float>, _ c: OperationContext<Float>) { backwardValues(x, y, dy, dx, c) }
    public override func backward(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                                  _ dx: UnsafeMutablePointer<Double>, _ c: OperationContext<Double>) { backwardValues(x, y, dy, dx, c) }

    private func backwardValues<T: NetworkScalar>(_ x: UnsafePointer<T>, _ y: UnsafePointer<T>, _ dy: UnsafePointer<T>,
                                                    _ dx: UnsafeMutablePointer<T>, _ c: OperationContext<T>) {
        let inCount = c.inputCount, outCount = c.outputCount
        for n in 0..<c.batch {
            for i in 0..<inCount { dx[n * inCount + i] += dy[n * outCount + i] }
        }
    }
}
