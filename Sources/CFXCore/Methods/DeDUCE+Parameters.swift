/// DeDUCE's parameters (JSMA uses the subset it needs; the loop: DeDUCE.swift). Defaults are the
/// reference code's.
public struct DeDUCEParams: ConstrainedParameters, Sendable, Equatable {
    public var targetClass = TargetClasses.all
    /// γ: stop when the target probability reaches it.
    public var targetConfidence = 0.5
    /// δ: the change of one feature per move.
    public var step = 0.2
    public var maxIter = 700
    public var maxChanges = 5
    public var momentum = 0.6
    public var featuresPerStep = 1
    /// "normalised" (equation (5), with μ) or "weighted" (equation (4), with λ).
    public var loss = "normalised"
    public var mu = 1.0
    public var lambda = 1.0
    public var constraints = ConstraintOptions(featureRange: 0, 1)
    /// The network output the density lives on.
    public var featureOutput = "features"
    /// Record the target probability, log density and changed features of every iteration.
    public var trace = false
    /// The sparsity pass (Sparsify.swift) on each counterfactual; no sets.
    public var refinement = RefinementOptions()

    public init() {}

    static let maxSteps = 10_000_000

    /// JSMA's parameters: no momentum, no density, no change limit.
    public static var jsmaDefaults: DeDUCEParams {
        var p = DeDUCEParams()
        p.momentum = 0
        return p
    }

    public var rule: SaliencyRule {
        let gradient: SaliencyGradient = loss == "weighted" ? .weighted(lambda: lambda) : .normalised(mu: mu, densityWeight: 1)
        return SaliencyRule(gradient: gradient, masking: .maxChanges(maxChanges), momentum: momentum)
    }
}

/// JSMA as the DeDUCE paper runs it, on any model with gradients; a fit is accepted and ignored.
public enum JSMAMethod: CounterfactualMethod {
    public static func instance(of explanation: SaliencyExplanation) -> Int? { explanation.instance }

    public static let name = "jsma"
    public static var defaults: DeDUCEParams { DeDUCEParams.jsmaDefaults }

    public static let parameters: [Parameter<DeDUCEParams>] = [
        Parameter("target_class", .targetClasses(\.targetClass), constraint: "classes, each once",
                  "a class index, a list, or `\"all\"` (every class but the prediction)") { p, shape in
            switch p.targetClass {
            case .index(let c): return (0..<shape.classes).contains(c) ? nil : "class \(c) is outside 0..<\(shape.classes)"
            case .list(let cs):
                guard !cs.isEmpty else { return "the list of classes is empty" }
                if let c = cs.first(where: { !(0..<shape.classes).contains($0) }) { return "class \(c) is outside 0..<\(shape.classes)" }
                return Set(cs).count == cs.count ? nil : "lists a class twice: \(cs)"
            case .all: return nil
            }
        },
        .number("target_confidence", \.targetConfidence, .above(0, upTo: 1), "stop when the target probability reaches it"),
        .number("step", \.step, .above(0), "change of a feature per move (inputs in [0, 1])"),
        .integer("max_iter", \.maxIter, .in(1...DeDUCEParams.maxSteps), "moves before giving up"),
        .integer("features_per_step", \.featuresPerStep, .upToFeatures, "features moved per iteration"),
        ConstraintOptions.featureRangeRow(\.constraints),
        ConstraintOptions.immutableRow(\.constraints, doc: "features (pixels) that never change: never chosen"),
        ConstraintOptions.monotoneRow(\.constraints,
                                      doc: "`{\"feature index\": \"increase\" | \"decrease\"}`: features (pixels) that may only brighten or only darken"),
        .boolean("trace", \.trace, "per point evaluated: target probability, log density (DeDUCE) and changed features"),
    ] + RefinementOptions.sparsityRows(\.refinement)

    public static func check(_ params: DeDUCEParams, model: Classifier) throws {
        _ = try SaliencyExplainer.jsma(model: model, params: params)
    }

    public static func prepare(_ params: DeDUCEParams, model: Classifier, inputs: MethodInputs, seed: Int, threads: Int) throws -> SaliencyExplainer {
        try SaliencyExplainer.jsma(model: model, params: params)
    }
}

/// DeDUCE: the saliency loop with a feature density fitted on a native network's feature output.
public enum DeDUCEMethod: CounterfactualMethod {
    public static func instance(of explanation: SaliencyExplanation) -> Int? { explanation.instance }

    public static let name = "deduce"
    public static var defaults: DeDUCEParams { DeDUCEParams() }

    public static let parameters: [Parameter<DeDUCEParams>] = JSMAMethod.parameters + [
        .integer("max_changes", \.maxChanges, .atLeast(1), "changes per feature"),
        .number("momentum", \.momentum, .atLeast(0), "m"),
        .text("loss", \.loss, .oneOf(["normalised", "weighted"]), "equation (5) with `mu`, or equation (4) with `lambda`"),
        .number("mu", \.mu, .atLeast(0), "μ of equation (5)"),
        .number("lambda", \.lambda, .atLeast(0), "λ of equation (4)"),
        .text("feature_output", \.featureOutput, .any, "the network output the density lives on"),
    ]

    public static func check(_ params: DeDUCEParams, model: Classifier) throws {
        try parameters.check(params, ModelShape(model))
        _ = try network(model, params)
    }

    /// The model as a native network with the params' feature output.
    static func network(_ model: Classifier, _ params: DeDUCEParams) throws -> Network {
        guard let network = model as? Network else {
            throw CFXError.config("model", "deduce needs a native network with a \"\(params.featureOutput)\" output; a callback model has none")
        }
        do { _ = try network.outputBuffer(params.featureOutput) } catch let error as CFXError {
            throw CFXError.config(parameters.key(\.featureOutput), error.message)
        }
        return network
    }

    /// The density: the one given (cfx_explainer_set_density), else one fitted on the training data.
    public static func prepare(_ params: DeDUCEParams, model: Classifier, inputs: MethodInputs, seed: Int, threads: Int) throws -> SaliencyExplainer {
        let network = try network(model, params)
        let density: FeatureDensity
        if let given = inputs.density {
            guard given.featureOutput == params.featureOutput else {
                throw CFXError.config(parameters.key(\.featureOutput),
                                      "the density was fitted on \"\(given.featureOutput)\", the config asks for \"\(params.featureOutput)\"")
            }
            density = given
        } else if let training = inputs.training {
            density = try FeatureDensity.fit(network: network, featureOutput: params.featureOutput, data: training, threads: threads)
        } else {
            throw CFXError(.invalidArgument, "deduce: not fitted; call cfx_explainer_fit with training data (or cfx_explainer_set_density) before explaining")
        }
        return try SaliencyExplainer.deduce(network: network, params: params, density: density)
    }
}
