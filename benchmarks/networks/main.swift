// Speed of cfx's network core on one core (release build): GEMM through Gemm.swift against
// OpenBLAS called directly, and one forward pass plus input gradient of a small spectrally
// normalised ResNet of the DDU family on 28×28×1 inputs. Prints Markdown.
//
//     swift build -c release --product cfx-bench-networks && .build/release/cfx-bench-networks [--quick]

import CBLAS
import CFXCore
import Glibc

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Median seconds per call of `body`, over `runs` runs of `repeats` calls each.
func median(runs: Int, repeats: Int, _ body: () -> Void) -> (median: Double, min: Double) {
    body()  // warm up
    var times: [Double] = []
    for _ in 0..<runs {
        let start = now()
        for _ in 0..<repeats { body() }
        times.append((now() - start) / Double(repeats))
    }
    times.sort()
    return (times[times.count / 2], times[0])
}

/// Median seconds per call of `a` and of `b`, their runs interleaved so that both see the same
/// load on a shared machine.
func interleavedMedians(runs: Int, repeats: Int, _ a: () -> Void, _ b: () -> Void) -> (Double, Double) {
    a(); b()
    var ta: [Double] = [], tb: [Double] = []
    for run in 0..<runs {
        for first in run % 2 == 0 ? [true, false] : [false, true] {
            let start = now()
            for _ in 0..<repeats { if first { a() } else { b() } }
            (first ? { ta.append((now() - start) / Double(repeats)) } : { tb.append((now() - start) / Double(repeats)) })()
        }
    }
    ta.sort(); tb.sort()
    return (ta[ta.count / 2], tb[tb.count / 2])
}

/// Repeats per run so that a run takes about `target` seconds.
func repeatsFor(_ target: Double, _ body: () -> Void) -> Int {
    body()
    let start = now()
    var n = 0
    while now() - start < target / 4 { body(); n += 1 }
    return max(1, Int(Double(n) * 4 * target / max(now() - start, 1e-9) / 4))
}

let quick = CommandLine.arguments.contains("--quick")
let runs = quick ? 5 : 11
var rng = SystemRandomNumberGenerator()
func randomBuffer(_ count: Int) -> UnsafeMutablePointer<Double> {
    let p = UnsafeMutablePointer<Double>.allocate(capacity: count)
    for i in 0..<count { p[i] = Double.random(in: -1...1, using: &rng) }
    return p
}

// MARK: (a) GEMM

print("## GEMM: Gemm.swift's gemm vs cblas_dgemm (OpenBLAS, one thread) called directly\n")
print("C (m × n) = op(A) · op(B), k the inner size; the shapes of the ResNet's convolutions (forward: W · columns; backward: Wᵀ · dY and dY · columnsᵀ). Median of \(runs) interleaved runs of each.\n")
print("| product | m × k × n | gemm GFLOP/s | cblas GFLOP/s | gemm / cblas time |")
print("|---|---|---:|---:|---:|")
let products: [(String, Bool, Bool, Int, Int, Int)] = [
    ("stage 1 forward", false, false, 16, 144, 784), ("stage 2 forward", false, false, 32, 288, 196), ("stage 3 forward", false, false, 64, 576, 49),
    ("stage 1 input grad (Wᵀ·dY)", true, false, 144, 16, 784), ("stage 3 input grad (Wᵀ·dY)", true, false, 576, 64, 49),
    ("stage 2 weight grad (dY·colᵀ)", false, true, 32, 196, 288),
]
for (name, ta, tb, m, k, n) in products {
    let a = randomBuffer(m * k), b = randomBuffer(k * n), c = randomBuffer(m * n)
    let lda = ta ? m : k, ldb = tb ? k : n
    let ours = { gemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, a, lda: lda, b, ldb: ldb, beta: 0, c, ldc: n) }
    let direct = {
        cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    1, a, Int32(lda), b, Int32(ldb), 0, c, Int32(n))
    }
    let repeats = repeatsFor(0.05, direct)
    let (tOurs, tDirect) = interleavedMedians(runs: runs, repeats: repeats, ours, direct)
    let flops = 2.0 * Double(m * n * k)
    print("| \(name) | \(m) × \(k) × \(n) | \(fmt(flops / tOurs / 1e9, 2)) | \(fmt(flops / tDirect / 1e9, 2)) | \(fmt(tOurs / tDirect, 3)) |")
    a.deallocate(); b.deallocate(); c.deallocate()
}

func fmt(_ x: Double, _ digits: Int) -> String {
    var s = String(Int((x * pow(10, Double(digits))).rounded()))
    while s.count <= digits { s = "0" + s }
    return digits == 0 ? s : s.dropLast(digits) + "." + s.suffix(digits)
}

// MARK: (b) ResNet

/// DDU-family ResNet without batch norm: stride-1 3×3 stem, one BasicBlock-like residual block per
/// width (two 3×3 convolutions, the first of stride 2 from the second stage), leaky ReLU 0.01,
/// average-pooling + zero-channel-padding shortcuts, global average pooling ("features"), dense, softmax.
func resNet(widths: [Int], size: Int, classes: Int, spectralNorm: SpectralNorm?) -> [NetworkNode] {
    let leaky = { NetworkNode.layer(Elementwise(.leakyRelu(slope: 0.01))) }
    var nodes: [NetworkNode] = [.layer(Conv2D(outChannels: widths[0], kernelSize: 3, stride: 1, padding: 1, bias: false, spectralNorm: spectralNorm)), leaky()]
    var inChannels = widths[0], size = size
    for (stage, width) in widths.enumerated() {
        let stride = stage == 0 ? 1 : 2
        let main: [NetworkNode] = [
            .layer(Conv2D(outChannels: width, kernelSize: 3, stride: stride, padding: 1, bias: false, spectralNorm: spectralNorm)), leaky(),
            .layer(Conv2D(outChannels: width, kernelSize: 3, stride: 1, padding: 1, bias: false, spectralNorm: spectralNorm)),
        ]
        let shortcut: [NetworkNode] = stride == 1 && inChannels == width ? [] :
            [.layer(Pool2D(.average, kernelSize: size % 2 == 0 ? stride : 1, stride: stride)), .layer(ChannelPad(outChannels: width))]
        nodes += [.residual(main: main, shortcut: shortcut), leaky()]
        inChannels = width
        size = (size + stride - 1) / stride
    }
    return nodes + [.layer(GlobalAveragePool(), name: "features"), .layer(Dense(outputs: classes)), .layer(Softmax())]
}

print("\n## Spectrally normalised ResNet (DDU family), 28×28×1, one core\n")
print("Stem conv 3×3 (1→w₁), one residual block per stage (two 3×3 convs; stride 2 and avg-pool + channel-pad shortcut from stage 2), leaky ReLU 0.01, spectral norm (c = 4) on every conv, global average pooling, dense → 10, softmax; no batch norm yet. Median of \(runs) runs; batch 1 unless stated.\n")
print("| widths | MFLOP fwd | forward (ms) | forward + input gradient (ms) | target | train step fwd+bwd+param grads, batch 32 (images/s) |")
print("|---|---:|---:|---:|---|---:|")
for widths in [[16, 32, 64], [32, 64, 128]] {
    let network = try Network(inputShape: [1, 28, 28], nodes: resNet(widths: widths, size: 28, classes: 10, spectralNorm: SpectralNorm(coefficient: 4)))
    var scale = 1.0
    for (_, spec, range) in network.parameterList where spec.role == .trainable {
        scale = spec.shape.count == 4 ? (2.0 / Double(spec.shape[1] * spec.shape[2] * spec.shape[3])).squareRoot() : 0.1
        for i in range { network.parameters[i] = Double.random(in: -scale...scale, using: &rng) }
    }
    network.parametersChanged()
    for _ in 0..<5 { network.prepareTrainingStep() }
    let evaluator = network.makeEvaluator() as! NetworkEvaluator
    let last = try network.outputBuffer("probabilities")
    let x = (0..<784).map { _ in Double.random(in: 0...1, using: &rng) }
    var cotangent = [Double](repeating: 0, count: 10)
    cotangent[3] = 1
    var flops = 0.0
    var size = 28, inC = 1
    flops += 2.0 * Double(widths[0] * inC * 9 * size * size); inC = widths[0]
    for (stage, w) in widths.enumerated() {
        let stride = stage == 0 ? 1 : 2
        let out = (size + stride - 1) / stride
        flops += 2.0 * Double(w * inC * 9 * out * out) + 2.0 * Double(w * w * 9 * out * out)
        inC = w; size = out
    }
    let forward = { x.withUnsafeBufferPointer { evaluator.forward($0, rows: 1) } }
    let both = {
        x.withUnsafeBufferPointer { evaluator.forward($0, rows: 1) }
        cotangent.withUnsafeBufferPointer { _ = evaluator.backward(from: last, cotangent: $0) }
    }
    let repeats = repeatsFor(0.2, both)
    let tForward = median(runs: runs, repeats: repeats, forward).median
    let tBoth = median(runs: runs, repeats: repeats, both).median
    // Training-style step: batch 32, forward in training mode, backward with parameter gradients.
    let batch = 32
    let xs = (0..<batch * 784).map { _ in Double.random(in: 0...1, using: &rng) }
    let cs = (0..<batch * 10).map { _ in Double.random(in: -1...1, using: &rng) }
    var grads = [Double](repeating: 0, count: network.parameters.count)
    let train = {
        network.prepareTrainingStep()
        xs.withUnsafeBufferPointer { evaluator.forward($0, rows: batch, training: true) }
        cs.withUnsafeBufferPointer { c in grads.withUnsafeMutableBufferPointer { _ = evaluator.backward(from: last, cotangent: c, parameterGradients: $0.baseAddress) } }
    }
    let tTrain = median(runs: quick ? 3 : 5, repeats: 1, train).median
    let label = widths.map(String.init).joined(separator: "-")
    print("| \(label) | \(fmt(flops / 1e6, 1)) | \(fmt(tForward * 1e3, 3)) | \(fmt(tBoth * 1e3, 3)) | \(widths == [16, 32, 64] ? "< 5 ms: " + (tBoth < 5e-3 ? "met" : "**missed**") : "") | \(fmt(Double(batch) / tTrain, 0)) |")
}
