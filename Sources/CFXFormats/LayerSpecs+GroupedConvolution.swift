import CFXCore

/// The spec of a convolution in its general form (GroupedConv2D): groups, dilations, rectangular
/// kernels, a stride per axis and a padding per side. ONNX files give such convolutions.
///
///     {"type": "grouped_conv2d", "out_channels": 32, "kernel_size": [3, 3], "stride": [1, 1],
///      "padding": [1, 1, 1, 1], "dilation": [1, 1], "groups": 32, "bias": true}
///
/// kernel_size, stride and dilation are [height, width] (or one number for both), padding is
/// [top, left, bottom, right] (or one number for every side); stride, padding, dilation and groups
/// default to 1, 0, 1 and 1.
let groupedConvolutionLayers: [String: LayerBuilder] = [
    "grouped_conv2d": LayerBuilder(keys: ["out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias"], read: { value, path in
        guard let out = value["out_channels"] else { throw CFXError(.model, "\(path).out_channels: missing") }
        let groups = try value["groups"].map { try $0.integer("\(path).groups") } ?? 1
        guard groups >= 1, groups <= Limits.tensorElements else {
            throw CFXError(.model, "\(path).groups: must be in 1...\(Limits.tensorElements)")
        }
        let outChannels = try out.integer("\(path).out_channels")
        guard outChannels >= 1, outChannels <= Limits.tensorElements else {
            throw CFXError(.model, "\(path).out_channels: must be in 1...\(Limits.tensorElements), got \(outChannels)")
        }
        guard let kernel = try sizes(value, path, "kernel_size", count: 2, default: nil) else { throw CFXError(.model, "\(path).kernel_size: missing") }
        let conv = GroupedConv2D(outChannels: outChannels, kernel: kernel,
                                 stride: try sizes(value, path, "stride", count: 2, default: 1)!,
                                 padding: try sizes(value, path, "padding", count: 4, default: 0)!,
                                 dilation: try sizes(value, path, "dilation", count: 2, default: 1)!, groups: groups,
                                 bias: try value["bias"].map { try $0.boolean("\(path).bias") } ?? true)
        return (conv, [])
    }, write: { operation in
        guard let conv = operation as? GroupedConv2D else { return nil }
        let list = { (values: [Int]) in JSON.array(values.map { .int($0) }) }
        return [("out_channels", .int(conv.outChannels)), ("kernel_size", list(conv.kernel)), ("stride", list(conv.stride)),
                ("padding", list(conv.padding)), ("dilation", list(conv.dilation)), ("groups", .int(conv.groups)),
                ("bias", .bool(conv.hasBias))]
    }),
]

/// `layer[key]`: `count` integers in 0...CFX_MAX_WINDOW, given as a list or as one number for all;
/// `default` (for every entry) when absent. The layer checks the lower bounds.
private func sizes(_ layer: JSON, _ path: String, _ key: String, count: Int, default: Int?) throws -> [Int]? {
    guard let value = layer[key] else { return `default`.map { [Int](repeating: $0, count: count) } }
    let values: [Int]
    if case .array = value {
        values = try value.items("\(path).\(key)").enumerated().map { try $1.integer("\(path).\(key)[\($0)]") }
    } else {
        values = [Int](repeating: try value.integer("\(path).\(key)"), count: count)
    }
    guard values.count == count, values.allSatisfy({ (0...Limits.window).contains($0) }) else {
        throw CFXError(.model, "\(path).\(key): expected \(count) integers in 0...\(Limits.window), got \(values)")
    }
    return values
}
