import CFXKernels
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
    /// The network's parameters version when the kept pass is two rows of which the second was
    /// prefetched (`predict(_:into:prefetching:)`); nil otherwise.
    private var prefetchedVersion: Int?

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
        forward(x.baseAddress, then: nil, rows: rows, nextRows: 0, through: target ?? network.bufferShapes.count - 1, training: training)
    }

    /// The forward pass of `rows` rows at `x` followed by `nextRows` rows at `next`.
    private func forward(_ x: UnsafePointer<Double>?, then next: UnsafePointer<Double>?, rows: Int, nextRows: Int,
                         through target: Int, training: Bool, rowsAlone: Bool = false) {
        prefetchedVersion = nil
        let d = network.featureCount
        let (count, nextCount) = (rows * d, nextRows * d)
        if let tape64 {
            tape64.forward(rows: rows + nextRows, through: target, training: training, rowsAlone: rowsAlone) { input in
                if count > 0 { input.update(from: x!, count: count) }
                if nextCount > 0 { (input + count).update(from: next!, count: nextCount) }
            }
        } else {
            tape32!.forward(rows: rows + nextRows, through: target, training: training, rowsAlone: rowsAlone) { input in
                if count > 0 { cfx_narrow_f64(count, x!, input) }
                if nextCount > 0 { cfx_narrow_f64(nextCount, next!, input + count) }
            }
            Self.reserve(&lastInput, count + nextCount)
            if count > 0 { lastInput.baseAddress!.update(from: x!, count: count) }
            if nextCount > 0 { (lastInput.baseAddress! + count).update(from: next!, count: nextCount) }
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
        if count > 0 { cfx_widen_f32(count, source, target.baseAddress!) }
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
        let d = network.featureCount
        if rows == 1, adoptPrefetched(x) {
            copyOutput(rows: 1, into: proba.baseAddress!)
            return
        }
        var start = 0
        while start < rows {
            let count = min(network.rowsPerPass, rows - start)
            forward(UnsafeBufferPointer(rebasing: x[start * d..<(start + count) * d]), rows: count)
            copyOutput(rows: count, into: proba.baseAddress! + start * network.classCount)
            start += count
        }
    }

    /// The probabilities of `rows` rows of the kept pass from row `first`.
    private func copyOutput(rows: Int, from first: Int = 0, into out: UnsafeMutablePointer<Double>) {
        let (last, count, offset) = (network.bufferShapes.count - 1, rows * network.classCount, first * network.classCount)
        if let tape64 {
            out.update(from: tape64.values[last] + offset, count: count)
        } else {
            let output = tape32!.values[last] + offset
            if count > 0 { cfx_widen_f32(count, output, out) }
        }
    }

    /// One pass of two rows, `next` and then `x`, each row with the values of a pass of it alone
    /// (`Tape.forward(rowsAlone:)`): `next`'s predict, and a pullback at it, then cost no pass, and
    /// the layers that can share their work between rows (a dense layer's weight loads) do.
    public func predict(_ x: UnsafeBufferPointer<Double>, into proba: UnsafeMutableBufferPointer<Double>,
                        prefetching next: UnsafeBufferPointer<Double>) throws {
        let d = network.featureCount
        guard x.count == d, next.count == d else { return try predict(x, rows: 1, into: proba) }
        forward(next.baseAddress, then: x.baseAddress, rows: 1, nextRows: 1, through: network.bufferShapes.count - 1,
                training: false, rowsAlone: true)
        copyOutput(rows: 1, from: 1, into: proba.baseAddress!)
        prefetchedVersion = network.parametersVersion
    }

    /// Makes the prefetched row (the first) the kept one-row pass when it is `x`, bit for bit, and
    /// the parameters have not changed since.
    private func adoptPrefetched(_ x: UnsafeBufferPointer<Double>) -> Bool {
        guard let version = prefetchedVersion, version == network.parametersVersion else { return false }
        let d = network.featureCount
        let input = tape64.map { UnsafePointer($0.values[0]) } ?? UnsafePointer(lastInput.baseAddress!)
        guard x.count == d, memcmp(input, x.baseAddress!, d * MemoryLayout<Double>.size) == 0 else { return false }
        prefetchedVersion = nil
        if let tape64 { tape64.keepFirstRow() } else { tape32!.keepFirstRow() }
        return true
    }

    public func pullback(at x: UnsafeBufferPointer<Double>, rows: Int, cotangent: UnsafeBufferPointer<Double>,
                         into grad: UnsafeMutableBufferPointer<Double>) throws {
        let last = network.bufferShapes.count - 1
        if !(rows == 1 && adoptPrefetched(x)) && !holdsForwardPass(of: x, rows: rows, through: last) { forward(x, rows: rows) }
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
