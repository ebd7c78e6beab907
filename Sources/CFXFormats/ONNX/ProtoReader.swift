import CFXCore

/// A reader of protocol buffers' wire format (https://protobuf.dev/programming-guides/encoding/)
/// over bytes in memory, for the few ONNX messages cfx reads (ONNXMessages.swift). Hardened for
/// hostile files: every length is checked against the bytes left, varints stop at 10 bytes, and
/// groups (wire types 3 and 4, deprecated and unused by ONNX) are errors. It never recurses by
/// itself: each message decoder reads its own fields and hands a nested message's bytes to that
/// message's decoder, so nesting is as deep as ONNX's fixed message structure and no deeper.
struct ProtoReader {
    enum WireType: UInt64 { case varint = 0, fixed64 = 1, bytes = 2, fixed32 = 5 }

    let bytes: UnsafeRawBufferPointer
    private(set) var position: Int
    let end: Int
    /// Names the message in errors ("graph.node[3]").
    let what: String
    /// Shared by the readers of one file: what its decoded values may cost in memory.
    let budget: DecodeBudget

    init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>, what: String, budget: DecodeBudget) {
        self.bytes = bytes
        position = range.lowerBound
        end = range.upperBound
        self.what = what
        self.budget = budget
    }

    var atEnd: Bool { position >= end }

    func fail(_ message: String) -> CFXError { CFXError(.model, "\(what): \(message)") }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw fail("truncated (a varint runs past the end)") }
            let byte = bytes[position]
            position += 1
            guard shift < 64 else { throw fail("a varint longer than 10 bytes") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// The next field's number and wire type.
    mutating func tag() throws -> (field: Int, wire: WireType) {
        let key = try varint()
        guard let wire = WireType(rawValue: key & 7) else { throw fail("wire type \(key & 7) is not supported (groups or a corrupt file)") }
        let field = key >> 3
        guard field >= 1, field <= 536_870_911 else { throw fail("field number \(field) out of range") }
        return (Int(field), wire)
    }

    /// The byte range of a length-delimited field.
    mutating func lengthDelimited() throws -> Range<Int> {
        let length = try varint()
        guard length <= UInt64(end - position) else { throw fail("truncated (a field of \(length) bytes, \(end - position) left)") }
        let start = position
        position += Int(length)
        return start..<position
    }

    mutating func fixed32() throws -> UInt32 {
        guard end - position >= 4 else { throw fail("truncated (a 4-byte field)") }
        defer { position += 4 }
        return bytes.loadUnaligned(fromByteOffset: position, as: UInt32.self).littleEndian
    }

    mutating func fixed64() throws -> UInt64 {
        guard end - position >= 8 else { throw fail("truncated (an 8-byte field)") }
        defer { position += 8 }
        return bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self).littleEndian
    }

    /// Skips a field cfx does not read.
    mutating func skip(_ wire: WireType) throws {
        switch wire {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .fixed32: _ = try fixed32()
        case .bytes: _ = try lengthDelimited()
        }
    }

    // MARK: Typed fields

    /// A varint field as a signed 64-bit integer (int64 and int32 fields: two's complement).
    mutating func int64(_ wire: WireType, _ name: String) throws -> Int64 {
        guard wire == .varint else { throw fail("\(name): expected a varint, got wire type \(wire.rawValue)") }
        return Int64(bitPattern: try varint())
    }

    mutating func float(_ wire: WireType, _ name: String) throws -> Float {
        guard wire == .fixed32 else { throw fail("\(name): expected a 32-bit float, got wire type \(wire.rawValue)") }
        return Float(bitPattern: try fixed32())
    }

    mutating func string(_ wire: WireType, _ name: String) throws -> String {
        let range = try bytesField(wire, name)
        guard range.count <= 1 << 16 else { throw fail("\(name): a string of \(range.count) bytes, over the limit of 65536") }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    mutating func bytesField(_ wire: WireType, _ name: String) throws -> Range<Int> {
        guard wire == .bytes else { throw fail("\(name): expected a length-delimited field, got wire type \(wire.rawValue)") }
        return try lengthDelimited()
    }

    /// Appends a repeated varint field, packed or not, to `values`, keeping at most `limit` values.
    mutating func repeatedInt64(_ wire: WireType, _ name: String, into values: inout [Int64], limit: Int) throws {
        let before = values.count
        defer { budget.remaining -= values.count - before }
        guard budget.remaining > 0 else { throw fail("\(name): the file holds more than \(DecodeBudget.items) items") }
        if wire == .varint {
            values.append(try int64(wire, name))
        } else {
            let range = try bytesField(wire, name)
            var packed = ProtoReader(bytes, range: range, what: "\(what).\(name)", budget: budget)
            while !packed.atEnd {
                values.append(Int64(bitPattern: try packed.varint()))
                guard values.count <= limit else { break }
            }
        }
        guard values.count <= limit else { throw fail("\(name): more than \(limit) values") }
    }

    /// A repeated fixed-size field (float, double): a packed range of bytes, or one value in place,
    /// as the byte range that holds the values (little-endian, `size` bytes each).
    mutating func repeatedFixed(_ wire: WireType, _ name: String, size: Int) throws -> Range<Int> {
        if wire == .bytes {
            let range = try lengthDelimited()
            guard range.count % size == 0 else { throw fail("\(name): \(range.count) bytes is not a whole number of \(size)-byte values") }
            return range
        }
        guard wire == (size == 4 ? .fixed32 : .fixed64) else { throw fail("\(name): unexpected wire type \(wire.rawValue)") }
        let start = position
        if size == 4 { _ = try fixed32() } else { _ = try fixed64() }
        return start..<position
    }
}

/// How many items (nodes, attributes, tensors, names, list values) the readers of one file may
/// decode in all: the decoded structures take more memory per item than the file's bytes, so a
/// file of many tiny items is refused before it could exhaust memory.
final class DecodeBudget {
    static let items = 1 << 22
    var remaining = DecodeBudget.items
}
