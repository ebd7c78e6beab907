import CFXCore
import Foundation
import XCTest
@testable import CFXFormats

/// The relaxed tree ensemble (FOCUS's sigmoid splits, TreeEnsemble+Relaxation.swift): its value on
/// a hand-built stump, its exact input gradient against central differences on every tree
/// fixture, rows batched as one by one, and its probabilities approaching the real ensemble's as σ grows.
final class TreeRelaxationTests: XCTestCase {
    static let fixtures = ["xgboost_cancer.json", "lightgbm_cancer.txt", "sklearn_forest_cancer.onnx", "xgboost_iris.json",
                           "lightgbm_iris.txt"]

    func ensemble(_ name: String) throws -> TreeEnsemble {
        try XCTUnwrap(try loadModelFile(path: "\(TreeEnsembleTests.directory)/\(name)").model as? TreeEnsemble)
    }

    func rows(_ name: String) throws -> [[Double]] {
        Array(try Fixture(name.contains("iris") ? "iris" : "breast_cancer").xTest.prefix(12))
    }

    func predict(_ model: Classifier, _ rows: [[Double]]) throws -> [Double] {
        try ModelSession(model: model).predict(rows.flatMap { $0 }, rows: rows.count)
    }

    /// One split at θ = 1 with leaves −2 (left) and +2 (right), logistic: p₁ = sigmoid(4 s − 2),
    /// s = sigmoid(σ (x − 1)), the weight of going right.
    func testStumpValue() throws {
        let tree = DecisionTree(nodes: [.split(feature: 0, threshold: 1, left: 1, right: 2, flags: []), .leaf([-2]), .leaf([2])], target: 0)
        let stump = try TreeEnsemble(trees: [tree], featureCount: 2, classCount: 2, base: [0.5], output: .logistic(scale: 1),
                                     precision: .float64, source: "test")
        for (sigma, x) in [(1.0, 0.3), (3.0, 1.2), (0.5, -4.0)] {
            let s = 1 / (1 + exp(-sigma * (x - 1)))
            let expected = 1 / (1 + exp(-(0.5 - 2 * (1 - s) + 2 * s)))
            let p = try predict(RelaxedTreeEnsemble(stump, sigma: sigma), [[x, 7]])
            XCTAssertEqual(p[1], expected, accuracy: 1e-14)
            XCTAssertEqual(p[0], 1 - expected, accuracy: 1e-14)
        }
        XCTAssertThrowsError(try RelaxedTreeEnsemble(stump, sigma: 0))
        XCTAssertThrowsError(try RelaxedTreeEnsemble(stump, sigma: .nan))
    }

    /// A cutoff leaves out a node reached with less weight, with its subtree: on the stump at x far
    /// left, the right leaf's weight s is below 10⁻⁹, so with that cutoff the right leaf adds nothing
    /// (and without one it adds 2 s).
    func testCutoffLeavesOutLightSubtrees() throws {
        let tree = DecisionTree(nodes: [.split(feature: 0, threshold: 1, left: 1, right: 2, flags: []), .leaf([-2]), .leaf([2])], target: 0)
        let stump = try TreeEnsemble(trees: [tree], featureCount: 2, classCount: 2, base: [0.5], output: .logistic(scale: 1),
                                     precision: .float64, source: "test")
        let x = -20.0, s = 1 / (1 + exp(-(x - 1)))
        XCTAssertLessThan(s, 1e-9)
        let exact = try predict(RelaxedTreeEnsemble(stump, sigma: 1), [[x, 0]])[1]
        let cut = try predict(RelaxedTreeEnsemble(stump, sigma: 1, cutoff: 1e-9), [[x, 0]])[1]
        XCTAssertEqual(exact, 1 / (1 + exp(-(0.5 - 2 * (1 - s) + 2 * s))), accuracy: 1e-15)
        XCTAssertEqual(cut, 1 / (1 + exp(-(0.5 - 2 * (1 - s)))), accuracy: 1e-15)
        XCTAssertNotEqual(cut, exact)
        XCTAssertThrowsError(try RelaxedTreeEnsemble(stump, sigma: 1, cutoff: 0.6))
    }

    /// Σ_c u_c ∂p_c/∂x (pullback) equals central differences of Σ_c u_c p_c, per feature, on every
    /// fixture (forest votes, logistic and softmax margins); a batch of rows equals the rows one by one.
    func testGradientMatchesFiniteDifferences() throws {
        for name in Self.fixtures {
            let relaxed = try RelaxedTreeEnsemble(try ensemble(name), sigma: 2)
            let (d, k) = (relaxed.featureCount, relaxed.classCount)
            let xs = try rows(name)
            let cotangent = (0..<(xs.count * k)).map { Double(($0 * 7) % 5) - 1.7 }
            var grad = [Double](repeating: 0, count: xs.count * d)
            let evaluator = relaxed.makeEvaluator()
            try xs.flatMap { $0 }.withUnsafeBufferPointer { x in
                try cotangent.withUnsafeBufferPointer { c in
                    try grad.withUnsafeMutableBufferPointer { try evaluator.pullback(at: x, rows: xs.count, cotangent: c, into: $0) }
                }
            }
            var largest = 0.0
            for (r, x) in xs.enumerated() {
                let u = Array(cotangent[r * k..<(r + 1) * k])
                for j in 0..<d {
                    let h = 1e-3  // inputs rounded to float32 (XGBoost, ONNX) make smaller steps noisy
                    var (plus, minus) = (x, x)
                    plus[j] += h
                    minus[j] -= h
                    let (pp, pm) = (try predict(relaxed, [plus]), try predict(relaxed, [minus]))
                    let numeric = zip(u, zip(pp, pm)).reduce(0.0) { $0 + $1.0 * ($1.1.0 - $1.1.1) } / (2 * h)
                    XCTAssertEqual(grad[r * d + j], numeric, accuracy: 1e-5 + 1e-4 * abs(numeric), "\(name) row \(r) feature \(j)")
                    largest = max(largest, abs(numeric))
                }
            }
            XCTAssertGreaterThan(largest, 1e-3, "\(name): the relaxation has a gradient")
            let batched = try predict(relaxed, xs), single = try xs.flatMap { try predict(relaxed, [$0]) }
            XCTAssertEqual(batched, single, name)
        }
    }

    /// As σ grows the relaxed probabilities approach the real ensemble's: the largest difference
    /// over the test rows shrinks, and at σ = 10⁸ it is below 10⁻⁵ (XGBoost sums in float32).
    func testProbabilitiesApproachTheRealOnesAsSigmaGrows() throws {
        for name in Self.fixtures {
            let model = try ensemble(name)
            let xs = try rows(name)
            let real = try predict(model, xs)
            var previous = Double.infinity
            for sigma in [1.0, 1e2, 1e4, 1e8] {
                let relaxed = try predict(RelaxedTreeEnsemble(model, sigma: sigma), xs)
                let gap = zip(relaxed, real).map { abs($0 - $1) }.max()!
                XCTAssertLessThanOrEqual(gap, previous + 1e-12, "\(name) σ \(sigma)")
                previous = gap
            }
            XCTAssertLessThan(previous, 1e-5, name)
        }
    }
}
