/// A k-d tree over rows of points for exact k-nearest-neighbour queries (Euclidean distance).
///
/// Built once, then read-only (safe to share between threads). Each inner node splits its points at
/// the median of the coordinate with the largest spread; cells of at most `leafSize` points are
/// leaves that are scanned directly. A query descends to the query's own cell first, then visits a
/// far cell only when the distance from the query to that cell (kept incrementally, per coordinate
/// of the cell's boundary) can still beat the k-th best distance found, so the answer is exact.
///
/// In high dimension (hundreds of coordinates) the pruning bound weakens and a query ends up
/// scanning most leaves: it is then about as fast as a linear scan, not faster.
public struct KDTree: Sendable {
    public let dimension: Int
    public let count: Int
    /// The points, reordered so that every node's points are contiguous.
    private let points: [Double]
    /// `originalIndex[i]`: the row in the input of the i-th reordered point.
    private let originalIndex: [Int]
    private let nodes: [Node]

    private struct Node: Sendable {
        var start: Int
        var end: Int
        var splitDimension: Int  // -1 for a leaf
        var splitValue: Double
        var left: Int
        var right: Int
    }

    /// A neighbour: the row index in the points the tree was built from, and its distance.
    public struct Neighbour: Sendable, Equatable {
        public let index: Int
        public let distance: Double
    }

    /// Builds the tree over `rows` × `dimension` values (row-major).
    public init(points input: [Double], dimension: Int, leafSize: Int = 40) {
        precondition(dimension > 0 && input.count % dimension == 0, "points must be rows × dimension")
        let n = input.count / dimension
        self.dimension = dimension
        self.count = n
        var order = Array(0..<n)
        var nodes: [Node] = []
        let leaf = max(1, leafSize)

        // Explicit stack of (node index, start, end) to build without deep recursion.
        func makeNode(_ start: Int, _ end: Int) -> Int {
            nodes.append(Node(start: start, end: end, splitDimension: -1, splitValue: 0, left: -1, right: -1))
            return nodes.count - 1
        }
        var stack = n > 0 ? [makeNode(0, n)] : []
        while let id = stack.popLast() {
            let (start, end) = (nodes[id].start, nodes[id].end)
            guard end - start > leaf else { continue }
            // The coordinate with the largest spread.
            var bestDimension = -1
            var bestSpread = 0.0
            for j in 0..<dimension {
                var lo = Double.infinity, hi = -Double.infinity
                for i in start..<end {
                    let v = input[order[i] * dimension + j]
                    if v < lo { lo = v }
                    if v > hi { hi = v }
                }
                if hi - lo > bestSpread { bestSpread = hi - lo; bestDimension = j }
            }
            guard bestDimension >= 0 else { continue }  // all points equal: a leaf
            let mid = (start + end) / 2
            Self.select(&order, start, end, mid) { input[$0 * dimension + bestDimension] }
            nodes[id].splitDimension = bestDimension
            nodes[id].splitValue = input[order[mid] * dimension + bestDimension]
            let left = makeNode(start, mid)
            let right = makeNode(mid, end)
            nodes[id].left = left
            nodes[id].right = right
            stack.append(right)
            stack.append(left)
        }
        var reordered = [Double](repeating: 0, count: input.count)
        for (i, row) in order.enumerated() {
            for j in 0..<dimension { reordered[i * dimension + j] = input[row * dimension + j] }
        }
        self.points = reordered
        self.originalIndex = order
        self.nodes = nodes
    }

    /// Quickselect: afterwards order[mid] holds the element of rank mid − start in [start, end), with
    /// no larger key before it and no smaller key after it.
    private static func select(_ order: inout [Int], _ start: Int, _ end: Int, _ mid: Int, key: (Int) -> Double) {
        var lo = start, hi = end - 1
        while lo < hi {
            let pivot = key(order[(lo + hi) / 2])
            var i = lo, j = hi
            while i <= j {
                while key(order[i]) < pivot { i += 1 }
                while key(order[j]) > pivot { j -= 1 }
                if i <= j { order.swapAt(i, j); i += 1; j -= 1 }
            }
            if mid <= j { hi = j } else if mid >= i { lo = i } else { return }
        }
    }

    /// The `k` nearest points to `query` (fewer when the tree holds fewer), nearest first; equal
    /// distances are ordered by index.
    public func nearest(to query: [Double], k: Int) -> [Neighbour] {
        precondition(query.count == dimension, "query has \(query.count) values, the tree \(dimension)")
        guard k > 0, count > 0 else { return [] }
        var best = BoundedNeighbours(capacity: min(k, count))
        var offsets = [Double](repeating: 0, count: dimension)
        points.withUnsafeBufferPointer { points in
            query.withUnsafeBufferPointer { q in
                search(0, 0, q, points, &offsets, &best)
            }
        }
        return best.items.map { Neighbour(index: $0.index, distance: $0.squared.squareRoot()) }
    }

    private func search(_ id: Int, _ boxDistance: Double, _ q: UnsafeBufferPointer<Double>, _ points: UnsafeBufferPointer<Double>,
                        _ offsets: inout [Double], _ best: inout BoundedNeighbours) {
        let node = nodes[id]
        if node.splitDimension < 0 {
            for i in node.start..<node.end {
                let total = squaredDistance(points.baseAddress! + i * dimension, q.baseAddress!, dimension, bound: best.bound)
                best.insert(squared: total, index: originalIndex[i])
            }
            return
        }
        let dim = node.splitDimension
        let diff = q[dim] - node.splitValue
        let (near, far) = diff < 0 ? (node.left, node.right) : (node.right, node.left)
        search(near, boxDistance, q, points, &offsets, &best)
        let old = offsets[dim]
        let farDistance = boxDistance - old * old + diff * diff
        if farDistance <= best.bound {
            offsets[dim] = diff
            search(far, farDistance, q, points, &offsets, &best)
            offsets[dim] = old
        }
    }
}

/// Σ (a_j − b_j)² over `count` values, with four accumulators; stops early (returning a partial
/// sum above `bound`) once the sum exceeds `bound`, checked every 32 values.
@inline(__always)
private func squaredDistance(_ a: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ count: Int, bound: Double) -> Double {
    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    var j = 0
    while j + 4 <= count {
        let d0 = a[j] - b[j], d1 = a[j + 1] - b[j + 1], d2 = a[j + 2] - b[j + 2], d3 = a[j + 3] - b[j + 3]
        s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3
        j += 4
        if j & 31 == 0, s0 + s1 + s2 + s3 > bound { return s0 + s1 + s2 + s3 }
    }
    while j < count { let d = a[j] - b[j]; s0 += d * d; j += 1 }
    return (s0 + s1) + (s2 + s3)
}

/// The k best (squared distance, index) pairs seen so far, sorted; `bound` is the k-th best squared
/// distance (infinity until k are held).
private struct BoundedNeighbours {
    let capacity: Int
    var items: [(squared: Double, index: Int)] = []

    init(capacity: Int) {
        self.capacity = capacity
        items.reserveCapacity(capacity + 1)
    }

    var bound: Double { items.count < capacity ? .infinity : items[items.count - 1].squared }

    mutating func insert(squared: Double, index: Int) {
        if items.count == capacity {
            let last = items[items.count - 1]
            guard squared < last.squared || (squared == last.squared && index < last.index) else { return }
            items.removeLast()
        }
        var position = items.count
        while position > 0, squared < items[position - 1].squared
            || (squared == items[position - 1].squared && index < items[position - 1].index) {
            position -= 1
        }
        items.insert((squared, index), at: position)
    }
}

/// The `k` nearest rows of `points` (rows × dimension) to `query` by a linear scan, ordered as
/// `KDTree.nearest`: the reference the tree is tested and benchmarked against.
public func bruteForceNearest(points: [Double], dimension: Int, to query: [Double], k: Int) -> [KDTree.Neighbour] {
    let n = points.count / dimension
    var best = BoundedNeighbours(capacity: min(k, n))
    guard k > 0, n > 0 else { return [] }
    points.withUnsafeBufferPointer { p in
        query.withUnsafeBufferPointer { q in
            for i in 0..<n {
                best.insert(squared: squaredDistance(p.baseAddress! + i * dimension, q.baseAddress!, dimension, bound: .infinity), index: i)
            }
        }
    }
    return best.items.map { KDTree.Neighbour(index: $0.index, distance: $0.squared.squareRoot()) }
}
