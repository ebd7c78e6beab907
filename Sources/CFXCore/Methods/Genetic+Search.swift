/// One instance's genetic search: the generations (Genetic.swift has the loss and the outline).
struct GeneticSearch {
    let explainer: GeneticExplainer
    let factual: Factual
    /// The instance, ordinal.
    let x: [Double]
    let space: GeneSpace
    let session: ModelSession
    let cancellation: Cancellation
    var random: SeededRandom
    var generations = 0

    /// DiCE's stop: this many generations in a row with a stable best loss and valid fittest members.
    static let patience = 5

    /// A scored candidate: genes (ordinal), point (model space), probabilities, loss, validity.
    struct Member {
        let genes: [Double]
        let point: [Double]
        let proba: [Double]
        let loss: Double
        let valid: Bool
    }

    init(explainer: GeneticExplainer, instance: [Double], cancellation: Cancellation) throws {
        self.explainer = explainer
        self.cancellation = cancellation
        session = ModelSession(model: explainer.model)
        factual = Factual(x: instance, proba: try session.predict(instance))
        x = try explainer.layout.ordinal(fromModel: instance[...], "x")
        space = GeneSpace(explainer: explainer, instance: x)
        random = SeededRandom(seed: explainer.seed)
    }

    var n: Int { explainer.params.refinement.nCounterfactuals }
    var populationSize: Int { explainer.params.population }

    /// Whether class `c` is a target: the class asked for, or, for "other", any but the original.
    func isTarget(_ c: Int) -> Bool {
        switch explainer.params.targetClass {
        case .index(let t): return c == t
        case .other, .same: return c != factual.predicted
        }
    }

    /// Whether probabilities `p` give a target class (their argmax, the first of equal ones).
    func isValid(_ p: ArraySlice<Double>) -> Bool { isTarget(argmax(Array(p))) }

    /// The loss of genes `y` with probabilities `p`, toward the target resolved at `p`.
    func loss(_ y: [Double], _ p: ArraySlice<Double>) -> Double {
        explainer.loss(y, x, proba: p, target: explainer.params.targetClass.resolve(probabilities: Array(p), original: factual.predicted))
    }

    /// Scores `population` (ordinal genes) in one predict call.
    mutating func evaluate(_ population: [[Double]]) throws -> [Member] {
        guard !population.isEmpty else { return [] }
        let k = explainer.model.classCount
        let points = population.map { explainer.layout.model(fromOrdinal: $0) }
        let proba = try session.predict(points.flatMap { $0 }, rows: population.count)
        return population.indices.map { i in
            let p = proba[i * k..<(i + 1) * k]
            return Member(genes: population[i], point: points[i], proba: Array(p), loss: loss(population[i], p), valid: isValid(p))
        }
    }

    /// The generations, from the initial population until the stop; returns the fittest valid
    /// candidates met in any generation (at most a population's worth, fittest first).
    mutating func run() throws -> [Member] {
        var population = try initialPopulation()
        var archive = Archive(capacity: populationSize)
        var (previousBest, currentBest) = (-Double.infinity, Double.infinity)
        var fittestValid = false, stable = 0
        for generation in 0..<explainer.params.maxIterations {
            try cancellation.step(generation)
            stable = abs(previousBest - currentBest) <= explainer.params.thresh && fittestValid ? stable + 1 : 0
            if stable >= Self.patience { break }
            previousBest = currentBest
            let scored = try evaluate(unique(population)).enumerated().sorted { ($0.element.loss, $0.offset) < ($1.element.loss, $1.offset) }.map(\.element)
            generations += 1
            archive.add(scored.filter(\.valid))
            currentBest = scored[0].loss
            fittestValid = scored.prefix(n).allSatisfy(\.valid)
            population = scored.prefix(n).map(\.genes) + offspring(of: scored, count: populationSize - n)
        }
        return archive.members
    }

    /// `count` children of parents drawn from the fitter half of `sorted` (fittest first).
    mutating func offspring(of sorted: [Member], count: Int) -> [[Double]] {
        let half = max(1, sorted.count / 2)
        return (0..<count).map { _ in
            let a = sorted[random.index(below: half)].genes, b = sorted[random.index(below: half)].genes
            return space.mate(a, b, &random)
        }
    }
}

/// Each distinct candidate once, in first-seen order (DiCE's np.unique per generation).
func unique(_ population: [[Double]]) -> [[Double]] {
    var seen = Set<[Double]>()
    return population.filter { seen.insert($0).inserted }
}

/// The fittest distinct valid candidates seen so far, fittest first.
struct Archive {
    let capacity: Int
    private(set) var members: [GeneticSearch.Member] = []
    private var seen = Set<[Double]>()

    init(capacity: Int) { self.capacity = capacity }

    mutating func add(_ candidates: [GeneticSearch.Member]) {
        let fresh = candidates.filter { !seen.contains($0.genes) }
        guard !fresh.isEmpty else { return }
        members = (members + fresh).sorted { $0.loss < $1.loss }
        if members.count > capacity { members.removeLast(members.count - capacity) }
        seen = Set(members.map(\.genes))
    }
}
