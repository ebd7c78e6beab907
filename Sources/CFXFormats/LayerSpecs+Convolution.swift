import CFXCore

/// Spec readers and writers of convolutional layers: conv2d, pooling, flatten, channel padding.
///
///     {"type": "conv2d", "out_channels": 16, "kernel_size": 3, "stride": 1, "padding": 1, "bias": false,
///      "spectral_norm": {"coefficient": 4.0, "power_iterations": 1}}
///     {"type": "max_pool2d", "kernel_size": 2, "stride": 2, "padding": 0}   (also avg_pool2d)
///     {"type": "global_avg_pool"}, {"type": "flatten"}, {"type": "channel_pad", "out_channels": 32}
let convolutionLayers: [String: LayerBuilder] = [
    "conv2d": LayerBuilder(keys: ["out_channels", "kernel_size", "stride", "padding", "bias", "spectral_norm"], read: { value, path in
        let conv = Conv2D(outChannels: try integer(value, path, "out_channels", minimum: 1),
                          kernelSize: try integer(value, path, "kernel_size", minimum: 1),
                          stride: try integer(value, path, "stride", minimum: 1, default: 1),
                          padding: try integer(value, path, "padding", minimum: 0, default: 0),
                          bias: try value["bias"].map { try $0.boolean("\(path).bias") } ?? true,
                          spectralNorm: try readSpectralNorm(value, path))
        return (conv, [])
    }, write: { operation in
        guard let conv = operation as? Conv2D else { return nil }
        var keys: [(String, JSON)] = [("out_channels", .int(conv.outChannels)), ("kernel_size", .int(conv.kernelSize)),
                                      ("stride", .int(conv.stride)), ("padding", .int(conv.padding)), ("bias", .bool(conv.hasBias))]
        if let sn = conv.spectralNorm { keys.append(("spectral_norm", writeSpectralNorm(sn))) }
        return keys
    }),
    "max_pool2d": pool(.max),
    "avg_pool2d": pool(.average),
    "global_avg_pool": .plain { GlobalAveragePool() },
    "flatten": .plain { Flatten() },
    "channel_pad": LayerBuilder(keys: ["out_channels"], read: { value, path in
        (ChannelPad(outChannels: try integer(value, path, "out_channels", minimum: 1)), [])
    }, write: { operation in
        (operation as? ChannelPad).map { [("out_channels", .int($0.outChannels))] }
    }),
]

private func pool(_ mode: Pool2D.Mode) -> LayerBuilder {
    LayerBuilder(keys: ["kernel_size", "stride", "padding"], read: { value, path in
        let kernel = try integer(value, path, "kernel_size", minimum: 1)
        return (Pool2D(mode, kernelSize: kernel, stride: try integer(value, path, "stride", minimum: 1, default: kernel),
                       padding: try integer(value, path, "padding", minimum: 0, default: 0)), [])
    }, write: { operation in
        guard let pool = operation as? Pool2D, pool.mode == mode else { return nil }
        return [("kernel_size", .int(pool.kernelSize)), ("stride", .int(pool.stride)), ("padding", .int(pool.padding))]
    })
}

/// `layer[key]`: an integer in `minimum`...`maximum` (kernel_size, stride and padding at most
/// CFX_MAX_WINDOW, other sizes CFX_MAX_TENSOR_ELEMENTS); `default` when absent (required when
/// there is none).
private func integer(_ layer: JSON, _ path: String, _ key: String, minimum: Int, default: Int? = nil) throws -> Int {
    guard let value = layer[key] else {
        if let `default` { return `default` }
        throw CFXError(.model, "\(path).\(key): missing")
    }
    let n = try value.integer("\(path).\(key)")
    guard n >= minimum else {
        throw CFXError(.model, "\(path).\(key): must be \(minimum == 1 ? "positive" : "at least \(minimum)"), got \(n)")
    }
    let maximum = ["kernel_size", "stride", "padding"].contains(key) ? Limits.window : Limits.tensorElements
    guard n <= maximum else { throw CFXError(.model, "\(path).\(key): \(n) is over the limit of \(maximum)") }
    return n
}

/// The layer's optional "spectral_norm": {"coefficient": c > 0, "power_iterations": n (default 1)}.
func readSpectralNorm(_ layer: JSON, _ path: String) throws -> SpectralNorm? {
    guard let value = layer["spectral_norm"] else { return nil }
    let snPath = "\(path).spectral_norm"
    for (key, _) in try value.members(snPath) where !["coefficient", "power_iterations"].contains(key) {
        throw CFXError(.model, "\(snPath).\(key): unknown key (coefficient, power_iterations)")
    }
    guard let coefficientValue = value["coefficient"] else { throw CFXError(.model, "\(snPath).coefficient: missing") }
    let coefficient = try coefficientValue.number("\(snPath).coefficient")
    guard coefficient > 0, coefficient.isFinite else {
        throw CFXError(.model, "\(snPath).coefficient: must be a positive number, got \(coefficient)")
    }
    let iterations = try integer(value, snPath, "power_iterations", minimum: 1, default: 1)
    guard iterations <= 1000 else { throw CFXError(.model, "\(snPath).power_iterations: must be at most 1000, got \(iterations)") }
    return SpectralNorm(coefficient: coefficient, powerIterations: iterations)
}

func writeSpectralNorm(_ sn: SpectralNorm) -> JSON {
    .object([("coefficient", .double(sn.coefficient)), ("power_iterations", .int(sn.powerIterations))])
}
