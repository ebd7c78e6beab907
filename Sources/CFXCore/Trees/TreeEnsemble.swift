/// A tree ensemble as a native classifier: the trees flattened into one node array, each tree's
/// leaves adding to a score (or to every score), summed with a base, divided by `divisor` and
/// turned into probabilities by `output`, in the source library's precision. Piecewise constant:
/// it has no gradient (`gradientUnavailableReason`), and the methods made for trees read its
/// paths (`TreeEnsemble+Paths.swift`).
public final class TreeEnsemble: Classifier, @unchecked Sendable {
    public let featureCount: Int
    public let classCount: Int
    /// Scores summed: 1 for a logistic or binary-probability output, else `classCount`.
    public let scoreCount: Int
    public let base: [Double]
    public let divisor: Double
    public let output: TreeOutput
    public let precision: TreePrecision
    /// Where the library came from ("xgboost", "lightgbm", "onnx"), for messages and metadata.
    public let source: String

    // Flattened nodes: a split has feature ≥ 0; a leaf has feature −1 and its values at `value[n]`.
    let feature: [Int32]
    let threshold: [Double]
    let left: [Int32]
    let right: [Int32]
    let flags: [DecisionTree.SplitFlags]
    let value: [Int32]
    let leafValues: [Double]
    let roots: [Int32]
    /// Per tree: the score its leaves add to, or −1 when each leaf holds `scoreCount` values.
    let targets: [Int32]
    /// The nodes as the descent of a row without missing values reads them (`PackedNode`), and
    /// whether any split reads zero as missing (then every row takes the full tests).
    let packed: [PackedNode]
    let zeroIsMissing: Bool

    /// A classifier's class count, 2...`Limits.classes`; `what` names where it was read. Readers call
    /// it as soon as they read the count, before anything is allocated per class.
    public static func checkClassCount(_ count: Int, _ what: String) throws {
        guard count >= 2, count <= Limits.classes else {
            throw CFXError(.model, "\(what): \(count) classes; a classifier has 2...\(Limits.classes)")
        }
    }

    /// Checks every tree (children in range, each node reached once from the root, features in
    /// range, leaf widths, finite values) and flattens them; errors name the tree and node.
    public init(trees: [DecisionTree], featureCount: Int, classCount: Int, base: [Double], divisor: Double = 1,
                output: TreeOutput, precision: TreePrecision, source: String) throws {
        guard featureCount >= 1, featureCount <= Limits.features else {
            throw CFXError(.model, "\(source): \(featureCount) features; expected 1...\(Limits.features)")
        }
        try TreeEnsemble.checkClassCount(classCount, source)
        switch output {
        case .logistic, .binaryProbability:
            guard classCount == 2 else { throw CFXError(.model, "\(source): a one-score output has 2 classes, not \(classCount)") }
            scoreCount = 1
        case .softmax, .probabilities: scoreCount = classCount
        }
        guard base.count == scoreCount, base.allSatisfy(\.isFinite) else {
            throw CFXError(.model, "\(source): base_score needs \(scoreCount) finite values, got \(base)")
        }
        guard divisor.isFinite, divisor > 0 else { throw CFXError(.model, "\(source): divisor \(divisor) must be finite and > 0") }
        guard !trees.isEmpty, trees.count <= Limits.parameters else {
            throw CFXError(.model, "\(source): \(trees.count) trees; expected 1...\(Limits.parameters)")
        }
        self.featureCount = featureCount
        self.classCount = classCount
        self.base = base
        self.divisor = divisor
        self.output = output
        self.precision = precision
        self.source = source
        var flat = FlatTrees()
        for (t, tree) in trees.enumerated() {
            do {
                try flat.append(tree, features: featureCount, scores: scoreCount)
            } catch let error as CFXError {
                throw error.prefixed("\(source): tree \(t)")
            }
        }
        (feature, threshold, left, right, flags, value) = (flat.feature, flat.threshold, flat.left, flat.right, flat.flags, flat.value)
        (leafValues, roots, targets) = (flat.leafValues, flat.roots, flat.targets)
        packed = feature.indices.map { [feature, threshold, left, right, flags] n in
            PackedNode(feature: feature[n], threshold: threshold[n], left: left[n], right: right[n], flags: flags[n])
        }
        zeroIsMissing = flags.contains { $0.contains(.zeroIsMissing) }
    }

    public var treeCount: Int { roots.count }
    public var nodeCount: Int { feature.count }
    public var hasExactGradient: Bool { false }
    public var gradientUnavailableReason: String? {
        "the model is a tree ensemble (\(source)): piecewise constant, it has no gradient; explain it with method \"feature_tweaking\""
    }

    public func makeEvaluator() -> ClassifierEvaluator { TreeEnsembleEvaluator(self) }

    /// The leaf tree `t` reaches for row `x` (a node index).
    @inline(__always)
    func leaf(tree t: Int, _ x: UnsafeBufferPointer<Double>, offset: Int) -> Int {
        var n = Int(roots[t])
        while feature[n] >= 0 {
            var v = x[offset + Int(feature[n])]
            if precision != .float64 { v = Double(Float(v)) }
            n = Int(goesLeft(v, node: n) ? left[n] : right[n])
        }
        return n
    }

    /// The leaf tree `t` reaches for a row without missing values, already rounded to the ensemble's
    /// precision (`row`); the same leaf as `leaf(tree:_:offset:)` when no split reads zero as missing.
    @inline(__always)
    func packedLeaf(tree t: Int, _ nodes: UnsafeBufferPointer<PackedNode>, _ row: UnsafePointer<Double>) -> Int {
        var n = Int(roots[t])
        while true {
            let node = nodes[n]
            if node.feature < 0 { return n }
            // Branch-free: the next node is left + (right − left) · [x > bound].
            let right = row[Int(node.feature)] > node.bound ? 1 : 0
            n = Int(node.left) &+ right &* (Int(node.right) &- Int(node.left))
        }
    }

    /// The split test of node `n` (XGBoost's and LightGBM's rules for missing values).
    @inline(__always)
    func goesLeft(_ x: Double, node n: Int) -> Bool {
        let f = flags[n]
        var v = x
        if v.isNaN && f.contains(.nanIsZero) { v = 0 }
        if v.isNaN || (f.contains(.zeroIsMissing) && abs(v) <= TreeEnsemble.zeroThreshold) {
            return f.contains(.missingLeft)
        }
        return f.contains(.strict) ? v < threshold[n] : v <= threshold[n]
    }

    /// LightGBM's kZeroThreshold.
    static let zeroThreshold = 1e-35
}

/// A node for the descent of a row without missing values: a split goes left when x ≤ `bound`
/// (a strict test x < θ as x ≤ the double before θ); a leaf has feature −1.
struct PackedNode {
    let bound: Double
    let feature: Int32
    let left: Int32
    let right: Int32

    init(feature: Int32, threshold: Double, left: Int32, right: Int32, flags: DecisionTree.SplitFlags) {
        (self.feature, self.left, self.right) = (feature, left, right)
        bound = flags.contains(.strict) ? threshold.nextDown : threshold
    }
}

/// The trees' nodes in one array, built tree by tree.
private struct FlatTrees {
    var feature: [Int32] = [], threshold: [Double] = [], left: [Int32] = [], right: [Int32] = []
    var flags: [DecisionTree.SplitFlags] = [], value: [Int32] = [], leafValues: [Double] = []
    var roots: [Int32] = [], targets: [Int32] = []

    mutating func append(_ tree: DecisionTree, features: Int, scores: Int) throws {
        let count = tree.nodes.count
        guard count >= 1 else { throw CFXError(.model, "has no nodes") }
        let (total, overflow) = feature.count.addingReportingOverflow(count)
        guard !overflow, total <= Limits.parameters else { throw CFXError(.model, "the ensemble has over \(Limits.parameters) nodes") }
        if let target = tree.target {
            guard (0..<scores).contains(target) else { throw CFXError(.model, "adds to score \(target) of \(scores)") }
        }
        try checkReachedOnce(tree)
        let start = feature.count
        roots.append(Int32(start))
        targets.append(Int32(tree.target ?? -1))
        let width = tree.target == nil ? scores : 1
        for (i, node) in tree.nodes.enumerated() {
            switch node {
            case let .split(f, t, l, r, fl):
                guard (0..<features).contains(f) else { throw CFXError(.model, "node \(i): feature \(f) out of range 0..<\(features)") }
                guard !t.isNaN else { throw CFXError(.model, "node \(i): threshold is NaN") }
                guard (0..<count).contains(l), (0..<count).contains(r) else {
                    throw CFXError(.model, "node \(i): child \(l) or \(r) out of range 0..<\(count)")
                }
                append(feature: Int32(f), threshold: t, left: Int32(start + l), right: Int32(start + r), flags: fl, value: -1)
            case let .leaf(values):
                guard values.count == width else { throw CFXError(.model, "node \(i): a leaf of \(values.count) values; expected \(width)") }
                guard values.allSatisfy(\.isFinite) else { throw CFXError(.model, "node \(i): a leaf value is not finite") }
                append(feature: -1, threshold: 0, left: -1, right: -1, flags: [], value: Int32(leafValues.count))
                leafValues += values
            }
        }
    }

    private mutating func append(feature f: Int32, threshold t: Double, left l: Int32, right r: Int32,
                                 flags fl: DecisionTree.SplitFlags, value v: Int32) {
        feature.append(f); threshold.append(t); left.append(l); right.append(r); flags.append(fl); value.append(v)
    }

    /// Every child index is in range and every node reachable from the root is reached once, so
    /// that descending a tree always ends at a leaf.
    private func checkReachedOnce(_ tree: DecisionTree) throws {
        var seen = [Bool](repeating: false, count: tree.nodes.count)
        var stack = [0]
        seen[0] = true
        while let n = stack.popLast() {
            guard case let .split(_, _, l, r, _) = tree.nodes[n] else { continue }
            for child in [l, r] {
                guard (0..<tree.nodes.count).contains(child) else {
                    throw CFXError(.model, "node \(n): child \(child) out of range 0..<\(tree.nodes.count)")
                }
                guard !seen[child] else { throw CFXError(.model, "node \(n): node \(child) is reached twice (a cycle or a shared node)") }
                seen[child] = true
                stack.append(child)
            }
        }
    }
}
