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
/// one pass up each tree. Immutable and shared; one `RelaxedTreeEvaluator` per thread.
public final class RelaxedTreeEnsemble: Classifier, @unchecked Sendable {
    public let ensemble: TreeEnsemble
    public let sigma: Double
    /// Every tree's reachable nodes in preorder (a parent before its children), tree after tree;
    /// tree t's are `order[starts[t]..<starts[t + 1]]`.
    let order: [Int32]
    let starts: [Int]

    public init(_ ensemble: TreeEnsemble, sigma: Double) throws {
        guard sigma.isFinite, sigma > 0 else { throw CFXError.config("sigma", "must be finite and > 0, got \(sigma)") }
        self.ensemble = ensemble
        self.sigma = sigma
        var order: [Int32] = [], starts = [0]
        for root in ensemble.roots {
            var stack = [root]
            while let n = stack.popLast() {
                order.append(n)
                if ensemble.feature[Int(n)] >= 0 { stack += [ensemble.right[Int(n)], ensemble.left[Int(n)]] }
            }
            starts.append(order.count)
        }
        self.order = order
        self.starts = starts
    }

    public var featureCount: Int { ensemble.featureCount }
    public var classCount: Int { ensemble.classCount }
    public var hasExactGradient: Bool { true }
    /// Whether the logits are votes (averaged probabilities) rather than margins.
    public var votes: Bool { ensemble.output == .probabilities || ensemble.output == .binaryProbability }

    public func makeEvaluator() -> ClassifierEvaluator { RelaxedTreeEvaluator(self) }
}

/// One thread's relaxed evaluation: `logits` at a row, then `logitPullback` of a cotangent on
/// them at that row; `predict` and `pullback` (the `Classifier` view) go through the two.
public final class RelaxedTreeEvaluator: ClassifierEvaluator {
    public let model: RelaxedTreeEnsemble
    /// Per node: the weight of reaching it (the product of the path's weights above it).
    private var reach: [Double]
    /// Per split: s, the weight of going right; per node on the way up: the subtree's value.
    private var right: [Double]
    private var below: [Double]
    private var scores: [Double]

    public init(_ model: RelaxedTreeEnsemble) {
        self.model = model
        reach = [Double](repeating: 0, count: model.ensemble.nodeCount)
        right = reach
        below = reach
        scores = [Double](repeating: 0, count: model.ensemble.scoreCount)
    }

    /// The weight of going right at split `n` for the row at `x[offset...]`.
    @inline(__always)
    private func rightWeight(_ n: Int, _ x: UnsafeBufferPointer<Double>, offset: Int) -> Double {
        let m = model.ensemble
        var v = x[offset + Int(m.feature[n])]
        if m.precision != .float64 { v = Double(Float(v)) }
        let flags = m.flags[n]
        if v.isNaN || (flags.contains(.zeroIsMissing) && abs(v) <= TreeEnsemble.zeroThreshold) {
            return m.goesLeft(v, node: n) ? 0 : 1
        }
        return 1 / (1 + exp(-model.sigma * (v - m.threshold[n])))
    }

    /// The logits z (classCount values) of the row at `x[offset...]`; keeps the row's weights for
    /// `logitPullback`.
    public func logits(_ x: UnsafeBufferPointer<Double>, offset: Int) -> [Double] {
        let m = model.ensemble, s = m.scoreCount
        for j in 0..<s { scores[j] = m.base[j] }
        for t in 0..<m.treeCount {
            let target = Int(m.targets[t])
            reach[Int(model.order[model.starts[t]])] = 1
            for i in model.starts[t]..<model.starts[t + 1] {
                let n = Int(model.order[i]), p = reach[n]
                if m.feature[n] >= 0 {
                    let r = rightWeight(n, x, offset: offset)
                    right[n] = r
                    reach[Int(m.left[n])] = p * (1 - r)
                    reach[Int(m.right[n])] = p * r
                } else {
                    let v = Int(m.value[n])
                    if target >= 0 { scores[target] += p * m.leafValues[v] } else {
                        for j in 0..<s { scores[j] += p * m.leafValues[v + j] }
                    }
                }
            }
        }
        let q = m.divisor
        switch m.output {
        case .probabilities, .softmax: return scores.map { $0 / q }
        case .binaryProbability: return [1 - scores[0] / q, scores[0] / q]
        case let .logistic(scale): return [0, scale * scores[0] / q]
        }
    }

    /// Adds Σ_c w_c ∂z_c/∂x of the row last given to `logits` into `grad[offset...]`.
    public func logitPullback(_ w: [Double], into grad: UnsafeMutableBufferPointer<Double>, offset: Int) {
        let m = model.ensemble, q = m.divisor
        // The cotangent on the summed scores.
        var u: [Double]
        switch m.output {
        case .probabilities, .softmax: u = w.map { $0 / q }
        case .binaryProbability: u = [(w[1] - w[0]) / q]
        case let .logistic(scale): u = [w[1] * scale / q]
        }
        for t in 0..<m.treeCount {
            let target = Int(m.targets[t])
            for i in stride(from: model.starts[t + 1] - 1, through: model.starts[t], by: -1) {
                let n = Int(model.order[i])
                if m.feature[n] >= 0 {
                    let (l, r, s) = (below[Int(m.left[n])], below[Int(m.right[n])], right[n])
                    below[n] = (1 - s) * l + s * r
                    grad[offset + Int(m.feature[n])] += reach[n] * (r - l) * model.sigma * s * (1 - s)
                } else {
                    let v = Int(m.value[n])
                    if target >= 0 { below[n] = u[target] * m.leafValues[v] } else {
                        var sum = 0.0
                        for j in u.indices { sum += u[j] * m.leafValues[v + j] }
                        below[n] = sum
                    }
                }
            }
        }
    }

    public func predict(_ x: UnsafeBufferPointer<Double>, rows: Int, into proba: UnsafeMutableBufferPointer<Double>) throws {
        let d = model.featureCount, k = model.classCount
        guard rows >= 0, x.count >= rows * d, proba.count >= rows * k else {
            throw CFXError(.shape, "relaxed tree ensemble: buffers too small for \(rows) rows")
        }
        for r in 0..<rows {
            let z = logits(x, offset: r * d)
            let p = model.votes ? z : softmax(z)
            for j in 0..<k { proba[r * k + j] = p[j] }
        }
    }

    public func pullback(at x: UnsafeBufferPointer<Double>, rows: Int, cotangent: UnsafeBufferPointer<Double>,
                         into grad: UnsafeMutableBufferPointer<Double>) throws {
        let d = model.featureCount, k = model.classCount
        guard rows >= 0, x.count >= rows * d, cotangent.count >= rows * k, grad.count >= rows * d else {
            throw CFXError(.shape, "relaxed tree ensemble: buffers too small for \(rows) rows")
        }
        for r in 0..<rows {
            let z = logits(x, offset: r * d)
            var w = Array(cotangent[r * k..<(r + 1) * k])
            if !model.votes {  // through the softmax: w_c = p_c (c_c − Σ_i c_i p_i)
                let p = softmax(z)
                let mean = zip(w, p).reduce(0) { $0 + $1.0 * $1.1 }
                for j in 0..<k { w[j] = p[j] * (w[j] - mean) }
            }
            for j in 0..<d { grad[r * d + j] = 0 }
            logitPullback(w, into: grad, offset: r * d)
        }
    }
}

/// softmax(z), the largest subtracted first.
func softmax(_ z: [Double]) -> [Double] {
    let top = z.max() ?? 0
    let e = z.map { exp($0 - top) }
    let sum = e.reduce(0, +)
    return e.map { $0 / sum }
}
