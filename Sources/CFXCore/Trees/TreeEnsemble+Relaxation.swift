import Glibc

/// A differentiable view of a tree ensemble, after FOCUS (Lucic et al., AAAI 2022): each split's
/// test becomes a sigmoid of temperature σ, s = 1 / (1 + exp(−σ (x_f − θ))), the weight of going
/// right (1 − s going left); a leaf's weight is the product of its path's weights, and each tree
/// adds its leaves' values weighted so. The summed scores give *logits* z:
///
///     random forest (averaged class probabilities): z = the relaxed averaged probabilities
///     (a binary forest's one probability p: z = (1 − p, p)); the probabilities are z itself;
///     boosted margins: z = the scores (softmax) or (0, scale · s) (logistic); the probabilities
///     are softmax(z), the ensemble's own transform.
///
/// As σ grows the weights become the real tests and the probabilities the ensemble's. Inputs are
/// rounded to float32 before a test where the ensemble does so; a missing value (NaN, or LightGBM's
/// zero-as-missing) takes the real test's side with a zero derivative. Exact input gradients by
/// one pass up each tree.
///
/// `cutoff` (0: none, exact): a node whose weight of being reached is below it is left out with
/// its whole subtree (no sigmoid computed, no leaf added, no gradient), so that a search evaluates
/// only the part of each tree near its point. What that drops from a tree's output is at most the
/// cutoff times the tree's leaves below the node, times their largest value.
/// Immutable and shared; one `RelaxedTreeEvaluator` per thread (RelaxedTreeEvaluator.swift).
public final class RelaxedTreeEnsemble: Classifier, @unchecked Sendable {
    public let ensemble: TreeEnsemble
    public let sigma: Double
    public let cutoff: Double
    /// Every tree's reachable nodes in preorder (a parent before its children, a left subtree
    /// before the right one), tree after tree; tree t's are `nodes[starts[t]..<starts[t + 1]]`.
    let nodes: [RelaxedNode]
    let starts: [Int]
    /// Whether every split's exp(σ θ) is finite and nonzero (`RelaxedNode.scale`), so that a row's
    /// sigmoids can be taken from one exp per feature (RelaxedTreeEvaluator.swift).
    let factored: Bool

    /// σ's constraint, shared by every key that sets it (FOCUS's `sigma`, cfx_model_convert's `relax_sigma`).
    public static let sigmaConstraint = ValueConstraint<Double>.above(0)

    /// The cutoff's constraint (FOCUS's `cutoff`).
    public static let cutoffConstraint = ValueConstraint<Double>.in(0...0.5)

    /// Throws a config error naming `key` unless `sigma` meets `sigmaConstraint`.
    public static func checkSigma(_ sigma: Double, key: String) throws {
        try check(sigma, sigmaConstraint, key)
    }

    private static func check(_ value: Double, _ constraint: ValueConstraint<Double>, _ key: String) throws {
        if let problem = constraint.violation(value, ModelShape(features: 0, classes: 0)) { throw CFXError.config(key, problem) }
    }

    public init(_ ensemble: TreeEnsemble, sigma: Double, cutoff: Double = 0) throws {
        try Self.checkSigma(sigma, key: "sigma")
        try Self.check(cutoff, Self.cutoffConstraint, "cutoff")
        self.ensemble = ensemble
        self.sigma = sigma
        self.cutoff = cutoff
        var nodes: [RelaxedNode] = [], starts = [0]
        for t in 0..<ensemble.treeCount {
            Self.appendPreorder(tree: t, of: ensemble, to: &nodes)
            starts.append(nodes.count)
        }
        for i in nodes.indices where nodes[i].feature >= 0 { nodes[i].scale = exp(sigma * nodes[i].threshold) }
        factored = nodes.allSatisfy { $0.feature < 0 || Self.usable($0.scale) }
        self.nodes = nodes
        self.starts = starts
    }

    /// A factor of a factored sigmoid: finite and nonzero, so that a product of two is never NaN.
    static func usable(_ factor: Double) -> Bool { factor.isFinite && factor > 0 }

    /// Appends tree `t`'s reachable nodes in preorder, each split with its children's positions.
    private static func appendPreorder(tree t: Int, of m: TreeEnsemble, to nodes: inout [RelaxedNode]) {
        let first = nodes.count
        var stack = [(node: Int(m.roots[t]), parent: -1, isRight: false)]
        while let (n, parent, isRight) = stack.popLast() {
            let i = nodes.count
            if parent >= 0 {
                if isRight { nodes[parent].right = Int32(i) } else { nodes[parent].left = Int32(i) }
            }
            nodes.append(RelaxedNode(m, n, tree: t))
            if m.feature[n] >= 0 { stack += [(Int(m.right[n]), i, true), (Int(m.left[n]), i, false)] }
        }
        // Each node's end: the position after its subtree, which ends with its right child's (children
        // come after their parent, so a backward pass has set it).
        for i in stride(from: nodes.count - 1, through: first, by: -1) {
            nodes[i].end = nodes[i].feature >= 0 ? nodes[Int(nodes[i].right)].end : Int32(i + 1)
        }
    }

    public var featureCount: Int { ensemble.featureCount }
    public var classCount: Int { ensemble.classCount }
    public var hasExactGradient: Bool { true }
    /// Whether the logits are votes (averaged probabilities) rather than margins.
    public var votes: Bool { ensemble.output == .probabilities || ensemble.output == .binaryProbability }

    public func makeEvaluator() -> ClassifierEvaluator { RelaxedTreeEvaluator(self) }
}

/// One node of the relaxed trees, in preorder: a split (feature ≥ 0; its children's and its
/// subtree's end positions) or a leaf (feature −1; its values at `value`).
struct RelaxedNode {
    let threshold: Double
    let feature: Int32
    let value: Int32
    /// A leaf's tree's target score (`TreeEnsemble.targets`).
    let target: Int32
    /// The ensemble's node, for the missing-value tests.
    let source: Int32
    var left: Int32 = -1
    var right: Int32 = -1
    var end: Int32 = -1
    /// exp(σ θ): the split's sigmoid is 1 / (1 + exp(−σ x) · scale).
    var scale = 0.0
    /// A value here may be missing (zero as missing): such a split takes the real test's side.
    let zeroIsMissing: Bool

    init(_ m: TreeEnsemble, _ n: Int, tree t: Int) {
        (threshold, feature, value, source, target) = (m.threshold[n], m.feature[n], m.value[n], Int32(n), m.targets[t])
        zeroIsMissing = m.flags[n].contains(.zeroIsMissing)
    }
}

/// softmax(z), the largest subtracted first.
func softmax(_ z: [Double]) -> [Double] {
    var p = z
    p.withUnsafeMutableBufferPointer { softmaxInPlace($0) }
    return p
}
