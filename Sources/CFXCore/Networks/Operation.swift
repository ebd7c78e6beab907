/// A tensor a layer owns: trainable parameters ("weight", "bias"), state that is saved but not
/// trained (batch norm's running statistics, spectral normalisation's power-iteration vector) and
/// derived values that are recomputed rather than saved (a spectrally normalised weight).
public struct ParameterSpec: Sendable, Equatable {
    public enum Role: Sendable { case trainable, state, derived }

    public let name: String
    public let shape: [Int]
    public let role: Role

    public init(_ name: String, _ shape: [Int], _ role: Role = .trainable) {
        self.name = name
        self.shape = shape
        self.role = role
    }

    public var count: Int { shape.reduce(1, *) }
}

/// One example's shape, [features] or [channels, height, width], as a plain value: the hot path
/// passes it around without touching reference counts.
public struct TensorShape: Sendable, Equatable {
    public let channels: Int
    public let height: Int
    public let width: Int
    /// Whether the shape is [channels, height, width] rather than [features].
    public let isImage: Bool

    public init(_ dims: [Int]) {
        isImage = dims.count == 3
        channels = dims.first ?? 0
        height = isImage ? dims[1] : 1
        width = isImage ? dims[2] : 1
    }

    public var count: Int { channels * height * width }
    public var dims: [Int] { isImage ? [channels, height, width] : [channels] }
}

/// What an operation sees of one forward or backward call, in the network's number type T.
public struct OperationContext<T: NetworkScalar> {
    /// One example's input and output shapes.
    public let inputShape: TensorShape
    public let outputShape: TensorShape
    public let batch: Int
    /// Training mode: batch norm uses batch statistics and updates its running ones.
    public let training: Bool
    /// This operation's tensors, one after the other in `parameterSpecs` order.
    public let parameters: UnsafeMutablePointer<T>
    /// Gradients of the trainable parameters, same layout, accumulated (+=); nil when only input
    /// gradients are wanted, so that the operation can skip that work.
    public let parameterGradients: UnsafeMutablePointer<T>?
    /// `scratchCount` values, private to this call site on this thread, kept from forward to
    /// backward (e.g. the positions max pooling chose).
    public let scratch: UnsafeMutablePointer<T>
    /// `workspaceCount` values for use within one call (an im2col matrix), shared by all steps.
    public let workspace: UnsafeMutablePointer<T>
    // The evaluator keeps the pool and the cache alive for the call: held unowned, so that making
    // a context per step costs no reference counting (it showed in small MLPs' searches).

    /// Threads for splitting the call's work (nil: the calling thread alone).
    public unowned(unsafe) let pool: IntraOpPool?
    /// State this call site keeps between calls on this evaluator (e.g. a convolution library's
    /// prepared primitives), valid while `parametersVersion` is unchanged.
    public unowned(unsafe) let cache: StepCache
    /// Changes whenever the network's tensors do (`Network.parametersChanged()` and training steps).
    public let parametersVersion: Int
    /// Backward only, for an operation that `overwritesInputGradient`: dx holds stale values, and
    /// the pass writes every one of them as 0 + ∂L/∂x (the bits that adding to a cleared dx gives).
    public var overwrite = false
    /// Forward only, for an operation that `forwardsRowsAlone`: every row must get the bits a call on
    /// that row alone gets (a prefetching pass of two rows, `Tape.forward(rowsAlone:)`).
    public var rowsAlone = false

    public var inputCount: Int { inputShape.count }
    public var outputCount: Int { outputShape.count }
}

/// A slot an operation may fill with state of its own for one call site of one evaluator.
public final class StepCache {
    public var value: AnyObject?
    public init() {}
}

/// One layer of a network: y = f(x; θ) over a batch, and its backward pass. Layers subclass it.
///
/// An operation object holds only its configuration, so one network can run on several threads
/// at once; tensors live in the network's parameter store, scratch memory in each evaluator.
/// Tensors are kept in Double (training, files, derived tensors: `initialise`, `parametersChanged`,
/// `prepareTrainingStep`, `commitTrainingStep` work on them); forward and backward passes run in
/// the network's number type on a copy.
/// (A class rather than a protocol so that evaluators can call it without reference counting.)
open class Operation: @unchecked Sendable {
    /// The spec's layer type ("dense", "conv2d", ...), for errors and files.
    public let kind: String

    public init(kind: String) { self.kind = kind }

    /// One example's output shape; throws a model error when the input shape does not fit.
    open func outputShape(for input: [Int]) throws -> [Int] { input }

    /// The tensors this operation owns for that input shape.
    open func parameterSpecs(for input: [Int]) -> [ParameterSpec] { [] }

    /// Scratch values needed by a call on `batch` examples, kept from forward to backward.
    open func scratchCount(input: [Int], batch: Int) -> Int { 0 }

    /// Temporary values needed within one call on `batch` examples (shared by all steps).
    open func workspaceCount(input: [Int], batch: Int) -> Int { 0 }

    /// Whether backward can write dx rather than add to it (`OperationContext.overwrite`), so that
    /// the evaluator need not clear dx first when this operation is the first to reach it.
    open var overwritesInputGradient: Bool { false }

    /// Whether forward, given a context with `rowsAlone`, computes each row as a call on that row
    /// alone does (its values and what it keeps in scratch for that row): a pass that needs it runs
    /// the other operations one row at a time.
    open var forwardsRowsAlone: Bool { false }

    // The passes, one override per number type. A layer writes each pass once, as a private
    // generic function, and overrides both with one-line calls to it: the calls are compiled for
    // Float and for Double. (A generic method overridden and called through the vtable would run
    // its unspecialized code, an order of magnitude slower.)

    /// y = f(x; θ) for `context.batch` examples.
    open func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ context: OperationContext<Float>) {}
    open func forward(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, _ context: OperationContext<Double>) {}

    /// Given dy = ∂L/∂y, adds ∂L/∂x to dx (dx += …, so that branches accumulate; written instead
    /// with `context.overwrite`) and, when the context asks for them, ∂L/∂θ to the parameter gradients.
    open func backward(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>,
                       _ dx: UnsafeMutablePointer<Float>, _ context: OperationContext<Float>) {}
    open func backward(_ x: UnsafePointer<Double>, _ y: UnsafePointer<Double>, _ dy: UnsafePointer<Double>,
                       _ dx: UnsafeMutablePointer<Double>, _ context: OperationContext<Double>) {}

    /// Recomputes derived tensors after the parameters changed (loading, a training step).
    open func parametersChanged(_ parameters: UnsafeMutablePointer<Double>, input: [Int]) {}

    /// Called once before each training batch, on one thread, before any forward pass: e.g.
    /// spectral normalisation advances its power iteration here (state it then keeps).
    open func prepareTrainingStep(_ parameters: UnsafeMutablePointer<Double>, input: [Int]) {}

    /// Initial values of this operation's tensors, drawn from `random` (Network.init calls it
    /// once per operation, in tape order, before a spec or weights file overwrites any tensor):
    /// what a network built from an architecture alone starts training from. The default leaves
    /// zeros. Dense draws PyTorch's default, U(−1/√in, 1/√in) for weight and bias; batch norm
    /// sets γ = 1, β = 0, running mean 0 and running variance 1. A layer with trainable tensors
    /// should override it (zeros do not train), and must draw from `random` deterministically.
    open func initialise(_ parameters: UnsafeMutablePointer<Double>, input: [Int], random: inout SeededRandom) {}

    /// After the forward passes of one training step, on one thread: updates state tensors from
    /// what the training-mode forward passes left in their scratch (batch norm's running
    /// statistics). Training-mode forward passes never write tensors themselves, so that the
    /// shards of a batch can run at once; `shards` holds each shard's scratch (as its forward pass
    /// left it) and row count, in shard order. Network.commitTrainingStep calls it.
    open func commitTrainingStep<T: NetworkScalar>(_ parameters: UnsafeMutablePointer<Double>, input: [Int],
                                                   shards: [(scratch: UnsafePointer<T>, rows: Int)]) {}
}

/// A network as layers, residual and concat blocks, before it is compiled.
public indirect enum NetworkNode: Sendable {
    /// A layer; `name` makes its output a named output of the network (e.g. "features").
    case layer(Operation, name: String? = nil)
    /// y = main(x) + shortcut(x); an empty shortcut is the identity.
    case residual(main: [NetworkNode], shortcut: [NetworkNode], name: String? = nil)
    /// y = [b₀(x), b₁(x), …] joined along one example's first axis (the channels of
    /// [channels, height, width], the features of [features]); the branches' other dimensions
    /// must agree; an empty branch is the identity. At least two branches.
    case concat(branches: [[NetworkNode]], name: String? = nil)
}
