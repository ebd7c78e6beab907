import XCTest
@testable import CFXCore

final class ECCCoTests: XCTestCase {
    let instances: [Double] = [1.5, 0.2, 0.1, 1.4, -1.2, -1.0]

    private func explain(_ configure: (inout ECCCoParams) -> Void = { _ in }, threads: Int = 1) throws -> [ECCCoExplanation] {
        var params = ECCCoParams()
        params.maxSteps = 200
        configure(&params)
        return try ECCCoExplainer(model: try linearSoftmax(), params: params).explain(instances, rows: 3, threads: threads)
    }

    func testReachesTheTargetProbability() throws {
        let results = try explain()
        XCTAssertEqual(results.map(\.origClass), [0, 1, 2])
        for (r, e) in results.enumerated() {
            let cf = try XCTUnwrap(e.cf, "row \(r)")
            XCTAssertNotEqual(e.targetClass, e.origClass)
            XCTAssertGreaterThanOrEqual(e.proba[e.targetClass], 0.75)
            XCTAssertLessThanOrEqual(e.steps, 200)
            let x = Array(instances[2 * r..<2 * r + 2])
            XCTAssertEqual(e.distance, zip(cf, x).reduce(0) { $0 + abs($1.0 - $1.1) }, accuracy: 1e-12)
        }
    }

    func testAShortSearchFailsHonestly() throws {
        for e in try explain({ $0.maxSteps = 1 }) {
            XCTAssertNil(e.cf)
            XCTAssertLessThan(e.proba[e.targetClass], 0.75)
            XCTAssertEqual(e.steps, 1)
        }
    }

    /// One step is x − η ∇L(x) with ∇L from central differences of the loss written out here.
    func testOneStepFollowsTheLossGradient() throws {
        var params = ECCCoParams()
        params.maxSteps = 1
        params.energyDecay = false  // φ = 1
        params.targetClass = .index(1)
        let network = try linearSoftmax()
        let explainer = try ECCCoExplainer(model: network, params: params)
        let x: [Double] = [0.7, -0.3]
        let e = try explainer.explain(x, rows: 1, threads: 1)[0]
        func logits(_ p: [Double]) -> [Double] { [3 * p[0], 3 * p[1], -3 * p[0] - 3 * p[1]] }
        func loss(_ p: [Double]) -> Double {
            let z = logits(p), m = z.max()!
            let ce = m + log(z.reduce(0) { $0 + exp($1 - m) }) - z[1]
            let energy = -z[1]
            let l1 = zip(p, x).reduce(0) { $0 + abs($1.0 - $1.1) }
            return ce + params.lambdaCost * l1 + params.lambdaEnergy * (energy + 1e-3 * energy * energy)
        }
        for j in 0..<2 {
            var plus = x, minus = x
            plus[j] += 1e-6
            minus[j] -= 1e-6
            let gradient = (loss(plus) - loss(minus)) / 2e-6
            XCTAssertEqual(e.last[j], x[j] - params.learningRate * gradient, accuracy: 1e-7, "feature \(j)")
        }
    }

    func testEnergyWeightFollowsThePaper() {
        var params = ECCCoParams()
        params.maxSteps = 30  // b = round(30/25) = 1, a = 0.1
        XCTAssertEqual(params.energyWeight(step: 1), 0.1 * pow(2, -0.9), accuracy: 1e-15)
        XCTAssertEqual(params.energyWeight(step: 30), 0.1 * pow(31, -0.9), accuracy: 1e-15)
    }

    func testConstraintsHoldOnEveryRow() throws {
        let results = try explain({
            $0.constraints.immutable = [1]
            $0.constraints.monotone = [MonotoneFeature(feature: 0, direction: .decrease)]
            $0.constraints.featureRangeMin = .all(-2)
            $0.constraints.featureRangeMax = .all(2)
        })
        for (r, e) in results.enumerated() {
            XCTAssertEqual(e.last[1], instances[2 * r + 1])
            XCTAssertLessThanOrEqual(e.last[0], instances[2 * r])
            XCTAssertGreaterThanOrEqual(e.last[0], -2)
        }
    }

    /// `sparsify` puts features back while p_y⁺ ≥ τ holds: fewer changes than the plain search,
    /// every point still a counterfactual, and its distance recomputed there.
    func testSparsifyRestoresFeaturesAndKeepsValidity() throws {
        let plain = try explain({ $0.lambdaCost = 0 })
        let sparse = try explain({ $0.lambdaCost = 0; $0.refinement.sparsify = true })
        XCTAssertTrue(plain.allSatisfy { $0.restored == nil })
        var restoredAny = false
        for (r, (a, b)) in zip(plain, sparse).enumerated() {
            let x = Array(instances[2 * r..<2 * r + 2])
            let cf = try XCTUnwrap(b.cf, "row \(r)")
            XCTAssertGreaterThanOrEqual(b.proba[b.targetClass], 0.75)
            let l0 = { (p: [Double]) in zip(p, x).filter { $0 != $1 }.count }
            XCTAssertLessThanOrEqual(l0(cf), l0(try XCTUnwrap(a.cf)))
            XCTAssertEqual(b.distance, zip(cf, x).reduce(0) { $0 + abs($1.0 - $1.1) }, accuracy: 1e-12)
            XCTAssertEqual(b.last, cf)
            if (b.restored ?? 0) > 0 { restoredAny = true }
        }
        XCTAssertTrue(restoredAny, "some counterfactual should lose a change")
    }

    func testThreadsDoNotChangeResults() throws {
        let many = (0..<150).flatMap { i in [sin(Double(i)), cos(Double(3 * i))] }
        let explainer = try ECCCoExplainer(model: try linearSoftmax(), params: ECCCoParams())
        let one = try explainer.explain(many, rows: 150, threads: 1), two = try explainer.explain(many, rows: 150, threads: 2)
        XCTAssertEqual(one.map(\.last), two.map(\.last))
    }

    func testCallbackModelsAreRejected() throws {
        let callback = try callbackCopy(of: try linearSoftmax(), exactGradient: true)
        XCTAssertThrowsError(try ECCCoExplainer(model: callback, params: ECCCoParams()))
        var params = ECCCoParams()
        params.targetClass = .same
        XCTAssertThrowsError(try ECCCoExplainer(model: try linearSoftmax(), params: params))
    }
}

final class ECCCoConformalTests: XCTestCase {
    /// With the set-size penalty on, one step still follows the full loss's gradient.
    func testOneStepWithTheSetSizePenaltyFollowsTheLossGradient() throws {
        var params = ECCCoParams()
        params.maxSteps = 1
        params.energyDecay = false
        params.targetClass = .index(1)
        params.lambdaSetSize = 0.7
        params.temperature = 0.5
        params.kappa = 0.5
        let network = try linearSoftmax()
        let calibration = try Dataset(x: [1, 0, 0, 1, -1, -1, 0.2, 0.1, 0.1, 0.3], rows: 5, features: 2, labels: [0, 1, 2, 1, 0], classCount: 3)
        XCTAssertThrowsError(try ECCCoExplainer(model: network, params: params).explain([0.2, 0.1], rows: 1, threads: 1), "needs calibration")
        let explainer = try ECCCoExplainer(model: network, params: params).calibrated(on: calibration)
        let q = try XCTUnwrap(explainer.generator.quantile)
        let x: [Double] = [0.2, 0.1]
        let e = try explainer.explain(x, rows: 1, threads: 1)[0]
        var plain = params
        plain.lambdaSetSize = 0
        XCTAssertNotEqual(try ECCCoExplainer(model: network, params: plain).explain(x, rows: 1, threads: 1)[0].last, e.last,
                          "the penalty is active here")
        func loss(_ point: [Double]) -> Double {
            let z = [3 * point[0], 3 * point[1], -3 * point[0] - 3 * point[1]], m = z.max()!
            let sum = z.reduce(0) { $0 + exp($1 - m) }
            let p = z.map { exp($0 - m) / sum }
            let energy = -z[1]
            let size = p.reduce(0) { $0 + 1 / (1 + exp(-(q - (1 - $1)) / params.temperature)) }
            return m + log(sum) - z[1] + params.lambdaCost * zip(point, x).reduce(0) { $0 + abs($1.0 - $1.1) }
                + params.lambdaEnergy * (energy + 1e-3 * energy * energy) + params.lambdaSetSize * max(0, size - params.kappa)
        }
        for j in 0..<2 {
            var plus = x, minus = x
            plus[j] += 1e-6
            minus[j] -= 1e-6
            XCTAssertEqual(e.last[j], x[j] - params.learningRate * (loss(plus) - loss(minus)) / 2e-6, accuracy: 1e-7, "feature \(j)")
        }
    }
}
