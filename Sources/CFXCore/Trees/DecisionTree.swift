/// One decision tree as a loader builds it: nodes indexed from 0 (the root), each a split or a
/// leaf. `TreeEnsemble` checks the structure and flattens the trees for evaluation.
public struct DecisionTree: Sendable {
    /// How a split treats its feature's value (see `TreeSplit.goesLeft`).
    public struct SplitFlags: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Left when x < threshold (XGBoost); otherwise left when x ≤ threshold (LightGBM, scikit-learn).
        public static let strict = SplitFlags(rawValue: 1)
        /// A missing value (NaN, or zero with `zeroIsMissing`) goes left; otherwise right.
        public static let missingLeft = SplitFlags(rawValue: 2)
        /// LightGBM's missing type "Zero": |x| ≤ 1e-35 is missing.
        public static let zeroIsMissing = SplitFlags(rawValue: 4)
        /// LightGBM's missing types "None" and "Zero": NaN is read as 0 before the test.
        public static let nanIsZero = SplitFlags(rawValue: 8)
    }

    public enum Node: Sendable {
        case split(feature: Int, threshold: Double, left: Int, right: Int, flags: SplitFlags)
        /// The leaf's values: one (added to the tree's `target` score) or one per score.
        case leaf([Double])
    }

    public var nodes: [Node]
    /// The score every leaf adds to, or nil when each leaf holds one value per score.
    public var target: Int?

    public init(nodes: [Node], target: Int?) {
        self.nodes = nodes
        self.target = target
    }
}

/// How an ensemble's summed scores become class probabilities.
public enum TreeOutput: Sendable, Equatable {
    /// One score s: p₁ = σ(scale · s), p₀ = 1 − p₁ (XGBoost binary:logistic, LightGBM binary).
    case logistic(scale: Double)
    /// One score per class, softmax (XGBoost multi:softprob, LightGBM multiclass).
    case softmax
    /// One score per class, already probabilities (a random forest's averaged votes).
    case probabilities
    /// One score p, already the probability of class 1: p₀ = 1 − p (a binary forest in ONNX).
    case binaryProbability
}

/// The arithmetic of the source library, so that cfx's probabilities equal its own.
public enum TreePrecision: Sendable, Equatable {
    /// Everything in float64 (LightGBM; scikit-learn through ONNX with double tensors).
    case float64
    /// XGBoost: features rounded to float32 before each test, scores summed and transformed in float32.
    case float32
    /// A FLOAT-input ONNX model: features rounded to float32 before each test, scores in float64.
    case float32Inputs
}
