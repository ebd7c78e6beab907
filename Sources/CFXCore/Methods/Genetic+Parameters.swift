/// The genetic search's parameters (the search: Genetic.swift), DiCE's genetic explainer's
/// defaults (dice_ml `DiceGenetic._generate_counterfactuals`); differences in docs/methods/genetic.md.
public struct GeneticParams: ConstrainedParameters, Sendable, Equatable {
    public var targetClass = TargetClass.other
    public var proximityWeight = 0.2
    public var sparsityWeight = 0.2
    /// nil: DiCE's 10 × n_counterfactuals.
    public var populationSize: Int? = nil
    public var maxIterations = 500
    /// A generation whose best loss moved by at most this, with the n fittest valid, counts toward
    /// the stop (5 in a row, `GeneticSearch.patience`).
    public var thresh = 1e-2
    public var initialization = GeneticInitialization.kdtree
    /// Categorical variables (start column → categories), one-hot when `ohe`; the keys and errors
    /// of CFProto's (`CategoricalLayout`).
    public var catVars: [CategoricalVariable] = []
    public var ohe = false
    public var constraints = ConstraintOptions(featureRange: -1e10, 1e10)
    /// DiCE's genetic defaults: diversity_weight 5 and its post-hoc sparsity on.
    public var refinement: RefinementOptions = {
        var r = RefinementOptions()
        r.diversityWeight = 5
        r.sparsify = true
        return r
    }()

    public init() {}

    /// The population the search keeps: `population_size`, or 10 × n_counterfactuals (DiCE).
    public var population: Int { populationSize ?? 10 * refinement.nCounterfactuals }

    /// Population × (the model's features + classes) is capped: each generation is one predict of
    /// that many inputs and outputs (128 MiB of doubles).
    public static let maxPopulationValues = 1 << 24
    static let maxPopulation = 1_000_000
    static let maxGenerations = 1_000_000
}

/// Where the first generation comes from: the training rows nearest the instance that the model
/// predicts as the target (DiCE's default, "kdtree"; random samples fill up), or random samples in
/// the features' ranges.
public enum GeneticInitialization: String, Sendable, CaseIterable {
    case kdtree, random
}

public enum GeneticMethod: CounterfactualMethod {
    public static let name = "genetic"
    public static var defaults: GeneticParams { GeneticParams() }

    public static let parameters: [Parameter<GeneticParams>] = [
        .targetClass("target_class", \.targetClass, allowsSame: false,
                     "`\"other\"` (any class but the original; the loss aims at the most probable of them) or a class index"),
        .number("proximity_weight", \.proximityWeight, .atLeast(0), "weight of the MAD-weighted ℓ1 proximity term"),
        .number("sparsity_weight", \.sparsityWeight, .atLeast(0), "weight of the share of changed features"),
        Parameter("population_size", .optionalInteger(\.populationSize), constraint: "null or in 2...\(GeneticParams.maxPopulation), > n_counterfactuals",
                  "candidates per generation (null: 10 × n_counterfactuals, DiCE's)") { p, shape in
            populationProblem(p, features: shape.features, classes: shape.classes)
        },
        .integer("maxiterations", \.maxIterations, .in(1...GeneticParams.maxGenerations), "generations at most"),
        .number("thresh", \.thresh, .atLeast(0), "stop after 5 generations in a row whose best loss moved by at most this, the fittest n valid"),
        .choice("initialization", \.initialization,
                "first generation: `\"kdtree\"` (nearest training rows of the target class, then random) or `\"random\"` (samples in the ranges)"),
    ] + CategoricalLayout.rows(\.catVars, \.ohe) + ConstraintOptions.rows(\.constraints)
      + RefinementOptions.setRows(\.refinement) + [RefinementOptions.sparsifyRow(\.refinement)]

    /// What is wrong with the population's size, or nil.
    static func populationProblem(_ p: GeneticParams, features: Int, classes: Int) -> String? {
        let population = p.population
        guard (2...GeneticParams.maxPopulation).contains(population) else {
            return "must be in 2...\(GeneticParams.maxPopulation), got \(population)"
        }
        guard population > p.refinement.nCounterfactuals else {
            return "\(population) must exceed n_counterfactuals (\(p.refinement.nCounterfactuals)): the fittest n are kept, the rest are offspring"
        }
        guard let width = checkedSum(features, classes), let values = checkedProduct(population, width),
              values <= GeneticParams.maxPopulationValues else {
            return "\(population) candidates × (\(features) features + \(classes) classes) is over the limit of \(GeneticParams.maxPopulationValues) values per generation"
        }
        return nil
    }

    public static func check(_ params: GeneticParams, model: Classifier) throws {
        _ = try GeneticExplainer(model: model, params: params)
    }

    /// No warning for an instance outside feature_range: it is not clipped; only the features a
    /// counterfactual changes must lie in the range.
    public static func inputRange(_ params: GeneticParams, featureCount d: Int) -> (lower: [Double], upper: [Double])? { nil }

    /// Training rows (optional) give the MADs of the proximity term, the ranges missing from
    /// feature_range and, predicted once, the rows of the "kdtree" initialisation.
    public static func prepare(_ params: GeneticParams, model: Classifier, inputs: MethodInputs, seed: Int,
                               threads: Int) throws -> GeneticExplainer {
        try GeneticExplainer(model: model, params: params, training: inputs.training, seed: seed)
    }
}
