/// A value given once for all features or once per feature (feature_range bounds, eps).
public enum PerFeature: Sendable, Equatable {
    case all(Double)
    case each([Double])

    /// The value of every feature; errors name `key`.
    public func resolve(_ count: Int, _ key: String) throws -> [Double] {
        switch self {
        case .all(let value):
            return [Double](repeating: value, count: count)
        case .each(let values):
            guard values.count == count else {
                throw CFXError.config(key, "has \(values.count) values, the model has \(count) features")
            }
            return values
        }
    }
}

/// The box a counterfactual must stay in, and the features it may not change.
public struct Constraints: Sendable {
    public let lower: [Double]
    public let upper: [Double]
    public let immutable: [Int]

    public init(lower: PerFeature, upper: PerFeature, immutable: [Int], featureCount d: Int) throws {
        self.lower = try lower.resolve(d, "feature_range[0]")
        self.upper = try upper.resolve(d, "feature_range[1]")
        for j in 0..<d where !(self.lower[j] <= self.upper[j]) {
            throw CFXError.config("feature_range", "the minimum \(self.lower[j]) of feature \(j) exceeds its maximum \(self.upper[j])")
        }
        for j in immutable where !(0..<d).contains(j) {
            throw CFXError.config("immutable", "feature index \(j) is outside 0..<\(d)")
        }
        self.immutable = immutable
    }

    /// Clips `x` into the box, then puts the immutable features back to their original values.
    public func apply(to x: inout [Double], original: [Double]) {
        for j in x.indices { x[j] = min(max(x[j], lower[j]), upper[j]) }
        for j in immutable { x[j] = original[j] }
    }

    /// Gradients of immutable features are zero, so the optimiser never moves them.
    public func mask(_ gradient: inout [Double]) {
        for j in immutable { gradient[j] = 0 }
    }
}

/// Which class a counterfactual should reach.
public enum TargetClass: Sendable, Equatable {
    /// The most probable class other than the original prediction, chosen anew at every step.
    case other
    /// The original prediction.
    case same
    case index(Int)

    /// The target class at probabilities `p` for an instance originally predicted `original`.
    public func resolve(probabilities p: [Double], original: Int) -> Int {
        switch self {
        case .same: return original
        case .index(let c): return c
        case .other:
            var best = -1
            for c in p.indices where c != original && (best < 0 || p[c] > p[best]) { best = c }
            return best
        }
    }
}

func argmax(_ values: [Double]) -> Int {
    var best = 0
    for i in values.indices where values[i] > values[best] { best = i }
    return best
}

/// A warning for an instance `x` that lies outside [lower, upper], or nil when it lies inside.
/// Searches start at the instance and clip into the range, so part of the change a counterfactual
/// shows on those features comes from the clipping alone, which a caller should know.
public func outsideRangeWarning(_ x: ArraySlice<Double>, lower: [Double], upper: [Double]) -> String? {
    var outside: [String] = []
    for (j, value) in x.enumerated() {
        if value < lower[j] { outside.append("feature \(j) = \(value) < \(lower[j])") }
        if value > upper[j] { outside.append("feature \(j) = \(value) > \(upper[j])") }
    }
    guard !outside.isEmpty else { return nil }
    let shown = outside.prefix(5).joined(separator: ", ") + (outside.count > 5 ? ", and \(outside.count - 5) more" : "")
    return "the instance lies outside feature_range (\(shown)); the search clips it into the range, so the counterfactual changes those features for that reason alone"
}
