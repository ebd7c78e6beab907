import CCFX
import Foundation
import XCTest
@testable import CFXABI
import CFXCore
import CFXFormats

/// DeDUCE, JSMA and feature densities through the exported C functions.
final class DeDUCEABITests: XCTestCase {
    var model: OpaquePointer!
    var training: [Double] = []
    var labels: [Double] = []
    let rowsOfTraining = 60

    /// A 1×4×4 conv net with a 4-dimensional "features" output and 3 classes, random weights.
    override func setUpWithError() throws {
        var state: UInt64 = 0x5EED
        func next() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        let network = try Network(inputShape: [1, 4, 4], nodes: [
            .layer(Conv2D(outChannels: 4, kernelSize: 3, padding: 1)),
            .layer(Elementwise(.leakyRelu(slope: 0.01))),
            .layer(GlobalAveragePool(), name: "features"),
            .layer(Dense(outputs: 3)),
            .layer(Softmax()),
        ])
        for i in network.parameters.indices { network.parameters[i] = (next() - 0.5) * 2 }
        for i in network.parameter("layers.3.weight")!.indices { network.parameter("layers.3.weight")![i] *= 20 }
        network.parametersChanged()
        model = retainedHandle(ModelHandle(network), .model)
        training = (0..<rowsOfTraining * 16).map { _ in next() }
        labels = (0..<rowsOfTraining).map { Double($0 % 3) }
    }

    override func tearDown() { cfx_model_free(model) }

    func status(_ body: (UnsafeMutablePointer<cfx_error>) -> cfx_status) -> (cfx_status, String) {
        var error = cfx_error()
        let status = body(&error)
        return (status, withUnsafeBytes(of: &error.message) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) })
    }

    func testExplainBeforeFitFails() throws {
        let explainer = try makeExplainer(model, #"{"method": "deduce", "target_class": 1}"#)
        defer { cfx_explainer_free(explainer) }
        var out: UnsafeMutablePointer<CChar>?
        let (code, message) = status { cfx_explain(explainer, Array(training[0..<16]), 1, 16, &out, $0) }
        XCTAssertEqual(code, CFX_ERR_INVALID_ARGUMENT)
        XCTAssertTrue(message.contains("not fitted"), message)
    }

    func testConfigErrors() throws {
        var explainer: OpaquePointer?
        for (config, key) in [(#"{"method": "deduce", "feature_output": "nope"}"#, "feature_output"),
                              (#"{"method": "deduce", "target_class": 3}"#, "target_class"),
                              (#"{"method": "deduce", "target_class": "other"}"#, "target_class"),
                              (#"{"method": "deduce", "target_class": [0, 0]}"#, "target_class"),
                              (#"{"method": "jsma", "max_changes": 3}"#, "max_changes"),
                              (#"{"method": "deduce", "loss": "l2"}"#, "loss"),
                              (#"{"method": "deduce", "step": 0}"#, "step")] {
            let (code, message) = status { cfx_explainer_create(model, config, &explainer, $0) }
            XCTAssertEqual(code, CFX_ERR_CONFIG, config)
            XCTAssertTrue(message.hasPrefix(key), "\(config): \(message)")
        }
        var json: UnsafeMutablePointer<CChar>?
        try check { cfx_default_config("deduce", &json, $0) }
        let defaults = try jsonObject(takeString(json))
        XCTAssertEqual(defaults["max_changes"] as? Int, 5)
        XCTAssertEqual(defaults["momentum"] as? Double, 0.6)
        XCTAssertEqual(defaults["step"] as? Double, 0.2)
        XCTAssertEqual(defaults["max_iter"] as? Int, 700)
        XCTAssertEqual(defaults["target_confidence"] as? Double, 0.5)
        XCTAssertEqual(defaults["target_class"] as? String, "all")
        XCTAssertEqual(defaults["feature_output"] as? String, "features")
    }

    func testFitAndExplain() throws {
        let explainer = try makeExplainer(model, #"{"method": "deduce", "trace": true, "n_threads": 2}"#)
        defer { cfx_explainer_free(explainer) }
        try check { cfx_explainer_fit(explainer, training, rowsOfTraining, 16, labels, $0) }
        let rows = (0..<3).map { r in Array(training[r * 16..<(r + 1) * 16]) }
        let explanations = try explain(explainer, rows)
        XCTAssertEqual(explanations.count, 6)  // 3 instances × 2 other classes
        XCTAssertEqual(explanations.map { $0["instance"] as! Int }, [0, 0, 1, 1, 2, 2])
        for e in explanations {
            XCTAssertNotEqual(e["target_class"] as? Int, e["orig_class"] as? Int)
            let trace = e["trace"] as! [String: Any]
            XCTAssertEqual((trace["target_proba"] as! [Double]).count, (trace["changed"] as! [Any]).count)
            if let cf = e["cf"] as? [String: Any] {
                XCTAssertEqual(e["success"] as? Bool, true)
                XCTAssertEqual((cf["X"] as! [Double]).count, 16)
                let density = cf["log_density"] as! [String: Any]
                XCTAssertNotNil(density["before"] as? Double)
                XCTAssertNotNil(density["after"] as? Double)
                XCTAssertGreaterThanOrEqual((cf["proba"] as! [Double])[e["target_class"] as! Int], 0.5)
            } else {
                XCTAssertEqual(e["success"] as? Bool, false)
                XCTAssertNotNil(e["reason"] as? String)
            }
        }
        XCTAssertTrue(explanations.contains { $0["success"] as? Bool == true })

        // A density fitted apart and set on a second explainer gives the same explanations.
        var density: OpaquePointer?
        try check { cfx_density_fit(model, "features", training, rowsOfTraining, 16, labels, &density, $0) }
        defer { cfx_density_free(density) }
        let second = try makeExplainer(model, #"{"method": "deduce", "trace": true, "n_threads": 1}"#)
        defer { cfx_explainer_free(second) }
        try check { cfx_explainer_set_density(second, density, $0) }
        let again = try explain(second, rows)
        XCTAssertEqual(again.map { ($0["cf"] as? [String: Any])?["X"] as? [Double] }, explanations.map { ($0["cf"] as? [String: Any])?["X"] as? [Double] })

        // JSMA needs no fit and reports no density.
        let jsma = try makeExplainer(model, #"{"method": "jsma", "target_class": [0, 1, 2]}"#)
        defer { cfx_explainer_free(jsma) }
        let jsmaExplanations = try explain(jsma, rows)
        XCTAssertEqual(jsmaExplanations.count, 9)
        for e in jsmaExplanations { if let cf = e["cf"] as? [String: Any] { XCTAssertTrue(cf["log_density"] is NSNull) } }
        let (code, message) = status { cfx_explainer_set_density(jsma, density, $0) }
        XCTAssertEqual(code, CFX_ERR_CONFIG, message)
    }

    func testDensityLogProbSaveAndLoad() throws {
        var density: OpaquePointer?
        try check { cfx_density_fit(model, nil, training, rowsOfTraining, 16, labels, &density, $0) }
        defer { cfx_density_free(density) }
        var json: UnsafeMutablePointer<CChar>?
        try check { cfx_density_info(density, &json, $0) }
        let info = try jsonObject(takeString(json))
        XCTAssertEqual(info["n_classes"] as? Int, 3)
        XCTAssertEqual(info["dimension"] as? Int, 4)
        XCTAssertEqual(info["counts"] as? [Int], [20, 20, 20])
        XCTAssertEqual(info["labels"] as? String, "given")

        let n = 5
        var perClass = [Double](repeating: 0, count: n * 3)
        var mixture = [Double](repeating: 0, count: n)
        try check { cfx_density_log_prob(density, model, training, n, 16, &perClass, &mixture, $0) }
        for r in 0..<n {
            let values = Array(perClass[r * 3..<(r + 1) * 3])
            XCTAssertEqual(mixture[r], log(values.map(exp).reduce(0, +)), accuracy: 1e-9)
        }
        // With model NULL the rows are feature vectors.
        let network = try object(model, .model, ModelHandle.self, "model").model as! Network
        let evaluator = network.makeEvaluator() as! NetworkEvaluator
        let buffer = try network.outputBuffer("features")
        training.withUnsafeBufferPointer { evaluator.forward(UnsafeBufferPointer(rebasing: $0[0..<n * 16]), rows: n, through: buffer) }
        let features = Array(evaluator.value(buffer))
        var fromFeatures = [Double](repeating: 0, count: n * 3)
        try check { cfx_density_log_prob(density, nil, features, n, 4, &fromFeatures, nil, $0) }
        for (a, b) in zip(fromFeatures, perClass) { XCTAssertEqual(a, b, accuracy: 1e-12 * max(1, abs(a))) }

        let path = NSTemporaryDirectory() + "cfx-density-\(getpid()).safetensors"
        defer { unlink(path) }
        try check { cfx_density_save(density, path, $0) }
        var loaded: OpaquePointer?
        try check { cfx_density_load(path, &loaded, $0) }
        defer { cfx_density_free(loaded) }
        var reloaded = [Double](repeating: 0, count: n * 3)
        try check { cfx_density_log_prob(loaded, model, training, n, 16, &reloaded, nil, $0) }
        XCTAssertEqual(reloaded, perClass)

        // Errors: wrong widths, nothing asked, a missing file, an unknown output.
        XCTAssertEqual(status { cfx_density_log_prob(density, nil, features, n, 3, &fromFeatures, nil, $0) }.0, CFX_ERR_SHAPE)
        XCTAssertEqual(status { cfx_density_log_prob(density, model, training, n, 16, nil, nil, $0) }.0, CFX_ERR_INVALID_ARGUMENT)
        XCTAssertEqual(status { cfx_density_load("/nonexistent/d.safetensors", &loaded, $0) }.0, CFX_ERR_IO)
        var other: OpaquePointer?
        let (code, message) = status { cfx_density_fit(model, "nope", training, rowsOfTraining, 16, labels, &other, $0) }
        XCTAssertEqual(code, CFX_ERR_INVALID_ARGUMENT)
        XCTAssertTrue(message.hasPrefix("feature_output"), message)
        // Too few rows for a class.
        XCTAssertEqual(status { cfx_density_fit(model, nil, training, 4, 16, labels, &other, $0) }.0, CFX_ERR_INVALID_ARGUMENT)
    }
}
