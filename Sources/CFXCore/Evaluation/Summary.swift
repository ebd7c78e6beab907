/// Mean, standard deviation, median, minimum and maximum of a metric over a batch.
///
/// NaN values (a metric that does not apply to an instance: no counterfactual found, no training
/// point of its class) are left out; `count` is the number of values summarised. The standard
/// deviation is the population one (divides by `count`, numpy's default `ddof=0`); the median of
/// an even count is the mean of the two middle values. With `count == 0` every statistic is NaN.
public struct Summary: Sendable, Equatable {
    public let count: Int
    public let mean: Double
    public let std: Double
    public let median: Double
    public let min: Double
    public let max: Double

    public init<S: Sequence>(_ values: S) where S.Element == Double {
        let kept = values.filter { !$0.isNaN }
        count = kept.count
        guard !kept.isEmpty else {
            (mean, std, median, min, max) = (.nan, .nan, .nan, .nan, .nan)
            return
        }
        let m = kept.reduce(0, +) / Double(kept.count)
        mean = m
        std = (kept.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(kept.count)).squareRoot()
        median = CFXCore.median(kept)
        min = kept.min()!
        max = kept.max()!
    }

    public static func == (a: Summary, b: Summary) -> Bool {
        func same(_ x: Double, _ y: Double) -> Bool { x == y || (x.isNaN && y.isNaN) }
        return a.count == b.count && same(a.mean, b.mean) && same(a.std, b.std) && same(a.median, b.median)
            && same(a.min, b.min) && same(a.max, b.max)
    }
}

/// The median of non-empty `values` (the mean of the two middle values for an even count).
public func median(_ values: [Double]) -> Double {
    precondition(!values.isEmpty, "the median of no values")
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
