import Glibc

// CFProto's search for one instance: its state, the prototype it is guided by, and FISTA
// (the loss and its gradients: CFProto+Loss.swift).

/// The state of one instance's search; lives on one thread.
struct CFProtoSearch {
    var cancellation = Cancellation()
    let params: CFProtoParams
    let explainer: CFProtoExplainer
    let session: ModelSession
    let encoderSession: ModelSession?
    let autoencoderSession: ModelSession?
    /// The instance in the model space, with the model's prediction there.
    let factual: Factual
    /// The instance in the search space.
    let original: [Double]
    let targetClasses: [Int]
    /// Per class, the prototype for this instance (latent space with an encoder, search space with
    /// trees), and the distance that ranks it.
    var classPrototypes: [[Double]?] = []
    var idProto: Int?
    var prototype: [Double]?
    let blackBox: Bool

    init(explainer: CFProtoExplainer, original x: [Double]) throws {
        self.params = explainer.params
        self.explainer = explainer
        self.session = ModelSession(model: explainer.model)
        self.encoderSession = explainer.encoder.map { ModelSession(model: $0) }
        self.autoencoderSession = explainer.autoencoder.map { ModelSession(model: $0) }
        if let map = explainer.categorical {
            self.original = try map.numeric(fromModel: x[...], "x")
        } else {
            self.original = x
        }
        let factual = Factual(x: x, proba: try session.predict(x))
        self.factual = factual
        let k = explainer.model.classCount
        self.targetClasses = explainer.params.targetClass ?? (0..<k).filter { $0 != factual.predicted }
        self.blackBox = !explainer.model.hasExactGradient
        try findPrototypes()
    }

    // MARK: Spaces

    /// The model's input for a point of the search space (categories snapped to the nearest value).
    func modelInput(_ y: [Double]) -> [Double] {
        explainer.categorical?.model(fromNumeric: y) ?? y
    }

    /// A model-space gradient carried to the search space (straight through the categories).
    func searchGradient(_ g: [Double]) -> [Double] {
        explainer.categorical?.layout.pullback(modelGradient: g) ?? g
    }

    // MARK: Prototypes

    mutating func findPrototypes() throws {
        let k = explainer.model.classCount
        classPrototypes = [[Double]?](repeating: nil, count: k)
        var ranking = [Double?](repeating: nil, count: k)
        switch explainer.prototypes {
        case .none:
            return
        case .encoder(let latent, let encodings, let means):
            let z = try encoderSession!.predict(factual.x)
            for c in 0..<k {
                let rows = encodings[c].count / latent
                guard rows > 0 else { continue }
                guard let kNearest = params.k else {
                    classPrototypes[c] = means[c]
                    ranking[c] = euclidean(z, means[c]!)
                    continue
                }
                let distances = (0..<rows).map { r in
                    KDTree.Neighbour(index: r, distance: euclidean(z, Array(encodings[c][r * latent..<(r + 1) * latent])))
                }.sorted { ($0.distance, $0.index) < ($1.distance, $1.index) }
                let nearest = Array(distances.prefix(kNearest))
                if params.kType == "mean" {
                    classPrototypes[c] = (0..<latent).map { j in nearest.reduce(0.0) { $0 + encodings[c][$1.index * latent + j] } / Double(nearest.count) }
                    ranking[c] = nearest.reduce(0.0) { $0 + $1.distance } / Double(nearest.count)
                } else {
                    let last = nearest[nearest.count - 1]
                    classPrototypes[c] = Array(encodings[c][last.index * latent..<(last.index + 1) * latent])
                    ranking[c] = last.distance
                }
            }
        case .trees(let trees, let rows):
            let dimension = explainer.searchFeatures
            for c in 0..<k {
                guard let tree = trees[c] else { continue }
                let nearest = tree.nearest(to: original, k: params.k ?? 1)
                let last = nearest[nearest.count - 1]
                classPrototypes[c] = Array(rows[c][last.index * dimension..<(last.index + 1) * dimension])
                ranking[c] = last.distance
            }
        }
        var best: Int?
        for c in targetClasses {
            guard let r = ranking[c] else { continue }
            if best == nil || r < ranking[best!]! { best = c }
        }
        guard let best else {
            throw CFXError.config(CFProtoParams.key(\.targetClass), "none of the classes \(targetClasses) has training rows to build a prototype from")
        }
        idProto = best
        prototype = classPrototypes[best]
    }

    /// alibi's score: the distance to the original class over that to the counterfactual's class
    /// (encoder: to their prototypes in the latent space; trees: to their nearest training point).
    func trustScore(searchPoint y: [Double], modelPoint: [Double], cfClass: Int) throws -> Double? {
        switch explainer.prototypes {
        case .none:
            return nil
        case .encoder:
            let z = try encoderSession!.predict(modelPoint)
            guard let toCF = classPrototypes[cfClass], let toOrig = classPrototypes[factual.predicted] else { return nil }
            return euclidean(z, toOrig) / (euclidean(z, toCF) + 1e-10)
        case .trees(let trees, _):
            let toOrig = trees[factual.predicted]?.nearest(to: y, k: 1).first?.distance ?? .infinity
            let toCF = trees[cfClass]?.nearest(to: y, k: 1).first?.distance ?? .infinity
            return toCF.isFinite ? toOrig / (toCF + 1e-10) : 0
        }
    }
}

extension CFProtoSearch {
    // MARK: The search

    /// FISTA's proximal step for β‖· − x‖₁ inside the feature range.
    func shrink(_ z: [Double]) -> [Double] {
        var out = z
        shrink(&out)
        return out
    }

    /// `shrink` in place.
    func shrink(_ z: inout [Double]) {
        let (beta, constraints, rules) = (params.beta, explainer.constraints, explainer.featureRules)
        precondition(z.count == original.count && z.count == constraints.lower.count && z.count == constraints.upper.count
                     && z.count == rules.count)
        for j in z.indices {
            z[j] = Self.shrunk(z[j], original: original[j], lower: constraints.lower[j], upper: constraints.upper[j], beta: beta, rule: rules[j])
        }
    }

    /// One feature's proximal step: within β of the original value back to it, otherwise moved β
    /// toward it inside the range; then the feature's rule. Both moves are computed and one
    /// selected: the branches were mispredicted half the time.
    @inline(__always)
    static func shrunk(_ z: Double, original o: Double, lower: Double, upper: Double, beta: Double, rule: FeatureRule) -> Double {
        let diff = z - o
        let down = min(z - beta, upper), up = max(z + beta, lower)
        return rule.hold(diff > beta ? down : diff < -beta ? up : o, o)
    }

    /// Whether a point's prediction makes it a counterfactual: another class after κ is added to
    /// the original class's probability, and one of the target classes.
    func isCounterfactual(_ p: [Double]) -> Bool {
        var shiftedBest = 0  // argmax of p with κ added to the original class, without a copy
        func shifted(_ i: Int) -> Double { i == factual.predicted ? p[i] + params.kappa : p[i] }
        for i in p.indices where shifted(i) > shifted(shiftedBest) { shiftedBest = i }
        return shiftedBest != factual.predicted && targetClasses.contains(argmax(p))
    }

    mutating func run() throws -> CFProtoExplanation {
        var cSearch = CSearch(), c = params.cInit
        var best: CFProtoCandidate?
        var bestGrads: ([Double], [Double])?
        var all: [[CFProtoCandidate]] = []
        var iterations = 0
        let f = explainer.searchFeatures
        let numericalGradients = blackBox && usesPredictionTerm
        // Buffers of the FISTA step, reused by every iteration.
        let zeros = [Double](repeating: 0, count: f)
        var gradsGraph = zeros
        var proba = [Double](repeating: 0, count: explainer.model.classCount)
        var scratch = GradientScratch(d: explainer.model.featureCount, k: explainer.model.classCount)
        for step in 0..<params.cSteps {
            try cancellation.check()
            var x = original, y = original
            var storedX: [[Double]] = [], storedY: [[Double]] = []
            var stepBest = Double.infinity
            var foundThisStep = false
            var met: [CFProtoCandidate] = []
            for i in 0..<params.maxIterations {
                try cancellation.step(i)
                var gradsNum = zeros, gradsNumY = zeros
                if numericalGradients {
                    storedX.append(x)
                    storedY.append(y)
                    if i % params.updateNumGrad == 0 && i > 0 {
                        gradsNum = clipped(try numericalPredictionGradient(storedX).map { $0 * c })
                        gradsNumY = clipped(try numericalPredictionGradient(storedY).map { $0 * c })
                        storedX.removeAll()
                        storedY.removeAll()
                    }
                }
                try optimisedLossGradient(at: y, c: c, into: &gradsGraph, scratch: &scratch)
                let learningRate = i < explainer.learningRates.count ? explainer.learningRates[i] : CFProtoExplainer.learningRate(i, params)
                update(x: &x, y: &y, gradsGraph: &gradsGraph, gradsNumY: gradsNumY, learningRate: learningRate,
                       momentum: Double(i + 1) / Double(i + 4))
                iterations += 1

                // Only an iterate closer than the best so far can be kept: the model sees no other.
                let distance = elasticNet(x)
                guard distance < stepBest || distance < (best?.distance ?? .infinity) else { continue }
                let input = modelInput(x)
                // The next iteration predicts at y: computed in the same pass as x (the same values).
                let next = i + 1 < params.maxIterations && usesPredictionTerm && !blackBox ? modelInput(y) : nil
                guard let cfClass = try counterfactualClass(x, input: input, proba: &proba, prefetching: next) else { continue }
                if distance < stepBest {
                    stepBest = distance
                    foundThisStep = true
                }
                if distance < (best?.distance ?? .infinity) {
                    let candidate = CFProtoCandidate(x: input, predictedClass: cfClass, proba: proba, distance: distance, c: c, cStep: step, iteration: i)
                    best = candidate
                    bestGrads = (gradsGraph, gradsNum)
                    if params.returnAll { met.append(candidate) }
                }
            }
            all.append(met)
            c = cSearch.next(after: c, found: foundThisStep)
        }
        let score = try best.map { best in
            try trustScore(searchPoint: try explainer.categorical?.numeric(fromModel: best.x[...], "cf") ?? best.x,
                           modelPoint: best.x, cfClass: best.predictedClass)
        } ?? nil
        return CFProtoExplanation(cf: best, gradsGraph: bestGrads?.0, gradsNum: bestGrads?.1, trustScore: score, all: all,
                                  origClass: factual.predicted, origProba: factual.proba, idProto: idProto, stats: stats, iterations: iterations)
    }

    /// The predicted class at search point `x` (model input `input`, probabilities written to
    /// `proba`) when it is a counterfactual that passes the trust-score threshold, else nil.
    /// `next`: the model input the search predicts next, which the model may compute in the same pass.
    func counterfactualClass(_ x: [Double], input: [Double], proba: inout [Double], prefetching next: [Double]? = nil) throws -> Int? {
        if let next {
            try session.predict(input, into: &proba, prefetching: next)
        } else {
            try session.predict(input, rows: 1, into: &proba)
        }
        guard isCounterfactual(proba) else { return nil }
        let cfClass = argmax(proba)
        if params.threshold > 0 {
            let snapped = explainer.categorical.map { $0.numeric(fromOrdinal: $0.ordinal(fromNumeric: x)) } ?? x
            guard let score = try trustScore(searchPoint: snapped, modelPoint: input, cfClass: cfClass), score > params.threshold else { return nil }
        }
        return cfClass
    }

    var stats: SearchStats {
        SearchStats(predictCalls: session.predictCalls, predictedRows: session.predictedRows,
                    gradientEvaluations: session.gradientEvaluations)
    }
}

/// The search for c: a found counterfactual is refined with a smaller c (bisection), otherwise
/// the prediction weighs more (×10 until a first counterfactual, then bisection).
struct CSearch {
    var lower = 0.0, upper = 1e10

    mutating func next(after c: Double, found: Bool) -> Double {
        if found {
            upper = min(upper, c)
            return upper < 1e9 ? (lower + upper) / 2 : c
        }
        lower = max(lower, c)
        return upper < 1e9 ? (lower + upper) / 2 : c * 10
    }
}
