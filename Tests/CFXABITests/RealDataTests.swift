import CCFX
import XCTest
@testable import CFXABI

/// Wachter counterfactuals for scikit-learn MLPs on iris and breast cancer, through the C ABI.
final class RealDataTests: XCTestCase {
    func testExportedModelsReproduceScikitLearn() throws {
        for name in ["iris", "breast_cancer"] {
            let fixture = try Fixture(name)
            let model = try makeModel(fixture.spec)
            defer { cfx_model_free(model) }
            let k = fixture.probaTest[0].count
            var proba = [Double](repeating: 0, count: fixture.xTest.count * k)
            try check { cfx_model_predict(model, fixture.xTest.flatMap { $0 }, fixture.xTest.count, fixture.xTest[0].count, &proba, $0) }
            for (i, expected) in fixture.probaTest.enumerated() {
                for c in 0..<k { XCTAssertEqual(proba[i * k + c], expected[c], accuracy: 1e-9, "\(name) row \(i)") }
            }
        }
    }

    /// Share of instances whose counterfactual is valid: another class (or `target`), reached with
    /// probability ≥ target_proba − tol = 0.95.
    private func validShare(_ name: String, target: (Int) -> Int?) throws -> Double {
        let fixture = try Fixture(name)
        let model = try makeModel(fixture.spec)
        defer { cfx_model_free(model) }
        var valid = 0, total = 0
        let explainers = try (0..<fixture.probaTest[0].count).map { c in
            try makeExplainer(model, #"{"method": "wachter", "return_all": false, "target_class": \#(c)}"#)
        } + [try makeExplainer(model, #"{"method": "wachter", "return_all": false}"#)]
        defer { explainers.forEach { cfx_explainer_free($0) } }
        let other = explainers[explainers.count - 1]
        for (i, x) in fixture.xTest.enumerated() {
            let origClass = fixture.probaTest[i].indices.max { fixture.probaTest[i][$0] < fixture.probaTest[i][$1] }!
            let wanted = target(origClass)
            let explanation = try explain(wanted.map { explainers[$0] } ?? other, [x])[0]
            total += 1
            XCTAssertEqual(explanation["orig_class"] as? Int, origClass)
            guard let cf = explanation["cf"] as? [String: Any] else { continue }
            let cfClass = cf["class"] as! Int
            let proba = cf["proba"] as! [Double]
            // The reported probabilities are the model's at the returned X (up to the JSON round trip).
            var check = [Double](repeating: 0, count: proba.count)
            let cfX = cf["X"] as! [Double]
            _ = cfx_model_predict(model, cfX, 1, cfX.count, &check, nil)
            for c in proba.indices { XCTAssertEqual(check[c], proba[c], accuracy: 1e-12) }
            if cfClass != origClass, wanted == nil || cfClass == wanted, proba[cfClass] >= 0.95 { valid += 1 }
        }
        return Double(valid) / Double(total)
    }

    func testIrisOtherClass() throws {
        XCTAssertGreaterThanOrEqual(try validShare("iris") { _ in nil }, 0.95)
    }

    func testIrisFixedTargetClass() throws {
        XCTAssertGreaterThanOrEqual(try validShare("iris") { ($0 + 1) % 3 }, 0.95)
    }

    func testBreastCancerOtherClass() throws {
        XCTAssertGreaterThanOrEqual(try validShare("breast_cancer") { _ in nil }, 0.95)
    }

    func testBreastCancerFixedTargetClass() throws {
        // Every instance asked for class 1 ("benign"); those already benign are skipped by target_class.
        XCTAssertGreaterThanOrEqual(try validShare("breast_cancer") { 1 - $0 }, 0.95)
    }

    func testImmutableAndRangeHoldOnRealData() throws {
        let fixture = try Fixture("iris")
        let model = try makeModel(fixture.spec)
        defer { cfx_model_free(model) }
        let explainer = try makeExplainer(model, #"{"method": "wachter", "immutable": [0, 3], "feature_range": [-2.5, [2, 2, 2.5, 3]]}"#)
        defer { cfx_explainer_free(explainer) }
        let rows = Array(fixture.xTest.prefix(15))
        for (x, explanation) in zip(rows, try explain(explainer, rows)) {
            for round in explanation["all"] as! [[[String: Any]]] {
                for candidate in round {
                    let cfX = candidate["X"] as! [Double]
                    XCTAssertEqual(cfX[0], x[0])
                    XCTAssertEqual(cfX[3], x[3])
                    for (j, upper) in [2, 2, 2.5, 3].enumerated() where j != 0 && j != 3 {
                        XCTAssertGreaterThanOrEqual(cfX[j], -2.5)
                        XCTAssertLessThanOrEqual(cfX[j], upper)
                    }
                }
            }
        }
    }
}
