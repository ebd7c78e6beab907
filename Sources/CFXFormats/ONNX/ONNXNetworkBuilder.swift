import CFXCore

/// An ONNX graph's layers, residual and concat blocks, before they are given paths in a network.
indirect enum ONNXBuilt {
    case layer(ONNXLayer)
    case residual(main: [ONNXBuilt], shortcut: [ONNXBuilt], name: String?)
    case concat(branches: [[ONNXBuilt]], name: String?)

    /// The same item whose output is named `name`.
    func named(_ name: String?) -> ONNXBuilt {
        switch self {
        case .layer(var layer): layer.name = name; return .layer(layer)
        case .residual(let main, let shortcut, _): return .residual(main: main, shortcut: shortcut, name: name)
        case .concat(let branches, _): return .concat(branches: branches, name: name)
        }
    }
}

/// Builds cfx's network from an ONNX graph: walks the spine from the chosen output back to the
/// input (ONNXGraphIndex), turns every node on it into layers (ONNXOperators) and every Add of
/// two branches into a residual block and every Concat of branches into a concat block, tracking
/// one example's shape as it goes.
struct ONNXNetworkBuilder {
    let index: ONNXGraphIndex
    let operators: ONNXOperators
    /// Blocks (residual, concat) nested deeper than this are refused (the walk recurses once per level).
    static let maximumNesting = 64

    /// The layers that compute `tensor` from `base`, and the output shape.
    func chain(to tensor: String, from base: String, shape: [Int], depth: Int = 0) throws -> ([ONNXBuilt], [Int]) {
        guard depth <= Self.maximumNesting else { throw CFXError(.model, "graph: residual or concat blocks nested more than \(Self.maximumNesting) deep") }
        var path: [String] = []
        for t in index.spine(tensor) {
            if t == base { break }
            path.append(t)
        }
        if path.last.flatMap({ index.spine($0).dropFirst().first }) != base && tensor != base {
            throw notBuildable(path.last ?? tensor)
        }
        var built: [ONNXBuilt] = [], layers: [ONNXLayer] = [], shape = shape
        for t in path.reversed() {
            let node = index.graph.nodes[index.producers[t]!]
            guard node.domain.isEmpty || node.domain == "ai.onnx" else { throw node.error("operator not supported (domain \(node.domain))") }
            guard t == node.outputs.first else { throw node.error("its output \(node.outputs.firstIndex(of: t) ?? 0) is not supported (only the first)") }
            if let fork = index.forks[t] {
                built += layers.map { .layer($0) }
                layers = []
                let (block, output) = node.opType == "Concat" ? try concat(node, fork: fork, shape: shape, depth: depth)
                                                              : try residual(node, fork: fork, shape: shape, depth: depth)
                built.append(block.named(outputName(t)))
                shape = output
            } else {
                guard let converter = ONNXOperators.table[node.opType] else { throw node.error("operator not supported") }
                shape = try converter(operators, node, shape, &layers)
                // A layer's output is named after the last ONNX tensor that holds it (Identity,
                // Dropout, a bias Add: the same buffer under the node's output name).
                if !layers.isEmpty {
                    layers[layers.count - 1].name = outputName(t)
                } else if let last = built.popLast() {
                    built.append(last.named(outputName(t)))
                }
            }
        }
        return (built + layers.map { .layer($0) }, shape)
    }

    /// An ONNX tensor's name as a network output; nil for the names cfx gives its own outputs.
    private func outputName(_ tensor: String) -> String? {
        tensor == "probabilities" || tensor == "logits" || tensor.isEmpty ? nil : tensor
    }

    /// An Add of two branches from `fork`: the longer one is the main path, an empty one the identity.
    private func residual(_ node: ONNXNode, fork: String, shape: [Int], depth: Int) throws -> (ONNXBuilt, [Int]) {
        let inputs = index.computedInputs(node)
        var (main, mainShape) = try chain(to: inputs[0], from: fork, shape: shape, depth: depth + 1)
        var (shortcut, shortcutShape) = try chain(to: inputs[1], from: fork, shape: shape, depth: depth + 1)
        if main.isEmpty { swap(&main, &shortcut); swap(&mainShape, &shortcutShape) }
        guard !main.isEmpty else { throw node.error("adds a tensor to itself, which is not supported") }
        guard mainShape == shortcutShape else { throw node.error("adds shapes \(mainShape) and \(shortcutShape); a residual addition needs equal shapes") }
        return (.residual(main: main, shortcut: shortcut, name: nil), mainShape)
    }

    /// A Concat of branches from `fork` along the channel axis (1 of NCHW, the feature axis of
    /// [batch, features]): a concat block, its branches in the node's input order.
    private func concat(_ node: ONNXNode, fork: String, shape: [Int], depth: Int) throws -> (ONNXBuilt, [Int]) {
        guard node.attribute("axis") != nil else { throw node.error("axis: missing") }
        var branches: [[ONNXBuilt]] = [], shapes: [[Int]] = []
        for input in index.computedInputs(node) {
            let (branch, branchShape) = try chain(to: input, from: fork, shape: shape, depth: depth + 1)
            branches.append(branch)
            shapes.append(branchShape)
        }
        let rank = shapes[0].count + 1
        let axis = try node.int("axis", 1)
        guard axis == 1 || axis == 1 - rank else {
            throw node.error("axis=\(axis) is not supported (the channel axis, 1 after the batch, is)")
        }
        for (b, branchShape) in shapes.enumerated().dropFirst() where branchShape.count != shapes[0].count || branchShape.dropFirst() != shapes[0].dropFirst() {
            throw node.error("concatenates shapes \(shapes[0]) and \(branchShape) (input \(b)); they must agree but in the channel axis")
        }
        return (.concat(branches: branches, name: nil), [shapes.reduce(0) { $0 + $1[0] }] + shapes[0].dropFirst())
    }

    /// Why `tensor` cannot be traced back to the graph input.
    private func notBuildable(_ tensor: String) -> CFXError {
        guard let producer = index.producers[tensor] else {
            let isInput = index.graph.inputs.contains { $0.name == tensor }
            return CFXError(.model, isInput ? "graph: input \"\(tensor)\" is a second input; cfx models take one"
                                            : "graph: tensor \"\(tensor)\" is neither an input, a constant nor a node's output")
        }
        let node = index.graph.nodes[producer]
        let computed = index.computedInputs(node)
        if ONNXOperators.table[node.opType] == nil || computed.count < 2 { return node.error("operator not supported") }
        return node.error("combines \(computed.count) computed tensors; cfx builds only an Add of two branches of one tensor (a residual block) or a Concat of branches of one tensor (a concat block)")
    }

    /// The network: `built` with a final softmax (see `withFinalSoftmax`), its tensors set.
    func network(_ built: [ONNXBuilt], shape: [Int], inputShape: [Int], dtype: DType) throws -> Network {
        let built = try withFinalSoftmax(built, shape: shape)
        var tensors: [(name: String, values: [Double], label: String)] = []
        let nodes = paths(built, prefix: "layers.", tensors: &tensors)
        let network = try Network(inputShape: inputShape, nodes: nodes, dtype: dtype)
        for tensor in tensors {
            do {
                try network.setParameter(tensor.name, tensor.values)
            } catch let error as CFXError {
                throw CFXError(.model, "\(tensor.label): \(error.message)")
            }
        }
        network.parametersChanged()
        return network
    }

    /// cfx reads the last buffer as probabilities and names a final softmax's input "logits". A
    /// graph that ends in Softmax keeps it; LogSoftmax at the end becomes Softmax (exp of it);
    /// any other graph's output is taken as logits and a Softmax is appended. A single score z
    /// (a binary classifier; after a final Sigmoid, which is dropped) becomes two classes: a dense
    /// layer z → [0, z] and a softmax give [1 − σ(z), σ(z)].
    private func withFinalSoftmax(_ built: [ONNXBuilt], shape: [Int]) throws -> [ONNXBuilt] {
        var built = built
        if shape == [1] {
            if case .layer(let last)? = built.last, last.node?.opType == "Sigmoid" { built.removeLast() }
            let twoClasses = ONNXLayer(operation: Dense(outputs: 2), tensors: [("weight", [0, 1]), ("bias", [0, 0])], node: nil)
            return built + [.layer(twoClasses), .layer(ONNXLayer(operation: Softmax(), tensors: [], node: nil))]
        }
        if let misplaced = logSoftmaxNodes(built).first(where: { node in
            guard case .layer(let last)? = built.last else { return true }
            return last.node?.index != node.index
        }) {
            throw misplaced.error("LogSoftmax is supported only as the graph's last operator")
        }
        if case .layer(let last)? = built.last, last.operation is Softmax { return built }
        guard shape.count == 1 else { throw CFXError(.model, "graph: the output has shape \(shape) per example; cfx expects class scores [classes]") }
        return built + [.layer(ONNXLayer(operation: Softmax(), tensors: [], node: nil))]
    }

    private func logSoftmaxNodes(_ built: [ONNXBuilt]) -> [ONNXNode] {
        built.flatMap { item -> [ONNXNode] in
            switch item {
            case .layer(let layer): return layer.node.map { $0.opType == "LogSoftmax" ? [$0] : [] } ?? []
            case .residual(let main, let shortcut, _): return logSoftmaxNodes(main) + logSoftmaxNodes(shortcut)
            case .concat(let branches, _): return branches.flatMap(logSoftmaxNodes)
            }
        }
    }

    /// The network nodes, and each tensor's full name as the network compiles it ("layers.3.main.0.weight").
    private func paths(_ built: [ONNXBuilt], prefix: String, tensors: inout [(name: String, values: [Double], label: String)]) -> [NetworkNode] {
        built.enumerated().map { i, item in
            switch item {
            case .layer(let layer):
                for (name, values) in layer.tensors { tensors.append(("\(prefix)\(i).\(name)", values, layer.node?.label ?? "graph output")) }
                return .layer(layer.operation, name: layer.name)
            case .residual(let main, let shortcut, let name):
                return .residual(main: paths(main, prefix: "\(prefix)\(i).main.", tensors: &tensors),
                                 shortcut: paths(shortcut, prefix: "\(prefix)\(i).shortcut.", tensors: &tensors), name: name)
            case .concat(let branches, let name):
                return .concat(branches: branches.enumerated().map { b, branch in
                    paths(branch, prefix: "\(prefix)\(i).branches.\(b).", tensors: &tensors)
                }, name: name)
            }
        }
    }
}
