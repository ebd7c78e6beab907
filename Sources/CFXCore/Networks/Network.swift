import Glibc
import Synchronization

/// A network that cfx evaluates and differentiates itself: layers and residual blocks compiled
/// into a tape of steps over numbered buffers. Buffer 0 is the input; every step writes a new
/// buffer, so buffer numbers follow the order of evaluation.
///
/// The last buffer is read as class probabilities. Named outputs give any intermediate buffer
/// ("features", an encoder's code); "logits" is the input of a final softmax.
///
/// Tensors are kept in Double (`parameters`: training, files, derived tensors). A float32 network
/// also keeps a Float copy, refreshed by `parametersChanged()`, and its evaluators compute in
/// Float32 with sgemm; inputs and outputs of an evaluator stay Double either way.
public final class Network: Classifier, @unchecked Sendable {
    /// One layer as compiled: where its tensors live and what it reads and writes.
    struct CompiledOperation {
        let operation: Operation
        /// Parameter names start with this path, e.g. "layers.3." or "layers.5.main.0.".
        let path: String
        let inputShape: [Int]
        let outputShape: [Int]
        let parameterSpecs: [ParameterSpec]
        let parameterOffset: Int
        var parameterCount: Int { parameterSpecs.reduce(0) { $0 + $1.count } }
    }

    enum Step {
        case apply(operation: Int, input: Int, output: Int)
        case add(Int, Int, output: Int)

        var output: Int {
            switch self {
            case .apply(_, _, let output), .add(_, _, let output): return output
            }
        }
    }

    public let inputShape: [Int]
    public let featureCount: Int
    public let classCount: Int
    /// The nodes the network was built from, kept for saving it.
    public let nodes: [NetworkNode]
    let operations: [CompiledOperation]
    let steps: [Step]
    /// One example's shape of every buffer.
    let bufferShapes: [[Int]]
    /// Named outputs → buffer.
    public let outputs: [String: Int]
    /// The values an evaluator holds per row: activations and gradients of every buffer, and scratch.
    public let rowElements: Int
    /// The most rows one inference pass holds within `Limits.passElements` (at least 1).
    public var rowsPerPass: Int { max(1, Limits.passElements / rowElements) }
    /// All tensors of all layers, one after the other.
    public let parameters: UnsafeMutableBufferPointer<Double>
    /// The number type evaluators compute in.
    public let dtype: DType
    /// `parameters` as Float, for float32 evaluators (empty for float64 networks).
    let parameters32: UnsafeMutableBufferPointer<Float>
    /// Bumped whenever the tensors change, so that evaluators refresh what they derived from them.
    private let version = Atomic<Int>(0)
    var parametersVersion: Int { version.load(ordering: .acquiring) }

    public var hasExactGradient: Bool { true }

    /// Compiles the nodes for one example of `inputShape`. Tensors start at each layer's initial
    /// values (`Operation.initialise`), drawn from `seed`, so that a network built from an
    /// architecture alone can be trained; to load weights, fill them through `parameter(_:)` or
    /// `parameters`, then call `parametersChanged()`.
    public init(inputShape: [Int], nodes: [NetworkNode], dtype: DType = .float64, seed: UInt64 = 0) throws {
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
            throw CFXError(.model, "input_shape: must be positive sizes, got \(inputShape)")
        }
        guard let features = checkedCount(inputShape), features <= Limits.features else {
            throw CFXError(.model, "input_shape: \(inputShape) is over the limit of \(Limits.features) features")
        }
        guard !nodes.isEmpty else { throw CFXError(.model, "layers: a network needs at least one layer") }
        var compiler = Compiler(shapes: [inputShape], bufferSizes: [features])
        let output = try compiler.compile(nodes, input: 0, path: "layers.")
        guard output > 0 else { throw CFXError(.model, "layers: a network needs at least one layer") }
        let classes = compiler.bufferSizes[output]
        guard classes <= Limits.classes else {
            throw CFXError(.model, "layers: the network has \(classes) outputs, over the limit of \(Limits.classes) classes")
        }
        self.inputShape = inputShape
        self.featureCount = features
        self.classCount = classes
        self.rowElements = try compiler.rowElements()
        self.nodes = nodes
        self.operations = compiler.operations
        self.steps = compiler.steps
        self.bufferShapes = compiler.shapes
        var outputs = compiler.names
        if case .apply(let last, let input, _)? = compiler.steps.last, compiler.operations[last].operation.kind == "softmax" {
            outputs["logits"] = input
        }
        outputs["probabilities"] = output
        self.outputs = outputs
        self.dtype = dtype
        parameters = .allocate(capacity: max(compiler.parameterCount, 1))
        parameters.initialize(repeating: 0)
        parameters32 = .allocate(capacity: dtype == .float32 ? parameters.count : 0)
        parameters32.initialize(repeating: 0)
        var random = SeededRandom(seed: seed)
        for op in operations {
            op.operation.initialise(parameters.baseAddress! + op.parameterOffset, input: op.inputShape, random: &random)
        }
        parametersChanged()
    }

    deinit {
        parameters.deallocate()
        parameters32.deallocate()
    }

    /// The same network and tensors computing in `dtype` (self when it already does).
    public func converted(to dtype: DType) throws -> Network {
        dtype == self.dtype ? self : try copy(as: dtype)
    }

    /// A copy with tensors of its own, computing in `dtype`: training one leaves the other as it was.
    public func copy(as dtype: DType) throws -> Network {
        let copy = try Network(inputShape: inputShape, nodes: nodes, dtype: dtype)
        _ = copy.parameters.update(fromContentsOf: parameters)
        copy.parametersChanged()
        return copy
    }

    /// An evaluator that splits its layers' work over `IntraOpThreads.current` threads.
    public func makeEvaluator() -> ClassifierEvaluator { NetworkEvaluator(self) }

    /// Every tensor: its full name ("layers.0.weight"), shape, role and place in `parameters`.
    public var parameterList: [(name: String, spec: ParameterSpec, range: Range<Int>)] {
        operations.flatMap { op in
            var offset = op.parameterOffset
            return op.parameterSpecs.map { spec in
                defer { offset += spec.count }
                return (op.path + spec.name, spec, offset..<offset + spec.count)
            }
        }
    }

    /// The values of one tensor, by full name.
    public func parameter(_ name: String) -> UnsafeMutableBufferPointer<Double>? {
        guard let entry = parameterList.first(where: { $0.name == name }) else { return nil }
        return UnsafeMutableBufferPointer(rebasing: parameters[entry.range])
    }

    /// Sets one tensor; errors name it.
    public func setParameter(_ name: String, _ values: [Double]) throws {
        guard let entry = parameterList.first(where: { $0.name == name }) else {
            throw CFXError(.model, "\(name): the network has no such tensor")
        }
        guard values.count == entry.spec.count else {
            throw CFXError(.model, "\(name): has \(values.count) values, expected \(entry.spec.count) (shape \(entry.spec.shape))")
        }
        let target = UnsafeMutableBufferPointer(rebasing: parameters[entry.range])
        try requireFinite(values, name)
        _ = target.update(fromContentsOf: values)
    }

    /// Lets layers recompute derived tensors; call after changing `parameters`.
    public func parametersChanged() {
        for op in operations {
            op.operation.parametersChanged(parameters.baseAddress! + op.parameterOffset, input: op.inputShape)
        }
        refreshFloatCopy()
    }

    /// Lets layers update training state (power iterations) before a training batch.
    public func prepareTrainingStep() {
        for op in operations {
            op.operation.prepareTrainingStep(parameters.baseAddress! + op.parameterOffset, input: op.inputShape)
        }
        refreshFloatCopy()
    }

    private func refreshFloatCopy() {
        for i in 0..<parameters32.count { parameters32[i] = Float(parameters[i]) }
        version.wrappingAdd(1, ordering: .releasing)
    }

    /// Updates state tensors (batch norm's running statistics) from the training-mode forward
    /// passes these evaluators just ran over the shards of one batch, in shard order; see
    /// `Operation.commitTrainingStep`. Call once per training step, after the forward passes.
    public func commitTrainingStep(_ evaluators: [NetworkEvaluator]) {
        for (index, step) in steps.enumerated() {
            guard case .apply(let op, _, let output) = step else { continue }
            let compiled = operations[op], tensors = parameters.baseAddress! + compiled.parameterOffset
            let shards64 = evaluators.compactMap { $0.tape64?.trainingScratch(step: index, output: output) }
            let shards32 = evaluators.compactMap { $0.tape32?.trainingScratch(step: index, output: output) }
            if !shards64.isEmpty { compiled.operation.commitTrainingStep(tensors, input: compiled.inputShape, shards: shards64) }
            if !shards32.isEmpty { compiled.operation.commitTrainingStep(tensors, input: compiled.inputShape, shards: shards32) }
        }
        refreshFloatCopy()
    }

    /// The buffer of a named output, with a clear error for an unknown name.
    public func outputBuffer(_ name: String) throws -> Int {
        guard let buffer = outputs[name] else {
            throw CFXError(.invalidArgument, "output \"\(name)\": the network's outputs are \(outputs.keys.sorted().joined(separator: ", "))")
        }
        return buffer
    }

    public func outputShape(_ name: String) throws -> [Int] { bufferShapes[try outputBuffer(name)] }
}

/// Turns nodes into operations, steps and buffers, checking shapes and sizes as it goes: every
/// tensor within `Limits.tensorElements` and all parameters within `Limits.parameters`, computed
/// with checked arithmetic, so that evaluating the network cannot overflow a size.
private struct Compiler {
    var shapes: [[Int]]
    /// One example's element count of every buffer.
    var bufferSizes: [Int]
    var operations: [Network.CompiledOperation] = []
    var steps: [Network.Step] = []
    var names: [String: Int] = [:]
    var parameterCount = 0
    /// Scratch values of every operation for one row.
    var scratchPerRow = 0

    /// The checked element count of a tensor of `shape`, named `what` in the error.
    func tensorCount(_ shape: [Int], _ what: String) throws -> Int {
        guard let count = checkedCount(shape), count <= Limits.tensorElements else {
            throw CFXError(.model, "\(what): shape \(shape) is over the limit of \(Limits.tensorElements) values per tensor")
        }
        return count
    }

    /// Adds a buffer of one example's `shape`.
    mutating func addBuffer(_ shape: [Int], _ what: String) throws {
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else { throw CFXError(.model, "\(what): gives an empty output \(shape)") }
        bufferSizes.append(try tensorCount(shape, "\(what) output"))
        shapes.append(shape)
    }

    /// The values one row needs in an evaluator (activations and gradients of every buffer, and
    /// scratch), at most `Limits.rowElements`.
    func rowElements() throws -> Int {
        var perRow = scratchPerRow
        for size in bufferSizes {
            guard let sum = checkedSum(perRow, 2 * size), sum <= Limits.rowElements else {
                throw CFXError(.model, "layers: one example needs more than \(Limits.rowElements) values of activations, gradients and scratch")
            }
            perRow = sum
        }
        return max(perRow, 1)
    }

    /// Compiles `nodes` reading buffer `input`; returns the buffer of the last output.
    mutating func compile(_ nodes: [NetworkNode], input: Int, path: String) throws -> Int {
        var current = input
        for (i, node) in nodes.enumerated() {
            let nodePath = "\(path)\(i)"
            switch node {
            case .layer(let operation, let name):
                let inputShape = shapes[current]
                let outputShape: [Int]
                do {
                    outputShape = try operation.outputShape(for: inputShape)
                } catch let error as CFXError {
                    throw CFXError(.model, "\(nodePath) (\(operation.kind)): \(error.message)")
                }
                try addBuffer(outputShape, "\(nodePath) (\(operation.kind))")
                let specs = operation.parameterSpecs(for: inputShape)
                let offset = parameterCount
                for spec in specs {
                    let count = try tensorCount(spec.shape, "\(nodePath).\(spec.name)")
                    guard let total = checkedSum(parameterCount, count), total <= Limits.parameters else {
                        throw CFXError(.model, "\(nodePath).\(spec.name): the network's tensors hold more than \(Limits.parameters) values")
                    }
                    parameterCount = total
                }
                // Safe to ask now: the layer's tensors and output are within the limits above.
                let scratch = operation.scratchCount(input: inputShape, batch: 1)
                guard scratch <= Limits.tensorElements, let total = checkedSum(scratchPerRow, scratch), total <= Limits.rowElements else {
                    throw CFXError(.model, "\(nodePath) (\(operation.kind)): needs \(scratch) values of scratch, over the limit of \(Limits.tensorElements)")
                }
                scratchPerRow = total
                let workspace = operation.workspaceCount(input: inputShape, batch: 1)
                guard workspace <= Limits.tensorElements else {
                    throw CFXError(.model, "\(nodePath) (\(operation.kind)): needs \(workspace) values of workspace, over the limit of \(Limits.tensorElements)")
                }
                operations.append(.init(operation: operation, path: nodePath + ".", inputShape: inputShape,
                                        outputShape: outputShape, parameterSpecs: specs, parameterOffset: offset))
                steps.append(.apply(operation: operations.count - 1, input: current, output: shapes.count - 1))
                current = shapes.count - 1
                try setName(name, current, nodePath)
            case .residual(let main, let shortcut, let name):
                let mainOutput = try compile(main, input: current, path: "\(nodePath).main.")
                let shortcutOutput = try compile(shortcut, input: current, path: "\(nodePath).shortcut.")
                guard shapes[mainOutput] == shapes[shortcutOutput] else {
                    throw CFXError(.model, "\(nodePath) (residual): the main path gives \(shapes[mainOutput]), the shortcut \(shapes[shortcutOutput])")
                }
                try addBuffer(shapes[mainOutput], "\(nodePath) (residual)")
                steps.append(.add(mainOutput, shortcutOutput, output: shapes.count - 1))
                current = shapes.count - 1
                try setName(name, current, nodePath)
            }
        }
        return current
    }

    private mutating func setName(_ name: String?, _ buffer: Int, _ path: String) throws {
        guard let name else { return }
        guard names[name] == nil, name != "probabilities", name != "logits" else {
            throw CFXError(.model, "\(path): the output name \"\(name)\" is already taken")
        }
        names[name] = buffer
    }
}

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
        backward(through: buffer, parameterGradients: parameterGradients) { seed in seed(buffer, cotangent) }
    }

    /// Backpropagates several cotangents at once, each seeded at its own buffer of the last forward
    /// pass (e.g. one at "logits" and one at "features"): returns the input gradient of
    /// Σ_seeds ⟨cotangent, buffer⟩ (rows × d) with one backward pass through the deepest seed.
    public func backward(seeds: [(buffer: Int, cotangent: UnsafeBufferPointer<Double>)],
                         parameterGradients: UnsafeMutablePointer<Double>? = nil) -> UnsafeBufferPointer<Double> {
        precondition(!seeds.isEmpty, "backward needs at least one seed")
        return backward(through: seeds.map(\.buffer).max()!, parameterGradients: parameterGradients) { seed in
            for s in seeds { seed(s.buffer, s.cotangent) }
        }
    }

    /// The backward pass from buffer `top` down, after `seeding` has added each cotangent to its
    /// buffer's gradient (a closure, so that one seed costs no array).
    private func backward(through top: Int, parameterGradients: UnsafeMutablePointer<Double>?,
                          seeding: ((Int, UnsafeBufferPointer<Double>) -> Void) -> Void) -> UnsafeBufferPointer<Double> {
        let inputCount = rows * network.featureCount
        if let tape64 {
            tape64.clearGradients(through: top)
            seeding { buffer, cotangent in
                let g = tape64.gradients[buffer]
                for i in 0..<cotangent.count { g[i] += cotangent[i] }
            }
            return UnsafeBufferPointer(start: tape64.propagate(through: top, parameterGradients: parameterGradients), count: inputCount)
        }
        let tape32 = tape32!
        tape32.clearGradients(through: top)
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

/// The passes of one evaluator in the network's number type T: activations, gradients and scratch
/// of every buffer, and one workspace shared by the steps.
final class Tape<T: NetworkScalar> {
    /// A step as the tape runs it: plain values and an unretained operation (the network keeps it
    /// alive), so that threads sharing one network never contend on reference counts.
    private struct PlannedStep {
        let operation: Unmanaged<Operation>?  // nil for the residual join (add)
        let input: Int
        let other: Int  // the add's second input
        let output: Int
        let inputShape: TensorShape
        let outputShape: TensorShape
        let parameterOffset: Int
        let scratch: Int  // this tape's scratch buffer for the step
    }

    private let plan: [PlannedStep]
    /// The whole pass in one call, for an MLP (nil for other networks).
    private let chain: SmallChain?
    /// The values' and then the gradients' pointers, as C reads them (the chain's passes).
    private let bufferTable: UnsafeMutablePointer<UnsafeMutablePointer<T>?>
    private let bufferSizes: [Int]
    private let network: Network
    private let parameters: UnsafeMutablePointer<T>
    private let pool: IntraOpPool?
    private let caches: [StepCache]
    private var capacity = 0
    private(set) var rows = 0
    /// Buffers 0…forwardThrough hold the last forward pass (of `rows` rows, in `forwardTraining` mode).
    private var forwardThrough = -1
    private var forwardTraining = false
    private(set) var values: [UnsafeMutablePointer<T>] = []
    private(set) var gradients: [UnsafeMutablePointer<T>] = []
    private var scratch: [UnsafeMutablePointer<T>] = []
    private var workspace = UnsafeMutablePointer<T>.allocate(capacity: 1)
    private var workspaceCount = 1
    /// Values the buffers hold (prepared convolutions not counted).
    var heldValues: Int { capacity * (2 * bufferSizes.reduce(0, +)) + scratchCount + workspaceCount }
    private var scratchCount = 0

    init(_ network: Network, parameters: UnsafeMutablePointer<T>, pool: IntraOpPool?, smallChain: Bool) {
        self.network = network
        self.parameters = parameters
        self.pool = pool
        self.caches = network.steps.map { _ in StepCache() }
        self.bufferSizes = network.bufferShapes.map { $0.reduce(1, *) }
        self.chain = smallChain ? SmallChain(network) : nil
        self.bufferTable = .allocate(capacity: 2 * bufferSizes.count)
        bufferTable.initialize(repeating: nil, count: 2 * bufferSizes.count)
        self.plan = network.steps.enumerated().map { index, step in
            switch step {
            case .apply(let op, let input, let output):
                let compiled = network.operations[op]
                return PlannedStep(operation: .passUnretained(compiled.operation), input: input, other: -1, output: output,
                                   inputShape: TensorShape(compiled.inputShape), outputShape: TensorShape(compiled.outputShape),
                                   parameterOffset: compiled.parameterOffset, scratch: index)
            case .add(let a, let b, let output):
                let shape = TensorShape(network.bufferShapes[output])
                return PlannedStep(operation: nil, input: a, other: b, output: output, inputShape: shape, outputShape: shape,
                                   parameterOffset: 0, scratch: index)
            }
        }
    }

    deinit {
        release()
        workspace.deallocate()
        chain?.deallocate()
        bufferTable.deallocate()
    }

    private func release() {
        for buffer in values + gradients + scratch { buffer.deallocate() }
    }

    /// Buffers for `rows` rows, kept (and reused by every later pass) until more rows are asked for.
    private func reserve(rows: Int) {
        guard rows > capacity else { return }
        release()
        values = bufferSizes.map { .allocate(capacity: $0 * rows) }
        gradients = bufferSizes.map { .allocate(capacity: $0 * rows) }
        for (i, buffer) in (values + gradients).enumerated() { bufferTable[i] = buffer }
        let scratchCounts = plan.map { step in
            max(step.operation?.takeUnretainedValue().scratchCount(input: step.inputShape.dims, batch: rows) ?? 0, 1)
        }
        scratch = scratchCounts.map { .allocate(capacity: $0) }
        scratchCount = scratchCounts.reduce(0, +)
        workspaceCount = max(plan.map { $0.operation?.takeUnretainedValue().workspaceCount(input: $0.inputShape.dims, batch: rows) ?? 0 }.max() ?? 0, 1)
        workspace.deallocate()
        workspace = .allocate(capacity: workspaceCount)
        capacity = rows
    }

    private func context(_ step: PlannedStep, training: Bool, parameterGradients: UnsafeMutablePointer<T>?) -> OperationContext<T> {
        OperationContext(inputShape: step.inputShape, outputShape: step.outputShape, batch: rows, training: training,
                         parameters: parameters + step.parameterOffset,
                         parameterGradients: parameterGradients.map { $0 + step.parameterOffset },
                         scratch: scratch[step.scratch], workspace: workspace, pool: pool,
                         cache: caches[step.scratch], parametersVersion: network.parametersVersion)
    }

    /// Runs `rows` rows through buffer `target`; `load` writes the input into buffer 0.
    func forward(rows: Int, through target: Int, training: Bool, load: (UnsafeMutablePointer<T>) -> Void) {
        reserve(rows: rows)
        self.rows = rows
        load(values[0])
        if let chain, target == bufferSizes.count - 1, chain.fits(rows: rows) {
            chain.forward(rows: rows, parameters: UnsafePointer(parameters), values: bufferTable)
        } else {
            forwardStepByStep(through: target, training: training)
        }
        forwardThrough = target
        forwardTraining = training
    }

    private func forwardStepByStep(through target: Int, training: Bool) {
        for step in plan where step.output <= target {
            let (input, output) = (values[step.input], values[step.output])
            if let operation = step.operation {
                let context = context(step, training: training, parameterGradients: nil)
                operation._withUnsafeGuaranteedRef { T.forward($0, UnsafePointer(input), output, context) }
            } else {
                let other = values[step.other]
                for i in 0..<rows * step.outputShape.count { output[i] = input[i] + other[i] }
            }
        }
    }

    func holds(rows: Int, through target: Int) -> Bool {
        rows == self.rows && forwardThrough >= target && !forwardTraining
    }

    /// The scratch of step `step` (writing buffer `output`) after a training-mode forward pass
    /// that reached it, with its row count; nil otherwise.
    func trainingScratch(step: Int, output: Int) -> (scratch: UnsafePointer<T>, rows: Int)? {
        guard forwardTraining, forwardThrough >= output, rows > 0 else { return nil }
        return (UnsafePointer(scratch[step]), rows)
    }

    /// Zeroes the gradients of buffers 0…top, ready to be seeded.
    func clearGradients(through top: Int) {
        precondition(top <= forwardThrough, "backward needs a forward pass through buffer \(top)")
        for b in 0...top { gradients[b].update(repeating: 0, count: rows * bufferSizes[b]) }
    }

    /// Runs the backward pass from the seeded gradients of buffers 0…top down to the input; returns
    /// the input's gradient (rows × d).
    func propagate(through top: Int, parameterGradients: UnsafeMutablePointer<T>?) -> UnsafeMutablePointer<T> {
        if let chain, parameterGradients == nil, top == bufferSizes.count - 1, chain.fits(rows: rows) {
            chain.backward(rows: rows, parameters: UnsafePointer(parameters), values: bufferTable, gradients: bufferTable + bufferSizes.count)
            return gradients[0]
        }
        for step in plan.reversed() where step.output <= top {
            let dy = gradients[step.output]
            if let operation = step.operation {
                let (x, y, dx) = (values[step.input], values[step.output], gradients[step.input])
                let context = context(step, training: forwardTraining, parameterGradients: parameterGradients)
                operation._withUnsafeGuaranteedRef { T.backward($0, UnsafePointer(x), UnsafePointer(y), UnsafePointer(dy), dx, context) }
            } else {
                let (da, db) = (gradients[step.input], gradients[step.other])
                for i in 0..<rows * step.outputShape.count {
                    da[i] += dy[i]
                    db[i] += dy[i]
                }
            }
        }
        return gradients[0]
    }
}
