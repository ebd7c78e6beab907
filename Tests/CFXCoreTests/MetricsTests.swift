import XCTest
@testable import CFXCore

/// Metrics on hand-made cases with known answers. The classifier is `linearSoftmax()`: logits
/// (3x₀, 3x₁, −3x₀ − 3x₁), so (1, 0) is class 0, (0, 1) class 1 and (−1, −1) class 2.
final class MetricsTests: XCTestCase {
    private func evaluator(training: [Double]? = nil, labels: [Int]? = nil,
                           _ configure: (inout EvaluationOptions) -> Void = { _ in }) throws -> CounterfactualEvaluator {
        let model = try linearSoftmax()
        var options = EvaluationOptions()
        options.threads = 1
        configure(&options)
        let reference = try training.map {
            try TrainingReference(data: Dataset(x: $0, rows: $0.count / 2, features: 2, labels: labels, classCount: 3), model: model)
        }
        return try CounterfactualEvaluator(model: model, training: reference, options: options)
    }

    /// A model of `d` features whose 2 classes depend on the sign of the sum of the features.
    private func sumModel(_ d: Int) throws -> CallbackClassifier {
        try CallbackClassifier(featureCount: d, classCount: 2, predict: { x, rows, proba in
            for r in 0..<rows {
                let s = (0..<d).reduce(0.0) { $0 + x[r * d + $1] }
                let p1 = 1 / (1 + exp(-s))
                proba[2 * r] = 1 - p1
                proba[2 * r + 1] = p1
            }
        }, vjp: nil)
    }

    // MARK: Summary

    func testSummaryStatistics() {
        let s = Summary([4, 1, .nan, 3, 2])
        XCTAssertEqual(s.count, 4)
        XCTAssertEqual(s.mean, 2.5)
        XCTAssertEqual(s.std, 1.25.squareRoot(), accuracy: 1e-15)  // population std
        XCTAssertEqual(s.median, 2.5)
        XCTAssertEqual(s.min, 1)
        XCTAssertEqual(s.max, 4)
        XCTAssertEqual(Summary([7, 1, 3]).median, 3)
        let empty = Summary([Double.nan])
        XCTAssertEqual(empty.count, 0)
        XCTAssertTrue(empty.mean.isNaN && empty.std.isNaN && empty.median.isNaN)
    }

    // MARK: Proximity and sparsity

    func testProximityAndSparsity() throws {
        let m = try evaluator().evaluate(x: [1, 0, 1, 0], counterfactuals: [0, 2, 1 + 1e-9, 2], rows: 2)
        XCTAssertEqual(m.values(.l1), [3, 2 + 1e-9])
        XCTAssertEqual(m.values(.l2)[0], 5.0.squareRoot(), accuracy: 1e-15)
        XCTAssertEqual(m.values(.l0), [2, 1])  // 1e-9 is below the default tolerance 1e-6
        let strict = try evaluator { $0.sparsityTol = 0 }.evaluate(x: [1, 0], counterfactuals: [1 + 1e-9, 2], rows: 1)
        XCTAssertEqual(strict.values(.l0), [2])
        XCTAssertTrue(m.values(.l1MAD).allSatisfy(\.isNaN))  // no training data
        XCTAssertEqual(m.summary(.l1).mean, (3 + 2 + 1e-9) / 2, accuracy: 1e-12)
        XCTAssertEqual(m.summary(.l1MAD).count, 0)
    }

    func testMADScaledL1AndZeroMAD() throws {
        // Column 0: median 2, |X − 2| = 2 1 0 1 8, MAD 1. Column 1 is constant: MAD 0.
        let training: [Double] = [0, 5, 1, 5, 2, 5, 3, 5, 10, 5]
        let m = try evaluator(training: training).evaluate(x: [1, 0], counterfactuals: [3, 0.5], rows: 1)
        XCTAssertEqual(m.mad, [1, 0])
        XCTAssertEqual(m.values(.l1MAD), [2 / 1 + 0.5 / 1])  // a zero MAD divides by mad_zero_scale = 1
        let scaled = try evaluator(training: training) { $0.madZeroScale = 0.25 }
            .evaluate(x: [1, 0], counterfactuals: [3, 0.5], rows: 1)
        XCTAssertEqual(scaled.values(.l1MAD), [2 + 2])
        // An even count: the median is the mean of the middle two. Column 0: median 1.5,
        // |X − 1.5| = 1.5 0.5 0.5 1.5, MAD 1.
        let even = try evaluator(training: [0, 0, 1, 0, 2, 0, 3, 0]).evaluate(x: [0, 0], counterfactuals: [0, 0], rows: 1)
        XCTAssertEqual(even.mad, [1, 0])
    }

    // MARK: Validity

    func testValidityAgainstTargets() throws {
        let e = try evaluator()
        // Originals: class 0, 0, 1. Counterfactuals: class 1, 0, 2.
        let x: [Double] = [1, 0, 1, 0, 0, 1]
        let xcf: [Double] = [0, 2, 2, 0, -1, -1]
        let other = try e.evaluate(x: x, counterfactuals: xcf, rows: 3)
        XCTAssertEqual(other.instances.map(\.origClass), [0, 0, 1])
        XCTAssertEqual(other.instances.map(\.cfClass), [1, 0, 2])
        XCTAssertEqual(other.values(.validity), [1, 0, 1])
        XCTAssertEqual(other.summary(.validity).mean, 2.0 / 3, accuracy: 1e-15)
        XCTAssertEqual(other.validCount, 2)
        let fixed = try e.evaluate(x: x, counterfactuals: xcf, rows: 3, EvaluationRequest(targets: [.index(2)]))
        XCTAssertEqual(fixed.values(.validity), [0, 0, 1])
        let perInstance = try e.evaluate(x: x, counterfactuals: xcf, rows: 3,
                                         EvaluationRequest(targets: [.index(1), .same, .index(0)]))
        XCTAssertEqual(perInstance.values(.validity), [1, 1, 0])
        XCTAssertEqual(perInstance.instances.map(\.targetClass), [1, 0, 0])
        // p_0 at (2, 0) is 1 / (1 + e⁻⁶ + e⁻¹²) ≈ 0.99752.
        let p0 = 1 / (1 + exp(-6.0) + exp(-12.0))
        let same = try e.evaluate(x: [1, 0], counterfactuals: [2, 0], rows: 1, EvaluationRequest(targets: [.same], targetProba: 0.99))
        XCTAssertEqual(same.values(.validity), [1])
        XCTAssertEqual(same.values(.targetProba)[0], p0, accuracy: 1e-12)
        let tooHigh = try e.evaluate(x: [1, 0], counterfactuals: [2, 0], rows: 1, EvaluationRequest(targets: [.same], targetProba: 0.999))
        XCTAssertEqual(tooHigh.values(.validity), [0])
        XCTAssertThrowsError(try e.evaluate(x: x, counterfactuals: xcf, rows: 3, EvaluationRequest(targets: [.index(3)]))) {
            XCTAssertTrue(($0 as! CFXError).message.hasPrefix("target_class: class 3"))
        }
        XCTAssertThrowsError(try e.evaluate(x: x, counterfactuals: xcf, rows: 3, EvaluationRequest(targets: [.other, .other])))
    }

    func testMissingCounterfactualsAreInvalidAndLeftOut() throws {
        let nan = Double.nan
        let e = try evaluator(training: [1, 0, 0, 1])
        let m = try e.evaluate(x: [1, 0, 1, 0], counterfactuals: [nan, nan, 0, 2], rows: 2)
        XCTAssertEqual(m.instances.map(\.found), [false, true])
        XCTAssertEqual(m.values(.validity), [0, 1])
        XCTAssertEqual(m.summary(.validity).count, 2)
        XCTAssertEqual(m.summary(.validity).mean, 0.5)
        XCTAssertEqual(m.summary(.l1).count, 1)
        XCTAssertEqual(m.summary(.l1).mean, 3)
        XCTAssertNil(m.instances[0].inRange)

        let none = try e.evaluate(x: [1, 0, 0, 1], counterfactuals: [nan, nan, nan, nan], rows: 2,
                                  EvaluationRequest(costs: [InstanceCost(seconds: 1, modelCalls: 10, gradientEvaluations: 4),
                                                            InstanceCost(seconds: 3, modelCalls: 30, gradientEvaluations: 8)]))
        XCTAssertEqual(none.foundCount, 0)
        XCTAssertEqual(none.summary(.validity).mean, 0)
        for metric in [Metric.l1, .l2, .l0, .nnDistance, .inRange, .targetProba] {
            XCTAssertEqual(none.summary(metric).count, 0, metric.rawValue)
            XCTAssertTrue(none.summary(metric).mean.isNaN, metric.rawValue)
        }
        // Cost is summarised over every instance, found or not.
        XCTAssertEqual(none.summary(.seconds).mean, 2)
        XCTAssertEqual(none.summary(.modelCalls).median, 20)
        XCTAssertEqual(none.summary(.gradientEvaluations).std, 2)

        // A row that is only partly NaN, or infinite, is an error.
        XCTAssertThrowsError(try e.evaluate(x: [1, 0], counterfactuals: [nan, 1], rows: 1)) {
            XCTAssertEqual(($0 as! CFXError).kind, .numeric)
        }
        XCTAssertThrowsError(try e.evaluate(x: [1, 0], counterfactuals: [.infinity, 1], rows: 1))
    }

    func testSummariseOverValidOnly() throws {
        let x: [Double] = [1, 0, 1, 0]
        let xcf: [Double] = [0, 2, 3, 0]  // class 1 (valid, L1 3), class 0 (invalid, L1 2)
        XCTAssertEqual(try evaluator().evaluate(x: x, counterfactuals: xcf, rows: 2).summary(.l1).mean, 2.5)
        let valid = try evaluator { $0.summariseOver = .valid }.evaluate(x: x, counterfactuals: xcf, rows: 2)
        XCTAssertEqual(valid.summary(.l1).count, 1)
        XCTAssertEqual(valid.summary(.l1).mean, 3)
    }

    // MARK: Plausibility

    func testNearestTrainingPointOfTheCounterfactualsClass() throws {
        // Labels: rows 0 and 1 are class 1 at distance 1 from (0, 1) (a tie), row 2 is class 1 at
        // distance 2, row 3 is class 0 and nearer (distance 0.5) but of another class.
        let training: [Double] = [1, 1, -1, 1, 0, 3, 0, 1.5]
        let labels = [1, 1, 1, 0]
        let m = try evaluator(training: training, labels: labels).evaluate(x: [1, 0], counterfactuals: [0, 1], rows: 1)
        XCTAssertEqual(m.instances[0].cfClass, 1)
        XCTAssertEqual(m.values(.nnDistance), [1])
        XCTAssertEqual(m.instances[0].nnIndex, 0)  // the first of the tied points
        let l1 = try evaluator(training: training, labels: [0, 1, 1, 1]) { $0.plausibilityNorm = .l1 }
            .evaluate(x: [1, 0], counterfactuals: [0, 1], rows: 1)
        XCTAssertEqual(l1.values(.nnDistance), [0.5])
        XCTAssertEqual(l1.instances[0].nnIndex, 3)
        // No training point of class 1: no distance.
        let noneOfClass = try evaluator(training: training, labels: [0, 0, 2, 2]).evaluate(x: [1, 0], counterfactuals: [0, 1], rows: 1)
        XCTAssertTrue(noneOfClass.values(.nnDistance)[0].isNaN)
        XCTAssertNil(noneOfClass.instances[0].nnIndex)
    }

    func testTrainingClassesDefaultToThePredictions() throws {
        // Predicted classes: 0, 1, 2, 1. The counterfactual (0, 2) is class 1; of the class-1 rows,
        // row 1 (0.1, 2.4) is at √0.17 ≈ 0.41 and row 3 (0, 1.5) at 0.5.
        let training: [Double] = [1, 0, 0.1, 2.4, -1, -1, 0, 1.5]
        let e = try evaluator(training: training)
        XCTAssertEqual(e.training?.classes, [0, 1, 2, 1])
        let m = try e.evaluate(x: [1, 0], counterfactuals: [0, 2], rows: 1)
        XCTAssertEqual(m.instances[0].nnIndex, 1)
        XCTAssertEqual(m.values(.nnDistance)[0], (0.01 + 0.16).squareRoot(), accuracy: 1e-15)
    }

    func testAutoencoderReconstructionError() throws {
        // An "autoencoder" that halves its input: ‖x'/2 − x'‖² = ‖x'‖² / 4.
        let halve = try CallbackClassifier(featureCount: 2, classCount: 2, predict: { x, rows, out in
            for i in 0..<rows * 2 { out[i] = x[i] / 2 }
        }, vjp: nil)
        var e = try evaluator()
        try e.setAutoencoder(halve)
        let m = try e.evaluate(x: [1, 0, 1, 0], counterfactuals: [0, 2, .nan, .nan], rows: 2)
        XCTAssertEqual(m.values(.aeError)[0], 1)
        XCTAssertTrue(m.values(.aeError)[1].isNaN)
        let wrong = try CallbackClassifier(featureCount: 2, classCount: 3, predict: { _, _, _ in }, vjp: nil)
        XCTAssertThrowsError(try e.setAutoencoder(wrong)) { XCTAssertEqual(($0 as! CFXError).kind, .shape) }
    }

    func testDensityHookReceivesTheTargetClass() throws {
        struct Fake: ClassConditionalDensity {
            func logDensity(_ x: [Double], classIndex: Int) throws -> Double { Double(classIndex) * 10 + x[0] }
        }
        var e = try evaluator()
        e.density = Fake()
        let m = try e.evaluate(x: [1, 0], counterfactuals: [0.5, 2], rows: 1, EvaluationRequest(targets: [.index(2)]))
        XCTAssertEqual(m.values(.logDensity), [20.5])
    }

    // MARK: Constraints

    func testRangeViolationByATinyEpsilon() throws {
        let e = try evaluator { $0.featureRange = (.all(-1), .each([1, 2])) }
        let m = try e.evaluate(x: [0, 0, 0, 0, 0, 0], counterfactuals: [1, 2, 1 + 1e-12, 0, 0, -1 - 1e-15], rows: 3)
        XCTAssertEqual(m.values(.inRange), [1, 0, 0])
        XCTAssertEqual(m.summary(.inRange).mean, 1.0 / 3, accuracy: 1e-15)
        let tolerant = try evaluator { $0.featureRange = (.all(-1), .each([1, 2])); $0.constraintTol = 1e-9 }
        XCTAssertEqual(try tolerant.evaluate(x: [0, 0], counterfactuals: [1 + 1e-12, 0], rows: 1).values(.inRange), [1])
        XCTAssertThrowsError(try evaluator { $0.featureRange = (.all(1), .all(0)) })
    }

    func testImmutableFeaturesMustBeExactlyUnchanged() throws {
        let e = try evaluator { $0.immutable = [1] }
        let m = try e.evaluate(x: [1, 0.3, 1, 0.3], counterfactuals: [5, 0.3, 5, 0.3 + 1e-15], rows: 2)
        XCTAssertEqual(m.values(.immutableOK), [1, 0])
        XCTAssertEqual(m.values(.constraintsOK), [1, 0])
        XCTAssertThrowsError(try evaluator { $0.immutable = [2] })
    }

    func testOneHotAndOrdinalCategories() throws {
        let model = try sumModel(6)
        var options = EvaluationOptions()
        options.categorical = [CategoricalVariable(column: 1, categories: 3), CategoricalVariable(column: 4, categories: 2)]
        let e = try CounterfactualEvaluator(model: model, options: options)
        let x = [Double](repeating: 0, count: 6)
        let rows: [[Double]] = [
            [9, 0, 1, 0, 1, 0],        // valid
            [9, 0, 1, 1, 1, 0],        // two categories on: sums to 2
            [9, 0, 0, 0, 0, 1],        // none on in the first group
            [9, 0, 0.5, 0.5, 1, 0],    // sums to 1 but not one-hot
            [9, 0, 1, 0, 1, 1e-12],    // off by a tiny epsilon
        ]
        let m = try e.evaluate(x: Array(repeating: x, count: rows.count).flatMap { $0 }, counterfactuals: rows.flatMap { $0 }, rows: rows.count)
        XCTAssertEqual(m.values(.categoriesOK), [1, 0, 0, 0, 0])
        options.constraintTol = 1e-9
        let tolerant = try CounterfactualEvaluator(model: model, options: options)
        XCTAssertEqual(try tolerant.evaluate(x: x, counterfactuals: rows[4], rows: 1).values(.categoriesOK), [1])

        var ordinal = EvaluationOptions()
        ordinal.oneHot = false
        ordinal.categorical = [CategoricalVariable(column: 0, categories: 3)]
        let o = try CounterfactualEvaluator(model: model, options: ordinal)
        let values: [Double] = [0, 2, 1.5, 3, -1]
        let m2 = try o.evaluate(x: Array(repeating: x, count: 5).flatMap { $0 },
                                counterfactuals: values.flatMap { [$0, 0, 0, 0, 0, 1] }, rows: 5)
        XCTAssertEqual(m2.values(.categoriesOK), [1, 1, 0, 0, 0])

        options.categorical = [CategoricalVariable(column: 4, categories: 3)]
        XCTAssertThrowsError(try CounterfactualEvaluator(model: model, options: options))  // does not fit
        options.categorical = [CategoricalVariable(column: 0, categories: 3), CategoricalVariable(column: 2, categories: 2)]
        XCTAssertThrowsError(try CounterfactualEvaluator(model: model, options: options))  // overlaps
    }

    // MARK: Threads

    func testResultsDoNotDependOnTheThreadCount() throws {
        var rng = SplitMix64(state: 3)
        let training = randomValues(400, &rng, scale: 2)
        let x = randomValues(40, &rng), xcf = randomValues(40, &rng, scale: 2)
        let one = try evaluator(training: training).evaluate(x: x, counterfactuals: xcf, rows: 20)
        let many = try evaluator(training: training) { $0.threads = 4 }.evaluate(x: x, counterfactuals: xcf, rows: 20)
        XCTAssertEqual(one.instances.map(\.nnIndex), many.instances.map(\.nnIndex))
        XCTAssertEqual(one.summary(.nnDistance), many.summary(.nnDistance))
    }
}
