import XCTest
@testable import CFXCore

final class TrainingMetricsTests: XCTestCase {
    func testImplausibilityCostAndValidityByHand() throws {
        // Training rows: class 0 at (1, 0) and (2, 0); class 1 at (0, 1), (0, 3).
        let x: [Double] = [1, 0, 2, 0, 0, 1, 0, 3], labels = [0, 0, 1, 1]
        let report = try plausibilityReport(model: try linearSoftmax(), training: x, labels: labels, factuals: [0, 0, 0, 0],
                                            counterfactuals: [1, 1, 3, 0], targets: [1, 0])
        // (1, 1) to (0, 1) and (0, 3): 1 and 3; (3, 0) to (1, 0) and (2, 0): 2 and 1.
        XCTAssertEqual(report.implausibility, [2, 1.5])
        XCTAssertEqual(report.cost, [2, 3])
        // p_1(1, 1) = e^3 / (2e^3 + e^-6) < 0.5; p_0(3, 0) > 0.5.
        XCTAssertEqual(report.valid, [false, true])
        XCTAssertEqual(report.meanImplausibility, 1.75)
        XCTAssertTrue(report.mmd.isEmpty, "one counterfactual per class: no MMD")
    }

    func testMMDIsNearZeroForTheSameDistributionAndGrowsWithAShift() {
        var random = SeededRandom(seed: 1)
        let a = (0..<200).map { _ in [random.uniform(0, 1), random.uniform(0, 1)] }
        let b = (0..<200).map { _ in [random.uniform(0, 1), random.uniform(0, 1)] }
        let shifted = b.map { [$0[0] + 1, $0[1]] }
        let same = unbiasedMMD2(a, b, lengthScale: 0.5), apart = unbiasedMMD2(a, shifted, lengthScale: 0.5)
        XCTAssertLessThan(abs(same), 0.01)
        XCTAssertGreaterThan(apart, 0.3)
        // Symmetric, and exactly the formula for two points each.
        XCTAssertEqual(unbiasedMMD2(a, b, lengthScale: 0.5), unbiasedMMD2(b, a, lengthScale: 0.5), accuracy: 1e-12)
        let k = { (d2: Double) in exp(-d2 / 0.5) }
        XCTAssertEqual(unbiasedMMD2([[0, 0], [1, 0]], [[0, 1], [0, 2]], lengthScale: 0.5),
                       k(1) + k(1) - 2 * (k(1) + k(4) + k(2) + k(5)) / 4, accuracy: 1e-12)
        XCTAssertEqual(medianDistance([[0, 0], [3, 4], [0, 1]]), [5, 1, 18.0.squareRoot()].sorted()[1])
    }

    func testRobustAccuracyFallsWithTheRadius() throws {
        let network = try linearSoftmax()
        var random = SeededRandom(seed: 2)
        var x: [Double] = [], labels: [Int] = []
        for i in 0..<300 {
            let c = i % 3
            let centre: [Double] = [[0.4, 0], [0, 0.4], [-0.3, -0.3]][c]
            x += centre.map { $0 + random.uniform(-0.25, 0.25) }
            labels.append(c)
        }
        let epsilons = [0, 0.05, 0.1, 0.3]
        let fgsm = try robustAccuracy(network: network, x: x, labels: labels, epsilons: epsilons, attack: .fgsm, threads: 1)
        let pgd = try robustAccuracy(network: network, x: x, labels: labels, epsilons: epsilons,
                                     attack: .pgd(steps: 40, alpha: 0.01, randomStart: true), threads: 2)
        let session = ModelSession(model: network)
        let proba = try session.predict(x, rows: 300)
        let clean = Double((0..<300).filter { argmax(Array(proba[3 * $0..<3 * $0 + 3])) == labels[$0] }.count) / 300
        XCTAssertEqual(fgsm[0], clean)
        XCTAssertEqual(pgd[0], clean)
        for i in 1..<epsilons.count {
            XCTAssertLessThanOrEqual(fgsm[i], fgsm[i - 1])
            // Where 40 steps of 0.01 cover the ball many times over, PGD is at least about as strong.
            if epsilons[i] <= 0.1 { XCTAssertLessThanOrEqual(pgd[i], fgsm[i] + 0.02, "ε \(epsilons[i])") }
        }
        XCTAssertLessThan(fgsm[3], clean - 0.2)
        XCTAssertThrowsError(try robustAccuracy(network: network, x: x, labels: labels, epsilons: [-1], attack: .fgsm))
    }
}
