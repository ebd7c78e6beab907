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

/// The direction a directional (monotone) feature may move in: an age can only increase.
public enum Direction: String, Sendable, Equatable, CaseIterable {
    case increase, decrease
}

/// A feature that may only move one way from the factual (config `"monotone": {"3": "increase"}`).
public struct MonotoneFeature: Sendable, Equatable {
    public let feature: Int
    public let direction: Direction
    public init(feature: Int, direction: Direction) {
        self.feature = feature
        self.direction = direction
    }

    /// Whether `value` moved from `original` only in the allowed direction.
    public func allows(_ value: Double, from original: Double) -> Bool {
        direction == .increase ? value >= original : value <= original
    }
}

/// What is wrong with monotone features (outside 0..<d, named twice or also immutable), or nil.
public func monotoneProblem(_ monotone: [MonotoneFeature], immutable: [Int], featureCount d: Int) -> String? {
    var seen = Set<Int>()
    for m in monotone {
        guard (0..<d).contains(m.feature) else { return "feature index \(m.feature) is outside 0..<\(d)" }
        guard seen.insert(m.feature).inserted else { return "feature \(m.feature) is listed twice" }
        guard !immutable.contains(m.feature) else { return "feature \(m.feature) is also immutable; list it in one of the two" }
    }
    return nil
}

/// The box a counterfactual must stay in, the features it may not change, and the features it
/// may only move one way.
public struct Constraints: Sendable {
    public let lower: [Double]
    public let upper: [Double]
    public let immutable: [Int]
    public let monotone: [MonotoneFeature]

    public init(lower: PerFeature, upper: PerFeature, immutable: [Int], monotone: [MonotoneFeature] = [],
                featureCount d: Int) throws {
        let (range, immutableKey, monotoneKey) = (ConstraintOptions.featureRangeKey, ConstraintOptions.immutableKey, ConstraintOptions.monotoneKey)
        self.lower = try lower.resolve(d, "\(range)[0]")
        self.upper = try upper.resolve(d, "\(range)[1]")
        for j in 0..<d where !(self.lower[j] <= self.upper[j]) {
            throw CFXError.config(range, "the minimum \(self.lower[j]) of feature \(j) exceeds its maximum \(self.upper[j])")
        }
        for j in immutable where !(0..<d).contains(j) {
            throw CFXError.config(immutableKey, "feature index \(j) is outside 0..<\(d)")
        }
        if let problem = monotoneProblem(monotone, immutable: immutable, featureCount: d) { throw CFXError.config(monotoneKey, problem) }
        self.immutable = immutable
        self.monotone = monotone
    }

    /// Clips `x` into the box, then puts the immutable features back to their original values and
    /// the monotone ones that moved the wrong way back to theirs.
    public func apply(to x: inout [Double], original: [Double]) {
        for j in x.indices { x[j] = min(max(x[j], lower[j]), upper[j]) }
        for j in immutable { x[j] = original[j] }
        applyDirections(to: &x, original: original)
    }

    /// Whether `y`, a change of `x` that is not clipped, keeps the constraints: every changed
    /// feature inside the box (an instance outside it may keep its own values), immutable features
    /// unchanged, monotone ones moved their way only.
    public func permits(_ y: [Double], from x: [Double]) -> Bool {
        for j in y.indices where y[j] != x[j] && !(lower[j] <= y[j] && y[j] <= upper[j]) { return false }
        if immutable.contains(where: { y[$0] != x[$0] }) { return false }
        return monotone.allSatisfy { $0.allows(y[$0.feature], from: x[$0.feature]) }
    }

    /// Monotone features only: increase-only x_j := max(x_j, original_j), decrease-only min.
    public func applyDirections(to x: inout [Double], original: [Double]) {
        for m in monotone {
            x[m.feature] = m.direction == .increase ? max(x[m.feature], original[m.feature]) : min(x[m.feature], original[m.feature])
        }
    }

    /// Gradients of immutable features are zero, so the optimiser never moves them; a gradient
    /// step −g of a monotone feature keeps only its allowed sign (increase-only: g := min(g, 0)).
    public func mask(_ gradient: inout [Double]) {
        for j in immutable { gradient[j] = 0 }
        for m in monotone {
            gradient[m.feature] = m.direction == .increase ? min(gradient[m.feature], 0) : max(gradient[m.feature], 0)
        }
    }
}

/// Which class a counterfactual should reach.
public enum TargetClass: Sendable, Equatable {
    /// The most probable class other than the original prediction, chosen anew at every step.
    case other
    /// The original prediction.
    case same
    case index(Int)

    /// The classes a counterfactual of an instance predicted `original` may have, of `count`
    /// (a fixed set: the tree methods; "same" is refused by their tables and reads as "other").
    public func classes(of count: Int, original: Int) -> [Int] {
        switch self {
        case .index(let c): return c == original ? [] : [c]
        case .other, .same: return (0..<count).filter { $0 != original }
        }
    }

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
