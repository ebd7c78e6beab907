import CFXCore
import Glibc

/// XGBoost's JSON model (`Booster.save_model("m.json")`, format of XGBoost 1.x-3.x) as a
/// `TreeEnsemble`: gbtree boosters of numeric splits, objectives binary:logistic and
/// multi:softprob / multi:softmax (whose probabilities cfx gives). XGBoost computes in float32:
/// every number in the file is read as the float32 it was written from, and the ensemble evaluates
/// in float32 (`TreePrecision.float32`). Errors are model errors naming the JSON path.
public func treeEnsembleFromXGBoost(_ root: JSON, what: String) throws -> TreeEnsemble {
    do {
        return try XGBoostReader(root).ensemble(what: what)
    } catch let error as CFXError where error.kind == .config {
        throw CFXError(.model, "\(what): \(error.message)")
    }
}

/// Whether `bytes` start like XGBoost's JSON model: `{"learner":` after optional whitespace.
public func looksLikeXGBoostJSON(_ bytes: [UInt8]) -> Bool {
    let text = bytes.prefix(64).filter { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
    return text.starts(with: Array("{\"learner\":".utf8))
}

private struct XGBoostReader {
    let learner: JSON

    init(_ root: JSON) throws {
        learner = try member(root, "learner", "")
    }

    func ensemble(what: String) throws -> TreeEnsemble {
        let parameters = try member(learner, "learner_model_param", "learner")
        let features = try integerText(parameters, "num_feature", "learner.learner_model_param")
        let numClass = try integerText(parameters, "num_class", "learner.learner_model_param")
        if let targets = parameters["num_target"], try integerTextValue(targets, "learner.learner_model_param.num_target") != 1 {
            throw CFXError(.model, "learner.learner_model_param.num_target: only single-target models are supported")
        }
        let objective = try member(member(learner, "objective", "learner"), "name", "learner.objective").text("learner.objective.name")
        let baseScores = try floatList(member(parameters, "base_score", "learner.learner_model_param").text("learner.learner_model_param.base_score"),
                                       "learner.learner_model_param.base_score")
        let output: TreeOutput, classes: Int, base: [Double]
        switch objective {
        case "binary:logistic":
            guard baseScores.count == 1, baseScores[0] > 0, baseScores[0] < 1 else {
                throw CFXError(.model, "learner.learner_model_param.base_score: binary:logistic needs one probability in (0, 1), got \(baseScores)")
            }
            // XGBoost's ProbToMargin for the logistic objective, in float32.
            let p = Float(baseScores[0])
            (output, classes, base) = (.logistic(scale: 1), 2, [Double(-logf(1 / p - 1))])
        case "multi:softprob", "multi:softmax":
            try TreeEnsemble.checkClassCount(numClass, "learner.learner_model_param.num_class")
            guard baseScores.count == 1 || baseScores.count == numClass else {
                throw CFXError(.model, "learner.learner_model_param.base_score: \(baseScores.count) values for \(numClass) classes")
            }
            (output, classes) = (.softmax, numClass)
            base = baseScores.count == 1 ? [Double](repeating: baseScores[0], count: numClass) : baseScores
        default:
            throw CFXError(.model, "learner.objective.name: \"\(objective)\" is not supported; cfx reads binary:logistic, multi:softprob and multi:softmax")
        }
        let trees = try self.trees(scores: output == .softmax ? classes : 1, features: features)
        return try TreeEnsemble(trees: trees, featureCount: features, classCount: classes, base: base,
                                output: output, precision: .float32, source: "\(what) (XGBoost)")
    }

    func trees(scores: Int, features: Int) throws -> [DecisionTree] {
        let booster = try member(learner, "gradient_booster", "learner")
        let name = try member(booster, "name", "learner.gradient_booster").text("learner.gradient_booster.name")
        guard name == "gbtree" else {
            throw CFXError(.model, "learner.gradient_booster.name: \"\(name)\" is not supported; cfx reads \"gbtree\"")
        }
        let model = try member(booster, "model", "learner.gradient_booster")
        let path = "learner.gradient_booster.model"
        let items = try member(model, "trees", path).items("\(path).trees")
        let info = try member(model, "tree_info", path).items("\(path).tree_info")
        guard info.count == items.count else {
            throw CFXError(.model, "\(path).tree_info: \(info.count) entries for \(items.count) trees")
        }
        return try zip(items, info).enumerated().map { t, pair in
            let target = try pair.1.integer("\(path).tree_info[\(t)]")
            guard (0..<scores).contains(target) else { throw CFXError(.model, "\(path).tree_info[\(t)]: \(target) is not a score 0..<\(scores)") }
            return try tree(pair.0, target: target, path: "\(path).trees[\(t)]")
        }
    }

    /// One tree: children −1 mark leaves, whose value is in split_conditions; x < threshold goes
    /// left, a missing value goes the default_left way.
    func tree(_ json: JSON, target: Int, path: String) throws -> DecisionTree {
        let left = try ints(json, "left_children", path), right = try ints(json, "right_children", path)
        let features = try ints(json, "split_indices", path), defaults = try ints(json, "default_left", path)
        let conditions = try member(json, "split_conditions", path).numbers("\(path).split_conditions")
        let n = left.count
        for (key, count) in [("right_children", right.count), ("split_indices", features.count),
                             ("default_left", defaults.count), ("split_conditions", conditions.count)] where count != n {
            throw CFXError(.model, "\(path).\(key): \(count) entries for \(n) nodes")
        }
        if let types = json["split_type"], try types.items("\(path).split_type").contains(where: { try $0.integer("\(path).split_type") != 0 }) {
            throw CFXError(.model, "\(path).split_type: categorical splits are not supported")
        }
        if let vector = json["tree_param"]?["size_leaf_vector"], let size = Int(try vector.text("\(path).tree_param.size_leaf_vector")), size > 1 {
            throw CFXError(.model, "\(path).tree_param.size_leaf_vector: \(size); vector leaves are not supported")
        }
        let nodes: [DecisionTree.Node] = (0..<n).map { i in
            let threshold = Double(Float(conditions[i]))
            if left[i] == -1 { return .leaf([threshold]) }
            return .split(feature: features[i], threshold: threshold, left: left[i], right: right[i],
                          flags: defaults[i] != 0 ? [.strict, .missingLeft] : [.strict])
        }
        return DecisionTree(nodes: nodes, target: target)
    }
}

private func member(_ json: JSON, _ key: String, _ path: String) throws -> JSON {
    guard let value = json[key] else { throw CFXError(.model, "\(path.isEmpty ? key : "\(path).\(key)"): missing") }
    return value
}

private func ints(_ json: JSON, _ key: String, _ path: String) throws -> [Int] {
    try member(json, key, path).items("\(path).\(key)").enumerated().map { try $1.integer("\(path).\(key)[\($0)]") }
}

/// XGBoost writes its parameters as strings ("30").
private func integerText(_ json: JSON, _ key: String, _ path: String) throws -> Int {
    try integerTextValue(member(json, key, path), "\(path).\(key)")
}

private func integerTextValue(_ json: JSON, _ path: String) throws -> Int {
    guard let value = Int(try json.text(path)) else { throw CFXError(.model, "\(path): expected an integer in a string") }
    return value
}

/// "0.5", "5E-1" or "[6.274165E-1,0E0]": the float32 values, as doubles.
private func floatList(_ text: String, _ path: String) throws -> [Double] {
    let inner = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
    return try inner.split(separator: ",").map {
        guard let v = Double($0.trimmingCharacters(in: " ")), v.isFinite else { throw CFXError(.model, "\(path): \"\(text)\" is not a list of numbers") }
        return Double(Float(v))
    }
}

private extension Substring {
    func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return s
    }
}
