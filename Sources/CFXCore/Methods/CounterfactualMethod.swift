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
}

extension CounterfactualMethod {
    public static var modelRoles: [String] { [] }
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
