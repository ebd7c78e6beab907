import CFXCore
import CFXFormats

/// Options every method takes besides its own parameters.
struct RunOptions {
    /// Worker threads for a batch; 0 uses all cores.
    var nThreads = 0
    /// Seed of every random choice a method makes (Wachter makes none).
    var seed = 0

    static let fields: [ConfigField<RunOptions>] = [.integer("n_threads", \.nThreads), .integer("seed", \.seed)]

    func validate() throws {
        guard (0...4096).contains(nThreads) else { throw CFXError.config("n_threads", "must be in 0...4096 (0 = all cores), got \(nThreads)") }
        guard seed >= 0 else { throw CFXError.config("seed", "must be >= 0, got \(seed)") }
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
    /// Roles of the auxiliary models the method accepts (e.g. "encoder", "autoencoder").
    let modelRoles: [String]
    let prepare: (MethodInputs) throws -> PreparedMethod
}

/// A method ready to explain rows of instances, one JSON explanation per row, under a run
/// control (progress, cancellation).
struct PreparedMethod {
    let explain: ([Double], Int, RunControl) throws -> [JSON]
}

/// A method cfx offers through the C API: its name, its parameter fields and defaults, and how to
/// bind it to a model.
struct MethodEntry {
    let name: String
    let defaults: () -> [(String, JSON)]
    let configure: (Classifier, [(String, JSON)], RunOptions) throws -> ConfiguredMethod

    /// Keys every method accepts besides its own.
    static let commonKeys = ["method"] + RunOptions.fields.map(\.key)

    static let all: [MethodEntry] = [wachter, deduce, jsma]

    static func named(_ name: String) throws -> MethodEntry {
        guard let entry = all.first(where: { $0.name == name }) else {
            throw CFXError.config("method", "unknown method \"\(name)\"; available: \(all.map(\.name).joined(separator: ", "))")
        }
        return entry
    }

    /// Parses {"method": ..., params..., run options...} and binds it to `model`.
    static func configure(model: Classifier, config: JSON) throws -> ConfiguredMethod {
        let members = try config.members("config")
        guard let methodValue = config["method"] else { throw CFXError.config("method", "missing; e.g. {\"method\": \"wachter\"}") }
        let entry = try named(try methodValue.text("method"))
        var options = RunOptions()
        let runKeys = Set(RunOptions.fields.map(\.key))
        try RunOptions.fields.decode(members.filter { runKeys.contains($0.0) }, into: &options, context: "any method")
        try options.validate()
        let own = members.filter { $0.0 != "method" && !runKeys.contains($0.0) }
        return try entry.configure(model, own, options)
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
        .boolean("return_all", \.returnAll),
    ]

    static let wachter = MethodEntry(
        name: "wachter",
        defaults: { wachterFields.encode(WachterParams()) },
        configure: { model, members, options in
            var params = WachterParams()
            try wachterFields.decode(members, into: &params, context: "method \"wachter\"", alsoKnown: commonKeys)
            let explainer = try WachterExplainer(model: model, params: params)
            let effective = JSON.object([("method", .string("wachter"))] + wachterFields.encode(params) + RunOptions.fields.encode(options))
            // alibi's CounterFactual needs no fit; training data, if given, is ignored.
            let prepared = PreparedMethod { x, rows, control in
                try explainer.explain(x, rows: rows, threads: options.nThreads, control: control).map { wachterJSON($0, params: effective) }
            }
            return ConfiguredMethod(effectiveConfig: effective, threads: options.nThreads, modelRoles: []) { _ in prepared }
        })
}
