import XCTest
@testable import CFXCore

final class WachterTests: XCTestCase {
    // Instances of class 0, 1 and 2 of `linearSoftmax()` (the classes point along +x, +y, −(x+y)).
    let instances: [Double] = [1.5, 0.2, 0.1, 1.4, -1.2, -1.0]

    private func explain(_ model: Classifier, _ configure: (inout WachterParams) -> Void = { _ in },
                         threads: Int = 1) throws -> [WachterExplanation] {
        var params = WachterParams()
        configure(&params)
        return try WachterExplainer(model: model, params: params).explain(instances, rows: 3, threads: threads)
    }

    /// The counterfactual is in another class and its probability is within tol of target_proba.
    private func assertValid(_ e: WachterExplanation, target: Int? = nil, params: WachterParams = WachterParams(),
                             file: StaticString = #filePath, line: UInt = #line) {
        guard let cf = e.cf else { return XCTFail("no counterfactual", file: file, line: line) }
        XCTAssertNotEqual(cf.predictedClass, e.origClass, file: file, line: line)
        if let target { XCTAssertEqual(cf.predictedClass, target, file: file, line: line) }
        XCTAssertLessThanOrEqual(abs(cf.proba[cf.predictedClass] - params.targetProba), params.tol, file: file, line: line)
    }

    func testOtherClassIsReachedWithTargetProbability() throws {
        let results = try explain(try linearSoftmax())
        XCTAssertEqual(results.map(\.origClass), [0, 1, 2])
        for (r, e) in results.enumerated() {
            assertValid(e)
            let x = Array(instances[2 * r..<2 * r + 2])
            let l1 = zip(e.cf!.x, x).reduce(0) { $0 + abs($1.0 - $1.1) }
            XCTAssertEqual(e.cf!.distance, l1, accuracy: 1e-12)
            // The returned candidate is the closest of all the candidates met.
            let closest = e.all.joined().map(\.distance).min()!
            XCTAssertEqual(e.cf!.distance, closest)
            XCTAssertTrue(e.success)
        }
    }

    func testAllKeepsEachRoundsClosestOrEveryCandidate() throws {
        let model = try linearSoftmax()
        let closest = try explain(model), every = try explain(model) { $0.allCandidates = .every }
        for (kept, met) in zip(closest, every) {
            XCTAssertEqual(kept.cf?.x, met.cf?.x)  // what `all` keeps does not change the search
            XCTAssertEqual(kept.all.count, met.all.count)
            for (round, everyOne) in zip(kept.all, met.all) {
                XCTAssertEqual(round.map(\.distance), everyOne.isEmpty ? [] : [everyOne.map(\.distance).min()!])
                XCTAssertEqual(round.first?.index, everyOne.min { $0.distance < $1.distance }?.index)
            }
        }
        XCTAssertTrue(every.contains { $0.all.contains { $0.count > 1 } }, "no round met more than one: the test tells nothing")
        XCTAssertTrue(try explain(model) { $0.returnAll = false }.allSatisfy { $0.all.joined().isEmpty })
    }

    func testFixedTargetClass() throws {
        for target in 0..<3 {
            let results = try explain(try linearSoftmax()) { $0.targetClass = .index(target) }
            for e in results where e.origClass != target { assertValid(e, target: target) }
        }
    }

    func testLowerTargetProbability() throws {
        let results = try explain(try linearSoftmax()) { $0.targetProba = 0.6; $0.tol = 0.02 }
        var params = WachterParams()
        params.targetProba = 0.6
        params.tol = 0.02
        for e in results { assertValid(e, params: params) }
    }

    func testFeatureRangeHoldsExactly() throws {
        let lower = [-0.3, -0.5], upper = [1.6, 1.5]
        let results = try explain(try linearSoftmax()) {
            $0.constraints.featureRangeMin = .each(lower)
            $0.constraints.featureRangeMax = .each(upper)
        }
        for e in results {
            for candidate in e.all.joined() {
                for j in 0..<2 {
                    XCTAssertGreaterThanOrEqual(candidate.x[j], lower[j])
                    XCTAssertLessThanOrEqual(candidate.x[j], upper[j])
                }
            }
        }
        XCTAssertTrue(results.contains { $0.cf != nil })
    }

    func testImmutableFeaturesNeverChange() throws {
        // With feature 1 frozen, class 0 can only become class 2 (by lowering feature 0).
        let results = try explain(try linearSoftmax()) { $0.constraints.immutable = [1]; $0.targetClass = .index(2) }
        for (r, e) in results.enumerated() {
            for candidate in e.all.joined() { XCTAssertEqual(candidate.x[1], instances[2 * r + 1]) }
        }
        assertValid(results[0], target: 2)
    }

    func testResultsDoNotDependOnThreadCount() throws {
        let model = try linearSoftmax()
        let one = try explain(model, threads: 1), two = try explain(model, threads: 2), all = try explain(model, threads: 0)
        for r in 0..<3 {
            XCTAssertEqual(one[r].cf?.x, two[r].cf?.x)
            XCTAssertEqual(one[r].cf?.x, all[r].cf?.x)
            XCTAssertEqual(one[r].all.joined().count, two[r].all.joined().count)
        }
    }

    func testBlackBoxModelWithNumericalGradientsFindsCounterfactuals() throws {
        let network = try linearSoftmax()
        for exact in [false, true] {
            let results = try explain(try callbackCopy(of: network, exactGradient: exact))
            for e in results { assertValid(e) }
            // Every numerical gradient is one more predict call; exact ones are pullbacks.
            let stats = results[0].stats
            XCTAssertGreaterThan(stats.gradientEvaluations, 0)
            XCTAssertEqual(stats.predictCalls, exact ? stats.gradientEvaluations + 1 : 2 * stats.gradientEvaluations + 1)
        }
    }

    /// ∇L of the search against central differences of L = (p_t − target)² + λ‖x' − x‖₁.
    func testLossGradientMatchesFiniteDifferences() throws {
        let model = try linearSoftmax()
        let explainer = try WachterExplainer(model: model, params: WachterParams())
        let original = [0.8, 0.1]
        let session = ModelSession(model: model)
        var search = WachterSearch(explainer: explainer, factual: Factual(x: original, proba: try session.predict(original)), session: session)
        search.x = [0.5, 0.4]  // away from x so that sign(x' − x) is defined
        search.proba = try session.predict(search.x)
        let lambda = 0.05
        try search.computeGradient(lambda: lambda)
        let t = search.targetClass
        let h = 1e-6
        for j in 0..<2 {
            var plus = search, minus = search
            plus.x[j] += h
            minus.x[j] -= h
            plus.proba = try session.predict(plus.x)
            minus.proba = try session.predict(minus.x)
            XCTAssertEqual(plus.targetClass, t)
            let numeric = (plus.loss(lambda: lambda) - minus.loss(lambda: lambda)) / (2 * h)
            XCTAssertEqual(search.gradient[j], numeric, accuracy: 1e-7)
        }
    }

    func testUnreachableTargetGivesNoCounterfactual() throws {
        // A box that keeps class 0 most probable everywhere: no counterfactual exists.
        let results = try explain(try linearSoftmax()) {
            $0.constraints.featureRangeMin = .each([1.0, -0.1])
            $0.constraints.featureRangeMax = .each([2.0, 0.1])
            $0.maxIter = 100
            $0.maxLamSteps = 2
        }
        XCTAssertNil(results[0].cf)
        XCTAssertFalse(results[0].success)
    }

    // MARK: Errors

    private func assertConfigError(_ key: String, _ configure: (inout WachterParams) -> Void,
                                   file: StaticString = #filePath, line: UInt = #line) {
        var params = WachterParams()
        configure(&params)
        XCTAssertThrowsError(try WachterExplainer(model: try linearSoftmax(), params: params), file: file, line: line) { error in
            let error = error as! CFXError
            XCTAssertEqual(error.kind, .config, file: file, line: line)
            XCTAssertTrue(error.message.hasPrefix(key + ":"), error.message, file: file, line: line)
        }
    }

    func testOutOfRangeParametersAreRejectedByName() {
        assertConfigError("tol") { $0.tol = -1 }
        assertConfigError("target_proba") { $0.targetProba = 1.5 }
        assertConfigError("max_iter") { $0.maxIter = 5 }
        assertConfigError("early_stop") { $0.earlyStop = 0 }
        assertConfigError("lam_init") { $0.lamInit = 0 }
        assertConfigError("max_lam_steps") { $0.maxLamSteps = 0 }
        assertConfigError("learning_rate_init") { $0.learningRateInit = -0.1 }
        assertConfigError("target_class") { $0.targetClass = .index(3) }
        assertConfigError("feature_range") { $0.constraints.featureRangeMin = .all(1); $0.constraints.featureRangeMax = .all(0) }
        assertConfigError("feature_range[0]") { $0.constraints.featureRangeMin = .each([0, 0, 0]) }
        assertConfigError("immutable") { $0.constraints.immutable = [2] }
        assertConfigError("eps") { $0.eps = .each([0.1]) }
        assertConfigError("eps") { $0.eps = .all(0) }
        assertConfigError("init") { $0.initialisation = "random" }
        assertConfigError("distance_fn") { $0.distanceFunction = "l2" }
    }

    func testBadInstancesAreRejected() throws {
        let explainer = try WachterExplainer(model: try linearSoftmax(), params: WachterParams())
        XCTAssertThrowsError(try explainer.explain([1, 2, 3], rows: 2, threads: 1)) { XCTAssertEqual(($0 as! CFXError).kind, .shape) }
        XCTAssertThrowsError(try explainer.explain([1, .nan], rows: 1, threads: 1)) { XCTAssertEqual(($0 as! CFXError).kind, .numeric) }
    }

    func testFailingCallbackIsReportedWithItsInstance() throws {
        let failing = try CallbackClassifier(featureCount: 2, classCount: 3, predict: { x, _, proba in
            if x[0] < 0 { throw CFXError(.callback, "the predict callback returned 7") }
            for i in proba.indices { proba[i] = 1.0 / 3 }
        }, vjp: nil)
        let explainer = try WachterExplainer(model: failing, params: WachterParams())
        XCTAssertThrowsError(try explainer.explain(instances, rows: 3, threads: 2)) { error in
            let error = error as! CFXError
            XCTAssertEqual(error.kind, .callback)
            XCTAssertTrue(error.message.hasPrefix("instance 2: "), error.message)
        }
        let nanModel = try CallbackClassifier(featureCount: 2, classCount: 3, predict: { _, _, proba in
            for i in proba.indices { proba[i] = .nan }
        }, vjp: nil)
        // A callback's NaN probabilities are the callback's failure, named with its row.
        XCTAssertThrowsError(try WachterExplainer(model: nanModel, params: WachterParams()).explain([0, 0], rows: 1, threads: 1)) {
            XCTAssertEqual(($0 as! CFXError).kind, .callback)
            XCTAssertTrue(($0 as! CFXError).message.contains("row 0"), ($0 as! CFXError).message)
        }
    }

    func testSingleClassModelIsRejected() throws {
        let model = try Network(inputShape: [2], nodes: [.layer(Dense(outputs: 1)), .layer(Elementwise(.sigmoid))])
        XCTAssertThrowsError(try WachterExplainer(model: model, params: WachterParams()))
    }
}
