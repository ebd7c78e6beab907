/// Per-feature units for comparing changes (sparsity order, set diversity): the median absolute
/// deviation of the training rows where there are rows and it is > 0 (DiCE's choice), else the
/// width of the feature range when it is a real range (finite and < 1e9), else 1.
public func featureScales(lower: [Double], upper: [Double], training: Dataset? = nil) -> [Double] {
    let mads = training?.medianAbsoluteDeviations()
    return lower.indices.map { j in
        if let mad = mads?[j], mad > 0 { return mad }
        let width = upper[j] - lower[j]
        return width > 0 && width < 1e9 ? width : 1
    }
}

extension Dataset {
    /// Each column's median absolute deviation from its median.
    public func medianAbsoluteDeviations() -> [Double] {
        (0..<features).map { j in
            let column = (0..<rows).map { x[$0 * features + j] }
            let centre = median(column)
            return median(column.map { abs($0 - centre) })
        }
    }
}
