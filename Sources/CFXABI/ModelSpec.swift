import CFXCore

/// Reads a native network from its JSON specification:
/// {"input_shape": [d], "layers": [{"type": "dense", "weights": [[...]], "bias": [...]}, {"type": "relu"}, ...],
///  "metadata": {...anything...}}
func networkFromSpec(_ spec: JSON) throws -> Network {
    do {
        let members = try spec.members("model")
        for (key, _) in members where !["input_shape", "layers", "metadata"].contains(key) {
            throw CFXError(.model, "\(key): unknown key in the model spec; known keys: input_shape, layers, metadata")
        }
        guard let shapeValue = spec["input_shape"] else { throw CFXError(.model, "input_shape: missing") }
        let shape = try shapeValue.items("input_shape").enumerated().map { try $1.integer("input_shape[\($0)]") }
        guard shape.count == 1 else {
            throw CFXError(.model, "input_shape: expected [features], got \(shape.count) dimensions")
        }
        guard let layersValue = spec["layers"] else { throw CFXError(.model, "layers: missing") }
        let layers = try layersValue.items("layers").enumerated().map { try layer($1, "layers[\($0)]") }
        return try Network(inputWidth: shape[0], layers: layers)
    } catch let error as CFXError where error.kind == .config {
        throw CFXError(.model, error.message)  // type errors inside a spec are model errors
    }
}

private func layer(_ value: JSON, _ context: String) throws -> Layer {
    guard let type = try value["type"]?.text("\(context).type") else {
        _ = try value.members(context)
        throw CFXError(.model, "\(context).type: missing")
    }
    let members = try value.members(context)
    if type == "dense" {
        for (key, _) in members where !["type", "weights", "bias"].contains(key) {
            throw CFXError(.model, "\(context).\(key): unknown key for a dense layer (type, weights, bias)")
        }
        guard let weightsValue = value["weights"] else { throw CFXError(.model, "\(context).weights: missing") }
        let rows = try weightsValue.items("\(context).weights").enumerated().map { try $1.numbers("\(context).weights[\($0)]") }
        guard let first = rows.first, !first.isEmpty else { throw CFXError(.model, "\(context).weights: empty") }
        if let bad = rows.firstIndex(where: { $0.count != first.count }) {
            throw CFXError(.model, "\(context).weights[\(bad)]: has \(rows[bad].count) values, row 0 has \(first.count)")
        }
        let bias = try value["bias"].map { try $0.numbers("\(context).bias") } ?? [Double](repeating: 0, count: rows.count)
        return .dense(Dense(inputs: first.count, outputs: rows.count, weights: rows.flatMap { $0 }, bias: bias))
    }
    guard let activation = Activation(rawValue: type) else {
        throw CFXError(.model, "\(context).type: unknown layer \"\(type)\"; known: dense, \(Activation.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    if let extra = members.first(where: { $0.0 != "type" }) {
        throw CFXError(.model, "\(context).\(extra.0): unknown key for a \(type) layer")
    }
    return .activation(activation)
}
