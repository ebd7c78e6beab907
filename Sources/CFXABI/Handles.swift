import CCFX
import CFXCore
import CFXFormats
import Synchronization

/// What a `cfx_model *` points at.
final class ModelHandle {
    let model: Classifier
    /// The spec's "metadata" of a native network, written back when it is saved.
    let metadata: JSON?
    init(_ model: Classifier, metadata: JSON? = nil) {
        self.model = model
        self.metadata = metadata
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
    private let state = Mutex(State())

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

func retainedHandle(_ object: AnyObject) -> OpaquePointer {
    OpaquePointer(Unmanaged.passRetained(object).toOpaque())
}

func object<T: AnyObject>(_ handle: OpaquePointer?, _ type: T.Type, _ name: String) throws -> T {
    guard let handle else { throw CFXError(.invalidArgument, "\(name): NULL handle") }
    return Unmanaged<T>.fromOpaque(UnsafeRawPointer(handle)).takeUnretainedValue()
}

func release(_ handle: OpaquePointer?) {
    guard let handle else { return }
    Unmanaged<AnyObject>.fromOpaque(UnsafeRawPointer(handle)).release()
}

/// Runs `body`, turning any error into a status and a message in `err` (cleared on success).
func withStatus(_ err: UnsafeMutablePointer<cfx_error>?, _ body: () throws -> Void) -> cfx_status {
    let status: cfx_status
    let message: String
    do {
        try body()
        (status, message) = (CFX_OK, "")
    } catch let error as CFXError {
        (status, message) = (cfx_status(UInt32(error.kind.rawValue)), error.message)
    } catch {
        (status, message) = (CFX_ERR_INTERNAL, "\(error)")
    }
    if let err {
        err.pointee.code = status
        withUnsafeMutableBytes(of: &err.pointee.message) { buffer in
            let bytes = utf8Prefix(message, maxBytes: buffer.count - 1)
            buffer.copyBytes(from: bytes)
            buffer[bytes.count] = 0
        }
    }
    return status
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

func required<T>(_ pointer: T?, _ name: String) throws -> T {
    guard let pointer else { throw CFXError(.invalidArgument, "\(name): NULL pointer") }
    return pointer
}

/// Copies an n × d buffer from the caller after checking it fits the model (and, unless
/// `finite` is false, that every value is finite).
func rows(_ x: UnsafePointer<Double>?, _ n: Int, _ d: Int, model: Classifier, _ name: String = "x", finite: Bool = true) throws -> [Double] {
    let x = try required(x, name)
    // size_t arrives as Int: values of 2^63 and more look negative.
    guard n > 0 else { throw CFXError(.invalidArgument, "n: must be between 1 and 2^63 - 1 rows, got \(UInt(bitPattern: n))") }
    guard d > 0 else { throw CFXError(.invalidArgument, "d: must be between 1 and 2^63 - 1 features, got \(UInt(bitPattern: d))") }
    let (count, overflow) = n.multipliedReportingOverflow(by: d)
    guard !overflow else { throw CFXError(.shape, "\(name): \(n) × \(d) values overflow") }
    try model.checkShape(count: count, rows: n, features: d, name)
    let values = Array(UnsafeBufferPointer(start: x, count: count))
    if finite, let i = values.firstIndex(where: { !$0.isFinite }) {
        throw CFXError(.numeric, "\(name): row \(i / d), feature \(i % d) is \(values[i]); only finite numbers are accepted")
    }
    return values
}

