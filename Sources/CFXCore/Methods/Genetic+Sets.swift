/// The genetic search's result: the fittest valid candidate, or with n_counterfactuals > 1 a diverse
/// set, then the sparsity pass (keys n_counterfactuals, diversity_weight, sparsify; the pass:
/// Genetic+Sparsity.swift).
extension GeneticSearch {
    /// The greedy set choice looks at this many fittest valid candidates per member asked for (at
    /// least `minimumPool`): each step scores every one of them with a k × k determinant.
    static let poolPerMember = 4, minimumPool = 40

    mutating func finish(_ e: inout GeneticExplanation, from archive: [Member]) throws {
        guard !archive.isEmpty else {
            if n > 1 { e.cfs = [] }
            return
        }
        let chosen = n > 1 ? try diverseSet(Array(archive.prefix(max(Self.minimumPool, Self.poolPerMember * n)))) : [archive[0]]
        var members = chosen.map { candidate(genes: $0.genes, point: $0.point, proba: $0.proba) }
        if explainer.params.refinement.sparsify {
            let sparse = try sparsifiedMembers(members, original: factual.x, point: \.x) { try sparsified($0, restoreFirst: $1) }
            members = distinct(sparse, else: members)
        }
        e.cf = members[0]
        if n > 1 {
            e.cfs = members
            e.diversity = DiversityKernel(scales: explainer.scales).determinant(members.map(\.x))
        }
    }

    /// The sparse members in order, except that a member the pass made equal to an earlier one
    /// stays as it was (`dense`), or, equal still, is left out: a set never lists a point twice.
    func distinct(_ sparse: [GeneticCandidate], else dense: [GeneticCandidate]) -> [GeneticCandidate] {
        var out: [GeneticCandidate] = []
        for (s, d) in zip(sparse, dense) {
            if !out.contains(where: { $0.x == s.x }) { out.append(s) } else if !out.contains(where: { $0.x == d.x }) { out.append(d) }
        }
        return out
    }

    /// The fittest member first, then, one at a time, the candidate whose addition gives the lowest
    /// mean loss − diversity_weight · det K (DiCE's set objective, with its kernel: DiverseSet.swift).
    func diverseSet(_ pool: [Member]) throws -> [Member] {
        let kernel = DiversityKernel(scales: explainer.scales), weight = explainer.params.refinement.diversityWeight
        var chosen = [pool[0]], rest = Array(pool.dropFirst())
        while chosen.count < n, !rest.isEmpty {
            try cancellation.check()
            let totalLoss = chosen.reduce(0) { $0 + $1.loss }
            var best = 0, bestObjective = Double.infinity
            for (i, c) in rest.enumerated() {
                let set = chosen + [c]
                let objective = (totalLoss + c.loss) / Double(set.count) - weight * kernel.determinant(set.map(\.point))
                if objective < bestObjective { (best, bestObjective) = (i, objective) }
            }
            chosen.append(rest.remove(at: best))
        }
        return chosen
    }

    /// A counterfactual's output from its genes, point and probabilities.
    func candidate(genes: [Double], point: [Double], proba: [Double]) -> GeneticCandidate {
        GeneticCandidate(x: point, predictedClass: argmax(proba), proba: proba, loss: loss(genes, proba[...]),
                         proximity: explainer.proximity(genes, x), changed: GeneticExplainer.changed(genes, x))
    }
}
