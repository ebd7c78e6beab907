import CFXKernels

/// A network that is a plain chain of dense layers, relus and softmaxes (an MLP as alibi's
/// examples build them) runs each pass in one C call when its products are small (one or a few
/// rows): the layer-by-layer pass costs a context, a virtual call and a type dispatch per layer,
/// which showed as much as the arithmetic in small MLPs' searches. The values are bitwise those of
/// the layer-by-layer pass (`SmallChainTests`).
struct SmallChain {
    private let layers: [cfx_chain_layer]
    private let denseShapes: [(outputs: Int, inputs: Int)]

    /// nil unless step i reads buffer i and writes buffer i + 1 through a dense layer without
    /// spectral normalisation, a relu or a softmax.
    init?(_ network: Network) {
        var layers: [cfx_chain_layer] = []
        for (index, step) in network.steps.enumerated() {
            guard case .apply(let op, let input, let output) = step, input == index, output == index + 1 else { return nil }
            let compiled = network.operations[op]
            let inputs = compiled.inputShape.reduce(1, *)
            let kind: Int32
            switch compiled.operation {
            case let dense as Dense where dense.spectralNorm == nil: kind = Int32(CFX_CHAIN_DENSE)
            case let elementwise as Elementwise where elementwise.function == .relu: kind = Int32(CFX_CHAIN_RELU)
            case is Softmax: kind = Int32(CFX_CHAIN_SOFTMAX)
            default: return nil
            }
            layers.append(cfx_chain_layer(kind: kind, inputs: inputs, outputs: compiled.outputShape.reduce(1, *),
                                          parameter_offset: compiled.parameterOffset))
        }
        guard !layers.isEmpty else { return nil }
        self.layers = layers
        self.denseShapes = layers.filter { $0.kind == Int32(CFX_CHAIN_DENSE) }.map { ($0.outputs, $0.inputs) }
    }

    /// Whether every dense product of `rows` rows takes the small-product kernels (as `Dense` decides).
    func fits(rows: Int) -> Bool {
        denseShapes.allSatisfy { Dense.isSmall(rows: rows, outputs: $0.outputs, inputs: $0.inputs) }
    }

    /// Buffers 1… from buffer 0.
    func forward<T: NetworkScalar>(rows: Int, parameters: UnsafePointer<T>, values: [UnsafeMutablePointer<T>]) {
        layers.withUnsafeBufferPointer { layers in
            Self.withOptionalPointers(values) { T.chainForward(layers.baseAddress!, count: layers.count, rows: rows, parameters, $0) }
        }
    }

    /// Adds to the gradients of buffers 0… from the seeded last one.
    func backward<T: NetworkScalar>(rows: Int, parameters: UnsafePointer<T>, values: [UnsafeMutablePointer<T>],
                                    gradients: [UnsafeMutablePointer<T>]) {
        layers.withUnsafeBufferPointer { layers in
            Self.withOptionalPointers(values) { values in
                Self.withOptionalPointers(gradients) {
                    T.chainBackward(layers.baseAddress!, count: layers.count, rows: rows, parameters, values, $0)
                }
            }
        }
    }

    /// The pointers as C sees an array of them (an optional pointer has a plain pointer's layout).
    private static func withOptionalPointers<T, R>(_ pointers: [UnsafeMutablePointer<T>],
                                                   _ body: (UnsafePointer<UnsafeMutablePointer<T>?>) -> R) -> R {
        pointers.withUnsafeBufferPointer { buffer in
            UnsafeRawPointer(buffer.baseAddress!).withMemoryRebound(to: UnsafeMutablePointer<T>?.self, capacity: buffer.count, body)
        }
    }
}
