import Foundation
import Synchronization
import XCTest
@testable import CFXCore

/// The genetic search on predict-only models: validity, one batched predict per generation,
/// determinism, the shared constraint, categorical, set and sparsity keys, and its config errors.
/// (Real data, tree ensembles and the C API: CFXABITests/GeneticABITests.swift; Python callbacks:
/// Tests/python/test_genetic.py.)
final class GeneticTests: XCTestCase {
    /// `linearSoftmax()` as a callback model without a gradient.
    func callbackModel() throws -> CallbackClassifier { try callbackCopy(of: try linearSoftmax(), exactGradient: false) }

    /// A 21 × 21 grid over [−2, 2]², the training rows.
    func grid() throws -> Dataset {
        let values = (0..<21).map { -2 + 0.2 * Double($0) }
        let x = values.flatMap { a in values.flatMap { b in [a, b] } }
        return try Dataset(x: x, rows: 441, features: 2, labels: nil, classCount: 3)
    }

    let instances: [[Double]] = [[1.5, 0.2], [0.1, 1.4], [-1, -1], [0.8, -0.5], [-0.3, 0.9]]

    func explain(_ model: Classifier, _ params: GeneticParams, _ rows: [[Double]]? = nil, training: Dataset? = nil,
                 seed: Int = 0) throws -> [GeneticExplanation] {
        let rows = rows ?? instances
        let explainer = try GeneticExplainer(model: model, params: params, training: training ?? (try grid()), seed: seed)
        return try explainer.explain(rows.flatMap { $0 }, rows: rows.count, threads: 1)
    }

    func predicted(_ model: Classifier, _ x: [Double]) throws -> Int { argmax(try ModelSession(model: model).predict(x)) }

    func testCounterfactualsAreValidOnTheModelAndInTheBox() throws {
        let model = try callbackModel()
        for initialization in GeneticInitialization.allCases {
            var params = GeneticParams()
            params.initialization = initialization
            params.constraints.featureRangeMin = .all(-1.5)
            params.constraints.featureRangeMax = .all(1.8)
            // Few generations and no sparsity pass: the members are near the random start, spread over the box.
            (params.maxIterations, params.refinement.nCounterfactuals, params.refinement.sparsify) = (3, 3, false)
            for (x, e) in zip(instances, try explain(model, params)) {
                let cf = try XCTUnwrap(e.cf, "\(initialization) \(x)")
                for c in try XCTUnwrap(e.cfs) {
                    XCTAssertNotEqual(try predicted(model, c.x), e.origClass)
                    XCTAssertEqual(try predicted(model, c.x), c.predictedClass)
                    for j in 0..<2 where c.x[j] != x[j] { XCTAssertTrue((-1.5...1.8).contains(c.x[j]), "\(initialization): \(c.x)") }
                }
                XCTAssertEqual(cf.x, e.cfs?.first?.x)
                XCTAssertGreaterThan(e.generations, 0)
            }
        }
    }

    func testATargetClassIsReached() throws {
        var params = GeneticParams()
        params.targetClass = .index(2)
        for e in try explain(try callbackModel(), params, [[1.5, 0.2], [0.1, 1.4]]) {
            XCTAssertEqual(e.cf?.predictedClass, 2)
        }
    }

    /// Each generation is one predict call: with the "kdtree" start (no random fill needed) and no
    /// sparsity pass, the calls are the instance's, then one per generation.
    func testOneBatchedPredictPerGeneration() throws {
        let calls = Mutex<[Int]>([])
        let network = try linearSoftmax()
        let model = try CallbackClassifier(featureCount: 2, classCount: 3, predict: { x, rows, proba in
            calls.withLock { $0.append(rows) }
            try network.makeEvaluator().predict(x, rows: rows, into: proba)
        }, vjp: nil)
        var params = GeneticParams()
        params.refinement.sparsify = false
        let explainer = try GeneticExplainer(model: model, params: params, training: try grid(), seed: 0)
        calls.withLock { $0 = [] }
        let e = try explainer.explain([1.5, 0.2], rows: 1, threads: 1)[0]
        let rows = calls.withLock { $0 }
        XCTAssertEqual(rows.count, 1 + e.generations, "\(rows)")
        XCTAssertEqual(e.stats.predictCalls, rows.count)
        XCTAssertEqual(rows[0], 1)
        XCTAssertTrue(rows.dropFirst().allSatisfy { $0 > 1 && $0 <= params.population }, "\(rows)")
    }

    func testTheSeedDecides() throws {
        let model = try callbackModel()
        var params = GeneticParams()
        params.initialization = .random
        let a = try explain(model, params, seed: 3).map { $0.cf!.x }
        XCTAssertEqual(a, try explain(model, params, seed: 3).map { $0.cf!.x })
        XCTAssertNotEqual(a, try explain(model, params, seed: 4).map { $0.cf!.x })
    }

    func testImmutableAndMonotoneFeaturesHold() throws {
        let model = try callbackModel()
        var params = GeneticParams()
        params.refinement.sparsify = false
        params.constraints.immutable = [1]
        // [1.5, 0.2] (class 0) reaches another class only through x0 now.
        for (x, e) in zip(instances, try explain(model, params)) {
            if let cf = e.cf { XCTAssertEqual(cf.x[1], x[1]) }
        }
        XCTAssertNotNil(try explain(model, params, [[1.5, 0.2]])[0].cf)
        params.constraints.immutable = []
        params.constraints.monotone = [MonotoneFeature(feature: 0, direction: .increase)]
        var moved = 0
        for (x, e) in zip(instances, try explain(model, params)) {
            guard let cf = e.cf else { continue }
            XCTAssertGreaterThanOrEqual(cf.x[0], x[0])
            if cf.x[0] > x[0] { moved += 1 }
        }
        XCTAssertGreaterThan(moved, 0, "x0 still moves up")
        // Class 0 at [1.5, 0.2] leaves only by lowering x0 or raising x1: decrease-only x1 leaves x0 going down.
        params.constraints.monotone = [MonotoneFeature(feature: 1, direction: .decrease)]
        for (x, e) in zip(instances, try explain(model, params)) {
            if let cf = e.cf { XCTAssertLessThanOrEqual(cf.x[1], x[1]) }
        }
    }

    /// A one-hot variable of 3 categories at columns 2...4: class 1 when 2·x0 + 3·[category 2] > 1.
    func categoricalModel() throws -> CallbackClassifier {
        try CallbackClassifier(featureCount: 5, classCount: 2, predict: { x, rows, proba in
            for r in 0..<rows {
                let z = 2 * x[r * 5] + 3 * x[r * 5 + 4] - 1
                proba[2 * r + 1] = 1 / (1 + exp(-z))
                proba[2 * r] = 1 - proba[2 * r + 1]
            }
        }, vjp: nil)
    }

    func categoricalTraining() throws -> Dataset {
        var rows: [Double] = []
        for i in 0..<60 {
            var row = [Double(i % 10) / 5 - 1, Double(i % 7) / 3 - 1, 0, 0, 0]
            row[2 + i % 3] = 1
            rows += row
        }
        return try Dataset(x: rows, rows: 60, features: 5, labels: nil, classCount: 2)
    }

    func testOneHotVariablesStayOneHot() throws {
        var params = GeneticParams()
        params.catVars = [CategoricalVariable(column: 2, categories: 3)]
        params.ohe = true
        params.constraints.immutable = [0]
        let rows: [[Double]] = [[-0.5, 0.3, 1, 0, 0], [-0.2, -0.4, 0, 1, 0]]
        let model = try categoricalModel()
        for (x, e) in zip(rows, try explain(model, params, rows, training: try categoricalTraining())) {
            let cf = try XCTUnwrap(e.cf)
            XCTAssertEqual(Array(cf.x[2...4]).sorted(), [0, 0, 1], "\(cf.x)")
            XCTAssertEqual(cf.x[4], 1, "only category 2 flips the class with x0 fixed")
            XCTAssertEqual(cf.x[0], x[0])
            XCTAssertEqual(try predicted(model, cf.x), 1)
        }
        params.constraints.immutable = [3]  // a column of the group fixes the variable: no way to class 1
        for (x, e) in zip(rows, try explain(model, params, rows, training: try categoricalTraining())) {
            if let cf = e.cf { XCTAssertEqual(Array(cf.x[2...4]), Array(x[2...4])) }
        }
    }

    func testSetsAreValidDistinctAndDiverser() throws {
        let model = try callbackModel()
        var params = GeneticParams()
        params.refinement.nCounterfactuals = 4
        params.refinement.sparsify = false
        var determinants: [Double: Double] = [:]
        for weight in [0.0, 50.0] {
            params.refinement.diversityWeight = weight
            var total = 0.0
            for e in try explain(model, params) {
                let cfs = try XCTUnwrap(e.cfs)
                XCTAssertEqual(cfs.count, 4)
                XCTAssertEqual(Set(cfs.map(\.x)).count, 4)
                XCTAssertEqual(cfs[0].x, e.cf?.x)
                for c in cfs { XCTAssertNotEqual(try predicted(model, c.x), e.origClass) }
                total += try XCTUnwrap(e.diversity)
            }
            determinants[weight] = total
        }
        XCTAssertGreaterThan(determinants[50]!, determinants[0]!, "a diversity weight spreads the set")
    }

    /// Six features, class 1 when 4·x0 + 0.2·(x1 + … + x5) > 0: the other features barely matter,
    /// so a counterfactual drawn from training rows changes them for nothing.
    func mostlyOneFeature() throws -> CallbackClassifier {
        try CallbackClassifier(featureCount: 6, classCount: 2, predict: { x, rows, proba in
            for r in 0..<rows {
                let z = 4 * x[r * 6] + 0.2 * (1..<6).reduce(0.0) { $0 + x[r * 6 + $1] }
                proba[2 * r + 1] = 1 / (1 + exp(-z))
                proba[2 * r] = 1 - proba[2 * r + 1]
            }
        }, vjp: nil)
    }

    func testSparsifyRestoresFeaturesAndStaysValid() throws {
        let model = try mostlyOneFeature()
        var random = SeededRandom(seed: 9)
        let training = try Dataset(x: (0..<1200).map { _ in random.uniform(-2, 2) }, rows: 200, features: 6, labels: nil, classCount: 2)
        let rows: [[Double]] = (0..<8).map { (r: Int) -> [Double] in
            let first: Double = r % 2 == 0 ? -0.6 : 0.6
            return [first] + (1..<6).map { (j: Int) -> Double in Double(r + j) / 10 - 0.5 }
        }
        var params = GeneticParams()
        params.refinement.sparsify = false
        params.maxIterations = 1  // the first generation: training rows, which change every feature
        let plain = try explain(model, params, rows, training: training)
        params.refinement.sparsify = true
        let sparse = try explain(model, params, rows, training: training)
        var fewer = 0
        for (x, (p, s)) in zip(rows, zip(plain, sparse)) {
            let (dense, cf) = (try XCTUnwrap(p.cf), try XCTUnwrap(s.cf))
            XCTAssertNotEqual(try predicted(model, cf.x), s.origClass)
            // Restored (x's value) or pulled toward x, never past it.
            for j in 0..<6 where cf.x[j] != x[j] {
                XCTAssertEqual((cf.x[j] - x[j]).sign, (dense.x[j] - x[j]).sign)
                XCTAssertLessThanOrEqual(abs(cf.x[j] - x[j]), abs(dense.x[j] - x[j]))
                // Pulled as far as validity goes: 1% more toward x loses it (the model is monotone in each feature).
                var closer = cf.x
                closer[j] = x[j] + 0.99 * (cf.x[j] - x[j])
                XCTAssertEqual(try predicted(model, closer), s.origClass, "feature \(j) pulled to the edge")
            }
            XCTAssertEqual(cf.changed + (cf.restored ?? -1), dense.changed)
            XCTAssertEqual(cf.changed, (0..<6).filter { cf.x[$0] != x[$0] }.count)
            if cf.changed < dense.changed { fewer += 1 }
        }
        XCTAssertGreaterThan(fewer, 0)
    }

    /// A mutation may put a gene back to the instance's value, so the search itself (no sparsity
    /// pass) ends with fewer changes than the training rows it starts from, which change all six.
    func testTheSearchItselfRestoresGenes() throws {
        let model = try mostlyOneFeature()
        var random = SeededRandom(seed: 9)
        let training = try Dataset(x: (0..<1200).map { _ in random.uniform(-2, 2) }, rows: 200, features: 6, labels: nil, classCount: 2)
        var params = GeneticParams()
        params.refinement.sparsify = false
        let rows: [[Double]] = [[-0.6, 0.1, 0.2, -0.3, 0.4, 0], [0.6, -0.2, 0.3, 0.1, -0.4, 0.5], [-0.4, 0, 0, 0, 0, 0]]
        let changed = try explain(model, params, rows, training: training).map { try XCTUnwrap($0.cf).changed }
        XCTAssertLessThan(changed.reduce(0, +), 6 * rows.count, "\(changed)")
    }

    func testConfigErrorsNameTheirKey() throws {
        let model = try callbackModel()
        func fails(_ key: String, _ change: (inout GeneticParams) -> Void, training: Dataset? = nil) {
            var params = GeneticParams()
            change(&params)
            XCTAssertThrowsError(try GeneticExplainer(model: model, params: params, training: training, seed: 0)) { error in
                XCTAssertEqual((error as? CFXError)?.message.hasPrefix(key), true, "\(error)")
            }
        }
        fails("population_size") { $0.populationSize = 3; $0.refinement.nCounterfactuals = 3 }
        fails("population_size") { $0.populationSize = 1 }
        var huge = GeneticParams()
        huge.populationSize = 100_000
        XCTAssertNotNil(GeneticMethod.populationProblem(huge, features: 1000, classes: 2), "population × features is capped")
        XCTAssertNotNil(GeneticMethod.populationProblem(huge, features: 2, classes: 1000), "population × classes is capped")
        XCTAssertNil(GeneticMethod.populationProblem(huge, features: 100, classes: 2))
        fails("feature_range") { _ in }  // no training rows and no finite range
        fails("monotone") { $0.catVars = [CategoricalVariable(column: 0, categories: 2)]; $0.constraints.monotone = [MonotoneFeature(feature: 0, direction: .increase)] }
        fails("cat_vars") { $0.catVars = [CategoricalVariable(column: 1, categories: 3)]; $0.ohe = true }
        fails("maxiterations") { $0.maxIterations = 0 }
        // The config check alone (before any fit) accepts open ranges.
        XCTAssertNoThrow(try GeneticMethod.check(GeneticParams(), model: model))
        var bounded = GeneticParams()
        (bounded.constraints.featureRangeMin, bounded.constraints.featureRangeMax) = (.all(-2), .all(2))
        XCTAssertNoThrow(try GeneticExplainer(model: model, params: bounded, training: nil, seed: 0))
    }
}
