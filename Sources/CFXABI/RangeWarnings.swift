import CFXCore
import CFXFormats

/// `explanations` with `meta.warnings` added to each one whose instance lies outside the config's
/// `feature_range`: otherwise the search would clip the instance silently. An explanation's
/// instance is its "instance" (one explanation per instance and target) or its position.
func withRangeWarnings(_ explanations: [JSON], x: [Double], features d: Int, config: JSON) -> [JSON] {
    guard case .array(let bounds)? = config["feature_range"], bounds.count == 2,
          let lower = perFeature(bounds[0], d), let upper = perFeature(bounds[1], d) else { return explanations }
    // With categorical variables (CFProto), feature_range applies to the search space, not to x.
    if case .object(let categories)? = config["cat_vars"], !categories.isEmpty { return explanations }
    let n = x.count / d
    return explanations.enumerated().map { position, explanation in
        var row = position
        if case .int(let instance)? = explanation["instance"] { row = instance }
        guard (0..<n).contains(row), case .object(var members) = explanation,
              let metaIndex = members.firstIndex(where: { $0.0 == "meta" }), case .object(var meta) = members[metaIndex].1,
              let warning = outsideRangeWarning(x[row * d..<(row + 1) * d], lower: lower, upper: upper) else { return explanation }
        meta.append(("warnings", .array([.string(warning)])))
        members[metaIndex].1 = .object(meta)
        return .object(members)
    }
}

/// A bound given once (a number) or per feature (an array of d numbers), for every feature.
private func perFeature(_ value: JSON, _ d: Int) -> [Double]? {
    switch value {
    case .int(let i): return Array(repeating: Double(i), count: d)
    case .double(let v): return Array(repeating: v, count: d)
    case .array(let items) where items.count == d:
        let values = items.compactMap { item -> Double? in
            switch item { case .int(let i): return Double(i); case .double(let v): return v; default: return nil }
        }
        return values.count == d ? values : nil
    default: return nil
    }
}
