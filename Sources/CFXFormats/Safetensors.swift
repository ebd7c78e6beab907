import CFXCore
import Glibc

/// The safetensors format (PyTorch, Hugging Face): an 8-byte little-endian header length n, n bytes
/// of JSON header
///
///     {"__metadata__": {"key": "value", ...},
///      "layers.0.weight": {"dtype": "F32", "shape": [16, 4], "data_offsets": [0, 256]}, ...}
///
/// and then the tensors' raw little-endian bytes, offsets counted from the end of the header.
/// cfx reads F64, F32, F16 and BF16 into Double and writes F64 (exact) or F32.
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"

    public var byteCount: Int {
        switch self {
        case .f64: return 8
        case .f32: return 4
        case .f16, .bf16: return 2
        }
    }
}

/// One tensor of a safetensors file.
public struct SafetensorsTensor: Sendable {
    public let name: String
    public let shape: [Int]
    public let values: [Double]

    public init(name: String, shape: [Int], values: [Double]) {
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// The contents of a safetensors file: tensors in the order of their data, and the string metadata.
public struct SafetensorsFile: Sendable {
    public var tensors: [SafetensorsTensor]
    public var metadata: [(String, String)]

    public init(tensors: [SafetensorsTensor], metadata: [(String, String)] = []) {
        self.tensors = tensors
        self.metadata = metadata
    }

    public subscript(name: String) -> SafetensorsTensor? { tensors.first { $0.name == name } }
}

/// Headers longer than this are refused (as the reference implementation does), so that a corrupt
/// length cannot make cfx allocate gigabytes.
let maxSafetensorsHeader = 100_000_000

// MARK: Reading

/// Byte sizes of every dtype of the format; cfx decodes the floating-point ones it knows
/// (SafetensorsDType) and checks the layout of the others, which only skipped tensors may have.
let safetensorsDTypeSizes: [String: Int] = [
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8,
]

/// Reads and validates a safetensors file. Every problem is a model error that starts with the path
/// and names the tensor. Tensors for which `skip` is true are checked for layout only and left out.
public func readSafetensors(path: String, skip: (String) -> Bool = { _ in false }) throws -> SafetensorsFile {
    try parseSafetensors(try readFileBytes(path), name: path, skip: skip)
}

/// Parses safetensors bytes; `name` (the file) starts every error message.
public func parseSafetensors(_ bytes: [UInt8], name: String, skip: (String) -> Bool = { _ in false }) throws -> SafetensorsFile {
    let fail = SafetensorsFailure(file: name)
    let (members, dataStart) = try safetensorsHeader(bytes, fail)
    let dataCount = bytes.count - dataStart
    var metadata: [(String, String)] = []
    var entries: [SafetensorsEntry] = []
    for (key, value) in members {
        if key == "__metadata__" {
            guard case .object(let pairs) = value else { throw fail("__metadata__: expected an object of strings, got \(value.typeName)") }
            for (k, v) in pairs {
                guard case .string(let s) = v else { throw fail("__metadata__.\(k): expected a string, got \(v.typeName)") }
                metadata.append((k, s))
            }
            continue
        }
        entries.append(try SafetensorsEntry(key, value, dataCount: dataCount, skip: skip(key), fail))
    }
    try checkCoverage(&entries, dataCount: dataCount, fail)
    let tensors = try bytes.withUnsafeBytes { raw in
        try entries.compactMap { entry -> SafetensorsTensor? in
            guard let dtype = entry.dtype, !skip(entry.name) else { return nil }
            let values = decode(UnsafeRawBufferPointer(rebasing: raw[(dataStart + entry.begin)..<(dataStart + entry.end)]), dtype)
            if let i = values.firstIndex(where: { !$0.isFinite }) {
                throw fail("\(entry.name): value \(i) is \(values[i]); weights must be finite")
            }
            return SafetensorsTensor(name: entry.name, shape: entry.shape, values: values)
        }
    }
    return SafetensorsFile(tensors: tensors, metadata: metadata)
}

/// A model error that starts with the file's name.
private struct SafetensorsFailure {
    let file: String
    func callAsFunction(_ problem: String) -> CFXError { CFXError(.model, "\(file): \(problem)") }
}

/// The header's members, and where the data section starts.
private func safetensorsHeader(_ bytes: [UInt8], _ fail: SafetensorsFailure) throws -> (members: [(String, JSON)], dataStart: Int) {
    guard bytes.count >= 8 else {
        throw fail("\(bytes.count) bytes, too short for a safetensors file (8-byte header length, then the header)")
    }
    let headerLength = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    guard headerLength <= UInt64(bytes.count - 8) else {
        throw fail("the header length \(headerLength) runs past the end of the file (\(bytes.count) bytes); the file is truncated or not safetensors")
    }
    guard headerLength <= UInt64(maxSafetensorsHeader) else {
        throw fail("the header length \(headerLength) is over the limit of \(maxSafetensorsHeader) bytes")
    }
    let dataStart = 8 + Int(headerLength)
    if let nul = bytes[8..<dataStart].firstIndex(of: 0) {
        throw fail("the header holds a NUL byte at offset \(nul); it is not JSON text")
    }
    var text = Array(bytes[8..<dataStart].map { CChar(bitPattern: $0) })
    text.append(0)
    let header: JSON
    do {
        header = try text.withUnsafeBufferPointer { try JSON.parse($0.baseAddress!, "header") }
    } catch let error as CFXError {
        throw fail(error.message)
    }
    guard case .object(let members) = header else { throw fail("the header is \(header.typeName), expected a JSON object") }
    return (members, dataStart)
}

/// One tensor's header entry, checked: a known dtype (one cfx decodes unless the tensor is
/// skipped), a shape of sizes, and offsets within the data that hold exactly dtype × shape bytes.
private struct SafetensorsEntry {
    let name: String
    /// nil for a dtype cfx does not decode (only a skipped tensor may have one).
    let dtype: SafetensorsDType?
    let shape: [Int]
    let begin: Int
    let end: Int

    init(_ key: String, _ value: JSON, dataCount: Int, skip: Bool, _ fail: SafetensorsFailure) throws {
        func bad(_ problem: String) -> CFXError { fail("\(key): \(problem)") }
        guard case .object(let fields) = value else { throw bad("expected an object with dtype, shape and data_offsets, got \(value.typeName)") }
        if let extra = fields.first(where: { !["dtype", "shape", "data_offsets"].contains($0.0) }) {
            throw bad("unknown key \"\(extra.0)\" (a tensor has dtype, shape and data_offsets)")
        }
        guard case .string(let dtypeName)? = value["dtype"] else { throw bad("dtype: missing or not a string") }
        guard let size = safetensorsDTypeSizes[dtypeName] else {
            throw bad("dtype \"\(dtypeName)\" is not a safetensors dtype (\(safetensorsDTypeSizes.keys.sorted().joined(separator: ", ")))")
        }
        let dtype = SafetensorsDType(rawValue: dtypeName)
        if dtype == nil && !skip {
            throw bad("dtype \"\(dtypeName)\" is not supported; cfx reads \(SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard case .array(let shapeItems)? = value["shape"] else { throw bad("shape: missing or not an array") }
        var shape: [Int] = []
        for item in shapeItems {
            guard case .int(let n) = item, n >= 0 else { throw bad("shape: \(item) is not a size (a non-negative integer)") }
            shape.append(n)
        }
        guard case .array(let offsetItems)? = value["data_offsets"], offsetItems.count == 2,
              case .int(let begin) = offsetItems[0], case .int(let end) = offsetItems[1] else {
            throw bad("data_offsets: expected [begin, end], two integers")
        }
        guard begin >= 0, begin <= end, end <= dataCount else {
            throw bad("data_offsets [\(begin), \(end)] are out of range: the data section has \(dataCount) bytes")
        }
        var count = 1
        for n in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: n)
            guard !overflow else { throw bad("shape \(shape) is too large") }
            count = product
        }
        let (expected, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow, expected == end - begin else {
            throw bad("has \(end - begin) bytes, but \(dtypeName) × shape \(shape) needs \(count) × \(size) = \(expected)")
        }
        (self.name, self.dtype, self.shape, self.begin, self.end) = (key, dtype, shape, begin, end)
    }
}

/// Sorts the entries by offset and checks that they cover the data exactly once.
private func checkCoverage(_ entries: inout [SafetensorsEntry], dataCount: Int, _ fail: SafetensorsFailure) throws {
    entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
    var covered = 0
    var previous: String?
    for entry in entries {
        if entry.begin < covered {
            throw fail("\(entry.name): data_offsets [\(entry.begin), \(entry.end)] overlap those of \(previous ?? "another tensor")")
        }
        if entry.begin > covered {
            throw fail("bytes \(covered)..<\(entry.begin) of the data belong to no tensor (before \(entry.name))")
        }
        covered = entry.end
        previous = entry.name
    }
    if covered != dataCount {
        throw fail("the data section has \(dataCount) bytes, but the tensors cover \(covered)")
    }
}

private func decode(_ raw: UnsafeRawBufferPointer, _ dtype: SafetensorsDType) -> [Double] {
    let count = raw.count / dtype.byteCount
    switch dtype {
    case .f64:
        return (0..<count).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
    case .f32:
        return (0..<count).map { Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))) }
    case .bf16:
        return (0..<count).map {
            Double(Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) << 16))
        }
    case .f16:
        return (0..<count).map { halfToDouble(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
    }
}

/// IEEE 754 binary16 → Double (exact: every half is a double).
func halfToDouble(_ bits: UInt16) -> Double {
    let sign: Double = bits & 0x8000 != 0 ? -1 : 1
    let exponent = Int((bits >> 10) & 0x1F)
    let fraction = Double(bits & 0x3FF)
    switch exponent {
    case 0: return sign * fraction * 0x1p-24  // zero and subnormals
    case 0x1F: return fraction == 0 ? sign * .infinity : .nan
    default: return sign * (1 + fraction / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1)
    }
}
