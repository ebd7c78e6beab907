import Glibc

/// A network that cfx evaluates and differentiates itself: layers and residual blocks compiled
/// into a tape of steps over numbered buffers. Buffer 0 is the input; every step writes a new
/// buffer, so buffer numbers follow the order of evaluation.
///
/// The last buffer is read as class probabilities. Named outputs give any intermediate buffer
/// ("features", an encoder's code); "logits" is the input of a final softmax.
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

    public var hasExactGradient: Bool { true }

    /// Compiles the nodes for one example of `inputShape`. Tensors start at each layer's initial
    /// values (`Operation.initialise`), drawn from `seed`, so that a network built from an
    /// architecture alone can be trained; to load weights, fill them through `parameter(_:)` or
    /// `parameters`, then call `parametersChanged()`.
    public init(inputShape: [Int], nodes: [NetworkNode], seed: UInt64 = 0) throws {
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
        parameters = .allocate(capacity: max(compiler.parameterCount, 1))
        parameters.initialize(repeating: 0)
        var random = SeededRandom(seed: seed)
        for op in operations {
            op.operation.initialise(parameters.baseAddress! + op.parameterOffset, input: op.inputShape, random: &random)
        }
        parametersChanged()
    }

    deinit { parameters.deallocate() }

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
    }

    /// Lets layers update training state (power iterations) before a training batch.
    public func prepareTrainingStep() {
        for op in operations {
            op.operation.prepareTrainingStep(parameters.baseAddress! + op.parameterOffset, input: op.inputShape)
        }
    }

    /// Updates state tensors (batch norm's running statistics) from the training-mode forward
    /// passes these evaluators just ran over the shards of one batch, in shard order; see
    /// `Operation.commitTrainingStep`. Call once per training step, after the forward passes.
    public func commitTrainingStep(_ evaluators: [NetworkEvaluator]) {
        for (index, step) in steps.enumerated() {
            guard case .apply(let op, _, let output) = step else { continue }
            let shards = evaluators.compactMap { $0.trainingScratch(step: index, output: output) }
            guard !shards.isEmpty else { continue }
            let compiled = operations[op]
            compiled.operation.commitTrainingStep(parameters.baseAddress! + compiled.parameterOffset, input: compiled.inputShape,
                                                  shards: shards)
        }
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

/// Forward and backward passes in memory owned by one thread. The buffers of the last forward
/// pass are kept, so a pullback at the point just predicted costs one backward pass.
public final class NetworkEvaluator: ClassifierEvaluator {
    /// A step as this evaluator runs it: plain values and an unretained operation (the network
    /// keeps it alive), so that threads sharing one network never contend on reference counts.
    private struct PlannedStep {
        let operation: Unmanaged<Operation>?  // nil for the residual join (add)
        let input: Int
        let other: Int  // the add's second input
        let output: Int
        let inputShape: TensorShape
        let outputShape: TensorShape
        let parameterOffset: Int
        let scratch: Int  // this evaluator's scratch buffer for the step
    }

    private let network: Network
    private let plan: [PlannedStep]
    private let bufferSizes: [Int]
    private let parameters: UnsafeMutablePointer<Double>
    private var capacity = 0
    private var rows = 0
    /// Buffers 0…forwardThrough hold the last forward pass (of `rows` rows, in `forwardTraining` mode).
    private var forwardThrough = -1
    private var forwardTraining = false
    private var values: [UnsafeMutablePointer<Double>] = []
    private var gradients: [UnsafeMutablePointer<Double>] = []
    private var scratch: [UnsafeMutablePointer<Double>] = []

    init(_ network: Network) {
        self.network = network
        self.parameters = network.parameters.baseAddress!
        self.bufferSizes = network.bufferShapes.map { $0.reduce(1, *) }
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

    deinit { release() }

    private func release() {
        for buffer in values + gradients + scratch { buffer.deallocate() }
    }

    private func reserve(rows: Int) {
        guard rows > capacity else { return }
        release()
        values = bufferSizes.map { .allocate(capacity: $0 * rows) }
        gradients = bufferSizes.map { .allocate(capacity: $0 * rows) }
        scratch = plan.map { step in
            .allocate(capacity: max(step.operation?.takeUnretainedValue().scratchCount(input: step.inputShape.dims, batch: rows) ?? 0, 1))
        }
        capacity = rows
    }

    private func context(_ step: PlannedStep, training: Bool, parameterGradients: UnsafeMutablePointer<Double>?) -> OperationContext {
        OperationContext(inputShape: step.inputShape, outputShape: step.outputShape, batch: rows, training: training,
                         parameters: parameters + step.parameterOffset,
                         parameterGradients: parameterGradients.map { $0 + step.parameterOffset },
                         scratch: scratch[step.scratch])
    }

    /// Runs the network on `rows` rows of `x` through buffer `target` (the last one by default).
    public func forward(_ x: UnsafeBufferPointer<Double>, rows: Int, through target: Int? = nil, training: Bool = false) {
        let target = target ?? bufferSizes.count - 1
        reserve(rows: rows)
        self.rows = rows
        values[0].update(from: x.baseAddress!, count: rows * bufferSizes[0])
        for step in plan where step.output <= target {
            let (input, output) = (values[step.input], values[step.output])
            if let operation = step.operation {
                let context = context(step, training: training, parameterGradients: nil)
                operation._withUnsafeGuaranteedRef { $0.forward(input, output, context) }
            } else {
                let other = values[step.other]
                for i in 0..<rows * step.outputShape.count { output[i] = input[i] + other[i] }
            }
        }
        forwardThrough = target
        forwardTraining = training
    }

    /// The scratch of step `step` (writing buffer `output`) after a training-mode forward pass
    /// that reached it, with its row count; nil otherwise.
    func trainingScratch(step: Int, output: Int) -> (scratch: UnsafePointer<Double>, rows: Int)? {
        guard forwardTraining, forwardThrough >= output, rows > 0 else { return nil }
        return (UnsafePointer(scratch[step]), rows)
    }

    /// Buffer `buffer` of the last forward pass (rows × its size).
    public func value(_ buffer: Int) -> UnsafeBufferPointer<Double> {
        UnsafeBufferPointer(start: values[buffer], count: rows * bufferSizes[buffer])
    }

    /// Backpropagates `cotangent` (rows × size of `buffer`) from `buffer` of the last forward
    /// pass; returns ∂/∂input (rows × d). Trainable-parameter gradients are added to
    /// `parameterGradients` (laid out as `network.parameters`) when it is given.
    @discardableResult
    public func backward(from buffer: Int, cotangent: UnsafeBufferPointer<Double>,
                         parameterGradients: UnsafeMutablePointer<Double>? = nil) -> UnsafeBufferPointer<Double> {
        precondition(buffer <= forwardThrough, "backward needs a forward pass through buffer \(buffer)")
        for b in 0...buffer { gradients[b].update(repeating: 0, count: rows * bufferSizes[b]) }
        gradients[buffer].update(from: cotangent.baseAddress!, count: rows * bufferSizes[buffer])
        return propagate(through: buffer, parameterGradients: parameterGradients)
    }

    /// Backpropagates several cotangents at once, each seeded at its own buffer of the last forward
    /// pass (e.g. one at "logits" and one at "features"): returns the input gradient of
    /// Σ_seeds ⟨cotangent, buffer⟩ (rows × d) with one backward pass through the deepest seed.
    public func backward(seeds: [(buffer: Int, cotangent: UnsafeBufferPointer<Double>)]) -> UnsafeBufferPointer<Double> {
        precondition(!seeds.isEmpty, "backward needs at least one seed")
        let top = seeds.map(\.buffer).max()!
        precondition(top <= forwardThrough, "backward needs a forward pass through buffer \(top)")
        for b in 0...top { gradients[b].update(repeating: 0, count: rows * bufferSizes[b]) }
        for seed in seeds {
            let g = gradients[seed.buffer]
            for i in 0..<rows * bufferSizes[seed.buffer] { g[i] += seed.cotangent[i] }
        }
        return propagate(through: top, parameterGradients: nil)
    }

    /// Runs the backward pass from the seeded gradients of buffers 0…top down to the input.
    private func propagate(through top: Int, parameterGradients: UnsafeMutablePointer<Double>?) -> UnsafeBufferPointer<Double> {
        for step in plan.reversed() where step.output <= top {
            let dy = gradients[step.output]
            if let operation = step.operation {
                let (x, y, dx) = (values[step.input], values[step.output], gradients[step.input])
                let context = context(step, training: forwardTraining, parameterGradients: parameterGradients)
                operation._withUnsafeGuaranteedRef { $0.backward(x, y, dy, dx, context) }
            } else {
                let (da, db) = (gradients[step.input], gradients[step.other])
                for i in 0..<rows * step.outputShape.count {
                    da[i] += dy[i]
                    db[i] += dy[i]
                }
            }
        }
        return UnsafeBufferPointer(start: gradients[0], count: rows * bufferSizes[0])
    }

    // MARK: ClassifierEvaluator

    /// Predicts in passes of at most `network.rowsPerPass` rows, so that memory stays bounded.
    public func predict(_ x: UnsafeBufferPointer<Double>, rows: Int, into proba: UnsafeMutableBufferPointer<Double>) throws {
        let (d, k) = (network.featureCount, network.classCount)
        var start = 0
        while start < rows {
            let count = min(network.rowsPerPass, rows - start)
            forward(UnsafeBufferPointer(rebasing: x[start * d..<(start + count) * d]), rows: count)
            (proba.baseAddress! + start * k).update(from: values[bufferSizes.count - 1], count: count * k)
            start += count
        }
    }

    public func pullback(at x: UnsafeBufferPointer<Double>, rows: Int, cotangent: UnsafeBufferPointer<Double>,
                         into grad: UnsafeMutableBufferPointer<Double>) throws {
        let last = bufferSizes.count - 1
        if !holdsForwardPass(of: x, rows: rows, through: last) { forward(x, rows: rows) }
        let gradient = backward(from: last, cotangent: cotangent)
        grad.baseAddress!.update(from: gradient.baseAddress!, count: rows * network.featureCount)
    }

    /// Whether the kept forward pass (inference mode) is of exactly these rows.
    public func holdsForwardPass(of x: UnsafeBufferPointer<Double>, rows: Int, through target: Int) -> Bool {
        rows == self.rows && forwardThrough >= target && !forwardTraining
            && memcmp(values[0], x.baseAddress!, rows * network.featureCount * MemoryLayout<Double>.size) == 0
    }
}
