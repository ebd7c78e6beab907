import CFXKernels

/// Every failure cfx reports. The kinds match the C API's status codes one to one (CFXABI maps
/// them explicitly), and the message always names what was wrong (a config key, a layer, an
/// instance, a callback).
public struct CFXError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        case invalidArgument, json, config, model, shape, numeric, callback, cancelled, io, internalError
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// The same error with a context prefix, e.g. "instance 3: ...".
    public func prefixed(_ context: String) -> CFXError {
        CFXError(kind, "\(context): \(message)")
    }

    public static func config(_ key: String, _ problem: String) -> CFXError {
        CFXError(.config, "\(key): \(problem)")
    }
}

/// Throws a numeric error naming `what` when `values` holds a NaN or an infinity.
public func requireFinite(_ values: [Double], _ what: String) throws {
    if let i = firstNonFinite(values) {
        throw CFXError(.numeric, "\(what)[\(i)] is \(values[i]); only finite numbers are accepted")
    }
}

/// The index of the first NaN or infinity in `values`, or nil. A search checks its every predict
/// and gradient: one branch-free pass (CFXKernels' `cfx_count_nonfinite`) finds whether there is
/// one, and only then does a second pass find where.
public func firstNonFinite(_ values: [Double]) -> Int? {
    cfx_count_nonfinite(values.count, values) == 0 ? nil : values.firstIndex { !$0.isFinite }
}
