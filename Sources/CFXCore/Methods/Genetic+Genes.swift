/// What each gene of a counterfactual of one instance may hold, and how genes are drawn and mated.
/// A gene is a numerical feature or a categorical variable (its category code, the ordinal space of
/// `CategoricalLayout`). Every value a gene can take keeps the constraints: a fixed gene (immutable
/// feature, or a variable with an immutable column) holds the instance's value; a numerical gene is
/// drawn from its box, cut at the instance's value on the side a monotone feature may not go.
struct GeneSpace {
    enum Gene: Equatable {
        case fixed
        case interval(Double, Double)
        case categories(Int)
    }

    let genes: [Gene]
    /// The instance, ordinal.
    let instance: [Double]

    /// DiCE's mating: a gene comes from the first parent below 0.4, from the second below 0.8; a
    /// mutation above: back to the instance's value below 0.9 (not DiCE's: the sparsity term can then
    /// act during the search), drawn anew above.
    static let fromFirst = 0.4, fromSecond = 0.8, restore = 0.9

    init(explainer e: GeneticExplainer, instance x: [Double]) {
        let layout = e.layout
        let immutable = Set(e.constraints.immutable)
        let monotone = Dictionary(e.constraints.monotone.map { ($0.feature, $0.direction) }, uniquingKeysWith: { a, _ in a })
        instance = x
        genes = (0..<layout.ordinalFeatures).map { o in
            let start = layout.modelStart[o], v = layout.variableOfOrdinal[o]
            if (start..<start + layout.modelWidth[o]).contains(where: immutable.contains) { return .fixed }
            if v >= 0 { return .categories(layout.variables[v].categories) }
            var (low, high) = (e.box.lower[start], e.box.upper[start])
            switch monotone[start] {
            case .increase?: low = max(low, x[o])
            case .decrease?: high = min(high, x[o])
            case nil: break
            }
            return low <= high ? .interval(low, high) : .fixed
        }
    }

    /// A new value of gene `j`.
    func draw(_ j: Int, _ random: inout SeededRandom) -> Double {
        switch genes[j] {
        case .fixed: return instance[j]
        case .interval(let low, let high): return low == high ? low : random.uniform(low, high)
        case .categories(let n): return Double(random.index(below: n))
        }
    }

    /// A candidate with every gene drawn anew (DiCE's random initialisation).
    func sample(_ random: inout SeededRandom) -> [Double] {
        genes.indices.map { draw($0, &random) }
    }

    /// Whether `value` is one gene `j` may hold: the instance's own, or one inside its range.
    func admits(_ value: Double, _ j: Int) -> Bool {
        if value == instance[j] { return true }
        switch genes[j] {
        case .fixed: return false
        case .interval(let low, let high): return low <= value && value <= high
        case .categories(let n): return value >= 0 && value < Double(n) && value == value.rounded()
        }
    }

    /// A child of two parents, gene by gene.
    func mate(_ a: [Double], _ b: [Double], _ random: inout SeededRandom) -> [Double] {
        genes.indices.map { j in
            let u = random.unit()
            return u < Self.fromFirst ? a[j] : u < Self.fromSecond ? b[j] : u < Self.restore ? instance[j] : draw(j, &random)
        }
    }
}
