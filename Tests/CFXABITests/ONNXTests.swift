import CCFX
import CFXCore
import Foundation
import XCTest
@testable import CFXFormats

/// ONNX files as networks: the committed fixtures (Tests/fixtures/onnx, written by
/// make_onnx_fixtures.py) load with the right shapes and exact gradients, and hostile bytes are
/// model errors. (Agreement with onnxruntime and PyTorch: Tests/python/test_onnx_zoo.py.)
final class ONNXTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/onnx").path

    func fixture(_ name: String) -> String { "\(Self.directory)/\(name).onnx" }

    func bytes(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: fixture(name)))) }

    func testFixturesLoadWithTheirShapesAndNumberTypes() throws {
        let expected: [(String, [Int], Int, DType)] = [("mlp", [64], 10, .float32), ("cnn", [1, 8, 8], 10, .float32),
                                                       ("mobile", [1, 8, 8], 10, .float32), ("resnet", [1, 8, 8], 10, .float32),
                                                       ("densenet", [1, 8, 8], 10, .float32), ("inception", [1, 8, 8], 10, .float32),
                                                       ("sklearn_mlp", [4], 3, .float64)]
        for (name, shape, classes, dtype) in expected {
            let network = try loadONNXNetwork(path: fixture(name))
            XCTAssertEqual(network.inputShape, shape, name)
            XCTAssertEqual(network.classCount, classes, name)
            XCTAssertEqual(network.dtype, dtype, name)
            XCTAssertNotNil(network.outputs["logits"], name)
        }
        // The residual net's two Add nodes are residual blocks.
        let resnet = try loadONNXNetwork(path: fixture("resnet"))
        XCTAssertEqual(resnet.nodes.filter { if case .residual = $0 { return true } else { return false } }.count, 2)
        // torch.cat: three DenseNet layers (two on images, one on features) and one inception block of three branches.
        func concatBranches(_ name: String) throws -> [Int] {
            try loadONNXNetwork(path: fixture(name)).nodes.compactMap { if case .concat(let branches, _) = $0 { return branches.count } else { return nil } }
        }
        XCTAssertEqual(try concatBranches("densenet"), [2, 2, 2])
        XCTAssertEqual(try concatBranches("inception"), [3])
    }

    func testCAPILoadsByExtension() throws {
        var model: OpaquePointer?
        var err = cfx_error()
        XCTAssertEqual(cfx_model_load(fixture("sklearn_mlp"), &model, &err), CFX_OK)
        defer { cfx_model_free(model) }
        var d = 0, k = 0
        XCTAssertEqual(cfx_model_shape(model, &d, &k, &err), CFX_OK)
        XCTAssertEqual([d, k], [4, 3])
    }

    /// Input gradients of every fixture (in float64) against central differences.
    func testGradientsMatchFiniteDifferences() throws {
        for name in ["mlp", "cnn", "mobile", "resnet", "densenet", "inception", "sklearn_mlp"] {
            let network = try loadONNXNetwork(path: fixture(name)).copy(as: .float64)
            let d = network.featureCount, k = network.classCount
            var random = SeededRandom(seed: 3)
            let x = (0..<d).map { _ in random.uniform(0, 1) }
            let cotangent = (0..<k).map { _ in random.uniform(-0.5, 0.5) }
            let evaluator = NetworkEvaluator(network)
            func loss(_ x: [Double]) -> Double {
                x.withUnsafeBufferPointer { evaluator.forward($0, rows: 1) }
                let p = evaluator.value(network.outputs["probabilities"]!)
                return zip(p, cotangent).reduce(0.0) { $0 + $1.0 * $1.1 }
            }
            _ = loss(x)
            let gradient = cotangent.withUnsafeBufferPointer { Array(evaluator.backward(from: network.outputs["probabilities"]!, cotangent: $0)) }
            let scale = max(gradient.map(abs).max()!, 1e-8)
            for i in stride(from: 0, to: d, by: max(1, d / 16)) {
                var plus = x, minus = x
                plus[i] += 1e-6
                minus[i] -= 1e-6
                let numeric = (loss(plus) - loss(minus)) / 2e-6
                XCTAssertEqual(gradient[i], numeric, accuracy: 1e-6 * scale + 1e-9, "\(name) feature \(i)")
            }
        }
    }

    func expectModelError(_ bytes: [UInt8], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try bytes.withUnsafeBytes { try networkFromONNX($0) }
            XCTFail("no error; expected \(fragment)", file: file, line: line)
        } catch let error as CFXError {
            XCTAssertEqual(error.kind, .model, error.message, file: file, line: line)
            XCTAssertTrue(error.message.contains(fragment), "\"\(error.message)\" lacks \"\(fragment)\"", file: file, line: line)
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
        }
    }

    func testHostileWireFormatIsAModelError() {
        expectModelError([0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], "truncated")  // graph of 4 GiB in 6 bytes
        expectModelError([0x08] + [UInt8](repeating: 0xFF, count: 11), "varint")  // ir_version: 11-byte varint
        expectModelError([0x0B], "wire type 3")  // a group
        expectModelError([0x00], "field number 0")
        expectModelError([], "no graph")
        expectModelError([0x3A, 0x00], "operator set missing")  // an empty graph, no opset_import
    }

    /// Every prefix and many one-byte corruptions of a real file: an error or a network, never a trap.
    func testTruncatedAndCorruptedFilesNeverTrap() throws {
        let original = try bytes("resnet")
        for length in stride(from: 0, to: original.count, by: 9) {
            _ = try? Array(original[..<length]).withUnsafeBytes { try networkFromONNX($0) }
        }
        var random = SeededRandom(seed: 7)
        for _ in 0..<600 {
            var corrupt = original
            corrupt[Int(random.uniform(0, Double(corrupt.count)))] = UInt8(random.uniform(0, 255.99))
            _ = try? corrupt.withUnsafeBytes { try networkFromONNX($0) }
        }
    }
}
