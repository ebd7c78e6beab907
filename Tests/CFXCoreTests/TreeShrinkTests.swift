import XCTest
@testable import CFXCore

/// The tree methods' threshold-aware shrink (TreeShrink.swift) on hand-built
/// forests of stumps whose ℓ1-optimal counterfactual is known analytically: the single passes stop
/// short of it, the exchanges (TreeExchange.swift) reach it, and the constraints hold.
final class TreeShrinkTests: XCTestCase {
    /// A forest of stumps, each voting class 1 when its feature exceeds its threshold (class 0
    /// otherwise), averaged: class 1 needs more than half the votes.
    func forest(_ stumps: [(feature: Int, threshold: Double)], features: Int) throws -> TreeEnsemble {
        let trees = stumps.map { s in
            DecisionTree(nodes: [.split(feature: s.feature, threshold: s.threshold, left: 1, right: 2, flags: []),
                                 .leaf([1, 0]), .leaf([0, 1])], target: nil)
        }
        return try TreeEnsemble(trees: trees, featureCount: features, classCount: 2, base: [0, 0],
                                divisor: Double(stumps.count), output: .probabilities, precision: .float64, source: "test")
    }

    func shrink(_ model: TreeEnsemble, _ cf: [Double], of x: [Double], constraints: Constraints? = nil,
                helpers: Int = ThresholdShrink.defaultHelpers) throws -> [Double] {
        let session = ModelSession(model: model)
        let box = try constraints ?? Constraints(lower: .all(-1e10), upper: .all(1e10), immutable: [], featureCount: x.count)
        let result = try ThresholdShrink(model, helpers: helpers).run(cf, proba: try session.predict(cf), of: x, targets: [1], constraints: box,
                                                    session: session, distance: TweakDistance.l1.between)
        XCTAssertEqual(argmax(try session.predict(result.x)), 1, "still valid")
        XCTAssertEqual(result.proba, try session.predict(result.x))
        XCTAssertTrue(box.permits(result.x, from: x))
        XCTAssertLessThanOrEqual(l1(result.x, x), l1(cf, x))
        return result.x
    }

    func l1(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).reduce(0) { $0 + abs($1.0 - $1.1) } }

    /// The single passes alone from `cf`.
    func singlePasses(_ model: TreeEnsemble, _ cf: [Double], of x: [Double]) throws -> [Double] {
        let session = ModelSession(model: model)
        let row = ShrinkRow(x: x, targets: [1], constraints: try Constraints(lower: .all(-10), upper: .all(10), immutable: [], featureCount: x.count),
                            session: session, distance: TweakDistance.l1.between)
        return try ThresholdShrink(model).singlePasses(cf, proba: try session.predict(cf), row).x
    }

    /// Votes: x0 > 1, x1 > 1, x0 > 5 (two of three needed). From (5.5, 0) the single passes stop at
    /// x0 just past 5 (l1 5); one helper (x1 just past 1) lets x0 back to just past 1: the optimum, l1 2.
    func testOneHelperReachesTheOptimum() throws {
        let model = try forest([(0, 1), (1, 1), (0, 5)], features: 2)
        let x = [0.0, 0.0]
        XCTAssertEqual(try singlePasses(model, [5.5, 0], of: x), [Double(5).nextUp, 0])
        XCTAssertEqual(try shrink(model, [5.5, 0], of: x), [Double(1).nextUp, Double(1).nextUp])
    }

    /// Votes: x0 > 1, x0 > 5 twice, x1 > 1, x2 > 1 (three of five needed). From (5.5, 0, 0) neither
    /// a single feature nor one helper gets closer (x0 back to 1 leaves one vote, a helper adds
    /// one, the default's one helper step finds nothing); two helpers do, to the optimum (just past
    /// 1, 1, 1), l1 3.
    func testTwoHelpersReachTheOptimum() throws {
        let model = try forest([(0, 1), (0, 5), (0, 5), (1, 1), (2, 1)], features: 3)
        let x = [0.0, 0.0, 0.0]
        XCTAssertEqual(try singlePasses(model, [5.5, 0, 0], of: x), [Double(5).nextUp, 0, 0])
        XCTAssertEqual(try shrink(model, [5.5, 0, 0], of: x, helpers: 1), [Double(5).nextUp, 0, 0])
        XCTAssertEqual(try shrink(model, [5.5, 0, 0], of: x, helpers: 2), [Double(1).nextUp, Double(1).nextUp, Double(1).nextUp])
    }

    /// The same forest with x2 immutable, then x1 decrease-only, then x1 capped at 0.5: no helper
    /// may use the feature, so the shrink keeps x0 just past 5.
    func testHelpersKeepTheConstraints() throws {
        let model = try forest([(0, 1), (0, 5), (0, 5), (1, 1), (2, 1)], features: 3)
        let x = [0.0, 0.0, 0.0]
        let cases = [
            try Constraints(lower: .all(-10), upper: .all(10), immutable: [2], featureCount: 3),
            try Constraints(lower: .all(-10), upper: .all(10), immutable: [], monotone: [MonotoneFeature(feature: 1, direction: .decrease)], featureCount: 3),
            try Constraints(lower: .all(-10), upper: .each([10, 0.5, 10]), immutable: [], featureCount: 3),
        ]
        for constraints in cases {
            XCTAssertEqual(try shrink(model, [5.5, 0, 0], of: x, constraints: constraints, helpers: 2), [Double(5).nextUp, 0, 0])
        }
    }
}
