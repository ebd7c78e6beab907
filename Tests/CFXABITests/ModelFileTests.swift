import CCFX
import CFXCore
import Foundation
import XCTest
@testable import CFXABI
@testable import CFXFormats

/// A layer with one tensor of each role, to check that state is saved and derived tensors are not:
/// y = x * scale; "running" is state; "total" (derived) is the sum of scale.
final class StatefulScale: CFXCore.Operation, @unchecked Sendable {
    init() { super.init(kind: "stateful_scale") }

    override func parameterSpecs(for input: [Int]) -> [ParameterSpec] {
        [ParameterSpec("scale", input), ParameterSpec("running", [2, input[0]], .state), ParameterSpec("total", [1], .derived)]
    }

    override func forward(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ context: OperationContext<Double>) {
        let n = context.inputCount
        for b in 0..<context.batch {
            for i in 0..<n { y[b * n + i] = x[b * n + i] * context.parameters[i] }
        }
    }

    override func parametersChanged(_ parameters: UnsafeMutablePointer<Double>, input: [Int]) {
        let n = input[0]
        parameters[3 * n] = (0..<n).reduce(0) { $0 + parameters[$1] }
    }
}

final class ModelFileTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "cfx-files-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func path(_ name: String) -> String { "\(directory)/\(name)" }

    /// A 3 → 5 → 2 MLP with random tensors, including awkward values (tiny, huge, negative zero).
    func randomNetwork(seed: UInt64 = 1) throws -> Network {
        let network = try Network(inputShape: [3], nodes: [
            .layer(Dense(outputs: 5)), .layer(Elementwise(.tanh)), .layer(Dense(outputs: 2)), .layer(Softmax()),
        ])
        var generator = SplitMix(seed: seed)
        for i in network.parameters.indices { network.parameters[i] = Double.random(in: -2...2, using: &generator) }
        network.parameters[0] = 1e-300
        network.parameters[1] = -0.0
        network.parameters[2] = 1e300
        network.parametersChanged()
        return network
    }

    func assertBitwiseEqual(_ a: Network, _ b: Network, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.parameters.map(\.bitPattern), b.parameters.map(\.bitPattern), file: file, line: line)
    }

    func expectError(_ kind: CFXError.Kind, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line,
                     _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("no error; expected one containing \(fragments)", file: file, line: line)
        } catch let error as CFXError {
            XCTAssertEqual(error.kind, kind, error.message, file: file, line: line)
            for fragment in fragments {
                XCTAssertTrue(error.message.contains(fragment), "\"\(error.message)\" lacks \"\(fragment)\"", file: file, line: line)
            }
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
    }

    // MARK: Round trips

    func testF64RoundTripIsExact() throws {
        let network = try randomNetwork()
        try saveNetwork(network, specPath: path("m.json"), weightsPath: path("m.safetensors"))
        let spec = try readSpecFile(path("m.json"))
        guard case .string(let weights)? = spec["weights"] else { return XCTFail("no weights key") }
        XCTAssertEqual(weights, "m.safetensors")
        XCTAssertFalse(try String(contentsOfFile: path("m.json"), encoding: .utf8).contains("\"tensors\""))
        let loaded = try loadNetwork(specPath: path("m.json"))
        assertBitwiseEqual(network, loaded)
        // And once more, through a second save.
        try saveNetwork(loaded, specPath: path("n.json"), weightsPath: path("n.safetensors"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("m.safetensors"))),
                       try Data(contentsOf: URL(fileURLWithPath: path("n.safetensors"))))
    }

    func testF32RoundTripWithinFloatPrecision() throws {
        let network = try randomNetwork()
        network.parameters[2] = 3  // 1e300 does not fit F32
        try saveNetwork(network, specPath: path("m.json"), weightsPath: path("m.safetensors"), dtype: .f32)
        let size = try FileManager.default.attributesOfItem(atPath: path("m.safetensors"))[.size] as! Int
        let f64 = try safetensorsBytes(weightsFile(of: network), dtype: .f64).count
        XCTAssertLessThan(size, f64 - network.parameters.count * 4 + 8)
        let loaded = try loadNetwork(specPath: path("m.json"))
        for (a, b) in zip(network.parameters, loaded.parameters) {
            XCTAssertEqual(Double(Float(a)), b)
            XCTAssertLessThanOrEqual(abs(a - b), max(abs(a) * 6e-8, 1e-45))
        }
    }

    func testF32RefusesValuesOutOfRange() throws {
        let network = try randomNetwork()  // holds 1e300
        expectError(.numeric, ["layers.0.weight", "F32"]) {
            try saveNetwork(network, specPath: path("m.json"), weightsPath: path("m.safetensors"), dtype: .f32)
        }
    }

    func testInlineRoundTripIsExact() throws {
        let network = try randomNetwork(seed: 7)
        try saveNetwork(network, specPath: path("inline.json"))
        let spec = try readSpecFile(path("inline.json"))
        XCTAssertNil(spec["weights"])
        assertBitwiseEqual(network, try loadNetwork(specPath: path("inline.json")))
    }

    func testWeightsInAnotherDirectory() throws {
        let network = try randomNetwork(seed: 3)
        try FileManager.default.createDirectory(atPath: path("specs/deep"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: path("weights"), withIntermediateDirectories: true)
        try saveNetwork(network, specPath: path("specs/deep/m.json"), weightsPath: path("weights/./w.safetensors"))
        guard case .string(let weights)? = try readSpecFile(path("specs/deep/m.json"))["weights"] else { return XCTFail() }
        XCTAssertEqual(weights, "../../weights/w.safetensors")
        assertBitwiseEqual(network, try loadNetwork(specPath: path("specs/deep/m.json")))
    }

    func testRelativePaths() {
        XCTAssertEqual(relativePath("/a/b/w.st", from: "/a/b"), "w.st")
        XCTAssertEqual(relativePath("/a/w.st", from: "/a/b/c"), "../../w.st")
        XCTAssertEqual(relativePath("/x/y/w.st", from: "/a"), "../x/y/w.st")
        XCTAssertEqual(relativePath("/a/b/../w.st", from: "/a/"), "w.st")
        XCTAssertEqual(directoryOf("m.json"), ".")
        XCTAssertEqual(directoryOf("/m.json"), "/")
        XCTAssertEqual(directoryOf("a/b/m.json"), "a/b")
        XCTAssertEqual(resolvePath("w.st", relativeTo: "a/b"), "a/b/w.st")
        XCTAssertEqual(resolvePath("/w.st", relativeTo: "a/b"), "/w.st")
        XCTAssertEqual(resolvePath("w.st", relativeTo: nil), "w.st")
    }

    func testStateTensorsRoundTripAndDerivedAreNotSaved() throws {
        func make() throws -> Network {
            try Network(inputShape: [3], nodes: [.layer(StatefulScale()), .layer(Dense(outputs: 2)), .layer(Softmax())])
        }
        let network = try make()
        for i in network.parameters.indices { network.parameters[i] = Double(i) * 0.37 - 1 }
        network.parametersChanged()
        try saveWeights(network, path: path("s.safetensors"))
        let file = try readSafetensors(path: path("s.safetensors"))
        XCTAssertEqual(file.tensors.map(\.name), ["layers.0.scale", "layers.0.running", "layers.1.weight", "layers.1.bias"])
        XCTAssertEqual(file["layers.0.running"]?.shape, [2, 3])
        let loaded = try make()
        try loadWeights(into: loaded, path: path("s.safetensors"))
        loaded.parametersChanged()
        assertBitwiseEqual(network, loaded)
        XCTAssertEqual(loaded.parameter("layers.0.total")!.first!, -3 + 0.37 * 3, accuracy: 1e-12)

        // A file that holds the derived tensor is refused, with the reason.
        var withDerived = file
        withDerived.tensors.append(SafetensorsTensor(name: "layers.0.total", shape: [1], values: [1]))
        try writeSafetensors(withDerived, path: path("d.safetensors"))
        expectError(.model, ["layers.0.total", "derived", "d.safetensors"]) {
            try loadWeights(into: try make(), path: path("d.safetensors"))
        }
        // A missing state tensor is named.
        var noState = file
        noState.tensors.removeAll { $0.name == "layers.0.running" }
        try writeSafetensors(noState, path: path("n.safetensors"))
        expectError(.model, ["layers.0.running: missing from", "n.safetensors"]) {
            try loadWeights(into: try make(), path: path("n.safetensors"))
        }
    }

    func testHalfPrecisionAndBFloat16AreRead() throws {
        // F16: 1.0 = 0x3C00, -2.5 = 0xC100, smallest subnormal 0x0001; BF16: 1.0 = 0x3F80, -0.15625 = 0xBE20.
        let header = #"{"h":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[6,10]}}"#
        let data: [UInt8] = [0x00, 0x3C, 0x00, 0xC1, 0x01, 0x00, 0x80, 0x3F, 0x20, 0xBE]
        let file = try parseSafetensors(rawSafetensors(header, data), name: "x")
        XCTAssertEqual(file["h"]?.values, [1, -2.5, 0x1p-24])
        XCTAssertEqual(file["b"]?.values, [1, -0.15625])
        XCTAssertEqual(halfToDouble(0x7BFF), 65504)
    }

    func testMetadataIsKept() throws {
        let file = SafetensorsFile(tensors: [SafetensorsTensor(name: "t", shape: [2, 0], values: [])], metadata: [("format", "pt")])
        let read = try parseSafetensors(try safetensorsBytes(file), name: "x")
        XCTAssertEqual(read.metadata.map { "\($0.0)=\($0.1)" }, ["format=pt"])
        XCTAssertEqual(read["t"]?.shape, [2, 0])
        XCTAssertEqual(try safetensorsBytes(file).count % 8, 0)
    }

    // MARK: Bad files

    func rawSafetensors(_ header: String, _ data: [UInt8], length: UInt64? = nil) -> [UInt8] {
        var bytes: [UInt8] = []
        withUnsafeBytes(of: (length ?? UInt64(header.utf8.count)).littleEndian) { bytes += $0 }
        return bytes + Array(header.utf8) + data
    }

    func expectBadFile(_ bytes: [UInt8], _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        let name = path("bad.safetensors")
        FileManager.default.createFile(atPath: name, contents: Data(bytes))
        expectError(.model, ["bad.safetensors"] + fragments, file: file, line: line) { _ = try readSafetensors(path: name) }
    }

    func testBadFilesAreRejectedWithTheFileAndTensorNamed() throws {
        let good = try safetensorsBytes(weightsFile(of: try randomNetwork()))
        expectBadFile(Array(good.prefix(5)), ["too short"])
        expectBadFile(Array(good.prefix(good.count - 8)), ["layers.2.bias", "out of range"])  // truncated data
        expectBadFile(Array(good.prefix(100)), ["header length", "past the end"])             // truncated header
        expectBadFile(rawSafetensors("{}", [], length: 1 << 40), ["header length", "past the end"])
        expectBadFile(rawSafetensors(#"{"a": {"dtype": "F64", "#, []), ["invalid JSON"])
        expectBadFile(rawSafetensors("[1, 2]", []), ["expected a JSON object"])
        expectBadFile(rawSafetensors(#"{"w":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}"#, [1, 2]), ["w: dtype \"I8\"", "F64, F32, F16, BF16"])
        expectBadFile(rawSafetensors(#"{"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,2]}}"#, [1, 2]), ["w: dtype \"Q4\" is not a safetensors dtype"])
        // Other dtypes of the format are fine for tensors the caller skips, but their layout is checked.
        let i64 = rawSafetensors(#"{"extra.n":{"dtype":"I64","shape":[],"data_offsets":[0,8]}}"#, [3, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(try parseSafetensors(i64, name: "x") { $0.hasPrefix("extra.") }.tensors.count, 0)
        expectError(.model, ["x: extra.n: has 8 bytes"]) {
            let bad = self.rawSafetensors(#"{"extra.n":{"dtype":"I64","shape":[2],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8))
            _ = try parseSafetensors(bad, name: "x") { $0.hasPrefix("extra.") }
        }
        expectBadFile(rawSafetensors(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, [UInt8](repeating: 0, count: 8)),
                      ["w: has 8 bytes", "12"])
        expectBadFile(rawSafetensors(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"v":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#,
                                     [UInt8](repeating: 0, count: 6)), ["overlap"])
        expectBadFile(rawSafetensors(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, [UInt8](repeating: 0, count: 8)),
                      ["bytes 0..<4", "belong to no tensor"])
        expectBadFile(rawSafetensors(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, [UInt8](repeating: 0, count: 6)),
                      ["6 bytes", "cover 4"])
        expectBadFile(rawSafetensors(#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, [0, 0, 0, 0]), ["w: shape"])
        expectBadFile(rawSafetensors(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, [0, 0, 0, 0]), ["w: data_offsets"])
        expectBadFile(rawSafetensors(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}"#, [0, 0, 0, 0]), ["w: unknown key \"x\""])
        expectBadFile(rawSafetensors(#"{"__metadata__":{"a":1}}"#, []), ["__metadata__.a"])
        // NaN (F32 0x7FC00000) and infinity (F16 0x7C00).
        expectBadFile(rawSafetensors(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, [0, 0, 0, 0, 0, 0, 0xC0, 0x7F]),
                      ["w: value 1 is nan"])
        expectBadFile(rawSafetensors(#"{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}"#, [0x00, 0x7C]), ["h: value 0 is inf"])
        expectError(.io, ["none.safetensors: cannot read the file", "No such file"]) {
            _ = try readSafetensors(path: self.path("none.safetensors"))
        }
    }

    /// A spec (saved with a weights file) whose weights file is replaced by `tensors`.
    func loadWithWeights(_ tensors: [SafetensorsTensor], spec: ((inout [(String, JSON)]) -> Void)? = nil) throws {
        let network = try randomNetwork()
        try saveNetwork(network, specPath: path("m.json"), weightsPath: path("m.safetensors"))
        try writeSafetensors(SafetensorsFile(tensors: tensors), path: path("m.safetensors"))
        if let spec {
            var members = try readSpecFile(path("m.json")).members("spec")
            spec(&members)
            try JSON.object(members).serialized().withText { try $0.write(toFile: path("m.json"), atomically: true, encoding: .utf8) }
        }
        _ = try loadNetwork(specPath: path("m.json"))
    }

    func testNetworkTensorsMustMatchTheFile() throws {
        let tensors = weightsFile(of: try randomNetwork()).tensors
        expectError(.model, ["layers.2.weight: missing from", "m.safetensors"]) {
            try loadWithWeights(tensors.filter { $0.name != "layers.2.weight" })
        }
        expectError(.model, ["layers.9.weight: in", "m.safetensors", "no such tensor", "\"extra.\""]) {
            try loadWithWeights(tensors + [SafetensorsTensor(name: "layers.9.weight", shape: [1], values: [1])])
        }
        // Prefixed with "extra.", it is skipped.
        XCTAssertNoThrow(try loadWithWeights(tensors + [SafetensorsTensor(name: "extra.num_batches_tracked", shape: [], values: [3])]))
        expectError(.model, ["layers.0.weight: shape [3, 5] in", "m.safetensors", "the network expects [5, 3]"]) {
            try loadWithWeights(tensors.map {
                $0.name == "layers.0.weight" ? SafetensorsTensor(name: $0.name, shape: [3, 5], values: $0.values) : $0
            })
        }
        // A tensor inline in the spec and in the file.
        expectError(.model, ["layers.2.bias: given both inline", "m.safetensors"]) {
            try loadWithWeights(tensors) { members in
                let i = members.firstIndex { $0.0 == "layers" }!
                guard case .array(var layers) = members[i].1, case .object(var dense) = layers[2] else { return }
                dense.append(("tensors", .object([("bias", .numbers([0, 0]))])))
                layers[2] = .object(dense)
                members[i].1 = .array(layers)
            }
        }
        // Inline and file tensors that do not overlap combine.
        let network = try randomNetwork()
        try loadWithWeights(tensors.filter { $0.name != "layers.2.bias" }) { members in
            let i = members.firstIndex { $0.0 == "layers" }!
            guard case .array(var layers) = members[i].1, case .object(var dense) = layers[2] else { return }
            dense.append(("tensors", .object([("bias", .numbers(Array(network.parameter("layers.2.bias")!)))])))
            layers[2] = .object(dense)
            members[i].1 = .array(layers)
        }
        let loaded = try loadNetwork(specPath: path("m.json"))
        assertBitwiseEqual(network, loaded)
    }

    func testSpecErrorsNameTheSpecFile() throws {
        try "{\"input_shape\": [2], \"layers\": [{\"type\": \"dense\", \"outputs\": 2}], \"weights\": \"none.safetensors\"}"
            .write(toFile: path("m.json"), atomically: true, encoding: .utf8)
        expectError(.io, ["/none.safetensors: cannot read the file"]) { _ = try loadNetwork(specPath: self.path("m.json")) }
        try "{\"input_shape\": [2], \"layers\": [{\"type\": \"dense\"}]}".write(toFile: path("m.json"), atomically: true, encoding: .utf8)
        expectError(.model, ["m.json: layers[0]"]) { _ = try loadNetwork(specPath: self.path("m.json")) }
        try "{\"input_shape\": [2],".write(toFile: path("m.json"), atomically: true, encoding: .utf8)
        expectError(.json, ["m.json: invalid JSON"]) { _ = try loadNetwork(specPath: self.path("m.json")) }
        expectError(.io, ["none.json: cannot read the file"]) { _ = try loadNetwork(specPath: self.path("none.json")) }
    }

    // MARK: C functions

    func testCFunctions() throws {
        let network = try randomNetwork()
        network.parameters[2] = 3  // 1e300 does not fit F32
        try saveNetwork(network, specPath: path("m.json"), weightsPath: path("m.safetensors"),
                        metadata: .object([("classes", .array([.string("a"), .string("b")]))]))
        var model: OpaquePointer?
        try check { cfx_model_load(path("m.json"), &model, $0) }
        defer { cfx_model_free(model) }
        var text: UnsafeMutablePointer<CChar>?
        try check { cfx_model_spec(model, &text, $0) }
        let spec = try JSON.parse(takeString(text), "spec")
        XCTAssertNotNil(spec["metadata"])
        XCTAssertNil(spec["weights"])
        assertBitwiseEqual(network, try networkFromSpec(spec))

        try check { cfx_model_save(model, path("c.json"), path("c.safetensors"), #"{"dtype": "F32"}"#, $0) }
        XCTAssertNotNil(try readSpecFile(path("c.json"))["metadata"])
        try check { cfx_model_save(model, path("i.json"), nil, nil, $0) }
        var reloaded: OpaquePointer?
        try check { cfx_model_load(path("i.json"), &reloaded, $0) }
        cfx_model_free(reloaded)

        func status(_ body: (UnsafeMutablePointer<cfx_error>) -> cfx_status) -> (cfx_status, String) {
            do { try check(body); return (CFX_OK, "") } catch let e as ABIError { return (e.status, e.message) } catch { return (CFX_ERR_INTERNAL, "") }
        }
        XCTAssertEqual(status { cfx_model_save(model, path("c.json"), path("c.safetensors"), #"{"dtype": "F16"}"#, $0) }.0, CFX_ERR_CONFIG)
        XCTAssertEqual(status { cfx_model_save(model, path("c.json"), nil, #"{"dtype": "F32"}"#, $0) }.0, CFX_ERR_CONFIG)
        XCTAssertEqual(status { cfx_model_save(model, path("c.json"), nil, #"{"dtypes": "F32"}"#, $0) }.0, CFX_ERR_CONFIG)
        XCTAssertEqual(status { cfx_model_save(model, path("no/such/dir/c.json"), nil, nil, $0) }.0, CFX_ERR_IO)
        XCTAssertEqual(status { cfx_model_load(nil, &reloaded, $0) }.0, CFX_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(status { cfx_model_load(path("none.json"), &reloaded, $0) }.0, CFX_ERR_IO)

        var callback: OpaquePointer?
        try check { cfx_model_create_callbacks(2, 2, { _, _, _, _, _ in 0 }, nil, nil, &callback, $0) }
        defer { cfx_model_free(callback) }
        let (code, message) = status { cfx_model_save(callback, path("x.json"), nil, nil, $0) }
        XCTAssertEqual(code, CFX_ERR_INVALID_ARGUMENT)
        XCTAssertTrue(message.contains("callback model"), message)
        XCTAssertEqual(status { cfx_model_spec(callback, &text, $0) }.0, CFX_ERR_INVALID_ARGUMENT)
    }
}

private extension UnsafeMutablePointer where Pointee == CChar {
    func withText<T>(_ body: (String) throws -> T) rethrows -> T {
        defer { free(self) }
        return try body(String(cString: self))
    }
}

/// A small seeded generator, so that test tensors are reproducible.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
