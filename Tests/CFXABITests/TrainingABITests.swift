import CCFX
import XCTest
@testable import CFXABI
import CFXCore
import CFXFormats

/// Batch norm specs and the training config, through the formats and the C functions.
final class TrainingABITests: XCTestCase {
    func testBatchNormSpecsReadAndWriteBack() throws {
        let spec = #"""
        {"input_shape": [2, 2, 2], "layers": [
          {"type": "batch_norm", "eps": 0.001, "momentum": 0.3,
           "tensors": {"weight": [2, 3], "bias": [0.5, -0.5], "running_mean": [1, 2], "running_var": [4, 9]}}]}
        """#
        let network = try networkFromSpec(try JSON.parse(spec, "spec"))
        let norm = try XCTUnwrap({ if case .layer(let op, _) = network.nodes[0] { return op as? BatchNorm }; return nil }())
        XCTAssertEqual(norm.eps, 0.001)
        XCTAssertEqual(norm.momentum, 0.3)
        let x: [Double] = [1, 3, 5, 7, 2, 2, 2, 2]
        let y = try ModelSession(model: network).predict(x)
        XCTAssertEqual(y[0], 2 * (1 - 1) / (4.001).squareRoot() + 0.5, accuracy: 1e-12)
        XCTAssertEqual(y[4], 3 * (2 - 2) / (9.001).squareRoot() - 0.5, accuracy: 1e-12)
        let text = String(cString: try specOfNetwork(network, inlineTensors: true).serialized())
        let reread = try networkFromSpec(try JSON.parse(text, "written"))
        XCTAssertEqual(Array(reread.parameters), Array(network.parameters))
        XCTAssertEqual((try reread.nodes.first.flatMap { if case .layer(let op, _) = $0 { return op as? BatchNorm }; return nil })?.momentum, 0.3)

        for (bad, message) in [(#"{"type": "batch_norm", "eps": 0}"#, "eps: must be positive"),
                               (#"{"type": "batch_norm", "momentum": 2}"#, "momentum: must be in [0, 1]"),
                               (#"{"type": "batch_norm", "axis": 1}"#, "layers[0].axis: unknown key")] {
            XCTAssertThrowsError(try networkFromSpec(try JSON.parse(#"{"input_shape": [3], "layers": [\#(bad)]}"#, "spec"))) {
                XCTAssertTrue(($0 as! CFXError).message.contains(message), "\($0)")
            }
        }
    }

    func testDefaultTrainingConfigIsAcceptedBackAndSchedulesParse() throws {
        var out: UnsafeMutablePointer<CChar>?
        try check { cfx_default_config("train", &out, $0) }
        let defaults = takeString(out)
        let model = try makeModel(#"{"input_shape": [2], "layers": [{"type": "dense", "outputs": 2}, {"type": "softmax"}]}"#)
        defer { cfx_model_free(model) }
        let x: [Double] = [0, 1, 1, 0, 1, 1, 0, 0], y: [Double] = [0, 1, 1, 0]
        var report: UnsafeMutablePointer<CChar>?
        for config in [defaults, #"{"schedule": "cosine", "optimizer": "sgd", "nesterov": true}"#,
                       #"{"schedule": {"type": "step", "step_size": 2, "gamma": 0.5}, "epochs": 4}"#] {
            try check { cfx_model_train(model, x, 4, 2, y, 1, config, nil, nil, &report, $0) }
            let parsed = try jsonObject(takeString(report))
            XCTAssertNotNil(parsed["history"] as? [Any])
        }
        var error = cfx_error()
        XCTAssertEqual(cfx_model_train(model, x, 4, 2, y, 1, #"{"nesterov": true, "momentum": 0}"#, nil, nil, &report, &error), CFX_ERR_CONFIG)
        XCTAssertNil(report)
    }
}
