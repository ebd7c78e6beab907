/// The instance being explained and what the model says of it, worked out once per search: its
/// class probabilities, the predicted class (their argmax) and that class's probability. Searches
/// keep it instead of deriving these facts each on their own; the class is stored, so hot loops
/// never recompute the argmax.
struct Factual {
    /// The instance, in the model's input space.
    let x: [Double]
    /// The model's class probabilities at `x`.
    let proba: [Double]
    /// The predicted class: the argmax of `proba`.
    let predicted: Int

    init(x: [Double], proba: [Double]) {
        self.x = x
        self.proba = proba
        self.predicted = argmax(proba)
    }

    /// The probability of the predicted class.
    var predictedProba: Double { proba[predicted] }
}
