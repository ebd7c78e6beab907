import Glibc

/// The metrics of the counterfactual-training paper, for counterfactuals x′ of factuals x with
/// targets y⁺ against the training rows X (labels y):
///
/// - IP: per x′, the mean ℓ1 distance to (up to `samples`, 1000) rows of X of class y⁺, drawn
///   without replacement with `seed`; reported per row and as the mean.
/// - IP*: per target class t, the unbiased MMD² between the counterfactuals with target t and
///   those samples of class t, with the Gaussian kernel k(a, b) = exp(−‖a − b‖² / (2ℓ²)); the
///   length scale ℓ is `lengthScale` or, by default, the median heuristic: the median Euclidean
///   distance between the rows of the pooled sample. Unbiased: the diagonal terms are left out,
///   so it can be slightly negative. The total is the mean over classes weighted by their counts.
/// - cost: ‖x′ − x‖₁; validity: p_y⁺(x′) ≥ 0.5.
public struct PlausibilityReport: Sendable {
    public var implausibility: [Double]
    public var cost: [Double]
    public var valid: [Bool]
    /// Per target class that has counterfactuals: (class, count, MMD², ℓ).
    public var mmd: [(target: Int, count: Int, mmd2: Double, lengthScale: Double)]

    public var meanImplausibility: Double { mean(implausibility) }
    public var meanCost: Double { mean(cost) }
    public var validity: Double { Double(valid.filter { $0 }.count) / Double(max(valid.count, 1)) }
    public var mmd2: Double {
        let total = mmd.reduce(0) { $0 + $1.count }
        return mmd.reduce(0) { $0 + Double($1.count) * $1.mmd2 } / Double(max(total, 1))
    }
}

private func mean(_ values: [Double]) -> Double { values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count) }

public func plausibilityReport(model: Classifier, training x: [Double], labels: [Int], factuals: [Double], counterfactuals: [Double],
                               targets: [Int], samples: Int = 1000, lengthScale: Double? = nil, seed: UInt64 = 0) throws -> PlausibilityReport {
    let d = model.featureCount, k = model.classCount, n = targets.count
    try model.checkShape(count: x.count, rows: labels.count, features: d, "x_train")
    try model.checkShape(count: factuals.count, rows: n, features: d, "x")
    try model.checkShape(count: counterfactuals.count, rows: n, features: d, "x_cf")
    try requireFinite(counterfactuals, "x_cf")
    guard samples >= 2 else { throw CFXError.config("samples", "must be >= 2, got \(samples)") }
    if let lengthScale, !(lengthScale > 0 && lengthScale.isFinite) { throw CFXError.config("length_scale", "must be > 0, got \(lengthScale)") }
    if let i = labels.firstIndex(where: { !(0..<k).contains($0) }) { throw CFXError(.invalidArgument, "y_train[\(i)]: \(labels[i]) is not a class of the model") }
    if let i = targets.firstIndex(where: { !(0..<k).contains($0) }) { throw CFXError(.invalidArgument, "targets[\(i)]: \(targets[i]) is not a class of the model") }

    // Up to `samples` rows of each class, drawn without replacement.
    var random = SeededRandom(seed: seed)
    var byClass = [[Int]](repeating: [], count: k)
    for (i, y) in labels.enumerated() { byClass[y].append(i) }
    let sampled: [[Int]] = byClass.map { rows in
        var rows = rows
        random.shuffle(&rows)
        return Array(rows.prefix(samples))
    }
    func row(_ data: [Double], _ i: Int) -> ArraySlice<Double> { data[i * d..<(i + 1) * d] }

    let proba = try ModelSession(model: model).predict(counterfactuals, rows: n)
    var report = PlausibilityReport(implausibility: [], cost: [], valid: [], mmd: [])
    for r in 0..<n {
        let cf = row(counterfactuals, r), t = targets[r]
        let pool = sampled[t]
        report.implausibility.append(pool.isEmpty ? .nan
            : pool.reduce(0) { $0 + zip(cf, row(x, $1)).reduce(0) { $0 + abs($1.0 - $1.1) } } / Double(pool.count))
        report.cost.append(zip(cf, row(factuals, r)).reduce(0) { $0 + abs($1.0 - $1.1) })
        report.valid.append(proba[r * k + t] >= 0.5)
    }
    for t in 0..<k {
        let mine = (0..<n).filter { targets[$0] == t }
        guard mine.count >= 2, sampled[t].count >= 2 else { continue }
        let a = mine.map { Array(row(counterfactuals, $0)) }, b = sampled[t].map { Array(row(x, $0)) }
        let scale = lengthScale ?? medianDistance(a + b)
        report.mmd.append((t, mine.count, unbiasedMMD2(a, b, lengthScale: scale), scale))
    }
    return report
}

/// The median Euclidean distance between distinct rows (1 when all rows coincide).
func medianDistance(_ rows: [[Double]]) -> Double {
    let n = rows.count, d = rows.first?.count ?? 0
    guard n >= 2 else { return 1 }
    let flat = rows.flatMap { $0 }
    var distances = [Double](repeating: 0, count: n * (n - 1) / 2)
    flat.withUnsafeBufferPointer { x in
        distances.withUnsafeMutableBufferPointer { out in
            var next = 0
            for i in 0..<n {
                for j in (i + 1)..<n {
                    var s = 0.0
                    for f in 0..<d { let e = x[i * d + f] - x[j * d + f]; s += e * e }
                    out[next] = s
                    next += 1
                }
            }
        }
    }
    // Squared distances keep their order: take the median of those, then its root.
    let m = distances.count / 2
    let upper = select(&distances, m)
    let median = distances.count % 2 == 1 ? upper : (distances[0..<m].max()! + upper) / 2
    return median > 0 ? median.squareRoot() : 1
}

/// Rearranges `values` so that values[k] is the k-th smallest, with smaller ones before it (quickselect).
private func select(_ values: inout [Double], _ k: Int) -> Double {
    var lo = 0, hi = values.count - 1
    var random = SeededRandom(seed: 7)
    while lo < hi {
        values.swapAt(lo + random.index(below: hi - lo + 1), hi)
        let pivot = values[hi]
        var store = lo
        for i in lo..<hi where values[i] < pivot {
            values.swapAt(i, store)
            store += 1
        }
        values.swapAt(store, hi)
        if store == k { break } else if store < k { lo = store + 1 } else { hi = store - 1 }
    }
    return values[k]
}

/// Unbiased MMD² (Gretton et al. 2012): mean over i ≠ j of k(a_i, a_j) + the same for b
/// − 2 mean over all pairs of k(a_i, b_j), k(a, b) = exp(−‖a − b‖² / (2ℓ²)).
func unbiasedMMD2(_ a: [[Double]], _ b: [[Double]], lengthScale: Double) -> Double {
    let gamma = 1 / (2 * lengthScale * lengthScale)
    func within(_ s: [[Double]]) -> Double {
        var total = 0.0
        for i in s.indices { for j in (i + 1)..<s.count { total += 2 * exp(-gamma * squaredDistance(s[i], s[j])) } }
        return total / Double(s.count * (s.count - 1))
    }
    var cross = 0.0
    for p in a { for q in b { cross += exp(-gamma * squaredDistance(p, q)) } }
    return within(a) + within(b) - 2 * cross / Double(a.count * b.count)
}

/// An adversarial attack in the ℓ∞ ball of radius ε on the cross-entropy of the true label.
public enum Attack: Sendable, Equatable {
    /// x + ε sign(∇ₓ CE).
    case fgsm
    /// `steps` steps x += α sign(∇ₓ CE), each projected back into the ball, from a uniform random
    /// start in the ball when `randomStart`.
    case pgd(steps: Int, alpha: Double, randomStart: Bool)
}

/// Accuracy of a native network on `x` (rows × d, labels) after `attack` with each ε of `epsilons`.
public func robustAccuracy(network: Network, x: [Double], labels: [Int], epsilons: [Double], attack: Attack, seed: UInt64 = 0,
                           threads: Int = 0) throws -> [Double] {
    let d = network.featureCount, k = network.classCount, n = labels.count
    try network.checkShape(count: x.count, rows: n, features: d)
    try requireFinite(x, "x")
    guard n > 0 else { throw CFXError(.shape, "x: no rows") }
    if let i = labels.firstIndex(where: { !(0..<k).contains($0) }) { throw CFXError(.invalidArgument, "y[\(i)]: \(labels[i]) is not a class of the model") }
    if let e = epsilons.first(where: { !($0 >= 0 && $0.isFinite) }) { throw CFXError.config("epsilons", "must be finite and >= 0, got \(e)") }
    if case .pgd(let steps, let alpha, _) = attack {
        guard (1...100_000).contains(steps) else { throw CFXError.config("steps", "must be in 1...100000, got \(steps)") }
        guard alpha > 0, alpha.isFinite else { throw CFXError.config("alpha", "must be > 0, got \(alpha)") }
    }
    let logits = network.outputs["logits"]
    let output = try network.outputBuffer("probabilities")
    let chunk = 256, chunks = (n + chunk - 1) / chunk
    return try epsilons.enumerated().map { e, epsilon in
        let correct = try parallelMap(count: chunks, threads: threads) { c in
            let lo = c * chunk, hi = min(n, lo + chunk), rows = hi - lo
            let evaluator = NetworkEvaluator(network)
            let original = Array(x[lo * d..<hi * d])
            var point = original
            var random = SeededRandom(seed: seed &+ UInt64(e) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(c))
            // The sign of ∇ₓ CE(M(point), y) per row.
            func gradientSign() -> [Double] {
                point.withUnsafeBufferPointer { evaluator.forward($0, rows: rows) }
                let p = evaluator.value(output)
                var cotangent = [Double](repeating: 0, count: rows * k)
                for r in 0..<rows {
                    let y = labels[lo + r]
                    if logits != nil {
                        LogitLoss.crossEntropyGradient(probabilities: p.baseAddress! + r * k, classes: k, label: y) { cotangent[r * k + $0] = $1 }
                    } else {
                        cotangent[r * k + y] = -1 / max(p[r * k + y], 1e-300)
                    }
                }
                let g = cotangent.withUnsafeBufferPointer { evaluator.backward(from: logits ?? output, cotangent: $0) }
                return (0..<rows * d).map { g[$0] > 0 ? 1 : g[$0] < 0 ? -1 : 0 }
            }
            switch attack {
            case .fgsm:
                if epsilon > 0 {
                    let s = gradientSign()
                    for i in point.indices { point[i] += epsilon * s[i] }
                }
            case .pgd(let steps, let alpha, let randomStart):
                if epsilon > 0 {
                    if randomStart { for i in point.indices { point[i] += random.uniform(-epsilon, epsilon) } }
                    for _ in 0..<steps {
                        let s = gradientSign()
                        for i in point.indices {
                            point[i] = min(max(point[i] + alpha * s[i], original[i] - epsilon), original[i] + epsilon)
                        }
                    }
                }
            }
            point.withUnsafeBufferPointer { evaluator.forward($0, rows: rows) }
            let p = evaluator.value(output)
            return (0..<rows).filter { r in argmax(Array(p[r * k..<(r + 1) * k])) == labels[lo + r] }.count
        }
        return Double(correct.reduce(0, +)) / Double(n)
    }
}
