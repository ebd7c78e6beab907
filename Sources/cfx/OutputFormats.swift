import ArgumentParser
import CFXFormats
import Foundation

/// How `explain` and `predict` print their results.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    /// For a person: one block per explanation with the features that changed.
    case table
    /// For a spreadsheet: one line per explanation, original and counterfactual values side by side.
    case csv
    /// For a script: one JSON object per line.
    case jsonl
    /// The library's whole result, as cfx_explain returns it.
    case json
}

/// True when stdout is a terminal: the default format is then a table.
let isTerminal = isatty(STDOUT_FILENO) != 0

/// The config to run: `config` (JSON text, or nil) with its "method" set from `method`, Wachter
/// when neither names one; the library fills every key left out with its default.
func methodConfig(method: String?, config: String?) throws -> String {
    guard let config else { return "{\"method\": \"\(method ?? "wachter")\"}" }
    let parsed = try config.withCString { try JSON.parse($0, "--config") }
    guard case .object(var members) = parsed else { throw CFXFailure(description: "--config: expected a JSON object, got \(parsed.typeName)") }
    if let given = parsed["method"] {
        guard let method else { return config }
        guard case .string(let name) = given, name == method else {
            throw CFXFailure(description: "--method \(method) disagrees with the config's \"method\": \(given)")
        }
        return config
    }
    members.insert(("method", .string(method ?? "wachter")), at: 0)
    return try text(of: .object(members))
}

/// The feature names of a CSV file's header line, or x0, x1, ... when it has none.
func csvHeader(_ path: String, features: Int) -> [String] {
    let fallback = (0..<features).map { "x\($0)" }
    guard let text = try? readText(path),
          let first = text.split(whereSeparator: \.isNewline).first(where: { !$0.allSatisfy(\.isWhitespace) }) else { return fallback }
    let names = first.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    guard names.count == features, names.contains(where: { Double($0) == nil }) else { return fallback }
    return names
}

// MARK: Explanations

/// The fields every method's explanation shares, read from its JSON.
private struct Summary {
    let row: Int
    let target: Int?
    let origClass: Int
    let origProba: Double?
    let cfClass: Int?
    let cfProba: Double?
    let cf: [Double]?
    let success: Bool
    let warnings: [String]

    init(_ e: JSON, position: Int) {
        row = e["instance"].flatMap(integer) ?? position  // DeDUCE and JSMA: one explanation per (instance, target)
        target = e["target_class"].flatMap(integer)
        origClass = e["orig_class"].flatMap(integer) ?? -1
        switch e["orig_proba"] {  // Wachter: the original class's probability; CFProto: every class's
        case .array(let p)?: origProba = p.indices.contains(origClass) ? number(p[origClass]) : nil
        case let value?: origProba = number(value)
        case nil: origProba = nil
        }
        let cfValue = e["cf"].flatMap { if case .object = $0 { return $0 } else { return nil } }
        cfClass = cfValue?["class"].flatMap(integer)
        if case .array(let p)? = cfValue?["proba"], let c = cfClass, p.indices.contains(c) { cfProba = number(p[c]) } else { cfProba = nil }
        if case .array(let x)? = cfValue?["X"] { cf = x.map { number($0) ?? .nan } } else { cf = nil }
        success = { if case .bool(let b)? = e["success"] { return b } else { return false } }()
        if case .array(let w)? = e["meta"]?["warnings"] { warnings = w.compactMap { if case .string(let s) = $0 { return s } else { return nil } } } else { warnings = [] }
    }
}

private func number(_ value: JSON) -> Double? {
    switch value {
    case .int(let i): return Double(i)
    case .double(let d): return d
    default: return nil
    }
}

private func integer(_ value: JSON) -> Int? {
    if case .int(let i) = value { return i } else { return nil }
}

private func text(of json: JSON) throws -> String {
    let pointer = try json.serialized()
    defer { free(pointer) }
    return String(cString: pointer)
}

/// Prints cfx_explain's result `json` for instances `rows` with feature `names`.
func printExplanations(_ json: String, rows: (values: [Double], count: Int), names: [String], format: OutputFormat) throws {
    if format == .json { print(json); return }
    let result = try json.withCString { try JSON.parse($0, "explanations") }
    guard case .array(let explanations)? = result["explanations"] else { throw CFXFailure(description: "the result has no explanations") }
    let d = names.count
    let hasTarget = explanations.contains { $0["target_class"] != nil }
    if format == .csv {
        let head = ["row"] + (hasTarget ? ["target_class"] : []) + ["orig_class", "orig_proba", "cf_class", "cf_proba", "success", "l1"]
        print((head + names + names.map { "cf_" + $0 }).map(csvField).joined(separator: ","))
    }
    for (i, e) in explanations.enumerated() {
        let s = Summary(e, position: i)
        guard (0..<rows.count).contains(s.row) else { throw CFXFailure(description: "explanation \(i) names instance \(s.row) of \(rows.count)") }
        let x = Array(rows.values[s.row * d..<(s.row + 1) * d])
        let l1 = s.cf.map { zip($0, x).reduce(0) { $0 + abs($1.0 - $1.1) } }
        switch format {
        case .jsonl:
            guard case .object(let members) = e else { continue }
            // One line per explanation: its row first; "all" (every intermediate counterfactual) stays in --format json.
            print(try text(of: .object([("row", .int(s.row))] + members.filter { $0.0 != "all" })))
        case .csv:
            func cell(_ value: Double?) -> String { value.map { "\($0)" } ?? "" }
            var cells = [String(s.row)]
            if hasTarget { cells.append(s.target.map(String.init) ?? "") }
            cells += [String(s.origClass), cell(s.origProba), s.cfClass.map(String.init) ?? "", cell(s.cfProba), String(s.success), cell(l1)]
            cells += x.map(cell)
            cells += s.cf?.map(cell) ?? Array(repeating: "", count: d)
            print(cells.joined(separator: ","))
        case .table:
            printTable(s, x: x, names: names, l1: l1)
        case .json:
            break
        }
    }
}

private func printTable(_ s: Summary, x: [Double], names: [String], l1: Double?) {
    var head = "row \(s.row): class \(s.origClass)" + (s.origProba.map { String(format: " (p=%.3f)", $0) } ?? "")
    if let target = s.target { head += ", target \(target)" }
    guard let cf = s.cf, let cfClass = s.cfClass else {
        print(head + " -> no counterfactual found")
        for w in s.warnings { print("    warning: \(w)") }
        print()
        return
    }
    print(head + " -> class \(cfClass)" + (s.cfProba.map { String(format: " (p=%.3f)", $0) } ?? "")
          + (l1.map { String(format: ", L1 %.4g", $0) } ?? ""))
    let width = max(7, names.map(\.count).max() ?? 0)
    let changed = x.indices.filter { abs(cf[$0] - x[$0]) > 1e-9 * max(1, abs(x[$0])) }
    if changed.isEmpty {
        print("    no feature changed")
    } else {
        print("    " + pad("feature", width) + [" before", " after", " change"].map { pad($0, 12, left: true) }.joined())
        for j in changed {
            print("    " + pad(names[j], width) + String(format: " %11.4g %11.4g %+11.4g", x[j], cf[j], cf[j] - x[j]))
        }
    }
    for w in s.warnings { print("    warning: \(w)") }
    print()
}

/// `text` padded with spaces to `width` characters, on the left (right-aligned) or the right.
private func pad(_ text: String, _ width: Int, left: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - text.count))
    return left ? fill + text : text + fill
}

private func csvField(_ text: String) -> String {
    text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
}

// MARK: Predictions

/// Prints `rows` × `classes` probabilities: CSV (no header, as before), JSON, JSON lines or a table.
func printPredictions(_ proba: [Double], rows: Int, classes: Int, format: OutputFormat) {
    func row(_ r: Int) -> ArraySlice<Double> { proba[r * classes..<(r + 1) * classes] }
    func predicted(_ r: Int) -> Int { row(r).indices.max { proba[$0] < proba[$1] }! - r * classes }
    func line(_ r: Int) -> String {
        "{\"row\":\(r),\"class\":\(predicted(r)),\"proba\":[" + row(r).map { "\($0)" }.joined(separator: ",") + "]}"
    }
    switch format {
    case .csv:
        for r in 0..<rows { print(row(r).map { "\($0)" }.joined(separator: ",")) }
    case .jsonl:
        for r in 0..<rows { print(line(r)) }
    case .json:
        print("{\"predictions\":[" + (0..<rows).map(line).joined(separator: ",") + "]}")
    case .table:
        print(pad("row", 5, left: true) + pad("class", 6, left: true) + (0..<classes).map { pad("p\($0)", 10, left: true) }.joined())
        for r in 0..<rows {
            print(String(format: "%5d %5d", r, predicted(r)) + row(r).map { String(format: " %9.4f", $0) }.joined())
        }
    }
}
