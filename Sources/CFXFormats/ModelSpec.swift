import CFXCore

/// Reads a native network from its JSON specification:
///
///     {"input_shape": [d] or [channels, height, width],
///      "layers": [{"type": "dense", "outputs": 16, "weights": [[...]], "bias": [...]}, {"type": "relu"},
///                 {"type": "residual", "main": [...], "shortcut": [...]},
///                 {"type": "concat", "branches": [[...], [...]]}, ...],
///      "weights": "model.safetensors",
///      "dtype": "float64" (default) or "float32",
///      "metadata": {...anything...}}
///
/// Any layer may carry "name" to make its output a named output ("features"), and "tensors"
/// ({"weight": [flat values], ...}) to give its tensors inline; tensors not given keep their
/// initial values (`Operation.initialise`, seed 0) for training or for a weights file to fill.
/// "weights" names a safetensors file with the other tensors (see ModelFiles.swift), relative to
/// `baseDirectory` (nil: the current directory). "dtype" is the number type the network computes in
/// (tensors are read and saved as Double either way).
public func networkFromSpec(_ spec: JSON, relativeTo baseDirectory: String? = nil) throws -> Network {
    let (network, inline, weights) = try networkFromSpecAlone(spec)
    if let weights {
        try loadWeights(into: network, path: resolvePath(weights, relativeTo: baseDirectory), inlineTensors: inline)
    }
    network.parametersChanged()
    return network
}

/// The network of a spec with its inline tensors set, the names of those tensors, and the
/// spec's "weights" path as written.
func networkFromSpecAlone(_ spec: JSON) throws -> (Network, Set<String>, String?) {
    do {
        let members = try spec.members("model")
        let known = ["input_shape", "layers", "weights", "dtype", "metadata"]
        for (key, _) in members where !known.contains(key) {
            throw CFXError(.model, "\(key): unknown key in the model spec; known keys: \(known.joined(separator: ", "))")
        }
        guard let shapeValue = spec["input_shape"] else { throw CFXError(.model, "input_shape: missing") }
        let shape = try shapeValue.items("input_shape").enumerated().map { try $1.integer("input_shape[\($0)]") }
        guard shape.count == 1 || shape.count == 3 else {
            throw CFXError(.model, "input_shape: expected [features] or [channels, height, width], got \(shape.count) dimensions")
        }
        guard let layersValue = spec["layers"] else { throw CFXError(.model, "layers: missing") }
        let weights = try spec["weights"].map { try $0.text("weights") }
        if let weights, weights.isEmpty { throw CFXError(.model, "weights: an empty path") }
        let dtype = try spec["dtype"].map { try readDType($0, "dtype") } ?? .float64
        var tensors: [InlineTensor] = []
        let nodes = try readNodes(layersValue, path: "layers", tensorPath: "layers.", tensors: &tensors)
        let network: Network
        do {
            network = try Network(inputShape: shape, nodes: nodes, dtype: dtype)
        } catch let error as CFXError where error.message.hasPrefix("layers.") {
            throw CFXError(error.kind, specPath(ofNetworkMessage: error.message))  // name the layer as the spec does
        }
        var inline = Set<String>()
        for tensor in tensors {
            guard inline.insert(tensor.name).inserted else { throw CFXError(.model, "\(tensor.key): \(tensor.name) given twice inline in the spec") }
            try tensor.set(in: network)
        }
        return (network, inline, weights)
    } catch let error as CFXError where error.kind == .config {
        throw CFXError(.model, error.message)  // type errors inside a spec are model errors
    }
}

/// "float32" or "float64"; errors name `key`.
public func readDType(_ value: JSON, _ key: String) throws -> DType {
    let text = try value.text(key)
    guard let dtype = DType(rawValue: text) else {
        throw CFXError(.config, "\(key): unknown number type \"\(text)\"; known: float32, float64")
    }
    return dtype
}

/// Layers of `value`: `path` names them in errors ("layers[2]"), `tensorPath` prefixes their tensors
/// as the compiled network names them ("layers.2.weight", "layers.3.main.0.weight").
private func readNodes(_ value: JSON, path: String, tensorPath: String, tensors: inout [InlineTensor]) throws -> [NetworkNode] {
    try value.items(path).enumerated().map { i, layer in
        try readNode(layer, path: "\(path)[\(i)]", tensorPath: "\(tensorPath)\(i).", tensors: &tensors)
    }
}

private func readNode(_ value: JSON, path: String, tensorPath: String, tensors: inout [InlineTensor]) throws -> NetworkNode {
    let members = try value.members(path)
    guard let typeValue = value["type"] else { throw CFXError(.model, "\(path).type: missing") }
    let type = try typeValue.text("\(path).type")
    let name = try value["name"].map { try $0.text("\(path).name") }
    guard let builder = layerBuilders[type] else {
        let known = layerBuilders.keys.sorted().joined(separator: ", ")
        throw CFXError(.model, "\(path).type: unknown layer \"\(type)\"; known: \(known)")
    }
    let allowed = Set(builder.keys + ["type", "name", "tensors"])
    if let extra = members.first(where: { !allowed.contains($0.0) }) {
        throw CFXError(.model, "\(path).\(extra.0): unknown key for a \(type) layer (\(allowed.sorted().joined(separator: ", ")))")
    }
    if type == "residual" {
        let main = try readNodes(value["main"] ?? .array([]), path: "\(path).main", tensorPath: "\(tensorPath)main.", tensors: &tensors)
        guard !main.isEmpty else { throw CFXError(.model, "\(path).main: a residual block needs at least one layer") }
        let shortcut = try readNodes(value["shortcut"] ?? .array([]), path: "\(path).shortcut", tensorPath: "\(tensorPath)shortcut.", tensors: &tensors)
        return .residual(main: main, shortcut: shortcut, name: name)
    }
    if type == "concat" {
        guard let branchesValue = value["branches"] else { throw CFXError(.model, "\(path).branches: missing") }
        let branches = try branchesValue.items("\(path).branches").enumerated().map { b, branch in
            try readNodes(branch, path: "\(path).branches[\(b)]", tensorPath: "\(tensorPath)branches.\(b).", tensors: &tensors)
        }
        guard branches.count >= 2 else { throw CFXError(.model, "\(path).branches: a concat block needs at least two branches, got \(branches.count)") }
        return .concat(branches: branches, name: name)
    }
    let (operation, inline) = try builder.read(value, path)
    for (tensor, values) in inline {
        // A dense layer's "weights" key holds its "weight" tensor; other tensors have their own key.
        let key = value[tensor] == nil && tensor == "weight" && value["weights"] != nil ? "weights" : tensor
        var matrix: (rows: Int, columns: Int)? = nil
        if case .array(let rows)? = value[key], case .array(let first)? = rows.first { matrix = (rows.count, first.count) }
        tensors.append(InlineTensor(name: tensorPath + tensor, key: "\(path).\(key)", values: values, matrix: matrix))
    }
    for (tensor, values) in try value["tensors"]?.members("\(path).tensors") ?? [] {
        tensors.append(InlineTensor(name: tensorPath + tensor, key: "\(path).tensors.\(tensor)",
                                    values: try values.numbers("\(path).tensors.\(tensor)"), matrix: nil))
    }
    return .layer(operation, name: name)
}

/// A tensor given in the spec: its name in the network ("layers.0.weight"), the JSON key it came
/// from ("layers[0].weights"), which errors name, and its rows × columns when given as a matrix.
private struct InlineTensor {
    let name: String
    let key: String
    let values: [Double]
    let matrix: (rows: Int, columns: Int)?

    func set(in network: Network) throws {
        guard let entry = network.parameterList.first(where: { $0.name == name }) else {
            let own = network.parameterList.filter { $0.name.hasPrefix(name.prefix(upTo: name.lastIndex(of: ".")!)) }
                .map { String($0.name.split(separator: ".").last!) }
            throw CFXError(.model, "\(key): the layer has no such tensor (its tensors: \(own.joined(separator: ", ")))")
        }
        guard values.count == entry.spec.count else {
            var message = "\(key): has \(values.count) values, expected \(entry.spec.count) (shape \(entry.spec.shape))"
            if let matrix, entry.spec.shape.count == 2 {
                let inputs = entry.spec.shape[1]
                message = "\(key): a \(matrix.rows) × \(matrix.columns) matrix, expected outputs × inputs with \(inputs) inputs "
                    + "(shape \(entry.spec.shape), PyTorch's layout)"
                if matrix.rows == inputs {
                    message += "; this looks like inputs × outputs (Keras's and scikit-learn's layout): transpose it"
                }
            }
            throw CFXError(.model, message)
        }
        do {
            try network.setParameter(name, values)
        } catch let error as CFXError where error.message.hasPrefix(name) {
            throw CFXError(error.kind, key + error.message.dropFirst(name.count))
        }
    }
}

/// A network error's leading layer path in the spec's notation: "layers.3.main.0 (dense): ..."
/// becomes "layers[3].main[0] (dense): ...".
private func specPath(ofNetworkMessage message: String) -> String {
    guard let end = message.firstIndex(where: { $0 == " " || $0 == ":" }) else { return message }
    var path = ""
    for part in message[..<end].split(separator: ".") {
        path += Int(part) != nil ? "[\(part)]" : (path.isEmpty ? "" : ".") + part
    }
    return path + message[end...]
}

/// How one layer type is read and written: its keys besides "type" and "name", the operation
/// with any tensors given inline (by tensor name: "weight", "bias"), and the keys that describe an
/// operation of this type (nil for an operation of another type).
public struct LayerBuilder {
    public let keys: [String]
    public let read: (JSON, String) throws -> (Operation, [(String, [Double])])
    public let write: (Operation) -> [(String, JSON)]?

    public init(keys: [String], read: @escaping (JSON, String) throws -> (Operation, [(String, [Double])]),
                write: @escaping (Operation) -> [(String, JSON)]?) {
        self.keys = keys
        self.read = read
        self.write = write
    }

    /// A layer without options, of class `T`.
    static func plain<T: Operation>(_ make: @escaping () -> T) -> LayerBuilder {
        LayerBuilder(keys: [], read: { _, _ in (make(), []) }, write: { $0 is T ? [] : nil })
    }
}

/// Every layer type a spec may use, by "type"; each family of layers adds its own table.
let layerBuilders: [String: LayerBuilder] = basicLayers
    .merging(convolutionLayers) { a, _ in a }
    .merging(normalisationLayers) { a, _ in a }
    .merging(groupedConvolutionLayers) { a, _ in a }

let basicLayers: [String: LayerBuilder] = [
    "dense": LayerBuilder(keys: ["outputs", "weights", "bias", "spectral_norm"], read: { value, path in
        var inline: [(String, [Double])] = []
        var outputs = try value["outputs"].map { try $0.integer("\(path).outputs") }
        if let outputs, outputs > Limits.tensorElements {
            throw CFXError(.model, "\(path).outputs: \(outputs) is over the limit of \(Limits.tensorElements)")
        }
        if let weightsValue = value["weights"] {
            let rows = try weightsValue.items("\(path).weights").enumerated().map { try $1.numbers("\(path).weights[\($0)]") }
            guard let first = rows.first, !first.isEmpty else { throw CFXError(.model, "\(path).weights: empty") }
            if let bad = rows.firstIndex(where: { $0.count != first.count }) {
                throw CFXError(.model, "\(path).weights[\(bad)]: has \(rows[bad].count) values, row 0 has \(first.count)")
            }
            if let outputs, outputs != rows.count {
                let hint = first.count == outputs ? "; rows are outputs (PyTorch's layout): transpose an inputs × outputs (Keras) matrix" : ""
                throw CFXError(.model, "\(path).weights: has \(rows.count) rows, but outputs is \(outputs)\(hint)")
            }
            outputs = rows.count
            inline.append(("weight", rows.flatMap { $0 }))
        }
        if let bias = value["bias"] {  // omitted: zeros, or given by a weights file
            inline.append(("bias", try bias.numbers("\(path).bias")))
        }
        guard let outputs else { throw CFXError(.model, "\(path): a dense layer needs \"outputs\" or inline \"weights\"") }
        return (Dense(outputs: outputs, spectralNorm: try readSpectralNorm(value, path)), inline)
    }, write: { operation in
        guard let dense = operation as? Dense else { return nil }
        return [("outputs", .int(dense.outputs))] + (dense.spectralNorm.map { [("spectral_norm", writeSpectralNorm($0))] } ?? [])
    }),
    "relu": elementwise(.relu),
    "tanh": elementwise(.tanh),
    "sigmoid": elementwise(.sigmoid),
    "softplus": elementwise(.softplus),
    "leaky_relu": LayerBuilder(keys: ["negative_slope"], read: { value, path in
        (Elementwise(.leakyRelu(slope: try value["negative_slope"].map { try $0.number("\(path).negative_slope") } ?? 0.01)), [])
    }, write: { operation in
        guard let op = operation as? Elementwise, case .leakyRelu(let slope) = op.function else { return nil }
        return [("negative_slope", .double(slope))]
    }),
    "softmax": .plain { Softmax() },
    "residual": LayerBuilder(keys: ["main", "shortcut"], read: { _, path in
        throw CFXError(.internalError, "\(path): residual blocks are read by readNode")
    }, write: { _ in nil }),
    "concat": LayerBuilder(keys: ["branches"], read: { _, path in
        throw CFXError(.internalError, "\(path): concat blocks are read by readNode")
    }, write: { _ in nil }),
]

private func elementwise(_ function: Elementwise.Function) -> LayerBuilder {
    LayerBuilder(keys: [], read: { _, _ in (Elementwise(function), []) },
                 write: { ($0 as? Elementwise)?.function == function ? [] : nil })
}

// MARK: Writing

/// The spec of `network`: input shape and layers, with every saved tensor inline when
/// `inlineTensors` is set (as "tensors": {name: flat values}), otherwise none (for a weights file).
public func specOfNetwork(_ network: Network, inlineTensors: Bool) throws -> JSON {
    var tensors: [String: [Double]] = [:]
    if inlineTensors {
        for (name, spec, range) in network.parameterList where spec.role != .derived {
            tensors[name] = Array(network.parameters[range])
        }
    }
    var members: [(String, JSON)] = [
        ("input_shape", .array(network.inputShape.map { .int($0) })),
        ("layers", .array(try network.nodes.enumerated().map { try writeNode($1, tensorPath: "layers.\($0).", tensors: tensors) })),
    ]
    if network.dtype != .float64 { members.append(("dtype", .string(network.dtype.rawValue))) }
    return .object(members)
}

private func writeNode(_ node: NetworkNode, tensorPath: String, tensors: [String: [Double]]) throws -> JSON {
    switch node {
    case .residual(let main, let shortcut, let name):
        var members: [(String, JSON)] = [("type", .string("residual"))]
        if let name { members.append(("name", .string(name))) }
        members.append(("main", .array(try main.enumerated().map { try writeNode($1, tensorPath: "\(tensorPath)main.\($0).", tensors: tensors) })))
        members.append(("shortcut", .array(try shortcut.enumerated().map { try writeNode($1, tensorPath: "\(tensorPath)shortcut.\($0).", tensors: tensors) })))
        return .object(members)
    case .concat(let branches, let name):
        var members: [(String, JSON)] = [("type", .string("concat"))]
        if let name { members.append(("name", .string(name))) }
        members.append(("branches", .array(try branches.enumerated().map { b, branch in
            .array(try branch.enumerated().map { try writeNode($1, tensorPath: "\(tensorPath)branches.\(b).\($0).", tensors: tensors) })
        })))
        return .object(members)
    case .layer(let operation, let name):
        guard let (type, keys) = layerBuilders.lazy.compactMap({ type, builder in builder.write(operation).map { (type, $0) } }).first else {
            throw CFXError(.model, "\(tensorPath.dropLast()) (\(operation.kind)): this layer cannot be written to a spec")
        }
        var members: [(String, JSON)] = [("type", .string(type))]
        if let name { members.append(("name", .string(name))) }
        members += keys
        let own = tensors.filter { $0.key.hasPrefix(tensorPath) && !$0.key.dropFirst(tensorPath.count).contains(".") }
        if !own.isEmpty {
            members.append(("tensors", .object(own.sorted { $0.key < $1.key }.map { (String($0.key.dropFirst(tensorPath.count)), .numbers($0.value)) })))
        }
        return .object(members)
    }
}
