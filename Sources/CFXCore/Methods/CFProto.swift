import Glibc

/// Prototype-guided counterfactuals of Van Looveren and Klaise (2019), as alibi's
/// `CounterfactualProto` finds them. FISTA minimises, at the slack point y,
///
///     L(y) = c·max(0, p_o(y) − max_{i≠o} p_i(y) + κ) + ‖y − x‖₂² + γ‖AE(y) − y‖₂² + θ‖ENC(y) − proto‖₂²
///
/// (θ‖y − proto‖₂² with k-d tree prototypes), with β‖y − x‖₁ handled by shrinkage-thresholding
/// toward x. c is searched: ×10 until a first counterfactual, then bisection.
/// The parameters: CFProto+Parameters.swift.
public enum CFProtoMethod: CounterfactualMethod {
    public static let name = "cfproto"
    public static var defaults: CFProtoParams { CFProtoParams() }
    public static let modelRoles = ["encoder", "autoencoder"]

    /// Config errors surface at creation; fitting happens in `prepare`.
    public static func check(_ params: CFProtoParams, model: Classifier) throws {
        try params.validate(featureCount: model.featureCount, classCount: model.classCount)
    }

    public static func prepare(_ params: CFProtoParams, model: Classifier, inputs: MethodInputs, seed: Int, threads: Int) throws -> CFProtoExplainer {
        try CFProtoExplainer(model: model, params: params, encoder: inputs.models["encoder"], autoencoder: inputs.models["autoencoder"],
                             training: inputs.training, seed: seed)
    }
}

/// How a class prototype is found.
enum Prototypes: Sendable {
    /// No prototype term.
    case none
    /// Encodings of the training rows per class (rows × latent), and each class's mean encoding.
    case encoder(latent: Int, encodings: [[Double]], means: [[Double]?])
    /// One k-d tree per class over the training rows in the search space (nil: no rows).
    case trees([KDTree?], rows: [[Double]])
}

public struct CFProtoCandidate: Sendable {
    /// In the model's input space (valid categories).
    public let x: [Double]
    public let predictedClass: Int
    /// The model's probabilities at `x`.
    public let proba: [Double]
    /// ‖x' − x‖₂² + β‖x' − x‖₁ in the search space.
    public let distance: Double
    public let c: Double
    public let cStep: Int
    public let iteration: Int
    /// Features (a one-hot variable counts once) the sparsity pass restored (nil: no pass).
    public var restored: Int? = nil
}

public struct CFProtoExplanation: Sendable {
    public internal(set) var cf: CFProtoCandidate?
    /// ∂L/∂y of the terms differentiated in closed form (clipped), and the numerical gradient of the
    /// prediction term (black-box models), at the step that found `cf`; in the search space.
    public let gradsGraph: [Double]?
    public let gradsNum: [Double]?
    /// Trust score of `cf`: distance to the original class's prototype over that to cf's class's.
    public internal(set) var trustScore: Double?
    public let all: [[CFProtoCandidate]]
    public let origClass: Int
    public let origProba: [Double]
    public let idProto: Int?
    public internal(set) var stats: SearchStats
    public let iterations: Int
    /// With n_counterfactuals > 1: the set's valid members and det K (in the search space).
    public internal(set) var cfs: [CFProtoCandidate]? = nil
    public internal(set) var diversity: Double? = nil
    public var success: Bool { cf != nil }
}

public final class CFProtoExplainer: BatchExplainer, Sendable {
    public let model: Classifier
    public let params: CFProtoParams
    let encoder: Classifier?
    let autoencoder: Classifier?
    let categorical: CategoricalMap?
    let constraints: Constraints
    let prototypes: Prototypes
    let epsProba: [Double]
    let epsInput: [Double]
    let seed: UInt64
    /// Dimension of the search space.
    public let searchFeatures: Int
    /// FISTA's step sizes of the first iterations (a pow per step showed in small networks' profiles).
    let learningRates: [Double]
    static let tabledLearningRates = 1 << 16
    /// Feature units (training MAD, else range) in the search and the model space: the set's
    /// diversity and the sparsity order; empty when neither is asked for.
    let searchScales: [Double]
    let modelScales: [Double]
    /// The feature range the search uses (updated by the categorical fit when asked).
    public var featureRange: (lower: [Double], upper: [Double]) { (constraints.lower, constraints.upper) }
    public var categoryValues: [[Double]]? { categorical?.values }

    /// alibi's polynomial decay of the step size over one c step's iterations (power 0.5).
    static func learningRate(_ i: Int, _ params: CFProtoParams) -> Double {
        params.learningRateInit * pow(1 - Double(min(i, params.maxIterations)) / Double(params.maxIterations), 0.5)
    }

    /// Configures and fits: `training` is needed for encoder prototypes, k-d trees and categorical
    /// variables. Its labels, when given, define the classes; otherwise the model's predictions do.
    public init(model: Classifier, params: CFProtoParams, encoder: Classifier? = nil, autoencoder: Classifier? = nil,
                training: Dataset? = nil, seed: Int = 0) throws {
        let d = model.featureCount, k = model.classCount
        try model.requireExplainable()
        if !model.hasExactGradient { try requireNumericalGradient(features: d) }
        try params.validate(featureCount: d, classCount: k)
        if let encoder, encoder.featureCount != d {
            throw CFXError.config("encoder", "takes \(encoder.featureCount) features, the model \(d)")
        }
        if let autoencoder, autoencoder.featureCount != d || autoencoder.classCount != d {
            throw CFXError.config("autoencoder", "maps \(autoencoder.featureCount) features to \(autoencoder.classCount) outputs; it must map the model's \(d) features to \(d)")
        }
        if params.gamma > 0 && autoencoder == nil { throw CFXError.config("gamma", "is \(params.gamma) but no autoencoder model was set") }
        let needs = [encoder != nil ? "an encoder" : nil, params.useKdtree ? "use_kdtree" : nil,
                     params.catVars.isEmpty ? nil : "cat_vars", params.threshold > 0 ? "threshold > 0" : nil].compactMap { $0 }
        if !needs.isEmpty && training == nil {
            throw CFXError(.invalidArgument, "cfproto: \(needs.joined(separator: ", ")) needs training data: call cfx_explainer_fit (Python: .fit(X_train)) before explaining")
        }
        if params.threshold > 0 && encoder == nil && !params.useKdtree {
            throw CFXError.config("threshold", "a trust-score threshold needs prototypes: set an encoder or use_kdtree")
        }
        if let training, training.features != d {
            throw CFXError(.shape, "x: training rows have \(training.features) features, the model expects \(d)")
        }
        let layout = try CategoricalLayout(variables: params.catVars, oneHot: params.ohe, modelFeatures: d)
        var lower = try params.constraints.featureRangeMin.resolve(layout.ordinalFeatures, "feature_range[0]")
        var upper = try params.constraints.featureRangeMax.resolve(layout.ordinalFeatures, "feature_range[1]")

        // Classes of the training rows: the labels, or the model's predictions.
        var predictions: [Int] = []
        if let training {
            let proba = try ModelSession(model: model).predict(training.x, rows: training.rows)
            predictions = (0..<training.rows).map { r in argmax(Array(proba[r * k..<(r + 1) * k])) }
        }
        let classes = training?.labels ?? predictions

        // Categorical variables: category values from pairwise distances.
        var categorical: CategoricalMap?
        var searchRows: [[Double]] = []
        if let training {
            if params.catVars.isEmpty {
                searchRows = (0..<training.rows).map { Array(training.row($0)) }
            } else {
                let ordinal = try (0..<training.rows).map { try layout.ordinal(fromModel: training.row($0), "x row \($0)") }
                let map = try Self.fitCategories(layout: layout, ordinal: ordinal, predictions: predictions, classCount: k,
                                                 params: params, lower: &lower, upper: &upper, seed: UInt64(seed))
                categorical = map
                searchRows = ordinal.map { map.numeric(fromOrdinal: $0) }
            }
        }

        // Prototypes.
        var prototypes = Prototypes.none
        if let encoder, let training {
            let latent = encoder.classCount
            let encoded = try ModelSession(model: encoder).predict(training.x, rows: training.rows)
            var perClass = [[Double]](repeating: [], count: k)
            for r in 0..<training.rows { perClass[classes[r]] += encoded[r * latent..<(r + 1) * latent] }
            let means: [[Double]?] = perClass.map { rows in
                let n = rows.count / latent
                guard n > 0 else { return nil }
                return (0..<latent).map { j in (0..<n).reduce(0.0) { $0 + rows[$1 * latent + j] } / Double(n) }
            }
            prototypes = .encoder(latent: latent, encodings: perClass, means: means)
        } else if params.useKdtree {
            let dimension = layout.ordinalFeatures
            var perClass = [[Double]](repeating: [], count: k)
            for (r, row) in searchRows.enumerated() { perClass[classes[r]] += row }
            let trees = perClass.map { $0.isEmpty ? nil : KDTree(points: $0, dimension: dimension) }
            prototypes = .trees(trees, rows: perClass)
        }

        let immutable = Array(Set(params.constraints.immutable.map { layout.ordinalColumn(ofModelColumn: $0) })).sorted()
        let monotone = params.constraints.monotone.map { MonotoneFeature(feature: layout.ordinalColumn(ofModelColumn: $0.feature), direction: $0.direction) }
        self.constraints = try Constraints(lower: .each(lower), upper: .each(upper), immutable: immutable, monotone: monotone,
                                           featureCount: layout.ordinalFeatures)
        self.model = model
        self.params = params
        self.encoder = encoder
        self.autoencoder = autoencoder
        self.categorical = categorical
        self.prototypes = prototypes
        self.epsProba = try params.epsProba.resolve(k, "eps[0]")
        self.epsInput = try params.epsInput.resolve(layout.ordinalFeatures, "eps[1]")
        self.seed = UInt64(seed)
        self.searchFeatures = layout.ordinalFeatures
        self.learningRates = (0..<min(params.maxIterations, Self.tabledLearningRates)).map { Self.learningRate($0, params) }
        if params.refinement.sparsify || params.refinement.nCounterfactuals > 1 {
            let searchTraining = try searchRows.isEmpty ? nil : Dataset(x: searchRows.flatMap { $0 }, rows: searchRows.count,
                                                                        features: layout.ordinalFeatures, labels: nil, classCount: k)
            searchScales = featureScales(lower: lower, upper: upper, training: searchTraining)
            modelScales = categorical == nil ? searchScales
                : featureScales(lower: [Double](repeating: 0, count: d), upper: [Double](repeating: .infinity, count: d), training: training)
        } else {
            (searchScales, modelScales) = ([], [])
        }
    }

    /// ABDM / MVDM distances between categories, embedded on a line (alibi's fit).
    static func fitCategories(layout: CategoricalLayout, ordinal: [[Double]], predictions: [Int], classCount k: Int, params: CFProtoParams,
                              lower: inout [Double], upper: inout [Double], seed: UInt64) throws -> CategoricalMap {
        let columns = layout.ordinalFeatures, rows = ordinal.count
        let flat = ordinal.flatMap { $0 }
        let variables = zip(layout.ordinalColumns, layout.variables).map { (column: $0, categories: $1.categories) }
        let categoricalColumns = Set(layout.ordinalColumns)
        let numericColumns = (0..<columns).filter { !categoricalColumns.contains($0) }
        func abdm() -> [[Double]] {
            let (binned, bins) = discretize(flat, rows: rows, columns: columns, numericColumns: numericColumns, percentiles: params.discPerc)
            let contexts = variables.map { (column: $0.column, values: $0.categories) } + numericColumns.map { (column: $0, values: bins[$0]!) }
            return abdmDistances(binned, rows: rows, columns: columns, variables: variables, contexts: contexts)
        }
        func mvdm() -> [[Double]] {
            mvdmDistances(flat, rows: rows, columns: columns, variables: variables, classes: predictions, classCount: k)
        }
        var options = CategoricalScaling()
        options.standardize = params.standardizeCatVars
        options.smooth = params.smooth
        options.center = params.center
        switch params.dType {
        case "abdm-mvdm":
            let w = params.w ?? 0.5
            let a = try scaleCategories(abdm(), variables: variables, lower: lower, upper: upper, options: options, updateFeatureRange: false, seed: seed)
            let m = try scaleCategories(mvdm(), variables: variables, lower: lower, upper: upper, options: options, updateFeatureRange: false, seed: seed)
            var values: [[Double]] = []
            for (v, variable) in variables.enumerated() {
                var combined = zip(a.values[v], m.values[v]).map { w * $0 + (1 - w) * $1 }
                if params.center {
                    let mid = 0.5 * (combined.max()! + combined.min()!)
                    combined = combined.map { $0 - mid }
                }
                if params.updateFeatureRange {
                    lower[variable.column] = combined.min()!
                    upper[variable.column] = combined.max()!
                }
                values.append(combined)
            }
            return CategoricalMap(layout: layout, values: values)
        default:
            let distances = params.dType == "abdm" ? abdm() : mvdm()
            let scaled = try scaleCategories(distances, variables: variables, lower: lower, upper: upper, options: options,
                                             updateFeatureRange: params.updateFeatureRange, seed: seed)
            (lower, upper) = (scaled.lower, scaled.upper)
            return CategoricalMap(layout: layout, values: scaled.values)
        }
    }

    /// Explains each row of `instances` (rows × d), spread over `threads` threads (0 = all cores);
    /// `control` reports progress and can cancel (checked every `Cancellation.checkInterval` iterations).
    public func explain(_ instances: [Double], rows: Int, threads: Int, control: RunControl = RunControl()) throws -> [CFProtoExplanation] {
        try explainRows(instances, rows: rows, model: model, threads: threads, control: control) { row, cancellation in
            try self.explainOne(row, cancellation)
        }
    }

    public func explain(_ x: [Double]) throws -> CFProtoExplanation {
        try explain(x, rows: 1, threads: 1)[0]
    }

    func makeSearch(_ x: [Double]) throws -> CFProtoSearch {
        try CFProtoSearch(explainer: self, original: x)
    }

    private func explainOne(_ x: [Double], _ cancellation: Cancellation) throws -> CFProtoExplanation {
        let started = monotonicSeconds()
        var search = try makeSearch(x)
        search.cancellation = cancellation
        var explanation = try search.run()
        try search.refine(&explanation)
        explanation.stats = search.stats
        explanation.stats.seconds = monotonicSeconds() - started
        return explanation
    }
}

/// The state of one instance's search; lives on one thread.
struct CFProtoSearch {
    var cancellation = Cancellation()
    let params: CFProtoParams
    let explainer: CFProtoExplainer
    let session: ModelSession
    let encoderSession: ModelSession?
    let autoencoderSession: ModelSession?
    let constraints: Constraints
    /// The instance in the model space and in the search space.
    let originalModel: [Double]
    let original: [Double]
    let originalProba: [Double]
    let origClass: Int
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
        self.constraints = explainer.constraints
        self.originalModel = x
        if let map = explainer.categorical {
            self.original = try map.numeric(fromModel: x[...], "x")
        } else {
            self.original = x
        }
        self.originalProba = try session.predict(x)
        let origClass = argmax(originalProba)
        self.origClass = origClass
        let k = explainer.model.classCount
        self.targetClasses = explainer.params.targetClass ?? (0..<k).filter { $0 != origClass }
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
            let z = try encoderSession!.predict(originalModel)
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
            throw CFXError.config("target_class", "none of the classes \(targetClasses) has training rows to build a prototype from")
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
            guard let toCF = classPrototypes[cfClass], let toOrig = classPrototypes[origClass] else { return nil }
            return euclidean(z, toOrig) / (euclidean(z, toCF) + 1e-10)
        case .trees(let trees, _):
            let toOrig = trees[origClass]?.nearest(to: y, k: 1).first?.distance ?? .infinity
            let toCF = trees[cfClass]?.nearest(to: y, k: 1).first?.distance ?? .infinity
            return toCF.isFinite ? toOrig / (toCF + 1e-10) : 0
        }
    }

    // MARK: The loss

    /// The prediction term's hinge: p_o − max_{i≠o} p_i + κ, and the class of that max.
    func hinge(_ p: [Double]) -> (value: Double, other: Int) {
        var other = origClass == 0 ? 1 : 0
        for i in p.indices where i != origClass && p[i] > p[other] { other = i }
        return (p[origClass] - p[other] + params.kappa, other)
    }

    var usesPredictionTerm: Bool { !params.predictionTermDropped }

    /// The terms FISTA differentiates at y (β‖·‖₁ is handled by the shrinkage step). With a
    /// black-box model the prediction term is not in this loss: its gradient is numerical.
    func optimisedLoss(at y: [Double], c: Double) throws -> Double {
        let input = modelInput(y)
        var loss = squaredDistance(y, original)
        if usesPredictionTerm && !blackBox { loss += c * max(0, hinge(try session.predict(input)).value) }
        if let ae = autoencoderSession {
            loss += params.gamma * squaredDistance(reconstruction(try ae.predict(input)), y)
        }
        loss += params.theta * (try prototypeDistance(y, input))
        return loss
    }

    func reconstruction(_ output: [Double]) -> [Double] {
        explainer.categorical?.numeric(fromModelOutput: output) ?? output
    }

    func prototypeDistance(_ y: [Double], _ input: [Double]) throws -> Double {
        guard let prototype else { return 0 }
        if let encoderSession { return squaredDistance(try encoderSession.predict(input), prototype) }
        return squaredDistance(y, prototype)
    }

    /// ∂L/∂y of `optimisedLoss`, term by term.
    func optimisedLossGradient(at y: [Double], c: Double) throws -> [Double] {
        var grad = [Double](repeating: 0, count: y.count)
        var scratch = GradientScratch(d: explainer.model.featureCount, k: explainer.model.classCount)
        try optimisedLossGradient(at: y, c: c, into: &grad, scratch: &scratch)
        return grad
    }

    /// The prediction term's buffers, kept across FISTA iterations (no allocation per step).
    struct GradientScratch {
        var proba: [Double]
        var cotangent: [Double]
        var modelGradient: [Double]
        init(d: Int, k: Int) {
            proba = [Double](repeating: 0, count: k)
            cotangent = proba
            modelGradient = [Double](repeating: 0, count: d)
        }
    }

    /// `optimisedLossGradient` written into `grad` (y.count values).
    func optimisedLossGradient(at y: [Double], c: Double, into grad: inout [Double], scratch: inout GradientScratch) throws {
        let input = modelInput(y)
        let d = explainer.model.featureCount
        // ‖y − x‖²
        for j in grad.indices { grad[j] = 2 * (y[j] - original[j]) }
        // c·max(0, p_o − p_m + κ): cotangent c(e_o − e_m) where the hinge is active.
        if usesPredictionTerm && !blackBox {
            try session.predict(input, rows: 1, into: &scratch.proba)
            let (value, other) = hinge(scratch.proba)
            if value > 0 && c > 0 {
                for i in scratch.cotangent.indices { scratch.cotangent[i] = 0 }
                scratch.cotangent[origClass] = c
                scratch.cotangent[other] = -c
                try session.pullback(at: input, cotangent: scratch.cotangent, into: &scratch.modelGradient)
                if let layout = explainer.categorical?.layout {
                    add(&grad, layout.pullback(modelGradient: scratch.modelGradient))
                } else {
                    add(&grad, scratch.modelGradient)
                }
            }
        }
        // γ‖AE(y) − y‖²: 2γ(J_AEᵀ r − r), r = AE(y) − y; categorical outputs are looked up
        // (no gradient through the lookup, as in alibi).
        if let ae = autoencoderSession, params.gamma > 0 {
            let r = zip(reconstruction(try ae.predict(input)), y).map { $0 - $1 }
            var cotangent = [Double](repeating: 0, count: d)
            if let layout = explainer.categorical?.layout {
                for o in 0..<layout.ordinalFeatures where layout.variableOfOrdinal[o] < 0 { cotangent[layout.modelStart[o]] = 2 * params.gamma * r[o] }
            } else {
                cotangent = r.map { 2 * params.gamma * $0 }
            }
            var g = [Double](repeating: 0, count: d)
            try ae.pullback(at: input, cotangent: cotangent, into: &g)
            add(&grad, searchGradient(g))
            for j in grad.indices { grad[j] -= 2 * params.gamma * r[j] }
        }
        // θ‖ENC(y) − proto‖² or θ‖y − proto‖²
        if let prototype, params.theta > 0 {
            if let encoderSession {
                let z = try encoderSession.predict(input)
                let cotangent = zip(z, prototype).map { 2 * params.theta * ($0 - $1) }
                var g = [Double](repeating: 0, count: d)
                try encoderSession.pullback(at: input, cotangent: cotangent, into: &g)
                add(&grad, searchGradient(g))
            } else {
                for j in grad.indices { grad[j] += 2 * params.theta * (y[j] - prototype[j]) }
            }
        }
    }

    /// alibi's numerical gradient of the prediction term for a black-box model, averaged over the
    /// stored iterates: dL/dp by central differences on the probabilities (each class moved by
    /// eps[0], the others by −eps[0]/(k−1)), dp/dx by central differences on the input (all
    /// perturbed rows in one predict call).
    func numericalPredictionGradient(_ points: [[Double]]) throws -> [Double] {
        let k = explainer.model.classCount, f = explainer.searchFeatures, n = points.count
        let dModel = explainer.model.featureCount
        let preds = try session.predict(points.flatMap(modelInput), rows: n)
        func lossTerm(_ p: [Double]) -> Double {
            var g = 0.0  // max over (1 − Y) ⊙ p, which includes the 0 at the original class
            for i in 0..<k { g = max(g, i == origClass ? 0 : p[i]) }
            return p[origClass] - g
        }
        var active = [Bool](repeating: false, count: n)
        var dLdp = [[Double]](repeating: [Double](repeating: 0, count: k), count: n)
        for r in 0..<n {
            let p = Array(preds[r * k..<(r + 1) * k])
            active[r] = lossTerm(p) > -params.kappa
            for j in 0..<k {
                var plus = p, minus = p
                for i in 0..<k {
                    let step = i == j ? explainer.epsProba[i] : -explainer.epsProba[i] / Double(k - 1)
                    plus[i] += step
                    minus[i] -= step
                }
                dLdp[r][j] = (lossTerm(plus) - lossTerm(minus)) / (2 * explainer.epsProba[j])
            }
        }
        var grad = [Double](repeating: 0, count: f)
        guard active.contains(true) else { return grad }
        var perturbed = [Double](repeating: 0, count: 2 * n * f * dModel)
        for r in 0..<n {
            for j in 0..<f {
                var plus = points[r], minus = points[r]
                plus[j] += explainer.epsInput[j]
                minus[j] -= explainer.epsInput[j]
                let row = r * f + j
                perturbed.replaceSubrange(row * dModel..<(row + 1) * dModel, with: modelInput(plus))
                perturbed.replaceSubrange((n * f + row) * dModel..<(n * f + row + 1) * dModel, with: modelInput(minus))
            }
        }
        let perturbedProba = try session.predict(perturbed, rows: 2 * n * f)
        for r in 0..<n where active[r] {
            for j in 0..<f {
                let row = r * f + j
                var total = 0.0
                for p in 0..<k {
                    total += dLdp[r][p] * (perturbedProba[row * k + p] - perturbedProba[(n * f + row) * k + p]) / (2 * explainer.epsInput[j])
                }
                grad[j] += total / Double(n)
            }
        }
        return grad
    }

    /// out[j] = f(a[j], b[j]) over unchecked buffers (the step's vectors: no bounds checks per value).
    @inline(__always)
    static func combine(_ out: inout [Double], _ a: [Double], _ b: [Double], _ f: (Double, Double) -> Double) {
        precondition(a.count == out.count && b.count == out.count)
        out.withUnsafeMutableBufferPointer { out in
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    for j in 0..<out.count { out[j] = f(a[j], b[j]) }
                }
            }
        }
    }

    func clipped(_ g: [Double]) -> [Double] { g.map { min(max($0, params.clipMin), params.clipMax) } }

    func clip(_ g: inout [Double]) {
        for j in g.indices { g[j] = min(max(g[j], params.clipMin), params.clipMax) }
    }

    /// ‖x' − x‖₂² + β‖x' − x‖₁ in the search space: what a candidate must improve on.
    func elasticNet(_ y: [Double]) -> Double {
        // Four partial sums of each norm: one chain of additions was this step's longest wait.
        precondition(y.count == original.count)
        var l1 = SIMD4<Double>(), l2 = SIMD4<Double>()
        let n = y.count, whole = n / 4 * 4
        y.withUnsafeBufferPointer { y in
            original.withUnsafeBufferPointer { original in
                for j in stride(from: 0, to: whole, by: 4) {
                    let d = SIMD4(y[j], y[j + 1], y[j + 2], y[j + 3]) - SIMD4(original[j], original[j + 1], original[j + 2], original[j + 3])
                    l1 += d.replacing(with: -d, where: d .< 0)
                    l2 += d * d
                }
                for j in whole..<n {
                    let d = y[j] - original[j]
                    l1[0] += abs(d)
                    l2[0] += d * d
                }
            }
        }
        return ((l2[0] + l2[1]) + (l2[2] + l2[3])) + params.beta * ((l1[0] + l1[1]) + (l1[2] + l1[3]))
    }

    // MARK: The search

    /// FISTA's proximal step for β‖· − x‖₁ inside the feature range.
    func shrink(_ z: [Double]) -> [Double] {
        var out = z
        shrink(&out)
        return out
    }

    /// `shrink` in place.
    func shrink(_ z: inout [Double]) {
        let beta = params.beta
        // Both moves are computed and one selected: the branches were mispredicted half the time.
        precondition(z.count == original.count && z.count == constraints.lower.count && z.count == constraints.upper.count)
        z.withUnsafeMutableBufferPointer { z in
            original.withUnsafeBufferPointer { original in
                constraints.lower.withUnsafeBufferPointer { lower in
                    constraints.upper.withUnsafeBufferPointer { upper in
                        for j in 0..<z.count {
                            let diff = z[j] - original[j]
                            let down = min(z[j] - beta, upper[j]), up = max(z[j] + beta, lower[j])
                            z[j] = diff > beta ? down : diff < -beta ? up : original[j]
                        }
                    }
                }
            }
        }
        for j in constraints.immutable { z[j] = original[j] }
        constraints.applyDirections(to: &z, original: original)
    }

    /// Whether a point's prediction makes it a counterfactual: another class after κ is added to
    /// the original class's probability, and one of the target classes.
    func isCounterfactual(_ p: [Double]) -> Bool {
        var shiftedBest = 0  // argmax of p with κ added to the original class, without a copy
        func shifted(_ i: Int) -> Double { i == origClass ? p[i] + params.kappa : p[i] }
        for i in p.indices where shifted(i) > shifted(shiftedBest) { shiftedBest = i }
        return shiftedBest != origClass && targetClasses.contains(argmax(p))
    }

    mutating func run() throws -> CFProtoExplanation {
        var lowerC = 0.0, upperC = 1e10, c = params.cInit
        var best: CFProtoCandidate?
        var bestGrads: ([Double], [Double])?
        var all: [[CFProtoCandidate]] = []
        var iterations = 0
        let f = explainer.searchFeatures
        let numericalGradients = blackBox && usesPredictionTerm
        // Buffers of the FISTA step, reused by every iteration.
        let zeros = [Double](repeating: 0, count: f)
        var gradsGraph = zeros, grad = zeros, next = zeros
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
                clip(&gradsGraph)
                Self.combine(&grad, gradsGraph, gradsNumY, +)
                constraints.mask(&grad)
                let learningRate = i < explainer.learningRates.count ? explainer.learningRates[i] : CFProtoExplainer.learningRate(i, params)
                Self.combine(&next, y, grad) { y, g in y - learningRate * g }
                shrink(&next)
                let momentum = Double(i + 1) / Double(i + 4)
                Self.combine(&y, next, x) { next, x in next + momentum * (next - x) }
                constraints.apply(to: &y, original: original)
                swap(&x, &next)  // x = next; next's old values are overwritten by the next step
                iterations += 1

                // Only an iterate closer than the best so far can be kept: the model sees no other.
                let distance = elasticNet(x)
                guard distance < stepBest || distance < (best?.distance ?? .infinity) else { continue }
                let input = modelInput(x)
                try session.predict(input, rows: 1, into: &proba)
                guard isCounterfactual(proba) else { continue }
                let cfClass = argmax(proba)
                if params.threshold > 0 {
                    let snapped = explainer.categorical.map { $0.numeric(fromOrdinal: $0.ordinal(fromNumeric: x)) } ?? x
                    guard let score = try trustScore(searchPoint: snapped, modelPoint: input, cfClass: cfClass), score > params.threshold else { continue }
                }
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
            // c: refine a found counterfactual with a smaller c, otherwise weigh the prediction more.
            if foundThisStep {
                upperC = min(upperC, c)
                if upperC < 1e9 { c = (lowerC + upperC) / 2 }
            } else {
                lowerC = max(lowerC, c)
                c = upperC < 1e9 ? (lowerC + upperC) / 2 : c * 10
            }
        }
        var score: Double?
        if let best {
            let searchPoint = try explainer.categorical?.numeric(fromModel: best.x[...], "cf") ?? best.x
            score = try trustScore(searchPoint: searchPoint, modelPoint: best.x, cfClass: best.predictedClass)
        }
        return CFProtoExplanation(cf: best, gradsGraph: bestGrads?.0, gradsNum: bestGrads?.1, trustScore: score, all: all,
                                  origClass: origClass, origProba: originalProba, idProto: idProto, stats: stats, iterations: iterations)
    }

    var stats: SearchStats {
        SearchStats(predictCalls: session.predictCalls, predictedRows: session.predictedRows,
                    gradientEvaluations: session.gradientEvaluations)
    }
}

func squaredDistance(_ a: [Double], _ b: [Double]) -> Double {
    var total = 0.0
    for j in a.indices { let d = a[j] - b[j]; total += d * d }
    return total
}

func euclidean(_ a: [Double], _ b: [Double]) -> Double { squaredDistance(a, b).squareRoot() }

func add(_ a: inout [Double], _ b: [Double]) {
    for j in a.indices { a[j] += b[j] }
}
