import Glibc

/// Forward and backward passes in memory owned by one thread. Inputs, outputs and gradients are
/// Double whatever the network computes in (a float32 network converts at the edges, which costs
/// a copy of the buffers read, not of the network's work). The buffers of the last forward pass
/// are kept, so a pullback at the point just predicted costs one backward pass.
public final class NetworkEvaluator: ClassifierEvaluator {
    private let network: Network
    /// Exactly one of the two runs the passes, in the network's number type.
    let tape64: Tape<Double>?
    let tape32: Tape<Float>?
    /// Double copies of float32 buffers handed out by `value`, by buffer.
    private var staged: [Int: UnsafeMutableBufferPointer<Double>] = [:]
    /// float32: the Double copy of the input gradient `backward` hands out, and the Double input of
    /// the last forward pass (what `holdsForwardPass` compares with).
    private var stagedInputGradient = UnsafeMutableBufferPointer<Double>(start: nil, count: 0)
    private var lastInput = UnsafeMutableBufferPointer<Double>(start: nil, count: 0)
    /// Float gradients of the parameters during a float32 backward pass that asks for them.
    private var parameterGradients32: UnsafeMutableBufferPointer<Float>?

    /// An evaluator of `network` whose layers split large products, im2col and convolutions
    /// over `threads` threads (its own, kept until it is freed); results do not depend on the count.
    public convenience init(_ network: Network, threads: Int = IntraOpThreads.current) {
        self.init(network, threads: threads, smallChain: true)
    }

    /// `smallChain: false` runs every pass layer by layer (tests compare the two).
    init(_ network: Network, threads: Int, smallChain: Bool) {
        self.network = network
        self.threads = threads
        // More threads than cores would only wait for each other (and results do not depend on the count).
        let poolThreads = min(threads, availableCores())
        let pool = poolThreads > 1 ? IntraOpPool(threads: poolThreads) : nil
        switch network.dtype {
        case .float64:
            tape64 = Tape(network, parameters: network.parameters.baseAddress!, pool: pool, smallChain: smallChain)
            tape32 = nil
        case .float32:
            tape64 = nil
            tape32 = Tape(network, parameters: network.parameters32.baseAddress!, pool: pool, smallChain: smallChain)
        }
    }

    deinit {
        for buffer in staged.values { buffer.deallocate() }
        stagedInputGradient.deallocate()
        lastInput.deallocate()
        parameterGradients32?.deallocate()
    }

    private var rows: Int { tape64?.rows ?? tape32!.rows }
    /// The threads its layers use.
    public let threads: Int
    /// Values its buffers hold now (activations, gradients, scratch, workspace, staging).
    var heldValues: Int {
        (tape64?.heldValues ?? tape32!.heldValues) + staged.values.reduce(0) { $0 + $1.count } + stagedInputGradient.count + lastInput.count
    }

    /// Runs the network on `rows` rows of `x` through buffer `target` (the last one by default).
    public func forward(_ x: UnsafeBufferPointer<Double>, rows: Int, through target: Int? = nil, training: Bool = false) {
        let target = target ?? network.bufferShapes.count - 1
        let count = rows * network.featureCount
        if let tape64 {
            tape64.forward(rows: rows, through: target, training: training) { $0.update(from: x.baseAddress!, count: count) }
        } else {
            tape32!.forward(rows: rows, through: target, training: training) { input in
                for i in 0..<count { input[i] = Float(x[i]) }
            }
            Self.reserve(&lastInput, count)
            if count > 0 { lastInput.baseAddress!.update(from: x.baseAddress!, count: count) }
        }
    }

    /// Buffer `buffer` of the last forward pass (rows × its size), valid until the next call.
    public func value(_ buffer: Int) -> UnsafeBufferPointer<Double> {
        let count = rows * network.bufferShapes[buffer].reduce(1, *)
        if let tape64 { return UnsafeBufferPointer(start: tape64.values[buffer], count: count) }
        return stage(tape32!.values[buffer], count: count, as: buffer)
    }

    /// A Double copy of `count` Float values, kept in the staging buffer `slot`.
    private func stage(_ source: UnsafePointer<Float>, count: Int, as slot: Int) -> UnsafeBufferPointer<Double> {
        var target = staged[slot] ?? UnsafeMutableBufferPointer(start: nil, count: 0)
        Self.reserve(&target, count)
        staged[slot] = target
        return Self.copy(source, count: count, into: target)
    }

    private static func copy(_ source: UnsafePointer<Float>, count: Int, into target: UnsafeMutableBufferPointer<Double>) -> UnsafeBufferPointer<Double> {
        for i in 0..<count { target[i] = Double(source[i]) }
        return UnsafeBufferPointer(rebasing: target[0..<count])
    }

    /// Grows `buffer` to hold at least `count` values (its contents are not kept).
    private static func reserve(_ buffer: inout UnsafeMutableBufferPointer<Double>, _ count: Int) {
        guard buffer.count < count else { return }
        buffer.deallocate()
        buffer = .allocate(capacity: count)
    }

    /// Backpropagates `cotangent` (rows × size of `buffer`) from `buffer` of the last forward
    /// pass; returns ∂/∂input (rows × d). Trainable-parameter gradients are added to
    /// `parameterGradients` (laid out as `network.parameters`) when it is given.
    @discardableResult
    public func backward(from buffer: Int, cotangent: UnsafeBufferPointer<Double>,
                         parameterGradients: UnsafeMutablePointer<Double>? = nil) -> UnsafeBufferPointer<Double> {
        backward(through: buffer, parameterGradients: parameterGradients, seeded: { $0 == buffer }) { seed in seed(buffer, cotangent) }
    }

    /// Backpropagates several cotangents at once, each seeded at its own buffer of the last forward
    /// pass (e.g. one at "logits" and one at "features"): returns the input gradient of
    /// Σ_seeds ⟨cotangent, buffer⟩ (rows × d) with one backward pass through the deepest seed.
    public func backward(seeds: [(buffer: Int, cotangent: UnsafeBufferPointer<Double>)],
                         parameterGradients: UnsafeMutablePointer<Double>? = nil) -> UnsafeBufferPointer<Double> {
        precondition(!seeds.isEmpty, "backward needs at least one seed")
        return backward(through: seeds.map(\.buffer).max()!, parameterGradients: parameterGradients,
                        seeded: { b in seeds.contains { $0.buffer == b } }) { seed in
            for s in seeds { seed(s.buffer, s.cotangent) }
        }
    }

    /// The backward pass from buffer `top` down, after `seeding` has added each cotangent to its
    /// buffer's gradient (a closure, so that one seed costs no array); `seeded` tells the buffers it seeds.
    private func backward(through top: Int, parameterGradients: UnsafeMutablePointer<Double>?, seeded: (Int) -> Bool,
                          seeding: ((Int, UnsafeBufferPointer<Double>) -> Void) -> Void) -> UnsafeBufferPointer<Double> {
        let inputCount = rows * network.featureCount
        if let tape64 {
            tape64.clearGradients(through: top, parameterGradients: parameterGradients != nil, seeded: seeded)
            seeding { buffer, cotangent in
                let g = tape64.gradients[buffer]
                for i in 0..<cotangent.count { g[i] += cotangent[i] }
            }
            return UnsafeBufferPointer(start: tape64.propagate(through: top, parameterGradients: parameterGradients), count: inputCount)
        }
        let tape32 = tape32!
        tape32.clearGradients(through: top, parameterGradients: parameterGradients != nil, seeded: seeded)
        seeding { buffer, cotangent in
            let g = tape32.gradients[buffer]
            for i in 0..<cotangent.count { g[i] += Float(cotangent[i]) }
        }
        var floatGradients: UnsafeMutablePointer<Float>?
        if parameterGradients != nil {
            if parameterGradients32 == nil { parameterGradients32 = .allocate(capacity: network.parameters32.count) }
            parameterGradients32!.update(repeating: 0)
            floatGradients = parameterGradients32!.baseAddress
        }
        let inputGradient = tape32.propagate(through: top, parameterGradients: floatGradients)
        if let parameterGradients, let floatGradients {
            for i in 0..<network.parameters32.count { parameterGradients[i] += Double(floatGradients[i]) }
        }
        Self.reserve(&stagedInputGradient, inputCount)
        return Self.copy(inputGradient, count: inputCount, into: stagedInputGradient)
    }

    // MARK: ClassifierEvaluator

    /// Predicts in passes of at most `network.rowsPerPass` rows, so that memory stays bounded.
    public func predict(_ x: UnsafeBufferPointer<Double>, rows: Int, into proba: UnsafeMutableBufferPointer<Double>) throws {
        let (d, k) = (network.featureCount, network.classCount)
        let last = network.bufferShapes.count - 1
        var start = 0
        while start < rows {
            let count = min(network.rowsPerPass, rows - start)
            forward(UnsafeBufferPointer(rebasing: x[start * d..<(start + count) * d]), rows: count)
            let out = proba.baseAddress! + start * k
            if let tape64 {
                out.update(from: tape64.values[last], count: count * k)
            } else {
                let output = tape32!.values[last]
                for i in 0..<count * k { out[i] = Double(output[i]) }
            }
            start += count
        }
    }

    public func pullback(at x: UnsafeBufferPointer<Double>, rows: Int, cotangent: UnsafeBufferPointer<Double>,
                         into grad: UnsafeMutableBufferPointer<Double>) throws {
        let last = network.bufferShapes.count - 1
        if !holdsForwardPass(of: x, rows: rows, through: last) { forward(x, rows: rows) }
        let gradient = backward(from: last, cotangent: cotangent)
        grad.baseAddress!.update(from: gradient.baseAddress!, count: rows * network.featureCount)
    }

    /// Whether the kept forward pass (inference mode) is of exactly these rows (the same Double
    /// bits: rows that only round to the same Floats are run again).
    public func holdsForwardPass(of x: UnsafeBufferPointer<Double>, rows: Int, through target: Int) -> Bool {
        let count = rows * network.featureCount
        if let tape64 {
            return tape64.holds(rows: rows, through: target)
                && memcmp(tape64.values[0], x.baseAddress!, count * MemoryLayout<Double>.size) == 0
        }
        return tape32!.holds(rows: rows, through: target)
            && (count == 0 || memcmp(lastInput.baseAddress!, x.baseAddress!, count * MemoryLayout<Double>.size) == 0)
    }
}
