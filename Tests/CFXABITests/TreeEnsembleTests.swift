import CCFX
import CFXCore
import Foundation
import XCTest
@testable import CFXFormats

/// Tree ensembles: the evaluator's split rules on hand-built trees, hostile structures, the
/// committed XGBoost, LightGBM and skl2onnx fixtures (Tests/fixtures/trees, make_trees.py) through the C
/// API, and Feature Tweaking on them. (Agreement with XGBoost and LightGBM: Tests/python/test_trees.py.)
final class TreeEnsembleTests: XCTestCase {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures/trees").path

    typealias Flags = DecisionTree.SplitFlags

    /// One split on feature 0 at 1.0: left leaf −2, right leaf +2, logistic output.
    func stump(_ flags: Flags, precision: TreePrecision = .float64) throws -> TreeEnsemble {
        let tree = DecisionTree(nodes: [.split(feature: 0, threshold: 1, left: 1, right: 2, flags: flags), .leaf([-2]), .leaf([2])], target: 0)
        return try TreeEnsemble(trees: [tree], featureCount: 2, classCount: 2, base: [0], output: .logistic(scale: 1),
                                precision: precision, source: "test")
    }

    func p1(_ model: TreeEnsemble, _ x: [Double]) throws -> Double {
        try ModelSession(model: model).predictUnchecked(x)[1]
    }

    func testSplitRules() throws {
        let left = 1 / (1 + exp(2.0)), right = 1 / (1 + exp(-2.0))
        XCTAssertEqual(try p1(stump([]), [1, 0]), left, accuracy: 1e-15)          // x ≤ θ goes left
        XCTAssertEqual(try p1(stump([.strict]), [1, 0]), right, accuracy: 1e-15)  // x < θ: θ goes right
        XCTAssertEqual(try p1(stump([]), [1.5, 0]), right, accuracy: 1e-15)
        XCTAssertEqual(try p1(stump([]), [.nan, 0]), right, accuracy: 1e-15)      // missing: default right
        XCTAssertEqual(try p1(stump([.missingLeft]), [.nan, 7]), left, accuracy: 1e-15)
        XCTAssertEqual(try p1(stump([.nanIsZero]), [.nan, 0]), left, accuracy: 1e-15)  // NaN read as 0 ≤ 1
        XCTAssertEqual(try p1(stump([.nanIsZero, .zeroIsMissing]), [0, 0]), right, accuracy: 1e-15)  // 0 is missing
        // float32: 0.99999999 rounds to 1.0f, which is not < 1; the sigmoid is XGBoost's, in float32.
        let right32 = Double(1 / (expf(-2) + 1) as Float)
        XCTAssertEqual(try p1(stump([.strict], precision: .float32), [0.99999999, 0]), right32, accuracy: 0)
        XCTAssertEqual(try p1(stump([.strict], precision: .float64), [0.99999999, 0]), left, accuracy: 1e-15)
    }

    func testSoftmaxForestAndDivisor() throws {
        let tree = DecisionTree(nodes: [.split(feature: 1, threshold: 0, left: 1, right: 2, flags: []), .leaf([0.9, 0.1, 0]), .leaf([0, 0.2, 0.8])], target: nil)
        let forest = try TreeEnsemble(trees: [tree, tree], featureCount: 2, classCount: 3, base: [0, 0, 0], divisor: 2,
                                      output: .probabilities, precision: .float64, source: "test")
        XCTAssertEqual(try ModelSession(model: forest).predictUnchecked([0, 1]), [0, 0.2, 0.8])
        let boosted = try TreeEnsemble(trees: [tree], featureCount: 2, classCount: 3, base: [0, 0, 1], output: .softmax,
                                       precision: .float64, source: "test")
        let p = try ModelSession(model: boosted).predictUnchecked([0, -1])
        let e = [exp(0.9), exp(0.1), exp(1.0)]
        for c in 0..<3 { XCTAssertEqual(p[c], e[c] / e.reduce(0, +), accuracy: 1e-15) }
    }

    func testHostileStructuresAreModelErrors() {
        let cases: [([DecisionTree.Node], String)] = [
            ([.split(feature: 0, threshold: 1, left: 0, right: 1, flags: []), .leaf([1])], "reached twice"),
            ([.split(feature: 0, threshold: 1, left: 1, right: 5, flags: []), .leaf([1])], "out of range"),
            ([.split(feature: 9, threshold: 1, left: 1, right: 2, flags: []), .leaf([1]), .leaf([2])], "feature 9"),
            ([.split(feature: 0, threshold: .nan, left: 1, right: 2, flags: []), .leaf([1]), .leaf([2])], "NaN"),
            ([.leaf([1, 2])], "2 values"),
            ([.leaf([.infinity])], "not finite"),
            ([], "no nodes"),
        ]
        for (nodes, message) in cases {
            XCTAssertThrowsError(try TreeEnsemble(trees: [DecisionTree(nodes: nodes, target: 0)], featureCount: 2, classCount: 2,
                                                  base: [0], output: .logistic(scale: 1), precision: .float64, source: "t")) { error in
                let e = error as? CFXError
                XCTAssertEqual(e?.kind, .model, message)
                XCTAssertTrue(e?.message.contains(message) == true, "\(e?.message ?? "") lacks \(message)")
            }
        }
    }

    /// A multiclass LightGBM header of 0 classes and 0 trees per iteration once divided by zero.
    func testLightGBMWithoutClassesIsAModelError() throws {
        let text = "tree\nversion=v4\nnum_class=0\nnum_tree_per_iteration=0\nmax_feature_idx=1\nobjective=multiclass num_class:0\n\n"
            + "Tree=0\nnum_leaves=1\nleaf_value=0.5\n\nend of trees\n"
        XCTAssertThrowsError(try treeEnsembleFromLightGBM(text, what: "t")) { error in
            XCTAssertEqual((error as? CFXError)?.kind, .model)
            XCTAssertTrue((error as? CFXError)?.message.contains("num_class") == true, "\(error)")
        }
    }

    func load(_ name: String) throws -> OpaquePointer {
        var model: OpaquePointer?
        try check { cfx_model_load("\(Self.directory)/\(name)", &model, $0) }
        return model!
    }

    func testFixturesLoadPredictAndHaveNoGradient() throws {
        for (name, d, k) in [("xgboost_cancer.json", 30, 2), ("lightgbm_cancer.txt", 30, 2), ("sklearn_forest_cancer.onnx", 30, 2), ("xgboost_iris.json", 4, 3), ("lightgbm_iris.txt", 4, 3)] {
            let model = try load(name)
            defer { cfx_model_free(model) }
            var shape = (0, 0)
            try check { cfx_model_shape(model, &shape.0, &shape.1, $0) }
            XCTAssertEqual([shape.0, shape.1], [d, k], name)
            let fixture = try Fixture(d == 30 ? "breast_cancer" : "iris")
            let labels = fixture.probaTest.map { p in p.indices.max { p[$0] < p[$1] }! }
            var proba = [Double](repeating: 0, count: fixture.xTest.count * k)
            try check { cfx_model_predict(model, fixture.xTest.flatMap { $0 }, fixture.xTest.count, d, &proba, $0) }
            let agree = labels.indices.filter { i in (0..<k).max { proba[i * k + $0] < proba[i * k + $1] } == labels[i] }.count
            XCTAssertGreaterThan(Double(agree) / Double(labels.count), 0.85, "\(name) agrees with the MLP on most test rows")
            var grad = [Double](repeating: 0, count: d)
            assertABIFails(CFX_ERR_MODEL, "no gradient") { try check { cfx_model_vjp(model, fixture.xTest[0], 1, d, [Double](repeating: 1, count: k), k, &grad, $0) } }
            let wachter = try makeExplainer(model, #"{"method": "wachter", "max_iter": 10}"#)
            defer { cfx_explainer_free(wachter) }
            assertABIFails(CFX_ERR_MODEL, "no gradient") { _ = try explain(wachter, [fixture.xTest[0]]) }
        }
    }

    /// Every counterfactual Feature Tweaking returns is predicted as another class by the real
    /// ensemble, is as far as it says, and leaves immutable features alone.
    func testFeatureTweakingIsValidAndHonoursImmutable() throws {
        let fixture = try Fixture("breast_cancer")
        for name in ["xgboost_cancer.json", "lightgbm_cancer.txt", "sklearn_forest_cancer.onnx"] {
            let model = try load(name)
            defer { cfx_model_free(model) }
            for (config, immutable) in [(#"{"method": "feature_tweaking"}"#, [Int]()),
                                        (#"{"method": "feature_tweaking", "immutable": [20, 22, 23, 27], "distance": "l1"}"#, [20, 22, 23, 27])] {
                let explainer = try makeExplainer(model, config)
                defer { cfx_explainer_free(explainer) }
                let explanations = try explain(explainer, fixture.xTest)
                var found = 0
                for (x, e) in zip(fixture.xTest, explanations) {
                    guard let cf = e["cf"] as? [String: Any] else { continue }
                    found += 1
                    let point = cf["X"] as! [Double]
                    var proba = [0.0, 0.0]
                    try check { cfx_model_predict(model, point, 1, 30, &proba, $0) }
                    let predicted = proba[1] > proba[0] ? 1 : 0
                    XCTAssertNotEqual(predicted, e["orig_class"] as? Int, name)
                    XCTAssertEqual(predicted, cf["class"] as? Int, name)
                    for j in immutable { XCTAssertEqual(point[j], x[j], "\(name): immutable feature \(j)") }
                    let delta: [Double] = (0..<30).map { point[$0] - x[$0] }
                    let l1: Double = delta.reduce(0.0) { $0 + abs($1) }
                    let l2: Double = delta.reduce(0.0) { $0 + $1 * $1 }.squareRoot()
                    XCTAssertEqual(cf["distance"] as! Double, immutable.isEmpty ? l2 : l1, accuracy: 1e-12)
                }
                XCTAssertGreaterThan(found, 0, "\(name) \(config)")
            }
        }
    }

    /// With sparsify, on the real fixtures: the counterfactual stays valid on the ensemble, changes
    /// no more features than without (a subset of them: restored ones equal the instance exactly),
    /// immutable features stay put, and for some instances strictly fewer features change (XGBoost,
    /// the forest).
    func testFeatureTweakingSparsifyRestoresFeaturesAndStaysValid() throws {
        let fixture = try Fixture("breast_cancer")
        let immutable = [20, 22, 23, 27]
        var fewerByModel: [String: Int] = [:]
        for name in ["xgboost_cancer.json", "lightgbm_cancer.txt", "sklearn_forest_cancer.onnx"] {
            let model = try load(name)
            defer { cfx_model_free(model) }
            let base = #""method": "feature_tweaking", "immutable": [20, 22, 23, 27]"#
            let (plain, sparse) = (try makeExplainer(model, "{\(base)}"), try makeExplainer(model, "{\(base), \"sparsify\": true}"))
            defer { cfx_explainer_free(plain); cfx_explainer_free(sparse) }
            var fewer = 0
            for (x, (e, s)) in zip(fixture.xTest, zip(try explain(plain, fixture.xTest), try explain(sparse, fixture.xTest))) {
                guard let cf = e["cf"] as? [String: Any] else { XCTAssertTrue(s["cf"] is NSNull, name); continue }
                let scf = try XCTUnwrap(s["cf"] as? [String: Any], name)
                let (dense, point) = (cf["X"] as! [Double], scf["X"] as! [Double])
                var proba = [0.0, 0.0]
                try check { cfx_model_predict(model, point, 1, 30, &proba, $0) }
                XCTAssertNotEqual(proba[1] > proba[0] ? 1 : 0, s["orig_class"] as? Int, "\(name): still valid")
                for j in 0..<30 where point[j] != dense[j] { XCTAssertEqual(point[j], x[j], "\(name): feature \(j) restored exactly") }
                for j in immutable { XCTAssertEqual(point[j], x[j], "\(name): immutable feature \(j)") }
                let changed = (0..<30).filter { point[$0] != x[$0] }.count
                XCTAssertEqual(scf["changed"] as? Int, changed, name)
                XCTAssertEqual((cf["changed"] as! Int) - changed, scf["restored"] as? Int, name)
                XCTAssertLessThanOrEqual(changed, cf["changed"] as! Int, name)
                if changed < cf["changed"] as! Int { fewer += 1 }
            }
            fewerByModel[name] = fewer
        }
        // One LightGBM path (8 trees of 6 leaves) rarely changes a feature the flip does not need.
        XCTAssertGreaterThan(fewerByModel["xgboost_cancer.json"]!, 0, "some XGBoost counterfactual needs fewer changes: \(fewerByModel)")
        XCTAssertGreaterThan(fewerByModel["sklearn_forest_cancer.onnx"]!, 0, "some forest counterfactual needs fewer changes: \(fewerByModel)")
    }

    func testFeatureTweakingNeedsATreeEnsemble() throws {
        let fixture = try Fixture("iris")
        let network = try makeModel(fixture.spec)
        defer { cfx_model_free(network) }
        assertABIFails(CFX_ERR_CONFIG, "tree ensemble") { _ = try makeExplainer(network, #"{"method": "feature_tweaking"}"#) }
        let model = try load("xgboost_iris.json")
        defer { cfx_model_free(model) }
        assertABIFails(CFX_ERR_CONFIG, "epsilon") { _ = try makeExplainer(model, #"{"method": "feature_tweaking", "epsilon": 0}"#) }
        assertABIFails(CFX_ERR_CONFIG, "epsilon") { _ = try makeExplainer(model, #"{"method": "feature_tweaking", "epsilon": [1, 2]}"#) }
    }
}

extension ModelSession {
    /// Probabilities without the finiteness check of inputs (the evaluator takes NaN).
    func predictUnchecked(_ x: [Double]) throws -> [Double] { try predict(x, rows: 1) }
}

extension TreeEnsembleTests {
    /// A node no root reaches is still checked (its children in range), and it cannot become a
    /// reached leaf's parent: the paths Feature Tweaking walks come from the root.
    func testUnreachedNodesAreCheckedAndIgnored() throws {
        let stray: DecisionTree.Node = .split(feature: 1, threshold: 5, left: 1, right: 3, flags: [])
        let tree = DecisionTree(nodes: [.split(feature: 0, threshold: 1, left: 1, right: 2, flags: []), .leaf([-2]), .leaf([2]), stray], target: 0)
        let model = try TreeEnsemble(trees: [tree], featureCount: 2, classCount: 2, base: [0], output: .logistic(scale: 1),
                                     precision: .float64, source: "test")
        let parents = model.parents()
        XCTAssertEqual(parents[1], 0)
        let path = model.path(to: 1, parents: parents)
        XCTAssertEqual(path.map(\.feature), [0])
        XCTAssertEqual(path.map(\.left), [true])
        let wild = DecisionTree(nodes: [.leaf([1]), .split(feature: 0, threshold: 1, left: Int.max, right: 0, flags: [])], target: 0)
        XCTAssertThrowsError(try TreeEnsemble(trees: [wild], featureCount: 2, classCount: 2, base: [0], output: .logistic(scale: 1),
                                              precision: .float64, source: "test")) { error in
            XCTAssertEqual((error as? CFXError)?.kind, .model)
        }
    }
}

extension TreeEnsembleTests {
    /// Rows without a missing value descend the packed nodes (a strict test as x ≤ the double before
    /// θ); a batch with a NaN row takes every row through the full tests. Rows exactly at thresholds
    /// (the tests' edges) get the same probabilities, bit for bit, either way, on every fixture.
    func testPackedDescentEqualsTheFullTests() throws {
        for name in ["xgboost_cancer.json", "lightgbm_cancer.txt", "sklearn_forest_cancer.onnx", "xgboost_iris.json", "lightgbm_iris.txt"] {
            let ensemble = try XCTUnwrap(try loadModelFile(path: "\(Self.directory)/\(name)").model as? TreeEnsemble)
            let parents = ensemble.parents()
            let tests = ensemble.leaves().prefix(20).flatMap { $0.prefix(4) }.compactMap { ensemble.path(to: $0, parents: parents).last }
            let base = try Fixture(name.contains("iris") ? "iris" : "breast_cancer").xTest[0]
            var rows: [[Double]] = []
            for test in tests {
                for v in [test.threshold, test.threshold.nextUp, test.threshold.nextDown] {
                    var row = base
                    row[test.feature] = v
                    rows.append(row)
                }
            }
            let session = ModelSession(model: ensemble), k = ensemble.classCount
            let packed = try session.predict(rows.flatMap { $0 }, rows: rows.count)
            let full = try session.predict((rows + [[Double](repeating: .nan, count: base.count)]).flatMap { $0 }, rows: rows.count + 1)
            XCTAssertEqual(packed, Array(full.prefix(rows.count * k)), name)
            XCTAssertGreaterThan(rows.count, 20, name)
        }
    }
}
