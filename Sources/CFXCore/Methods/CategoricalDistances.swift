import Glibc

// Categorical variables for prototype-guided counterfactuals, as alibi's CounterfactualProto
// handles them: three representations of an instance and the maps between them, and the numerical
// value of each category, fitted from pairwise distances between categories (ABDM, MVDM).
//
//   model space    what the model reads: ordinal codes, or one-hot groups (`ohe`)
//   ordinal space  one column per variable holding the category code 0..<n
//   numeric space  one column per variable holding the category's fitted value; the search runs here

/// One categorical variable: where it starts in the model's input and how many categories it has.
public struct CategoricalVariable: Sendable, Equatable {
    public let column: Int
    public let categories: Int

    public init(column: Int, categories: Int) {
        self.column = column
        self.categories = categories
    }
}

/// The layout of the categorical variables in the model space and the ordinal space.
public struct CategoricalLayout: Sendable {
    /// Sorted by column (in the model space).
    public let variables: [CategoricalVariable]
    public let oneHot: Bool
    public let modelFeatures: Int
    public let ordinalFeatures: Int
    /// The ordinal column of each variable.
    public let ordinalColumns: [Int]
    /// For each ordinal column, the model column it starts at and its width there (1 or n).
    let modelStart: [Int]
    let modelWidth: [Int]
    /// For each ordinal column, the variable it holds, or -1 for a numerical feature.
    let variableOfOrdinal: [Int]

    /// Errors name `cat_vars` (`CFProtoParams.catVarsKey`).
    public init(variables unsorted: [CategoricalVariable], oneHot: Bool, modelFeatures d: Int) throws {
        let variables = unsorted.sorted { $0.column < $1.column }
        var previousEnd = 0
        for v in variables {
            guard (0..<d).contains(v.column) else {
                throw CFXError.config(CFProtoParams.catVarsKey, "column \(v.column) is outside the model's \(d) features")
            }
            guard (2...Limits.categories).contains(v.categories) else {
                throw CFXError.config(CFProtoParams.catVarsKey, "column \(v.column) has \(v.categories) categories; a variable needs 2...\(Limits.categories)")
            }
            guard v.column >= previousEnd else {
                throw CFXError.config(CFProtoParams.catVarsKey, "column \(v.column) lies inside the one-hot group of the previous variable")
            }
            let width = oneHot ? v.categories : 1
            guard width <= d - v.column else {
                throw CFXError.config(CFProtoParams.catVarsKey, "the one-hot group at column \(v.column) (\(v.categories) columns) runs past the model's \(d) features")
            }
            previousEnd = v.column + width
        }
        var modelStart: [Int] = [], modelWidth: [Int] = [], variableOf: [Int] = [], ordinalColumns: [Int] = []
        var c = 0, next = 0
        while c < d {
            if next < variables.count, variables[next].column == c {
                let width = oneHot ? variables[next].categories : 1
                ordinalColumns.append(modelStart.count)
                modelStart.append(c); modelWidth.append(width); variableOf.append(next)
                c += width
                next += 1
            } else {
                modelStart.append(c); modelWidth.append(1); variableOf.append(-1)
                c += 1
            }
        }
        self.variables = variables
        self.oneHot = oneHot
        self.modelFeatures = d
        self.ordinalFeatures = modelStart.count
        self.ordinalColumns = ordinalColumns
        self.modelStart = modelStart
        self.modelWidth = modelWidth
        self.variableOfOrdinal = variableOf
    }

    /// The ordinal column that holds model column `j` (a column inside a one-hot group maps to its
    /// variable's column).
    public func ordinalColumn(ofModelColumn j: Int) -> Int {
        var o = 0
        while o + 1 < ordinalFeatures, modelStart[o + 1] <= j { o += 1 }
        return o
    }

    /// Model space → ordinal space; checks that every category is valid (a whole number in range, or
    /// a one-hot group with a single 1). `what` names the row in errors.
    public func ordinal(fromModel x: ArraySlice<Double>, _ what: String) throws -> [Double] {
        let base = x.startIndex
        var out = [Double](repeating: 0, count: ordinalFeatures)
        for o in 0..<ordinalFeatures {
            let start = base + modelStart[o]
            let v = variableOfOrdinal[o]
            if v < 0 { out[o] = x[start]; continue }
            let n = variables[v].categories
            if oneHot {
                var ones = 0, hot = 0
                for c in 0..<n {
                    let value = x[start + c]
                    if value == 1 { ones += 1; hot = c } else if value != 0 {
                        throw CFXError(.invalidArgument, "\(what): one-hot column \(modelStart[o] + c) holds \(value), not 0 or 1")
                    }
                }
                guard ones == 1 else {
                    throw CFXError(.invalidArgument, "\(what): the one-hot group at column \(modelStart[o]) has \(ones) ones, expected exactly 1")
                }
                out[o] = Double(hot)
            } else {
                let value = x[start]
                guard value == value.rounded(), value >= 0, value < Double(n) else {
                    throw CFXError(.invalidArgument, "\(what): column \(modelStart[o]) holds \(value), not a category 0..<\(n)")
                }
                out[o] = value
            }
        }
        return out
    }

    /// Ordinal space (valid codes) → model space.
    public func model(fromOrdinal x: [Double]) -> [Double] {
        var out = [Double](repeating: 0, count: modelFeatures)
        for o in 0..<ordinalFeatures {
            if oneHot && variableOfOrdinal[o] >= 0 {
                out[modelStart[o] + Int(x[o])] = 1
            } else {
                out[modelStart[o]] = x[o]
            }
        }
        return out
    }

    /// A gradient in the model space carried to the ordinal/numeric space as alibi's custom
    /// gradients do: straight through the category lookup, summed over a one-hot group.
    public func pullback(modelGradient g: [Double]) -> [Double] {
        var out = [Double](repeating: 0, count: ordinalFeatures)
        for o in 0..<ordinalFeatures {
            var total = 0.0
            for c in 0..<modelWidth[o] { total += g[modelStart[o] + c] }
            out[o] = total
        }
        return out
    }
}

/// The fitted numerical value of every category, and the maps through it.
public struct CategoricalMap: Sendable {
    public let layout: CategoricalLayout
    /// values[v][c]: the numerical value of category c of variable v.
    public let values: [[Double]]

    public init(layout: CategoricalLayout, values: [[Double]]) {
        self.layout = layout
        self.values = values
    }

    /// Ordinal codes → numerical values.
    public func numeric(fromOrdinal x: [Double]) -> [Double] {
        var out = x
        for (v, o) in layout.ordinalColumns.enumerated() { out[o] = values[v][Int(x[o])] }
        return out
    }

    /// Numerical values → the nearest category of each variable (the first on ties, as argmin).
    public func ordinal(fromNumeric x: [Double]) -> [Double] {
        var out = x
        for (v, o) in layout.ordinalColumns.enumerated() {
            var best = 0
            for c in values[v].indices where abs(x[o] - values[v][c]) < abs(x[o] - values[v][best]) { best = c }
            out[o] = Double(best)
        }
        return out
    }

    public func model(fromNumeric x: [Double]) -> [Double] { layout.model(fromOrdinal: ordinal(fromNumeric: x)) }

    public func numeric(fromModel x: ArraySlice<Double>, _ what: String) throws -> [Double] {
        numeric(fromOrdinal: try layout.ordinal(fromModel: x, what))
    }

    /// A model-space output that may hold any numbers (an autoencoder's reconstruction) → numeric
    /// space: a one-hot group by its largest entry, an ordinal code rounded into range.
    public func numeric(fromModelOutput y: [Double]) -> [Double] {
        var ordinal = [Double](repeating: 0, count: layout.ordinalFeatures)
        for o in 0..<layout.ordinalFeatures {
            let start = layout.modelStart[o]
            let v = layout.variableOfOrdinal[o]
            if v < 0 { ordinal[o] = y[start]; continue }
            let n = layout.variables[v].categories
            if layout.oneHot {
                var best = 0
                for c in 1..<n where y[start + c] > y[start + best] { best = c }
                ordinal[o] = Double(best)
            } else {
                ordinal[o] = min(max(y[start].rounded(), 0), Double(n - 1))
            }
        }
        return numeric(fromOrdinal: ordinal)
    }
}

// MARK: Pairwise distances between categories

/// np.percentile's default (linear interpolation between the closest ranks) of sorted values.
public func percentile(sorted values: [Double], _ p: Double) -> Double {
    let rank = p / 100 * Double(values.count - 1)
    let lo = Int(rank.rounded(.down)), hi = min(lo + 1, values.count - 1)
    return values[lo] + (rank - Double(lo)) * (values[hi] - values[lo])
}

/// Bins the numerical columns of ordinal data (rows × columns) at the given percentiles, as alibi's
/// Discretizer: the distinct percentile values are the borders and a value's bin is the number of
/// borders below it. Returns the binned data and the number of bins of each binned column.
public func discretize(_ data: [Double], rows: Int, columns: Int, numericColumns: [Int], percentiles: [Double]) -> (data: [Double], bins: [Int: Int]) {
    var out = data
    var bins: [Int: Int] = [:]
    for j in numericColumns {
        let sorted = (0..<rows).map { data[$0 * columns + j] }.sorted()
        var borders: [Double] = []
        for p in percentiles.map({ percentile(sorted: sorted, $0) }).sorted() where borders.last != p { borders.append(p) }
        for r in 0..<rows {
            let value = data[r * columns + j]
            out[r * columns + j] = Double(borders.prefix { $0 < value }.count)
        }
        bins[j] = borders.count + 1
    }
    return (out, bins)
}

/// ABDM (Le and Ho, 2005), as alibi computes it: for each categorical variable, the distance between
/// two of its categories is the sum, over every other variable (categorical or binned numerical) and
/// each of its values t, of the symmetric Kullback-Leibler term between P(t | category i) and
/// P(t | category j). `data` is ordinal and binned (rows × columns); `contexts` lists the other
/// variables as (column, number of values). Returns one n × n matrix (row-major) per variable.
public func abdmDistances(_ data: [Double], rows: Int, columns: Int, variables: [(column: Int, categories: Int)],
                          contexts: [(column: Int, values: Int)]) -> [[Double]] {
    let tiny = 1e-12
    return variables.map { variable in
        let n = variable.categories
        var rowsOfCategory = [Int](repeating: 0, count: n)
        for r in 0..<rows { rowsOfCategory[Int(data[r * columns + variable.column])] += 1 }
        // P(context value t | category j) for every other variable.
        let conditionals: [[[Double]]] = contexts.filter { $0.column != variable.column }.map { context in
            var counts = [[Double]](repeating: [Double](repeating: 0, count: n), count: context.values)
            for r in 0..<rows {
                let t = Int(data[r * columns + context.column]), j = Int(data[r * columns + variable.column])
                if t >= 0 && t < context.values { counts[t][j] += 1 }
            }
            return counts.map { row in (0..<n).map { row[$0] / (Double(rowsOfCategory[$0]) + tiny) } }
        }
        var distances = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<i {
                var total = 0.0
                for p in conditionals {
                    for t in p.indices {
                        let a = p[t][i], b = p[t][j]
                        total += a * log((a + tiny) / (b + tiny)) + b * log((b + tiny) / (a + tiny))
                    }
                }
                distances[i * n + j] = total
                distances[j * n + i] = total
            }
        }
        return distances
    }
}

/// MVDM (Cost and Salzberg, 1993) with exponent 1: the distance between two categories is the L1
/// difference of the model's class distributions P(class | category). Returns one n × n matrix per
/// variable.
public func mvdmDistances(_ data: [Double], rows: Int, columns: Int, variables: [(column: Int, categories: Int)],
                          classes: [Int], classCount k: Int) -> [[Double]] {
    variables.map { variable in
        let n = variable.categories
        var counts = [[Double]](repeating: [Double](repeating: 0, count: k), count: n)
        var totals = [Double](repeating: 0, count: n)
        for r in 0..<rows {
            let c = Int(data[r * columns + variable.column])
            counts[c][classes[r]] += 1
            totals[c] += 1
        }
        let conditional = (0..<n).map { c in counts[c].map { $0 / (totals[c] + 1e-12) } }
        var distances = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0..<i {
                var total = 0.0
                for y in 0..<k { total += abs(conditional[i][y] - conditional[j][y]) }
                distances[i * n + j] = total
                distances[j * n + i] = total
            }
        }
        return distances
    }
}

// MARK: Multidimensional scaling

/// Metric multidimensional scaling by SMACOF (stress majorisation): `components` coordinates for each
/// of the n items whose distances approximate `dissimilarities` (n × n). Runs from `starts` random
/// starting points (uniform in [0, 1), seeded) and keeps the lowest stress, as scikit-learn's MDS
/// with n_init = 4, max_iter = 5000, eps = 1e-9.
public func metricMDS(_ dissimilarities: [Double], count n: Int, components: Int = 2, starts: Int = 4,
                      maxIterations: Int = 5000, tolerance: Double = 1e-9, seed: UInt64 = 0) -> [Double] {
    guard n > 1 else { return [Double](repeating: 0, count: n * components) }
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    func uniform() -> Double {  // SplitMix64
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
    }
    func distance(_ x: [Double], _ i: Int, _ j: Int) -> Double {
        var total = 0.0
        for c in 0..<components { let d = x[i * components + c] - x[j * components + c]; total += d * d }
        return total.squareRoot()
    }
    var best: [Double] = [], bestStress = Double.infinity
    for _ in 0..<max(1, starts) {
        var x = (0..<n * components).map { _ in uniform() }
        var previous = Double.infinity
        for _ in 0..<maxIterations {
            var stress = 0.0, norm = 0.0
            var b = [Double](repeating: 0, count: n * n)
            for i in 0..<n {
                for j in 0..<n where j != i {
                    var d = distance(x, i, j)
                    if i < j { stress += (d - dissimilarities[i * n + j]) * (d - dissimilarities[i * n + j]); norm += d * d }
                    if d == 0 { d = 1e-5 }
                    b[i * n + j] = -dissimilarities[i * n + j] / d
                }
            }
            for i in 0..<n {
                var total = 0.0
                for j in 0..<n where j != i { total -= b[i * n + j] }
                b[i * n + i] = total
            }
            // Guttman transform: x ← B(x) x / n.
            var next = [Double](repeating: 0, count: n * components)
            for i in 0..<n {
                for j in 0..<n {
                    for c in 0..<components { next[i * components + c] += b[i * n + j] * x[j * components + c] / Double(n) }
                }
            }
            x = next
            let converged = previous.isFinite && (previous - stress) / max(norm.squareRoot(), 1e-300) < tolerance
            previous = stress
            if converged { break }
        }
        var stress = 0.0
        for i in 0..<n { for j in 0..<i { let r = distance(x, i, j) - dissimilarities[i * n + j]; stress += r * r } }
        if stress < bestStress { bestStress = stress; best = x }
    }
    return best
}

/// Options of the categorical fit (alibi's `fit` arguments).
public struct CategoricalScaling: Sendable {
    public var standardize = false
    public var smooth = 1.0
    public var center = true
    public var updateFeatureRange = true
    public init() {}
}

/// alibi's multidim_scaling: each variable's distance matrix, raised to `smooth`, is embedded in 2-D
/// by metric MDS; the category farthest from the embedding's centre is the origin and each
/// category's value is its embedded distance to it. Values are then standardised, or scaled from
/// [min, max] over all variables to the variable's feature range (and centred in it). Returns the
/// values and the feature range updated to each variable's [min, max] when asked.
public func scaleCategories(_ distances: [[Double]], variables: [(column: Int, categories: Int)], lower: [Double], upper: [Double],
                            options: CategoricalScaling, updateFeatureRange: Bool, seed: UInt64) throws
    -> (values: [[Double]], lower: [Double], upper: [Double]) {
    var raw: [[Double]] = []
    var low = Double.infinity, high = -Double.infinity
    for (matrix, variable) in zip(distances, variables) {
        let n = variable.categories
        let smoothed = matrix.map { pow($0, options.smooth) }
        let embedding = metricMDS(smoothed, count: n, seed: seed)
        func norm(_ i: Int) -> Double { (embedding[2 * i] * embedding[2 * i] + embedding[2 * i + 1] * embedding[2 * i + 1]).squareRoot() }
        var origin = 0
        for i in 1..<n where norm(i) >= norm(origin) { origin = i }  // argsort's last: the largest, later on ties
        let fromOrigin = (0..<n).map { i -> Double in
            let dx = embedding[2 * i] - embedding[2 * origin], dy = embedding[2 * i + 1] - embedding[2 * origin + 1]
            return (dx * dx + dy * dy).squareRoot()
        }
        low = min(low, fromOrigin.min()!)
        high = max(high, fromOrigin.max()!)
        raw.append(fromOrigin)
    }
    var lower = lower, upper = upper
    var values: [[Double]] = []
    for (v, variable) in variables.enumerated() {
        var scaled: [Double]
        if options.standardize {
            let mean = raw[v].reduce(0, +) / Double(raw[v].count)
            let std = (raw[v].map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(raw[v].count)).squareRoot()
            scaled = raw[v].map { ($0 - mean) / (std + 1e-12) }
        } else {
            let (lo, hi) = (lower[variable.column], upper[variable.column])
            guard abs(lo) < 1e9, abs(hi) < 1e9 else {
                throw CFXError.config("feature_range", "categorical column \(variable.column) needs a finite per-feature range (|bound| < 1e9) to scale its category values into, got [\(lo), \(hi)]; or set standardize_cat_vars")
            }
            let span = high - low
            scaled = raw[v].map { span > 0 ? ($0 - low) / span * (hi - lo) + lo : lo }
            if options.center {
                let mid = 0.5 * (scaled.max()! + scaled.min()!)
                scaled = scaled.map { $0 - mid }
            }
        }
        if updateFeatureRange {
            lower[variable.column] = scaled.min()!
            upper[variable.column] = scaled.max()!
        }
        values.append(scaled)
    }
    return (values, lower, upper)
}
