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

    /// With categorical variables, feature_range applies to the search space, not to the instance.
    public static func inputRange(_ params: CFProtoParams, featureCount d: Int) -> (lower: [Double], upper: [Double])? {
        guard params.catVars.isEmpty, let lower = try? params.constraints.featureRangeMin.resolve(d, ""),
              let upper = try? params.constraints.featureRangeMax.resolve(d, "") else { return nil }
        return (lower, upper)
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
    /// With n_counterfactuals > 1: the set's valid members (none when the search found no
    /// counterfactual to start from) and det K (in the search space; nil then).
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
    /// Each search feature's rule under `constraints`, for FISTA's update (CFProto+Step.swift).
    let featureRules: [FeatureRule]
    /// The search features whose rule is not `.free`.
    let constrainedFeatures: [Int]
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
        try Self.checkInputs(model: model, params: params, encoder: encoder, autoencoder: autoencoder, training: training)
        let layout = try CategoricalLayout(variables: params.catVars, oneHot: params.ohe, modelFeatures: d)
        var lower = try params.constraints.featureRangeMin.resolve(layout.ordinalFeatures, "\(ConstraintOptions.featureRangeKey)[0]")
        var upper = try params.constraints.featureRangeMax.resolve(layout.ordinalFeatures, "\(ConstraintOptions.featureRangeKey)[1]")
        let space = try training.map {
            try Self.fitSearchSpace(model: model, params: params, layout: layout, training: $0, lower: &lower, upper: &upper, seed: UInt64(seed))
        } ?? SearchSpace(classes: [], categorical: nil, rows: [])
        self.prototypes = try Self.fitPrototypes(encoder: encoder, training: training, space: space, params: params, layout: layout, classCount: k)
        let immutable = Array(Set(params.constraints.immutable.map { layout.ordinalColumn(ofModelColumn: $0) })).sorted()
        let monotone = params.constraints.monotone.map { MonotoneFeature(feature: layout.ordinalColumn(ofModelColumn: $0.feature), direction: $0.direction) }
        self.constraints = try Constraints(lower: .each(lower), upper: .each(upper), immutable: immutable, monotone: monotone,
                                           featureCount: layout.ordinalFeatures)
        let rules = FeatureRule.of(constraints)
        self.featureRules = rules
        self.constrainedFeatures = rules.indices.filter { rules[$0] != .free }
        self.model = model
        self.params = params
        self.encoder = encoder
        self.autoencoder = autoencoder
        self.categorical = space.categorical
        self.epsProba = try params.epsProba.resolve(k, "\(CFProtoParams.key(\.epsProba))[0]")
        self.epsInput = try params.epsInput.resolve(layout.ordinalFeatures, "\(CFProtoParams.key(\.epsInput))[1]")
        self.seed = UInt64(seed)
        self.searchFeatures = layout.ordinalFeatures
        self.learningRates = (0..<min(params.maxIterations, Self.tabledLearningRates)).map { Self.learningRate($0, params) }
        (searchScales, modelScales) = params.refinement.needsScales
            ? try Self.featureUnits(space: space, training: training, lower: lower, upper: upper, modelFeatures: d, classCount: k) : ([], [])
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
