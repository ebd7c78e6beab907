import XCTest
@testable import CFXCore

/// The sparsity pass (Sparsify.swift), diverse sets (DiverseSet.swift) and their metrics.
final class SparseDiverseTests: XCTestCase {
    /// A 5-feature, 3-class network and rows of each of its classes.
    private func model() throws -> Network {
        try randomNetwork(inputShape: [5], [.layer(Dense(outputs: 8)), .layer(Elementwise(.tanh)), .layer(Dense(outputs: 3)),
                                            .layer(Softmax())], seed: 31, scale: 1.5)
    }

    private func rows(_ count: Int) -> [Double] {
        var rng = SplitMix64(state: 4)
        return randomValues(count * 5, &rng, scale: 1)
    }

    private func l0(_ a: [Double], _ b: [Double]) -> Int { zip(a, b).filter { abs($0 - $1) > 1e-12 }.count }

    // MARK: The pass on its own

    /// Valid while x0 + x1 >= 1: restoring x2 (smallest change) and x1 keeps it valid, x0 cannot go.
    func testRestoresSmallestChangesFirstWhileValid() throws {
        let original = [0.0, 0.0, 0.0]
        let counterfactual = [1.0, 0.5, 0.1]
        var order: [[Double]] = []
        let result = try SparsityPass(scales: [1, 1, 1]).run(
            original: original, counterfactual: counterfactual, proba: [0, 1],
            predict: { order.append($0); return $0[0] + $0[1] >= 1 ? [0, 1] : [1, 0] },
            isValid: { _, p in p[1] == 1 })
        XCTAssertEqual(order.first, [1.0, 0.5, 0.0], "x2, the smallest change, is tried first")
        XCTAssertEqual(result.x, [1.0, 0.0, 0.0])
        XCTAssertEqual(result.restored, 2)
    }

    /// A one-hot group (columns 1-3) is restored as one variable, never column by column.
    func testOneHotGroupRestoredAsAWhole() throws {
        let original = [0.0, 1, 0, 0]
        let counterfactual = [2.0, 0, 0, 1]
        var tried: [[Double]] = []
        let pass = SparsityPass(scales: [1, 1, 1, 1], oneHot: [(start: 1, count: 3)])
        XCTAssertEqual(pass.groups.count, 2)
        let result = try pass.run(original: original, counterfactual: counterfactual, proba: [0, 1],
                                  predict: { tried.append($0); return $0[0] > 1 ? [0, 1] : [1, 0] },
                                  isValid: { _, p in p[1] == 1 })
        for x in tried { XCTAssertEqual(Array(x[1...3]).reduce(0, +), 1, "every point tried keeps a valid one-hot group") }
        XCTAssertEqual(result.x, [2.0, 1, 0, 0])
        XCTAssertEqual(result.restored, 1)
    }

    /// The repair never moves a feature across the instance's value or out of the box.
    func testRepairKeepsSidesAndBox() throws {
        let original = [0.0, 0.0, 0.0]
        let counterfactual = [0.6, -0.5, 0.1]
        var pass = SparsityPass(scales: [1, 1, 1])
        pass.repairSteps = 200
        pass.lower = [-0.8, -0.8, -0.8]
        pass.upper = [0.8, 0.8, 0.8]
        // Valid when 2·x0 − x1 >= 1.7: the score grows with x0 and against x1.
        let score: ([Double]) -> Double = { 2 * $0[0] - $0[1] }
        let result = try pass.run(original: original, counterfactual: counterfactual, proba: [0, 1],
                                  predict: { score($0) >= 1.7 ? [0, 1] : [1, 0] }, isValid: { _, p in p[1] == 1 },
                                  scoreGradient: { _ in [2, -1, 5] })
        XCTAssertEqual(result.x[2], 0, "x2 restored (its change is the smallest)")
        XCTAssertGreaterThanOrEqual(result.x[0], 0)
        XCTAssertLessThanOrEqual(result.x[1], 0)
        for v in result.x { XCTAssertLessThanOrEqual(abs(v), 0.8) }
        XCTAssertGreaterThanOrEqual(score(result.x), 1.7)
    }

    // MARK: Methods

    func testWachterSparsifyKeepsValidityAndNeverAddsChanges() throws {
        let network = try model()
        let x = rows(6)
        let dense = try WachterExplainer(model: network, params: WachterParams()).explain(x, rows: 6, threads: 1)
        for repair in [0, 100] {
            var params = WachterParams()
            params.refinement.sparsify = true
            params.refinement.sparsifyRepairSteps = repair
            params.constraints.immutable = [4]
            let sparse = try WachterExplainer(model: network, params: params).explain(x, rows: 6, threads: 1)
            var denseL0 = 0, sparseL0 = 0
            for (r, (d, s)) in zip(dense, sparse).enumerated() {
                let row = Array(x[r * 5..<(r + 1) * 5])
                guard let cf = s.cf else { continue }
                XCTAssertLessThanOrEqual(abs(cf.proba[cf.predictedClass] - params.targetProba), params.tol)
                XCTAssertNotEqual(cf.predictedClass, s.origClass)
                XCTAssertEqual(cf.x[4], row[4], "immutable feature untouched")
                XCTAssertNotNil(cf.restored)
                XCTAssertEqual(cf.distance, zip(cf.x, row).reduce(0) { $0 + abs($1.0 - $1.1) }, accuracy: 1e-12)
                sparseL0 += l0(cf.x, row)
                denseL0 += l0(d.cf!.x, row)
            }
            XCTAssertLessThan(sparseL0, denseL0, "the pass removes changes (repair \(repair))")
        }
    }

    func testWachterSetMembersAreValidAndDiverse() throws {
        let network = try model()
        let x = rows(4)
        var params = WachterParams()
        params.refinement.nCounterfactuals = 3
        let explanations = try WachterExplainer(model: network, params: params).explain(x, rows: 4, threads: 2)
        let single = try WachterExplainer(model: network, params: WachterParams()).explain(x, rows: 4, threads: 1)
        for (e, s) in zip(explanations, single) {
            XCTAssertEqual(e.cf?.x, s.cf?.x, "the single counterfactual is unchanged by the set")
            guard let members = e.cfs else { return XCTFail("no set") }
            XCTAssertEqual(members.count, 3)
            for m in members {
                XCTAssertLessThanOrEqual(abs(m.proba[m.predictedClass] - 1), params.tol)
                XCTAssertNotEqual(m.predictedClass, e.origClass)
            }
            XCTAssertGreaterThan(e.diversity ?? 0, 0.01)
        }
        XCTAssertNil(single[0].cfs, "no set with the default n_counterfactuals")
    }

    /// A set asked for when the search found no counterfactual: an empty set and no diversity
    /// (the JSON's "cfs": [] and "diversity": null), for Wachter and CFProto alike.
    func testASetWithoutACounterfactualIsEmpty() throws {
        let network = try model()
        var wachter = WachterParams()
        wachter.refinement.nCounterfactuals = 2
        wachter.maxIter = 10
        wachter.maxLamSteps = 1
        wachter.tol = 0
        let w = try WachterExplainer(model: network, params: wachter).explain(rows(1), rows: 1, threads: 1)[0]
        XCTAssertNil(w.cf)
        XCTAssertEqual(w.cfs?.count, 0)
        XCTAssertNil(w.diversity)
        var cfproto = CFProtoParams()
        cfproto.refinement.nCounterfactuals = 2
        cfproto.maxIterations = 1
        cfproto.cSteps = 1
        cfproto.cInit = 0
        let c = try CFProtoExplainer(model: network, params: cfproto).explain(rows(1), rows: 1, threads: 1)[0]
        XCTAssertNil(c.cf)
        XCTAssertEqual(c.cfs?.count, 0)
        XCTAssertNil(c.diversity)
    }

    func testCFProtoSparsifyAndSet() throws {
        let network = try model()
        let x = rows(4)
        var params = CFProtoParams()
        params.refinement.sparsify = true
        params.refinement.nCounterfactuals = 3
        let explainer = try CFProtoExplainer(model: network, params: params)
        for (r, e) in try explainer.explain(x, rows: 4, threads: 1).enumerated() {
            let row = Array(x[r * 5..<(r + 1) * 5])
            guard let cf = e.cf else { continue }
            XCTAssertNotEqual(cf.predictedClass, e.origClass)
            XCTAssertNotNil(cf.restored)
            let members = try XCTUnwrap(e.cfs)
            XCTAssertEqual(members.count, 3)
            for m in members { XCTAssertNotEqual(argmax(m.proba), e.origClass); XCTAssertLessThanOrEqual(l0(m.x, row), 5) }
            XCTAssertGreaterThan(e.diversity ?? 0, 0)
        }
    }

    func testSetKeysAreChecked() {
        var p = WachterParams()
        p.refinement.nCounterfactuals = 0
        XCTAssertThrowsError(try WachterMethod.parameters.check(p, ModelShape(features: 3, classes: 3))) { XCTAssertTrue("\($0)".contains("n_counterfactuals")) }
        p.refinement.nCounterfactuals = 101
        XCTAssertThrowsError(try WachterMethod.parameters.check(p, ModelShape(features: 3, classes: 3)))
        p.refinement.nCounterfactuals = 2
        p.refinement.diversityWeight = -1
        XCTAssertThrowsError(try WachterMethod.parameters.check(p, ModelShape(features: 3, classes: 3))) { XCTAssertTrue("\($0)".contains("diversity_weight")) }
        p.refinement.diversityWeight = .infinity
        XCTAssertThrowsError(try WachterMethod.parameters.check(p, ModelShape(features: 3, classes: 3)))
        p.refinement.diversityWeight = 1
        p.refinement.sparsifyRepairSteps = -1
        XCTAssertThrowsError(try WachterMethod.parameters.check(p, ModelShape(features: 3, classes: 3))) { XCTAssertTrue("\($0)".contains("sparsify_repair_steps")) }
    }

    // MARK: Kernel and metrics

    func testDeterminantGradientMatchesFiniteDifferences() {
        let kernel = DiversityKernel(scales: [0.5, 1, 2])
        let members = [[0.1, 0.2, 0.3], [0.9, -0.4, 1.3], [-0.7, 0.5, -0.2]]
        let (det, gradient) = kernel.determinantGradient(members)
        XCTAssertEqual(det, kernel.determinant(members))
        let h = 1e-6
        for i in 0..<3 {
            for f in 0..<3 {
                var plus = members, minus = members
                plus[i][f] += h
                minus[i][f] -= h
                let numeric = (kernel.determinant(plus) - kernel.determinant(minus)) / (2 * h)
                XCTAssertEqual(gradient[i][f], numeric, accuracy: 1e-6)
            }
        }
        XCTAssertEqual(kernel.determinant([[0, 0, 0], [0, 0, 0]]), (1 + 1e-4) * (1 + 1e-4) - 1, accuracy: 1e-12)
    }

    func testSetDiversity() throws {
        let members = [[0.0, 0, 0], [1.0, 0, 0], [1.0, 2, 0]]
        let d = try XCTUnwrap(SetDiversity(members, mad: [1, 2, 0], madZeroScale: 1, tol: 1e-6))
        // pairs: (0,1) L1 1, (0,2) 3, (1,2) 2; changed features 1, 2, 1 of 3.
        XCTAssertEqual(d.l1, 2, accuracy: 1e-12)
        XCTAssertEqual(d.count, 4.0 / 9.0, accuracy: 1e-12)
        // MAD-scaled / d: (1/1)/3, (1 + 2/2)/3, (2/2)/3 → mean (1/3 + 2/3 + 1/3)/3
        XCTAssertEqual(d.mad!, (1.0 / 3 + 2.0 / 3 + 1.0 / 3) / 3, accuracy: 1e-12)
        XCTAssertNil(SetDiversity([[0.0]], mad: nil, tol: 0))
    }
}
