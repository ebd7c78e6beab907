import CCFX
import XCTest
@testable import CFXABI
import CFXCore
import CFXFormats

/// Strict configs and model specs: every mistake is an error that names the key or layer.
final class ConfigTests: XCTestCase {
    let logistic = #"{"input_shape": [2], "layers": [{"type": "dense", "weights": [[1, -1], [-1, 1]], "bias": [0, 0]}, {"type": "softmax"}]}"#

    private func assertFails(_ expected: cfx_status, _ mentions: String, file: StaticString = #filePath, line: UInt = #line,
                             _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let error = error as? ABIError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(error.status, expected, error.message, file: file, line: line)
            XCTAssertTrue(error.message.contains(mentions), "\(error.message) should mention \(mentions)", file: file, line: line)
        }
    }

    func testConfigMistakesNameTheKey() throws {
        let model = try makeModel(logistic)
        defer { cfx_model_free(model) }
        assertFails(CFX_ERR_JSON, "line 1") { _ = try makeExplainer(model, #"{"method": "wachter""#) }
        assertFails(CFX_ERR_CONFIG, "method") { _ = try makeExplainer(model, #"{"tol": 0.1}"#) }
        assertFails(CFX_ERR_CONFIG, "nope") { _ = try makeExplainer(model, #"{"method": "nope"}"#) }
        assertFails(CFX_ERR_CONFIG, "tolerance") { _ = try makeExplainer(model, #"{"method": "wachter", "tolerance": 0.1}"#) }
        assertFails(CFX_ERR_CONFIG, "n_threads") { _ = try makeExplainer(model, #"{"method": "wachter", "tolerance": 0.1}"#) }
        assertFails(CFX_ERR_CONFIG, "tol") { _ = try makeExplainer(model, #"{"method": "wachter", "tol": "x"}"#) }
        assertFails(CFX_ERR_CONFIG, "tol") { _ = try makeExplainer(model, #"{"method": "wachter", "tol": -1}"#) }
        assertFails(CFX_ERR_CONFIG, "max_iter") { _ = try makeExplainer(model, #"{"method": "wachter", "max_iter": 2.5}"#) }
        assertFails(CFX_ERR_CONFIG, "target_class") { _ = try makeExplainer(model, #"{"method": "wachter", "target_class": "best"}"#) }
        assertFails(CFX_ERR_CONFIG, "target_class") { _ = try makeExplainer(model, #"{"method": "wachter", "target_class": 5}"#) }
        assertFails(CFX_ERR_CONFIG, "feature_range") { _ = try makeExplainer(model, #"{"method": "wachter", "feature_range": [0]}"#) }
        assertFails(CFX_ERR_CONFIG, "feature_range[1]") { _ = try makeExplainer(model, #"{"method": "wachter", "feature_range": [0, [1, 2, 3]]}"#) }
        assertFails(CFX_ERR_CONFIG, "eps[1]") { _ = try makeExplainer(model, #"{"method": "wachter", "eps": [0.1, "a"]}"#) }
        assertFails(CFX_ERR_CONFIG, "immutable[0]") { _ = try makeExplainer(model, #"{"method": "wachter", "immutable": [true]}"#) }
        assertFails(CFX_ERR_CONFIG, "n_threads") { _ = try makeExplainer(model, #"{"method": "wachter", "n_threads": -2}"#) }
        assertFails(CFX_ERR_CONFIG, "all_candidates") { _ = try makeExplainer(model, #"{"method": "wachter", "all_candidates": "some"}"#) }
        assertFails(CFX_ERR_CONFIG, "all_candidates") { _ = try makeExplainer(model, #"{"method": "wachter", "all_candidates": 1}"#) }
        assertFails(CFX_ERR_JSON, "duplicate") { _ = try makeExplainer(model, #"{"method": "wachter", "tol": 0.1, "tol": 0.2}"#) }
        // The model is still usable after every failure.
        let explainer = try makeExplainer(model, #"{"method": "wachter"}"#)
        cfx_explainer_free(explainer)
    }

    func testModelSpecMistakesNameTheLayer() {
        assertFails(CFX_ERR_JSON, "spec_json") { _ = try makeModel("[1, 2") }
        assertFails(CFX_ERR_MODEL, "layers[0].weights: a 1 × 2 matrix, expected outputs × inputs with 3 inputs (shape [1, 3]") {
            _ = try makeModel(#"{"input_shape": [3], "layers": [{"type": "dense", "weights": [[1, 2]], "bias": [0]}]}"#)
        }
        // Keras's and scikit-learn's layout (inputs × outputs) gets a hint to transpose.
        let kerasWeights = "[" + Array(repeating: "[" + Array(repeating: "0.1", count: 16).joined(separator: ", ") + "]", count: 4).joined(separator: ", ") + "]"
        assertFails(CFX_ERR_MODEL, "layers[0].weights: a 4 × 16 matrix, expected outputs × inputs with 4 inputs (shape [4, 4], PyTorch's layout); this looks like inputs × outputs (Keras's and scikit-learn's layout): transpose it") {
            _ = try makeModel(#"{"input_shape": [4], "layers": [{"type": "dense", "weights": \#(kerasWeights)}]}"#)
        }
        assertFails(CFX_ERR_MODEL, "layers[0].weights: has 4 rows, but outputs is 16; rows are outputs") {
            _ = try makeModel(#"{"input_shape": [4], "layers": [{"type": "dense", "outputs": 16, "weights": \#(kerasWeights)}]}"#)
        }
        assertFails(CFX_ERR_MODEL, "layers[1].bias: has 2 values, expected 3") {
            _ = try makeModel(#"{"input_shape": [2], "layers": [{"type": "relu"}, {"type": "dense", "weights": [[1, 2], [3, 4], [5, 6]], "bias": [0, 0]}]}"#)
        }
        assertFails(CFX_ERR_MODEL, "layers[0].tensors.scale: the layer has no such tensor (its tensors: weight, bias)") {
            _ = try makeModel(#"{"input_shape": [2], "layers": [{"type": "dense", "outputs": 1, "tensors": {"scale": [1]}}]}"#)
        }
        assertFails(CFX_ERR_MODEL, "layers[1].type") {
            _ = try makeModel(#"{"input_shape": [2], "layers": [{"type": "relu"}, {"type": "conv9"}]}"#)
        }
        assertFails(CFX_ERR_MODEL, "layers[0].weights[1]") {
            _ = try makeModel(#"{"input_shape": [2], "layers": [{"type": "dense", "weights": [[1, 2], [1]]}]}"#)
        }
        assertFails(CFX_ERR_MODEL, "bias") {
            _ = try makeModel(#"{"input_shape": [2], "layers": [{"type": "dense", "weights": [[1, 2]], "bias": [0, 1]}]}"#)
        }
        assertFails(CFX_ERR_MODEL, "input_shape") { _ = try makeModel(#"{"layers": []}"#) }
        assertFails(CFX_ERR_MODEL, "colour") { _ = try makeModel(#"{"input_shape": [2], "layers": [{"type": "relu"}], "colour": 1}"#) }
        assertFails(CFX_ERR_MODEL, "layers[0].activation") {
            _ = try makeModel(#"{"input_shape": [2], "layers": [{"type": "relu", "activation": 1}]}"#)
        }
    }

    func testDefaultConfigIsTheEffectiveConfigOfAnEmptyOne() throws {
        var defaults: UnsafeMutablePointer<CChar>?
        try check { cfx_default_config("wachter", &defaults, $0) }
        let defaultText = takeString(defaults)
        let parsed = try jsonObject(defaultText)
        XCTAssertEqual(parsed["target_proba"] as? Double, 1.0)
        XCTAssertEqual(parsed["tol"] as? Double, 0.05)
        XCTAssertEqual(parsed["max_iter"] as? Int, 1000)
        XCTAssertEqual(parsed["early_stop"] as? Int, 50)
        XCTAssertEqual(parsed["lam_init"] as? Double, 0.1)
        XCTAssertEqual(parsed["max_lam_steps"] as? Int, 10)
        XCTAssertEqual(parsed["learning_rate_init"] as? Double, 0.1)
        XCTAssertEqual(parsed["eps"] as? Double, 0.01)
        XCTAssertEqual(parsed["target_class"] as? String, "other")

        let model = try makeModel(logistic)
        defer { cfx_model_free(model) }
        // The defaults are themselves a valid config, and an empty config has exactly these values.
        for config in [defaultText, #"{"method": "wachter"}"#] {
            let explainer = try makeExplainer(model, config)
            defer { cfx_explainer_free(explainer) }
            var effective: UnsafeMutablePointer<CChar>?
            try check { cfx_explainer_config(explainer, &effective, $0) }
            XCTAssertEqual(takeString(effective), defaultText)
        }
        assertFails(CFX_ERR_CONFIG, "method") {
            var out: UnsafeMutablePointer<CChar>?
            try check { cfx_default_config("alibi", &out, $0) }
        }
    }

    /// Every method takes the shared keys, at the values that leave its search as it was.
    func testEveryMethodTakesTheSharedKeys() throws {
        for method in ["wachter", "cfproto", "deduce", "jsma", "eccco", "feature_tweaking", "genetic", "focus"] {
            var out: UnsafeMutablePointer<CChar>?
            try check { cfx_default_config(method, &out, $0) }
            let parsed = try jsonObject(takeString(out))
            for key in ["feature_range", "immutable", "monotone", "sparsify"] {
                XCTAssertNotNil(parsed[key], "\(method): \(key)")
            }
            XCTAssertEqual(parsed["immutable"] as? [Int], [], method)
            XCTAssertEqual((parsed["monotone"] as? [String: Any])?.count, 0, method)
            // The genetic search keeps DiCE's default (its post-hoc sparsity runs); FOCUS restores
            // the features Adam moved a little before its shrink (docs/methods/focus.md).
            XCTAssertEqual(parsed["sparsify"] as? Bool, method == "genetic" || method == "focus", method)
        }
        // Feature Tweaking's sparsity pass has no repair round (trees have no gradient).
        var out: UnsafeMutablePointer<CChar>?
        try check { cfx_default_config("feature_tweaking", &out, $0) }
        XCTAssertNil(try jsonObject(takeString(out))["sparsify_repair_steps"])
    }

    /// meta.warnings names an instance outside the method's feature_range: for each of its
    /// explanations (JSMA: one per target), also when rows are explained one by one
    /// (on_error "record"); CFProto's range with categorical variables is the search space's.
    func testRangeWarningsFollowTheInstance() throws {
        let model = try makeModel(logistic)
        defer { cfx_model_free(model) }
        func warned(_ config: String, _ rows: [[Double]]) throws -> [Bool] {
            let explainer = try makeExplainer(model, config)
            defer { cfx_explainer_free(explainer) }
            return try explain(explainer, rows).map { (($0["meta"] as? [String: Any])?["warnings"] as? [String])?.isEmpty == false }
        }
        let rows = [[0.2, 0.4], [1.5, 0.5], [0.9, 0.1]]
        for onError in ["raise", "record"] {
            XCTAssertEqual(try warned(#"{"method": "jsma", "max_iter": 5, "on_error": "\#(onError)"}"#, rows), [false, true, false], onError)
            XCTAssertEqual(try warned(#"{"method": "wachter", "max_iter": 20, "feature_range": [0, [1, 0.3]], "on_error": "\#(onError)"}"#, rows),
                           [true, true, false], onError)
        }
        XCTAssertEqual(try warned(#"{"method": "cfproto", "max_iterations": 5, "c_steps": 1, "feature_range": [0, 1]}"#, rows), [false, true, false])
    }

    func testAuxiliaryModelsAndFitting() throws {
        let model = try makeModel(logistic)
        defer { cfx_model_free(model) }
        let explainer = try makeExplainer(model, #"{"method": "wachter", "return_all": false}"#)
        defer { cfx_explainer_free(explainer) }
        assertFails(CFX_ERR_CONFIG, "it accepts: none") { try check { cfx_explainer_set_model(explainer, "encoder", model, $0) } }
        assertFails(CFX_ERR_INVALID_ARGUMENT, "model") { try check { cfx_explainer_set_model(explainer, "encoder", nil, $0) } }
        let x: [Double] = [1, -1, -1, 1, 0.5, 0.5]
        assertFails(CFX_ERR_INVALID_ARGUMENT, "y[1]") { try check { cfx_explainer_fit(explainer, x, 3, 2, [0, 2, 1], $0) } }
        assertFails(CFX_ERR_INVALID_ARGUMENT, "y[0]") { try check { cfx_explainer_fit(explainer, x, 3, 2, [0.5, 1, 1], $0) } }
        assertFails(CFX_ERR_SHAPE, "features") { try check { cfx_explainer_fit(explainer, x, 2, 3, nil, $0) } }
        assertFails(CFX_ERR_NUMERIC, "x") { try check { cfx_explainer_fit(explainer, [1, .nan], 1, 2, nil, $0) } }
        // Wachter accepts training data and ignores it, as alibi's fit does.
        try check { cfx_explainer_fit(explainer, x, 3, 2, [0, 1, 1], $0) }
        XCTAssertEqual(try explain(explainer, [[1, -1]])[0]["success"] as? Bool, true)
    }

    func testShapeAndValueErrorsLeaveHandlesUsable() throws {
        let model = try makeModel(logistic)
        let explainer = try makeExplainer(model, #"{"method": "wachter", "return_all": false}"#)
        defer { cfx_explainer_free(explainer) }
        cfx_model_free(model)  // the explainer keeps its own reference
        var out: UnsafeMutablePointer<CChar>?
        assertFails(CFX_ERR_SHAPE, "features") { try check { cfx_explain(explainer, [1, 2, 3], 1, 3, &out, $0) } }
        assertFails(CFX_ERR_NUMERIC, "feature 1") { try check { cfx_explain(explainer, [1, .infinity], 1, 2, &out, $0) } }
        assertFails(CFX_ERR_INVALID_ARGUMENT, "x") { try check { cfx_explain(explainer, nil, 1, 2, &out, $0) } }
        assertFails(CFX_ERR_INVALID_ARGUMENT, "explainer") { try check { cfx_explain(nil, [1, 2], 1, 2, &out, $0) } }
        XCTAssertEqual(try explain(explainer, [[1, -1]])[0]["success"] as? Bool, true)
    }
}

/// A network written as a spec with inline tensors reads back to the same network.
final class SpecRoundTripTests: XCTestCase {
    func testWrittenSpecReadsBackToTheSameNetwork() throws {
        let spec = #"""
        {"input_shape": [3], "layers": [
          {"type": "dense", "outputs": 4, "tensors": {"weight": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "bias": [0.1, 0.2, 0.3, 0.4]}},
          {"type": "leaky_relu", "negative_slope": 0.2},
          {"type": "residual", "name": "features", "main": [{"type": "tanh"}, {"type": "dense", "outputs": 4}], "shortcut": []},
          {"type": "dense", "weights": [[1, -1, 0.5, 0], [0, 1, -1, 2]], "bias": [0, 1]},
          {"type": "softmax"}]}
        """#
        let network = try networkFromSpec(try JSON.parse(spec, "spec"))
        try network.setParameter("layers.2.main.1.weight", (0..<16).map { Double($0) / 10 - 0.8 })
        let written = try specOfNetwork(network, inlineTensors: true)
        let text = String(cString: try written.serialized())
        let reread = try networkFromSpec(try JSON.parse(text, "written spec"))
        XCTAssertEqual(reread.parameterList.map(\.name), network.parameterList.map(\.name))
        XCTAssertEqual(Array(reread.parameters), Array(network.parameters))
        XCTAssertEqual(reread.outputs, network.outputs)
        let x = [0.3, -0.2, 1.5]
        XCTAssertEqual(try ModelSession(model: reread).predict(x), try ModelSession(model: network).predict(x))
        XCTAssertTrue(text.contains(#""negative_slope":0.2"#), text)
    }
}
