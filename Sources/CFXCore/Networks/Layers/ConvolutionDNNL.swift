import CFXDNNL
import Synchronization

/// One convolution layer prepared by oneDNN for one evaluator: float32 forward and input gradient
/// at one batch size, with the weights reordered into oneDNN's layouts for one version of the
/// network's tensors. oneDNN measured 1.3–1.6× faster than im2col + sgemm on the DeDUCE ResNet-18
/// (benchmarks/results/conv_backends.md); float64 and weight gradients stay on im2col + GEMM.
///
/// A large layer runs in parts, fixed by its sizes alone, on the evaluator's threads: the forward
/// pass split by output channels, the input gradient by input channels, so that every value is
/// computed by one part in the same way whatever the number of threads.
final class DNNLConvolution {
    private var layer: cfx_dnnl_layer
    let rows: Int
    private var version: Int
    private let forwardChannels: [Range<Int>]
    private let backwardChannels: [Range<Int>]
    private var forwardParts: [OpaquePointer] = []
    private var backwardParts: [OpaquePointer] = []
    /// The weights of the version the parts hold.
    private var weight: UnsafePointer<Float>

    private init(layer: cfx_dnnl_layer, rows: Int, version: Int, weight: UnsafePointer<Float>, multiplyAdds: Int) {
        self.layer = layer
        self.rows = rows
        self.version = version
        self.weight = weight
        // A power of two of parts, so that two or four threads get equal shares (three parts on
        // two threads left one idle a third of the layer): two from 2^23 multiply-adds, four from
        // 3 · 2^23, eight from 7 · 2^23, each of at least 32 channels.
        func parts(_ channels: Int) -> [Range<Int>] {
            let most = max(1, min(8, (multiplyAdds >> 23) + 1, channels / 32))
            return blockRanges(channels, blocks: 1 << (Int.bitWidth - 1 - most.leadingZeroBitCount), align: 16)
        }
        forwardChannels = parts(Int(layer.out_channels))
        backwardChannels = parts(Int(layer.in_channels))
    }

    deinit {
        for part in forwardParts + backwardParts { cfx_dnnl_conv_free(part) }
    }

    private final class Unavailable {}

    /// The layer's prepared convolution for this call, refreshed when the tensors changed; nil
    /// when oneDNN cannot run it (the caller then uses its own path).
    static func prepared(_ c: OperationContext<Float>, _ g: WindowGeometry, outChannels: Int, hasBias: Bool,
                         weight: UnsafePointer<Float>) -> DNNLConvolution? {
        if c.cache.value is Unavailable { return nil }
        // The two most recent batch sizes (a prediction in passes ends with a shorter one).
        let kept = c.cache.value as? Kept ?? Kept()
        c.cache.value = kept
        if let conv = kept.conv(rows: c.batch) {
            if conv.version != c.parametersVersion || conv.weight != weight {
                conv.weight = weight
                conv.version = c.parametersVersion
                guard conv.reloadWeights() else {
                    c.cache.value = Unavailable()
                    return nil
                }
            }
            return conv
        }
        // oneDNN takes int sizes: stay well inside them.
        let largest = [c.batch * c.inputCount, c.batch * c.outputCount, outChannels * g.columnRows].max() ?? 0
        guard largest < Int(Int32.max) / 2 else {
            c.cache.value = Unavailable()
            return nil
        }
        let layer = cfx_dnnl_layer(batch: Int32(c.batch), in_channels: Int32(g.channels), in_h: Int32(g.height), in_w: Int32(g.width),
                                   out_channels: Int32(outChannels), out_h: Int32(g.outHeight), out_w: Int32(g.outWidth),
                                   kernel: Int32(g.kernel), stride: Int32(g.stride), padding: Int32(g.padding), has_bias: hasBias ? 1 : 0)
        let conv = DNNLConvolution(layer: layer, rows: c.batch, version: c.parametersVersion, weight: weight,
                                   multiplyAdds: c.batch * g.outputPositions * outChannels * g.columnRows)
        kept.add(conv)
        return conv
    }

    /// A layer's prepared convolutions for its two most recent batch sizes.
    private final class Kept {
        private var recent: [DNNLConvolution] = []
        func conv(rows: Int) -> DNNLConvolution? { recent.first { $0.rows == rows } }
        func add(_ conv: DNNLConvolution) { recent = [conv] + recent.prefix(1) }
    }

    private func reloadWeights() -> Bool {
        (forwardParts + backwardParts).allSatisfy { cfx_dnnl_conv_set_weights($0, weight) == 0 }
    }

    /// Makes the parts of one direction on first use (a prediction needs no backward parts).
    private func parts(backward: Bool) -> [OpaquePointer]? {
        let existing = backward ? backwardParts : forwardParts
        if !existing.isEmpty { return existing }
        var made: [OpaquePointer] = []
        for range in backward ? backwardChannels : forwardChannels {
            let part = backward ? cfx_dnnl_conv_create_backward(&layer, Int32(range.lowerBound), Int32(range.count))
                                : cfx_dnnl_conv_create_forward(&layer, Int32(range.lowerBound), Int32(range.count))
            guard let part, cfx_dnnl_conv_set_weights(part, weight) == 0 else {
                if let part { cfx_dnnl_conv_free(part) }
                for other in made { cfx_dnnl_conv_free(other) }
                return nil
            }
            made.append(part)
        }
        if backward { backwardParts = made } else { forwardParts = made }
        return made
    }

    /// y = conv(x) + bias; false when oneDNN failed (nothing is then promised about y).
    func forward(_ x: UnsafePointer<Float>, bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>, pool: IntraOpPool?) -> Bool {
        guard let parts = parts(backward: false) else { return false }
        return run(parts, pool) { cfx_dnnl_conv_forward($0, x, bias, y) }
    }

    /// dx += convᵀ(dy); false, with dx untouched, when oneDNN failed: every part computes first,
    /// and only when all succeeded do they add (each to its own channels).
    func addInputGradient(_ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, pool: IntraOpPool?) -> Bool {
        guard let parts = parts(backward: true), run(parts, pool, { cfx_dnnl_conv_backward_data($0, dy) }) else { return false }
        runTasks(parts.count, on: pool) { cfx_dnnl_conv_add_input_gradient(parts[$0], dx) }
        return true
    }

    private func run(_ parts: [OpaquePointer], _ pool: IntraOpPool?, _ call: (OpaquePointer) -> Int32) -> Bool {
        let failures = Atomic<Int>(0)
        runTasks(parts.count, on: pool) { i in
            if call(parts[i]) != 0 { failures.wrappingAdd(1, ordering: .relaxed) }
        }
        return failures.load(ordering: .relaxed) == 0
    }
}

/// What cfx's float32 convolutions run on: oneDNN when libdnnl.so.2 loads (and CFX_DNNL=off is
/// not set), with its version ("2.6.3") and the instruction set of its kernels ("avx512_core");
/// otherwise cfx's own im2col + sgemm, as float64 convolutions always do.
public struct ConvolutionBackend: Sendable {
    public let name: String
    public let oneDNNVersion: String?
    public let oneDNNISA: String?

    public static var current: ConvolutionBackend {
        guard cfx_dnnl_available() != 0 else { return ConvolutionBackend(name: "im2col-sgemm", oneDNNVersion: nil, oneDNNISA: nil) }
        var (major, minor, patch): (Int32, Int32, Int32) = (0, 0, 0)
        cfx_dnnl_version(&major, &minor, &patch)
        return ConvolutionBackend(name: "onednn", oneDNNVersion: "\(major).\(minor).\(patch)",
                                  oneDNNISA: cfx_dnnl_isa().map { String(cString: $0) })
    }
}
