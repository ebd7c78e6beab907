import CFXKernels

// FISTA's update of one iteration in one pass over the search features. Feature by feature it does
// what the search did in turn over whole vectors (clip the gradient, add the numerical one, mask,
// step, shrink toward x, the constraints, the momentum step, the constraints again), with the same
// operations in the same order, so the values are the same bits; six passes over the vectors and
// their calls showed as much as the arithmetic in small networks' profiles. The features without
// a constraint rule go through CFXKernels' `cfx_fista_update` (vectorised for the processor: the
// same operations, written in C as Swift computes them), the others through `FISTAUpdate.feature`.

/// What the constraints do to one search feature (a feature is immutable or monotone, not both:
/// `monotoneProblem`).
enum FeatureRule: UInt8 {
    case free, immutable, increase, decrease

    /// Each feature's rule under `constraints`.
    static func of(_ constraints: Constraints) -> [FeatureRule] {
        var rules = [FeatureRule](repeating: .free, count: constraints.lower.count)
        for m in constraints.monotone { rules[m.feature] = m.direction == .increase ? .increase : .decrease }
        for j in constraints.immutable { rules[j] = .immutable }
        return rules
    }

    /// `Constraints.mask` on a gradient value.
    @inline(__always) func mask(_ g: Double) -> Double {
        switch self {
        case .free: return g
        case .immutable: return 0
        case .increase: return min(g, 0)
        case .decrease: return max(g, 0)
        }
    }

    /// The immutable and monotone part of `Constraints.apply` on a value of a feature whose original value is `o`.
    @inline(__always) func hold(_ v: Double, _ o: Double) -> Double {
        switch self {
        case .free: return v
        case .immutable: return o
        case .increase: return max(v, o)
        case .decrease: return min(v, o)
        }
    }
}

/// One iteration's values that the update reads, and what it does with them.
struct FISTAUpdate {
    let learningRate: Double, momentum: Double, beta: Double, clipMin: Double, clipMax: Double

    /// Feature j of the update (x, y and the graph gradient in place), under `rule`.
    @inline(__always)
    func feature(_ j: Int, rule: FeatureRule, x: UnsafeMutablePointer<Double>, y: UnsafeMutablePointer<Double>,
                 gradsGraph: UnsafeMutablePointer<Double>, gradsNumY: UnsafePointer<Double>, original: UnsafePointer<Double>,
                 lower: UnsafePointer<Double>, upper: UnsafePointer<Double>) {
        let o = original[j]
        let clipped = min(max(gradsGraph[j], clipMin), clipMax)
        gradsGraph[j] = clipped
        let z = y[j] - learningRate * rule.mask(clipped + gradsNumY[j])
        let next = CFProtoSearch.shrunk(z, original: o, lower: lower[j], upper: upper[j], beta: beta, rule: rule)
        let moved = next + momentum * (next - x[j])
        y[j] = rule.hold(min(max(moved, lower[j]), upper[j]), o)
        x[j] = next
    }
}

extension CFProtoSearch {
    /// One iteration's update: clips `gradsGraph` in place, then x ← shrink(y − lr·mask(g + gNum))
    /// (constrained) and y ← x + momentum·(x − x_previous) (constrained), in place. Every feature
    /// is first updated as a free one (one vectorised C loop), then the constrained ones again
    /// from their values before.
    func update(x: inout [Double], y: inout [Double], gradsGraph: inout [Double], gradsNumY: [Double],
                learningRate: Double, momentum: Double) {
        let step = FISTAUpdate(learningRate: learningRate, momentum: momentum, beta: params.beta, clipMin: params.clipMin, clipMax: params.clipMax)
        let (lower, upper, rules) = (explainer.constraints.lower, explainer.constraints.upper, explainer.featureRules)
        let constrained = explainer.constrainedFeatures
        let n = original.count
        precondition(x.count == n && y.count == n && gradsGraph.count == n && gradsNumY.count == n
                     && lower.count == n && upper.count == n && rules.count == n)
        let before = constrained.map { (x[$0], y[$0], gradsGraph[$0]) }
        x.withUnsafeMutableBufferPointer { x in
            y.withUnsafeMutableBufferPointer { y in
                gradsGraph.withUnsafeMutableBufferPointer { g in
                    gradsNumY.withUnsafeBufferPointer { gNum in
                        original.withUnsafeBufferPointer { original in
                            lower.withUnsafeBufferPointer { lower in
                                upper.withUnsafeBufferPointer { upper in
                                    let (x, y, g, gNum, o, lo, up) = (x.baseAddress!, y.baseAddress!, g.baseAddress!, gNum.baseAddress!,
                                                                      original.baseAddress!, lower.baseAddress!, upper.baseAddress!)
                                    var free = cfx_fista_step(learning_rate: learningRate, momentum: momentum, beta: params.beta,
                                                              clip_min: params.clipMin, clip_max: params.clipMax)
                                    cfx_fista_update(n, x, y, g, gNum, o, lo, up, &free)
                                    for (k, j) in constrained.enumerated() {
                                        (x[j], y[j], g[j]) = before[k]
                                        step.feature(j, rule: rules[j], x: x, y: y, gradsGraph: g, gradsNumY: gNum, original: o, lower: lo, upper: up)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
