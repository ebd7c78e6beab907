import CCFX
import Foundation
import XCTest

/// The genetic search through the C API on real data: scikit-learn's breast cancer and iris as
/// tree ensembles (the committed XGBoost, LightGBM and skl2onnx fixtures) and as native MLPs,
/// fitted on the fixtures' training rows; its output keys and its config errors.
final class GeneticABITests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures")

    /// The fixture's test rows and training rows.
    func data(_ name: String) throws -> (test: [[Double]], train: [[Double]]) {
        let object = try jsonObject(String(contentsOf: Self.fixtures.appendingPathComponent("\(name)_mlp.json"), encoding: .utf8))
        return (object["x_test"] as! [[Double]], object["x_train"] as! [[Double]])
    }

    func treeModel(_ file: String) throws -> OpaquePointer {
        var model: OpaquePointer?
        try check { cfx_model_load(Self.fixtures.appendingPathComponent("trees/\(file)").path, &model, $0) }
        return model!
    }

    func fitted(_ model: OpaquePointer, _ config: String, _ train: [[Double]]) throws -> OpaquePointer {
        let explainer = try makeExplainer(model, config)
        try check { cfx_explainer_fit(explainer, train.flatMap { $0 }, train.count, train[0].count, nil, $0) }
        return explainer
    }

    func predictedClass(_ model: OpaquePointer, _ x: [Double], classes k: Int) throws -> Int {
        var proba = [Double](repeating: 0, count: k)
        try check { cfx_model_predict(model, x, 1, x.count, &proba, $0) }
        return proba.indices.max { proba[$0] < proba[$1] }!
    }

    /// On breast cancer (a 100-tree forest, XGBoost, LightGBM, the MLP), every counterfactual is
    /// predicted as the other class by the real model, immutable features stay, monotone ones move
    /// their way only, and changed features lie in feature_range; at least 95% of rows get one.
    func testBreastCancerCounterfactualsAreValidAndKeepTheConstraints() throws {
        let (test, train) = try data("breast_cancer")
        let rows = Array(test.prefix(60))
        let config = #"{"method": "genetic", "immutable": [2, 5, 11, 17], "monotone": {"0": "increase", "1": "decrease"}, "feature_range": [-2.5, 3], "n_threads": 2}"#
        let spec = try Fixture("breast_cancer").spec
        let models = [("forest", try treeModel("sklearn_forest_cancer.onnx")), ("xgboost", try treeModel("xgboost_cancer.json")),
                      ("lightgbm", try treeModel("lightgbm_cancer.txt")), ("mlp", try makeModel(spec))]
        for (name, model) in models {
            defer { cfx_model_free(model) }
            let explainer = try fitted(model, config, train)
            defer { cfx_explainer_free(explainer) }
            var found = 0
            for (x, e) in zip(rows, try explain(explainer, rows)) {
                guard let cf = e["cf"] as? [String: Any] else { continue }
                found += 1
                let point = cf["X"] as! [Double]
                XCTAssertNotEqual(try predictedClass(model, point, classes: 2), e["orig_class"] as? Int, name)
                XCTAssertEqual(try predictedClass(model, point, classes: 2), cf["class"] as? Int, name)
                for j in [2, 5, 11, 17] { XCTAssertEqual(point[j], x[j], "\(name): immutable \(j)") }
                XCTAssertGreaterThanOrEqual(point[0], x[0], name)
                XCTAssertLessThanOrEqual(point[1], x[1], name)
                for j in 0..<30 where point[j] != x[j] { XCTAssertTrue((-2.5...3).contains(point[j]), "\(name): feature \(j) = \(point[j])") }
                XCTAssertEqual(cf["changed"] as? Int, (0..<30).filter { point[$0] != x[$0] }.count, name)
                XCTAssertNotNil(cf["restored"], "sparsify is on by default")
            }
            XCTAssertGreaterThanOrEqual(Double(found), 0.95 * Double(rows.count), name)
        }
    }

    /// Iris (3 classes) on XGBoost and LightGBM: a class index as the target, and sets of 3
    /// distinct valid members.
    func testIrisTargetsAndSets() throws {
        let (test, train) = try data("iris")
        for file in ["xgboost_iris.json", "lightgbm_iris.txt"] {
            let model = try treeModel(file)
            defer { cfx_model_free(model) }
            let explainer = try fitted(model, #"{"method": "genetic", "target_class": 2, "n_counterfactuals": 3}"#, train)
            defer { cfx_explainer_free(explainer) }
            var reached = 0
            for e in try explain(explainer, test) where (e["orig_class"] as? Int) != 2 {
                guard let cf = e["cf"] as? [String: Any] else { continue }
                reached += 1
                XCTAssertEqual(try predictedClass(model, cf["X"] as! [Double], classes: 3), 2, file)
                let members = try XCTUnwrap(e["cfs"] as? [[String: Any]])
                XCTAssertEqual(members.count, 3, file)
                XCTAssertEqual(Set(members.map { $0["X"] as! [Double] }).count, 3, file)
                for m in members { XCTAssertEqual(try predictedClass(model, m["X"] as! [Double], classes: 3), 2, file) }
                XCTAssertNotNil(e["diversity"] as? Double)
            }
            XCTAssertGreaterThan(reached, 20, file)
        }
    }

    func testOutputAndCosts() throws {
        let (test, train) = try data("breast_cancer")
        let model = try treeModel("sklearn_forest_cancer.onnx")
        defer { cfx_model_free(model) }
        let explainer = try fitted(model, #"{"method": "genetic", "sparsify": false, "seed": 5}"#, train)
        defer { cfx_explainer_free(explainer) }
        let e = try explain(explainer, [test[0]])[0]
        let cf = try XCTUnwrap(e["cf"] as? [String: Any])
        XCTAssertEqual(Set(cf.keys), ["X", "class", "proba", "loss", "proximity", "changed"])
        XCTAssertEqual(e["success"] as? Bool, true)
        XCTAssertNil(e["cfs"], "no set without n_counterfactuals > 1")
        let meta = try XCTUnwrap(e["meta"] as? [String: Any])
        let generations = try XCTUnwrap(e["generations"] as? Int)
        XCTAssertEqual(meta["model_calls"] as? Int, 1 + generations, "the instance, then one batched predict per generation")
        XCTAssertEqual((meta["params"] as? [String: Any])?["population_size"] as? NSNull, NSNull())
        XCTAssertEqual(try explain(explainer, [test[0]])[0]["cf"] as? NSDictionary, cf as NSDictionary, "the seed decides")
    }

    /// Bad config keys fail at creation, naming the field; ranges a search needs fail at explain.
    func testConfigErrorsNameTheField() throws {
        let model = try treeModel("xgboost_cancer.json")
        defer { cfx_model_free(model) }
        for (config, field) in [(#"{"method": "genetic", "mutation_rate": 0.1}"#, "mutation_rate"),
                                (#"{"method": "genetic", "population_size": 1}"#, "population_size"),
                                (#"{"method": "genetic", "population_size": 4, "n_counterfactuals": 4}"#, "population_size"),
                                (#"{"method": "genetic", "population_size": 3000000}"#, "population_size"),
                                (#"{"method": "genetic", "population_size": 600000}"#, "population_size"),
                                (#"{"method": "genetic", "initialization": "kmeans"}"#, "initialization"),
                                (#"{"method": "genetic", "maxiterations": 0}"#, "maxiterations"),
                                (#"{"method": "genetic", "proximity_weight": -1}"#, "proximity_weight"),
                                (#"{"method": "genetic", "sparsity_weight": "a lot"}"#, "sparsity_weight"),
                                (#"{"method": "genetic", "target_class": "same"}"#, "target_class"),
                                (#"{"method": "genetic", "cat_vars": {"29": 3}, "ohe": true}"#, "cat_vars"),
                                (#"{"method": "genetic", "cat_vars": {"2": 3}, "monotone": {"2": "increase"}}"#, "monotone"),
                                (#"{"method": "genetic", "sparsify_repair_steps": 10}"#, "sparsify_repair_steps"),
                                (#"{"method": "genetic", "feature_range": [1, 0]}"#, "feature_range")] {
            assertABIFails(CFX_ERR_CONFIG, field) { _ = try makeExplainer(model, config) }
        }
        let unfitted = try makeExplainer(model, #"{"method": "genetic"}"#)
        defer { cfx_explainer_free(unfitted) }
        let x = try data("breast_cancer").test[0]
        assertABIFails(CFX_ERR_CONFIG, "feature_range") { _ = try explain(unfitted, [x]) }
        let bounded = try makeExplainer(model, #"{"method": "genetic", "feature_range": [-3, 3], "initialization": "random"}"#)
        defer { cfx_explainer_free(bounded) }
        XCTAssertNotNil(try explain(bounded, [x])[0]["cf"] as? [String: Any], "a range and no training rows: random start")
    }
}
