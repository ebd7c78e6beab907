import CFXCore

// The ONNX-ML TreeEnsembleClassifier (ai.onnx.ml; skl2onnx writes it for scikit-learn's forests
// and gradient boosting) as a TreeEnsemble, with onnxruntime's semantics: per-node modes
// BRANCH_LEQ / LT / GTE / GT, nodes_missing_value_tracks_true, class weights summed per class,
// base_values, and the binary case (one class id: the score of the second class, turned into
// [1 − s, s] by NONE or [σ(−s), σ(s)] by LOGISTIC). Thresholds and weights are read as the
// float32 (or, in the *_as_tensor attributes, float64) values stored; the sums are in float64;
// a FLOAT graph input is rounded to float32 before the tests, as onnxruntime reads it.

/// Whether the ONNX model in `bytes` is a tree ensemble (it has a TreeEnsembleClassifier node).
func isONNXTreeEnsemble(_ model: ONNXModel) -> Bool {
    model.graph?.nodes.contains { $0.opType == "TreeEnsembleClassifier" } ?? false
}

/// The tree ensemble of an ONNX model whose graph input feeds one TreeEnsembleClassifier; the
/// nodes after it (Identity, Cast, ZipMap, ArgMax) only rename or re-type its probabilities.
func treeEnsembleFromONNX(_ model: ONNXModel, bytes: UnsafeRawBufferPointer, what: String) throws -> TreeEnsemble {
    guard let graph = model.graph else { throw CFXError(.model, "model: no graph") }
    let nodes = graph.nodes.filter { $0.opType == "TreeEnsembleClassifier" }
    guard nodes.count == 1, let node = nodes.first else { throw CFXError(.model, "graph: \(nodes.count) TreeEnsembleClassifier nodes; cfx reads one") }
    let initializers = Set(graph.initializers.map(\.name))
    let inputs = graph.inputs.filter { !initializers.contains($0.name) }
    guard inputs.count == 1, node.inputs.first == inputs[0].name else {
        throw CFXError(.model, "\(node.label): its input must be the graph's one input")
    }
    let attributes = ONNXTreeAttributes(node: node, bytes: bytes)
    let features = try featureCount(inputs[0], attributes)
    // onnxruntime compares the input tensor's own values: float32 ones for a FLOAT input.
    let precision: TreePrecision = inputs[0].elemType == ONNXDataType.float.rawValue ? .float32Inputs : .float64
    return try attributes.ensemble(features: features, precision: precision, source: "\(what) (ONNX TreeEnsembleClassifier)")
}

private func featureCount(_ input: ONNXValueInfo, _ attributes: ONNXTreeAttributes) throws -> Int {
    guard let dims = input.dims, dims.count == 2, let d = dims[1], d > 0, d <= Int64(Limits.features) else {
        throw CFXError(.model, "graph: input \"\(input.name)\" must have the shape [batch, features] with a fixed feature count")
    }
    return Int(d)
}

private struct ONNXTreeAttributes {
    let node: ONNXNode
    let bytes: UnsafeRawBufferPointer

    func attribute(_ name: String) -> ONNXAttribute? { node.attributes.first { $0.name == name } }

    func ints(_ name: String, required: Bool = true) throws -> [Int64] {
        guard let a = attribute(name) else {
            if required { throw CFXError(.model, "\(node.label): attribute \(name) missing") }
            return []
        }
        return a.ints
    }

    /// A float list, or its float64 twin NAME_as_tensor.
    func doubles(_ name: String, required: Bool = true) throws -> [Double] {
        if let tensor = attribute("\(name)_as_tensor")?.t { return try tensor.doubles(bytes, "\(node.label): \(name)_as_tensor") }
        guard let a = attribute(name) else {
            if required { throw CFXError(.model, "\(node.label): attribute \(name) missing") }
            return []
        }
        return a.floats.map(Double.init)
    }

    func ensemble(features: Int, precision: TreePrecision, source: String) throws -> TreeEnsemble {
        let labels = max(try ints("classlabels_int64s", required: false).count, attribute("classlabels_strings")?.strings.count ?? 0)
        try TreeEnsemble.checkClassCount(labels, "\(node.label): classlabels")
        let classIDs = try ints("class_ids")
        let binary = labels == 2 && Set(classIDs).count == 1
        let transform = attribute("post_transform")?.s ?? "NONE"
        let output: TreeOutput
        switch (transform, binary) {
        case ("NONE", true): output = .binaryProbability
        case ("LOGISTIC", true): output = .logistic(scale: 1)
        case ("NONE", false): output = .probabilities
        case ("SOFTMAX", false): output = .softmax
        default: throw CFXError(.model, "\(node.label): post_transform \(transform) is not supported here (NONE, LOGISTIC for two classes, SOFTMAX)")
        }
        let scores = binary ? 1 : labels
        var base = try doubles("base_values", required: false)
        if base.isEmpty { base = [Double](repeating: 0, count: scores) }
        guard base.count == scores else { throw CFXError(.model, "\(node.label): base_values has \(base.count) values; expected \(scores)") }
        let trees = try buildTrees(features: features, scores: scores, binary: binary)
        return try TreeEnsemble(trees: trees, featureCount: features, classCount: labels, base: base, output: output,
                                precision: precision, source: source)
    }

    /// The nodes grouped by tree id (in order of first appearance), children by node id.
    func buildTrees(features: Int, scores: Int, binary: Bool) throws -> [DecisionTree] {
        let treeIDs = try ints("nodes_treeids"), nodeIDs = try ints("nodes_nodeids"), featureIDs = try ints("nodes_featureids")
        let trueIDs = try ints("nodes_truenodeids"), falseIDs = try ints("nodes_falsenodeids")
        let values = try doubles("nodes_values")
        let modes = attribute("nodes_modes")?.strings ?? []
        var tracks = try ints("nodes_missing_value_tracks_true", required: false)
        if tracks.isEmpty { tracks = [Int64](repeating: 0, count: treeIDs.count) }
        let n = treeIDs.count
        for (name, count) in [("nodes_nodeids", nodeIDs.count), ("nodes_featureids", featureIDs.count), ("nodes_truenodeids", trueIDs.count),
                              ("nodes_falsenodeids", falseIDs.count), ("nodes_values", values.count), ("nodes_modes", modes.count),
                              ("nodes_missing_value_tracks_true", tracks.count)] where count != n {
            throw CFXError(.model, "\(node.label): \(name) has \(count) values for \(n) nodes")
        }
        var order: [Int64] = [], local: [Int64: [Int64: Int]] = [:]
        for i in 0..<n {
            if local[treeIDs[i]] == nil { order.append(treeIDs[i]); local[treeIDs[i]] = [:] }
            guard local[treeIDs[i]]![nodeIDs[i]] == nil else { throw CFXError(.model, "\(node.label): node \(nodeIDs[i]) of tree \(treeIDs[i]) given twice") }
            local[treeIDs[i]]![nodeIDs[i]] = local[treeIDs[i]]!.count
        }
        // Every node is built with a leaf of `scores` values before the splits replace theirs.
        guard let cells = checkedProduct(n, scores), cells <= Limits.parameters else {
            throw CFXError(.model, "\(node.label): \(n) nodes of \(scores) scores each; at most \(Limits.parameters) values")
        }
        let leafValues = try weights(local, scores: scores, binary: binary)
        var trees = order.map { _ in [DecisionTree.Node]() }
        let position = Dictionary(uniqueKeysWithValues: order.enumerated().map { ($1, $0) })
        for t in order.indices { trees[t] = [DecisionTree.Node](repeating: .leaf([Double](repeating: 0, count: scores)), count: local[order[t]]!.count) }
        for i in 0..<n {
            let tree = treeIDs[i], index = local[tree]![nodeIDs[i]]!
            let t = position[tree]!
            if modes[i] == "LEAF" {
                trees[t][index] = .leaf(leafValues[tree]?[nodeIDs[i]] ?? [Double](repeating: 0, count: scores))
                continue
            }
            guard let yes = local[tree]![trueIDs[i]], let no = local[tree]![falseIDs[i]] else {
                throw CFXError(.model, "\(node.label): node \(nodeIDs[i]) of tree \(tree): a child is not a node of its tree")
            }
            guard (0..<Int64(features)).contains(featureIDs[i]) else { throw CFXError(.model, "\(node.label): nodes_featureids: feature \(featureIDs[i]) out of range 0..<\(features)") }
            let flags: DecisionTree.SplitFlags, left: Int, right: Int
            switch modes[i] {
            case "BRANCH_LEQ": (flags, left, right) = ([], yes, no)
            case "BRANCH_LT": (flags, left, right) = ([.strict], yes, no)
            case "BRANCH_GT": (flags, left, right) = ([], no, yes)    // x > θ is "not x ≤ θ"
            case "BRANCH_GTE": (flags, left, right) = ([.strict], no, yes)
            default: throw CFXError(.model, "\(node.label): nodes_modes: \"\(modes[i])\" is not supported (BRANCH_LEQ, LT, GT, GTE, LEAF)")
            }
            // A missing value takes the true branch when tracked, the false one otherwise.
            let missingLeft = (tracks[i] != 0) == (left == yes)
            trees[t][index] = .split(feature: Int(featureIDs[i]), threshold: values[i], left: left, right: right,
                                     flags: missingLeft ? flags.union(.missingLeft) : flags)
        }
        return trees.map { DecisionTree(nodes: $0, target: nil) }
    }

    /// Each leaf's weights per score: tree id → node id → values.
    func weights(_ local: [Int64: [Int64: Int]], scores: Int, binary: Bool) throws -> [Int64: [Int64: [Double]]] {
        let treeIDs = try ints("class_treeids"), nodeIDs = try ints("class_nodeids"), classIDs = try ints("class_ids")
        let weights = try doubles("class_weights")
        guard nodeIDs.count == treeIDs.count, classIDs.count == treeIDs.count, weights.count == treeIDs.count else {
            throw CFXError(.model, "\(node.label): class_treeids, class_nodeids, class_ids and class_weights differ in length")
        }
        var result: [Int64: [Int64: [Double]]] = [:]
        for i in treeIDs.indices {
            let score = binary ? 0 : Int(clamping: classIDs[i])
            guard (0..<scores).contains(score) else { throw CFXError(.model, "\(node.label): class_ids: \(classIDs[i]) out of range") }
            guard local[treeIDs[i]]?[nodeIDs[i]] != nil else {
                throw CFXError(.model, "\(node.label): class weight \(i) names node \(nodeIDs[i]) of tree \(treeIDs[i]), which does not exist")
            }
            var leaf = result[treeIDs[i]]?[nodeIDs[i]] ?? [Double](repeating: 0, count: scores)
            leaf[score] += weights[i]
            result[treeIDs[i], default: [:]][nodeIDs[i]] = leaf
        }
        return result
    }
}
