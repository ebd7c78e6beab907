/// Training data a method fits on (prototypes, k-d trees, class densities): rows × features
/// values and, optionally, a class label per row (otherwise methods use the model's predictions).
public struct Dataset: Sendable {
    public let x: [Double]
    public let rows: Int
    public let features: Int
    public let labels: [Int]?

    /// Checks the shape, finiteness and labels (classes 0..<classCount); errors name the argument.
    public init(x: [Double], rows: Int, features: Int, labels: [Int]?, classCount: Int) throws {
        guard rows > 0 else { throw CFXError(.invalidArgument, "n: training data needs at least one row") }
        guard x.count == rows * features else {
            throw CFXError(.shape, "x: holds \(x.count) values, expected \(rows) rows × \(features) features")
        }
        try requireFinite(x, "x")
        if let labels {
            guard labels.count == rows else { throw CFXError(.shape, "y: has \(labels.count) labels for \(rows) rows") }
            if let i = labels.firstIndex(where: { !(0..<classCount).contains($0) }) {
                throw CFXError(.invalidArgument, "y[\(i)]: class \(labels[i]) is outside 0..<\(classCount)")
            }
        }
        self.x = x
        self.rows = rows
        self.features = features
        self.labels = labels
    }

    public func row(_ r: Int) -> ArraySlice<Double> { x[r * features..<(r + 1) * features] }
}
