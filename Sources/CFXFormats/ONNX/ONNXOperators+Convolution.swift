import CFXCore

// Conv, MaxPool, AveragePool and BatchNormalization nodes as cfx layers. A convolution with a
// square kernel, one stride, the same padding on every side, no groups and no dilation becomes
// `conv2d` (im2col + BLAS, or oneDNN); any other becomes `grouped_conv2d` (direct, slower).
// Pooling windows must be square with one stride and one padding: other attributes are errors
// naming the node and attribute.

extension ONNXOperators {
    func conv(_ node: ONNXNode, _ shape: [Int], _ layers: inout [ONNXLayer]) throws -> [Int] {
        let (wShape, weight) = try constant(node, 1, "W")
        guard wShape.count == 4 else { throw node.error("W has shape \(wShape); cfx takes 2-D convolutions, W of shape [out, in / group, kh, kw]") }
        guard shape.count == 3 else { throw node.error("takes an input of shape \(shape), expected an image [channels, height, width]") }
        let groups = try node.int("group", 1)
        guard groups >= 1, wShape[1] * groups == shape[0] else {
            throw node.error("W takes \(wShape[1]) input channels per group and group=\(groups), the node gets \(shape[0])")
        }
        let window = try Window(node, kernel: [wShape[2], wShape[3]], input: shape)
        var tensors = [("weight", weight)]
        let hasBias = node.inputs.count > 2 && !node.inputs[2].isEmpty
        if hasBias { tensors.append(("bias", try constant(node, 2, "B").values)) }
        let operation: Operation
        if let square = window.square, groups == 1, window.dilation == [1, 1] {
            operation = Conv2D(outChannels: wShape[0], kernelSize: square.kernel, stride: square.stride, padding: square.padding, bias: hasBias)
        } else {
            operation = GroupedConv2D(outChannels: wShape[0], kernel: window.kernel, stride: window.stride, padding: window.pads,
                                      dilation: window.dilation, groups: groups, bias: hasBias)
        }
        return try Self.append(operation, node, shape, &layers, tensors: tensors)
    }

    func pool(_ mode: Pool2D.Mode, _ node: ONNXNode, _ shape: [Int], _ layers: inout [ONNXLayer]) throws -> [Int] {
        guard let kernel = try node.ints("kernel_shape") else { throw node.error("kernel_shape is missing") }
        guard shape.count == 3 else { throw node.error("takes an input of shape \(shape), expected an image [channels, height, width]") }
        let window = try Window(node, kernel: kernel, input: shape)
        guard let square = window.square, window.dilation == [1, 1] else {
            throw node.error("a window \(window.kernel), strides \(window.stride), pads \(window.pads), dilations \(window.dilation) "
                             + "is not supported (square windows, one stride, the same padding on every side are)")
        }
        guard try node.int("ceil_mode", 0) == 0 else { throw node.error("ceil_mode=1 is not supported (floor mode is)") }
        let countsPadding = try node.int("count_include_pad", 0) != 0
        if mode == .average && square.padding > 0 && !countsPadding {
            throw node.error("count_include_pad=0 with padding is not supported: cfx's average pooling counts the padded zeros (count_include_pad=1, PyTorch's default)")
        }
        return try Self.append(Pool2D(mode, kernelSize: square.kernel, stride: square.stride, padding: square.padding), node, shape, &layers)
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

/// A window from a node's kernel_shape, strides, pads, auto_pad and dilations, each in
/// 0...CFX_MAX_WINDOW: [kh, kw], [sh, sw], [top, left, bottom, right], [dh, dw].
private struct Window {
    let kernel: [Int], stride: [Int], pads: [Int], dilation: [Int]

    /// The window as one kernel size, stride and padding, when it is square and uniform.
    var square: (kernel: Int, stride: Int, padding: Int)? {
        kernel[0] == kernel[1] && stride[0] == stride[1] && Set(pads).count == 1 ? (kernel[0], stride[0], pads[0]) : nil
    }

    init(_ node: ONNXNode, kernel: [Int], input: [Int]) throws {
        guard kernel.count == 2 else { throw node.error("a kernel of \(kernel.count) dimensions; cfx takes 2-D windows") }
        if let declared = try node.ints("kernel_shape"), declared != kernel {
            throw node.error("kernel_shape \(declared) does not match the weight's \(kernel)")
        }
        self.kernel = kernel
        stride = try node.ints("strides") ?? [1, 1]
        dilation = try node.ints("dilations") ?? [1, 1]
        for (name, values, count, minimum) in [("kernel", kernel, 2, 1), ("strides", stride, 2, 1), ("dilations", dilation, 2, 1)] {
            guard values.count == count, values.allSatisfy({ $0 >= minimum && $0 <= Limits.window }) else {
                throw node.error("\(name) \(values) are not supported (\(count) values in \(minimum)...\(Limits.window) are)")
            }
        }
        pads = try Self.pads(node, kernel: kernel, stride: stride, dilation: dilation, input: input)
    }

    /// Explicit pads, or those auto_pad SAME_UPPER / SAME_LOWER give (output size ⌈in / stride⌉).
    private static func pads(_ node: ONNXNode, kernel: [Int], stride: [Int], dilation: [Int], input: [Int]) throws -> [Int] {
        switch node.string("auto_pad", "NOTSET") {
        case "NOTSET", "":
            let pads = try node.ints("pads") ?? [0, 0, 0, 0]
            guard pads.count == 4, pads.allSatisfy({ $0 >= 0 && $0 <= Limits.window }) else {
                throw node.error("pads \(pads) are not supported (4 values in 0...\(Limits.window) are)")
            }
            return pads
        case "VALID": return [0, 0, 0, 0]
        case let mode where mode == "SAME_UPPER" || mode == "SAME_LOWER":
            var begin = [0, 0], end = [0, 0]
            for axis in 0..<2 where input.count == 3 {
                let size = input[axis + 1], out = (size + stride[axis] - 1) / stride[axis]
                let total = max(0, (out - 1) * stride[axis] + (kernel[axis] - 1) * dilation[axis] + 1 - size)
                begin[axis] = mode == "SAME_UPPER" ? total / 2 : total - total / 2
                end[axis] = total - begin[axis]
            }
            guard (begin + end).allSatisfy({ $0 <= Limits.window }) else { throw node.error("auto_pad gives padding over \(Limits.window)") }
            return [begin[0], begin[1], end[0], end[1]]
        case let other: throw node.error("auto_pad \(other) is not supported")
        }
    }
}
