import CCFX
import Foundation
import XCTest
@testable import CFXABI

/// CFProto through the C ABI: k-d tree counterfactuals for the iris and breast-cancer MLPs, and
/// the configuration, fitting and role errors.
final class CFProtoABITests: XCTestCase {
    private func assertFails(_ expected: cfx_status, _ mentions: String, file: StaticString = #filePath, line: UInt = #line,
                             _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let error = error as? ABIError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(error.status, expected, error.message, file: file, line: line)
            XCTAssertTrue(error.message.contains(mentions), "\(error.message) should mention \(mentions)", file: file, line: line)
        }
    }

    private func trainingRows(_ name: String) throws -> [[Double]] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures/\(name)_mlp.json")
        return try jsonObject(String(contentsOf: url, encoding: .utf8))["x_train"] as! [[Double]]
    }

    /// Share of test instances with a valid counterfactual: another class than the original, and
    /// the class the model predicts on the returned X.
    private func validShare(_ name: String, config: String, limit: Int = .max) throws -> Double {
        let fixture = try Fixture(name)
        let model = try makeModel(fixture.spec)
        defer { cfx_model_free(model) }
        let explainer = try makeExplainer(model, config)
        defer { cfx_explainer_free(explainer) }
        let train = try trainingRows(name)
        try check { cfx_explainer_fit(explainer, train.flatMap { $0 }, train.count, train[0].count, nil, $0) }
        let rows = Array(fixture.xTest.prefix(limit))
        var valid = 0
        for (i, explanation) in try explain(explainer, rows).enumerated() {
            let origClass = explanation["orig_class"] as! Int
            XCTAssertEqual((explanation["orig_proba"] as! [Double]).count, fixture.probaTest[i].count)
            XCTAssertNotEqual(explanation["id_proto"] as? Int, origClass)
            guard let cf = explanation["cf"] as? [String: Any] else { continue }
            let cfX = cf["X"] as! [Double]
            var proba = [Double](repeating: 0, count: fixture.probaTest[i].count)
            try check { cfx_model_predict(model, cfX, 1, cfX.count, &proba, $0) }
            let predicted = proba.indices.max { proba[$0] < proba[$1] }!
            XCTAssertEqual(cf["class"] as? Int, predicted)
            XCTAssertEqual((cf["grads_graph"] as! [Double]).count, cfX.count)
            XCTAssertEqual((cf["grads_num"] as! [Double]).count, cfX.count)
            XCTAssertNotNil(explanation["trust_score"] as? Double)
            if predicted != origClass { valid += 1 }
        }
        return Double(valid) / Double(rows.count)
    }

    func testIrisWithKDTrees() throws {
        let share = try validShare("iris", config: #"{"method": "cfproto", "use_kdtree": true, "theta": 10, "max_iterations": 300, "c_steps": 5, "return_all": false}"#)
        XCTAssertGreaterThanOrEqual(share, 0.95)
    }

    func testBreastCancerWithKDTrees() throws {
        let share = try validShare("breast_cancer", config: #"{"method": "cfproto", "use_kdtree": true, "theta": 10, "max_iterations": 200, "c_steps": 4, "return_all": false}"#, limit: 60)
        XCTAssertGreaterThanOrEqual(share, 0.95)
    }

    func testIrisBlackBoxFastMode() throws {
        // Prototype term only (c_init 0, c_steps 1), as alibi's fast mode for black-box models.
        let share = try validShare("iris", config: #"{"method": "cfproto", "use_kdtree": true, "theta": 100, "c_init": 0, "c_steps": 1, "max_iterations": 500, "return_all": false}"#)
        XCTAssertGreaterThanOrEqual(share, 0.95)
    }

    func testDefaultsAndErrors() throws {
        var json: UnsafeMutablePointer<CChar>?
        try check { cfx_default_config("cfproto", &json, $0) }
        let defaults = try jsonObject(takeString(json))
        XCTAssertEqual(defaults["beta"] as? Double, 0.1)
        XCTAssertEqual(defaults["c_init"] as? Double, 10)
        XCTAssertEqual(defaults["max_iterations"] as? Int, 1000)
        XCTAssertEqual(defaults["eps"] as? [Double], [1e-3, 1e-3])
        XCTAssertEqual(defaults["clip"] as? [Double], [-1000, 1000])
        XCTAssertTrue(defaults["target_class"] is NSNull)

        let fixture = try Fixture("iris")
        let model = try makeModel(fixture.spec)
        defer { cfx_model_free(model) }
        assertFails(CFX_ERR_CONFIG, "tehta") { _ = try makeExplainer(model, #"{"method": "cfproto", "tehta": 1}"#) }
        assertFails(CFX_ERR_CONFIG, "cat_vars") { _ = try makeExplainer(model, #"{"method": "cfproto", "cat_vars": {"x": 3}}"#) }
        assertFails(CFX_ERR_CONFIG, "cat_vars") { _ = try makeExplainer(model, #"{"method": "cfproto", "cat_vars": {"9": 3}}"#) }
        assertFails(CFX_ERR_CONFIG, "cat_vars") { _ = try makeExplainer(model, #"{"method": "cfproto", "cat_vars": {"1": 1}}"#) }
        assertFails(CFX_ERR_CONFIG, "k_type") { _ = try makeExplainer(model, #"{"method": "cfproto", "k_type": "median"}"#) }
        assertFails(CFX_ERR_CONFIG, "eps") { _ = try makeExplainer(model, #"{"method": "cfproto", "eps": [0.001]}"#) }

        let explainer = try makeExplainer(model, #"{"method": "cfproto", "use_kdtree": true}"#)
        defer { cfx_explainer_free(explainer) }
        assertFails(CFX_ERR_INVALID_ARGUMENT, "cfx_explainer_fit") { _ = try explain(explainer, [fixture.xTest[0]]) }
        assertFails(CFX_ERR_CONFIG, "it accepts: encoder, autoencoder") { try check { cfx_explainer_set_model(explainer, "decoder", model, $0) } }
        // An "autoencoder" must map the model's features to themselves: the error comes with the fit.
        try check { cfx_explainer_set_model(explainer, "autoencoder", model, $0) }
        let train = try trainingRows("iris")
        assertFails(CFX_ERR_CONFIG, "autoencoder") { try check { cfx_explainer_fit(explainer, train.flatMap { $0 }, train.count, 4, nil, $0) } }
    }

    func testCategoricalConfigRoundTrips() throws {
        let fixture = try Fixture("iris")
        let model = try makeModel(fixture.spec)
        defer { cfx_model_free(model) }
        let explainer = try makeExplainer(model, #"{"method": "cfproto", "cat_vars": {"3": 4, "1": 2}, "d_type": "abdm-mvdm", "w": 0.3}"#)
        defer { cfx_explainer_free(explainer) }
        var json: UnsafeMutablePointer<CChar>?
        try check { cfx_explainer_config(explainer, &json, $0) }
        let config = try jsonObject(takeString(json))
        XCTAssertEqual(config["cat_vars"] as? [String: Int], ["1": 2, "3": 4])
        XCTAssertEqual(config["w"] as? Double, 0.3)
        // Training rows that are not categories in a categorical column are rejected at fit.
        let train = try trainingRows("iris")
        assertFails(CFX_ERR_INVALID_ARGUMENT, "x row 0") { try check { cfx_explainer_fit(explainer, train.flatMap { $0 }, train.count, 4, nil, $0) } }
    }
}
