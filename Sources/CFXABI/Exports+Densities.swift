import CCFX
import CFXCore
import CFXFormats
import Glibc

// The "Densities" functions of include/cfx.h: DDU's class-conditional Gaussian density in a
// network's feature space, as a handle of its own (a retained FeatureDensity).

private let densityFormat = "cfx-feature-density"

@_cdecl("cfx_density_fit")
public func cfx_density_fit(_ modelHandle: OpaquePointer?, _ featureOutput: UnsafePointer<CChar>?, _ x: UnsafePointer<Double>?,
                            _ n: Int, _ d: Int, _ y: UnsafePointer<Double>?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                            _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: out, "out") {
        let model = try object(modelHandle, .model, ModelHandle.self, "model").model
        let network = try nativeNetwork(model, "used for a feature density")
        let name = featureOutput.map { String(cString: $0) } ?? "features"
        do { _ = try network.outputBuffer(name) } catch let error as CFXError {
            throw CFXError(.invalidArgument, "feature_output: \(error.message)")
        }
        let values = try rows(x, n, d, model: model)
        let labels = try y.map { try classLabels($0, n, classCount: model.classCount, "y") }
        let data = try Dataset(x: values, rows: n, features: d, labels: labels, classCount: model.classCount)
        let density = try FeatureDensity.fit(network: network, featureOutput: name, data: data, threads: 0)
        return retainedHandle(density, .density)
    }
}

@_cdecl("cfx_density_free")
public func cfx_density_free(_ density: OpaquePointer?) { release(density, .density) }

@_cdecl("cfx_density_info")
public func cfx_density_info(_ handle: OpaquePointer?, _ jsonOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                             _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: jsonOut, "json_out") {
        let density = try object(handle, .density, FeatureDensity.self, "density")
        return try JSON.object([
            ("feature_output", .string(density.featureOutput)),
            ("n_classes", .int(density.classCount)),
            ("dimension", .int(density.dimension)),
            ("n_features", .int(density.inputFeatures)),
            ("counts", .array(density.counts.map { .int($0) })),
            ("jitter", .double(density.jitter)),
            ("labels", .string(density.labelSource.rawValue)),
        ]).serialized()
    }
}

@_cdecl("cfx_density_log_prob")
public func cfx_density_log_prob(_ handle: OpaquePointer?, _ modelHandle: OpaquePointer?, _ x: UnsafePointer<Double>?, _ n: Int, _ d: Int,
                                 _ perClassOut: UnsafeMutablePointer<Double>?, _ mixtureOut: UnsafeMutablePointer<Double>?,
                                 _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err) {
        let density = try object(handle, .density, FeatureDensity.self, "density")
        guard perClassOut != nil || mixtureOut != nil else {
            throw CFXError(.invalidArgument, "per_class_out, mixture_out: both are NULL; ask for at least one")
        }
        let logDensities: [Double]
        if let modelHandle {
            let model = try object(modelHandle, .model, ModelHandle.self, "model").model
            let network = try nativeNetwork(model, "used for a feature density")
            let values = try rows(x, n, d, model: model)
            logDensities = try density.logDensities(network: network, inputs: values, rows: n, threads: 0)
        } else {
            let x = try required(x, "x")
            let count = try checkedRows(n, d, "x")
            guard d == density.dimension else {
                throw CFXError(.shape, "x has \(d) values per row; with model NULL they are features, and the density has \(density.dimension)")
            }
            let features = Array(UnsafeBufferPointer(start: x, count: count))
            try requireFinite(features, "x")
            logDensities = try density.logDensities(features: features, rows: n)
        }
        let k = density.classCount
        _ = try bufferCount(rows: n, width: k, "per_class_out")
        perClassOut?.update(from: logDensities, count: n * k)
        if let mixtureOut {
            for r in 0..<n { mixtureOut[r] = FeatureDensity.logSumExp(Array(logDensities[r * k..<(r + 1) * k])) }
        }
    }
}

@_cdecl("cfx_density_save")
public func cfx_density_save(_ handle: OpaquePointer?, _ path: UnsafePointer<CChar>?, _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err) {
        let density = try object(handle, .density, FeatureDensity.self, "density")
        let path = String(cString: try required(path, "path"))
        guard !path.isEmpty else { throw CFXError(.invalidArgument, "path: empty") }
        let (k, n) = (density.classCount, density.dimension)
        let file = SafetensorsFile(tensors: [
            SafetensorsTensor(name: "means", shape: [k, n], values: density.means),
            SafetensorsTensor(name: "covariances", shape: [k, n, n], values: density.covariances),
            SafetensorsTensor(name: "counts", shape: [k], values: density.counts.map(Double.init)),
        ], metadata: [
            ("format", densityFormat), ("version", "1"),
            ("feature_output", density.featureOutput),
            ("n_features", String(density.inputFeatures)),
            ("jitter", String(density.jitter)),  // Swift's shortest text that reads back exactly
            ("labels", density.labelSource.rawValue),
        ])
        try writeSafetensors(file, path: path, dtype: .f64)
    }
}

@_cdecl("cfx_density_load")
public func cfx_density_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                             _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err) {
        let out = try output(out, "out")
        let path = String(cString: try required(path, "path"))
        guard !path.isEmpty else { throw CFXError(.invalidArgument, "path: empty") }
        let file = try readSafetensors(path: path)
        func fail(_ problem: String) -> CFXError { CFXError(.model, "\(path): \(problem)") }
        let metadata = Dictionary(file.metadata, uniquingKeysWith: { a, _ in a })
        guard metadata["format"] == densityFormat else { throw fail("not a cfx feature density (metadata \"format\" is not \"\(densityFormat)\")") }
        guard metadata["version"] == "1" else { throw fail("density file version \(metadata["version"] ?? "missing") is not supported (expected 1)") }
        guard let means = file["means"], let covariances = file["covariances"], let counts = file["counts"] else {
            throw fail("a density file holds the tensors means, covariances and counts")
        }
        guard means.shape.count == 2, covariances.shape == [means.shape[0], means.shape[1], means.shape[1]], counts.shape == [means.shape[0]] else {
            throw fail("tensor shapes means \(means.shape), covariances \(covariances.shape), counts \(counts.shape) do not fit [k, D], [k, D, D], [k]")
        }
        guard let featureOutput = metadata["feature_output"], let inputs = metadata["n_features"].flatMap({ Int($0) }),
              let jitter = metadata["jitter"].flatMap({ Double($0) }),
              let labels = metadata["labels"].flatMap({ FeatureDensity.LabelSource(rawValue: $0) }) else {
            throw fail("the metadata needs feature_output, n_features, jitter and labels")
        }
        guard (1...Limits.features).contains(inputs) else { throw fail("n_features: \(inputs) is not in 1...\(Limits.features)") }
        guard jitter.isFinite, jitter >= 0 else { throw fail("jitter: \(jitter) is not a finite number >= 0") }
        let (k, dimension) = (means.shape[0], means.shape[1])
        guard (1...Limits.classes).contains(k) else { throw fail("means: \(k) classes is not in 1...\(Limits.classes)") }
        guard (1...Limits.features).contains(dimension) else { throw fail("means: dimension \(dimension) is not in 1...\(Limits.features)") }
        // Counts are rows per class: whole numbers of at least 2 (a covariance needs two rows).
        let classCounts = try counts.values.enumerated().map { c, count in
            guard count.isFinite, count == count.rounded(), count >= 2, count <= 0x1p53 else {
                throw fail("counts[\(c)] is \(count); a class's row count is a whole number from 2 to 2^53")
            }
            return Int(count)
        }
        do {
            out.pointee = retainedHandle(try FeatureDensity(featureOutput: featureOutput, inputFeatures: inputs, dimension: dimension,
                                                            means: means.values, covariances: covariances.values, counts: classCounts,
                                                            jitter: jitter, labelSource: labels), .density)
        } catch let error as CFXError {
            throw CFXError(.model, "\(path): \(error.message)")
        }
    }
}

@_cdecl("cfx_explainer_set_density")
public func cfx_explainer_set_density(_ handle: OpaquePointer?, _ densityHandle: OpaquePointer?,
                                      _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err) {
        let explainer = try object(handle, .explainer, ExplainerHandle.self, "explainer")
        let density = try object(densityHandle, .density, FeatureDensity.self, "density")
        let method = (try? explainer.method.effectiveConfig["method"]?.text("method")) ?? nil
        guard method == "deduce" else {
            throw CFXError(.config, "density: the method \"\(method ?? "?")\" takes no feature density (only deduce does)")
        }
        try explainer.setDensity(density)
    }
}
