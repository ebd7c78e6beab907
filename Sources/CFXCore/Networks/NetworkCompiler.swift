/// Turns nodes into operations, steps and buffers, checking shapes and sizes as it goes: every
/// tensor within `Limits.tensorElements` and all parameters within `Limits.parameters`, computed
/// with checked arithmetic, so that evaluating the network cannot overflow a size.
struct NetworkCompiler {
    var shapes: [[Int]]
    /// One example's element count of every buffer.
    var bufferSizes: [Int]
    var operations: [Network.CompiledOperation] = []
    var steps: [Network.Step] = []
    var names: [String: Int] = [:]
    var parameterCount = 0
    /// Scratch values of every operation for one row.
    var scratchPerRow = 0

    /// The checked element count of a tensor of `shape`, named `what` in the error.
    func tensorCount(_ shape: [Int], _ what: String) throws -> Int {
        guard let count = checkedCount(shape), count <= Limits.tensorElements else {
            throw CFXError(.model, "\(what): shape \(shape) is over the limit of \(Limits.tensorElements) values per tensor")
        }
        return count
    }

    /// Adds a buffer of one example's `shape`.
    mutating func addBuffer(_ shape: [Int], _ what: String) throws {
        guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }) else { throw CFXError(.model, "\(what): gives an empty output \(shape)") }
        bufferSizes.append(try tensorCount(shape, "\(what) output"))
        shapes.append(shape)
    }

    /// The values one row needs in an evaluator (activations and gradients of every buffer, and
    /// scratch), at most `Limits.rowElements`.
    func rowElements() throws -> Int {
        var perRow = scratchPerRow
        for size in bufferSizes {
            guard let sum = checkedSum(perRow, 2 * size), sum <= Limits.rowElements else {
                throw CFXError(.model, "layers: one example needs more than \(Limits.rowElements) values of activations, gradients and scratch")
            }
            perRow = sum
        }
        return max(perRow, 1)
    }

    /// Compiles `nodes` reading buffer `input`; returns the buffer of the last output.
    mutating func compile(_ nodes: [NetworkNode], input: Int, path: String) throws -> Int {
        var current = input
        for (i, node) in nodes.enumerated() {
            let nodePath = "\(path)\(i)"
            switch node {
            case .layer(let operation, let name):
                let inputShape = shapes[current]
                let outputShape: [Int]
                do {
                    outputShape = try operation.outputShape(for: inputShape)
                } catch let error as CFXError {
                    throw CFXError(.model, "\(nodePath) (\(operation.kind)): \(error.message)")
                }
                try addBuffer(outputShape, "\(nodePath) (\(operation.kind))")
                let specs = operation.parameterSpecs(for: inputShape)
                let offset = parameterCount
                for spec in specs {
                    let count = try tensorCount(spec.shape, "\(nodePath).\(spec.name)")
                    guard let total = checkedSum(parameterCount, count), total <= Limits.parameters else {
                        throw CFXError(.model, "\(nodePath).\(spec.name): the network's tensors hold more than \(Limits.parameters) values")
                    }
                    parameterCount = total
                }
                // Safe to ask now: the layer's tensors and output are within the limits above.
                let scratch = operation.scratchCount(input: inputShape, batch: 1)
                guard scratch <= Limits.tensorElements, let total = checkedSum(scratchPerRow, scratch), total <= Limits.rowElements else {
                    throw CFXError(.model, "\(nodePath) (\(operation.kind)): needs \(scratch) values of scratch, over the limit of \(Limits.tensorElements)")
                }
                scratchPerRow = total
                let workspace = operation.workspaceCount(input: inputShape, batch: 1)
                guard workspace <= Limits.tensorElements else {
                    throw CFXError(.model, "\(nodePath) (\(operation.kind)): needs \(workspace) values of workspace, over the limit of \(Limits.tensorElements)")
                }
                operations.append(.init(operation: operation, path: nodePath + ".", inputShape: inputShape,
                                        outputShape: outputShape, parameterSpecs: specs, parameterOffset: offset))
                steps.append(.apply(operation: operations.count - 1, input: current, output: shapes.count - 1))
                current = shapes.count - 1
                try setName(name, current, nodePath)
            case .residual(let main, let shortcut, let name):
                let mainOutput = try compile(main, input: current, path: "\(nodePath).main.")
                let shortcutOutput = try compile(shortcut, input: current, path: "\(nodePath).shortcut.")
                guard shapes[mainOutput] == shapes[shortcutOutput] else {
                    throw CFXError(.model, "\(nodePath) (residual): the main path gives \(shapes[mainOutput]), the shortcut \(shapes[shortcutOutput])")
                }
                try addBuffer(shapes[mainOutput], "\(nodePath) (residual)")
                steps.append(.add(mainOutput, shortcutOutput, output: shapes.count - 1))
                current = shapes.count - 1
                try setName(name, current, nodePath)
            case .concat(let branches, let name):
                current = try compileConcat(branches, input: current, path: nodePath)
                try setName(name, current, nodePath)
            }
        }
        return current
    }

    /// A concat block's branches from buffer `input`, joined two at a time along one example's
    /// first axis (n branches: n − 1 join steps); returns the buffer of the whole join.
    private mutating func compileConcat(_ branches: [[NetworkNode]], input: Int, path: String) throws -> Int {
        guard branches.count >= 2 else { throw CFXError(.model, "\(path) (concat): needs at least two branches, got \(branches.count)") }
        var outputs: [Int] = []
        for (b, branch) in branches.enumerated() {
            outputs.append(try compile(branch, input: input, path: "\(path).branches.\(b)."))
        }
        var joined = outputs[0]
        for (b, next) in outputs.enumerated().dropFirst() {
            let (left, right) = (shapes[joined], shapes[next])
            guard left.count == right.count, left.dropFirst() == right.dropFirst() else {
                throw CFXError(.model, "\(path) (concat): branch \(b) gives \(shapes[next]), branch 0 \(shapes[outputs[0]]); a concat needs the same shape but in the first dimension")
            }
            guard let first = checkedSum(left[0], right[0]) else { throw CFXError(.model, "\(path) (concat): too many channels") }
            try addBuffer([first] + left.dropFirst(), "\(path) (concat)")
            steps.append(.concat(joined, next, output: shapes.count - 1))
            joined = shapes.count - 1
        }
        return joined
    }

    private mutating func setName(_ name: String?, _ buffer: Int, _ path: String) throws {
        guard let name else { return }
        guard names[name] == nil, name != "probabilities", name != "logits" else {
            throw CFXError(.model, "\(path): the output name \"\(name)\" is already taken")
        }
        names[name] = buffer
    }
}
