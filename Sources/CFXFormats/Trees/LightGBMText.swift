import CFXCore

/// LightGBM's text model (`Booster.save_model("m.txt")`, format v3/v4) as a `TreeEnsemble`:
/// objectives binary (sigmoid:σ), multiclass (softmax), with average_output (random-forest mode);
/// numeric splits with LightGBM's missing-value rules (decision_type: default_left, missing type
/// None / Zero / NaN). Categorical splits and linear trees are refused. Everything in float64, as
/// LightGBM computes it. Errors are model errors naming the line or the tree's key.
public func treeEnsembleFromLightGBM(_ text: String, what: String) throws -> TreeEnsemble {
    let blocks = try LightGBMBlocks(text)
    let header = blocks.header
    let features = try headerInteger(header, "max_feature_idx") + 1
    let perIteration = try headerInteger(header, "num_tree_per_iteration")
    let numClass = try headerInteger(header, "num_class")
    guard let objective = header["objective"]?.split(separator: " ").map(String.init), let name = objective.first else {
        throw CFXError(.model, "objective: missing")
    }
    let output: TreeOutput, classes: Int
    switch name {
    case "binary":
        let sigmoid = objective.first { $0.hasPrefix("sigmoid:") }.flatMap { Double($0.dropFirst(8)) } ?? 1
        guard sigmoid.isFinite, sigmoid > 0 else { throw CFXError(.model, "objective: sigmoid \(sigmoid) must be finite and > 0") }
        (output, classes) = (.logistic(scale: sigmoid), 2)
        guard perIteration == 1 else { throw CFXError(.model, "num_tree_per_iteration: \(perIteration); binary has 1") }
    case "multiclass":
        try TreeEnsemble.checkClassCount(numClass, "num_class")
        (output, classes) = (.softmax, numClass)
        guard perIteration == numClass else { throw CFXError(.model, "num_tree_per_iteration: \(perIteration); multiclass has num_class = \(numClass)") }
    default:
        throw CFXError(.model, "objective: \"\(name)\" is not supported; cfx reads binary and multiclass")
    }
    let trees = try blocks.trees.enumerated().map { t, keys in
        do {
            return try lightGBMTree(keys, target: t % perIteration, features: features)
        } catch let error as CFXError {
            throw error.prefixed("Tree=\(t)")
        }
    }
    // average_output: the forest's mean over iterations.
    let divisor = header["average_output"] != nil ? Double(max(1, trees.count / max(1, perIteration))) : 1
    return try TreeEnsemble(trees: trees, featureCount: features, classCount: classes,
                            base: [Double](repeating: 0, count: output == .softmax ? classes : 1), divisor: divisor,
                            output: output, precision: .float64, source: "\(what) (LightGBM)")
}

/// The header's key=value lines and each Tree= block's, up to "end of trees".
private struct LightGBMBlocks {
    var header: [String: String] = [:]
    var trees: [[String: String]] = []

    init(_ text: String) throws {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).makeIterator()
        guard let first = lines.next(), first.trimmingSuffix() == "tree" else {
            throw CFXError(.model, "line 1: expected \"tree\" (a LightGBM text model)")
        }
        var ended = false
        while let raw = lines.next() {
            let line = raw.trimmingSuffix()
            if line == "end of trees" { ended = true; break }
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(parts[0]), value = parts.count > 1 ? String(parts[1]) : ""
            if key == "Tree" {
                guard trees.count < Limits.parameters else { throw CFXError(.model, "too many trees") }
                trees.append([:])
            } else if trees.isEmpty {
                header[key] = value
            } else {
                trees[trees.count - 1][key] = value
            }
        }
        guard ended else { throw CFXError(.model, "no \"end of trees\" line: the file is truncated") }
        guard !trees.isEmpty else { throw CFXError(.model, "no Tree= blocks") }
    }
}

private extension Substring {
    func trimmingSuffix() -> Substring {
        var s = self
        while let last = s.last, last == "\r" || last == " " { s = s.dropLast() }
        return s
    }
}

private func headerInteger(_ header: [String: String], _ key: String) throws -> Int {
    guard let text = header[key] else { throw CFXError(.model, "\(key): missing") }
    guard let value = Int(text), value >= 0, value < Limits.features else {
        throw CFXError(.model, "\(key): \"\(text)\" is not an integer in 0..<\(Limits.features)")
    }
    return value
}

/// One tree: internal nodes 0..<L−1 then leaves (a child < 0 is leaf ~child).
private func lightGBMTree(_ keys: [String: String], target: Int, features: Int) throws -> DecisionTree {
    func values<T>(_ key: String, _ count: Int, _ parse: (Substring) -> T?) throws -> [T] {
        guard let text = keys[key] else { throw CFXError(.model, "\(key): missing") }
        let items = text.split(separator: " ")
        guard items.count == count else { throw CFXError(.model, "\(key): \(items.count) values; expected \(count)") }
        return try items.map { guard let v = parse($0) else { throw CFXError(.model, "\(key): \"\($0)\" is not a number") }; return v }
    }
    let leaves = Int(keys["num_leaves"] ?? "") ?? 0
    guard leaves >= 1, leaves <= Limits.parameters else { throw CFXError(.model, "num_leaves: \(keys["num_leaves"] ?? "missing")") }
    if let cats = keys["num_cat"], cats != "0" { throw CFXError(.model, "num_cat: \(cats); categorical splits are not supported") }
    if let linear = keys["is_linear"], linear != "0" { throw CFXError(.model, "is_linear: linear trees are not supported") }
    let leafValues = try values("leaf_value", leaves) { Double($0) }
    let splits = leaves - 1
    guard splits > 0 else { return DecisionTree(nodes: [.leaf([leafValues[0]])], target: target) }
    let feature = try values("split_feature", splits) { Int($0) }
    let threshold = try values("threshold", splits) { Double($0) }
    let decision = try values("decision_type", splits) { Int($0) }
    let left = try values("left_child", splits) { Int($0) }
    let right = try values("right_child", splits) { Int($0) }
    func node(_ child: Int) -> Int { child >= 0 ? child : splits + ~child }
    var nodes: [DecisionTree.Node] = []
    for i in 0..<splits {
        guard decision[i] & 1 == 0 else { throw CFXError(.model, "decision_type[\(i)]: a categorical split is not supported") }
        guard (-leaves..<splits).contains(left[i]), (-leaves..<splits).contains(right[i]) else {
            throw CFXError(.model, "node \(i): child \(left[i]) or \(right[i]) out of range")
        }
        var flags: DecisionTree.SplitFlags = decision[i] & 2 != 0 ? [.missingLeft] : []
        switch (decision[i] >> 2) & 3 {
        case 0: flags.insert(.nanIsZero)
        case 1: flags.formUnion([.nanIsZero, .zeroIsMissing])
        default: break
        }
        nodes.append(.split(feature: feature[i], threshold: threshold[i], left: node(left[i]), right: node(right[i]), flags: flags))
    }
    nodes += leafValues.map { .leaf([$0]) }
    return DecisionTree(nodes: nodes, target: target)
}
