/// y = W x + b, W stored outputs × inputs (PyTorch's layout). Takes one-dimensional inputs.
public final class Dense: Operation {
    public let outputs: Int

    public init(outputs: Int) {
        self.outputs = outputs
        super.init(kind: "dense")
    }

    public override func outputShape(for input: [Int]) throws -> [Int] {
        guard input.count == 1 else { throw CFXError(.model, "expects a flat input, got shape \(input) (add a flatten layer)") }
        guard outputs > 0 else { throw CFXError(.model, "outputs must be positive, got \(outputs)") }
        return [outputs]
    }

    public override func parameterSpecs(for input: [Int]) -> [ParameterSpec] {
        [ParameterSpec("weight", [outputs, input[0]]), ParameterSpec("bias", [outputs])]
    }

    /// PyTorch's default (Kaiming uniform with a = √5): weight and bias from U(−1/√in, 1/√in).
    public override func initialise(_ parameters: UnsafeMutablePointer<Double>, input: [Int], random: inout SeededRandom) {
        let bound = 1 / Double(input[0]).squareRoot()
        for i in 0..<outputs * (input[0] + 1) { parameters[i] = random.uniform(-bound, bound) }
    }

    public override func forward(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ c: OperationContext) {
        let inputs = c.inputCount, weight = UnsafePointer(c.parameters), bias = c.parameters + outputs * inputs
        for r in 0..<c.batch { (y + r * outputs).update(from: bias, count: outputs) }
        gemm(transposeA: false, transposeB: true, m: c.batch, n: outputs, k: inputs,
             x, lda: inputs, weight, ldb: inputs, beta: 1, y, ldc: outputs)
    }

    public override func backward(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                         _ dx: UnsafeMutablePointer<Double>, _ c: OperationContext) {
        let inputs = c.inputCount, weight = UnsafePointer(c.parameters)
        // dx += dy · W
        gemm(transposeA: false, transposeB: false, m: c.batch, n: inputs, k: outputs,
             dy, lda: outputs, weight, ldb: inputs, beta: 1, dx, ldc: inputs)
        guard let dWeight = c.parameterGradients else { return }
        // dW += dyᵀ · x, db += Σ dy
        gemm(transposeA: true, transposeB: false, m: outputs, n: inputs, k: c.batch,
             dy, lda: outputs, x, ldb: inputs, beta: 1, dWeight, ldc: inputs)
        let dBias = dWeight + outputs * inputs
        for r in 0..<c.batch {
            for o in 0..<outputs { dBias[o] += dy[r * outputs + o] }
        }
    }
}
