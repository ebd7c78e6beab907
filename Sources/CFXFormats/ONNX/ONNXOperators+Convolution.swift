import CFXCore

// Conv, MaxPool, AveragePool and BatchNormalization nodes as cfx layers. cfx's convolutions and
// pooling windows are square, with one stride and one padding on every side: ONNX attributes
// outside that (groups, dilations, rectangular kernels, asymmetric padding, ceil mode) are
// errors naming the node and attribute.

extension ONNXOperators {
    func conv(_ node: ONNXNode, _ shape: [Int], _ layers: inout [ONNXLayer]) throws -> [Int] {
        guard try node.int("group", 1) == 1 else { throw node.error("group=\(try node.int("group", 1)) is not supported (grouped and depthwise convolutions)") }
        let (wShape, weight) = try constant(node, 1, "W")
        guard wShape.count == 4 else { throw node.error("W has shape \(wShape); cfx takes 2-D convolutions, W of shape [out, in, k, k]") }
        guard shape.count == 3 else { throw node.error("takes an input of shape \(shape), expected an image [channels, height, width]") }
        guard wShape[1] == shape[0] else { throw node.error("W takes \(wShape[1]) input channels, the node gets \(shape[0])") }
        let window = try Window(node, kernel: [wShape[2], wShape[3]])
        var tensors = [("weight", weight)]
        let hasBias = node.inputs.count > 2 && !node.inputs[2].isEmpty
        if hasBias { tensors.append(("bias", try constant(node, 2, "B").values)) }
        let conv = Conv2D(outChannels: wShape[0], kernelSize: window.kernel, stride: window.stride, padding: window.padding, bias: hasBias)
        return try Self.append(conv, node, shape, &layers, tensors: tensors)
    }

    func pool(_ mode: Pool2D.Mode, _ node: ONNXNode, _ shape: [Int], _ layers: inout [ONNXLayer]) throws -> [Int] {
        guard let kernel = try node.ints("kernel_shape") else { throw node.error("kernel_shape is missing") }
        let window = try Window(node, kernel: kernel)
        guard try node.int("ceil_mode", 0) == 0 else { throw node.error("ceil_mode=1 is not supported (floor mode is)") }
        let countsPadding = try node.int("count_include_pad", 0) != 0
        if mode == .average && window.padding > 0 && !countsPadding {
            throw node.error("count_include_pad=0 with padding is not supported: cfx's average pooling counts the padded zeros (count_include_pad=1, PyTorch's default)")
        }
        return try Self.append(Pool2D(mode, kernelSize: window.kernel, stride: window.stride, padding: window.padding), node, shape, &layers)
    }

    func batchNorm(_ node: ONNXNode, _ shape: [Int], _ layers: inout [ONNXLayer]) throws -> [Int] {
        guard try node.int("training_mode", 0) == 0 else { throw node.error("training_mode=1 is not supported (inference)") }
        guard node.outputs.filter({ !$0.isEmpty }).count == 1 else { throw node.error("running-statistics outputs are not supported (inference)") }
        let names = ["weight", "bias", "running_mean", "running_var"], roles = ["scale", "B", "input_mean", "input_var"]
        let tensors = try (0..<4).map { i in
            let values = try constant(node, i + 1, roles[i]).values
            guard values.count == shape[0] else { throw node.error("\(roles[i]) has \(values.count) values, the input has \(shape[0]) channels") }
            return (names[i], values)
        }
        // ONNX's momentum weighs the old running value (0.9), PyTorch's and cfx's the new batch (0.1).
        let momentum = 1 - Double(try node.float("momentum", 0.9))
        let epsilon = Double(try node.float("epsilon", 1e-5))
        return try Self.append(BatchNorm(eps: epsilon, momentum: momentum), node, shape, &layers, tensors: tensors)
    }
}

/// A square window with one stride and one padding, from a node's kernel_shape, strides, pads,
/// auto_pad and dilations.
private struct Window {
    let kernel: Int, stride: Int, padding: Int

    init(_ node: ONNXNode, kernel shape: [Int]) throws {
        guard shape.count == 2 else { throw node.error("a kernel of \(shape.count) dimensions; cfx takes 2-D windows") }
        guard shape[0] == shape[1], shape[0] > 0 else { throw node.error("kernel \(shape[0])×\(shape[1]) is not supported (square kernels are)") }
        if let declared = try node.ints("kernel_shape"), declared != shape {
            throw node.error("kernel_shape \(declared) does not match the weight's \(shape)")
        }
        let strides = try node.ints("strides") ?? [1, 1]
        guard strides.count == 2, strides[0] == strides[1], strides[0] > 0 else { throw node.error("strides \(strides) are not supported (one positive stride for both axes is)") }
        if let dilations = try node.ints("dilations"), dilations.contains(where: { $0 != 1 }) {
            throw node.error("dilations \(dilations) are not supported (1 is)")
        }
        kernel = shape[0]
        stride = strides[0]
        padding = try Self.padding(node, kernel: kernel, stride: stride)
    }

    private static func padding(_ node: ONNXNode, kernel: Int, stride: Int) throws -> Int {
        switch node.string("auto_pad", "NOTSET") {
        case "NOTSET", "":
            let pads = try node.ints("pads") ?? [0, 0, 0, 0]
            guard pads.count == 4, Set(pads).count == 1, pads[0] >= 0 else {
                throw node.error("pads \(pads) are not supported (the same padding on every side is)")
            }
            return pads[0]
        case "VALID": return 0
        case "SAME_UPPER", "SAME_LOWER":
            guard stride == 1, kernel % 2 == 1 else { throw node.error("auto_pad SAME with stride \(stride) and kernel \(kernel) pads unevenly, which cfx does not support") }
            return (kernel - 1) / 2
        case let other: throw node.error("auto_pad \(other) is not supported")
        }
    }
}
