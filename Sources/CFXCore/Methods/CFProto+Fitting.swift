/// CFProto's fit (alibi's fit()): the classes of the training rows, the categorical variables'
/// values and the search space's rows, the prototypes (class encodings or k-d trees), and the
/// feature units of sets and the sparsity pass.
extension CFProtoExplainer {
    /// The training rows in the search space: their classes (the labels, or the model's
    /// predictions), the categorical map (nil without categorical variables) and the rows.
    struct SearchSpace {
        let classes: [Int]
        let categorical: CategoricalMap?
        let rows: [[Double]]
    }

    /// Checks the auxiliary models and the training data against the model and the params.
    static func checkInputs(model: Classifier, params: CFProtoParams, encoder: Classifier?, autoencoder: Classifier?,
                            training: Dataset?) throws {
        let d = model.featureCount
        try model.requireExplainable()
        if !model.hasExactGradient { try requireNumericalGradient(features: d) }
        try params.validate(featureCount: d, classCount: model.classCount)
        if let encoder, encoder.featureCount != d {
            throw CFXError.config("encoder", "takes \(encoder.featureCount) features, the model \(d)")
        }
        if let autoencoder, autoencoder.featureCount != d || autoencoder.classCount != d {
            throw CFXError.config("autoencoder", "maps \(autoencoder.featureCount) features to \(autoencoder.classCount) outputs; it must map the model's \(d) features to \(d)")
        }
        func key<V>(_ path: WritableKeyPath<CFProtoParams, V>) -> String { CFProtoParams.key(path) }
        if params.gamma > 0 && autoencoder == nil { throw CFXError.config(key(\.gamma), "is \(params.gamma) but no autoencoder model was set") }
        let needs = [encoder != nil ? "an encoder" : nil, params.useKdtree ? key(\.useKdtree) : nil,
                     params.catVars.isEmpty ? nil : key(\.catVars), params.threshold > 0 ? "\(key(\.threshold)) > 0" : nil].compactMap { $0 }
        if !needs.isEmpty && training == nil {
            throw CFXError(.invalidArgument, "cfproto: \(needs.joined(separator: ", ")) needs training data: call cfx_explainer_fit (Python: .fit(X_train)) before explaining")
        }
        if params.threshold > 0 && encoder == nil && !params.useKdtree {
            throw CFXError.config(key(\.threshold), "a trust-score threshold needs prototypes: set an encoder or \(key(\.useKdtree))")
        }
        if let training, training.features != d {
            throw CFXError(.shape, "x: training rows have \(training.features) features, the model expects \(d)")
        }
    }

    /// The training rows' classes, and with categorical variables the category values from
    /// pairwise distances (which may update the feature range), then the rows in the search space.
    static func fitSearchSpace(model: Classifier, params: CFProtoParams, layout: CategoricalLayout, training: Dataset,
                               lower: inout [Double], upper: inout [Double], seed: UInt64) throws -> SearchSpace {
        let k = model.classCount
        let proba = try ModelSession(model: model).predict(training.x, rows: training.rows)
        let predictions = (0..<training.rows).map { r in argmax(Array(proba[r * k..<(r + 1) * k])) }
        let classes = training.labels ?? predictions
        guard !params.catVars.isEmpty else {
            return SearchSpace(classes: classes, categorical: nil, rows: (0..<training.rows).map { Array(training.row($0)) })
        }
        let ordinal = try (0..<training.rows).map { try layout.ordinal(fromModel: training.row($0), "x row \($0)") }
        let map = try fitCategories(layout: layout, ordinal: ordinal, predictions: predictions, classCount: k,
                                    params: params, lower: &lower, upper: &upper, seed: seed)
        return SearchSpace(classes: classes, categorical: map, rows: ordinal.map { map.numeric(fromOrdinal: $0) })
    }

    /// Encoder prototypes (each class's encodings and mean), k-d trees over each class's rows in
    /// the search space, or none.
    static func fitPrototypes(encoder: Classifier?, training: Dataset?, space: SearchSpace, params: CFProtoParams,
                              layout: CategoricalLayout, classCount k: Int) throws -> Prototypes {
        if let encoder, let training {
            let latent = encoder.classCount
            let encoded = try ModelSession(model: encoder).predict(training.x, rows: training.rows)
            var perClass = [[Double]](repeating: [], count: k)
            for r in 0..<training.rows { perClass[space.classes[r]] += encoded[r * latent..<(r + 1) * latent] }
            let means: [[Double]?] = perClass.map { rows in
                let n = rows.count / latent
                guard n > 0 else { return nil }
                return (0..<latent).map { j in (0..<n).reduce(0.0) { $0 + rows[$1 * latent + j] } / Double(n) }
            }
            return .encoder(latent: latent, encodings: perClass, means: means)
        } else if params.useKdtree {
            let dimension = layout.ordinalFeatures
            var perClass = [[Double]](repeating: [], count: k)
            for (r, row) in space.rows.enumerated() { perClass[space.classes[r]] += row }
            let trees = perClass.map { $0.isEmpty ? nil : KDTree(points: $0, dimension: dimension) }
            return .trees(trees, rows: perClass)
        }
        return .none
    }

    /// Feature units (training MAD, else range) in the search and in the model space.
    static func featureUnits(space: SearchSpace, training: Dataset?, lower: [Double], upper: [Double], modelFeatures d: Int,
                             classCount k: Int) throws -> (search: [Double], model: [Double]) {
        let features = lower.count
        let searchTraining = try space.rows.isEmpty ? nil : Dataset(x: space.rows.flatMap { $0 }, rows: space.rows.count,
                                                                    features: features, labels: nil, classCount: k)
        let search = featureScales(lower: lower, upper: upper, training: searchTraining)
        let model = space.categorical == nil ? search
            : featureScales(lower: [Double](repeating: 0, count: d), upper: [Double](repeating: .infinity, count: d), training: training)
        return (search, model)
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
}
