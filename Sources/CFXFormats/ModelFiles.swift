import CFXCore
import Glibc

// Model files: a spec (JSON) on disk, with its tensors inline or in a safetensors file that the
// spec names by "weights", a path relative to the spec file's directory.
//
// A weights file holds every saved tensor of the network (roles trainable and state, by full name,
// "layers.3.main.0.weight") with its exact shape. Loading is strict: a tensor missing from the file,
// a shape that differs, or a tensor the network does not have is an error naming the tensor and
// the file. Tensors whose names start with `ignoredTensorPrefix` ("extra.") are skipped, so that an
// exporter can keep tensors of its own (PyTorch's num_batches_tracked, say) in the same file.
// A tensor may be given inline in the spec or in the file, not both.

/// Tensors in a weights file whose names start with this are ignored on loading.
public let ignoredTensorPrefix = "extra."

/// Reads a model file: the spec at `specPath` and the weights file it names (relative to the
/// spec's directory). Errors in the spec start with the spec's path; errors in the weights file
/// name that file and the tensor.
public func loadNetwork(specPath: String) throws -> Network {
    try loadNetworkFile(specPath: specPath).network
}

/// As `loadNetwork(specPath:)`, also returning the spec's "metadata" (kept for saving).
/// A path ending in .onnx is read as an ONNX model (ONNX/ONNXImport.swift), without metadata.
public func loadNetworkFile(specPath: String) throws -> (network: Network, metadata: JSON?) {
    if isONNXPath(specPath) { return (try loadONNXNetwork(path: specPath), nil) }
    let spec = try readSpecFile(specPath)
    let network: Network, inline: Set<String>, weights: String?
    do {
        (network, inline, weights) = try networkFromSpecAlone(spec)
    } catch let error as CFXError {
        throw error.prefixed(specPath)
    }
    if let weights {
        try loadWeights(into: network, path: resolvePath(weights, relativeTo: directoryOf(specPath)), inlineTensors: inline)
    }
    network.parametersChanged()
    return (network, spec["metadata"])
}

/// The JSON of a spec file; an unreadable file is a model error, bad JSON a JSON error, both
/// naming the path.
public func readSpecFile(_ path: String) throws -> JSON {
    var bytes = try readFileBytes(path)
    if let nul = bytes.firstIndex(of: 0) {
        throw CFXError(.json, "\(path): a NUL byte at offset \(nul); a spec is JSON text")
    }
    bytes.append(0)
    return try bytes.withUnsafeBufferPointer {
        try JSON.parse(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), path)
    }
}

/// Fills the network's saved tensors (trainable and state) from a safetensors file, except those
/// in `inlineTensors` (given by the spec), which the file must not hold. Does not call
/// `parametersChanged()`: the caller does, once everything is set.
public func loadWeights(into network: Network, path: String, inlineTensors: Set<String> = []) throws {
    let file = try readSafetensors(path: path) { $0.hasPrefix(ignoredTensorPrefix) }
    var byName: [String: SafetensorsTensor] = [:]
    for tensor in file.tensors { byName[tensor.name] = tensor }
    for (name, spec, range) in network.parameterList where spec.role != .derived {
        let tensor = byName.removeValue(forKey: name)
        if inlineTensors.contains(name) {
            if tensor != nil { throw CFXError(.model, "\(name): given both inline in the spec and in \(path); give it once") }
            continue
        }
        guard let tensor else { throw CFXError(.model, "\(name): missing from \(path)") }
        guard tensor.shape == spec.shape else {
            let transposed = tensor.shape.count == 2 && tensor.shape.reversed() == spec.shape
            throw CFXError(.model, "\(name): shape \(tensor.shape) in \(path), the network expects \(spec.shape)"
                + (transposed ? " (outputs × inputs, PyTorch's layout): transpose it" : ""))
        }
        _ = UnsafeMutableBufferPointer(rebasing: network.parameters[range]).update(fromContentsOf: tensor.values)
    }
    if !byName.isEmpty {
        let derived = Set(network.parameterList.filter { $0.spec.role == .derived }.map(\.name))
        let extra = file.tensors.map(\.name).filter { byName[$0] != nil }
        let first = extra[0]
        let why = derived.contains(first) ? "is derived (recomputed on loading) and is not saved"
            : "the network has no such tensor"
        let more = extra.count > 1 ? " (and \(extra.count - 1) more: \(extra.dropFirst().prefix(5).joined(separator: ", "))\(extra.count > 6 ? ", ..." : ""))" : ""
        throw CFXError(.model, "\(first): in \(path), but \(why)\(more); prefix tensors cfx should skip with \"\(ignoredTensorPrefix)\"")
    }
}

/// The network's saved tensors (trainable and state) as a safetensors file.
public func weightsFile(of network: Network) -> SafetensorsFile {
    SafetensorsFile(
        tensors: network.parameterList.filter { $0.spec.role != .derived }.map {
            SafetensorsTensor(name: $0.name, shape: $0.spec.shape, values: Array(network.parameters[$0.range]))
        },
        metadata: [("format", "pt"), ("producer", "cfx")])
}

/// Writes the network's saved tensors to a safetensors file.
public func saveWeights(_ network: Network, path: String, dtype: SafetensorsDType = .f64) throws {
    try writeSafetensors(weightsFile(of: network), path: path, dtype: dtype)
}

/// Saves a model file. With `weightsPath`, the spec at `specPath` has no inline tensors and names
/// the weights file relative to its own directory; without, every tensor is inline in the spec
/// (exact: JSON numbers are written with 17 significant digits). `dtype` (F64 or F32) applies to
/// the weights file. `metadata` is written as the spec's "metadata".
public func saveNetwork(_ network: Network, specPath: String, weightsPath: String? = nil,
                        dtype: SafetensorsDType = .f64, metadata: JSON? = nil) throws {
    var members = try specOfNetwork(network, inlineTensors: weightsPath == nil).members("spec")
    if let weightsPath {
        guard dtype == .f64 || dtype == .f32 else {
            throw CFXError(.invalidArgument, "dtype: cfx writes F64 or F32, not \(dtype.rawValue)")
        }
        try saveWeights(network, path: weightsPath, dtype: dtype)
        members.append(("weights", .string(relativePath(weightsPath, from: directoryOf(specPath)))))
    } else if dtype != .f64 {
        throw CFXError(.invalidArgument, "dtype: \(dtype.rawValue) applies to a weights file; inline tensors are exact (F64)")
    }
    if let metadata { members.append(("metadata", metadata)) }
    let text = try JSON.object(members).serialized(indent: weightsPath == nil ? 0 : 2)
    defer { free(text) }
    var bytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self), count: strlen(text)))
    bytes.append(0x0A)
    try writeFileBytes(bytes, specPath)
}

// MARK: Paths (lexical: no symbolic links are followed)

/// The directory part of a path ("." for a bare file name).
func directoryOf(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    return slash == path.startIndex ? "/" : String(path[..<slash])
}

/// `path` as written in a spec: absolute as it is, relative against `base` (nil: the current directory).
func resolvePath(_ path: String, relativeTo base: String?) -> String {
    guard let base, !path.hasPrefix("/"), base != "." else { return path }
    return base.hasSuffix("/") ? base + path : base + "/" + path
}

/// The components of `path` made absolute (against the current directory) with "." and ".." removed.
private func absoluteComponents(_ path: String) -> [Substring] {
    var full = path
    if !path.hasPrefix("/") {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let cwd = getcwd(&buffer, buffer.count) != nil ? String(cString: buffer) : "."
        full = cwd + "/" + path
    }
    var parts: [Substring] = []
    for part in full.split(separator: "/") where part != "." {
        if part == ".." { _ = parts.popLast() } else { parts.append(part) }
    }
    return parts
}

/// `path` relative to the directory `base` ("w.safetensors", "../weights/w.safetensors").
func relativePath(_ path: String, from base: String) -> String {
    let target = absoluteComponents(path), origin = absoluteComponents(base)
    var common = 0
    while common < min(target.count - 1, origin.count), target[common] == origin[common] { common += 1 }
    let ups = [String](repeating: "..", count: origin.count - common)
    return (ups + target[common...].map(String.init)).joined(separator: "/")
}
