import CCFX
import CFXCore
import Foundation
import XCTest

/// FOCUS through the C API on the committed tree fixtures: every counterfactual is valid on the
/// real ensemble and as far as it says; the shared keys (feature_range, immutable, monotone,
/// sparsify) hold; a class index as target; config errors name their key.
final class FOCUSTests: XCTestCase {
    static let cancer = ["xgboost_cancer.json", "lightgbm_cancer.txt", "sklearn_forest_cancer.onnx"]
    /// cfx's defaults with fewer steps, on the first 60 test rows (debug builds are slow).
    let fast = #""method": "focus", "max_steps": 300"#
    static let rows = 60

    func load(_ name: String) throws -> OpaquePointer {
        var model: OpaquePointer?
        try check { cfx_model_load("\(TreeEnsembleTests.directory)/\(name)", &model, $0) }
        return model!
    }

    func predictedClass(_ model: OpaquePointer, _ point: [Double]) throws -> Int {
        var proba = [Double](repeating: 0, count: 3)
        var (d, k) = (0, 0)
        try check { cfx_model_shape(model, &d, &k, $0) }
        try check { cfx_model_predict(model, point, 1, d, &proba, $0) }
        return argmax(Array(proba.prefix(k)))
    }

    /// The explanations of the cancer test rows under `extra` config keys, with the rows.
    func explained(_ name: String, _ extra: String = "") throws -> (OpaquePointer, [([Double], [String: Any])]) {
        let xs = Array(try Fixture("breast_cancer").xTest.prefix(Self.rows))
        let model = try load(name)
        let explainer = try makeExplainer(model, "{\(fast)\(extra)}")
        defer { cfx_explainer_free(explainer) }
        return (model, Array(zip(xs, try explain(explainer, xs))))
    }

    /// The rows' counterfactuals under `extra` config keys (instance, explanation, point), each
    /// checked to be valid on the real ensemble with the class it reports.
    func counterfactuals(_ name: String, _ extra: String) throws -> [(x: [Double], e: [String: Any], point: [Double])] {
        let (model, results) = try explained(name, extra)
        defer { cfx_model_free(model) }
        return try results.compactMap { x, e in
            guard let cf = e["cf"] as? [String: Any] else { return nil }
            let point = cf["X"] as! [Double]
            XCTAssertNotEqual(try predictedClass(model, point), e["orig_class"] as? Int, "\(name)\(extra)")
            XCTAssertEqual(try predictedClass(model, point), cf["class"] as? Int, "\(name)\(extra)")
            return (x, e, point)
        }
    }

    /// Valid on the real ensemble, `distance` is the ℓ2 (or ℓ1) distance, `changed` the ℓ0, and most
    /// rows succeed.
    func testCounterfactualsAreValidOnTheRealEnsemble() throws {
        for name in Self.cancer {
            for distance in ["l2", "l1"] {
                let found = try counterfactuals(name, #", "distance": "\#(distance)""#)
                for (x, e, point) in found {
                    let cf = e["cf"] as! [String: Any]
                    let delta = zip(point, x).map { $0 - $1 }
                    let value = distance == "l1" ? delta.reduce(0) { $0 + abs($1) } : delta.reduce(0) { $0 + $1 * $1 }.squareRoot()
                    XCTAssertEqual(cf["distance"] as! Double, value, accuracy: 1e-12, name)
                    XCTAssertEqual(cf["changed"] as? Int, delta.filter { $0 != 0 }.count, name)
                }
                XCTAssertGreaterThan(found.count, Self.rows * 8 / 10, "\(name) \(distance)")
            }
        }
    }

    /// immutable features never move; feature_range bounds every changed feature; monotone features move
    /// their way only (every feature increase-only, then decrease-only: without the constraint
    /// some would move the other way).
    func testConstraintsHold() throws {
        let immutable = [20, 21, 22, 23, 27]
        for name in Self.cancer {
            let cases: [(String, ([Double], [Double]) -> Bool)] = [
                (#", "immutable": [20, 21, 22, 23, 27]"#, { x, y in immutable.allSatisfy { x[$0] == y[$0] } }),
                // Changed features lie in the box (the shrink may put one back to an instance's value outside it).
                (#", "feature_range": [-1.5, 1.5]"#, { x, y in zip(x, y).allSatisfy { $0 == $1 || (-1.5 <= $1 && $1 <= 1.5) } }),
                (", \"monotone\": {\(monotone("increase"))}", { x, y in zip(x, y).allSatisfy { $1 >= $0 } }),
                (", \"monotone\": {\(monotone("decrease"))}", { x, y in zip(x, y).allSatisfy { $1 <= $0 } }),
            ]
            for (extra, holds) in cases {
                let found = try counterfactuals(name, extra)
                for (x, _, point) in found { XCTAssertTrue(holds(x, point), "\(name)\(extra)") }
                XCTAssertGreaterThan(found.count, 0, "\(name)\(extra)")
            }
        }
    }

    func monotone(_ direction: String) -> String {
        (0..<30).map { "\"\($0)\": \"\(direction)\"" }.joined(separator: ", ")
    }

    /// sparsify (on by default; here without the shrink, against neither): still valid, changes a subset of the plain counterfactual's features (restored
    /// ones equal the instance), `restored` counts them, and some rows change strictly fewer.
    func testSparsifyRestoresFeaturesAndStaysValid() throws {
        for name in Self.cancer {
            let (model, plain) = try explained(name, #", "sparsify": false, "shrink": false"#)
            let (again, sparse) = try explained(name, #", "sparsify": true, "shrink": false"#)
            defer { cfx_model_free(model); cfx_model_free(again) }
            var fewer = 0
            for ((x, e), (_, s)) in zip(plain, sparse) {
                guard let cf = e["cf"] as? [String: Any] else { XCTAssertTrue(s["cf"] is NSNull, name); continue }
                let scf = try XCTUnwrap(s["cf"] as? [String: Any], name)
                let (dense, point) = (cf["X"] as! [Double], scf["X"] as! [Double])
                XCTAssertNotEqual(try predictedClass(model, point), s["orig_class"] as? Int, name)
                for j in 0..<30 where point[j] != dense[j] { XCTAssertEqual(point[j], x[j], "\(name): feature \(j) restored exactly") }
                let changed = (0..<30).filter { point[$0] != x[$0] }.count
                XCTAssertEqual(scf["changed"] as? Int, changed, name)
                XCTAssertEqual((cf["changed"] as! Int) - changed, scf["restored"] as? Int, name)
                if changed < cf["changed"] as! Int { fewer += 1 }
            }
            XCTAssertGreaterThan(fewer, 0, name)
        }
    }

    /// shrink (FOCUS and Feature Tweaking, ℓ1): the counterfactual stays valid, never ends farther
    /// in ℓ1 (an exchange may move a feature away from the instance to bring others back), and some
    /// rows end strictly closer.
    func testShrinkMovesTowardsTheInstanceAndStaysValid() throws {
        let xs = Array(try Fixture("breast_cancer").xTest.prefix(Self.rows))
        for name in Self.cancer {
            let model = try load(name)
            defer { cfx_model_free(model) }
            for method in ["{\(fast), \"distance\": \"l1\"", #"{"method": "feature_tweaking", "distance": "l1""#] {
                let (plain, shrunk) = (try makeExplainer(model, method + #", "shrink": false}"#), try makeExplainer(model, method + #", "shrink": true}"#))
                defer { cfx_explainer_free(plain); cfx_explainer_free(shrunk) }
                var closer = 0
                for (x, (e, s)) in zip(xs, zip(try explain(plain, xs), try explain(shrunk, xs))) {
                    guard let cf = e["cf"] as? [String: Any] else { continue }
                    let (before, after) = (cf["X"] as! [Double], try XCTUnwrap(s["cf"] as? [String: Any], name)["X"] as! [Double])
                    XCTAssertNotEqual(try predictedClass(model, after), s["orig_class"] as? Int, "\(name) \(method): still valid")
                    let l1 = { (p: [Double]) in zip(p, x).reduce(0.0) { $0 + abs($1.0 - $1.1) } }
                    XCTAssertLessThanOrEqual(l1(after), l1(before), "\(name) \(method)")
                    if l1(after) < l1(before) - 1e-9 { closer += 1 }
                }
                XCTAssertGreaterThan(closer, 0, "\(name) \(method)")
            }
        }
    }

    /// patience 0 takes every step; patience 20 stops most rows early (the cfs stay valid); with
    /// β = 10 the distance holds most rows at x, and `retry` (β = 0) finds them a counterfactual,
    /// its steps added to the first search's.
    func testPatienceAndRetry() throws {
        let name = "sklearn_forest_cancer.onnx"
        let steps = { (e: [String: Any]) in (e["meta"] as! [String: Any])["gradient_evaluations"] as! Int }
        let (model, all) = try explained(name, #", "patience": 0, "retry": false"#)
        cfx_model_free(model)
        XCTAssertEqual(Set(all.map { steps($0.1) }), [300])
        let early = try counterfactuals(name, #", "patience": 20"#)
        XCTAssertGreaterThan(early.filter { steps($0.e) < 300 }.count, Self.rows / 2)
        let held = try counterfactuals(name, #", "beta": 10, "retry": false"#)
        let retried = try counterfactuals(name, #", "beta": 10"#)
        XCTAssertGreaterThan(retried.count, held.count + 10)
        XCTAssertTrue(retried.contains { steps($0.e) > 300 })
    }

    /// A class index as target on a 3-class model: every counterfactual has that class.
    func testClassIndexTarget() throws {
        let xs = try Fixture("iris").xTest
        let model = try load("xgboost_iris.json")
        defer { cfx_model_free(model) }
        let explainer = try makeExplainer(model, "{\(fast), \"target_class\": 2}")
        defer { cfx_explainer_free(explainer) }
        var found = 0
        for (x, e) in zip(xs, try explain(explainer, xs)) {
            guard let cf = e["cf"] as? [String: Any] else { continue }
            found += 1
            XCTAssertEqual(cf["class"] as? Int, 2)
            XCTAssertEqual(try predictedClass(model, cf["X"] as! [Double]), 2)
            XCTAssertNotEqual(e["orig_class"] as? Int, 2, "\(x)")
        }
        XCTAssertGreaterThan(found, 0)
    }

    func testConfigErrorsNameTheKey() throws {
        let network = try makeModel(try Fixture("iris").spec)
        defer { cfx_model_free(network) }
        assertABIFails(CFX_ERR_CONFIG, "tree ensemble") { _ = try makeExplainer(network, #"{"method": "focus"}"#) }
        let model = try load("xgboost_iris.json")
        defer { cfx_model_free(model) }
        for (config, key) in [(#""sigma": 0"#, "sigma"), (#""temperature": -1"#, "temperature"), (#""beta": -0.1"#, "beta"),
                              (#""learning_rate": 0"#, "learning_rate"), (#""max_steps": 0"#, "max_steps"),
                              (#""distance": "cosine""#, "distance"), (#""sigmaa": 1"#, "sigmaa"),
                              (#""patience": -1"#, "patience"), (#""cutoff": 0.7"#, "cutoff"), (#""retry": 1"#, "retry"),
                              (#""sparsify_repair_steps": 3"#, "sparsify_repair_steps"), (#""immutable": [4]"#, "immutable"),
                              (#""feature_range": [1, 0]"#, "feature_range")] {
            assertABIFails(CFX_ERR_CONFIG, key) { _ = try makeExplainer(model, "{\"method\": \"focus\", \(config)}") }
        }
    }
}
