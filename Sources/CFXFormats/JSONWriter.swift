import CFXCore
import Glibc

/// JSON text written straight into one growing malloc'ed byte buffer: numbers in their shortest
/// form that reads back to the same double (Swift's own `Double.description`, without building a
/// String), strings escaped as JSON requires, non-finite numbers as null. Nothing is checked about
/// the nesting: the caller writes the brackets, commas and colons in order.
public final class JSONWriter: TextOutputStream {
    private var bytes: UnsafeMutablePointer<UInt8>?
    private var count = 0
    private var capacity = 0
    private var outOfMemory = false

    /// The largest text a writer holds: allocation stops there and `take` reports it.
    public static let maxBytes = 1 << 40

    public init(capacity: Int = 1 << 12) {
        _ = reserve(capacity)
    }

    deinit { free(bytes) }

    /// Bytes written so far.
    public var byteCount: Int { count }

    /// The bytes written so far (valid during `body`); throws when the writer ran out of memory.
    public func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R {
        guard !outOfMemory else { throw CFXError(.internalError, "out of memory while writing JSON (\(count) bytes written)") }
        return try body(UnsafeBufferPointer(start: bytes, count: count))
    }

    /// Forgets what was written, keeping the memory for what comes next.
    public func removeAll() { count = 0 }

    /// The text, NUL-terminated, in memory the caller frees with free() (cfx_free); the writer is
    /// empty afterwards.
    public func take() throws -> UnsafeMutablePointer<CChar> {
        guard reserve(1), !outOfMemory, let bytes else {
            throw CFXError(.internalError, "out of memory while writing JSON (\(count) bytes written)")
        }
        bytes[count] = 0
        let text = UnsafeMutableRawPointer(bytes).bindMemory(to: CChar.self, capacity: count + 1)
        (self.bytes, count, capacity) = (nil, 0, 0)
        return text
    }

    /// Room for `extra` more bytes; false (and the writer marked out of memory) when it cannot grow.
    @inline(__always)
    private func reserve(_ extra: Int) -> Bool {
        if extra <= capacity - count { return true }
        return grow(extra)
    }

    private func grow(_ extra: Int) -> Bool {
        guard !outOfMemory, let needed = checkedSum(count, extra + 1), needed <= Self.maxBytes else {
            outOfMemory = true
            return false
        }
        let newCapacity = min(max(needed, 2 * capacity, 1 << 12), Self.maxBytes)
        guard let grown = realloc(bytes, newCapacity) else {
            outOfMemory = true
            return false
        }
        bytes = grown.assumingMemoryBound(to: UInt8.self)
        capacity = newCapacity
        return true
    }

    // MARK: Tokens

    @inline(__always)
    public func byte(_ b: UInt8) {
        guard reserve(1) else { return }
        bytes![count] = b
        count += 1
    }

    /// ASCII text written as it is: punctuation and keywords.
    public func raw(_ text: StaticString) {
        _writeASCII(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    public func null() { raw("null") }

    public func bool(_ value: Bool) { value ? raw("true") : raw("false") }

    /// A finite double in its shortest round-trip form ("0.1", "1e-05", "1.0", as Swift's
    /// `description` writes it); null otherwise, as JSON has no NaN or infinity.
    public func number(_ value: Double) {
        guard value.isFinite else { return null() }
        var sink = DigitSink(writer: self)
        value.write(to: &sink)  // the standard library's digits, handed to _writeASCII: no String is made
    }

    public func integer(_ value: Int) {
        guard reserve(20) else { return }
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch, written backwards
        let end = withUnsafeMutableBytes(of: &digits) { scratch -> Int in
            var i = scratch.count
            repeat {
                i -= 1
                scratch[i] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                i -= 1
                scratch[i] = UInt8(ascii: "-")
            }
            (bytes! + count).update(from: scratch.baseAddress!.assumingMemoryBound(to: UInt8.self) + i, count: scratch.count - i)
            return scratch.count - i
        }
        count += end
    }

    /// A JSON string: quotes, backslashes and control characters escaped, other UTF-8 as it is.
    public func string(_ value: String) {
        var text = value
        text.withUTF8 { utf8 in
            byte(UInt8(ascii: "\""))
            var start = 0
            for (i, b) in utf8.enumerated() where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
                _writeASCII(UnsafeBufferPointer(rebasing: utf8[start..<i]))
                escape(b)
                start = i + 1
            }
            _writeASCII(UnsafeBufferPointer(rebasing: utf8[start...]))
            byte(UInt8(ascii: "\""))
        }
    }

    private func escape(_ b: UInt8) {
        switch b {
        case UInt8(ascii: "\""): raw("\\\"")
        case UInt8(ascii: "\\"): raw("\\\\")
        case UInt8(ascii: "\n"): raw("\\n")
        case UInt8(ascii: "\r"): raw("\\r")
        case UInt8(ascii: "\t"): raw("\\t")
        case 0x08: raw("\\b")
        case 0x0C: raw("\\f")
        default:
            let hex: StaticString = "0123456789abcdef"
            raw("\\u00")
            byte(hex.utf8Start[Int(b >> 4)])
            byte(hex.utf8Start[Int(b & 0xF)])
        }
    }

    // MARK: TextOutputStream (how Double.write(to:) hands over its digits)

    public func write(_ string: String) {
        var text = string
        text.withUTF8 { _writeASCII($0) }
    }

    /// Bytes copied as they are (the name is the standard library's hook for ASCII digits).
    public func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { append(buffer) }

    /// Bytes copied as they are: JSON text written elsewhere.
    public func append(_ buffer: UnsafeBufferPointer<UInt8>) {
        guard buffer.count > 0, reserve(buffer.count) else { return }
        (bytes! + count).update(from: buffer.baseAddress!, count: buffer.count)
        count += buffer.count
    }
}

/// Where `Double.write(to:)` puts its digits: straight into the writer's buffer (the writer is
/// alive for the call, so no reference is counted).
private struct DigitSink: TextOutputStream {
    unowned(unsafe) let writer: JSONWriter

    mutating func write(_ string: String) { writer.write(string) }

    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { writer._writeASCII(buffer) }
}
