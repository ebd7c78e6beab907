import CFXCore
import CFXFormats

/// Options every method takes besides its own parameters.
struct RunOptions {
    /// Worker threads for a batch; 0 uses all cores.
    var nThreads = 0
    /// Seed of every random choice a method makes (Wachter: only the start of a diverse set).
    var seed = 0
    /// "raise": a failing row fails the whole call; "record": it gets an explanation with
    /// "success": false and its "error", and the other rows complete (see cfx_explain).
    var onError = "raise"

    static let fields: [ConfigField<RunOptions>] = [.integer("n_threads", \.nThreads), .integer("seed", \.seed),
                                                    .text("on_error", \.onError)]

    var recordsErrors: Bool { onError == "record" }

    func validate() throws {
        try requireThreadCount(nThreads)
        guard seed >= 0 else { throw CFXError.config("seed", "must be >= 0, got \(seed)") }
        guard ["raise", "record"].contains(onError) else { throw CFXError.config("on_error", "must be \"raise\" or \"record\", got \"\(onError)\"") }
    }
}

/// What a method gets besides its config: auxiliary models by role and training data.
struct MethodInputs {
    var models: [String: Classifier] = [:]
    var training: Dataset?
    /// A fitted feature density (DeDUCE), from cfx_explainer_set_density.
    var density: FeatureDensity?
}

/// A configured method. `prepare` builds what explaining needs from the inputs (prototypes,
/// densities), so that explaining itself only reads.
struct ConfiguredMethod {
    let effectiveConfig: JSON
    let threads: Int
    var recordsErrors = false
    /// Roles of the auxiliary models the method accepts (e.g. "encoder", "autoencoder").
    let modelRoles: [String]
    let prepare: (MethodInputs) throws -> PreparedMethod
}

/// A method ready to explain rows of instances (values, rows, threads) under a run control
/// (progress, cancellation): one JSON explanation per row (per row and target for DeDUCE/JSMA).
struct PreparedMethod {
    let explain: ([Double], Int, Int, RunControl) throws -> [JSON]
}

/// A method cfx offers through the C API: its name, its parameter fields and defaults, and how to
/// bind it to a model.
struct MethodEntry {
    let name: String
    let defaults: () -> [(String, JSON)]
    let configure: (Classifier, [(String, JSON)], RunOptions) throws -> ConfiguredMethod

    /// Keys every method accepts besides its own.
    static let commonKeys = ["method"] + RunOptions.fields.map(\.key)

    static let all: [MethodEntry] = [wachter, cfproto, deduce, jsma, eccco]

    static func named(_ name: String) throws -> MethodEntry {
        guard let entry = all.first(where: { $0.name == name }) else {
            throw CFXError.config("method", "unknown method \"\(name)\"; available: \(all.map(\.name).joined(separator: ", "))")
        }
        return entry
    }

    /// Parses {"method": ..., params..., run options...} and binds it to `model`.
    static func configure(model: Classifier, config: JSON) throws -> ConfiguredMethod {
        try model.requireExplainable()
        let members = try config.members("config")
        guard let methodValue = config["method"] else { throw CFXError.config("method", "missing; e.g. {\"method\": \"wachter\"}") }
        let entry = try named(try methodValue.text("method"))
        var options = RunOptions()
        let runKeys = Set(RunOptions.fields.map(\.key))
        try RunOptions.fields.decode(members.filter { runKeys.contains($0.0) }, into: &options, context: "any method")
        try options.validate()
        let own = members.filter { $0.0 != "method" && !runKeys.contains($0.0) }
        var method = try entry.configure(model, own, options)
        method.recordsErrors = options.recordsErrors
        return method
    }

    /// The full default config of a method, as `cfx_default_config` returns it.
    static func defaultConfig(_ name: String) throws -> JSON {
        let entry = try named(name)
        return .object([("method", .string(name))] + entry.defaults() + RunOptions.fields.encode(RunOptions()))
    }
}

extension MethodEntry {
    static let wachterFields: [ConfigField<WachterParams>] = [
        .number("target_proba", \.targetProba),
        .number("tol", \.tol),
        .targetClass("target_class", \.targetClass),
        .integer("max_iter", \.maxIter),
        .integer("early_stop", \.earlyStop),
        .number("lam_init", \.lamInit),
        .integer("max_lam_steps", \.maxLamSteps),
        .number("learning_rate_init", \.learningRateInit),
        .boolean("decay", \.decay),
        .range("feature_range", \.featureRangeMin, \.featureRangeMax),
        .perFeature("eps", \.eps),
        .text("init", \.initialisation),
        .text("distance_fn", \.distanceFunction),
        .indices("immutable", \.immutable),
        .monotone("monotone", \.monotone),
        .boolean("return_all", \.returnAll),
        .choice("all_candidates", \.allCandidates),
        .integer("n_counterfactuals", \.nCounterfactuals),
        .number("diversity_weight", \.diversityWeight),
        .boolean("sparsify", \.sparsify),
        .integer("sparsify_repair_steps", \.sparsifyRepairSteps),
    ]

    static let wachter = MethodEntry(
        name: "wachter",
        defaults: { wachterFields.encode(WachterParams()) },
        configure: { model, members, options in
            var params = WachterParams()
            try wachterFields.decode(members, into: &params, context: "method \"wachter\"", alsoKnown: commonKeys)
            _ = try WachterExplainer(model: model, params: params)  // config errors surface at creation
            let effective = JSON.object([("method", .string("wachter"))] + wachterFields.encode(params) + RunOptions.fields.encode(options))
            // alibi's CounterFactual needs no fit; training data, if given, only sets the feature
            // scales (MAD) of the sparsity order and the set's diversity.
            return ConfiguredMethod(effectiveConfig: effective, threads: options.nThreads, modelRoles: []) { inputs in
                let explainer = try WachterExplainer(model: model, params: params, training: inputs.training, seed: options.seed)
                return PreparedMethod { x, rows, threads, control in
                    try explainer.explain(x, rows: rows, threads: threads, control: control).map { wachterJSON($0, params: effective) }
                }
            }
        })
}

extension MethodEntry {
    /// alibi's CounterfactualProto arguments: constructor, then fit(), then explain(), then cfx's own.
    static let cfprotoFields: [ConfigField<CFProtoParams>] = [
        .number("kappa", \.kappa),
        .number("beta", \.beta),
        .range("feature_range", \.featureRangeMin, \.featureRangeMax),
        .number("gamma", \.gamma),
        .number("theta", \.theta),
        .categoricalVariables("cat_vars", \.catVars),
        .boolean("ohe", \.ohe),
        .boolean("use_kdtree", \.useKdtree),
        .number("learning_rate_init", \.learningRateInit),
        .integer("max_iterations", \.maxIterations),
        .number("c_init", \.cInit),
        .integer("c_steps", \.cSteps),
        .range("eps", \.epsProba, \.epsInput),
        .pair("clip", \.clipMin, \.clipMax),
        .integer("update_num_grad", \.updateNumGrad),
        .text("d_type", \.dType),
        .optionalNumber("w", \.w),
        .numbers("disc_perc", \.discPerc),
        .boolean("standardize_cat_vars", \.standardizeCatVars),
        .number("smooth", \.smooth),
        .boolean("center", \.center),
        .boolean("update_feature_range", \.updateFeatureRange),
        .optionalIndices("target_class", \.targetClass),
        .optionalInteger("k", \.k),
        .text("k_type", \.kType),
        .number("threshold", \.threshold),
        .indices("immutable", \.immutable),
        .monotone("monotone", \.monotone),
        .boolean("return_all", \.returnAll),
        .integer("n_counterfactuals", \.nCounterfactuals),
        .number("diversity_weight", \.diversityWeight),
        .boolean("sparsify", \.sparsify),
        .integer("sparsify_repair_steps", \.sparsifyRepairSteps),
    ]

    static let cfproto = MethodEntry(
        name: "cfproto",
        defaults: { cfprotoFields.encode(CFProtoParams()) },
        configure: { model, members, options in
            var params = CFProtoParams()
            try cfprotoFields.decode(members, into: &params, context: "method \"cfproto\"", alsoKnown: commonKeys)
            // Config errors surface at creation; fitting happens in prepare.
            try params.validate(featureCount: model.featureCount, classCount: model.classCount)
            let effective = JSON.object([("method", .string("cfproto"))] + cfprotoFields.encode(params) + RunOptions.fields.encode(options))
            return ConfiguredMethod(effectiveConfig: effective, threads: options.nThreads, modelRoles: ["encoder", "autoencoder"]) { inputs in
                let explainer = try CFProtoExplainer(model: model, params: params, encoder: inputs.models["encoder"],
                                                     autoencoder: inputs.models["autoencoder"], training: inputs.training, seed: options.seed)
                return PreparedMethod { x, rows, threads, control in
                    try explainer.explain(x, rows: rows, threads: threads, control: control)
                        .map { cfprotoJSON($0, explainer: explainer, params: effective) }
                }
            }
        })
}
