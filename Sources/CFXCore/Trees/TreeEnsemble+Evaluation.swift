import Glibc

/// Batched evaluation: each tree over all rows (its nodes stay in cache), summing leaf values
/// into per-row scores in tree order, then the output transform, in the source's precision.
final class TreeEnsembleEvaluator: ClassifierEvaluator {
    let model: TreeEnsemble
    private var scores: [Double] = []
    private var scores32: [Float] = []

    init(_ model: TreeEnsemble) { self.model = model }

    func predict(_ x: UnsafeBufferPointer<Double>, rows: Int, into proba: UnsafeMutableBufferPointer<Double>) throws {
        let m = model, s = m.scoreCount, d = m.featureCount, k = m.classCount
        guard rows >= 0, x.count >= rows * d, proba.count >= rows * k else {
            throw CFXError(.shape, "tree ensemble: buffers too small for \(rows) rows")
        }
        switch m.precision {
        case .float64, .float32Inputs:
            scores = [Double](repeating: 0, count: rows * s)
            for r in 0..<rows { for j in 0..<s { scores[r * s + j] = m.base[j] } }
            for t in 0..<m.treeCount {
                let target = Int(m.targets[t])
                for r in 0..<rows {
                    let v = Int(m.value[m.leaf(tree: t, x, offset: r * d)])
                    if target >= 0 { scores[r * s + target] += m.leafValues[v] } else {
                        for j in 0..<s { scores[r * s + j] += m.leafValues[v + j] }
                    }
                }
            }
            for r in 0..<rows { transform64(r, into: proba) }
        case .float32:
            scores32 = [Float](repeating: 0, count: rows * s)
            for r in 0..<rows { for j in 0..<s { scores32[r * s + j] = Float(m.base[j]) } }
            for t in 0..<m.treeCount {
                let target = Int(m.targets[t])
                for r in 0..<rows {
                    let v = Int(m.value[m.leaf(tree: t, x, offset: r * d)])
                    if target >= 0 { scores32[r * s + target] += Float(m.leafValues[v]) } else {
                        for j in 0..<s { scores32[r * s + j] += Float(m.leafValues[v + j]) }
                    }
                }
            }
            for r in 0..<rows { transform32(r, into: proba) }
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
