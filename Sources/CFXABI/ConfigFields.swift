import CFXCore
import CFXFormats

/// One config key of a method's parameters `P`: how to read it and how to write it back, so that
/// parsing, defaults and the effective config all come from one list.
struct ConfigField<P> {
    let key: String
    let read: (JSON, inout P) throws -> Void
    let write: (P) -> JSON

    /// The same field for a `Q` that holds the `P` at `path`.
    func lifted<Q>(_ path: WritableKeyPath<Q, P>) -> ConfigField<Q> {
        let (read, write) = (read, write)
        return ConfigField<Q>(key: key, read: { try read($0, &$1[keyPath: path]) }, write: { write($0[keyPath: path]) })
    }

    static func number(_ key: String, _ path: WritableKeyPath<P, Double>) -> ConfigField {
        ConfigField(key: key, read: { $1[keyPath: path] = try $0.number(key) }, write: { .double($0[keyPath: path]) })
    }

    static func integer(_ key: String, _ path: WritableKeyPath<P, Int>) -> ConfigField {
        ConfigField(key: key, read: { $1[keyPath: path] = try $0.integer(key) }, write: { .int($0[keyPath: path]) })
    }

    static func boolean(_ key: String, _ path: WritableKeyPath<P, Bool>) -> ConfigField {
        ConfigField(key: key, read: { $1[keyPath: path] = try $0.boolean(key) }, write: { .bool($0[keyPath: path]) })
    }

    static func text(_ key: String, _ path: WritableKeyPath<P, String>) -> ConfigField {
        ConfigField(key: key, read: { $1[keyPath: path] = try $0.text(key) }, write: { .string($0[keyPath: path]) })
    }

    static func perFeature(_ key: String, _ path: WritableKeyPath<P, PerFeature>) -> ConfigField {
        ConfigField(key: key, read: { $1[keyPath: path] = try $0.perFeature(key) }, write: { .perFeature($0[keyPath: path]) })
    }

    static func indices(_ key: String, _ path: WritableKeyPath<P, [Int]>) -> ConfigField {
        ConfigField(key: key,
                    read: { value, p in p[keyPath: path] = try value.items(key).enumerated().map { try $1.integer("\(key)[\($0)]") } },
                    write: { .array($0[keyPath: path].map { .int($0) }) })
    }

    /// A whole number or null.
    static func optionalInteger(_ key: String, _ path: WritableKeyPath<P, Int?>) -> ConfigField {
        ConfigField(key: key, read: { value, p in
            if case .null = value { p[keyPath: path] = nil } else { p[keyPath: path] = try value.integer(key) }
        }, write: { p in p[keyPath: path].map { .int($0) } ?? .null })
    }

    /// A number or null.
    static func optionalNumber(_ key: String, _ path: WritableKeyPath<P, Double?>) -> ConfigField {
        ConfigField(key: key, read: { value, p in
            if case .null = value { p[keyPath: path] = nil } else { p[keyPath: path] = try value.number(key) }
        }, write: { p in p[keyPath: path].map { .double($0) } ?? .null })
    }

    /// A list of whole numbers or null.
    static func optionalIndices(_ key: String, _ path: WritableKeyPath<P, [Int]?>) -> ConfigField {
        ConfigField(key: key, read: { value, p in
            if case .null = value { p[keyPath: path] = nil; return }
            p[keyPath: path] = try value.items(key).enumerated().map { try $1.integer("\(key)[\($0)]") }
        }, write: { p in p[keyPath: path].map { .array($0.map { .int($0) }) } ?? .null })
    }

    static func numbers(_ key: String, _ path: WritableKeyPath<P, [Double]>) -> ConfigField {
        ConfigField(key: key, read: { $1[keyPath: path] = try $0.numbers(key) }, write: { .numbers($0[keyPath: path]) })
    }

    /// [a, b], two numbers.
    static func pair(_ key: String, _ first: WritableKeyPath<P, Double>, _ second: WritableKeyPath<P, Double>) -> ConfigField {
        twoItems(key, first, second, read: { try $0.number($1) }, write: { .double($0) })
    }

    /// [min, max] as `range`, or null.
    static func optionalRange(_ key: String, _ path: WritableKeyPath<P, (lower: PerFeature, upper: PerFeature)?>) -> ConfigField {
        typealias Bounds = (lower: PerFeature, upper: PerFeature)
        let range = ConfigField<Bounds>.range(key, \.lower, \.upper)
        return ConfigField(key: key, read: { value, p in
            if case .null = value { p[keyPath: path] = nil; return }
            var bounds: Bounds = (.all(0), .all(0))
            try range.read(value, &bounds)
            p[keyPath: path] = bounds
        }, write: { p in p[keyPath: path].map(range.write) ?? .null })
    }

    /// [min, max] into two values, each read by `item` (with its key, e.g. "clip[0]").
    private static func twoItems<V>(_ key: String, _ first: WritableKeyPath<P, V>, _ second: WritableKeyPath<P, V>,
                                    read item: @escaping (JSON, String) throws -> V, write: @escaping (V) -> JSON) -> ConfigField {
        ConfigField(key: key, read: { value, p in
            let items = try value.items(key)
            guard items.count == 2 else { throw CFXError.config(key, "expected [min, max], got \(items.count) values") }
            p[keyPath: first] = try item(items[0], "\(key)[0]")
            p[keyPath: second] = try item(items[1], "\(key)[1]")
        }, write: { .array([write($0[keyPath: first]), write($0[keyPath: second])]) })
    }

    /// {"start column": number of categories, ...}: keys are column indices written as strings.
    static func categoricalVariables(_ key: String, _ path: WritableKeyPath<P, [CategoricalVariable]>) -> ConfigField {
        ConfigField(key: key, read: { value, p in p[keyPath: path] = try readCategoricalVariables(value, key) },
                    write: { p in .object(p[keyPath: path].map { (String($0.column), .int($0.categories)) }) })
    }

    /// {"feature index": "increase" | "decrease", ...}: directional constraints.
    static func monotone(_ key: String, _ path: WritableKeyPath<P, [MonotoneFeature]>) -> ConfigField {
        ConfigField(key: key, read: { value, p in
            if case .null = value { p[keyPath: path] = []; return }
            p[keyPath: path] = try value.members(key).map { column, direction in
                guard let c = Int(column), c >= 0, String(c) == column else {
                    throw CFXError.config(key, "key \"\(column)\" is not a feature index (a whole number >= 0 written as a string)")
                }
                let name = try direction.text("\(key)[\"\(column)\"]")
                guard let d = Direction(rawValue: name) else {
                    throw CFXError.config("\(key)[\"\(column)\"]", "expected \"increase\" or \"decrease\", got \"\(name)\"")
                }
                return MonotoneFeature(feature: c, direction: d)
            }
        }, write: { p in .object(p[keyPath: path].map { (String($0.feature), .string($0.direction.rawValue)) }) })
    }

    /// "other", "same" or a class index.
    static func targetClass(_ key: String, _ path: WritableKeyPath<P, TargetClass>) -> ConfigField {
        ConfigField(key: key, read: { value, p in p[keyPath: path] = try readTargetClass(value, key) }, write: { p in
            switch p[keyPath: path] {
            case .other: return .string("other")
            case .same: return .string("same")
            case .index(let c): return .int(c)
            }
        })
    }

    /// A class index, a list of them, or "all" (every class but the prediction).
    static func targetClasses(_ key: String, _ path: WritableKeyPath<P, TargetClasses>) -> ConfigField {
        ConfigField(key: key, read: { value, p in
            switch value {
            case .string("all"): p[keyPath: path] = .all
            case .int, .double: p[keyPath: path] = .index(try value.integer(key))
            case .array(let items): p[keyPath: path] = .list(try items.enumerated().map { try $1.integer("\(key)[\($0)]") })
            default: throw CFXError.config(key, "expected a class index, a list of them or \"all\", got \(value)")
            }
        }, write: { p in
            switch p[keyPath: path] {
            case .all: return .string("all")
            case .index(let c): return .int(c)
            case .list(let cs): return .array(cs.map { .int($0) })
            }
        })
    }

    /// One of `choices`, read and written by name.
    static func choice(_ key: String, get: @escaping (P) -> String, set: @escaping (inout P, String) -> Bool, choices: [String]) -> ConfigField {
        ConfigField(key: key, read: { value, p in
            let text = try value.text(key)
            guard set(&p, text) else {
                throw CFXError.config(key, "expected one of \(choices.map { "\"\($0)\"" }.joined(separator: ", ")), got \"\(text)\"")
            }
        }, write: { .string(get($0)) })
    }

    /// One of the raw values of an enumeration.
    static func choice<E: RawRepresentable & CaseIterable>(_ key: String, _ path: WritableKeyPath<P, E>) -> ConfigField
    where E.RawValue == String {
        choice(key, get: { $0[keyPath: path].rawValue }, set: { p, name in
            guard let value = E(rawValue: name) else { return false }
            p[keyPath: path] = value
            return true
        }, choices: E.allCases.map(\.rawValue))
    }

    /// [min, max], each a number for all features or an array with one per feature.
    static func range(_ key: String, _ lower: WritableKeyPath<P, PerFeature>, _ upper: WritableKeyPath<P, PerFeature>) -> ConfigField {
        twoItems(key, lower, upper, read: { try $0.perFeature($1) }, write: { .perFeature($0) })
    }
}

extension Parameter {
    /// The row as a config field: how the C API reads its JSON value and writes it back.
    var field: ConfigField<P> {
        switch kind {
        case .number(let path): return .number(key, path)
        case .integer(let path): return .integer(key, path)
        case .boolean(let path): return .boolean(key, path)
        case .text(let path): return .text(key, path)
        case .choice(let get, let set, let choices): return .choice(key, get: get, set: set, choices: choices)
        case .perFeature(let path): return .perFeature(key, path)
        case .indices(let path): return .indices(key, path)
        case .numbers(let path): return .numbers(key, path)
        case .optionalInteger(let path): return .optionalInteger(key, path)
        case .optionalNumber(let path): return .optionalNumber(key, path)
        case .optionalIndices(let path): return .optionalIndices(key, path)
        case .pair(let first, let second): return .pair(key, first, second)
        case .range(let lower, let upper): return .range(key, lower, upper)
        case .optionalRange(let path): return .optionalRange(key, path)
        case .categoricalVariables(let path): return .categoricalVariables(key, path)
        case .monotone(let path): return .monotone(key, path)
        case .targetClass(let path): return .targetClass(key, path)
        case .targetClasses(let path): return .targetClasses(key, path)
        }
    }
}

extension Array {
    /// Reads config members into `params`; a key that is not a field is an error listing the keys.
    /// `alsoKnown` lists keys read elsewhere, for the error message.
    func decode<P>(_ members: [(String, JSON)], into params: inout P, context: String, alsoKnown: [String] = []) throws
    where Element == ConfigField<P> {
        for (key, value) in members {
            guard let field = first(where: { $0.key == key }) else {
                let known = (map(\.key) + alsoKnown).joined(separator: ", ")
                throw CFXError.config(key, "unknown key for \(context); known keys: \(known)")
            }
            try field.read(value, &params)
        }
    }

    func encode<P>(_ params: P) -> [(String, JSON)] where Element == ConfigField<P> {
        map { ($0.key, $0.write(params)) }
    }
}

/// alibi's cat_vars, {"start column": number of categories, ...} or null, with every number in
/// range (columns below CFX_MAX_FEATURES, 1...CFX_MAX_CATEGORIES categories), so that no sum or
/// product of them can overflow later. Whether a group fits the model is checked by the core.
func readCategoricalVariables(_ value: JSON, _ key: String) throws -> [CategoricalVariable] {
    if case .null = value { return [] }
    return try value.members(key).map { column, count in
        guard let c = Int(column), c >= 0, String(c) == column else {
            throw CFXError.config(key, "key \"\(column)\" is not a column index (a whole number >= 0 written as a string)")
        }
        guard c < Limits.features else { throw CFXError.config(key, "column \(c) is over the limit of \(Limits.features - 1)") }
        let n = try count.integer("\(key)[\"\(column)\"]")
        guard (1...Limits.categories).contains(n) else {
            throw CFXError.config("\(key)[\"\(column)\"]", "\(n) categories is not in 1...\(Limits.categories)")
        }
        return CategoricalVariable(column: c, categories: n)
    }
}

/// "other", "same" or a class index (whether the index is one of the model's classes is checked
/// where the model is known).
func readTargetClass(_ value: JSON, _ key: String) throws -> TargetClass {
    switch value {
    case .string("other"): return .other
    case .string("same"): return .same
    case .int, .double: return .index(try value.integer(key))
    default: throw CFXError.config(key, "expected \"other\", \"same\" or a class index, got \(value)")
    }
}
