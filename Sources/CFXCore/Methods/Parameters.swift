/// A method's parameters as one declarative table, in the manner of scikit-learn's
/// `_parameter_constraints`: each row is a config key, the key path of its value in the
/// parameters struct, the constraint the value must meet and a line of documentation. Defaults
/// are the struct's own (`CounterfactualMethod.defaults`). Validation, the C API's parsing and
/// unknown-key errors, `cfx_default_config`, the command line's method list and the parameter
/// tables of docs/methods/*.md all come from these tables.

/// What a constraint may depend on besides the value: the model's shape.
public struct ModelShape: Sendable {
    public let features: Int
    public let classes: Int

    public init(features: Int, classes: Int) {
        self.features = features
        self.classes = classes
    }

    public init(_ model: Classifier) {
        self.init(features: model.featureCount, classes: model.classCount)
    }
}

/// A condition on one value: a description for the docs ("> 0", "in 1...100") and the check,
/// which returns what is wrong (without the key: the row adds it) or nil.
public struct ValueConstraint<V> {
    public let description: String
    let violation: (V, ModelShape) -> String?

    public init(_ description: String, _ violation: @escaping (V, ModelShape) -> String?) {
        self.description = description
        self.violation = violation
    }

    /// Any value of the type (a number must still be finite, see `Parameter.number`).
    public static var any: ValueConstraint { ValueConstraint("") { _, _ in nil } }
}

/// A number as docs and messages show it: whole numbers without ".0".
func shown(_ v: Double) -> String {
    v.isFinite && v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : "\(v)"
}

extension ValueConstraint where V == Double {
    /// A finite number ≥ a.
    public static func atLeast(_ a: Double) -> ValueConstraint {
        ValueConstraint(">= \(shown(a))") { v, _ in v >= a && v.isFinite ? nil : "must be >= \(shown(a)), got \(v)" }
    }

    /// A finite number > a.
    public static func above(_ a: Double) -> ValueConstraint {
        ValueConstraint("> \(shown(a))") { v, _ in v > a && v.isFinite ? nil : "must be > \(shown(a)), got \(v)" }
    }

    /// a ≤ v ≤ b.
    public static func `in`(_ r: ClosedRange<Double>) -> ValueConstraint {
        let text = "[\(shown(r.lowerBound)), \(shown(r.upperBound))]"
        return ValueConstraint("in \(text)") { v, _ in r.contains(v) ? nil : "must be in \(text), got \(v)" }
    }

    /// a < v ≤ b.
    public static func above(_ a: Double, upTo b: Double) -> ValueConstraint {
        let text = "(\(shown(a)), \(shown(b))]"
        return ValueConstraint("in \(text)") { v, _ in v > a && v <= b ? nil : "must be in \(text), got \(v)" }
    }

    /// a ≤ v < b.
    public static func atLeast(_ a: Double, below b: Double) -> ValueConstraint {
        let text = "[\(shown(a)), \(shown(b)))"
        return ValueConstraint("in \(text)") { v, _ in v >= a && v < b ? nil : "must be in \(text), got \(v)" }
    }

    /// a < v < b.
    public static func between(_ a: Double, _ b: Double) -> ValueConstraint {
        let text = "(\(shown(a)), \(shown(b)))"
        return ValueConstraint("in \(text)") { v, _ in v > a && v < b ? nil : "must be in \(text), got \(v)" }
    }
}

extension ValueConstraint where V == Int {
    public static func `in`(_ r: ClosedRange<Int>) -> ValueConstraint {
        ValueConstraint("in \(r.lowerBound)...\(r.upperBound)") { v, _ in r.contains(v) ? nil : "must be in \(r.lowerBound)...\(r.upperBound), got \(v)" }
    }

    public static func atLeast(_ a: Int) -> ValueConstraint {
        ValueConstraint(">= \(a)") { v, _ in v >= a ? nil : "must be >= \(a), got \(v)" }
    }

    /// 1 up to the model's feature count.
    public static var upToFeatures: ValueConstraint {
        ValueConstraint("in 1...features") { v, shape in
            (1...max(1, shape.features)).contains(v) ? nil : "must be in 1...\(shape.features) (the model's features), got \(v)"
        }
    }
}

extension ValueConstraint where V == String {
    /// One of `choices`.
    public static func oneOf(_ choices: [String]) -> ValueConstraint {
        let listed = choices.map { "\"\($0)\"" }
        let text = listed.count == 1 ? listed[0] : listed.dropLast().joined(separator: ", ") + " or " + listed.last!
        return ValueConstraint("one of \(listed.joined(separator: ", "))") { v, _ in
            choices.contains(v) ? nil : "expected \(text), got \"\(v)\""
        }
    }
}

extension ValueConstraint where V == PerFeature {
    /// Every value (one for all features, or one per feature) meets `each`.
    public static func each(_ each: ValueConstraint<Double>) -> ValueConstraint {
        ValueConstraint("each \(each.description)") { v, shape in
            switch v {
            case .all(let value): return each.violation(value, shape)
            case .each(let values):
                for (j, value) in values.enumerated() {
                    if let problem = each.violation(value, shape) { return "\(problem) for feature \(j)" }
                }
                return nil
            }
        }
    }
}

/// Where a row's value lives in the parameters `P` and what type it has; the C API reads and
/// writes each kind as JSON (CFXABI/ConfigFields.swift).
public enum ParameterKind<P> {
    case number(WritableKeyPath<P, Double>)
    case integer(WritableKeyPath<P, Int>)
    case boolean(WritableKeyPath<P, Bool>)
    case text(WritableKeyPath<P, String>)
    /// A string naming a case (get, set: false for a name that is none, choices).
    case choice(get: (P) -> String, set: (inout P, String) -> Bool, choices: [String])
    case perFeature(WritableKeyPath<P, PerFeature>)
    case indices(WritableKeyPath<P, [Int]>)
    case numbers(WritableKeyPath<P, [Double]>)
    case optionalInteger(WritableKeyPath<P, Int?>)
    case optionalNumber(WritableKeyPath<P, Double?>)
    case optionalIndices(WritableKeyPath<P, [Int]?>)
    /// [a, b], two numbers.
    case pair(WritableKeyPath<P, Double>, WritableKeyPath<P, Double>)
    /// [min, max], each a number or one per feature.
    case range(WritableKeyPath<P, PerFeature>, WritableKeyPath<P, PerFeature>)
    /// [min, max] as `range`, or null.
    case optionalRange(WritableKeyPath<P, (lower: PerFeature, upper: PerFeature)?>)
    case categoricalVariables(WritableKeyPath<P, [CategoricalVariable]>)
    case monotone(WritableKeyPath<P, [MonotoneFeature]>)
    case targetClass(WritableKeyPath<P, TargetClass>)
    case targetClasses(WritableKeyPath<P, TargetClasses>)
}

/// One config key of a method: its kind, constraint and documentation.
public struct Parameter<P> {
    public let key: String
    public let kind: ParameterKind<P>
    /// The constraint as the docs show it ("" for none).
    public let constraint: String
    public let doc: String
    /// What is wrong with the value in `P` (checked against the model's shape), or nil.
    let violation: (P, ModelShape) -> String?

    public init(_ key: String, _ kind: ParameterKind<P>, constraint: String = "", _ doc: String,
                violation: @escaping (P, ModelShape) -> String? = { _, _ in nil }) {
        self.key = key
        self.kind = kind
        self.constraint = constraint
        self.doc = doc
        self.violation = violation
    }

    /// A finite number meeting `c`.
    public static func number(_ key: String, _ path: WritableKeyPath<P, Double>, _ c: ValueConstraint<Double>, _ doc: String) -> Parameter {
        Parameter(key, .number(path), constraint: c.description, doc) { p, shape in
            let v = p[keyPath: path]
            return v.isFinite ? c.violation(v, shape) : "must be a finite number, got \(v)"
        }
    }

    public static func integer(_ key: String, _ path: WritableKeyPath<P, Int>, _ c: ValueConstraint<Int>, _ doc: String) -> Parameter {
        Parameter(key, .integer(path), constraint: c.description, doc) { p, shape in c.violation(p[keyPath: path], shape) }
    }

    public static func boolean(_ key: String, _ path: WritableKeyPath<P, Bool>, _ doc: String) -> Parameter {
        Parameter(key, .boolean(path), doc)
    }

    public static func text(_ key: String, _ path: WritableKeyPath<P, String>, _ c: ValueConstraint<String>, _ doc: String) -> Parameter {
        Parameter(key, .text(path), constraint: c.description, doc) { p, shape in c.violation(p[keyPath: path], shape) }
    }

    /// One of an enumeration's cases, by raw value.
    public static func choice<E: RawRepresentable & CaseIterable>(_ key: String, _ path: WritableKeyPath<P, E>, _ doc: String) -> Parameter
    where E.RawValue == String {
        let choices = E.allCases.map(\.rawValue)
        return Parameter(key, .choice(get: { $0[keyPath: path].rawValue }, set: { p, name in
            guard let value = E(rawValue: name) else { return false }
            p[keyPath: path] = value
            return true
        }, choices: choices), constraint: "one of " + choices.map { "\"\($0)\"" }.joined(separator: ", "), doc)
    }

    public static func perFeature(_ key: String, _ path: WritableKeyPath<P, PerFeature>, _ c: ValueConstraint<PerFeature>,
                                  _ doc: String) -> Parameter {
        Parameter(key, .perFeature(path), constraint: c.description, doc) { p, shape in c.violation(p[keyPath: path], shape) }
    }

    /// A list of numbers, each meeting `c`.
    public static func numbers(_ key: String, _ path: WritableKeyPath<P, [Double]>, each c: ValueConstraint<Double>,
                               _ doc: String) -> Parameter {
        Parameter(key, .numbers(path), constraint: "each \(c.description)", doc) { p, shape in
            p[keyPath: path].lazy.compactMap { c.violation($0, shape) }.first
        }
    }

    /// A whole number meeting `c`, or null.
    public static func optionalInteger(_ key: String, _ path: WritableKeyPath<P, Int?>, _ c: ValueConstraint<Int>,
                                       _ doc: String) -> Parameter {
        Parameter(key, .optionalInteger(path), constraint: "null or \(c.description)", doc) { p, shape in
            p[keyPath: path].flatMap { c.violation($0, shape) }
        }
    }
}

extension Parameter {
    /// "other", "same" (when `allowsSame`) or a class index of the model.
    public static func targetClass(_ key: String, _ path: WritableKeyPath<P, TargetClass>, allowsSame: Bool, _ doc: String) -> Parameter {
        Parameter(key, .targetClass(path), constraint: allowsSame ? "a class of the model" : "a class of the model, not \"same\"", doc) { p, shape in
            switch p[keyPath: path] {
            case .same where !allowsSame: return "\"same\" has no counterfactual for this method; use \"other\" or a class index"
            case .index(let c) where !(0..<shape.classes).contains(c): return "class \(c) is outside 0..<\(shape.classes)"
            default: return nil
            }
        }
    }
}

extension ParameterKind {
    /// The key paths the value lives at (none for a choice).
    var paths: [PartialKeyPath<P>] {
        switch self {
        case .number(let p): return [p]
        case .integer(let p): return [p]
        case .boolean(let p): return [p]
        case .text(let p): return [p]
        case .choice: return []
        case .perFeature(let p): return [p]
        case .indices(let p): return [p]
        case .numbers(let p): return [p]
        case .optionalInteger(let p): return [p]
        case .optionalNumber(let p): return [p]
        case .optionalIndices(let p): return [p]
        case .pair(let a, let b): return [a, b]
        case .range(let a, let b): return [a, b]
        case .optionalRange(let p): return [p]
        case .categoricalVariables(let p): return [p]
        case .monotone(let p): return [p]
        case .targetClass(let p): return [p]
        case .targetClasses(let p): return [p]
        }
    }
}

extension Array {
    /// The key of the row whose value lives at `path`, for errors found outside the table.
    public func key<P, V>(_ path: WritableKeyPath<P, V>) -> String where Element == Parameter<P> {
        first { $0.kind.paths.contains(path) }?.key ?? "\(path)"
    }

    /// Checks every row's value in `params`; the error names the first row whose value is wrong.
    public func check<P>(_ params: P, _ shape: ModelShape) throws where Element == Parameter<P> {
        for row in self {
            if let problem = row.violation(params, shape) { throw CFXError.config(row.key, problem) }
        }
    }
}
