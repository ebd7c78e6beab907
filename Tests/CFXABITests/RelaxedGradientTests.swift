import CCFX
import CFXCore
import Foundation
import XCTest

/// cfx_model_convert's "relax_sigma": a tree ensemble whose predictions are the real ensemble's and
/// whose gradient is the relaxation's, so that Wachter runs on a random forest; the tree methods
/// take it too; errors name the key.
final class RelaxedGradientTests: XCTestCase {
    func converted(_ model: OpaquePointer, _ options: String) throws -> OpaquePointer {
        var out: OpaquePointer?
        try check { cfx_model_convert(model, options, &out, $0) }
        return out!
    }

    /// Wachter on the forest fixture: the plain ensemble has no gradient; converted, its
    /// predictions are unchanged, its gradient nonzero, and Wachter's counterfactuals flip the real
    /// forest on most of the first 30 test rows.
    func testWachterRunsOnARelaxedForest() throws {
        let xs = Array(try Fixture("breast_cancer").xTest.prefix(30))
        var forest: OpaquePointer?
        try check { cfx_model_load("\(TreeEnsembleTests.directory)/sklearn_forest_cancer.onnx", &forest, $0) }
        defer { cfx_model_free(forest) }
        let relaxed = try converted(forest!, #"{"relax_sigma": 3}"#)
        defer { cfx_model_free(relaxed) }
        var (p, q) = ([Double](repeating: 0, count: 60), [Double](repeating: 0, count: 60))
        try check { cfx_model_predict(forest, xs.flatMap { $0 }, 30, 30, &p, $0) }
        try check { cfx_model_predict(relaxed, xs.flatMap { $0 }, 30, 30, &q, $0) }
        XCTAssertEqual(p, q, "the real forest's predictions")
        var grad = [Double](repeating: 0, count: 30)
        try check { cfx_model_vjp(relaxed, xs[0], 1, 30, [-1, 1], 2, &grad, $0) }
        XCTAssertGreaterThan(grad.map(abs).max()!, 0)
        let plain = try makeExplainer(forest!, #"{"method": "wachter", "max_iter": 10}"#)
        defer { cfx_explainer_free(plain) }
        assertABIFails(CFX_ERR_MODEL, "no gradient") { _ = try explain(plain, [xs[0]]) }
        let wachter = try makeExplainer(relaxed, #"{"method": "wachter", "max_lam_steps": 5, "max_iter": 300, "n_threads": 1}"#)
        defer { cfx_explainer_free(wachter) }
        var found = 0
        for e in try explain(wachter, xs) {
            guard let cf = e["cf"] as? [String: Any], e["success"] as? Bool == true else { continue }
            var proba = [0.0, 0.0]
            try check { cfx_model_predict(forest, cf["X"] as! [Double], 1, 30, &proba, $0) }
            XCTAssertNotEqual(argmax(proba), e["orig_class"] as? Int, "valid on the real forest")
            found += 1
        }
        XCTAssertGreaterThan(found, 15, "Wachter flips the real forest on most rows")
        let focus = try makeExplainer(relaxed, #"{"method": "focus", "max_steps": 50}"#)
        cfx_explainer_free(focus)
    }

    func testErrorsNameTheKey() throws {
        let network = try makeModel(try Fixture("iris").spec)
        defer { cfx_model_free(network) }
        assertABIFails(CFX_ERR_CONFIG, "relax_sigma") { _ = try converted(network, #"{"relax_sigma": 3}"#) }
        var forest: OpaquePointer?
        try check { cfx_model_load("\(TreeEnsembleTests.directory)/xgboost_iris.json", &forest, $0) }
        defer { cfx_model_free(forest) }
        for bad in [#"{"relax_sigma": 0}"#, #"{"relax_sigma": -2}"#, #"{"relax_sigma": "x"}"#] {
            assertABIFails(CFX_ERR_CONFIG, "relax_sigma") { _ = try converted(forest!, bad) }
        }
    }
}
