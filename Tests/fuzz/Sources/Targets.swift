import CCFX
import CFXABI
import CFXFormats
import Glibc

// The fuzz targets: each takes one input (bytes) and drives cfx's C functions with it, as a
// caller would. A target checks nothing itself: a crash, a hang, or a sanitizer report is the
// finding. Errors are the expected outcome for most inputs; every handle that was created is used
// once more after an error, to show it is still usable, and freed.

let targets: [String: ([UInt8]) -> Void] = [
    "spec": fuzzModelSpec,
    "config": fuzzExplainerConfig,
    "safetensors": fuzzWeightsFile,
    "density": fuzzDensityFile,
    "callbacks": fuzzCallbackModel,
    "convert": fuzzModelConvert,
    "writer": fuzzJSONWriter,
    "onnx": fuzzONNXFile,
    "onnx-parse": fuzzONNXBytes,
    "trees": fuzzTreeFile,
]

// MARK: Model specs

/// The bytes as a model spec: create it and, when that works, predict, differentiate and
/// write the spec back (and read it again).
func fuzzModelSpec(_ bytes: [UInt8]) {
    var model: OpaquePointer?
    var err = cfx_error()
    let started = monotonicNow()
    guard withCString(bytes, { cfx_model_create_json($0, &model, &err) }) == CFX_OK else { return }
    defer { cfx_model_free(model) }
    // A network large enough to take a while to build (up to CFX_MAX_PARAMETERS is legal) would
    // make its JSON round trip below take tens of seconds: creating it was the test.
    guard monotonicNow() - started < 0.05 else { return }
    exercise(model)
    // The same network in the other number type (float32 convolutions run through oneDNN) on two
    // threads (the intra-op pool).
    for options in [#"{"dtype":"float32","threads":2}"#, #"{"dtype":"float64"}"#] {
        var converted: OpaquePointer?
        guard cfx_model_convert(model, options, &converted, &err) == CFX_OK else { continue }
        exercise(converted)
        cfx_model_free(converted)
    }
    var spec: UnsafeMutablePointer<CChar>?
    if cfx_model_spec(model, &spec, &err) == CFX_OK, let spec {
        var again: OpaquePointer?
        _ = cfx_model_create_json(spec, &again, &err)
        cfx_model_free(again)
        cfx_free(spec)
    }
}

/// Predicts one row and takes one vector-Jacobian product, when the model is small enough for
/// this harness to allocate the buffers.
func exercise(_ model: OpaquePointer?) {
    var d = 0, k = 0
    var err = cfx_error()
    guard cfx_model_shape(model, &d, &k, &err) == CFX_OK, d <= 1 << 16, k <= 1 << 16 else { return }
    let x = [Double](repeating: 0.5, count: d)
    var proba = [Double](repeating: 0, count: k)
    _ = cfx_model_predict(model, x, 1, d, &proba, &err)
    var grad = [Double](repeating: 0, count: d)
    let cotangent = [Double](repeating: 1, count: k)
    _ = cfx_model_vjp(model, x, 1, d, cotangent, k, &grad, &err)
}

// MARK: Model conversions

/// The first byte picks a model (fixtureModels, or a float32 CNN), the rest is cfx_model_convert's
/// options: convert, predict and differentiate with the new handle, and the source once more.
func fuzzModelConvert(_ bytes: [UInt8]) {
    guard let first = bytes.first else { return }
    let models = fixtureModels + [float32Fixture]
    let model = models[Int(first) % models.count]
    var converted: OpaquePointer?
    var err = cfx_error()
    if withCString(Array(bytes.dropFirst()), { cfx_model_convert(model, $0, &converted, &err) }) == CFX_OK {
        exercise(converted)
        var again: OpaquePointer?
        if cfx_model_convert(converted, #"{"dtype":"float64","threads":1}"#, &again, &err) == CFX_OK { exercise(again) }
        cfx_model_free(again)
        cfx_model_free(converted)
    }
    exercise(model)
}

/// A float32 CNN with batch norm and a residual block, from its spec.
private let float32Fixture: OpaquePointer? = {
    let spec = #"{"input_shape":[2,6,6],"dtype":"float32","layers":[{"type":"conv2d","out_channels":4,"kernel_size":3,"padding":1},{"type":"batch_norm"},{"type":"relu"},{"type":"residual","main":[{"type":"conv2d","out_channels":4,"kernel_size":3,"padding":1},{"type":"relu"}]},{"type":"max_pool2d","kernel_size":2,"stride":2},{"type":"flatten"},{"type":"dense","outputs":3},{"type":"softmax"}]}"#
    var model: OpaquePointer?
    var err = cfx_error()
    _ = cfx_model_create_json(spec, &model, &err)
    return model
}()

// MARK: Explainer configs

/// Models the configs are tried on: a native MLP, a small CNN with a "features" output (for
/// DeDUCE), and a predict-only callback model.
private let fixtureModels: [OpaquePointer?] = {
    let specs = [
        #"{"input_shape":[4],"layers":[{"type":"dense","outputs":8},{"type":"relu"},{"type":"dense","outputs":3},{"type":"softmax"}]}"#,
        #"{"input_shape":[1,6,6],"layers":[{"type":"conv2d","out_channels":2,"kernel_size":3},{"type":"relu"},{"type":"global_avg_pool","name":"features"},{"type":"dense","outputs":3},{"type":"softmax"}]}"#,
    ]
    var models = specs.map { spec -> OpaquePointer? in
        var model: OpaquePointer?
        var err = cfx_error()
        _ = cfx_model_create_json(spec, &model, &err)
        return model
    }
    var callback: OpaquePointer?
    var err = cfx_error()
    _ = cfx_model_create_callbacks(4, 3, { _, x, n, d, proba in
        guard let x, let proba else { return 1 }
        for r in 0..<n {  // a softmax of (x0, x1, x2)
            let z = (0..<3).map { exp(min(x[r * d + $0], 50)) }
            let total = z.reduce(0, +)
            for c in 0..<3 { proba[r * 3 + c] = z[c] / total }
        }
        return 0
    }, nil, nil, &callback, &err)
    models.append(callback)
    return models
}()

/// The first byte picks a model, the rest is a config: create the explainer, fit it on 12 rows,
/// and explain 2 rows with a progress callback that cancels after 50 ms (so that a legal but
/// huge max_iter is no hang).
func fuzzExplainerConfig(_ bytes: [UInt8]) {
    guard let first = bytes.first else { return }
    let model = fixtureModels[Int(first) % fixtureModels.count]
    var d = 0, k = 0
    var err = cfx_error()
    guard cfx_model_shape(model, &d, &k, &err) == CFX_OK else { return }
    var explainer: OpaquePointer?
    guard withCString(Array(bytes.dropFirst()), { cfx_explainer_create(model, $0, &explainer, &err) }) == CFX_OK else { return }
    defer { cfx_explainer_free(explainer) }
    var config: UnsafeMutablePointer<CChar>?
    if cfx_explainer_config(explainer, &config, &err) == CFX_OK { cfx_free(config) }
    let rows = 12
    let x = (0..<rows * d).map { Double(($0 * 7919) % 13) / 13 }
    let y = (0..<rows).map { Double($0 % k) }
    _ = cfx_explainer_fit(explainer, x, rows, d, y, &err)
    var started = monotonicNow()
    var output: UnsafeMutablePointer<CChar>?
    _ = withUnsafeMutablePointer(to: &started) { startedPointer in
        cfx_explain_progress(explainer, x, 2, d, { user, _ in
            let started = user!.assumingMemoryBound(to: Double.self).pointee
            return monotonicNow() - started > 0.05 ? 1 : 0
        }, startedPointer, &output, &err)
    }
    cfx_free(output)
}

func monotonicNow() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

// MARK: Files

/// A scratch directory of this process for the files the targets write.
private let scratchDirectory: String = {
    var template = Array("/tmp/cfx-fuzz-XXXXXX".utf8CString)
    guard let made = mkdtemp(&template) else { return "/tmp" }
    return String(cString: made)
}()

private func writeScratch(_ name: String, _ bytes: [UInt8]) -> String {
    let path = "\(scratchDirectory)/\(name)"
    if let file = fopen(path, "wb") {
        _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
        fclose(file)
    }
    return path
}

/// Specs the weights file is read for (the first byte picks one): a dense network, and a
/// convolutional one with batch norm and spectral normalisation.
private let weightSpecs = [
    #"{"input_shape":[4],"layers":[{"type":"dense","outputs":3},{"type":"softmax"}],"weights":"w.safetensors"}"#,
    #"{"input_shape":[1,4,4],"layers":[{"type":"conv2d","out_channels":2,"kernel_size":3,"spectral_norm":{"coefficient":4}},{"type":"batch_norm"},{"type":"flatten"},{"type":"dense","outputs":2},{"type":"softmax"}],"weights":"w.safetensors"}"#,
]

/// The first byte picks a spec, the rest is its safetensors weights file.
func fuzzWeightsFile(_ bytes: [UInt8]) {
    guard let first = bytes.first else { return }
    _ = writeScratch("w.safetensors", Array(bytes.dropFirst()))
    let spec = writeScratch("m.json", Array(weightSpecs[Int(first) % weightSpecs.count].utf8))
    var model: OpaquePointer?
    var err = cfx_error()
    guard cfx_model_load(spec, &model, &err) == CFX_OK else { return }
    exercise(model)
    cfx_model_free(model)
}

/// The bytes as an ONNX file: load it (cfx_model_load reads a path ending in .onnx as ONNX) and,
/// when that works, predict, differentiate, convert to the other number type and write the spec.
func fuzzONNXFile(_ bytes: [UInt8]) {
    let path = writeScratch("m.onnx", bytes)
    var model: OpaquePointer?
    var err = cfx_error()
    guard cfx_model_load(path, &model, &err) == CFX_OK else { return }
    defer { cfx_model_free(model) }
    exercise(model)
    var converted: OpaquePointer?
    if cfx_model_convert(model, #"{"dtype":"float64"}"#, &converted, &err) == CFX_OK { exercise(converted) }
    cfx_model_free(converted)
    var spec: UnsafeMutablePointer<CChar>?
    if cfx_model_spec(model, &spec, &err) == CFX_OK { cfx_free(spec) }
}

/// The bytes as an ONNX model, parsed and built into a network in memory (networkFromONNX), with
/// no file and no evaluation: the reader and the graph builder alone, thousands of times faster
/// per input than `onnx`, for long campaigns.
func fuzzONNXBytes(_ bytes: [UInt8]) {
    _ = try? bytes.withUnsafeBytes { try networkFromONNX($0) }
}

/// The bytes as a tree-ensemble file (cfx_model_load tells XGBoost's JSON and LightGBM's text
/// by their first bytes; bytes that start like an ONNX ModelProto, 0x08, go to a .onnx path): load
/// it and, when that works, predict, ask for a gradient (an error), and explain one row with FOCUS
/// (the relaxed ensemble, its gradient and the threshold shrink) for a few steps.
func fuzzTreeFile(_ bytes: [UInt8]) {
    let path = writeScratch(bytes.first == 0x08 ? "trees.onnx" : "trees.model", bytes)
    var model: OpaquePointer?
    var err = cfx_error()
    guard cfx_model_load(path, &model, &err) == CFX_OK else { return }
    defer { cfx_model_free(model) }
    exercise(model)
    var d = 0, k = 0
    guard cfx_model_shape(model, &d, &k, &err) == CFX_OK, d <= 1 << 12 else { return }
    var explainer: OpaquePointer?
    let config = #"{"method":"focus","max_steps":20,"learning_rate":0.5,"sparsify":true,"n_threads":1}"#
    guard cfx_explainer_create(model, config, &explainer, &err) == CFX_OK else { return }
    defer { cfx_explainer_free(explainer) }
    var out: UnsafeMutablePointer<CChar>?
    if cfx_explain(explainer, [Double](repeating: 0.5, count: d), 1, d, &out, &err) == CFX_OK { cfx_free(out) }
}

/// The bytes as a density file: load it, describe it, score a feature vector, save it.
func fuzzDensityFile(_ bytes: [UInt8]) {
    let path = writeScratch("density.safetensors", bytes)
    var density: OpaquePointer?
    var err = cfx_error()
    guard cfx_density_load(path, &density, &err) == CFX_OK else { return }
    defer { cfx_density_free(density) }
    var info: UnsafeMutablePointer<CChar>?
    if cfx_density_info(density, &info, &err) == CFX_OK { cfx_free(info) }
    for dimension in [1, 2, 3, 8] {  // the density's own dimension succeeds, others are shape errors
        var mixture = [Double](repeating: 0, count: 1)
        _ = cfx_density_log_prob(density, nil, [Double](repeating: 0.1, count: dimension), 1, dimension, nil, &mixture, &err)
    }
    _ = cfx_density_save(density, "\(scratchDirectory)/saved.safetensors", &err)
}

// MARK: Callback models

/// Sizes a hostile caller might pass.
private let hostileSizes: [Int] = [0, 1, 2, 3, 7, 4096, 4097, 1 << 24, (1 << 24) + 1, 1 << 28, (1 << 28) + 1, 1 << 31, 1 << 32,
                                   1 << 40, (1 << 62) + 1, Int.max, -1]

/// What a fuzzed callback does, decoded from the input's bytes.
private struct Behaviour {
    var classes: Int
    var predict: UInt8
    var vjp: UInt8
    var scale: Double
}

/// Bytes: n_features, n_classes and row count (indices into hostileSizes), the output mode, then
/// how predict and vjp misbehave.
func fuzzCallbackModel(_ bytes: [UInt8]) {
    guard bytes.count >= 7 else { return }
    let d = hostileSizes[Int(bytes[0]) % hostileSizes.count]
    let k = hostileSizes[Int(bytes[1]) % hostileSizes.count]
    let n = hostileSizes[Int(bytes[2]) % hostileSizes.count]
    let options = [nil, #"{"output":"probabilities"}"#, #"{"output":"logits"}"#, #"{"output":"values"}"#, #"{"output":"odds"}"#, "{"][Int(bytes[3]) % 6]
    var behaviour = Behaviour(classes: k, predict: bytes[4], vjp: bytes[5], scale: [1, -1, 5, 1e200, 1e308, 0][Int(bytes[6]) % 6])
    var model: OpaquePointer?
    var err = cfx_error()
    let withVJP = behaviour.vjp % 2 == 1
    let created = withUnsafeMutablePointer(to: &behaviour) { user -> Bool in
        let status = options.map { text in
            cfx_model_create_callbacks_ex(d, k, hostilePredict, withVJP ? hostileVJP : nil, user, text, &model, &err)
        } ?? cfx_model_create_callbacks(d, k, hostilePredict, withVJP ? hostileVJP : nil, user, &model, &err)
        guard status == CFX_OK else { return false }
        defer { cfx_model_free(model) }
        // Buffers of the size the call claims, when small enough to allocate here; a row count
        // over the limits is passed with a small buffer, which cfx must refuse before reading it.
        guard d <= 4096, k <= 4096 else { return true }
        let rows = n <= 3 && n >= 1 ? n : 1
        let claimed = n >= 1 && n <= 3 ? n : (n > 1 << 31 || n < 0 ? n : 1)
        let x = [Double](repeating: 0.25, count: rows * d)
        var proba = [Double](repeating: 0, count: rows * k)
        _ = cfx_model_predict(model, x, claimed, d, &proba, &err)
        // Gradients and explanations for small models only (legal but slow beyond: CFProto on a
        // predict-only model of 4096 classes takes seconds): a predict-only model's numerical
        // gradient predicts 2·d rows of d values, which for thousands of features is legal but slow.
        guard d <= 64, k <= 64 else { return true }
        var grad = [Double](repeating: 0, count: rows * d)
        _ = cfx_model_vjp(model, x, claimed, d, [Double](repeating: 1, count: rows * k), k, &grad, &err)
        for config in [#"{"method":"wachter","max_iter":20,"max_lam_steps":1,"n_threads":1}"#,
                       #"{"method":"cfproto","max_iterations":20,"c_steps":1,"n_threads":1}"#] {
            var explainer: OpaquePointer?
            guard cfx_explainer_create(model, config, &explainer, &err) == CFX_OK else { continue }
            var output: UnsafeMutablePointer<CChar>?
            _ = cfx_explain(explainer, x, claimed, d, &output, &err)
            cfx_free(output)
            cfx_explainer_free(explainer)
        }
        return true
    }
    _ = created
}

/// predict: by `behaviour.predict`, a valid softmax times `scale`, negative values, zeros, NaN,
/// nothing written, or a failure status.
private let hostilePredict: cfx_predict_fn = { user, x, n, d, proba in
    guard let behaviour = user?.assumingMemoryBound(to: Behaviour.self).pointee, let proba, let x else { return 1 }
    let k = behaviour.classes
    switch behaviour.predict % 6 {
    case 0:
        for r in 0..<n {
            let z = (0..<k).map { exp(min(x[r * d + $0 % d], 50)) }
            let total = z.reduce(0, +)
            for c in 0..<k { proba[r * k + c] = behaviour.scale * z[c] / total }
        }
    case 1: for i in 0..<n * k { proba[i] = -0.5 }
    case 2: for i in 0..<n * k { proba[i] = 0 }
    case 3: for i in 0..<n * k { proba[i] = .nan }
    case 4: break
    default: return 2
    }
    return 0
}

/// The vjp: gradients times `scale`, NaN, nothing written, or a failure status.
private let hostileVJP: cfx_vjp_fn = { user, _, n, d, _, _, grad in
    guard let behaviour = user?.assumingMemoryBound(to: Behaviour.self).pointee, let grad else { return 1 }
    switch (behaviour.vjp / 2) % 4 {
    case 0: for i in 0..<n * d { grad[i] = 0.01 * behaviour.scale }
    case 1: for i in 0..<n * d { grad[i] = .nan }
    case 2: break
    default: return 3
    }
    return 0
}
