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

    /// Every node's parent (−1 for the roots), for walking up from a leaf.
    public func parents() -> [Int32] {
        var parent = [Int32](repeating: -1, count: nodeCount)
        for n in 0..<nodeCount where feature[n] >= 0 {
            parent[Int(left[n])] = Int32(n)
            parent[Int(right[n])] = Int32(n)
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
    /// `original`: a forest's leaf whose largest value is the target's; a boosted tree's leaf of
    /// one score: positive for class 1, negative for class 0; a multiclass boosted tree's leaf:
    /// positive in the target's score, negative in the original's (other scores' trees: neither).
    public func leaf(_ leaf: Int, ofTree t: Int, favours target: Int, over original: Int) -> Bool {
        let v = Int(value[leaf])
        let tree = Int(targets[t])
        if tree < 0 {
            if scoreCount == 1 { return (leafValues[v] * Double(treeCount) > 0.5) == (target == 1) }
            var best = 0
            for j in 1..<scoreCount where leafValues[v + j] > leafValues[v + best] { best = j }
            return best == target
        }
        if scoreCount == 1 { return target == 1 ? leafValues[v] > 0 : leafValues[v] < 0 }
        if tree == target { return leafValues[v] > 0 }
        if tree == original { return leafValues[v] < 0 }
        return false
    }
}
