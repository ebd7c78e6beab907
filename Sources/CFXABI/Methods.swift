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

    /// The keys every method takes after its own, one row each.
    static let parameters: [Parameter<RunOptions>] = [
        .integer("n_threads", \.nThreads, .in(0...Limits.threads), "worker threads for a batch (0 = all cores); results do not depend on it"),
        .integer("seed", \.seed, .atLeast(0), "seed of every random choice the method makes"),
        .text("on_error", \.onError, .oneOf(["raise", "record"]),
              "`\"raise\"`: a failing row fails the call; `\"record\"`: it gets an explanation with its error and the other rows complete"),
    ]
    static let fields = parameters.map(\.field)

    var recordsErrors: Bool { onError == "record" }

    func validate() throws {
        try Self.parameters.check(self, ModelShape(features: 0, classes: 0))
    }
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

/// A method cfx offers through the C API: its name, its config fields (from the method's table)
/// and defaults, and how to bind it to a model; its explanations as JSON.
struct MethodEntry {
    let name: String
    let defaults: () -> [(String, JSON)]
    /// Each config key with its default, constraint and doc line (cfx_methods).
    let parameters: () -> [JSON]
    let configure: (Classifier, [(String, JSON)], RunOptions) throws -> ConfiguredMethod

    /// Keys every method accepts besides its own.
    static let commonKeys = ["method"] + RunOptions.fields.map(\.key)

    /// Every method, one line each: the method and how its explanations are written.
    static let all: [MethodEntry] = [
        MethodEntry(WachterMethod.self) { e, _, context in wachterJSON(e, context) },
        MethodEntry(CFProtoMethod.self, json: cfprotoJSON),
        MethodEntry(DeDUCEMethod.self) { e, explainer, context in saliencyJSON(e, context, density: explainer.density) },
        MethodEntry(JSMAMethod.self) { e, _, context in saliencyJSON(e, context, density: nil) },
        MethodEntry(ECCCoMethod.self) { e, _, context in ecccoJSON(e, context) },
        MethodEntry(FeatureTweakingMethod.self) { e, _, context in featureTweakingJSON(e, context) },
        MethodEntry(GeneticMethod.self) { e, _, context in geneticJSON(e, context) },
        MethodEntry(FOCUSMethod.self) { e, _, context in focusJSON(e, context) },
    ]

    /// `method` bound to the C API: its table gives the config fields; `json` writes one
    /// explanation, given the prepared explainer and its context (the effective config, and a
    /// warning when the instance lies outside the method's feature range).
    init<M: CounterfactualMethod>(_ method: M.Type, json: @escaping (M.Explainer.Explanation, M.Explainer, ExplanationContext) -> JSON) {
        let fields = M.parameters.map(\.field)
        name = M.name
        defaults = { fields.encode(M.defaults) }
        parameters = { MethodEntry.describe(M.parameters, defaults: M.defaults) + MethodEntry.describe(RunOptions.parameters, defaults: RunOptions()) }
        configure = { model, members, options in
            var params = M.defaults
            try fields.decode(members, into: &params, context: "method \"\(M.name)\"", alsoKnown: MethodEntry.commonKeys)
            try M.check(params, model: model)  // config errors surface at creation; fitting happens in prepare
            let effective = JSON.object([("method", .string(M.name))] + fields.encode(params) + RunOptions.fields.encode(options))
            let range = M.inputRange(params, featureCount: model.featureCount), d = model.featureCount
            return ConfiguredMethod(effectiveConfig: effective, threads: options.nThreads, modelRoles: M.modelRoles) { inputs in
                let explainer = try M.prepare(params, model: model, inputs: inputs, seed: options.seed, threads: options.nThreads)
                return PreparedMethod { x, rows, threads, control in
                    try explainer.explain(x, rows: rows, threads: threads, control: control).enumerated().map { position, e in
                        let row = M.instance(of: e) ?? position
                        let warning = range.flatMap { outsideRangeWarning(x[row * d..<(row + 1) * d], lower: $0.lower, upper: $0.upper) }
                        return json(e, explainer, ExplanationContext(method: M.name, params: effective, warnings: warning.map { [$0] } ?? []))
                    }
                }
            }
        }
    }

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

    /// Each row of `table` as JSON: key, default (as `cfx_default_config` writes it), constraint, doc.
    private static func describe<P>(_ table: [Parameter<P>], defaults: P) -> [JSON] {
        zip(table, table.map(\.field).encode(defaults)).map { row, field in
            .object([("key", .string(row.key)), ("default", field.1), ("constraint", .string(row.constraint)), ("doc", .string(row.doc))])
        }
    }

    /// Every method with its parameter table (its own keys, then those every method takes), as
    /// `cfx_methods` returns it.
    static func catalogue() -> JSON {
        .array(all.map { entry in
            .object([("name", .string(entry.name)), ("parameters", .array(entry.parameters()))])
        })
    }

    /// The full default config of a method, as `cfx_default_config` returns it.
    static func defaultConfig(_ name: String) throws -> JSON {
        let entry = try named(name)
        return .object([("method", .string(name))] + entry.defaults() + RunOptions.fields.encode(RunOptions()))
    }
}
