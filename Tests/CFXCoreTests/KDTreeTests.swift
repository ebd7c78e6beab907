import XCTest
@testable import CFXCore

final class KDTreeTests: XCTestCase {
    func testNearestEqualsBruteForce() {
        var rng = SplitMix64(state: 11)
        for (n, d) in [(1, 3), (7, 2), (500, 2), (800, 5), (300, 64), (100, 784)] {
            let points = randomValues(n * d, &rng, scale: 3)
            let tree = KDTree(points: points, dimension: d, leafSize: 8)
            XCTAssertEqual(tree.count, n)
            for _ in 0..<20 {
                let query = randomValues(d, &rng, scale: 3.5)
                for k in [1, 3, 10, n + 2] {
                    XCTAssertEqual(tree.nearest(to: query, k: k), bruteForceNearest(points: points, dimension: d, to: query, k: k), "n \(n) d \(d) k \(k)")
                }
            }
        }
    }

    func testDuplicatesAndTiesAreOrderedByIndex() {
        let points: [Double] = [0, 0, 1, 1, 0, 0, 1, 1, 0, 0]
        let tree = KDTree(points: points, dimension: 2, leafSize: 1)
        XCTAssertEqual(tree.nearest(to: [0, 0], k: 3).map(\.index), [0, 2, 4])
        XCTAssertEqual(tree.nearest(to: [0, 0], k: 5), bruteForceNearest(points: points, dimension: 2, to: [0, 0], k: 5))
    }
}
