import CFXCore

// ONNX model files as cfx networks (docs/onnx.md). The file is read by cfx's own reader of the
// protocol-buffer wire format (ProtoReader.swift) rather than swift-protobuf, whose Foundation
// dependency would add about 19 MB to libcfx.so (benchmarks/results/onnx_protobuf_cost.md).

/// The default-domain operator sets cfx reads.
let onnxOpsets: ClosedRange<Int64> = 7...28

/// Reads an ONNX model file (a ModelProto, tensors inside) as a network; errors start with the path.
public func loadONNXNetwork(path: String) throws -> Network {
    let bytes = try readFileBytes(path)
    do {
        return try bytes.withUnsafeBytes { try networkFromONNX($0) }
    } catch let error as CFXError {
        throw error.prefixed(path)
    }
}

/// Whether `path` names an ONNX file (by its extension, .onnx).
public func isONNXPath(_ path: String) -> Bool { path.lowercased().hasSuffix(".onnx") }

/// The network of an ONNX model held in `bytes`. It computes in float32 when the graph input is
/// FLOAT, float64 when it is DOUBLE.
public func networkFromONNX(_ bytes: UnsafeRawBufferPointer) throws -> Network {
    try networkFromONNX(try decodeModel(bytes, what: "model"), bytes: bytes)
}

/// The network of a decoded ONNX model whose tensors lie in `bytes`.
func networkFromONNX(_ model: ONNXModel, bytes: UnsafeRawBufferPointer) throws -> Network {
    guard let graph = model.graph else { throw CFXError(.model, "model: no graph") }
    let opset = model.opsets.first { $0.0.isEmpty || $0.0 == "ai.onnx" }?.1
    guard let opset, onnxOpsets.contains(opset) else {
        throw CFXError(.model, "model: operator set \(opset.map(String.init) ?? "missing") is not supported (\(onnxOpsets.lowerBound) to \(onnxOpsets.upperBound) are)")
    }
    let initializers = Set(graph.initializers.map(\.name))
    let inputs = graph.inputs.filter { !initializers.contains($0.name) }
    guard inputs.count == 1 else { throw CFXError(.model, "graph: \(inputs.count) inputs (\(inputs.map(\.name).joined(separator: ", "))); cfx models take one") }
    let (inputShape, dtype) = try exampleShape(inputs[0])
    let index = try ONNXGraphIndex(graph, input: inputs[0].name)
    let builder = ONNXNetworkBuilder(index: index, operators: ONNXOperators(index: index, bytes: bytes))
    let (built, shape) = try builder.chain(to: try chosenOutput(graph).name, from: index.input, shape: inputShape)
    return try builder.network(built, shape: shape, inputShape: inputShape, dtype: dtype)
}

/// One example's shape ([features] or [channels, height, width]) and the number type, from the
/// graph input [batch, features] or [batch, channels, height, width]; the batch may be symbolic.
private func exampleShape(_ input: ONNXValueInfo) throws -> ([Int], DType) {
    let what = "graph: input \"\(input.name)\""
    let dtype: DType
    switch input.elemType {
    case ONNXDataType.float.rawValue: dtype = .float32
    case ONNXDataType.double.rawValue: dtype = .float64
    default: throw CFXError(.model, "\(what): data type \(ONNXDataType(rawValue: input.elemType)?.name ?? "\(input.elemType)") is not supported (FLOAT and DOUBLE are)")
    }
    guard let dims = input.dims, dims.count == 2 || dims.count == 4 else {
        throw CFXError(.model, "\(what): shape \(input.dims.map { "\($0.map { $0.map(String.init) ?? "?" })" } ?? "unknown"); cfx takes [batch, features] or [batch, channels, height, width]")
    }
    let example = try dims.dropFirst().enumerated().map { i, dim -> Int in
        guard let dim, dim > 0, dim <= Int64(Limits.features) else {
            throw CFXError(.model, "\(what): dimension \(i + 1) is \(dim.map(String.init) ?? "dynamic"); cfx needs a fixed positive size (only the batch may be dynamic)")
        }
        return Int(dim)
    }
    guard let count = checkedCount(example), count <= Limits.features else {
        throw CFXError(.model, "\(what): \(example) is over the limit of \(Limits.features) features")
    }
    return (example, dtype)
}

/// The graph output cfx reads: the only one, or the only FLOAT/DOUBLE one (skl2onnx also writes
/// an int64 label output).
private func chosenOutput(_ graph: ONNXGraph) throws -> ONNXValueInfo {
    if graph.outputs.count == 1 { return graph.outputs[0] }
    let numeric = graph.outputs.filter { $0.elemType == ONNXDataType.float.rawValue || $0.elemType == ONNXDataType.double.rawValue }
    guard numeric.count == 1 else {
        throw CFXError(.model, "graph: \(graph.outputs.count) outputs (\(graph.outputs.map(\.name).joined(separator: ", "))); cfx reads one, the class scores")
    }
    return numeric[0]
}
