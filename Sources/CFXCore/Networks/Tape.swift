/// The passes of one evaluator in the network's number type T: activations, gradients and scratch
/// of every buffer, and one workspace shared by the steps.
final class Tape<T: NetworkScalar> {
    /// A step as the tape runs it: plain values and an unretained operation (the network keeps it
    /// alive), so that threads sharing one network never contend on reference counts.
    private struct PlannedStep {
        let operation: Unmanaged<Operation>?  // nil for the joins (add, concat)
        let concat: Bool  // a concat join (otherwise an add, when there is no operation)
        let input: Int
        let other: Int  // the join's second input
        let output: Int
        let inputShape: TensorShape
        let outputShape: TensorShape
        let parameterOffset: Int
        let scratch: Int  // this tape's scratch buffer for the step
    }

    private let plan: [PlannedStep]
    /// The whole pass in one call, for an MLP (nil for other networks).
    private let chain: SmallChain?
    /// The values' and then the gradients' pointers, as C reads them (the chain's passes).
    private let bufferTable: UnsafeMutablePointer<UnsafeMutablePointer<T>?>
    private let bufferSizes: [Int]
    private let network: Network
    private let parameters: UnsafeMutablePointer<T>
    private let pool: IntraOpPool?
    private let caches: [StepCache]
    private var capacity = 0
    private(set) var rows = 0
    /// Buffers 0…forwardThrough hold the last forward pass (of `rows` rows, in `forwardTraining` mode).
    private var forwardThrough = -1
    private var forwardTraining = false
    private(set) var values: [UnsafeMutablePointer<T>] = []
    private(set) var gradients: [UnsafeMutablePointer<T>] = []
    private var scratch: [UnsafeMutablePointer<T>] = []
    /// Per step, whether its backward pass writes its input's gradient rather than adding to it;
    /// per buffer, whether a step has claimed its gradient and whether it is written (not cleared).
    private let overwrites: UnsafeMutablePointer<Bool>
    /// Per step, whether it is a pooling that runs the backward pass of the relu step before it
    /// too (`Pool2D.backwardThroughRelu`), decided with `overwrites`; `reluPools`: where it can.
    private let throughRelu: UnsafeMutablePointer<Bool>
    private let reluPools: [Bool]
    private let claimed: UnsafeMutablePointer<Bool>
    private let written: UnsafeMutablePointer<Bool>
    private var workspace = UnsafeMutablePointer<T>.allocate(capacity: 1)
    private var workspaceCount = 1
    /// Values the buffers hold (prepared convolutions not counted).
    var heldValues: Int { capacity * (2 * bufferSizes.reduce(0, +)) + scratchCount + workspaceCount }
    private var scratchCount = 0

    init(_ network: Network, parameters: UnsafeMutablePointer<T>, pool: IntraOpPool?, smallChain: Bool) {
        self.network = network
        self.parameters = parameters
        self.pool = pool
        self.caches = network.steps.map { _ in StepCache() }
        self.bufferSizes = network.bufferShapes.map { $0.reduce(1, *) }
        self.chain = smallChain ? SmallChain(network) : nil
        self.bufferTable = .allocate(capacity: 2 * bufferSizes.count)
        bufferTable.initialize(repeating: nil, count: 2 * bufferSizes.count)
        self.overwrites = .allocate(capacity: max(network.steps.count, 1))
        overwrites.initialize(repeating: false, count: max(network.steps.count, 1))
        self.throughRelu = .allocate(capacity: max(network.steps.count, 1))
        throughRelu.initialize(repeating: false, count: max(network.steps.count, 1))
        self.claimed = .allocate(capacity: bufferSizes.count)
        claimed.initialize(repeating: false, count: bufferSizes.count)
        self.written = .allocate(capacity: bufferSizes.count)
        written.initialize(repeating: false, count: bufferSizes.count)
        self.plan = network.steps.enumerated().map { index, step in
            switch step {
            case .apply(let op, let input, let output):
                let compiled = network.operations[op]
                return PlannedStep(operation: .passUnretained(compiled.operation), concat: false, input: input, other: -1, output: output,
                                   inputShape: TensorShape(compiled.inputShape), outputShape: TensorShape(compiled.outputShape),
                                   parameterOffset: compiled.parameterOffset, scratch: index)
            case .add(let a, let b, let output):
                let shape = TensorShape(network.bufferShapes[output])
                return PlannedStep(operation: nil, concat: false, input: a, other: b, output: output, inputShape: shape, outputShape: shape,
                                   parameterOffset: 0, scratch: index)
            case .concat(let a, let b, let output):
                return PlannedStep(operation: nil, concat: true, input: a, other: b, output: output,
                                   inputShape: TensorShape(network.bufferShapes[a]), outputShape: TensorShape(network.bufferShapes[output]),
                                   parameterOffset: 0, scratch: index)
            }
        }
        self.reluPools = Self.reluPools(plan)
    }

    /// Per step, whether it is a pooling that can take the backward pass of the step before it: a
    /// relu whose output only it reads (that is checked per pass: it then claims that gradient first).
    private static func reluPools(_ plan: [PlannedStep]) -> [Bool] {
        plan.indices.map { index in
            guard index > 0, let pool = plan[index].operation?.takeUnretainedValue() as? Pool2D, pool.takesReluBackward,
                  let relu = plan[index - 1].operation?.takeUnretainedValue() as? Elementwise, relu.function == .relu else { return false }
            return plan[index - 1].output == plan[index].input
        }
    }

    deinit {
        release()
        workspace.deallocate()
        chain?.deallocate()
        bufferTable.deallocate()
        overwrites.deallocate()
        throughRelu.deallocate()
        claimed.deallocate()
        written.deallocate()
    }

    private func release() {
        for buffer in values + gradients + scratch { buffer.deallocate() }
    }

    /// Buffers for `rows` rows, kept (and reused by every later pass) until more rows are asked for.
    private func reserve(rows: Int) {
        guard rows > capacity else { return }
        release()
        values = bufferSizes.map { .allocate(capacity: $0 * rows) }
        gradients = bufferSizes.map { .allocate(capacity: $0 * rows) }
        for (i, buffer) in (values + gradients).enumerated() { bufferTable[i] = buffer }
        let scratchCounts = plan.map { step in
            max(step.operation?.takeUnretainedValue().scratchCount(input: step.inputShape.dims, batch: rows) ?? 0, 1)
        }
        scratch = scratchCounts.map { .allocate(capacity: $0) }
        scratchCount = scratchCounts.reduce(0, +)
        workspaceCount = max(plan.map { $0.operation?.takeUnretainedValue().workspaceCount(input: $0.inputShape.dims, batch: rows) ?? 0 }.max() ?? 0, 1)
        workspace.deallocate()
        workspace = .allocate(capacity: workspaceCount)
        capacity = rows
    }

    private func context(_ step: PlannedStep, training: Bool, parameterGradients: UnsafeMutablePointer<T>?,
                         batch: Int? = nil) -> OperationContext<T> {
        OperationContext(inputShape: step.inputShape, outputShape: step.outputShape, batch: batch ?? rows, training: training,
                         parameters: parameters + step.parameterOffset,
                         parameterGradients: parameterGradients.map { $0 + step.parameterOffset },
                         scratch: scratch[step.scratch], workspace: workspace, pool: pool,
                         cache: caches[step.scratch], parametersVersion: network.parametersVersion)
    }

    /// Runs `rows` rows through buffer `target`; `load` writes the input into buffer 0. `rowsAlone`:
    /// each row gets the values, and leaves the scratch, that a pass of it alone would (an
    /// operation that does not promise it at any batch, `Operation.forwardsRowsAlone`, runs one row
    /// at a time, the last row first).
    func forward(rows: Int, through target: Int, training: Bool, rowsAlone: Bool = false,
                 load: (UnsafeMutablePointer<T>) -> Void) {
        reserve(rows: rows)
        self.rows = rows
        load(values[0])
        if let chain, target == bufferSizes.count - 1, chain.fits(rows: rows) {
            chain.prepare(parameters: UnsafePointer(parameters), version: network.parametersVersion)
            chain.forward(rows: rows, parameters: UnsafePointer(parameters), values: bufferTable)
        } else {
            forwardStepByStep(through: target, training: training, rowsAlone: rowsAlone && rows > 1)
        }
        forwardThrough = target
        forwardTraining = training
    }

    private func forwardStepByStep(through target: Int, training: Bool, rowsAlone: Bool) {
        for step in plan where step.output <= target {
            let (input, output) = (values[step.input], values[step.output])
            if let operation = step.operation {
                var context = context(step, training: training, parameterGradients: nil)
                context.rowsAlone = rowsAlone
                operation._withUnsafeGuaranteedRef { op in
                    if !rowsAlone || op.forwardsRowsAlone {
                        T.forward(op, UnsafePointer(input), output, context)
                    } else {
                        forwardRowByRow(op, step, input, output, training: training)
                    }
                }
            } else if step.concat {
                concatForward(step, UnsafePointer(input), UnsafePointer(values[step.other]), output)
            } else {
                let other = values[step.other]
                splitValues(rows * step.outputShape.count, on: pool) { r in
                    for i in r { output[i] = input[i] + other[i] }
                }
            }
        }
    }

    /// `operation`'s forward pass over the rows one at a time, the last first, so that its scratch
    /// is left as a pass of row 0 alone leaves it.
    private func forwardRowByRow(_ operation: Operation, _ step: PlannedStep, _ input: UnsafeMutablePointer<T>,
                                 _ output: UnsafeMutablePointer<T>, training: Bool) {
        let context = context(step, training: training, parameterGradients: nil, batch: 1)
        for row in (0..<rows).reversed() {
            T.forward(operation, UnsafePointer(input + row * step.inputShape.count), output + row * step.outputShape.count, context)
        }
    }

    /// Keeps the first row of the last forward pass, a chain pass or one with `rowsAlone`, as a
    /// one-row pass: its buffers' first rows and its steps' scratch are what a pass of that row
    /// alone leaves.
    func keepFirstRow() {
        precondition(rows > 1, "the first row of a pass of \(rows) rows")
        rows = 1
    }

    func holds(rows: Int, through target: Int) -> Bool {
        rows == self.rows && forwardThrough >= target && !forwardTraining
    }

    /// The scratch of step `step` (writing buffer `output`) after a training-mode forward pass
    /// that reached it, with its row count; nil otherwise.
    func trainingScratch(step: Int, output: Int) -> (scratch: UnsafePointer<T>, rows: Int)? {
        guard forwardTraining, forwardThrough >= output, rows > 0 else { return nil }
        return (UnsafePointer(scratch[step]), rows)
    }

    /// Whether the backward pass through `top` runs as one small-chain call.
    private func chainRuns(through top: Int, parameterGradients: Bool) -> Bool {
        guard let chain, !parameterGradients, top == bufferSizes.count - 1 else { return false }
        return chain.fits(rows: rows)
    }

    /// Readies the gradients of buffers 0…top for a backward pass seeded at the `seeded` buffers: the first step to reach a buffer that gets no seed writes its gradient when its
    /// operation can (`overwritesInputGradient`); every other buffer's gradient is zeroed. Either
    /// way each gradient is what adding to a zeroed buffer gives, to the bit.
    func clearGradients(through top: Int, parameterGradients: Bool, seeded: (Int) -> Bool) {
        precondition(top <= forwardThrough, "backward needs a forward pass through buffer \(top)")
        guard !chainRuns(through: top, parameterGradients: parameterGradients) else {
            // The chain adds to every gradient (`overwrites` is read by layer-by-layer passes only).
            for b in 0...top { gradients[b].update(repeating: 0, count: rows * bufferSizes[b]) }
            return
        }
        for b in 0...top { (claimed[b], written[b]) = (seeded(b), false) }
        for index in plan.indices.reversed() {
            let step = plan[index]
            overwrites[index] = false
            guard step.output <= top else { continue }
            if !claimed[step.input] {
                claimed[step.input] = true
                overwrites[index] = step.operation?.takeUnretainedValue().overwritesInputGradient ?? false
                written[step.input] = overwrites[index]
            }
            if step.operation == nil { claimed[step.other] = true }
        }
        // A pooling that writes the gradient of a relu's output, which writes its own input's: one pass.
        for index in plan.indices {
            throughRelu[index] = overwrites[index] && reluPools[index] && overwrites[index - 1]
        }
        for b in 0...top where !written[b] { gradients[b].update(repeating: 0, count: rows * bufferSizes[b]) }
    }

    /// Runs the backward pass from the seeded gradients of buffers 0…top down to the input (after
    /// `clearGradients` with the same top and parameter gradients); returns the input's gradient (rows × d).
    func propagate(through top: Int, parameterGradients: UnsafeMutablePointer<T>?) -> UnsafeMutablePointer<T> {
        if let chain, chainRuns(through: top, parameterGradients: parameterGradients != nil) {
            chain.prepare(parameters: UnsafePointer(parameters), version: network.parametersVersion)
            chain.backward(rows: rows, parameters: UnsafePointer(parameters), values: bufferTable, gradients: bufferTable + bufferSizes.count)
            return gradients[0]
        }
        var reluDone = false
        for index in plan.indices.reversed() where plan[index].output <= top {
            let step = plan[index], dy = gradients[step.output]
            if reluDone {
                reluDone = false  // the pooling after it ran this relu's backward pass
            } else if throughRelu[index], let pool = step.operation?.takeUnretainedValue() as? Pool2D {
                let relu = plan[index - 1]
                let context = context(step, training: forwardTraining, parameterGradients: parameterGradients)
                pool.backwardThroughRelu(reluInput: UnsafePointer(values[relu.input]), UnsafePointer(dy), gradients[relu.input], context)
                reluDone = true
            } else if let operation = step.operation {
                let (x, y, dx) = (values[step.input], values[step.output], gradients[step.input])
                var context = context(step, training: forwardTraining, parameterGradients: parameterGradients)
                context.overwrite = overwrites[index]
                operation._withUnsafeGuaranteedRef { T.backward($0, UnsafePointer(x), UnsafePointer(y), UnsafePointer(dy), dx, context) }
            } else if step.concat {
                concatBackward(step, UnsafePointer(dy), gradients[step.input], gradients[step.other])
            } else {
                let (da, db) = (gradients[step.input], gradients[step.other])
                splitValues(rows * step.outputShape.count, on: pool) { r in
                    for i in r {
                        da[i] += dy[i]
                        db[i] += dy[i]
                    }
                }
            }
        }
        return gradients[0]
    }

    /// Each row of the output: the row of `a`, then the row of `b`.
    private func concatForward(_ step: PlannedStep, _ a: UnsafePointer<T>, _ b: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>) {
        let (na, nb) = (bufferSizes[step.input], bufferSizes[step.other])
        for r in 0..<rows {
            (y + r * (na + nb)).update(from: a + r * na, count: na)
            (y + r * (na + nb) + na).update(from: b + r * nb, count: nb)
        }
    }

    /// The vector-Jacobian product of the concat: each input's gradient gains its part of dy's row.
    private func concatBackward(_ step: PlannedStep, _ dy: UnsafePointer<T>, _ da: UnsafeMutablePointer<T>, _ db: UnsafeMutablePointer<T>) {
        let (na, nb) = (bufferSizes[step.input], bufferSizes[step.other])
        for r in 0..<rows {
            let row = dy + r * (na + nb)
            for i in 0..<na { da[r * na + i] += row[i] }
            for i in 0..<nb { db[r * nb + i] += row[na + i] }
        }
    }
}
