import CCFX
import Foundation
import XCTest
@testable import CFXABI
import CFXFormats

/// Calls through the exported C functions, as a C caller would, failing the test on any error.
struct ABIError: Error, CustomStringConvertible {
    let status: cfx_status
    let message: String
    var description: String { "status \(status.rawValue): \(message)" }
}

func check(_ body: (UnsafeMutablePointer<cfx_error>) -> cfx_status) throws {
    var error = cfx_error()
    let status = body(&error)
    let message = withUnsafeBytes(of: &error.message) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
    XCTAssertEqual(status, error.code)
    if status != CFX_OK { throw ABIError(status: status, message: message) }
    XCTAssertEqual(message, "")
}

func makeModel(_ spec: String) throws -> OpaquePointer {
    var model: OpaquePointer?
    try check { cfx_model_create_json(spec, &model, $0) }
    return model!
}

func makeExplainer(_ model: OpaquePointer, _ config: String) throws -> OpaquePointer {
    var explainer: OpaquePointer?
    try check { cfx_explainer_create(model, config, &explainer, $0) }
    return explainer!
}

func takeString(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
    defer { cfx_free(pointer) }
    return String(cString: pointer!)
}

/// Parses with jansson (through CFXABI's reader): Foundation's parser on Linux can be off by an ulp,
/// and the tests compare numbers exactly.
func jsonObject(_ text: String) throws -> [String: Any] {
    try plain(JSON.parse(text, "test")) as! [String: Any]
}

private func plain(_ value: JSON) -> Any {
    switch value {
    case .null: return NSNull()
    case .bool(let b): return b
    case .int(let i): return i
    case .double(let d): return d
    case .string(let s): return s
    case .array(let items): return items.map(plain)
    case .object(let members): return Dictionary(members.map { ($0.0, plain($0.1)) }, uniquingKeysWith: { a, _ in a })
    }
}

/// The per-instance explanations of `rows` (n × d).
func explain(_ explainer: OpaquePointer, _ rows: [[Double]]) throws -> [[String: Any]] {
    let flat = rows.flatMap { $0 }
    var out: UnsafeMutablePointer<CChar>?
    try check { cfx_explain(explainer, flat, rows.count, rows[0].count, &out, $0) }
    return try jsonObject(takeString(out))["explanations"] as! [[String: Any]]
}

/// A real-data fixture written by Tests/fixtures/make_fixtures.py.
struct Fixture {
    let spec: String
    let xTest: [[Double]]
    let probaTest: [[Double]]

    init(_ name: String) throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures/\(name)_mlp.json")
        let object = try jsonObject(String(contentsOf: url, encoding: .utf8))
        spec = String(data: try JSONSerialization.data(withJSONObject: object["model"]!), encoding: .utf8)!
        xTest = object["x_test"] as! [[Double]]
        probaTest = object["proba_test"] as! [[Double]]
    }
}

/// Asserts that `body` fails with `expected` and a message that mentions `mentions`.
func assertABIFails(_ expected: cfx_status, _ mentions: String, file: StaticString = #filePath, line: UInt = #line,
                    _ body: () throws -> Void) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
        guard let error = error as? ABIError else { return XCTFail("\(error)", file: file, line: line) }
        XCTAssertEqual(error.status, expected, error.message, file: file, line: line)
        XCTAssertTrue(error.message.contains(mentions), "\(error.message) should mention \(mentions)", file: file, line: line)
    }
}
