import CFXCore

/// Reads a native network from its JSON specification:
///
///     {"input_shape": [d] or [channels, height, width],
///      "layers": [{"type": "dense", "outputs": 16, "weights": [[...]], "bias": [...]}, {"type": "relu"},
///                 {"type": "residual", "main": [...], "shortcut": [...]}, ...],
///      "metadata": {...anything...}}
///
/// Any layer may carry "name" to make its output a named output ("features"). Tensors given
/// inline are set on the network; the others stay zero for a weights file to fill.
func networkFromSpec(_ spec: JSON) throws -> Network {
    do {
        let members = try spec.members("model")
        for (key, _) in members where !["input_shape", "layers", "metadata"].contains(key) {
            throw CFXError(.model, "\(key): unknown key in the model spec; known keys: input_shape, layers, metadata")
        }
        guard let shapeValue = spec["input_shape"] else { throw CFXError(.model, "input_shape: missing") }
        let shape = try shapeValue.items("input_shape").enumerated().map { try $1.integer("input_shape[\($0)]") }
        guard shape.count == 1 || shape.count == 3 else {
            throw CFXError(.model, "input_shape: expected [features] or [channels, height, width], got \(shape.count) dimensions")
        }
        guard let layersValue = spec["layers"] else { throw CFXError(.model, "layers: missing") }
        var tensors: [(String, [Double])] = []
        let nodes = try readNodes(layersValue, path: "layers", tensorPath: "layers.", tensors: &tensors)
        let network = try Network(inputShape: shape, nodes: nodes)
        for (name, values) in tensors { try network.setParameter(name, values) }
        network.parametersChanged()
        return network
    } catch let error as CFXError where error.kind == .config {
        throw CFXError(.model, error.message)  // type errors inside a spec are model errors
    }
}

/// Layers of `value`: `path` names them in errors ("layers[2]"), `tensorPath` prefixes their tensors
/// as the compiled network names them ("layers.2.weight", "layers.3.main.0.weight").
private func readNodes(_ value: JSON, path: String, tensorPath: String, tensors: inout [(String, [Double])]) throws -> [NetworkNode] {
    try value.items(path).enumerated().map { i, layer in
        try readNode(layer, path: "\(path)[\(i)]", tensorPath: "\(tensorPath)\(i).", tensors: &tensors)
    }
}

private func readNode(_ value: JSON, path: String, tensorPath: String, tensors: inout [(String, [Double])]) throws -> NetworkNode {
    let members = try value.members(path)
    guard let typeValue = value["type"] else { throw CFXError(.model, "\(path).type: missing") }
    let type = try typeValue.text("\(path).type")
    let name = try value["name"].map { try $0.text("\(path).name") }
    guard let builder = layerBuilders[type] else {
        let known = (Array(layerBuilders.keys) + ["residual"]).sorted().joined(separator: ", ")
        throw CFXError(.model, "\(path).type: unknown layer \"\(type)\"; known: \(known)")
    }
    let allowed = Set(builder.keys + ["type", "name"])
    if let extra = members.first(where: { !allowed.contains($0.0) }) {
        throw CFXError(.model, "\(path).\(extra.0): unknown key for a \(type) layer (\(allowed.sorted().joined(separator: ", ")))")
    }
    if type == "residual" {
        let main = try readNodes(value["main"] ?? .array([]), path: "\(path).main", tensorPath: "\(tensorPath)main.", tensors: &tensors)
        guard !main.isEmpty else { throw CFXError(.model, "\(path).main: a residual block needs at least one layer") }
        let shortcut = try readNodes(value["shortcut"] ?? .array([]), path: "\(path).shortcut", tensorPath: "\(tensorPath)shortcut.", tensors: &tensors)
        return .residual(main: main, shortcut: shortcut, name: name)
    }
    let (operation, inline) = try builder.build(value, path)
    tensors += inline.map { (tensorPath + $0.0, $0.1) }
    return .layer(operation, name: name)
}

/// How one layer type is read: its keys besides "type" and "name", and the operation with any
/// tensors given inline (by tensor name: "weight", "bias").
struct LayerBuilder {
    let keys: [String]
    let build: (JSON, String) throws -> (Operation, [(String, [Double])])
}

let layerBuilders: [String: LayerBuilder] = [
    "dense": LayerBuilder(keys: ["outputs", "weights", "bias"]) { value, path in
        var inline: [(String, [Double])] = []
        var outputs = try value["outputs"].map { try $0.integer("\(path).outputs") }
        if let weightsValue = value["weights"] {
            let rows = try weightsValue.items("\(path).weights").enumerated().map { try $1.numbers("\(path).weights[\($0)]") }
            guard let first = rows.first, !first.isEmpty else { throw CFXError(.model, "\(path).weights: empty") }
            if let bad = rows.firstIndex(where: { $0.count != first.count }) {
                throw CFXError(.model, "\(path).weights[\(bad)]: has \(rows[bad].count) values, row 0 has \(first.count)")
            }
            if let outputs, outputs != rows.count {
                throw CFXError(.model, "\(path).weights: has \(rows.count) rows, but outputs is \(outputs)")
            }
            outputs = rows.count
            inline.append(("weight", rows.flatMap { $0 }))
            inline.append(("bias", try value["bias"].map { try $0.numbers("\(path).bias") } ?? [Double](repeating: 0, count: rows.count)))
        } else if let bias = value["bias"] {
            inline.append(("bias", try bias.numbers("\(path).bias")))
        }
        guard let outputs else { throw CFXError(.model, "\(path): a dense layer needs \"outputs\" or inline \"weights\"") }
        return (Dense(outputs: outputs), inline)
    },
    "relu": elementwise(.relu),
    "tanh": elementwise(.tanh),
    "sigmoid": elementwise(.sigmoid),
    "softplus": elementwise(.softplus),
    "leaky_relu": LayerBuilder(keys: ["negative_slope"]) { value, path in
        (Elementwise(.leakyRelu(slope: try value["negative_slope"].map { try $0.number("\(path).negative_slope") } ?? 0.01)), [])
    },
    "softmax": LayerBuilder(keys: []) { _, _ in (Softmax(), []) },
    "residual": LayerBuilder(keys: ["main", "shortcut"]) { _, path in
        throw CFXError(.internalError, "\(path): residual blocks are read by readNode")
    },
]

private func elementwise(_ function: Elementwise.Function) -> LayerBuilder {
    LayerBuilder(keys: []) { _, _ in (Elementwise(function), []) }
}
