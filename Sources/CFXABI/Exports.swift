import CCFX
import CFXCore
import CFXFormats
import Glibc

// The functions of include/cfx.h. Each one checks its arguments, calls the core and converts
// errors to a status; none of them holds logic of its own.

private let versionString = strdup(CFX_VERSION_STRING)!

@_cdecl("cfx_version")
public func cfx_version() -> UnsafePointer<CChar> { UnsafePointer(versionString) }

private let statusStrings: [UnsafeMutablePointer<CChar>] = ([
    "ok", "invalid argument", "invalid JSON", "invalid config", "invalid model", "shape mismatch",
    "non-finite number", "callback failed", "cancelled", "internal error", "input/output error",
] as [String]).map { strdup($0)! }
private let unknownStatus = strdup("unknown status")!

@_cdecl("cfx_status_string")
public func cfx_status_string(_ status: cfx_status) -> UnsafePointer<CChar> {
    // CFX_ERR_IO (10) came after CFX_ERR_INTERNAL (9): its string is last.
    let i = Int(status.rawValue)
    return UnsafePointer(i < statusStrings.count ? statusStrings[i] : unknownStatus)
}

@_cdecl("cfx_free")
public func cfx_free(_ pointer: UnsafeMutableRawPointer?) { free(pointer) }

@_cdecl("cfx_runtime_info")
public func cfx_runtime_info(_ jsonOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                             _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: jsonOut, "json_out") {
        let conv = ConvolutionBackend.current
        return try JSON.object([
            ("version", .string(CFX_VERSION_STRING)), ("openblas_core", .string(blasCoreName())),
            ("conv_backend", .string(conv.name)), ("onednn", conv.oneDNNVersion.map(JSON.string) ?? .null),
            ("onednn_isa", conv.oneDNNISA.map(JSON.string) ?? .null), ("cores", .int(availableCores())),
            ("isa", .string(KernelSet.current)), ("isa_supported", .array(KernelSet.supported.map { .string($0) })),
        ]).serialized()
    }
}

// MARK: Models

@_cdecl("cfx_model_create_json")
public func cfx_model_create_json(_ spec: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                                  _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: out, "out") {
        let specJSON = try JSON.parse(try required(spec, "spec_json"), "spec_json")
        let network = try networkFromSpec(specJSON)  // "weights": relative to the current directory
        return retainedHandle(ModelHandle(network, metadata: specJSON["metadata"]), .model)
    }
}

/// The caller's C callbacks; `user` is theirs and only passed back.
private struct CallbackFunctions: @unchecked Sendable {
    let predict: cfx_predict_fn
    let vjp: cfx_vjp_fn?
    let user: UnsafeMutableRawPointer?
}

@_cdecl("cfx_model_create_callbacks")
public func cfx_model_create_callbacks(_ nFeatures: Int, _ nClasses: Int, _ predict: cfx_predict_fn?, _ vjp: cfx_vjp_fn?,
                                       _ user: UnsafeMutableRawPointer?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                                       _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    cfx_model_create_callbacks_ex(nFeatures, nClasses, predict, vjp, user, nil, out, err)
}

@_cdecl("cfx_model_create_callbacks_ex")
public func cfx_model_create_callbacks_ex(_ nFeatures: Int, _ nClasses: Int, _ predict: cfx_predict_fn?, _ vjp: cfx_vjp_fn?,
                                          _ user: UnsafeMutableRawPointer?, _ options: UnsafePointer<CChar>?,
                                          _ out: UnsafeMutablePointer<OpaquePointer?>?,
                                          _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: out, "out") {
        let functions = CallbackFunctions(predict: try required(predict, "predict"), vjp: vjp, user: user)
        var kind = CallbackClassifier.Output.probabilities
        if let options {
            let json = try JSON.parse(options, "options_json")
            for (key, value) in try json.members("options_json") {
                guard key == "output" else { throw CFXError.config(key, "unknown key for a callback model; known keys: output") }
                let name = try value.text("output")
                guard let parsed = CallbackClassifier.Output(rawValue: name) else {
                    throw CFXError.config("output", "expected \"probabilities\", \"logits\" or \"values\", got \"\(name)\"")
                }
                kind = parsed
            }
        }
        return retainedHandle(ModelHandle(try callbackModel(nFeatures, nClasses, kind, functions)), .model)
    }
}

private func callbackModel(_ d: Int, _ k: Int, _ output: CallbackClassifier.Output, _ functions: CallbackFunctions) throws -> CallbackClassifier {
    let predict: CallbackClassifier.Predict = { x, rows, proba in
        proba.update(repeating: .nan)  // rows the callback leaves unwritten are caught as NaN
        let status = functions.predict(functions.user, x.baseAddress, rows, d, proba.baseAddress)
        if status != 0 { throw CFXError(.callback, "the predict callback returned \(status)") }
    }
    let vjp: CallbackClassifier.VectorJacobianProduct = { x, rows, cotangent, grad in
        guard let vjp = functions.vjp else { return }
        grad.update(repeating: .nan)  // gradients the callback leaves unwritten are caught as NaN
        let status = vjp(functions.user, x.baseAddress, rows, d, cotangent.baseAddress, k, grad.baseAddress)
        if status != 0 { throw CFXError(.callback, "the vjp callback returned \(status)") }
    }
    return try CallbackClassifier(featureCount: d, classCount: k, output: output, predict: predict,
                                  vjp: functions.vjp == nil ? nil : vjp)
}

@_cdecl("cfx_model_free")
public func cfx_model_free(_ model: OpaquePointer?) { release(model, .model) }

@_cdecl("cfx_model_shape")
public func cfx_model_shape(_ handle: OpaquePointer?, _ nFeatures: UnsafeMutablePointer<Int>?, _ nClasses: UnsafeMutablePointer<Int>?,
                            _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err) {
        let model = try object(handle, .model, ModelHandle.self, "model").model
        nFeatures?.pointee = model.featureCount
        nClasses?.pointee = model.classCount
    }
}

@_cdecl("cfx_model_predict")
public func cfx_model_predict(_ handle: OpaquePointer?, _ x: UnsafePointer<Double>?, _ n: Int, _ d: Int,
                              _ probaOut: UnsafeMutablePointer<Double>?, _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err) {
        let (handle, values) = try objectAndRows(handle, .model, ModelHandle.self, "model", x, n, d)
        let out = try required(probaOut, "proba_out")
        let proba = try IntraOpThreads.with(handle.threads) {
            if let evaluators = handle.evaluators { return try evaluators.predict(values, rows: n) }
            return try ModelSession(model: handle.model).predict(values, rows: n)
        }
        out.update(from: proba, count: proba.count)
    }
}

/// cfx_model_vjp differentiates predict-only callback models by central differences with this step.
private let numericalVJPStep = 1e-5

@_cdecl("cfx_model_vjp")
public func cfx_model_vjp(_ handle: OpaquePointer?, _ x: UnsafePointer<Double>?, _ n: Int, _ d: Int,
                          _ cotangent: UnsafePointer<Double>?, _ k: Int, _ gradOut: UnsafeMutablePointer<Double>?,
                          _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err) {
        let (handle, values) = try objectAndRows(handle, .model, ModelHandle.self, "model", x, n, d)
        let model = handle.model
        guard k == model.classCount else {
            throw CFXError(.shape, "cotangent has \(k) values per row, the model has \(model.classCount) classes")
        }
        let cotangents = Array(UnsafeBufferPointer(start: try required(cotangent, "cotangent"), count: try bufferCount(rows: n, width: k, "cotangent")))
        try requireFinite(cotangents, "cotangent")
        let out = try required(gradOut, "grad_out")
        try IntraOpThreads.with(handle.threads) {
            if let evaluators = handle.evaluators {
                try evaluators.pullback(at: values, rows: n, cotangent: cotangents, into: out)
                return
            }
            let session = ModelSession(model: model, eps: numericalVJPStep)
            var grad = [Double](repeating: 0, count: d)
            for r in 0..<n {
                try session.pullback(at: Array(values[r * d..<(r + 1) * d]), cotangent: Array(cotangents[r * k..<(r + 1) * k]), into: &grad)
                (out + r * d).update(from: grad, count: d)
            }
        }
    }
}

@_cdecl("cfx_model_convert")
public func cfx_model_convert(_ handle: OpaquePointer?, _ options: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                              _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: out, "out") {
        let source = try object(handle, .model, ModelHandle.self, "model")
        var dtype: DType?, threads = source.threads, relaxSigma: Double?
        if let options {
            let json = try JSON.parse(options, "options_json")
            for (key, value) in try json.members("options_json") {
                switch key {
                case "dtype":
                    _ = try nativeNetwork(source.model, "converted to another dtype")
                    dtype = try readDType(value, "dtype")
                case "threads":
                    let count = try value.integer("threads")
                    try requireThreadCount(count, "threads")
                    threads = count == 0 ? availableCores() : count
                case "relax_sigma":
                    guard source.model.treeEnsemble != nil else {
                        throw CFXError.config(key, "applies to a tree ensemble (cfx_model_load of an XGBoost, LightGBM or ONNX tree model)")
                    }
                    let sigma = try value.number(key)
                    try RelaxedTreeEnsemble.checkSigma(sigma, key: key)
                    relaxSigma = sigma
                default:
                    throw CFXError.config(key, "unknown key for cfx_model_convert; known keys: dtype, threads, relax_sigma")
                }
            }
        }
        if let relaxSigma, let ensemble = source.model.treeEnsemble {
            let model = try TreeEnsembleWithRelaxedGradient(ensemble, sigma: relaxSigma)
            return retainedHandle(ModelHandle(model, metadata: source.metadata, threads: threads), .model)
        }
        // A native network gets tensors of its own, so that training one handle leaves the other as
        // it was; a callback model holds no state to copy.
        let network = source.model as? Network
        let model = try network.map { try $0.copy(as: dtype ?? $0.dtype) } ?? source.model
        return retainedHandle(ModelHandle(model, metadata: source.metadata, threads: threads), .model)
    }
}

// MARK: Explainers

@_cdecl("cfx_default_config")
public func cfx_default_config(_ method: UnsafePointer<CChar>?, _ jsonOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                               _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: jsonOut, "json_out") {
        let name = String(cString: try required(method, "method"))
        return try (name == "train" ? trainingDefaultConfig() : MethodEntry.defaultConfig(name)).serialized()
    }
}

@_cdecl("cfx_methods")
public func cfx_methods(_ jsonOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: jsonOut, "json_out") { try MethodEntry.catalogue().serialized() }
}

@_cdecl("cfx_explainer_create")
public func cfx_explainer_create(_ modelHandle: OpaquePointer?, _ config: UnsafePointer<CChar>?,
                                 _ out: UnsafeMutablePointer<OpaquePointer?>?, _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: out, "out") {
        let model = try object(modelHandle, .model, ModelHandle.self, "model").model
        let method = try MethodEntry.configure(model: model, config: try JSON.parse(try required(config, "config_json"), "config_json"))
        return retainedHandle(ExplainerHandle(model: model, method: method), .explainer)
    }
}

@_cdecl("cfx_explainer_free")
public func cfx_explainer_free(_ explainer: OpaquePointer?) { release(explainer, .explainer) }

@_cdecl("cfx_explainer_config")
public func cfx_explainer_config(_ handle: OpaquePointer?, _ jsonOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                 _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: jsonOut, "json_out") {
        let explainer = try object(handle, .explainer, ExplainerHandle.self, "explainer")
        return try explainer.method.effectiveConfig.serialized()
    }
}

@_cdecl("cfx_explainer_set_model")
public func cfx_explainer_set_model(_ handle: OpaquePointer?, _ role: UnsafePointer<CChar>?, _ modelHandle: OpaquePointer?,
                                    _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err) {
        let explainer = try object(handle, .explainer, ExplainerHandle.self, "explainer")
        let role = String(cString: try required(role, "role"))
        try explainer.setModel(role, try object(modelHandle, .model, ModelHandle.self, "model").model)
    }
}

@_cdecl("cfx_explainer_fit")
public func cfx_explainer_fit(_ handle: OpaquePointer?, _ x: UnsafePointer<Double>?, _ n: Int, _ d: Int,
                              _ y: UnsafePointer<Double>?, _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err) {
        let (explainer, values) = try objectAndRows(handle, .explainer, ExplainerHandle.self, "explainer", x, n, d)
        let labels = try y.map { try classLabels($0, n, classCount: explainer.model.classCount, "y") }
        try explainer.fit(try Dataset(x: values, rows: n, features: d, labels: labels, classCount: explainer.model.classCount))
    }
}

@_cdecl("cfx_explain")
public func cfx_explain(_ handle: OpaquePointer?, _ x: UnsafePointer<Double>?, _ n: Int, _ d: Int,
                        _ jsonOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                        _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    cfx_explain_progress(handle, x, n, d, nil, nil, jsonOut, err)
}

@_cdecl("cfx_explain_progress")
public func cfx_explain_progress(_ handle: OpaquePointer?, _ x: UnsafePointer<Double>?, _ n: Int, _ d: Int,
                                 _ progress: cfx_progress_fn?, _ user: UnsafeMutableRawPointer?,
                                 _ jsonOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                 _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: jsonOut, "json_out") {
        let explainer = try object(handle, .explainer, ExplainerHandle.self, "explainer")
        // With "on_error": "record", a non-finite row is recorded as that row's error.
        let values = try rows(x, n, d, model: explainer.model, finite: !explainer.method.recordsErrors)
        let started = monotonicSeconds()
        let control = RunControl(progress: progress.map { callback in
            { done, total, iterations in
                let report = JSON.object([("instances_done", .int(done)), ("instances_total", .int(total)),
                                          ("iterations", .int(iterations)), ("seconds", .double(monotonicSeconds() - started))])
                guard let text = try? report.serialized() else { return true }
                defer { free(text) }
                return callback(user, text) == 0
            }
        })
        let threads = explainer.method.threads > 0 ? explainer.method.threads : availableCores()
        let prepared = try explainer.prepared()
        let explanations = try prepared.explain(values, rows: n, features: d, threads: explainer.method.threads,
                                                recordingErrors: explainer.method.recordsErrors, control: control)
        let result = JSON.object([
            ("explanations", .array(explanations)),
            ("seconds", .double(monotonicSeconds() - started)),
            ("n_threads", .int(min(threads, n))),
        ])
        return try result.serialized()
    }
}
