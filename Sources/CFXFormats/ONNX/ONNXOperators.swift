import CFXCore

/// One cfx layer made from an ONNX node, with its tensors by name ("weight", "bias").
struct ONNXLayer {
    var operation: Operation
    var tensors: [(String, [Double])]
    let node: ONNXNode?
    /// A dense layer from MatMul, whose bias a following Add of a constant may still set.
    var openBias = false
    /// The ONNX tensor that holds its output: a named output of the network (ONNXNetworkBuilder).
    var name: String? = nil
}

/// Turns one ONNX node into cfx layers: `convert` appends the node's layer to `layers` (or sets
/// the bias of the last one, or adds nothing for Identity and Dropout) and returns the output
/// shape of one example, as cfx sees it ([features] or [channels, height, width]).
struct ONNXOperators {
    let index: ONNXGraphIndex
    let bytes: UnsafeRawBufferPointer

    typealias Converter = (ONNXOperators, ONNXNode, [Int], inout [ONNXLayer]) throws -> [Int]

    static let table: [String: Converter] = [
        "Gemm": { try $0.gemm($1, $2, &$3) },
        "MatMul": { try $0.matMul($1, $2, &$3) },
        "Add": { try $0.biasAdd($1, $2, &$3) },
        "Conv": { try $0.conv($1, $2, &$3) },
        "BatchNormalization": { try $0.batchNorm($1, $2, &$3) },
        "MaxPool": { try $0.pool(.max, $1, $2, &$3) },
        "AveragePool": { try $0.pool(.average, $1, $2, &$3) },
        "GlobalAveragePool": { try append(GlobalAveragePool(), $1, $2, &$3) },
        "Flatten": { try $0.flatten($1, $2, &$3) },
        "Reshape": { try $0.reshape($1, $2, &$3) },
        "Squeeze": { try $0.squeeze($1, $2, &$3) },
        "Relu": { try append(Elementwise(.relu), $1, $2, &$3) },
        "Sigmoid": { try append(Elementwise(.sigmoid), $1, $2, &$3) },
        "Tanh": { try append(Elementwise(.tanh), $1, $2, &$3) },
        "Softplus": { try append(Elementwise(.softplus), $1, $2, &$3) },
        "LeakyRelu": { try append(Elementwise(.leakyRelu(slope: Double(try $1.float("alpha", 0.01)))), $1, $2, &$3) },
        "Softmax": { try $0.softmax($1, $2, &$3) },
        "LogSoftmax": { try $0.softmax($1, $2, &$3) },
        "Identity": { _, _, shape, _ in shape },
        // A Concat of two or more computed tensors is a concat block, built by ONNXNetworkBuilder.
        "Concat": { operators, node, _, _ in throw operators.unbuildableConcat(node) },
        "Cast": { _, node, shape, _ in
            // The network computes in one number type: a cast to FLOAT or DOUBLE changes nothing it computes.
            let to = try node.int("to", 0)
            guard to == ONNXDataType.float.rawValue || to == ONNXDataType.double.rawValue else { throw node.error("a cast to data type \(to) is not supported (FLOAT and DOUBLE are)") }
            return shape
        },
        "Dropout": { _, node, shape, _ in
            // Inference: the identity. A training_mode input that is not a constant false is refused.
            guard node.inputs.count < 3 || node.inputs[2].isEmpty else { throw node.error("training_mode is not supported (inference only)") }
            return shape
        },
    ]

    /// Appends `operation` for `node`, with its output shape (errors name the node).
    static func append(_ operation: Operation, _ node: ONNXNode?, _ shape: [Int], _ layers: inout [ONNXLayer],
                       tensors: [(String, [Double])] = [], openBias: Bool = false) throws -> [Int] {
        let output: [Int]
        do {
            output = try operation.outputShape(for: shape)
        } catch let error as CFXError {
            throw CFXError(.model, "\(node?.label ?? "softmax"): \(error.message)")
        }
        guard let count = checkedCount(output), count <= Limits.tensorElements else {
            throw CFXError(.model, "\(node?.label ?? "softmax"): an output of shape \(output) is over the limit of \(Limits.tensorElements) values")
        }
        layers.append(ONNXLayer(operation: operation, tensors: tensors, node: node, openBias: openBias))
        return output
    }

    /// The values of a constant input of `node`, by position; errors name the node.
    func constant(_ node: ONNXNode, _ position: Int, _ role: String) throws -> (shape: [Int], values: [Double]) {
        guard position < node.inputs.count, let tensor = index.constants[node.inputs[position]] else {
            throw node.error("\(role) (input \(position)) must be a constant (an initializer); computed \(role)s are not supported")
        }
        return (try tensor.shape(node.label), try tensor.doubles(bytes, node.label))
    }

    /// y = alpha · A · op(B) + beta · C, with A the example and B, C constants.
    func gemm(_ node: ONNXNode, _ shape: [Int], _ layers: inout [ONNXLayer]) throws -> [Int] {
        guard try node.int("transA", 0) == 0 else { throw node.error("transA=1 is not supported") }
        let transB = try node.int("transB", 0) != 0
        let alpha = Double(try node.float("alpha", 1)), beta = Double(try node.float("beta", 1))
        let (bShape, b) = try constant(node, 1, "B")
        guard bShape.count == 2 else { throw node.error("B has shape \(bShape), expected a matrix") }
        let (inputs, outputs) = transB ? (bShape[1], bShape[0]) : (bShape[0], bShape[1])
        var weight = transB ? b : transpose(b, rows: bShape[0], columns: bShape[1])
        if alpha != 1 { weight = weight.map { $0 * alpha } }
        var bias = [Double](repeating: 0, count: outputs)
        if node.inputs.count > 2 && !node.inputs[2].isEmpty {
            bias = try broadcastBias(node, try constant(node, 2, "C").values, outputs).map { $0 * beta }
        }
        try requireInputs(node, shape, inputs)
        return try Self.append(Dense(outputs: outputs), node, shape, &layers, tensors: [("weight", weight), ("bias", bias)])
    }

    /// y = x · W with W a constant matrix: a dense layer, whose bias a following Add may set.
    func matMul(_ node: ONNXNode, _ shape: [Int], _ layers: inout [ONNXLayer]) throws -> [Int] {
        guard index.constants[node.inputs[0]] == nil else { throw node.error("the constant must be the second input (x · W)") }
        let (wShape, w) = try constant(node, 1, "W")
        guard wShape.count == 2 else { throw node.error("W has shape \(wShape), expected a matrix") }
        try requireInputs(node, shape, wShape[0])
        return try Self.append(Dense(outputs: wShape[1]), node, shape, &layers,
                               tensors: [("weight", transpose(w, rows: wShape[0], columns: wShape[1])),
                                         ("bias", [Double](repeating: 0, count: wShape[1]))], openBias: true)
    }

    /// Add of a constant: the bias of the MatMul just before it. (Add of two computed tensors is a
    /// residual block, built by ONNXNetworkBuilder.)
    func biasAdd(_ node: ONNXNode, _ shape: [Int], _ layers: inout [ONNXLayer]) throws -> [Int] {
        let position = index.constants[node.inputs[0]] == nil ? 1 : 0
        guard let last = layers.indices.last, layers[last].openBias, shape.count == 1 else {
            throw node.error("adding a constant is supported only as the bias of a MatMul just before it")
        }
        layers[last].tensors[1].1 = try broadcastBias(node, try constant(node, position, "bias").values, shape[0])
        layers[last].openBias = false
        return shape
    }

    /// Why a Concat that reached the chain as a one-input node is not a concat block.
    func unbuildableConcat(_ node: ONNXNode) -> CFXError {
        let block = "cfx builds only a Concat of two or more tensors computed from one tensor (a concat block)"
        if let loose = node.inputs.first(where: { !$0.isEmpty && index.constants[$0] == nil && !index.isComputed($0) }) {
            return node.error("input \"\(loose)\" is not computed from the graph input; \(block)")
        }
        return node.error("concatenates a constant or a single tensor; \(block)")
    }

    func softmax(_ node: ONNXNode, _ shape: [Int], _ layers: inout [ONNXLayer]) throws -> [Int] {
        guard shape.count == 1 else { throw node.error("softmax over an input of shape \(shape); cfx takes it over class scores [classes]") }
        let axis = try node.int("axis", -1)
        guard axis == 1 || axis == -1 else { throw node.error("axis=\(axis) is not supported (the class axis, 1 or -1, is)") }
        return try Self.append(Softmax(), node, shape, &layers)
    }

    func flatten(_ node: ONNXNode, _ shape: [Int], _ layers: inout [ONNXLayer]) throws -> [Int] {
        guard try node.int("axis", 1) == 1 else { throw node.error("axis=\(try node.int("axis", 1)) is not supported (1, after the batch, is)") }
        return shape.count == 1 ? shape : try Self.append(Flatten(), node, shape, &layers)
    }

    /// Reshape to [batch, features] (a flatten): the target shape [0 or -1 or 1 or N, -1 or features].
    func reshape(_ node: ONNXNode, _ shape: [Int], _ layers: inout [ONNXLayer]) throws -> [Int] {
        guard node.inputs.count > 1, let tensor = index.constants[node.inputs[1]] else {
            throw node.error("the target shape must be a constant (a computed shape is not supported)")
        }
        let target = try tensor.integerValues(bytes, node.label)
        let features = shape.reduce(1, *)
        guard target.count == 2, target[1] == -1 || target[1] == Int64(features) else {
            throw node.error("reshaping to \(target) is not supported; only flattening each example to [batch, \(features)] is")
        }
        return shape.count == 1 ? shape : try Self.append(Flatten(), node, shape, &layers)
    }

    /// Squeeze of the 1 × 1 spatial axes (after a global pooling): [c, 1, 1] → [c].
    func squeeze(_ node: ONNXNode, _ shape: [Int], _ layers: inout [ONNXLayer]) throws -> [Int] {
        var axes = try node.ints("axes")
        if axes == nil, node.inputs.count > 1, let tensor = index.constants[node.inputs[1]] {
            axes = try tensor.integerValues(bytes, node.label).map { Int($0) }
        }
        let spatial = Set((axes ?? [2, 3]).map { $0 < 0 ? $0 + 4 : $0 })
        guard spatial == [2, 3], shape.count == 1 || shape.dropFirst() == [1, 1] else {
            throw node.error("squeezing axes \(axes ?? []) of an example of shape \(shape) is not supported (only the 1 × 1 spatial axes)")
        }
        return shape.count == 1 ? shape : try Self.append(Flatten(), node, shape, &layers)
    }

    private func requireInputs(_ node: ONNXNode, _ shape: [Int], _ inputs: Int) throws {
        guard shape.count == 1 else { throw node.error("takes an input of shape \(shape); cfx's dense layers take flat inputs (add a Flatten)") }
        guard shape[0] == inputs else { throw node.error("the weight takes \(inputs) inputs, the node gets \(shape[0])") }
    }

    /// A bias of `count` values from a constant of `count` values or one value (broadcast).
    private func broadcastBias(_ node: ONNXNode, _ values: [Double], _ count: Int) throws -> [Double] {
        if values.count == count { return values }
        guard values.count == 1 else { throw node.error("the bias has \(values.count) values, expected \(count) or 1") }
        return [Double](repeating: values[0], count: count)
    }
}

/// A rows × columns matrix, transposed.
func transpose(_ values: [Double], rows: Int, columns: Int) -> [Double] {
    var result = [Double](repeating: 0, count: values.count)
    for r in 0..<rows {
        for c in 0..<columns { result[c * rows + r] = values[r * columns + c] }
    }
    return result
}

// MARK: Attributes

extension ONNXNode {
    func error(_ message: String) -> CFXError { CFXError(.model, "\(label): \(message)") }

    func attribute(_ name: String) -> ONNXAttribute? { attributes.first { $0.name == name } }

    func int(_ name: String, _ default: Int) throws -> Int {
        guard let attribute = attribute(name) else { return `default` }
        guard let value = Int(exactly: attribute.i), abs(value) <= Limits.tensorElements else { throw error("\(name)=\(attribute.i) is out of range") }
        return value
    }

    func float(_ name: String, _ default: Float) throws -> Float {
        guard let attribute = attribute(name) else { return `default` }
        guard attribute.f.isFinite else { throw error("\(name)=\(attribute.f) is not finite") }
        return attribute.f
    }

    func ints(_ name: String) throws -> [Int]? {
        guard let attribute = attribute(name) else { return nil }
        return try attribute.ints.map {
            guard let value = Int(exactly: $0), abs(value) <= Limits.tensorElements else { throw error("\(name) holds \($0), out of range") }
            return value
        }
    }

    func string(_ name: String, _ default: String) -> String { attribute(name)?.s ?? `default` }
}
