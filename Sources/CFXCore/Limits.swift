/// The sizes cfx accepts, and checked arithmetic on sizes. Every size that comes from a caller, a
/// spec or a file is checked against these before it is used, so that no input can make cfx trap
/// on an overflow or allocate more than a cap; include/cfx.h documents the same numbers
/// (CFX_MAX_*), and Tests/c/test_abi.c checks that the two agree.
public enum Limits {
    /// Input features of a model (one row's values).
    public static let features = 1 << 28
    /// Classes of a model.
    public static let classes = 1 << 24
    /// Values in any one tensor of a network: one example's activations, one layer's weights or scratch.
    public static let tensorElements = 1 << 28
    /// Values in all tensors of a network together (2 GiB of doubles).
    public static let parameters = 1 << 28
    /// Values in one buffer a caller passes or receives (rows × features, rows × classes): 16 GiB of doubles.
    public static let bufferElements = 1 << 31
    /// Categories of one categorical variable (CFProto builds a categories × categories distance matrix).
    public static let categories = 1 << 12
    /// Features of a model without exact gradients: a numerical gradient predicts 2·d rows of d
    /// values in one call.
    public static let numericalGradientFeatures = 1 << 12
    /// Worker threads a config may ask for (n_threads; 0 = all cores).
    public static let threads = 4096
    /// Kernel size, stride and padding of a convolution or pooling layer.
    public static let window = 1 << 10
    /// Bytes of a file cfx reads (a spec, a weights or density file).
    public static let fileBytes = 1 << 33
    /// Doubles one network evaluator may hold for a pass over several rows (activations, gradients
    /// and scratch: 512 MiB); larger batches are evaluated in passes of fewer rows.
    public static let passElements = 1 << 26
    /// Doubles one row of a network needs in an evaluator (4 GiB): a network whose one example
    /// needs more is refused when it is built.
    public static let rowElements = 1 << 29
}

/// a × b, or nil when it overflows.
@inline(__always)
public func checkedProduct(_ a: Int, _ b: Int) -> Int? {
    let (product, overflow) = a.multipliedReportingOverflow(by: b)
    return overflow ? nil : product
}

/// a + b, or nil when it overflows.
@inline(__always)
public func checkedSum(_ a: Int, _ b: Int) -> Int? {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? nil : sum
}

/// The number of elements of `shape`, or nil when a dimension is negative or the product overflows.
public func checkedCount(_ shape: [Int]) -> Int? {
    var count = 1
    for n in shape {
        guard n >= 0, let product = checkedProduct(count, n) else { return nil }
        count = product
    }
    return count
}

/// Checks that `value` is in 1...`limit`, naming `what` (with `kind` as the error kind).
public func requireSize(_ value: Int, atMost limit: Int, _ what: String, kind: CFXError.Kind = .invalidArgument) throws {
    guard value >= 1 else { throw CFXError(kind, "\(what): must be at least 1, got \(value)") }
    guard value <= limit else { throw CFXError(kind, "\(what): \(value) is over the limit of \(limit)") }
}

/// rows × width as a buffer size, checked against `Limits.bufferElements`; `what` names the buffer.
public func bufferCount(rows: Int, width: Int, _ what: String) throws -> Int {
    guard let count = checkedProduct(rows, width), count <= Limits.bufferElements else {
        throw CFXError(.invalidArgument, "\(what): \(rows) rows × \(width) values is over the limit of \(Limits.bufferElements) values")
    }
    return count
}

/// Throws unless a model of `features` inputs can be differentiated numerically.
public func requireNumericalGradient(features: Int) throws {
    guard features <= Limits.numericalGradientFeatures else {
        throw CFXError(.invalidArgument, "model: numerical gradients of \(features) features would predict 2 × \(features) rows per gradient; the limit is \(Limits.numericalGradientFeatures) features without a vjp callback")
    }
}

/// Checks an `n_threads` config value (0 = all cores), naming `key`.
public func requireThreadCount(_ threads: Int, _ key: String = "n_threads") throws {
    guard (0...Limits.threads).contains(threads) else {
        throw CFXError.config(key, "must be in 0...\(Limits.threads) (0 = all cores), got \(threads)")
    }
}
