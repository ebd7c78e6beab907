import XCTest
@testable import CFXCore

/// Directional (increase-only / decrease-only) constraints in the searches and in the metrics.
final class MonotoneTests: XCTestCase {
    // Class 0 of `linearSoftmax()`; its nearest way to class 1 (+y) lowers x as well.
    let instance: [Double] = [1.5, 0.2]

    func testWachterKeepsAnIncreaseOnlyFeatureFromDecreasing() throws {
        var params = WachterParams()
        params.targetClass = .index(1)
        params.targetProba = 0.6
        params.tol = 0.1
        let free = try WachterExplainer(model: try linearSoftmax(), params: params).explain(instance)
        XCTAssertLessThan(free.cf!.x[0], instance[0], "without the constraint the search lowers x0")
        params.constraints.monotone = [MonotoneFeature(feature: 0, direction: .increase)]
        let e = try WachterExplainer(model: try linearSoftmax(), params: params).explain(instance)
        let cf = try XCTUnwrap(e.cf)
        XCTAssertEqual(cf.predictedClass, 1)
        for candidate in e.all.joined() { XCTAssertGreaterThanOrEqual(candidate.x[0], instance[0]) }
        XCTAssertGreaterThan(cf.x[1], instance[1])
    }

    func testCFProtoKeepsADecreaseOnlyFeatureFromIncreasing() throws {
        // From class 1 ([0.1, 1.4]) to class 0 the search raises x0; decrease-only x0 forbids it.
        var params = CFProtoParams()
        params.maxIterations = 300
        params.cSteps = 4
        params.constraints.monotone = [MonotoneFeature(feature: 0, direction: .decrease)]
        let e = try CFProtoExplainer(model: try linearSoftmax(), params: params, encoder: nil, autoencoder: nil, training: nil)
            .explain([0.1, 1.4], rows: 1, threads: 1)[0]
        for candidate in e.all.joined() { XCTAssertLessThanOrEqual(candidate.x[0], 0.1) }
        if let cf = e.cf { XCTAssertNotEqual(cf.predictedClass, 1) }
    }

    func testMetricsCheckDirections() throws {
        var options = EvaluationOptions()
        options.threads = 1
        options.monotone = [MonotoneFeature(feature: 0, direction: .increase), MonotoneFeature(feature: 1, direction: .decrease)]
        let evaluator = try CounterfactualEvaluator(model: try linearSoftmax(), options: options)
        let m = try evaluator.evaluate(x: [0, 0, 0, 0, 0, 0], counterfactuals: [1, -1, -1e-15, 0, 0, 1e-15], rows: 3)
        XCTAssertEqual(m.values(.monotoneOK), [1, 0, 0])
        XCTAssertEqual(m.values(.constraintsOK), [1, 0, 0])
    }

    func testBadMonotoneFeaturesAreConfigErrors() throws {
        var params = WachterParams()
        params.constraints.monotone = [MonotoneFeature(feature: 2, direction: .increase)]
        XCTAssertThrowsError(try WachterExplainer(model: try linearSoftmax(), params: params))
        params.constraints.monotone = [MonotoneFeature(feature: 0, direction: .increase)]
        params.constraints.immutable = [0]
        XCTAssertThrowsError(try WachterExplainer(model: try linearSoftmax(), params: params))
    }
}
