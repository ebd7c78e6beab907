import ArgumentParser
import CCFX
import CFXFormats
import Foundation

/// `cfx-cli methods`: the methods and their config keys, from the tables the library validates
/// configs with (cfx_methods); `--markdown` prints the parameter tables of docs/methods/*.md.
struct Methods: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the methods and their config keys (default, constraint, meaning).")

    @Argument(help: "A method, e.g. wachter; every method when omitted.")
    var method: String?

    @Flag(help: "One markdown table per method (docs/methods/*.md hold these; docs/method_tables.py checks them).")
    var markdown = false

    func run() throws {
        let methods = try methodCatalogue().filter { method == nil || $0.name == method }
        guard !methods.isEmpty else {
            throw CFXFailure(description: "unknown method \"\(method ?? "")\"; available: \(try methodNames().joined(separator: ", "))")
        }
        for (i, m) in methods.enumerated() {
            if methods.count > 1 { print("\(i > 0 ? "\n" : "")\(markdown ? "## " : "")\(m.name)\(markdown ? "\n" : "")") }
            print(markdown ? markdownTable(m.parameters) : plainTable(m.parameters))
        }
    }
}

/// One row of a method's table as cfx_methods gives it.
struct MethodParameter {
    let key: String
    /// The default as cfx writes it (JSON).
    let defaultText: String
    let constraint: String
    let doc: String
}

/// cfx_methods, parsed: each method's name and rows, in the library's order.
func methodCatalogue() throws -> [(name: String, parameters: [MethodParameter])] {
    var output: UnsafeMutablePointer<CChar>?
    try call { cfx_methods(&output, $0) }
    defer { cfx_free(output) }
    let catalogue = try JSON.parse(output!, "cfx_methods")
    return try catalogue.items("methods").map { method in
        let parameters = try method["parameters"]?.items("parameters").map { row in
            MethodParameter(key: try row["key"]?.text("key") ?? "", defaultText: try jsonText(row["default"] ?? .null),
                            constraint: try row["constraint"]?.text("constraint") ?? "", doc: try row["doc"]?.text("doc") ?? "")
        }
        return (try method["name"]?.text("name") ?? "", parameters ?? [])
    }
}

/// The methods' names, in the library's order.
func methodNames() throws -> [String] { try methodCatalogue().map(\.name) }

private func jsonText(_ value: JSON) throws -> String {
    let pointer = try value.serialized()
    defer { free(pointer) }
    return String(cString: pointer)
}

/// | key | default | constraint | meaning |, one row per key; `|` in a cell escaped.
func markdownTable(_ rows: [MethodParameter]) -> String {
    func cell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|") }
    return (["| key | default | constraint | meaning |", "| --- | --- | --- | --- |"] + rows.map {
        "| `\($0.key)` | `\(cell($0.defaultText))` | \(cell($0.constraint)) | \(cell($0.doc)) |"
    }).joined(separator: "\n")
}

/// key, default and constraint in columns, then the meaning.
func plainTable(_ rows: [MethodParameter]) -> String {
    let keyWidth = rows.map(\.key.count).max() ?? 0, defaultWidth = min(24, rows.map(\.defaultText.count).max() ?? 0)
    return rows.map { row in
        let key = row.key.padding(toLength: keyWidth, withPad: " ", startingAt: 0)
        let value = row.defaultText.count < defaultWidth ? row.defaultText.padding(toLength: defaultWidth, withPad: " ", startingAt: 0) : row.defaultText
        return "  \(key)  \(value)  \(row.constraint.isEmpty ? "" : "(\(row.constraint)) ")\(row.doc)"
    }.joined(separator: "\n")
}
