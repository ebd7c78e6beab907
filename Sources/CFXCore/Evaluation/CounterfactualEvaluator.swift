/// Training data prepared for the metrics: each point's class and each feature's MAD.
public struct TrainingReference: Sendable {
    public let data: Dataset
    /// Each row's class: the given label, or the model's prediction.
    public let classes: [Int]
    public let mad: [Double]
    /// Row indices per class, in increasing order.
    let rowsByClass: [[Int]]

    public init(data: Dataset, model: Classifier) throws {
        guard data.features == model.featureCount else {
            throw CFXError(.shape, "x_train has \(data.features) features per row, the model expects \(model.featureCount)")
        }
        self.data = data
        if let labels = data.labels {
            classes = labels
        } else {
            let session = ModelSession(model: model)
            var predicted: [Int] = []
            predicted.reserveCapacity(data.rows)
            let chunk = 1024
            var start = 0
            while start < data.rows {
                let rows = min(chunk, data.rows - start)
                let proba = try session.predict(Array(data.x[start * data.features..<(start + rows) * data.features]), rows: rows)
                for r in 0..<rows { predicted.append(argmax(Array(proba[r * model.classCount..<(r + 1) * model.classCount]))) }
                start += rows
            }
            classes = predicted
        }
        var byClass = [[Int]](repeating: [], count: model.classCount)
        for (r, c) in classes.enumerated() { byClass[c].append(r) }
        rowsByClass = byClass
        mad = data.medianAbsoluteDeviations()
    }
}

/// Computes `CounterfactualMetrics` for batches of (instance, counterfactual) pairs against one
/// model, and optionally training data, an autoencoder and a class-conditional density.
public struct CounterfactualEvaluator: Sendable {
    public let model: Classifier
    public let training: TrainingReference?
    public let options: EvaluationOptions
    public var autoencoder: Classifier?
    public var density: ClassConditionalDensity?
    private let lower: [Double]?
    private let upper: [Double]?

    public init(model: Classifier, training: TrainingReference? = nil, options: EvaluationOptions = EvaluationOptions(),
                autoencoder: Classifier? = nil, density: ClassConditionalDensity? = nil) throws {
        let d = model.featureCount
        var bounds: (lower: [Double], upper: [Double])?
        if let range = options.featureRange {
            let constraints = try Constraints(lower: range.lower, upper: range.upper, immutable: options.immutable,
                                              monotone: options.monotone, featureCount: d)
            bounds = (constraints.lower, constraints.upper)
        } else {
            _ = try Constraints(lower: .all(0), upper: .all(0), immutable: options.immutable, monotone: options.monotone, featureCount: d)
        }
        guard options.sparsityTol >= 0, options.sparsityTol.isFinite else {
            throw CFXError.config("sparsity_tol", "must be a finite number >= 0, got \(options.sparsityTol)")
        }
        guard options.constraintTol >= 0, options.constraintTol.isFinite else {
            throw CFXError.config("constraint_tol", "must be a finite number >= 0, got \(options.constraintTol)")
        }
        guard options.madZeroScale > 0, options.madZeroScale.isFinite else {
            throw CFXError.config("mad_zero_scale", "must be a finite number > 0, got \(options.madZeroScale)")
        }
        try requireThreadCount(options.threads)
        var used = [Bool](repeating: false, count: d)
        for group in options.categorical {
            let width = options.oneHot ? group.categories : 1
            guard group.column >= 0, group.column < d, group.categories >= 1, width <= d - group.column else {
                throw CFXError.config("cat_vars", "group {\(group.column): \(group.categories)} does not fit in \(d) features")
            }
            for j in group.column..<group.column + width {
                guard !used[j] else { throw CFXError.config("cat_vars", "groups overlap at feature \(j)") }
                used[j] = true
            }
        }
        if let training, training.data.features != d {
            throw CFXError(.shape, "x_train has \(training.data.features) features per row, the model expects \(d)")
        }
        self.model = model
        self.training = training
        self.options = options
        self.density = density
        self.lower = bounds?.lower
        self.upper = bounds?.upper
        self.autoencoder = nil
        try setAutoencoder(autoencoder)
    }

    /// An autoencoder must map d features to d outputs.
    public mutating func setAutoencoder(_ autoencoder: Classifier?) throws {
        if let autoencoder, autoencoder.featureCount != model.featureCount || autoencoder.classCount != model.featureCount {
            throw CFXError(.shape, "autoencoder: maps \(autoencoder.featureCount) features to \(autoencoder.classCount) outputs, expected \(model.featureCount) to \(model.featureCount)")
        }
        self.autoencoder = autoencoder
    }

    /// Measures `rows` pairs: `x` and `counterfactuals` are rows × d, row-major. A counterfactual
    /// row of NaN means none was found; any other NaN or infinity is an error.
    public func evaluate(x: [Double], counterfactuals xcf: [Double], rows n: Int,
                         _ request: EvaluationRequest = EvaluationRequest()) throws -> CounterfactualMetrics {
        let d = model.featureCount, k = model.classCount
        try check(x: x, counterfactuals: xcf, rows: n, request)
        let foundRows = try rowsWithCounterfactual(xcf, rows: n)

        let session = ModelSession(model: model)
        let origProba = try session.predict(x, rows: n)
        let cfX = foundRows.flatMap { Array(xcf[$0 * d..<($0 + 1) * d]) }
        let cfProba = foundRows.isEmpty ? [] : try session.predict(cfX, rows: foundRows.count)
        var reconstructions: [Double] = []
        if let autoencoder, !foundRows.isEmpty {
            reconstructions = try ModelSession(model: autoencoder).predict(cfX, rows: foundRows.count)
        }

        var metrics = [InstanceMetrics](repeating: InstanceMetrics(), count: n)
        for r in 0..<n {
            metrics[r].origClass = argmax(Array(origProba[r * k..<(r + 1) * k]))
            if let costs = request.costs { metrics[r].cost = costs[r] }
        }
        for (f, r) in foundRows.enumerated() {
            let orig = Array(x[r * d..<(r + 1) * d])
            let cf = Array(cfX[f * d..<(f + 1) * d])
            var m = metrics[r]
            m.found = true
            let goal = request.targets.count == 1 ? request.targets[0] : request.targets[r]
            measureValidity(&m, proba: Array(cfProba[f * k..<(f + 1) * k]), goal: goal, targetProba: request.targetProba)
            measureDistances(&m, original: orig, counterfactual: cf)
            if autoencoder != nil {
                var error = 0.0
                for j in 0..<d {
                    let e = reconstructions[f * d + j] - cf[j]
                    error += e * e
                }
                m.aeError = error
            }
            if let density, let t = m.targetClass, t >= 0 { m.logDensity = try density.logDensity(cf, classIndex: t) }
            checkConstraints(&m, original: orig, counterfactual: cf)
            metrics[r] = m
        }
        if let training {
            try addNearestNeighbours(&metrics, foundRows: foundRows, counterfactuals: cfX, proba: cfProba, training: training)
        }
        return CounterfactualMetrics(instances: metrics, mad: training?.mad, summariseOver: options.summariseOver)
    }

    /// The shapes, finiteness and request that `evaluate` takes, with errors naming the field.
    private func check(x: [Double], counterfactuals xcf: [Double], rows n: Int, _ request: EvaluationRequest) throws {
        let d = model.featureCount, k = model.classCount
        try model.checkShape(count: x.count, rows: n, features: d, "x")
        try model.checkShape(count: xcf.count, rows: n, features: d, "x_cf")
        if let i = x.firstIndex(where: { !$0.isFinite }) {
            throw CFXError(.numeric, "x: row \(i / d), feature \(i % d) is \(x[i]); only finite numbers are accepted")
        }
        guard request.targets.count == 1 || request.targets.count == n else {
            throw CFXError.config("target_class", "has \(request.targets.count) classes for \(n) instances (give one, or one per instance)")
        }
        for (i, t) in request.targets.enumerated() {
            if case .index(let c) = t, !(0..<k).contains(c) {
                throw CFXError.config(request.targets.count == 1 ? "target_class" : "target_class[\(i)]", "class \(c) is outside 0..<\(k)")
            }
        }
        if let p = request.targetProba, !(0...1).contains(p) {
            throw CFXError.config("target_proba", "must be in [0, 1], got \(p)")
        }
        if let costs = request.costs, costs.count != n {
            throw CFXError(.shape, "meta: has \(costs.count) entries for \(n) instances")
        }
    }

    /// The rows of `xcf` that hold a counterfactual (not all NaN); any other non-finite value is an error.
    private func rowsWithCounterfactual(_ xcf: [Double], rows n: Int) throws -> [Int] {
        let d = model.featureCount
        var foundRows: [Int] = []
        for r in 0..<n {
            let row = xcf[r * d..<(r + 1) * d]
            if row.allSatisfy(\.isNaN) { continue }
            if let j = row.firstIndex(where: { !$0.isFinite }) {
                throw CFXError(.numeric, "x_cf: row \(r), feature \(j - r * d) is \(xcf[j]); a row is either all NaN (no counterfactual) or finite")
            }
            foundRows.append(r)
        }
        return foundRows
    }

    /// The counterfactual's class, the class it is judged against, that class's probability, and
    /// validity, from its probabilities `p` (`m.origClass` set).
    private func measureValidity(_ m: inout InstanceMetrics, proba p: [Double], goal: TargetClass, targetProba: Double?) {
        let cfClass = argmax(p)
        m.cfClass = cfClass
        let t = goal.resolve(probabilities: p, original: m.origClass)
        m.targetClass = t
        m.targetProba = t >= 0 ? p[t] : .nan
        var classOK: Bool
        switch goal {
        case .other: classOK = cfClass != m.origClass
        case .same: classOK = cfClass == m.origClass
        case .index(let c): classOK = cfClass == c
        }
        if let pStar = targetProba, !(t >= 0 && p[t] >= pStar) { classOK = false }
        m.valid = classOK
    }

    /// L1, L2, L0 and (with training data) L1-MAD of the change.
    private func measureDistances(_ m: inout InstanceMetrics, original orig: [Double], counterfactual cf: [Double]) {
        var l1 = 0.0, l2 = 0.0, l0 = 0.0, l1MAD = 0.0
        for j in 0..<model.featureCount {
            let delta = abs(cf[j] - orig[j])
            l1 += delta
            l2 += delta * delta
            if delta > options.sparsityTol { l0 += 1 }
            if let mad = training?.mad { l1MAD += delta / (mad[j] > 0 ? mad[j] : options.madZeroScale) }
        }
        m.l1 = l1
        m.l2 = l2.squareRoot()
        m.l0 = l0
        if training != nil { m.l1MAD = l1MAD }
    }

    /// Feature range, immutable, monotone and categorical checks.
    private func checkConstraints(_ m: inout InstanceMetrics, original orig: [Double], counterfactual cf: [Double]) {
        let tol = options.constraintTol
        if let lower, let upper {
            m.inRange = (0..<model.featureCount).allSatisfy { cf[$0] >= lower[$0] - tol && cf[$0] <= upper[$0] + tol }
        } else {
            m.inRange = true
        }
        m.immutableOK = options.immutable.allSatisfy { cf[$0] == orig[$0] }
        m.monotoneOK = options.monotone.allSatisfy { $0.allows(cf[$0.feature], from: orig[$0.feature]) }
        m.categoriesOK = options.categorical.allSatisfy { validCategory(cf, $0) }
    }

    /// Each counterfactual's nearest training point of its predicted class, over `options.threads` threads.
    private func addNearestNeighbours(_ metrics: inout [InstanceMetrics], foundRows: [Int], counterfactuals cfX: [Double],
                                      proba cfProba: [Double], training: TrainingReference) throws {
        let d = model.featureCount, k = model.classCount
        let nearest = try parallelMap(count: foundRows.count, threads: options.threads) { [options] f in
            let cf = Array(cfX[f * d..<(f + 1) * d])
            return nearestPoint(to: cf, among: training.rowsByClass[argmax(Array(cfProba[f * k..<(f + 1) * k]))],
                                in: training.data, norm: options.plausibilityNorm)
        }
        for (f, r) in foundRows.enumerated() {
            if let point = nearest[f] {
                metrics[r].nnIndex = point.index
                metrics[r].nnDistance = point.distance
            }
        }
    }

    /// One-hot: every column within tol of 0 or 1 and exactly one within tol of 1. Ordinal: within
    /// tol of a whole number in 0..<count.
    private func validCategory(_ x: [Double], _ group: CategoricalVariable) -> Bool {
        let tol = options.constraintTol
        if options.oneHot {
            var ones = 0
            for j in group.column..<group.column + group.categories {
                if abs(x[j] - 1) <= tol { ones += 1 } else if abs(x[j]) > tol { return false }
            }
            return ones == 1
        }
        let v = x[group.column]
        let nearest = v.rounded()
        return abs(v - nearest) <= tol && nearest >= 0 && nearest < Double(group.categories)
    }
}

/// The nearest of `candidates` (row indices of `data`) to `x`, the smallest index among ties.
func nearestPoint(to x: [Double], among candidates: [Int], in data: Dataset, norm: PlausibilityNorm) -> (index: Int, distance: Double)? {
    var best: (Int, Double)?
    let d = data.features
    data.x.withUnsafeBufferPointer { rows in
        for r in candidates {
            var total = 0.0
            let base = r * d
            switch norm {
            case .l2:
                for j in 0..<d {
                    let e = rows[base + j] - x[j]
                    total += e * e
                }
            case .l1:
                for j in 0..<d { total += abs(rows[base + j] - x[j]) }
            }
            if best == nil || total < best!.1 { best = (r, total) }  // strict: the first of equals stays
        }
    }
    guard let best else { return nil }
    return (best.0, norm == .l2 ? best.1.squareRoot() : best.1)
}
