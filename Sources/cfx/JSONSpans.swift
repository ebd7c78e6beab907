/// Where the parts of a JSON text are, found without decoding it: the elements of an array and the
/// members of an object, as byte ranges, so that the streaming lines are cfx's own bytes cut and
/// joined (no number is read or written again). The text is cfx's output, valid JSON: the scan
/// only follows strings (with their escapes) and nesting.
struct JSONSpans {
    /// A member of an object (its key with the quotes, its value) or an element of an array (no key).
    typealias Part = (key: Range<Int>?, value: Range<Int>)

    let bytes: UnsafeBufferPointer<UInt8>

    /// The first byte at or after `i` that is not white space.
    func skipSpace(_ i: Int) -> Int {
        var i = i
        while i < bytes.count, isSpace(bytes[i]) { i += 1 }
        return i
    }

    private func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    /// The end (exclusive) of the value that starts at `start`.
    func valueEnd(_ start: Int) -> Int {
        var i = start, depth = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\""):
                i = stringEnd(i) - 1
                if depth == 0 { return i + 1 }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if depth == 0 { return i }  // the end of a number or keyword inside a container
                depth -= 1
                if depth == 0 { return i + 1 }
            case UInt8(ascii: ","), 0x20, 0x0A, 0x0D, 0x09:
                if depth == 0 { return i }
            default:
                break
            }
            i += 1
        }
        return i
    }

    /// The end (exclusive) of the string whose opening quote is at `start`.
    func stringEnd(_ start: Int) -> Int {
        var i = start + 1
        while i < bytes.count, bytes[i] != UInt8(ascii: "\"") { i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1 }
        return min(i + 1, bytes.count)
    }

    /// The values of the array or the members of the object at `start`: each member's key range
    /// (with its quotes; nil for array elements) and value range.
    func parts(_ start: Int) -> [Part] {
        guard start < bytes.count, bytes[start] == UInt8(ascii: "[") || bytes[start] == UInt8(ascii: "{") else { return [] }
        let isObject = bytes[start] == UInt8(ascii: "{")
        var parts: [Part] = []
        var i = skipSpace(start + 1)
        while i < bytes.count, bytes[i] != UInt8(ascii: "]"), bytes[i] != UInt8(ascii: "}") {
            var key: Range<Int>?
            if isObject {
                let keyEnd = stringEnd(i)
                key = i..<keyEnd
                i = skipSpace(skipSpace(keyEnd) + 1)  // past the colon
            }
            let end = valueEnd(i)
            parts.append((key, i..<end))
            i = skipSpace(end)
            if i < bytes.count, bytes[i] == UInt8(ascii: ",") { i = skipSpace(i + 1) }
        }
        return parts
    }

    /// The text of a range (a key with its quotes, a number).
    func text(_ range: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self) }

    /// The value of `key` ("\"name\"", with quotes) among an object's parts.
    func value(_ key: String, in parts: [Part]) -> Range<Int>? {
        parts.first { $0.key.map(text) == key }?.value
    }
}
