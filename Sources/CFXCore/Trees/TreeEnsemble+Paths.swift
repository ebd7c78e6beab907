/// What the methods made for trees read: each tree's leaves, the path from the root to a leaf
/// (its split tests and the side taken), and which class a leaf speaks for.
extension TreeEnsemble {
    /// One test on a path: the node's feature and threshold, and whether the path goes left.
    public struct Condition: Sendable, Equatable {
        public let feature: Int
        public let threshold: Double
        public let left: Bool
        /// The test is x < threshold (XGBoost) rather than x ≤ threshold.
        public let strict: Bool
    }

    /// Every node's parent (−1 for the roots and for nodes no root reaches), for walking up from
    /// a leaf; set from the roots down, so that a node no root reaches cannot lead a walk astray.
    public func parents() -> [Int32] {
        var parent = [Int32](repeating: -1, count: nodeCount)
        var stack = roots.map(Int.init)
        while let n = stack.popLast() {
            guard feature[n] >= 0 else { continue }
            parent[Int(left[n])] = Int32(n)
            parent[Int(right[n])] = Int32(n)
            stack += [Int(left[n]), Int(right[n])]
        }
        return parent
    }

    /// Per tree, its leaves reachable from the root (node indices).
    public func leaves() -> [[Int]] {
        (0..<treeCount).map { t in
            var found: [Int] = []
            var stack = [Int(roots[t])]
            while let n = stack.popLast() {
                if feature[n] < 0 { found.append(n) } else { stack += [Int(right[n]), Int(left[n])] }
            }
            return found
        }
    }

    /// The tests from the root down to `leaf`, given the parents.
    public func path(to leaf: Int, parents: [Int32]) -> [Condition] {
        var conditions: [Condition] = []
        var child = leaf
        while parents[child] >= 0 {
            let n = Int(parents[child])
            conditions.append(Condition(feature: Int(feature[n]), threshold: threshold[n], left: Int(left[n]) == child,
                                        strict: flags[n].contains(.strict)))
            child = n
        }
        return conditions.reversed()
    }

    /// The leaf tree `t` reaches for one row.
    public func leaf(tree t: Int, row x: [Double]) -> Int {
        x.withUnsafeBufferPointer { leaf(tree: t, $0, offset: 0) }
    }

    /// Whether `leaf` (of tree `t`) pushes the ensemble towards class `target` rather than
    /// `original`: a logistic score's leaf by its sign (positive for class 1); a binary forest's
    /// leaf (one probability, already divided by the tree count) when its vote is over ½ for the
    /// target; a softmax leaf when it adds more to the target's score than to the original's; a
    /// forest's leaf of class probabilities when the target's is the largest.
    public func leaf(_ leaf: Int, ofTree t: Int, favours target: Int, over original: Int) -> Bool {
        let v = Int(value[leaf]), tree = Int(targets[t])
        func score(_ j: Int) -> Double { tree < 0 ? leafValues[v + j] : (tree == j ? leafValues[v] : 0) }
        switch output {
        case .logistic: return target == 1 ? score(0) > 0 : score(0) < 0
        case .binaryProbability:
            let vote = score(0) * Double(treeCount)
            return target == 1 ? vote > 0.5 : vote < 0.5
        case .softmax: return score(target) > score(original)
        case .probabilities:
            var best = 0
            for j in 1..<scoreCount where score(j) > score(best) { best = j }
            return best == target
        }
    }
}
