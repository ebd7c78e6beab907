import CFXCore

// JSON values written as text through JSONWriter: compact, or indented for files people read.

extension JSON {
    /// The text, in memory the caller frees with free() (cfx_free). Non-finite numbers become null;
    /// `indent` > 0 puts each member on a line of its own, indented by that many spaces a level.
    public func serialized(indent: Int = 0) throws -> UnsafeMutablePointer<CChar> {
        let writer = JSONWriter()
        write(to: writer, indent: max(0, min(indent, 31)))
        return try writer.take()
    }

    /// Writes the value; `indent` 0 is compact.
    public func write(to writer: JSONWriter, indent: Int = 0, level: Int = 0) {
        switch self {
        case .null: writer.null()
        case .bool(let b): writer.bool(b)
        case .int(let i): writer.integer(i)
        case .double(let d): writer.number(d)
        case .string(let s): writer.string(s)
        case .array(let items):
            writer.byte(UInt8(ascii: "["))
            for i in items.indices {
                separate(writer, first: i == 0, indent: indent, level: level + 1)
                if case .double(let d) = items[i] {
                    writer.number(d)  // most items: no call through the enum
                } else {
                    items[i].write(to: writer, indent: indent, level: level + 1)
                }
            }
            close(writer, empty: items.isEmpty, indent: indent, level: level)
            writer.byte(UInt8(ascii: "]"))
        case .object(let members):
            writer.byte(UInt8(ascii: "{"))
            for (i, (key, value)) in members.enumerated() {
                separate(writer, first: i == 0, indent: indent, level: level + 1)
                writer.string(key)
                indent > 0 ? writer.raw(": ") : writer.byte(UInt8(ascii: ":"))
                value.write(to: writer, indent: indent, level: level + 1)
            }
            close(writer, empty: members.isEmpty, indent: indent, level: level)
            writer.byte(UInt8(ascii: "}"))
        }
    }
}

/// The comma before an item (none before the first) and, when indenting, its line.
private func separate(_ writer: JSONWriter, first: Bool, indent: Int, level: Int) {
    if !first { writer.byte(UInt8(ascii: ",")) }
    newline(writer, indent: indent, level: level)
}

/// The line of a closing bracket when indenting a non-empty array or object.
private func close(_ writer: JSONWriter, empty: Bool, indent: Int, level: Int) {
    if !empty { newline(writer, indent: indent, level: level) }
}

private func newline(_ writer: JSONWriter, indent: Int, level: Int) {
    guard indent > 0 else { return }
    writer.byte(UInt8(ascii: "\n"))
    for _ in 0..<(indent * level) { writer.byte(UInt8(ascii: " ")) }
}
