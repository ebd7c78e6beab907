import Glibc

/// One thread's relaxed evaluation (TreeEnsemble+Relaxation.swift): `logits` at a row, then
/// `logitPullback` of a cotangent on them at that row; `predict` and `pullback` (the `Classifier`
/// view) go through the two. Its buffers are allocated once: evaluating allocates nothing.
public final class RelaxedTreeEvaluator: ClassifierEvaluator {
    public let model: RelaxedTreeEnsemble
    /// Per node (its preorder position): the weight of reaching it; per split: s, the weight of
    /// going right; per node on the way up: the subtree's value under the cotangent.
    private let reach: UnsafeMutablePointer<Double>
    private let right: UnsafeMutablePointer<Double>
    private let below: UnsafeMutablePointer<Double>
    /// The nodes the last `logits` evaluated (above the cutoff), in preorder; tree t's are
    /// `visited[visitedStarts[t]..<visitedStarts[t + 1]]`.
    private let visited: UnsafeMutablePointer<Int32>
    private var visitedStarts: [Int]
    /// The row as the tests see it (rounded to float32 where the ensemble rounds its inputs), and
    /// per feature exp(−σ x_f), when the row's sigmoids are factored.
    private let row: UnsafeMutablePointer<Double>
    private let decay: UnsafeMutablePointer<Double>
    private var factored = false
    /// The summed scores, and the cotangent on them.
    private let scores: UnsafeMutablePointer<Double>
    private let u: UnsafeMutablePointer<Double>

    public init(_ model: RelaxedTreeEnsemble) {
        self.model = model
        let n = max(1, model.nodes.count)
        (reach, right, below) = (.allocate(capacity: n), .allocate(capacity: n), .allocate(capacity: n))
        visited = .allocate(capacity: n)
        visitedStarts = [Int](repeating: 0, count: model.ensemble.treeCount + 1)
        (row, decay) = (.allocate(capacity: model.featureCount), .allocate(capacity: model.featureCount))
        (scores, u) = (.allocate(capacity: model.ensemble.scoreCount), .allocate(capacity: model.ensemble.scoreCount))
    }

    deinit {
        for buffer in [reach, right, below, row, decay, scores, u] { buffer.deallocate() }
        visited.deallocate()
    }

    /// The logits z (classCount values) of the row at `x[offset...]`; keeps the row's weights for
    /// `logitPullback`.
    public func logits(_ x: UnsafeBufferPointer<Double>, offset: Int) -> [Double] {
        var z = [Double](repeating: 0, count: model.classCount)
        z.withUnsafeMutableBufferPointer { logits(x, offset: offset, into: $0) }
        return z
    }

    /// `logits` into `z` (classCount values).
    public func logits(_ x: UnsafeBufferPointer<Double>, offset: Int, into z: UnsafeMutableBufferPointer<Double>) {
        let m = model.ensemble
        factored = model.factored
        for j in 0..<m.featureCount {
            let v = x[offset + j]
            row[j] = m.precision == .float64 ? v : Double(Float(v))
            decay[j] = exp(-model.sigma * row[j])
            factored = factored && RelaxedTreeEnsemble.usable(decay[j])
        }
        sumTrees()
        let q = m.divisor
        switch m.output {
        case .probabilities, .softmax: for j in 0..<m.scoreCount { z[j] = scores[j] / q }
        case .binaryProbability: (z[0], z[1]) = (1 - scores[0] / q, scores[0] / q)
        case let .logistic(scale): (z[0], z[1]) = (0, scale * scores[0] / q)
        }
    }

    /// The weight of going right at `node` for the row in `row`: a missing value takes the real test's
    /// side. Factored, 1 / (1 + exp(−σ x) exp(σ θ)): one exp per feature rather than per split
    /// (the factors are finite and nonzero, so the product is a number, at worst ∞ or 0: s = 0 or 1).
    @inline(__always)
    private func rightWeight(_ node: RelaxedNode, factored: Bool) -> Double {
        let f = Int(node.feature), v = row[f]
        if v.isNaN || (node.zeroIsMissing && abs(v) <= TreeEnsemble.zeroThreshold) {
            return model.ensemble.goesLeft(v, node: Int(node.source)) ? 0 : 1
        }
        return factored ? 1 / (1 + decay[f] * node.scale) : 1 / (1 + exp(-model.sigma * (v - node.threshold)))
    }

    /// The scores of the row in `row`: each tree's nodes in preorder, a subtree whose weight of
    /// being reached is below the cutoff skipped (its value counted as 0 on the way up).
    private func sumTrees() {
        let m = model.ensemble, s = m.scoreCount, cutoff = model.cutoff, factored = self.factored
        for j in 0..<s { scores[j] = m.base[j] }
        var count = 0
        model.nodes.withUnsafeBufferPointer { nodes in
            m.leafValues.withUnsafeBufferPointer { leafValues in
                for t in 0..<m.treeCount {
                    visitedStarts[t] = count
                    var i = model.starts[t]
                    reach[i] = 1
                    while i < model.starts[t + 1] {
                        let node = nodes[i], p = reach[i]
                        if p < cutoff {
                            below[i] = 0
                            i = Int(node.end)
                            continue
                        }
                        visited[count] = Int32(i)
                        count += 1
                        if node.feature >= 0 {
                            let r = rightWeight(node, factored: factored)
                            right[i] = r
                            reach[Int(node.left)] = p * (1 - r)
                            reach[Int(node.right)] = p * r
                        } else if node.target >= 0 {
                            scores[Int(node.target)] += p * leafValues[Int(node.value)]
                        } else {
                            for j in 0..<s { scores[j] += p * leafValues[Int(node.value) + j] }
                        }
                        i += 1
                    }
                }
            }
        }
        visitedStarts[m.treeCount] = count
    }

    /// Adds Σ_c w_c ∂z_c/∂x of the row last given to `logits` into `grad[offset...]`.
    public func logitPullback(_ w: UnsafeBufferPointer<Double>, into grad: UnsafeMutableBufferPointer<Double>, offset: Int) {
        let m = model.ensemble, q = m.divisor, sigma = model.sigma
        switch m.output {  // the cotangent on the summed scores
        case .probabilities, .softmax: for j in 0..<m.scoreCount { u[j] = w[j] / q }
        case .binaryProbability: u[0] = (w[1] - w[0]) / q
        case let .logistic(scale): u[0] = w[1] * scale / q
        }
        model.nodes.withUnsafeBufferPointer { nodes in
            m.leafValues.withUnsafeBufferPointer { leafValues in
                for t in 0..<m.treeCount {
                    for k in stride(from: visitedStarts[t + 1] - 1, through: visitedStarts[t], by: -1) {
                        let i = Int(visited[k]), node = nodes[i]
                        if node.feature >= 0 {
                            let (l, r, s) = (below[Int(node.left)], below[Int(node.right)], right[i])
                            below[i] = (1 - s) * l + s * r
                            grad[offset + Int(node.feature)] += reach[i] * (r - l) * sigma * s * (1 - s)
                        } else if node.target >= 0 {
                            below[i] = u[Int(node.target)] * leafValues[Int(node.value)]
                        } else {
                            var sum = 0.0
                            for j in 0..<m.scoreCount { sum += u[j] * leafValues[Int(node.value) + j] }
                            below[i] = sum
                        }
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
            w.withUnsafeBufferPointer { logitPullback($0, into: grad, offset: r * d) }
        }
    }
}
