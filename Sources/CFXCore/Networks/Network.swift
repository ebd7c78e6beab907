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
        /// The first buffer's values of each row, then the second's (a concat block's join).
        case concat(Int, Int, output: Int)

        var output: Int {
            switch self {
            case .apply(_, _, let output), .add(_, _, let output), .concat(_, _, let output): return output
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
        var compiler = NetworkCompiler(shapes: [inputShape], bufferSizes: [features])
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
