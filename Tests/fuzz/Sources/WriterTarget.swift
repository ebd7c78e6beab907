import CFXFormats
import Glibc

// MARK: The JSON writer

/// The bytes as a JSON value (see `FuzzedValue`), written by cfx's writer (compact or indented,
/// by the first byte) and read back by jansson: the text must parse and give the same value, every
/// double bit for bit and every non-finite number as null. Unlike the other targets this one
/// checks its result: a difference stops the process, so the fuzzer reports it.
func fuzzJSONWriter(_ bytes: [UInt8]) {
    guard let first = bytes.first else { return }
    var reader = FuzzedValue(bytes.dropFirst())
    let value = JSON.array([reader.value(depth: 0)])  // jansson reads only arrays and objects at the top
    guard let text = try? value.serialized(indent: Int(first % 4)) else { return fail("could not write", value) }
    defer { free(text) }
    guard let parsed = try? JSON.parse(text, "fuzzed") else { return fail("wrote invalid JSON: \(String(cString: text))", value) }
    if !same(value, parsed) { fail("read back \(String(cString: text)) differently", value) }
}

private func fail(_ what: String, _ value: JSON) {
    fputs("writer: \(what) (value \(value))\n", stderr)
    abort()
}

/// Equal values; doubles compared bit for bit, non-finite ones against null.
private func same(_ written: JSON, _ read: JSON) -> Bool {
    switch (written, read) {
    case (.null, .null): return true
    case (.bool(let a), .bool(let b)): return a == b
    case (.int(let a), .int(let b)): return a == b
    case (.double(let a), .null): return !a.isFinite
    case (.double(let a), .double(let b)): return a.bitPattern == b.bitPattern
    case (.string(let a), .string(let b)): return a == b
    case (.array(let a), .array(let b)): return a.count == b.count && zip(a, b).allSatisfy { same($0, $1) }
    case (.object(let a), .object(let b)):
        return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && same($0.1, $1.1) }
    default: return false
    }
}

/// Reads a JSON value from fuzzed bytes: a tag byte, then what the tag needs (8 bytes of a double
/// or an integer, a length and the bytes of a string, a count of items). Strings lose their NUL
/// bytes (jansson reads "\u0000" only when asked to); object keys get their index appended, as
/// jansson rejects duplicate keys.
private struct FuzzedValue {
    var bytes: ArraySlice<UInt8>

    init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    mutating func next() -> UInt8 { bytes.popFirst() ?? 0 }

    mutating func word() -> UInt64 { (0..<8).reduce(0) { word, i in word | UInt64(next()) << (8 * UInt64(i)) } }

    mutating func string() -> String {
        let count = Int(next() % 64)
        let taken = bytes.prefix(count)
        bytes = bytes.dropFirst(count)
        return String(decoding: taken.filter { $0 != 0 }, as: UTF8.self)
    }

    mutating func value(depth: Int) -> JSON {
        let tag = next() % (depth < 16 ? 8 : 6)
        switch tag {
        case 0: return .null
        case 1: return .bool(next() & 1 == 1)
        case 2: return .int(Int(truncatingIfNeeded: word()))
        case 3, 4: return .double(Double(bitPattern: word()))
        case 5: return .string(string())
        case 6: return .array((0..<Int(next() % 8)).map { _ in value(depth: depth + 1) })
        default: return .object((0..<Int(next() % 8)).map { i in ("\(string())#\(i)", value(depth: depth + 1)) })
        }
    }
}
