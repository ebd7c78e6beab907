/// A method cfx offers: its name, its parameter table and defaults, and how to bind it to a
/// model. The C API registers each method with one line (`MethodEntry.all` in
/// CFXABI/Methods.swift) and only maps its explanations to JSON.
public protocol CounterfactualMethod {
    associatedtype Params
    associatedtype Explainer: BatchExplainer
    /// The name a config gives (`"method": name`).
    static var name: String { get }
    static var defaults: Params { get }
    /// One row per config key, in the order configs and explanations list them.
    static var parameters: [Parameter<Params>] { get }
    /// Roles of the auxiliary models the method accepts (e.g. "encoder").
    static var modelRoles: [String] { get }
    /// Checks `params` against `model` when an explainer is created, so that config errors
    /// surface then rather than at the first explain.
    static func check(_ params: Params, model: Classifier) throws
    /// Builds what explaining needs from `inputs` (prototypes, densities, calibration), so that
    /// explaining itself only reads; `seed` seeds every random choice, `threads` bounds a fit's threads.
    static func prepare(_ params: Params, model: Classifier, inputs: MethodInputs, seed: Int, threads: Int) throws -> Explainer
    /// The box the model's inputs should lie in (nil: none to check), for `meta.warnings`.
    static func inputRange(_ params: Params, featureCount d: Int) -> (lower: [Double], upper: [Double])?
    static func instance(of explanation: Explainer.Explanation) -> Int?
}

extension CounterfactualMethod {
    public static var modelRoles: [String] { [] }

    /// The row of the batch an explanation is of; nil: its position in the result (one per row).
    public static func instance(of explanation: Explainer.Explanation) -> Int? { nil }
}

/// Parameters with the shared constraint group.
public protocol ConstrainedParameters {
    var constraints: ConstraintOptions { get }
}

extension CounterfactualMethod where Params: ConstrainedParameters {
    /// The box an instance should lie in, `feature_range` for `d` features: an instance outside
    /// it gets a warning, since the search clips it into the range (see `outsideRangeWarning`).
    public static func inputRange(_ params: Params, featureCount d: Int) -> (lower: [Double], upper: [Double])? {
        guard let lower = try? params.constraints.featureRangeMin.resolve(d, ""),
              let upper = try? params.constraints.featureRangeMax.resolve(d, "") else { return nil }
        return (lower, upper)
    }
}

/// An explainer of batches: one explanation per row (per row and target for DeDUCE and JSMA).
public protocol BatchExplainer {
    associatedtype Explanation
    func explain(_ instances: [Double], rows: Int, threads: Int, control: RunControl) throws -> [Explanation]
}

/// What a method gets besides its config: auxiliary models by role and training data.
public struct MethodInputs {
    public var models: [String: Classifier] = [:]
    public var training: Dataset?
    /// A fitted feature density (DeDUCE), from cfx_explainer_set_density.
    public var density: FeatureDensity?

    public init() {}
}
