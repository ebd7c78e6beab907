/// The split thresholds the tree methods' shrink (TreeShrink.swift, TreeExchange.swift) steps to:
/// those a point's paths test, and those a tree can reach as one feature moves with the others
/// fixed. Crossing any other threshold changes no leaf.
extension TreeEnsemble {
    /// A split's test: left when x ≤ threshold, or x < threshold when strict.
    struct Split: Hashable {
        let threshold: Double
        let strict: Bool

        static func sorted(_ splits: Set<Split>) -> [Split] {
            splits.sorted { ($0.threshold, $0.strict ? 1 : 0) < ($1.threshold, $1.strict ? 1 : 0) }
        }
    }

    func split(_ n: Int) -> Split { Split(threshold: threshold[n], strict: flags[n].contains(.strict)) }

    /// Whether `value` goes left at node `n`, rounded first where the ensemble rounds its inputs.
    func goesLeftRounded(_ value: Double, node n: Int) -> Bool {
        goesLeft(precision == .float64 ? value : Double(Float(value)), node: n)
    }

    /// Per feature, the distinct tests of the splits on the paths `point` takes through the trees
    /// (sorted).
    func pathSplits(_ point: [Double]) -> [[Split]] {
        var sets = [Set<Split>](repeating: [], count: featureCount)
        for root in roots {
            var n = Int(root)
            while feature[n] >= 0 {
                let f = Int(feature[n])
                sets[f].insert(split(n))
                n = Int(goesLeftRounded(point[f], node: n) ? left[n] : right[n])
            }
        }
        return sets.map(Split.sorted)
    }

    /// The distinct tests on feature j (sorted) of the nodes some x reaches whose feature j lies
    /// between `a` and `b` and whose other features are `point`'s: at a node on j both children are
    /// followed where the interval's ends go different ways (and where zero may read as missing).
    func splits(of j: Int, reachedFrom point: [Double], between a: Double, _ b: Double) -> [Split] {
        let (lo, hi) = (min(a, b), max(a, b))
        var found = Set<Split>()
        var stack = roots.map(Int.init)
        while let n = stack.popLast() {
            let f = Int(feature[n])
            guard f >= 0 else { continue }
            guard f == j else {
                stack.append(Int(goesLeftRounded(point[f], node: n) ? left[n] : right[n]))
                continue
            }
            let (leftReached, rightReached) = (goesLeftRounded(lo, node: n), !goesLeftRounded(hi, node: n))
            if (leftReached && rightReached) || flags[n].contains(.zeroIsMissing) {
                found.insert(split(n))
                stack += [Int(left[n]), Int(right[n])]
            } else {
                stack.append(Int(leftReached ? left[n] : right[n]))
            }
        }
        return Split.sorted(found)
    }

    /// The smallest value that goes right at `split` (after rounding to float32 where the ensemble does).
    func firstRight(of split: Split) -> Double {
        if split.strict { return split.threshold }
        return precision == .float64 ? split.threshold.nextUp : Double(Float(split.threshold).nextUp)
    }

    /// The largest value that goes left at `split`.
    func lastLeft(of split: Split) -> Double {
        if !split.strict { return split.threshold }
        return precision == .float64 ? split.threshold.nextDown : Double(Float(split.threshold).nextDown)
    }
}
