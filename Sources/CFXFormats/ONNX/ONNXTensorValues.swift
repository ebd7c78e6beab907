import CFXCore

// The values of ONNX tensors (initializers, Constant nodes), read from the file's bytes with
// every size checked: the element count is the checked product of the dimensions, within
// CFX_MAX_TENSOR_ELEMENTS, and raw_data must hold exactly that many values.

extension ONNXTensor {
    /// The dimensions as Int, each ≥ 0, at most `ONNXLimits.rank` of them.
    func shape(_ what: String) throws -> [Int] {
        guard dims.count <= ONNXLimits.rank, dims.allSatisfy({ $0 >= 0 && $0 <= Int64(Limits.tensorElements) }) else {
            throw CFXError(.model, "\(what): tensor \"\(name)\" has dimensions \(dims)")
        }
        return dims.map { Int($0) }
    }

    /// The element count, checked against CFX_MAX_TENSOR_ELEMENTS.
    func count(_ what: String) throws -> Int {
        guard let count = checkedCount(try shape(what)), count <= Limits.tensorElements else {
            throw CFXError(.model, "\(what): tensor \"\(name)\" of shape \(dims) is over the limit of \(Limits.tensorElements) values")
        }
        return count
    }

    private func requireInside(_ what: String) throws {
        guard !external else {
            throw CFXError(.model, "\(what): tensor \"\(name)\" is stored in an external data file, which cfx does not read; "
                           + "save the model with its tensors inside (onnx.save_model(model, path, save_as_external_data=False))")
        }
    }

    /// The values of a FLOAT or DOUBLE tensor as Double; `what` names the node in errors.
    func doubles(_ bytes: UnsafeRawBufferPointer, _ what: String) throws -> [Double] {
        try requireInside(what)
        let count = try count(what)
        let values: [Double]
        if let literal {
            values = literal
        } else if dataType == ONNXDataType.float.rawValue {
            values = try fixedValues(bytes, raw, floatData, size: 4, what) { Double(Float(bitPattern: $0.loadUnaligned(fromByteOffset: $1, as: UInt32.self).littleEndian)) }
        } else if dataType == ONNXDataType.double.rawValue {
            values = try fixedValues(bytes, raw, doubleData, size: 8, what) { Double(bitPattern: $0.loadUnaligned(fromByteOffset: $1, as: UInt64.self).littleEndian) }
        } else {
            throw CFXError(.model, "\(what): tensor \"\(name)\" has data type \(dataTypeName), expected FLOAT or DOUBLE")
        }
        guard values.count == count else {
            throw CFXError(.model, "\(what): tensor \"\(name)\" holds \(values.count) values, its shape \(dims) needs \(count)")
        }
        return values
    }

    /// The values of an INT64 or INT32 tensor (a shape, an axis list), at most `ONNXLimits.listValues`.
    func integerValues(_ bytes: UnsafeRawBufferPointer, _ what: String) throws -> [Int64] {
        try requireInside(what)
        let count = try count(what)
        guard count <= ONNXLimits.listValues else { throw CFXError(.model, "\(what): tensor \"\(name)\" has more than \(ONNXLimits.listValues) integers") }
        var values = integers
        if let raw {
            let size = dataType == ONNXDataType.int32.rawValue ? 4 : 8
            guard dataType == ONNXDataType.int64.rawValue || size == 4, raw.count == count * size else {
                throw CFXError(.model, "\(what): tensor \"\(name)\" has \(raw.count) bytes of raw data, its shape \(dims) needs \(count * size)")
            }
            values = stride(from: raw.lowerBound, to: raw.upperBound, by: size).map {
                size == 4 ? Int64(Int32(bitPattern: bytes.loadUnaligned(fromByteOffset: $0, as: UInt32.self).littleEndian))
                    : Int64(bitPattern: bytes.loadUnaligned(fromByteOffset: $0, as: UInt64.self).littleEndian)
            }
        }
        guard dataType == ONNXDataType.int64.rawValue || dataType == ONNXDataType.int32.rawValue else {
            throw CFXError(.model, "\(what): tensor \"\(name)\" has data type \(dataTypeName), expected INT64")
        }
        guard values.count == count else {
            throw CFXError(.model, "\(what): tensor \"\(name)\" holds \(values.count) values, its shape \(dims) needs \(count)")
        }
        return values
    }

    var dataTypeName: String { ONNXDataType(rawValue: dataType)?.name ?? "\(dataType)" }

    /// Fixed-size values from raw_data (if given) or the ranges of a repeated field.
    private func fixedValues(_ bytes: UnsafeRawBufferPointer, _ raw: Range<Int>?, _ ranges: [Range<Int>], size: Int, _ what: String,
                             _ load: (UnsafeRawBufferPointer, Int) -> Double) throws -> [Double] {
        let sources = raw.map { [$0] } ?? ranges
        let total = sources.reduce(0) { $0 + $1.count }
        guard total % size == 0, total / size <= Limits.tensorElements else {
            throw CFXError(.model, "\(what): tensor \"\(name)\" has \(total) bytes of data, not a whole number of \(size)-byte values within the limit")
        }
        var values: [Double] = []
        values.reserveCapacity(total / size)
        for range in sources {
            for offset in stride(from: range.lowerBound, to: range.upperBound, by: size) { values.append(load(bytes, offset)) }
        }
        return values
    }
}
