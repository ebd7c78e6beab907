import CCFX
import CFXCore
import CFXFormats

// "on_error": "record": each row is explained on its own, so that a failing row (a non-finite
// value, a callback error, a search that fails) becomes that row's explanation with its error
// and the rest of the batch completes. A user auditing millions of rows then loses one row, not
// a partition. The entry's shape is documented in docs/c-api.md ("What cfx_explain returns").

extension PreparedMethod {
    /// Explains `rows` rows of `features` values on `threads` threads (0 = all cores). Without
    /// `recordingErrors` the first failing row fails the call (values must then be finite).
    func explain(_ values: [Double], rows n: Int, features d: Int, threads: Int, recordingErrors: Bool,
                 control: RunControl) throws -> [JSON] {
        guard recordingErrors else { return try explain(values, n, threads, control) }
        // Progress and cancellation stay with the outer run; each row runs on one thread.
        let rowControl = RunControl(cancellation: control.cancellation)
        let results = try parallelMapRecording(count: n, threads: threads, control: control) { r -> [JSON] in
            let row = Array(values[r * d..<(r + 1) * d])
            if let j = row.firstIndex(where: { !$0.isFinite }) {
                throw CFXError(.numeric, "x: row \(r), feature \(j) is \(row[j]); only finite numbers are accepted")
            }
            do {
                return try self.explain(row, 1, 1, rowControl).map { $0.replacingMember("instance", ifPresent: .int(r)) }
            } catch let error as CFXError {
                throw error.renumbered(row: r)
            }
        }
        return results.enumerated().flatMap { r, result -> [JSON] in
            switch result {
            case .success(let explanations): return explanations
            case .failure(let error): return [failedRowJSON(row: r, error)]
            }
        }
    }
}

/// The explanation of a row that failed: "instance", "success": false, "cf": null and "error".
func failedRowJSON(row: Int, _ error: CFXError) -> JSON {
    let code = status(of: error.kind)
    return .object([
        ("instance", .int(row)),
        ("success", .bool(false)),
        ("cf", .null),
        ("error", .object([
            ("code", .int(Int(code.rawValue))),
            ("status", .string(String(cString: cfx_status_string(code)))),
            ("message", .string(error.message)),
        ])),
    ])
}

private extension CFXError {
    /// A one-row batch names its row "instance 0"; the error names the row of the whole batch.
    func renumbered(row: Int) -> CFXError {
        guard message.hasPrefix("instance 0") else { return self }
        return CFXError(kind, "instance \(row)" + message.dropFirst("instance 0".count))
    }
}

private extension JSON {
    /// The object with `key`'s value replaced when it has one (DeDUCE's and JSMA's "instance").
    func replacingMember(_ key: String, ifPresent value: JSON) -> JSON {
        guard case .object(let members) = self else { return self }
        return .object(members.map { $0.0 == key ? ($0.0, value) : $0 })
    }
}
