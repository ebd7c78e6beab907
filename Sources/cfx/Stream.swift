import ArgumentParser
import CCFX
import CFXFormats
import Foundation

/// `cfx-cli explain --output FILE.jsonl`: explains a CSV or JSONL input of any size chunk by
/// chunk, in constant memory, writing one JSON line per input row, and resumes where a previous
/// run stopped (the rows already in FILE are skipped). Rows that cannot be read or explained
/// become lines with "success": false and an "error", so that one bad row never stops a run of
/// millions ("on_error": "record" unless the config says otherwise).
struct StreamOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Stream to this JSONL file, one line per input row ({\"row\": i, ...the explanation}); the input may then be CSV or JSONL (.jsonl/.ndjson: one JSON array of numbers, or an object with \"x\", per line).")
    var output: String?

    @Option(help: "Rows per cfx_explain call when streaming.")
    var chunkRows = 1000

    @Flag(help: "Continue a stopped run: keep the complete lines already in --output and explain the rows after them.")
    var resume = false

    /// Streams `data` through an explainer of `config` (JSON text) into `output`.
    func run(modelPath: String, data: String, config: String, quiet: Bool) throws {
        guard let output else { return }
        guard chunkRows > 0 else { throw CFXFailure(description: "--chunk-rows: must be at least 1, got \(chunkRows)") }
        let model = try NativeModel(path: modelPath)
        let configText = try recordingErrors(config)
        var explainer: OpaquePointer?
        try call { cfx_explainer_create(model.handle, configText, &explainer, $0) }
        defer { cfx_explainer_free(explainer) }

        let done = resume ? try completeLines(output) : 0
        guard let out = fopen(output, resume ? "a" : "w") else {
            throw CFXFailure(description: "\(output): cannot open for writing (\(String(cString: strerror(errno))))")
        }
        defer { fclose(out) }
        let reader = try RowReader(path: data, features: model.features)
        try reader.skip(done)
        let started = Date()
        var written = done
        let lines = JSONWriter()
        while true {
            let chunk = try reader.next(chunkRows)
            if chunk.isEmpty { break }
            lines.removeAll()
            try explain(chunk, explainer: explainer, features: model.features, into: lines)
            try lines.withBytes { text in
                guard fwrite(text.baseAddress, 1, text.count, out) == text.count else {
                    throw CFXFailure(description: "\(output): write failed (\(String(cString: strerror(errno))))")
                }
            }
            fflush(out)  // a line on disk is a row done: what --resume counts
            written += chunk.count
            if !quiet { streamProgress(rows: written, resumed: done, fraction: reader.fraction, seconds: Date().timeIntervalSince(started)) }
        }
        if !quiet { FileHandle.standardError.write("\n".data(using: .utf8)!) }
    }

    /// One explained chunk, a line per row in order, into `lines`: the library's JSON of each
    /// explanation cut out of its result as it is (no number read or written again), with "row"
    /// (numbering the whole input) in front and "instance" (numbering the chunk) left out.
    private func explain(_ chunk: [InputRow], explainer: OpaquePointer?, features d: Int, into lines: JSONWriter) throws {
        let good = chunk.filter { $0.values != nil }
        var text: UnsafeMutablePointer<CChar>?
        defer { cfx_free(text) }
        if !good.isEmpty {
            let values = good.flatMap { $0.values! }
            try call { cfx_explain(explainer, values, good.count, d, &text, $0) }
        }
        let spans = JSONSpans(bytes: UnsafeBufferPointer(start: text.map { UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self) },
                                                         count: text.map { strlen($0) } ?? 0))
        let explanations = spans.value("\"explanations\"", in: spans.parts(0)).map { spans.parts($0.lowerBound) } ?? []
        // Explanations per row of `good`: one, or one per target class (DeDUCE, JSMA: "instance").
        var perRow = [[[JSONSpans.Part]]](repeating: [], count: good.count)
        for (i, e) in explanations.enumerated() {
            let members = spans.parts(e.value.lowerBound)
            let hasTarget = spans.value("\"target_class\"", in: members) != nil
            let r = hasTarget ? spans.value("\"instance\"", in: members).flatMap { Int(spans.text($0)) } ?? i : i
            if r < perRow.count { perRow[r].append(members) }
        }
        var next = 0
        for row in chunk {
            lines.raw("{\"row\":")
            lines.integer(row.index)
            if let error = row.error {
                lines.raw(",\"success\":false,\"cf\":null,\"error\":")
                JSON.object([("code", .int(Int(row.status.rawValue))), ("status", .string(String(cString: cfx_status_string(row.status)))),
                             ("message", .string(error))]).write(to: lines)
            } else {
                let entries = perRow[next]
                next += 1
                if entries.count == 1 && spans.value("\"target_class\"", in: entries[0]) == nil {
                    lines.byte(UInt8(ascii: ","))
                    copyMembers(entries[0], of: spans, into: lines)
                } else {
                    lines.raw(",\"explanations\":[")
                    for (i, members) in entries.enumerated() {
                        lines.raw(i == 0 ? "{" : ",{")
                        copyMembers(members, of: spans, into: lines)
                        lines.byte(UInt8(ascii: "}"))
                    }
                    lines.byte(UInt8(ascii: "]"))
                }
            }
            lines.raw("}\n")
        }
    }
}

/// "key":value for every member but "instance", comma-separated, as the library wrote them.
private func copyMembers(_ members: [JSONSpans.Part], of spans: JSONSpans, into lines: JSONWriter) {
    var first = true
    for (key, value) in members {
        guard let key, spans.text(key) != "\"instance\"" else { continue }
        if !first { lines.byte(UInt8(ascii: ",")) }
        first = false
        lines.append(UnsafeBufferPointer(rebasing: spans.bytes[key.lowerBound..<value.upperBound]))
    }
}

/// The config with "on_error": "record" unless it sets "on_error".
private func recordingErrors(_ config: String) throws -> String {
    guard var object = try? JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any], object["on_error"] == nil else {
        return config  // invalid JSON: cfx_explainer_create reports it
    }
    object["on_error"] = "record"
    return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
}

/// The number of complete lines of `path` (0 when it does not exist); a last line without its
/// newline (a run stopped mid-write) is cut off so that appending continues cleanly.
private func completeLines(_ path: String) throws -> Int {
    guard let file = fopen(path, "r+") else { return 0 }
    defer { fclose(file) }
    var lines = 0, endOfLastLine = 0, offset = 0
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n == 0 { break }
        for i in 0..<n where buffer[i] == UInt8(ascii: "\n") {
            lines += 1
            endOfLastLine = offset + i + 1
        }
        offset += n
    }
    if endOfLastLine < offset { _ = ftruncate(fileno(file), off_t(endOfLastLine)) }
    return lines
}

/// One input row: its number (from 0, headers and blank lines not counted) and its values, or
/// why it could not be read.
struct InputRow {
    let index: Int
    let values: [Double]?
    let error: String?
    var status = CFX_ERR_INVALID_ARGUMENT
}

/// Reads rows of CSV or JSONL one line at a time (constant memory).
final class RowReader {
    private let file: UnsafeMutablePointer<FILE>
    private let path: String
    private let features: Int
    private let jsonLines: Bool
    private let size: Double
    private var index = 0
    private var headerChecked = false

    init(path: String, features: Int) throws {
        guard let file = fopen(path, "r") else {
            throw CFXFailure(description: "\(path): cannot read the file (\(String(cString: strerror(errno))))")
        }
        var info = stat()
        fstat(fileno(file), &info)
        (self.file, self.path, self.features, self.size) = (file, path, features, Double(max(info.st_size, 1)))
        jsonLines = path.hasSuffix(".jsonl") || path.hasSuffix(".ndjson")
    }

    deinit { fclose(file) }

    /// The share of the file read so far.
    var fraction: Double { Double(ftell(file)) / size }

    /// Skips `count` rows (those a previous run wrote).
    func skip(_ count: Int) throws {
        while index < count, try nextLine() != nil { index += 1 }
    }

    /// Up to `count` rows; empty at the end of the file.
    func next(_ count: Int) throws -> [InputRow] {
        var rows: [InputRow] = []
        while rows.count < count, let line = try nextLine() {
            rows.append(parse(line))
            index += 1
        }
        return rows
    }

    /// The next non-blank line that is not a CSV header.
    private func nextLine() throws -> String? {
        var buffer: UnsafeMutablePointer<CChar>?
        var capacity = 0
        defer { free(buffer) }
        while getline(&buffer, &capacity, file) >= 0 {
            let line = String(cString: buffer!).trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            if !headerChecked {
                headerChecked = true
                let fields = line.split(separator: ",")
                if !jsonLines, fields.contains(where: { Double($0.trimmingCharacters(in: .whitespaces)) == nil }) {
                    continue  // a header
                }
            }
            return line
        }
        return nil
    }

    private func parse(_ line: String) -> InputRow {
        let where_ = "\(path): row \(index)"
        let values: [Double]
        if jsonLines {
            // Numbers are read with Double(_:) (correctly rounded, as for CSV), not with
            // JSONSerialization, whose parser may differ in the last digit.
            guard let array = jsonArrayText(line), let numbers = Optional(array.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }),
                  !numbers.isEmpty, !numbers.contains(where: { $0 == nil }) else {
                return InputRow(index: index, values: nil, error: "\(where_): expected a JSON array of numbers or {\"x\": [...]}")
            }
            values = numbers.map { $0! }
        } else {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            var parsed: [Double] = []
            for (j, field) in fields.enumerated() {
                guard let value = Double(field.trimmingCharacters(in: .whitespaces)) else {
                    return InputRow(index: index, values: nil, error: "\(where_), column \(j + 1): \"\(field)\" is not a number")
                }
                parsed.append(value)
            }
            values = parsed
        }
        guard values.count == features else {
            return InputRow(index: index, values: nil, error: "\(where_) has \(values.count) values, the model expects \(features)")
        }
        // Checked here rather than by cfx, so that the message names the row of the whole input.
        if let j = values.firstIndex(where: { !$0.isFinite }) {
            return InputRow(index: index, values: nil, error: "\(where_), feature \(j) is \(values[j]); only finite numbers are accepted",
                            status: CFX_ERR_NUMERIC)
        }
        return InputRow(index: index, values: values, error: nil)
    }
}

/// The text inside the brackets of a line that is a JSON array, or an object's "x" array.
private func jsonArrayText(_ line: String) -> Substring? {
    var rest = Substring(line)
    if rest.hasPrefix("{") {
        guard let key = rest.range(of: "\"x\"") else { return nil }
        rest = rest[key.upperBound...].drop { $0 == " " || $0 == ":" }
    }
    guard rest.hasPrefix("["), let close = rest.firstIndex(of: "]") else { return nil }
    return rest[rest.index(after: rest.startIndex)..<close]
}

private func streamProgress(rows: Int, resumed: Int, fraction: Double, seconds: Double) {
    let width = 30, filled = min(width, Int(Double(width) * fraction))
    let rate = Double(rows - resumed) / max(seconds, 1e-9)
    let line = "\r[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        + String(format: "] rows %d (%.0f%% of the input, %.0f rows/s)", rows, 100 * fraction, rate)
    FileHandle.standardError.write(line.data(using: .utf8)!)
}
