import CFXCore

// The parts of ONNX's messages (onnx/onnx.proto: ModelProto, GraphProto, NodeProto,
// AttributeProto, TensorProto, ValueInfoProto) that cfx reads, decoded with ProtoReader. Fields
// cfx does not use are skipped; sub-graphs (If, Loop) are never decoded. Tensor values stay in
// the file's bytes (a byte range) until an operator reads them. Counts are capped (ONNXLimits).

/// Caps on what one ONNX file may hold, beyond cfx's limits on files, tensors and parameters.
enum ONNXLimits {
    /// Nodes, initializers, inputs and outputs of the graph, attributes of a node, inputs of a node.
    static let items = 1 << 16
    /// Dimensions of one tensor.
    static let rank = 8
    /// Values of an attribute list (ints, floats) and of an integer tensor (a shape).
    static let listValues = 1 << 16
}

/// ONNX's TensorProto.DataType values cfx reads.
enum ONNXDataType: Int {
    case float = 1, int32 = 6, int64 = 7, double = 11

    var name: String { "\(self)".uppercased() }
}

/// A tensor: its shape and where its values are in the file.
struct ONNXTensor {
    var name = ""
    var dims: [Int64] = []
    var dataType = 0
    /// raw_data, or the ranges of the float_data or double_data fields (little-endian values).
    var raw: Range<Int>?
    var floatData: [Range<Int>] = []
    var doubleData: [Range<Int>] = []
    var integers: [Int64] = []
    /// Values given in an attribute of a Constant node (value_float, value_floats).
    var literal: [Double]? = nil
    var external = false
}

struct ONNXAttribute {
    var name = ""
    var type = 0
    var f: Float = 0
    var i: Int64 = 0
    var s = ""
    var t: ONNXTensor?
    var floats: [Float] = []
    var ints: [Int64] = []
    /// The `strings` list (a tree ensemble's nodes_modes).
    var strings: [String] = []
}

struct ONNXNode {
    var index = 0
    var name = ""
    var opType = ""
    var domain = ""
    var inputs: [String] = []
    var outputs: [String] = []
    var attributes: [ONNXAttribute] = []

    /// "node 17 (Resize)" or "node 17 "conv1" (Conv)", for errors.
    var label: String { name.isEmpty ? "node \(index) (\(opType))" : "node \(index) \"\(name)\" (\(opType))" }
}

/// A graph input or output: its element type and shape (a dimension is nil when symbolic or unset).
struct ONNXValueInfo {
    var name = ""
    var elemType = 0
    var dims: [Int64?]? = nil
}

struct ONNXGraph {
    var nodes: [ONNXNode] = []
    var initializers: [ONNXTensor] = []
    var inputs: [ONNXValueInfo] = []
    var outputs: [ONNXValueInfo] = []
}

struct ONNXModel {
    var irVersion: Int64 = 0
    /// (domain, version) of every operator set imported; "" is the default domain, ai.onnx.
    var opsets: [(String, Int64)] = []
    var graph: ONNXGraph?
}

// MARK: Decoding

extension ProtoReader {
    /// Appends `item` to `list`, failing beyond `ONNXLimits.items` or the file's budget.
    func append<T>(_ item: T, to list: inout [T], _ name: String) throws {
        guard list.count < ONNXLimits.items else { throw fail("\(name): more than \(ONNXLimits.items) entries") }
        try charge(1, name)
        list.append(item)
    }

    /// Takes `count` items from the file's budget.
    func charge(_ count: Int, _ name: String) throws {
        guard budget.remaining >= count else { throw fail("\(name): the file holds more than \(DecodeBudget.items) items") }
        budget.remaining -= count
    }

    /// A reader of the nested message in the length-delimited field just announced by `wire`.
    mutating func nested(_ wire: WireType, _ name: String) throws -> ProtoReader {
        ProtoReader(bytes, range: try bytesField(wire, name), what: "\(what).\(name)", budget: budget)
    }

    func int(_ value: Int64, _ name: String, limit: Int) throws -> Int {
        guard value >= 0, value <= limit else { throw fail("\(name): \(value) out of range 0...\(limit)") }
        return Int(value)
    }
}

func decodeModel(_ bytes: UnsafeRawBufferPointer, what: String) throws -> ONNXModel {
    var reader = ProtoReader(bytes, range: 0..<bytes.count, what: what, budget: DecodeBudget())
    var model = ONNXModel()
    while !reader.atEnd {
        let (field, wire) = try reader.tag()
        switch field {
        case 1: model.irVersion = try reader.int64(wire, "ir_version")
        case 7:
            guard model.graph == nil else { throw reader.fail("graph: given twice") }
            var nested = try reader.nested(wire, "graph")
            model.graph = try decodeGraph(&nested)
        case 8:
            var nested = try reader.nested(wire, "opset_import")
            try reader.append(try decodeOpset(&nested), to: &model.opsets, "opset_import")
        default: try reader.skip(wire)
        }
    }
    return model
}

private func decodeOpset(_ reader: inout ProtoReader) throws -> (String, Int64) {
    var domain = "", version: Int64 = 0
    while !reader.atEnd {
        let (field, wire) = try reader.tag()
        switch field {
        case 1: domain = try reader.string(wire, "domain")
        case 2: version = try reader.int64(wire, "version")
        default: try reader.skip(wire)
        }
    }
    return (domain, version)
}

private func decodeGraph(_ reader: inout ProtoReader) throws -> ONNXGraph {
    var graph = ONNXGraph()
    while !reader.atEnd {
        let (field, wire) = try reader.tag()
        switch field {
        case 1:
            var nested = try reader.nested(wire, "node[\(graph.nodes.count)]")
            var node = try decodeNode(&nested)
            node.index = graph.nodes.count
            try reader.append(node, to: &graph.nodes, "node")
        case 5:
            var nested = try reader.nested(wire, "initializer[\(graph.initializers.count)]")
            try reader.append(try decodeTensor(&nested), to: &graph.initializers, "initializer")
        case 15: throw reader.fail("sparse_initializer: sparse tensors are not supported")
        case 11, 12:
            var nested = try reader.nested(wire, field == 11 ? "input" : "output")
            let value = try decodeValueInfo(&nested)
            if field == 11 { try reader.append(value, to: &graph.inputs, "input") } else { try reader.append(value, to: &graph.outputs, "output") }
        default: try reader.skip(wire)
        }
    }
    return graph
}

private func decodeNode(_ reader: inout ProtoReader) throws -> ONNXNode {
    var node = ONNXNode()
    while !reader.atEnd {
        let (field, wire) = try reader.tag()
        switch field {
        case 1: try reader.append(try reader.string(wire, "input"), to: &node.inputs, "input")
        case 2: try reader.append(try reader.string(wire, "output"), to: &node.outputs, "output")
        case 3: node.name = try reader.string(wire, "name")
        case 4: node.opType = try reader.string(wire, "op_type")
        case 7: node.domain = try reader.string(wire, "domain")
        case 5:
            var nested = try reader.nested(wire, "attribute[\(node.attributes.count)]")
            try reader.append(try decodeAttribute(&nested), to: &node.attributes, "attribute")
        default: try reader.skip(wire)
        }
    }
    return node
}

private func decodeAttribute(_ reader: inout ProtoReader) throws -> ONNXAttribute {
    var attribute = ONNXAttribute()
    while !reader.atEnd {
        let (field, wire) = try reader.tag()
        switch field {
        case 1: attribute.name = try reader.string(wire, "name")
        case 20: attribute.type = Int(truncatingIfNeeded: try reader.int64(wire, "type"))
        case 2: attribute.f = try reader.float(wire, "f")
        case 3: attribute.i = try reader.int64(wire, "i")
        case 4: attribute.s = try reader.string(wire, "s")
        case 5:
            var nested = try reader.nested(wire, "t")
            attribute.t = try decodeTensor(&nested)
        case 7:
            let range = try reader.repeatedFixed(wire, "floats", size: 4)
            guard attribute.floats.count + range.count / 4 <= ONNXLimits.listValues else { throw reader.fail("floats: more than \(ONNXLimits.listValues) values") }
            try reader.charge(range.count / 4, "floats")
            for offset in stride(from: range.lowerBound, to: range.upperBound, by: 4) {
                attribute.floats.append(Float(bitPattern: reader.bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian))
            }
        case 8: try reader.repeatedInt64(wire, "ints", into: &attribute.ints, limit: ONNXLimits.listValues)
        case 9:
            guard attribute.strings.count < ONNXLimits.listValues else { throw reader.fail("strings: more than \(ONNXLimits.listValues) values") }
            try reader.charge(1, "strings")
            attribute.strings.append(try reader.string(wire, "strings"))
        default: try reader.skip(wire)
        }
    }
    return attribute
}

private func decodeTensor(_ reader: inout ProtoReader) throws -> ONNXTensor {
    var tensor = ONNXTensor()
    while !reader.atEnd {
        let (field, wire) = try reader.tag()
        switch field {
        case 1: try reader.repeatedInt64(wire, "dims", into: &tensor.dims, limit: ONNXLimits.rank)
        case 2: tensor.dataType = Int(truncatingIfNeeded: try reader.int64(wire, "data_type"))
        case 8: tensor.name = try reader.string(wire, "name")
        case 9: tensor.raw = try reader.bytesField(wire, "raw_data")
        case 4: try reader.append(try reader.repeatedFixed(wire, "float_data", size: 4), to: &tensor.floatData, "float_data")
        case 10: try reader.append(try reader.repeatedFixed(wire, "double_data", size: 8), to: &tensor.doubleData, "double_data")
        case 5, 7: try reader.repeatedInt64(wire, field == 5 ? "int32_data" : "int64_data", into: &tensor.integers, limit: ONNXLimits.listValues)
        case 13: tensor.external = true; try reader.skip(wire)
        case 14:
            let location = try reader.int64(wire, "data_location")
            tensor.external = tensor.external || location == 1
        case 3: throw reader.fail("segment: segmented tensors are not supported")
        default: try reader.skip(wire)
        }
    }
    return tensor
}

private func decodeValueInfo(_ reader: inout ProtoReader) throws -> ONNXValueInfo {
    var value = ONNXValueInfo()
    while !reader.atEnd {
        let (field, wire) = try reader.tag()
        switch field {
        case 1: value.name = try reader.string(wire, "name")
        case 2:
            var type = try reader.nested(wire, "type")
            while !type.atEnd {
                let (field, wire) = try type.tag()
                guard field == 1 else { try type.skip(wire); continue }
                var tensorType = try type.nested(wire, "tensor_type")
                try decodeTensorType(&tensorType, into: &value)
            }
        default: try reader.skip(wire)
        }
    }
    return value
}

/// TypeProto.Tensor: elem_type and shape (TensorShapeProto: dim, each dim_value or dim_param).
private func decodeTensorType(_ reader: inout ProtoReader, into value: inout ONNXValueInfo) throws {
    while !reader.atEnd {
        let (field, wire) = try reader.tag()
        switch field {
        case 1: value.elemType = Int(truncatingIfNeeded: try reader.int64(wire, "elem_type"))
        case 2:
            var shape = try reader.nested(wire, "shape")
            var dims: [Int64?] = []
            while !shape.atEnd {
                let (field, wire) = try shape.tag()
                guard field == 1 else { try shape.skip(wire); continue }
                guard dims.count < ONNXLimits.rank else { throw shape.fail("dim: more than \(ONNXLimits.rank) dimensions") }
                var dim = try shape.nested(wire, "dim")
                var known: Int64? = nil
                while !dim.atEnd {
                    let (field, wire) = try dim.tag()
                    if field == 1 { known = try dim.int64(wire, "dim_value") } else { try dim.skip(wire) }
                }
                dims.append(known)
            }
            value.dims = dims
        default: try reader.skip(wire)
        }
    }
}
