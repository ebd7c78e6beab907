import CFXKernels

/// A network that is a plain chain of dense layers, relus and softmaxes (an MLP as alibi's
/// examples build them) runs each pass in one C call when its products are small (one or a few
/// rows): the layer-by-layer pass costs a context, a virtual call and a type dispatch per layer,
/// which showed as much as the arithmetic in small MLPs' searches. The values are bitwise those of
/// the layer-by-layer pass (`SmallChainTests`). Plain values and pointers only, so that using it
/// costs no reference counting: copies share one buffer, which the tape that made it frees
/// (`deallocate`, once). Each dense layer learns from the tensors whether its weight is finite
/// (`prepare`, again when they change): its input gradient then skips the inactive units behind a
/// relu, which changes no bit, as the layer-by-layer pass does.
struct SmallChain {
    private let layers: UnsafeMutableBufferPointer<cfx_chain_layer>
    /// The tightest `SmallProducts.denseKernelRows` of its dense layers (`fits` asks it once per pass).
    private let rowLimit: Int
    /// The parameters' version the layers' `finite` flags were derived from (nil: never).
    private let derived: UnsafeMutablePointer<Int?>

    /// nil unless step i reads buffer i and writes buffer i + 1 through a dense layer without
    /// spectral normalisation, a relu or a softmax.
    init?(_ network: Network) {
        var layers: [cfx_chain_layer] = []
        for (index, step) in network.steps.enumerated() {
            guard case .apply(let op, let input, let output) = step, input == index, output == index + 1 else { return nil }
            let compiled = network.operations[op]
            let kind: Int32
            switch compiled.operation {
            case let dense as Dense where dense.spectralNorm == nil: kind = Int32(CFX_CHAIN_DENSE)
            case let elementwise as Elementwise where elementwise.function == .relu: kind = Int32(CFX_CHAIN_RELU)
            case is Softmax: kind = Int32(CFX_CHAIN_SOFTMAX)
            default: return nil
            }
            layers.append(cfx_chain_layer(kind: kind, finite: 0, inputs: compiled.inputShape.reduce(1, *),
                                          outputs: compiled.outputShape.reduce(1, *), parameter_offset: compiled.parameterOffset,
                                          transposed: nil))
        }
        guard !layers.isEmpty else { return nil }
        self.rowLimit = layers.filter { $0.kind == Int32(CFX_CHAIN_DENSE) }
            .map { SmallProducts.denseKernelRows(outputs: $0.outputs, inputs: $0.inputs) }.min() ?? Int.max
        self.layers = .allocate(capacity: layers.count)
        _ = self.layers.initialize(from: layers)
        self.derived = .allocate(capacity: 1)
        derived.initialize(to: nil)
    }

    func deallocate() {
        for layer in layers { layer.transposed.map { UnsafeMutablePointer(mutating: $0).deallocate() } }
        layers.deallocate()
        derived.deallocate()
    }

    /// Sets the dense layers' `finite` flags, and the transposed weights of those whose forward
    /// products run in input order, from `parameters` unless they were set from the same `version` of them.
    func prepare<T: NetworkScalar>(parameters: UnsafePointer<T>, version: Int) {
        guard derived.pointee != version else { return }
        derived.pointee = version
        for l in layers.indices where layers[l].kind == Int32(CFX_CHAIN_DENSE) {
            let w = parameters + layers[l].parameter_offset
            layers[l].finite = (0..<layers[l].inputs * layers[l].outputs).allSatisfy { w[$0].isFinite } ? 1 : 0
            transpose(layer: l, weight: w as? UnsafePointer<Double>)
        }
    }

    /// The most weights a layer keeps a transposed copy of (`cfx_chain_layer`'s `transposed`).
    static let transposedLimit = 1 << 18

    /// Layer l's `transposed` from its double weight w (outputs × inputs), when the layer qualifies
    /// (`cfx_chain_layer`); otherwise none.
    private func transpose(layer l: Int, weight w: UnsafePointer<Double>?) {
        let (inputs, outputs) = (layers[l].inputs, layers[l].outputs)
        let old = layers[l].transposed.map { UnsafeMutablePointer(mutating: $0) }
        guard let w, layers[l].finite == 1, outputs % 8 == 0, inputs <= Int(CFX_ORDERED_MAX_INPUTS),
              inputs * outputs <= Self.transposedLimit else {
            old?.deallocate()
            layers[l].transposed = nil
            return
        }
        let t = old ?? .allocate(capacity: inputs * outputs)
        for i in 0..<inputs {
            for o in 0..<outputs { t[i * outputs + o] = w[o * inputs + i] }
        }
        layers[l].transposed = UnsafePointer(t)
    }

    /// Whether every dense product of `rows` rows takes the small-product kernels (as `Dense` decides).
    func fits(rows: Int) -> Bool { SmallProducts.denseKernel(rows: rows, limit: rowLimit) }

    /// Buffers 1… from buffer 0 (after `prepare` for these parameters).
    func forward<T: NetworkScalar>(rows: Int, parameters: UnsafePointer<T>, values: UnsafePointer<UnsafeMutablePointer<T>?>) {
        T.chainForward(layers.baseAddress!, count: layers.count, rows: rows, parameters, values)
    }

    /// Adds to the gradients of buffers 0… from the seeded last one (after `prepare` for these parameters).
    func backward<T: NetworkScalar>(rows: Int, parameters: UnsafePointer<T>, values: UnsafePointer<UnsafeMutablePointer<T>?>,
                                    gradients: UnsafePointer<UnsafeMutablePointer<T>?>) {
        T.chainBackward(layers.baseAddress!, count: layers.count, rows: rows, parameters, values, gradients)
    }
}
