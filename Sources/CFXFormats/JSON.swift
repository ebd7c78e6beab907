import CJansson
import CFXCore
import Glibc

/// A JSON value. Configs and model specs are read into it with jansson; it is written as text by
/// JSONWriter (JSON+Writing.swift); objects keep their key order.
public enum JSON {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSON])
    case object([(String, JSON)])

    /// Parses UTF-8 text; duplicate keys are rejected. `what` names the text in errors.
    public static func parse(_ text: UnsafePointer<CChar>, _ what: String) throws -> JSON {
        var error = json_error_t()
        guard let root = json_loads(text, Int(JSON_REJECT_DUPLICATES), &error) else {
            let reason = withUnsafeBytes(of: &error.text) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            throw CFXError(.json, "\(what): invalid JSON at line \(error.line), column \(error.column): \(reason)")
        }
        defer { json_decref(root) }
        return JSON(root)
    }

    private init(_ value: UnsafeMutablePointer<json_t>) {
        switch value.pointee.type {
        case JSON_OBJECT:
            var members: [(String, JSON)] = []
            var iterator = json_object_iter(value)
            while let it = iterator {
                members.append((String(cString: json_object_iter_key(it)), JSON(json_object_iter_value(it))))
                iterator = json_object_iter_next(value, it)
            }
            self = .object(members)
        case JSON_ARRAY:
            self = .array((0..<json_array_size(value)).map { JSON(json_array_get(value, $0)) })
        case JSON_STRING: self = .string(String(cString: json_string_value(value)))
        case JSON_INTEGER: self = .int(Int(json_integer_value(value)))
        case JSON_REAL: self = .double(json_real_value(value))
        case JSON_TRUE: self = .bool(true)
        case JSON_FALSE: self = .bool(false)
        default: self = .null
        }
    }
}

// MARK: Reading values, with errors that name the key

extension JSON {
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    public func number(_ key: String) throws -> Double {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: throw CFXError(.config, "\(key): expected a number, got \(typeName)")
        }
    }

    public func integer(_ key: String) throws -> Int {
        switch self {
        case .int(let i): return i
        case .double(let d) where d == d.rounded() && abs(d) < 1e15: return Int(d)
        default: throw CFXError(.config, "\(key): expected an integer, got \(typeName == "a number" ? "\(self)" : typeName)")
        }
    }

    public func boolean(_ key: String) throws -> Bool {
        guard case .bool(let b) = self else { throw CFXError(.config, "\(key): expected true or false, got \(typeName)") }
        return b
    }

    public func text(_ key: String) throws -> String {
        guard case .string(let s) = self else { throw CFXError(.config, "\(key): expected a string, got \(typeName)") }
        return s
    }

    public func items(_ key: String) throws -> [JSON] {
        guard case .array(let items) = self else { throw CFXError(.config, "\(key): expected an array, got \(typeName)") }
        return items
    }

    public func members(_ key: String) throws -> [(String, JSON)] {
        guard case .object(let members) = self else { throw CFXError(.config, "\(key): expected an object, got \(typeName)") }
        return members
    }

    public func numbers(_ key: String) throws -> [Double] {
        try items(key).enumerated().map { try $1.number("\(key)[\($0)]") }
    }

    /// A number for every feature, or an array with one per feature.
    public func perFeature(_ key: String) throws -> PerFeature {
        if case .array = self { return .each(try numbers(key)) }
        return .all(try number(key))
    }

    public subscript(key: String) -> JSON? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    public static func numbers(_ values: [Double]) -> JSON { .array(values.map { .double($0) }) }

    public static func perFeature(_ value: PerFeature) -> JSON {
        switch value {
        case .all(let v): return .double(v)
        case .each(let vs): return numbers(vs)
        }
    }
}

extension JSON: CustomStringConvertible {
    public var description: String {
        switch self {
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .string(let s): return "\"\(s)\""
        default: return typeName
        }
    }
}
