import CFXCore

/// An ONNX graph seen as cfx sees a network: one input, the constants (initializers and Constant
/// nodes), and for every tensor the node that produces it. `spine` follows a tensor back to the
/// graph input through one-input nodes, residual additions (Add of two tensors computed from
/// the same fork tensor) and concatenations (Concat of tensors computed from one fork tensor):
/// the chain of tensors every path from the input passes through.
struct ONNXGraphIndex {
    let graph: ONNXGraph
    let input: String
    var constants: [String: ONNXTensor] = [:]
    private(set) var producers: [String: Int] = [:]
    /// For each tensor on a path from the input: the tensor before it on the spine (nil for the input).
    private(set) var previous: [String: String] = [:]
    /// For an Add of two computed tensors, or a Concat of several: the fork tensor all come from.
    private(set) var forks: [String: String] = [:]

    init(_ graph: ONNXGraph, input: String) throws {
        self.graph = graph
        self.input = input
        for tensor in graph.initializers { constants[tensor.name] = tensor }
        for node in graph.nodes {
            for output in node.outputs where !output.isEmpty {
                guard producers[output] == nil, output != input, constants[output] == nil else {
                    throw CFXError(.model, "\(node.label): output \"\(output)\" is produced twice")
                }
                producers[output] = node.index
            }
            guard node.domain.isEmpty, let output = node.outputs.first else { continue }
            if node.opType == "Constant" {
                constants[output] = try constantValue(node)
            } else if node.opType == "Identity", let input = node.inputs.first, var value = constants[input] {
                value.name = output  // an exporter's copy of an initializer
                constants[output] = value
            }
        }
        try buildSpine()
    }

    /// The inputs of `node` computed from the graph input (not constants; empty names are absent optional inputs).
    func computedInputs(_ node: ONNXNode) -> [String] {
        node.inputs.filter { !$0.isEmpty && constants[$0] == nil }
    }

    /// Visits the nodes in an order where each comes after the nodes that produce its inputs
    /// (Kahn's algorithm, without recursion), setting `previous` and `forks`; a cycle is an error.
    private mutating func buildSpine() throws {
        var waiting = [Int](repeating: 0, count: graph.nodes.count)
        var consumers: [String: [Int]] = [:]
        var ready: [Int] = []
        for node in graph.nodes {
            let inputs = Set(computedInputs(node).filter { $0 != input && producers[$0] != nil })
            waiting[node.index] = inputs.count
            for name in inputs { consumers[name, default: []].append(node.index) }
            if inputs.isEmpty { ready.append(node.index) }
        }
        var visited = 0
        while let index = ready.popLast() {
            visited += 1
            let node = graph.nodes[index]
            try link(node)
            for output in node.outputs where !output.isEmpty {
                for consumer in consumers[output] ?? [] {
                    waiting[consumer] -= 1
                    if waiting[consumer] == 0 { ready.append(consumer) }
                }
            }
        }
        guard visited == graph.nodes.count else { throw CFXError(.model, "graph: the nodes form a cycle") }
    }

    /// Sets the spine link of `node`'s outputs, once its inputs have theirs.
    private mutating func link(_ node: ONNXNode) throws {
        let inputs = computedInputs(node).filter { $0 == input || previous[$0] != nil }
        let before: String
        if inputs.count == 1 {
            before = inputs[0]
        } else if inputs.count == 2 && computedInputs(node).count == 2 && (node.opType == "Add" || node.opType == "Sum") && node.domain.isEmpty {
            guard let fork = fork(inputs[0], inputs[1]) else { return }
            forks[node.outputs.first ?? ""] = fork
            before = fork
        } else if inputs.count >= 2 && inputs.count == node.inputs.count && node.opType == "Concat" && node.domain.isEmpty {
            var common: String? = inputs[0]
            for other in inputs.dropFirst() { common = common.flatMap { fork($0, other) } }
            guard let common else { return }
            forks[node.outputs.first ?? ""] = common
            before = common
        } else {
            return  // not on a path from the input, or not a network cfx can build: found when the output needs it
        }
        for output in node.outputs where !output.isEmpty { previous[output] = before }
    }

    /// The spine from `tensor` back to the input, `tensor` first.
    func spine(_ tensor: String) -> [String] {
        var chain = [tensor], current = tensor
        while let before = previous[current], chain.count <= graph.nodes.count + 1 {
            chain.append(before)
            current = before
        }
        return chain
    }

    /// The last tensor the spines of `a` and `b` share.
    private func fork(_ a: String, _ b: String) -> String? {
        let onA = Set(spine(a))
        return spine(b).first { onA.contains($0) }
    }

    /// Whether `tensor` is computed from the graph input.
    func isComputed(_ tensor: String) -> Bool { tensor == input || previous[tensor] != nil }
}

/// The value of a Constant node: its "value" tensor, or value_float(s) / value_int(s).
private func constantValue(_ node: ONNXNode) throws -> ONNXTensor {
    guard let attribute = node.attributes.first else { throw CFXError(.model, "\(node.label): no value") }
    var tensor = ONNXTensor()
    tensor.name = node.outputs.first ?? ""
    switch attribute.name {
    case "value":
        guard let t = attribute.t else { throw CFXError(.model, "\(node.label): value is not a tensor") }
        tensor = t
        tensor.name = node.outputs.first ?? ""
    case "value_float": tensor.dataType = ONNXDataType.double.rawValue; tensor.literal = [Double(attribute.f)]
    case "value_floats": tensor.dataType = ONNXDataType.double.rawValue; tensor.literal = attribute.floats.map(Double.init); tensor.dims = [Int64(attribute.floats.count)]
    case "value_int": tensor.dataType = ONNXDataType.int64.rawValue; tensor.integers = [attribute.i]
    case "value_ints": tensor.dataType = ONNXDataType.int64.rawValue; tensor.integers = attribute.ints; tensor.dims = [Int64(attribute.ints.count)]
    default: throw CFXError(.model, "\(node.label): a constant given as \(attribute.name) is not supported")
    }
    return tensor
}
