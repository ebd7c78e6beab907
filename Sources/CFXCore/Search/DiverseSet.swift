/// Diverse sets of counterfactuals (config key `n_counterfactuals`), after DiCE (Mothilal, Sharma
/// and Tan, FAT* 2020): the k members are optimised jointly, each with its method's own loss, minus
/// `diversity_weight` times the determinant of the kernel
///
///     K_ij = 1 / (1 + d(c_i, c_j)) (+ 1e-4 on the diagonal, as in DiCE),  d(a, b) = Σ_f |a_f − b_f| / s_f
///
/// with s_f the feature's scale (MAD of the training rows, else the feature range; `featureScales`),
/// which is DiCE's inverse-MAD-weighted L1 distance. det K grows as the members move apart.
public struct DiversityKernel: Sendable {
    public let scales: [Double]
    /// DiCE's default diversity weight.
    public static let defaultWeight = 1.0
    static let diagonal = 1e-4

    public init(scales: [Double]) { self.scales = scales }

    public func distance(_ a: [Double], _ b: [Double]) -> Double {
        var total = 0.0
        for f in a.indices { total += abs(a[f] - b[f]) / scales[f] }
        return total
    }

    func matrix(_ members: [[Double]]) -> [[Double]] {
        let k = members.count
        var m = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        for i in 0..<k {
            m[i][i] = 1 + Self.diagonal
            for j in 0..<i {
                let v = 1 / (1 + distance(members[i], members[j]))
                m[i][j] = v
                m[j][i] = v
            }
        }
        return m
    }

    /// det K of a set.
    public func determinant(_ members: [[Double]]) -> Double { inverseAndDeterminant(matrix(members)).det }

    /// det K and its gradient with respect to every member: ∂det/∂K_ij = det·(K⁻¹)_ji, and
    /// ∂K_ij/∂c_i,f = −K_ij² · sign(c_i,f − c_j,f) / s_f.
    func determinantGradient(_ members: [[Double]]) -> (det: Double, gradient: [[Double]]) {
        let k = members.count, d = members.first?.count ?? 0
        let m = matrix(members)
        let (inverse, det) = inverseAndDeterminant(m)
        var gradient = [[Double]](repeating: [Double](repeating: 0, count: d), count: k)
        guard det.isFinite, det > 0 else { return (det, gradient) }
        for i in 0..<k {
            for j in 0..<k where j != i {
                // K is symmetric: c_i appears in K_ij and K_ji.
                let weight = -2 * det * inverse[i][j] * m[i][j] * m[i][j]
                for f in 0..<d {
                    let diff = members[i][f] - members[j][f]
                    if diff != 0 { gradient[i][f] += weight * (diff > 0 ? 1 : -1) / scales[f] }
                }
            }
        }
        return (det, gradient)
    }
}

/// Gauss–Jordan elimination with partial pivoting; a singular matrix gives det 0.
func inverseAndDeterminant(_ matrix: [[Double]]) -> (inverse: [[Double]], det: Double) {
    let n = matrix.count
    var a = matrix
    var inv = (0..<n).map { i in (0..<n).map { $0 == i ? 1.0 : 0.0 } }
    var det = 1.0
    for col in 0..<n {
        var pivot = col
        for r in col + 1..<max(col + 1, n) where abs(a[r][col]) > abs(a[pivot][col]) { pivot = r }
        guard a[pivot][col] != 0 else { return (inv, 0) }
        if pivot != col {
            a.swapAt(pivot, col)
            inv.swapAt(pivot, col)
            det = -det
        }
        let p = a[col][col]
        det *= p
        for c in 0..<n { a[col][c] /= p; inv[col][c] /= p }
        for r in 0..<n where r != col {
            let factor = a[r][col]
            if factor == 0 { continue }
            for c in 0..<n { a[r][c] -= factor * a[col][c]; inv[r][c] -= factor * inv[col][c] }
        }
    }
    return (inv, det)
}

/// What a method supplies for a set search: at a point of its search space, its own loss, the
/// gradient of that loss (constraints masked) and whether the point is a valid counterfactual;
/// and how to put a point back into its constraints.
struct SetMemberObjective {
    let evaluate: (_ x: [Double]) throws -> (loss: Double, gradient: [Double], valid: Bool)
    let project: (_ x: inout [Double]) -> Void
}

/// Settings of one set search.
struct SetSearchSettings {
    var steps: Int
    var learningRate: Double
    var diversityWeight: Double
    /// Stop after this many steps without a better all-valid set.
    var patience: Int
}

/// Adam on Σ_i loss(c_i) − w·det K from `start`. The weight in the gradient decays linearly to 0
/// over the steps, so that the members spread first and then settle where each is valid. Returns
/// the all-valid iterate with the lowest objective (full weight); when no iterate had every member
/// valid, each member's own best valid point (nil for a member never valid).
func optimiseDiverseSet(start: [[Double]], kernel: DiversityKernel, objective: SetMemberObjective,
                        settings: SetSearchSettings, cancellation: Cancellation) throws -> [[Double]?] {
    let k = start.count, d = start.first?.count ?? 0
    var members = start
    var adam = Adam(count: k * d)
    var flat = members.flatMap { $0 }
    var gradient = [Double](repeating: 0, count: k * d)
    var bestSet: (objective: Double, members: [[Double]])?
    var bestMember = [(loss: Double, x: [Double])?](repeating: nil, count: k)
    var sinceImproved = 0
    for step in 0..<settings.steps {
        if step % 64 == 0 { try cancellation.check() }
        let (det, diversityGradient) = kernel.determinantGradient(members)
        var total = -settings.diversityWeight * det
        let decayed = 1 - Double(step) / Double(settings.steps)
        let weight = settings.diversityWeight * decayed
        var allValid = true
        for i in 0..<k {
            let (loss, g, valid) = try objective.evaluate(members[i])
            total += loss
            if valid {
                if bestMember[i] == nil || loss < bestMember[i]!.loss { bestMember[i] = (loss, members[i]) }
            } else {
                allValid = false
            }
            for f in 0..<d { gradient[i * d + f] = g[f] - weight * diversityGradient[i][f] }
        }
        if allValid && total < (bestSet?.objective ?? .infinity) {
            bestSet = (total, members)
            sinceImproved = 0
        } else if bestSet != nil {
            sinceImproved += 1
            if sinceImproved >= settings.patience { break }
        }
        adam.step(&flat, gradient: gradient, learningRate: settings.learningRate * decayed)
        for i in 0..<k {
            var x = Array(flat[i * d..<(i + 1) * d])
            objective.project(&x)
            flat.replaceSubrange(i * d..<(i + 1) * d, with: x)
            members[i] = x
        }
    }
    if let bestSet { return bestSet.members }
    return bestMember.map { $0?.x }
}

/// Starting points of a set: the method's own counterfactual first, the others that point moved
/// by a seeded uniform perturbation of half a scale unit per feature (DiCE starts from random points).
func setStart(counterfactual: [Double], count: Int, scales: [Double], seed: UInt64,
              project: (inout [Double]) -> Void) -> [[Double]] {
    var random = SeededRandom(seed: seed)
    return (0..<count).map { i in
        guard i > 0 else { return counterfactual }
        var x = counterfactual
        for f in x.indices { x[f] += random.uniform(-0.5, 0.5) * scales[f] }
        project(&x)
        return x
    }
}

/// The largest set a config may ask for (the kernel is k × k, the search evaluates k points a step).
let maxCounterfactuals = 100
