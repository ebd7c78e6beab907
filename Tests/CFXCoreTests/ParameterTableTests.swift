import XCTest
@testable import CFXCore

/// The methods' parameter tables: one row per key, the defaults within every constraint, and
/// errors that name the row's key.
final class ParameterTableTests: XCTestCase {
    let shape = ModelShape(features: 4, classes: 3)

    func checkTable<M: CounterfactualMethod>(_ method: M.Type, file: StaticString = #filePath, line: UInt = #line) {
        let keys = M.parameters.map(\.key)
        XCTAssertEqual(Set(keys).count, keys.count, "\(M.name): a key twice", file: file, line: line)
        XCTAssertNoThrow(try M.parameters.check(M.defaults, shape), "\(M.name): defaults", file: file, line: line)
        XCTAssertEqual(M.parameters.filter { $0.doc.isEmpty }.map(\.key), [], "\(M.name): undocumented", file: file, line: line)
    }

    func testEveryTable() {
        checkTable(WachterMethod.self)
        checkTable(CFProtoMethod.self)
        checkTable(DeDUCEMethod.self)
        checkTable(JSMAMethod.self)
        checkTable(ECCCoMethod.self)
        checkTable(FeatureTweakingMethod.self)
        checkTable(GeneticMethod.self)
        checkTable(FOCUSMethod.self)
    }

    func assertError<P>(_ table: [Parameter<P>], _ params: P, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try table.check(params, shape), file: file, line: line) { error in
            XCTAssertEqual("\(error)", expected, file: file, line: line)
        }
    }

    func testErrorsNameTheKey() {
        var w = WachterParams()
        w.tol = -1
        assertError(WachterMethod.parameters, w, "tol: must be >= 0, got -1.0")
        w.tol = .infinity
        assertError(WachterMethod.parameters, w, "tol: must be a finite number, got inf")
        w = WachterParams()
        w.eps = .each([0.1, 0.1, 0, 0.1])
        assertError(WachterMethod.parameters, w, "eps: must be > 0, got 0.0 for feature 2")
        w = WachterParams()
        w.initialisation = "random"
        assertError(WachterMethod.parameters, w, "init: expected \"identity\", got \"random\"")
        w = WachterParams()
        w.constraints.immutable = [4]
        assertError(WachterMethod.parameters, w, "immutable: feature index 4 is outside 0..<4")
        w = WachterParams()
        w.refinement.nCounterfactuals = 101
        assertError(WachterMethod.parameters, w, "n_counterfactuals: must be in 1...100, got 101")
        var d = DeDUCEParams()
        d.featuresPerStep = 5
        assertError(DeDUCEMethod.parameters, d, "features_per_step: must be in 1...4 (the model's features), got 5")
        d = DeDUCEParams()
        d.targetConfidence = 0
        assertError(JSMAMethod.parameters, d, "target_confidence: must be in (0, 1], got 0.0")
        var e = ECCCoParams()
        e.targetClass = .same
        assertError(ECCCoMethod.parameters, e, "target_class: \"same\" has no counterfactual for this method; use \"other\" or a class index")
        e = ECCCoParams()
        e.alpha = 1
        assertError(ECCCoMethod.parameters, e, "alpha: must be in (0, 1), got 1.0")
        var c = CFProtoParams()
        c.clipMin = 2
        c.clipMax = 1
        assertError(CFProtoMethod.parameters, c, "clip: expected [min, max] with min < max, got [2.0, 1.0]")
    }

    /// JSMA's table is DeDUCE's without DeDUCE's own rows; an error outside the table names the
    /// row's key all the same.
    func testTablesShareRows() {
        let jsma = JSMAMethod.parameters.map(\.key), deduce = DeDUCEMethod.parameters.map(\.key)
        XCTAssertEqual(Array(deduce.prefix(jsma.count)), jsma)
        XCTAssertFalse(jsma.contains("momentum"))
        XCTAssertEqual(DeDUCEMethod.parameters.key(\.featureOutput), "feature_output")
        XCTAssertEqual(WachterMethod.parameters.key(\.constraints.featureRangeMax), "feature_range")
    }
}
