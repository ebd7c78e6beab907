/// The first generation, as DiCE builds it: "kdtree" takes the training rows nearest the instance
/// that the model predicts as a target class, each gene kept where the constraints admit it and the
/// instance's value otherwise; random samples fill what is missing. "random" draws every gene in
/// its range and keeps the samples the model predicts as a target.
extension GeneticSearch {
    /// Rounds of random samples (one predict of a population's worth each) before the search keeps
    /// invalid samples to fill the generation (DiCE draws until every sample is valid, without bound).
    static let randomRounds = 20

    mutating func initialPopulation() throws -> [[Double]] {
        var population: [[Double]] = []
        if explainer.params.initialization == .kdtree, let training = explainer.training {
            population = unique(nearestTargets(training).map { row in
                row.indices.map { space.admits(row[$0], $0) ? row[$0] : x[$0] }
            })
        }
        if population.count < populationSize {
            population += try randomMembers(populationSize - population.count)
        }
        return population
    }

    /// Up to a population of training rows (ordinal) the model predicts as a target class, nearest
    /// the instance first, in the Euclidean distance of features in units of their scale.
    func nearestTargets(_ training: (ordinal: [[Double]], classes: [Int])) -> [[Double]] {
        let layout = explainer.layout, scales = explainer.scales
        var scored: [(distance: Double, row: Int)] = []
        for (r, c) in training.classes.enumerated() where isTarget(c) {
            var total = 0.0
            for o in 0..<layout.ordinalFeatures {
                let j = layout.modelStart[o]
                // A categorical variable adds 1 when its category differs (its one-hot columns, 2 / 2).
                let delta = layout.variableOfOrdinal[o] >= 0 ? (training.ordinal[r][o] == x[o] ? 0 : 1)
                                                              : (training.ordinal[r][o] - x[o]) / scales[j]
                total += delta * delta
            }
            scored.append((total, r))
        }
        scored.sort { ($0.distance, $0.row) < ($1.distance, $1.row) }
        return scored.prefix(populationSize).map { training.ordinal[$0.row] }
    }

    /// `count` random candidates, valid ones first: rounds of `count` samples until `count` are
    /// valid or `randomRounds` have run; invalid samples (the first drawn) fill the rest.
    mutating func randomMembers(_ count: Int) throws -> [[Double]] {
        var valid: [[Double]] = [], invalid: [[Double]] = []
        for _ in 0..<Self.randomRounds where valid.count < count {
            try cancellation.check()
            let samples = (0..<count).map { _ in space.sample(&random) }
            for member in try evaluate(samples) {
                if member.valid { valid.append(member.genes) } else if invalid.count < count { invalid.append(member.genes) }
            }
        }
        return Array(valid.prefix(count)) + Array(invalid.prefix(count - min(valid.count, count)))
    }
}
