/// What the genetic search works out once, when the explainer is made: the box new values are drawn
/// from, the proximity term's coefficients, and the training rows' classes for the "kdtree" start.
extension GeneticExplainer {
    /// A bound of feature_range at or beyond this is open (the default ±1e10): the training rows'
    /// span takes its place.
    static let openBound = 1e9

    /// Each model column's box: feature_range's bounds where they are closer than ±1e9, the
    /// training rows' min/max where not. A numerical feature that may change needs both bounds
    /// (`required`: at prepare; the config's own check runs before any fit).
    static func samplingBox(_ constraints: Constraints, layout: CategoricalLayout, training: Dataset?,
                            required: Bool) throws -> (lower: [Double], upper: [Double]) {
        let d = layout.modelFeatures
        var lower = constraints.lower, upper = constraints.upper
        var span: (lower: [Double], upper: [Double])?
        if let training {
            var low = [Double](repeating: .infinity, count: d), high = [Double](repeating: -.infinity, count: d)
            for r in 0..<training.rows {
                for (j, v) in training.row(r).enumerated() { low[j] = min(low[j], v); high[j] = max(high[j], v) }
            }
            span = (low, high)
        }
        let immutable = Set(constraints.immutable)
        for o in 0..<layout.ordinalFeatures where layout.variableOfOrdinal[o] < 0 {
            let j = layout.modelStart[o]
            if lower[j] <= -openBound, let span { lower[j] = min(span.lower[j], upper[j]) }
            if upper[j] >= openBound, let span { upper[j] = max(span.upper[j], lower[j]) }
            if required && !immutable.contains(j) && (lower[j] <= -openBound || upper[j] >= openBound) {
                throw CFXError.config(ConstraintOptions.featureRangeKey, "feature \(j) has no bound within ±1e9 and there are no training rows to take its range from; the genetic search draws the values of every feature it varies from its range: give feature_range, or fit on training rows (cfx_explainer_fit)")
            }
        }
        return (lower, upper)
    }

    /// w_j / R_j / Σ_k w_k for each numerical gene j (w = 1/MAD, 1 without one; R the box width,
    /// 1 when the box is a point), 0 for a categorical variable.
    static func proximityCoefficients(layout: CategoricalLayout, box: (lower: [Double], upper: [Double]), mads: [Double]?) -> [Double] {
        var weights = [Double](repeating: 0, count: layout.ordinalFeatures)
        var widths = [Double](repeating: 1, count: layout.ordinalFeatures)
        for o in 0..<layout.ordinalFeatures where layout.variableOfOrdinal[o] < 0 {
            let j = layout.modelStart[o]
            let mad = mads?[j] ?? 0
            weights[o] = mad > 0 ? 1 / mad : 1
            let width = box.upper[j] - box.lower[j]
            if width > 0 && width < 2 * openBound { widths[o] = width }
        }
        let total = weights.reduce(0, +)
        guard total > 0 else { return weights }
        return weights.indices.map { weights[$0] / widths[$0] / total }
    }

    /// Rows predicted per call when the training rows are classified.
    static let trainingChunk = 1024

    /// The training rows in the ordinal space (their categories checked) and the model's class of
    /// each (DiCE's k-d tree holds the rows the model predicts as the desired class).
    static func classified(_ training: Dataset, model: Classifier, layout: CategoricalLayout) throws -> (ordinal: [[Double]], classes: [Int]) {
        let ordinal = try (0..<training.rows).map { try layout.ordinal(fromModel: training.row($0), "x_train row \($0)") }
        let session = ModelSession(model: model)
        let k = model.classCount
        var classes: [Int] = []
        classes.reserveCapacity(training.rows)
        var start = 0
        while start < training.rows {
            let end = min(start + trainingChunk, training.rows)
            let proba = try session.predict(Array(training.x[start * training.features..<end * training.features]), rows: end - start)
            for r in 0..<(end - start) { classes.append(argmax(Array(proba[r * k..<(r + 1) * k]))) }
            start = end
        }
        return (ordinal, classes)
    }
}
