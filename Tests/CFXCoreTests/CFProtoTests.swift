import XCTest
@testable import CFXCore

/// Random training data for `linearSoftmax()`: points around each class's direction.
private func clusteredData(rows: Int, seed: UInt64) -> [Double] {
    var rng = SplitMix64(state: seed)
    let centres: [[Double]] = [[1.5, 0], [0, 1.5], [-1.2, -1.2]]
    return (0..<rows).flatMap { r in centres[r % 3].map { $0 + Double.random(in: -0.6...0.6, using: &rng) } }
}

final class CFProtoTests: XCTestCase {
    let instances: [Double] = [1.5, 0.2, 0.1, 1.4, -1.2, -1.0]

    private func explainer(_ model: Classifier, training rows: Int = 90, encoder: Classifier? = nil, autoencoder: Classifier? = nil,
                           _ configure: (inout CFProtoParams) -> Void = { _ in }) throws -> CFProtoExplainer {
        var params = CFProtoParams()
        params.maxIterations = 300
        params.cSteps = 4
        configure(&params)
        let data = try Dataset(x: clusteredData(rows: rows, seed: 3), rows: rows, features: 2, labels: nil, classCount: 3)
        return try CFProtoExplainer(model: model, params: params, encoder: encoder, autoencoder: autoencoder, training: data)
    }

    func testPerClassTreesHoldEveryTrainingPointOnce() throws {
        let model = try linearSoftmax()
        let e = try explainer(model) { $0.useKdtree = true }
        guard case .trees(let trees, let rows) = e.prototypes else { return XCTFail("expected k-d trees") }
        let data = clusteredData(rows: 90, seed: 3)
        let proba = try ModelSession(model: model).predict(data, rows: 90)
        XCTAssertEqual(trees.compactMap { $0?.count }.reduce(0, +), 90)
        var held = rows.flatMap { points in stride(from: 0, to: points.count, by: 2).map { i in [points[i], points[i + 1]] } }
        var expected = (0..<90).map { [data[2 * $0], data[2 * $0 + 1]] }
        held.sort { $0.lexicographicallyPrecedes($1) }
        expected.sort { $0.lexicographicallyPrecedes($1) }
        XCTAssertEqual(held, expected)
        for r in 0..<90 {
            let c = argmax(Array(proba[3 * r..<3 * r + 3]))
            XCTAssertEqual(trees[c]!.nearest(to: [data[2 * r], data[2 * r + 1]], k: 1)[0].distance, 0, "row \(r)")
        }
    }

    func testKDTreeCounterfactualsAreValidAndConsistent() throws {
        let model = try linearSoftmax()
        for theta in [5.0, 50.0] {
            let e = try explainer(model) { $0.useKdtree = true; $0.theta = theta }
            for result in try e.explain(instances, rows: 3, threads: 2) {
                let cf = try XCTUnwrap(result.cf)
                XCTAssertNotEqual(cf.predictedClass, result.origClass)
                XCTAssertNotEqual(result.idProto, result.origClass)
                let proba = try ModelSession(model: model).predict(cf.x)
                XCTAssertEqual(proba, cf.proba)
                XCTAssertEqual(cf.predictedClass, argmax(proba))
                XCTAssertEqual(result.gradsGraph?.count, 2)
                XCTAssertEqual(result.gradsNum?.count, 2)
                XCTAssertNotNil(result.trustScore)
                // The returned candidate is the last (best) one recorded.
                XCTAssertEqual(result.all.joined().map(\.distance).min(), cf.distance)
            }
        }
    }

    func testEncoderPrototypesHaveTheLatentShape() throws {
        let model = try linearSoftmax()
        let encoder = try randomNetwork(inputShape: [2], [.layer(Dense(outputs: 3)), .layer(Elementwise(.tanh))], seed: 5)
        for k: Int? in [nil, 5] {
            for kType in ["mean", "point"] {
                let e = try explainer(model, encoder: encoder) { $0.theta = 5; $0.k = k; $0.kType = kType }
                guard case .encoder(let latent, _, let means) = e.prototypes else { return XCTFail("expected encodings") }
                XCTAssertEqual(latent, 3)
                XCTAssertTrue(means.allSatisfy { $0?.count == 3 })
                let search = try e.makeSearch([1.5, 0.2])
                XCTAssertEqual(search.prototype?.count, 3)
                XCTAssertTrue(search.classPrototypes.allSatisfy { $0?.count == 3 })
                XCTAssertNotNil(search.idProto)
                XCTAssertNotEqual(search.idProto, search.factual.predicted)
                let result = try e.explain([1.5, 0.2])
                XCTAssertNotEqual(try XCTUnwrap(result.cf).predictedClass, 0)
            }
        }
    }

    func testTargetClassRestrictsPrototypeAndCounterfactual() throws {
        let e = try explainer(try linearSoftmax()) { $0.useKdtree = true; $0.theta = 5; $0.targetClass = [2] }
        let result = try e.explain([1.5, 0.2])
        XCTAssertEqual(result.idProto, 2)
        XCTAssertEqual(result.cf?.predictedClass, 2)
    }

    /// ∂L/∂y of every term in closed form against central differences of the loss.
    func testLossGradientMatchesFiniteDifferences() throws {
        let model = try randomNetwork(inputShape: [3], [.layer(Dense(outputs: 6)), .layer(Elementwise(.tanh)), .layer(Dense(outputs: 3)), .layer(Softmax())], seed: 21)
        let encoder = try randomNetwork(inputShape: [3], [.layer(Dense(outputs: 2)), .layer(Elementwise(.tanh))], seed: 22)
        let autoencoder = try randomNetwork(inputShape: [3], [.layer(Dense(outputs: 4)), .layer(Elementwise(.tanh)), .layer(Dense(outputs: 3))], seed: 23)
        var rng = SplitMix64(state: 9)
        let data = try Dataset(x: randomValues(150, &rng, scale: 2), rows: 50, features: 3, labels: nil, classCount: 3)
        for useEncoder in [false, true] {
            var params = CFProtoParams()
            params.gamma = 3
            params.theta = 2
            params.kappa = 0.3
            params.useKdtree = !useEncoder
            let e = try CFProtoExplainer(model: model, params: params, encoder: useEncoder ? encoder : nil, autoencoder: autoencoder, training: data)
            let x = randomValues(3, &rng)
            let search = try e.makeSearch(x)
            let y = zip(x, randomValues(3, &rng, scale: 0.3)).map { $0 + $1 }
            let p = try ModelSession(model: model).predict(y)
            XCTAssertGreaterThan(search.hinge(p).value, 0, "the prediction term should be active")
            let grad = try search.optimisedLossGradient(at: y, c: 4)
            for j in 0..<3 {
                var plus = y, minus = y
                plus[j] += 1e-6
                minus[j] -= 1e-6
                let numeric = (try search.optimisedLoss(at: plus, c: 4) - search.optimisedLoss(at: minus, c: 4)) / 2e-6
                XCTAssertEqual(grad[j], numeric, accuracy: 1e-5 + 1e-5 * abs(numeric), "encoder \(useEncoder), feature \(j)")
            }
        }
    }

    /// The black-box gradient of the prediction term agrees with the exact one.
    func testNumericalPredictionGradientMatchesExact() throws {
        let network = try linearSoftmax()
        let blackBox = try callbackCopy(of: network, exactGradient: false)
        let exact = try explainer(network)
        let numeric = try explainer(blackBox) { $0.epsInput = .all(1e-5); $0.epsProba = .all(1e-5) }
        let y = [0.9, 0.4]
        let exactSearch = try exact.makeSearch(y)
        let hingeOnly = try exactSearch.optimisedLossGradient(at: y, c: 1)
        // At the instance itself ‖y − x‖² contributes 0. alibi's dL/dp moves the other classes by
        // −eps/(k−1) as well, which scales the gradient by k/(k−1) (probabilities sum to 1).
        let expected = hingeOnly.map { $0 * 3 / 2 }
        let search = try numeric.makeSearch(y)
        let before = search.session.predictCalls
        let grad = try search.numericalPredictionGradient([y])
        XCTAssertEqual(search.session.predictCalls - before, 2, "one predict for dL/dp, one batched for dp/dx")
        for j in 0..<2 { XCTAssertEqual(grad[j], expected[j], accuracy: 1e-6) }
        // Averaged over stored iterates.
        let pair = try search.numericalPredictionGradient([y, y])
        for j in 0..<2 { XCTAssertEqual(pair[j], grad[j], accuracy: 1e-9) }
    }

    func testBlackBoxSearchFindsCounterfactualsAndCountsCalls() throws {
        let blackBox = try callbackCopy(of: try linearSoftmax(), exactGradient: false)
        let full = try explainer(blackBox) { $0.useKdtree = true; $0.theta = 20; $0.cSteps = 2; $0.maxIterations = 100 }
        for result in try full.explain(instances, rows: 3, threads: 1) {
            XCTAssertNotNil(result.cf)
            // Per iteration: at most 1 predict (none for an iterate farther than the best so far),
            // and after the first 2 numerical gradients of 2 calls each (1 when the prediction
            // term is inactive at every stored iterate).
            XCTAssertLessThanOrEqual(result.stats.predictCalls, 1 + 2 * (99 * 4 + 100))
            XCTAssertGreaterThanOrEqual(result.stats.predictCalls, 1 + 2 * (99 * 2))
        }
        let fast = try explainer(blackBox) { $0.useKdtree = true; $0.theta = 100; $0.cInit = 0; $0.cSteps = 1; $0.maxIterations = 200 }
        for result in try fast.explain(instances, rows: 3, threads: 1) {
            XCTAssertNotNil(result.cf)
            XCTAssertLessThanOrEqual(result.stats.predictCalls, 1 + 200)
            XCTAssertGreaterThan(result.stats.predictCalls, 1)
        }
    }

    func testShrinkageThresholdingAndFeatureRange() throws {
        let e = try explainer(try linearSoftmax()) { $0.beta = 0.5; $0.constraints.featureRangeMin = .all(-1); $0.constraints.featureRangeMax = .all(1.2) }
        let search = try e.makeSearch([0.5, 0.5])
        XCTAssertEqual(search.shrink([0.8, 0.3]), [0.5, 0.5])  // within β of x: back to x
        XCTAssertEqual(search.shrink([2.0, -1.0]), [1.2, -0.5])  // beyond: moved β toward x, clipped
    }

    func testImmutableFeatureNeverChanges() throws {
        let e = try explainer(try linearSoftmax()) { $0.useKdtree = true; $0.theta = 5; $0.constraints.immutable = [1] }
        for (r, result) in try e.explain(instances, rows: 3, threads: 1).enumerated() {
            for candidate in result.all.joined() { XCTAssertEqual(candidate.x[1], instances[2 * r + 1]) }
        }
    }

    func testErrorsNameTheKey() throws {
        let model = try linearSoftmax()
        func fails(_ key: String, _ configure: (inout CFProtoParams) -> Void, training: Bool = true) {
            var params = CFProtoParams()
            configure(&params)
            let data = try! Dataset(x: clusteredData(rows: 30, seed: 1), rows: 30, features: 2, labels: nil, classCount: 3)
            XCTAssertThrowsError(try CFProtoExplainer(model: model, params: params, training: training ? data : nil)) { error in
                XCTAssertTrue("\(error)".contains(key), "\(error)")
            }
        }
        fails("beta") { $0.beta = -1 }
        fails("c_steps") { $0.cSteps = 0 }
        fails("clip") { $0.clipMin = 5; $0.clipMax = 1 }
        fails("target_class") { $0.targetClass = [3] }
        fails("k_type") { $0.kType = "median" }
        fails("d_type") { $0.dType = "hamming" }
        fails("w") { $0.dType = "abdm-mvdm" }
        fails("cat_vars") { $0.catVars = [CategoricalVariable(column: 2, categories: 3)] }
        fails("cat_vars") { $0.catVars = [CategoricalVariable(column: 0, categories: 2), CategoricalVariable(column: 1, categories: 2)]; $0.ohe = true }
        fails("gamma") { $0.gamma = 1 }
        fails("cfx_explainer_fit", { $0.useKdtree = true }, training: false)
        fails("feature_range") { $0.constraints.featureRangeMin = .each([0, 0, 0]) }
    }
}

final class CategoricalTests: XCTestCase {
    /// Rows: numerical, a 3-category variable (one-hot in columns 1–3), numerical, a 2-category one.
    private func layout(oneHot: Bool) throws -> CategoricalLayout {
        try CategoricalLayout(variables: [CategoricalVariable(column: oneHot ? 5 : 3, categories: 2), CategoricalVariable(column: 1, categories: 3)],
                              oneHot: oneHot, modelFeatures: oneHot ? 7 : 4)
    }

    func testOneHotOrdinalNumericRoundTrips() throws {
        let ohe = try layout(oneHot: true), ord = try layout(oneHot: false)
        XCTAssertEqual(ohe.ordinalFeatures, 4)
        XCTAssertEqual(ohe.ordinalColumns, [1, 3])
        let map = CategoricalMap(layout: ohe, values: [[-0.7, 0.1, 0.6], [-0.25, 0.25]])
        for a in 0..<3 {
            for b in 0..<2 {
                let ordinal: [Double] = [0.3, Double(a), -1.5, Double(b)]
                let oneHot = ohe.model(fromOrdinal: ordinal)
                XCTAssertEqual(oneHot.count, 7)
                XCTAssertEqual(oneHot[1..<4].reduce(0, +), 1)
                XCTAssertEqual(oneHot[5..<7].reduce(0, +), 1)
                XCTAssertEqual(try ohe.ordinal(fromModel: oneHot[...], "row"), ordinal)
                XCTAssertEqual(try ord.ordinal(fromModel: ordinal[...], "row"), ordinal)
                let numeric = map.numeric(fromOrdinal: ordinal)
                XCTAssertEqual(numeric[1], map.values[0][a])
                XCTAssertEqual(map.ordinal(fromNumeric: numeric), ordinal)
                XCTAssertEqual(map.model(fromNumeric: numeric), oneHot)
                XCTAssertEqual(try map.numeric(fromModel: oneHot[...], "row"), numeric)
                // Values in between snap to the nearest category.
                var moved = numeric
                moved[1] += 0.05
                XCTAssertEqual(map.model(fromNumeric: moved), oneHot)
            }
        }
        XCTAssertEqual(ohe.ordinalColumn(ofModelColumn: 2), 1)
        XCTAssertEqual(ohe.ordinalColumn(ofModelColumn: 4), 2)
        XCTAssertEqual(ohe.pullback(modelGradient: [1, 2, 3, 4, 5, 6, 7]), [1, 9, 5, 13])
        XCTAssertThrowsError(try ohe.ordinal(fromModel: [0, 1, 1, 0, 0, 1, 0][...], "row 4")) { XCTAssertTrue("\($0)".contains("row 4")) }
        XCTAssertThrowsError(try ord.ordinal(fromModel: [0, 2.5, 0, 1][...], "row 0"))
    }

    private func categoricalData(rows: Int) -> [Double] {
        var rng = SplitMix64(state: 4)
        return (0..<rows).flatMap { _ -> [Double] in
            let a = Int.random(in: 0..<3, using: &rng)
            let b = Int.random(in: 0..<2, using: &rng)
            return [Double(a) + Double.random(in: -1...1, using: &rng), Double(a), Double.random(in: -1...1, using: &rng), Double(b)]
        }
    }

    func testABDMAndMVDMMatricesAreSymmetricAndNonNegative() {
        let rows = 200, data = categoricalData(rows: rows)
        let (binned, bins) = discretize(data, rows: rows, columns: 4, numericColumns: [0, 2], percentiles: [25, 50, 75])
        XCTAssertEqual(bins, [0: 4, 2: 4])
        let variables = [(column: 1, categories: 3), (column: 3, categories: 2)]
        let contexts = variables.map { (column: $0.column, values: $0.categories) } + [(column: 0, values: 4), (column: 2, values: 4)]
        let classes = (0..<rows).map { Int(data[$0 * 4 + 1]) == 2 ? 1 : 0 }
        for matrices in [abdmDistances(binned, rows: rows, columns: 4, variables: variables, contexts: contexts),
                         mvdmDistances(data, rows: rows, columns: 4, variables: variables, classes: classes, classCount: 2)] {
            for (matrix, variable) in zip(matrices, variables) {
                let n = variable.categories
                XCTAssertEqual(matrix.count, n * n)
                for i in 0..<n {
                    XCTAssertEqual(matrix[i * n + i], 0)
                    for j in 0..<n {
                        XCTAssertEqual(matrix[i * n + j], matrix[j * n + i])
                        XCTAssertGreaterThanOrEqual(matrix[i * n + j], 0)
                    }
                }
            }
        }
        // Column 0 is the category plus noise: categories 0 and 2 are the most different in context.
        let abdm = abdmDistances(binned, rows: rows, columns: 4, variables: variables, contexts: contexts)[0]
        XCTAssertGreaterThan(abdm[0 * 3 + 2], abdm[0 * 3 + 1])
        // MVDM: categories 0 and 1 have the same class distribution.
        let mvdm = mvdmDistances(data, rows: rows, columns: 4, variables: variables, classes: classes, classCount: 2)[0]
        XCTAssertEqual(mvdm[1], 0, accuracy: 1e-9)
        XCTAssertEqual(mvdm[2], 2, accuracy: 1e-9)
    }

    func testPercentileAndBinningFollowNumpy() {
        XCTAssertEqual(percentile(sorted: [1, 2, 3, 4], 25), 1.75)
        XCTAssertEqual(percentile(sorted: [1, 2, 3, 4], 50), 2.5)
        // np.searchsorted(borders, x) (left): x equal to a border falls in the lower bin.
        let (binned, bins) = discretize([1, 2, 3, 4], rows: 4, columns: 1, numericColumns: [0], percentiles: [25, 50, 75])
        XCTAssertEqual(bins[0], 4)
        XCTAssertEqual(binned, [0, 1, 2, 3])
    }

    func testMDSRecoversDistancesOfPointsOnALine() {
        let positions: [Double] = [0, 1, 3, 7]
        let distances = positions.flatMap { a in positions.map { abs(a - $0) } }
        let embedding = metricMDS(distances, count: 4)
        for i in 0..<4 {
            for j in 0..<4 {
                let dx = embedding[2 * i] - embedding[2 * j], dy = embedding[2 * i + 1] - embedding[2 * j + 1]
                XCTAssertEqual((dx * dx + dy * dy).squareRoot(), distances[i * 4 + j], accuracy: 1e-2)
            }
        }
        let scaled = try! scaleCategories([distances], variables: [(column: 0, categories: 4)], lower: [-1], upper: [1],
                                          options: CategoricalScaling(), updateFeatureRange: true, seed: 0)
        // The origin is an end of the line; values keep the line's order, scaled to [-1, 1] and centred.
        let v = scaled.values[0]
        XCTAssertEqual(abs(v[3] - v[0]), 2, accuracy: 1e-2)
        XCTAssertEqual(abs(v[1] - v[0]) / abs(v[3] - v[0]), 1.0 / 7, accuracy: 1e-2)
        XCTAssertEqual(scaled.lower[0], v.min()!)
        XCTAssertEqual(scaled.upper[0], v.max()!)
    }

    /// A model over (numerical, one-hot 3 categories, numerical, one-hot 2): counterfactuals are
    /// valid one-hot rows, and their class is the model's on them.
    func testOneHotCounterfactualsMapBackToValidCategories() throws {
        let model = try randomNetwork(inputShape: [7], [.layer(Dense(outputs: 8)), .layer(Elementwise(.tanh)), .layer(Dense(outputs: 2)), .layer(Softmax())], seed: 31)
        let ord = try layout(oneHot: false), ohe = try layout(oneHot: true)
        let rows = 120
        let data = categoricalData(rows: rows)
        let oneHot = (0..<rows).flatMap { ohe.model(fromOrdinal: Array(data[$0 * 4..<$0 * 4 + 4])) }
        _ = ord
        for dType in ["abdm", "mvdm", "abdm-mvdm"] {
            var params = CFProtoParams()
            params.catVars = ohe.variables
            params.ohe = true
            params.dType = dType
            params.w = 0.5
            params.useKdtree = true
            params.theta = 5
            params.maxIterations = 200
            params.cSteps = 4
            params.constraints.featureRangeMin = .each([-3, -1, -3, -1])
            params.constraints.featureRangeMax = .each([3, 1, 3, 1])
            let training = try Dataset(x: oneHot, rows: rows, features: 7, labels: nil, classCount: 2)
            let e = try CFProtoExplainer(model: model, params: params, training: training)
            XCTAssertEqual(e.searchFeatures, 4)
            XCTAssertEqual(e.categoryValues?.map(\.count), [3, 2])
            let results = try e.explain(Array(oneHot[0..<70]), rows: 10, threads: 2)
            for result in results {
                guard let cf = result.cf else { continue }
                XCTAssertNoThrow(try ohe.ordinal(fromModel: cf.x[...], "cf"))
                XCTAssertEqual(cf.predictedClass, argmax(try ModelSession(model: model).predict(cf.x)))
                XCTAssertEqual(result.gradsGraph?.count, 4)
                XCTAssertEqual(result.gradsNum?.count, 4)
            }
            XCTAssertGreaterThan(results.filter(\.success).count, 5, dType)
        }
    }
}
