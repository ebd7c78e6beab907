import CCFX
import CFXCore
import CFXFormats

/// What a `cfx_model *` points at.
final class ModelHandle {
    let model: Classifier
    /// The spec's "metadata" of a native network, written back when it is saved.
    let metadata: JSON?
    /// Threads that cfx_model_predict and cfx_model_vjp give one call's network evaluations.
    let threads: Int
    /// A native network's evaluators kept between cfx_model_predict / cfx_model_vjp calls.
    let evaluators: EvaluatorCache?
    init(_ model: Classifier, metadata: JSON? = nil, threads: Int = 1) {
        self.model = model
        self.metadata = metadata
        self.threads = threads
        self.evaluators = (model as? Network).map(EvaluatorCache.init)
    }
}

/// What a `cfx_explainer *` points at. Holds its own reference to the model (and to auxiliary
/// models). Setting a model or fitting swaps the prepared method under a lock, so explain calls
/// running at the same time see either the old or the new state, never a mix.
final class ExplainerHandle: Sendable {
    let model: Classifier
    let method: ConfiguredMethod
    private struct State {
        var inputs = MethodInputs()
        var prepared: PreparedMethod?
    }
    private let state = Locked(State())

    init(model: Classifier, method: ConfiguredMethod) {
        self.model = model
        self.method = method
    }

    func setModel(_ role: String, _ auxiliary: Classifier) throws {
        guard method.modelRoles.contains(role) else {
            let accepted = method.modelRoles.isEmpty ? "none" : method.modelRoles.joined(separator: ", ")
            throw CFXError.config("role", "this method takes no \"\(role)\" model (it accepts: \(accepted))")
        }
        state.withLock {
            $0.inputs.models[role] = auxiliary
            $0.prepared = nil
        }
    }

    /// Gives the method a fitted feature density (replacing any fit), prepared now so that a
    /// density that does not fit the model is an error here.
    func setDensity(_ density: FeatureDensity) throws {
        try prepareNow { $0.density = density; $0.training = nil }
    }

    /// Prepares the method on the training data now, so that fitting errors surface here.
    func fit(_ data: Dataset) throws {
        try prepareNow { $0.training = data; $0.density = nil }
    }

    /// Changes the inputs and prepares the method with them; on an error nothing changes.
    private func prepareNow(_ change: (inout MethodInputs) -> Void) throws {
        try state.withLock { state in
            var inputs = state.inputs
            change(&inputs)
            state = State(inputs: inputs, prepared: try method.prepare(inputs))
        }
    }

    func prepared() throws -> PreparedMethod {
        try state.withLock { state in
            if let prepared = state.prepared { return prepared }
            let prepared = try method.prepare(state.inputs)
            state.prepared = prepared
            return prepared
        }
    }
}

// MARK: Handles

/// What kind of object a handle points at: the type tag every handle carries, so that passing one
/// kind where another is expected (easy through ctypes' void pointers), or a freed or foreign
/// pointer, is an invalid-argument error rather than undefined behaviour.
enum HandleKind: String {
    case model = "cfx_model", explainer = "cfx_explainer", density = "cfx_density", evaluator = "cfx_evaluator"
}

/// The live handles and their kinds: every handle cfx has given out and not yet freed.
private let liveHandles = Locked<[UnsafeRawPointer: HandleKind]>([:])

func retainedHandle(_ object: AnyObject, _ kind: HandleKind) -> OpaquePointer {
    let pointer = Unmanaged.passRetained(object).toOpaque()
    liveHandles.withLock { $0[UnsafeRawPointer(pointer)] = kind }
    return OpaquePointer(pointer)
}

/// The object behind a live handle of `kind`; `name` (the argument) starts every error.
func object<T: AnyObject>(_ handle: OpaquePointer?, _ kind: HandleKind, _ type: T.Type, _ name: String) throws -> T {
    guard let handle else { throw CFXError(.invalidArgument, "\(name): NULL handle") }
    let pointer = UnsafeRawPointer(handle)
    switch liveHandles.withLock({ $0[pointer] }) {
    case kind?: return Unmanaged<T>.fromOpaque(pointer).takeUnretainedValue()
    case let other?: throw CFXError(.invalidArgument, "\(name): this handle is a \(other.rawValue), not a \(kind.rawValue)")
    case nil: throw CFXError(.invalidArgument, "\(name): not a live \(kind.rawValue) (freed already, or not created by cfx)")
    }
}

/// A handle whose calls take rows of its model's inputs.
protocol ModelHolding: AnyObject {
    var model: Classifier { get }
}

extension ModelHandle: ModelHolding {}
extension ExplainerHandle: ModelHolding {}

/// The object behind a live handle of `kind` (`object`), then the n × d rows `x` checked against its
/// model (`rows`): the first two steps of every call that takes a handle and rows.
func objectAndRows<T: ModelHolding>(_ handle: OpaquePointer?, _ kind: HandleKind, _ type: T.Type, _ name: String,
                                    _ x: UnsafePointer<Double>?, _ n: Int, _ d: Int) throws -> (T, [Double]) {
    let holder = try object(handle, kind, type, name)
    return (holder, try rows(x, n, d, model: holder.model))
}

/// Frees a handle of `kind`. NULL, a handle of another kind, and one freed already are ignored.
func release(_ handle: OpaquePointer?, _ kind: HandleKind) {
    guard let handle else { return }
    let pointer = UnsafeRawPointer(handle)
    let removed = liveHandles.withLock { live -> Bool in
        guard live[pointer] == kind else { return false }
        live[pointer] = nil
        return true
    }
    if removed { Unmanaged<AnyObject>.fromOpaque(pointer).release() }
}

// MARK: Errors

/// The C status of each error kind, spelled out so that a new kind cannot shift the codes.
func status(of kind: CFXError.Kind) -> cfx_status {
    switch kind {
    case .invalidArgument: return CFX_ERR_INVALID_ARGUMENT
    case .json: return CFX_ERR_JSON
    case .config: return CFX_ERR_CONFIG
    case .model: return CFX_ERR_MODEL
    case .shape: return CFX_ERR_SHAPE
    case .numeric: return CFX_ERR_NUMERIC
    case .callback: return CFX_ERR_CALLBACK
    case .cancelled: return CFX_ERR_CANCELLED
    case .io: return CFX_ERR_IO
    case .internalError: return CFX_ERR_INTERNAL
    }
}

/// `withStatus` for a function that hands its result (a string or handle the caller frees) out
/// through `pointer`, named `name` in errors: `*pointer` is NULL unless `body` returns.
func withStatus<T>(_ err: UnsafeMutablePointer<cfx_error>?, returning pointer: UnsafeMutablePointer<T?>?, _ name: String,
                   _ body: () throws -> T) -> cfx_status {
    withStatus(err) {
        let out = try output(pointer, name)
        out.pointee = try body()
    }
}

/// Runs `body`, turning any error into a status and a message in `err` (cleared on success).
func withStatus(_ err: UnsafeMutablePointer<cfx_error>?, _ body: () throws -> Void) -> cfx_status {
    let code: cfx_status
    let message: String
    do {
        try body()
        (code, message) = (CFX_OK, "")
    } catch let error as CFXError {
        (code, message) = (status(of: error.kind), error.message)
    } catch {
        (code, message) = (CFX_ERR_INTERNAL, "\(error)")
    }
    if let err {
        err.pointee.code = code
        withUnsafeMutableBytes(of: &err.pointee.message) { buffer in
            let bytes = utf8Prefix(message, maxBytes: buffer.count - 1)
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
    }
    return code
}

/// The longest prefix of `text` that fits in `maxBytes` without splitting a character.
func utf8Prefix(_ text: String, maxBytes: Int) -> [UInt8] {
    var bytes: [UInt8] = []
    for scalar in text.unicodeScalars {
        let encoded = Array(String(scalar).utf8)
        if bytes.count + encoded.count > maxBytes { break }
        bytes += encoded
    }
    return bytes
}

// MARK: Arguments: one check for each kind of argument, used by every function

func required<T>(_ pointer: T?, _ name: String) throws -> T {
    guard let pointer else { throw CFXError(.invalidArgument, "\(name): NULL pointer") }
    return pointer
}

/// Clears an out-parameter (so that it is NULL after any error) and requires it: every function
/// with an out-parameter calls this first, before anything can fail.
func output<T>(_ pointer: UnsafeMutablePointer<T?>?, _ name: String) throws -> UnsafeMutablePointer<T?> {
    pointer?.pointee = nil
    return try required(pointer, name)
}

/// A caller's row and feature counts, checked: 1...2^31 values in all, d ≤ CFX_MAX_FEATURES.
/// Returns n × d.
func checkedRows(_ n: Int, _ d: Int, _ name: String) throws -> Int {
    // size_t arrives as Int: values of 2^63 and more look negative.
    guard n != 0 else { throw CFXError(.invalidArgument, "n: must be at least 1 row, got 0") }
    guard n > 0 else { throw CFXError(.invalidArgument, "n: \(UInt(bitPattern: n)) rows is over the limit of \(Limits.bufferElements) values") }
    guard d > 0, d <= Limits.features else {
        throw CFXError(.invalidArgument, "d: must be between 1 and \(Limits.features) features, got \(UInt(bitPattern: d))")
    }
    return try bufferCount(rows: n, width: d, name)
}

/// Copies an n × d buffer from the caller after checking it fits the model (and, unless
/// `finite` is false, that every value is finite).
func rows(_ x: UnsafePointer<Double>?, _ n: Int, _ d: Int, model: Classifier, _ name: String = "x", finite: Bool = true) throws -> [Double] {
    let x = try required(x, name)
    let count = try checkedRows(n, d, name)
    try model.checkShape(count: count, rows: n, features: d, name)
    // Also n × k for the probabilities a call may return.
    _ = try bufferCount(rows: n, width: model.classCount, "\(name) (n × classes)")
    let values = Array(UnsafeBufferPointer(start: x, count: count))
    if finite, let i = values.firstIndex(where: { !$0.isFinite }) {
        throw CFXError(.numeric, "\(name): row \(i / d), feature \(i % d) is \(values[i]); only finite numbers are accepted")
    }
    return values
}

/// n class labels given as doubles, one per row: a non-finite label is CFX_ERR_NUMERIC, one that
/// is not a whole number in 0..<classCount is CFX_ERR_INVALID_ARGUMENT; `name` names the buffer.
func classLabels(_ y: UnsafePointer<Double>, _ n: Int, classCount: Int, _ name: String) throws -> [Int] {
    try UnsafeBufferPointer(start: y, count: n).enumerated().map { i, label in
        guard label.isFinite else { throw CFXError(.numeric, "\(name)[\(i)] is \(label); class labels must be finite") }
        guard label == label.rounded() else {
            throw CFXError(.invalidArgument, "\(name)[\(i)]: \(label) is not a class index (a whole number)")
        }
        guard label >= 0, label < Double(classCount) else {
            throw CFXError(.invalidArgument, "\(name)[\(i)]: class \(label) is out of range for a model with \(classCount) classes")
        }
        return Int(label)
    }
}

/// The native network behind a model, or an invalid-argument error saying what needs one.
func nativeNetwork(_ model: Classifier, _ what: String) throws -> Network {
    guard let network = model as? Network else {
        throw CFXError(.invalidArgument, "model: only native models can be \(what); this one is a callback model, not a native network")
    }
    return network
}
