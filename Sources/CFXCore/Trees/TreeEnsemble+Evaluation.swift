import Glibc

/// Batched evaluation: each tree over all rows (its nodes stay in cache), summing leaf values
/// into per-row scores in tree order, then the output transform, in the source's precision.
final class TreeEnsembleEvaluator: ClassifierEvaluator {
    let model: TreeEnsemble
    /// Per row: the scores (float64 or float32), and the row rounded as the tests read it; grown as needed.
    private var scores: UnsafeMutablePointer<Double>
    private var scores32: UnsafeMutablePointer<Float>
    private var rounded: UnsafeMutablePointer<Double>
    private var capacity = 0

    init(_ model: TreeEnsemble) {
        self.model = model
        (scores, scores32, rounded) = (.allocate(capacity: 1), .allocate(capacity: 1), .allocate(capacity: 1))
    }

    deinit {
        scores.deallocate()
        scores32.deallocate()
        rounded.deallocate()
    }

    /// Room for `rows` rows.
    private func reserve(_ rows: Int) {
        guard rows > capacity else { return }
        scores.deallocate(); scores32.deallocate(); rounded.deallocate()
        let s = model.scoreCount, d = model.featureCount
        (scores, scores32, rounded) = (.allocate(capacity: rows * s), .allocate(capacity: rows * s), .allocate(capacity: rows * d))
        capacity = rows
    }

    /// Rows evaluated together: their scores and rounded values stay small.
    static let chunkRows = 256

    func predict(_ x: UnsafeBufferPointer<Double>, rows: Int, into proba: UnsafeMutableBufferPointer<Double>) throws {
        let d = model.featureCount, k = model.classCount
        guard rows >= 0, x.count >= rows * d, proba.count >= rows * k else {
            throw CFXError(.shape, "tree ensemble: buffers too small for \(rows) rows")
        }
        reserve(min(rows, Self.chunkRows))
        for start in stride(from: 0, to: rows, by: Self.chunkRows) {
            let n = min(Self.chunkRows, rows - start)
            predictChunk(UnsafeBufferPointer(rebasing: x[start * d..<(start + n) * d]), rows: n,
                         into: UnsafeMutableBufferPointer(rebasing: proba[start * k..<(start + n) * k]))
        }
    }

    private func predictChunk(_ x: UnsafeBufferPointer<Double>, rows: Int, into proba: UnsafeMutableBufferPointer<Double>) {
        let m = model, d = m.featureCount, rounded = self.rounded
        // Rows without a missing value descend the packed nodes, on their values rounded once.
        var packed = !m.zeroIsMissing
        for i in 0..<rows * d {
            let v = x[i]
            if v.isNaN { packed = false }
            rounded[i] = m.precision == .float64 ? v : Double(Float(v))
        }
        m.packed.withUnsafeBufferPointer { nodes in
            if packed {
                sum(rows) { t, r in m.packedLeaf(tree: t, nodes, rounded + r * d) }
            } else {
                sum(rows) { t, r in m.leaf(tree: t, x, offset: r * d) }
            }
        }
        for r in 0..<rows {
            if m.precision == .float32 { transform32(r, into: proba) } else { transform64(r, into: proba) }
        }
    }

    /// The rows' scores in the ensemble's precision, `leaf(t, r)` the leaf tree t reaches for row r.
    @inline(__always)
    private func sum(_ rows: Int, _ leaf: (Int, Int) -> Int) {
        model.leafValues.withUnsafeBufferPointer { leafValues in
            switch model.precision {
            case .float64, .float32Inputs: sum(rows, into: scores, leafValues, leaf)
            case .float32: sum(rows, into: scores32, leafValues, leaf)
            }
        }
    }

    /// The base, then each tree over all rows (its nodes stay in cache), in tree order.
    @inline(__always)
    private func sum<S: BinaryFloatingPoint>(_ rows: Int, into scores: UnsafeMutablePointer<S>, _ leafValues: UnsafeBufferPointer<Double>,
                                           _ leaf: (Int, Int) -> Int) {
        let m = model, s = m.scoreCount
        for r in 0..<rows { for j in 0..<s { scores[r * s + j] = S(m.base[j]) } }
        for t in 0..<m.treeCount {
            let target = Int(m.targets[t])
            for r in 0..<rows {
                let v = Int(m.value[leaf(t, r)])
                if target >= 0 { scores[r * s + target] += S(leafValues[v]) } else {
                    for j in 0..<s { scores[r * s + j] += S(leafValues[v + j]) }
                }
            }
        }
    }

    /// LightGBM's transforms (binary: 1 / (1 + exp(−σ s)); softmax with the maximum subtracted).
    private func transform64(_ r: Int, into proba: UnsafeMutableBufferPointer<Double>) {
        let m = model, s = m.scoreCount, k = m.classCount
        let row = r * s
        switch m.output {
        case let .logistic(scale):
            let p = 1.0 / (1.0 + exp(-scale * scores[row] / m.divisor))
            proba[r * k] = 1 - p
            proba[r * k + 1] = p
        case .binaryProbability:
            let p = scores[row] / m.divisor
            proba[r * k] = 1 - p
            proba[r * k + 1] = p
        case .probabilities:
            for j in 0..<k { proba[r * k + j] = scores[row + j] / m.divisor }
        case .softmax:
            var top = -Double.infinity
            for j in 0..<k { top = max(top, scores[row + j] / m.divisor) }
            var sum = 0.0
            for j in 0..<k {
                let e = exp(scores[row + j] / m.divisor - top)
                proba[r * k + j] = e
                sum += e
            }
            for j in 0..<k { proba[r * k + j] /= sum }
        }
    }

    /// XGBoost's float32 transforms (common::Sigmoid with its clamp, common::Softmax: a double sum), and
    /// 1 − p in float32 as its predict_proba computes it.
    private func transform32(_ r: Int, into proba: UnsafeMutableBufferPointer<Double>) {
        let m = model, s = m.scoreCount, k = m.classCount
        let row = r * s
        switch m.output {
        case .logistic, .binaryProbability:
            let p: Float = m.output == .binaryProbability ? scores32[row] : 1 / (expf(min(-scores32[row], 88.7)) + 1)
            proba[r * k] = Double(1 - p)
            proba[r * k + 1] = Double(p)
        case .probabilities:
            for j in 0..<k { proba[r * k + j] = Double(scores32[row + j]) }
        case .softmax:
            var top = -Float.infinity
            for j in 0..<k { top = max(top, scores32[row + j]) }
            var e = [Float](repeating: 0, count: k)
            var sum = 0.0  // XGBoost sums the float32 exponentials in double
            for j in 0..<k {
                e[j] = expf(scores32[row + j] - top)
                sum += Double(e[j])
            }
            for j in 0..<k { proba[r * k + j] = Double(e[j] / Float(sum)) }
        }
    }

    func pullback(at x: UnsafeBufferPointer<Double>, rows: Int, cotangent: UnsafeBufferPointer<Double>,
                  into grad: UnsafeMutableBufferPointer<Double>) throws {
        throw CFXError(.model, model.gradientUnavailableReason ?? "no gradient")
    }
}
