import CFXKernels
import Glibc

// CFProto's loss at the search point y and its gradients: in closed form through the model, the
// autoencoder and the encoder, or numerically for black-box models (alibi's).

extension CFProtoSearch {
    // MARK: The loss

    /// The prediction term's hinge: p_o − max_{i≠o} p_i + κ, and the class of that max.
    func hinge(_ p: [Double]) -> (value: Double, other: Int) {
        var other = factual.predicted == 0 ? 1 : 0
        for i in p.indices where i != factual.predicted && p[i] > p[other] { other = i }
        return (p[factual.predicted] - p[other] + params.kappa, other)
    }

    var usesPredictionTerm: Bool { !params.predictionTermDropped }

    /// The terms FISTA differentiates at y (β‖·‖₁ is handled by the shrinkage step). With a
    /// black-box model the prediction term is not in this loss: its gradient is numerical.
    func optimisedLoss(at y: [Double], c: Double) throws -> Double {
        let input = modelInput(y)
        var loss = squaredDistance(y, original)
        if usesPredictionTerm && !blackBox { loss += c * max(0, hinge(try session.predict(input)).value) }
        if let ae = autoencoderSession {
            loss += params.gamma * squaredDistance(reconstruction(try ae.predict(input)), y)
        }
        loss += params.theta * (try prototypeDistance(y, input))
        return loss
    }

    func reconstruction(_ output: [Double]) -> [Double] {
        explainer.categorical?.numeric(fromModelOutput: output) ?? output
    }

    func prototypeDistance(_ y: [Double], _ input: [Double]) throws -> Double {
        guard let prototype else { return 0 }
        if let encoderSession { return squaredDistance(try encoderSession.predict(input), prototype) }
        return squaredDistance(y, prototype)
    }

    /// ∂L/∂y of `optimisedLoss`, term by term.
    func optimisedLossGradient(at y: [Double], c: Double) throws -> [Double] {
        var grad = [Double](repeating: 0, count: y.count)
        var scratch = GradientScratch(d: explainer.model.featureCount, k: explainer.model.classCount)
        try optimisedLossGradient(at: y, c: c, into: &grad, scratch: &scratch)
        return grad
    }

    /// The prediction term's buffers, kept across FISTA iterations (no allocation per step).
    struct GradientScratch {
        var proba: [Double]
        var cotangent: [Double]
        var modelGradient: [Double]
        init(d: Int, k: Int) {
            proba = [Double](repeating: 0, count: k)
            cotangent = proba
            modelGradient = [Double](repeating: 0, count: d)
        }
    }

    /// `optimisedLossGradient` written into `grad` (y.count values). Without autoencoder, encoder
    /// and categories, the terms are added in one pass (CFXKernels' `cfx_proto_gradient`: the
    /// same operations in the same order as the passes below).
    func optimisedLossGradient(at y: [Double], c: Double, into grad: inout [Double], scratch: inout GradientScratch) throws {
        let input = modelInput(y)
        let d = explainer.model.featureCount
        // c·max(0, p_o − p_m + κ): cotangent c(e_o − e_m) where the hinge is active.
        let predictionActive = try predictionTermGradient(at: input, c: c, scratch: &scratch)
        let prototypeTerm = params.theta > 0 ? prototype : nil
        if explainer.categorical == nil && (autoencoderSession == nil || params.gamma <= 0) && (prototypeTerm == nil || encoderSession == nil) {
            precondition(y.count == original.count && grad.count == y.count && (prototypeTerm?.count ?? y.count) == y.count
                         && (!predictionActive || scratch.modelGradient.count == y.count))
            withPointer(predictionActive ? scratch.modelGradient : nil) { modelGradient in
                withPointer(prototypeTerm) { cfx_proto_gradient(y.count, y, original, modelGradient, $0, 2 * params.theta, &grad) }
            }
            return
        }
        // ‖y − x‖²
        for j in grad.indices { grad[j] = 2 * (y[j] - original[j]) }
        if predictionActive {
            if let layout = explainer.categorical?.layout {
                add(&grad, layout.pullback(modelGradient: scratch.modelGradient))
            } else {
                add(&grad, scratch.modelGradient)
            }
        }
        // γ‖AE(y) − y‖²: 2γ(J_AEᵀ r − r), r = AE(y) − y; categorical outputs are looked up
        // (no gradient through the lookup, as in alibi).
        if let ae = autoencoderSession, params.gamma > 0 {
            let r = zip(reconstruction(try ae.predict(input)), y).map { $0 - $1 }
            var cotangent = [Double](repeating: 0, count: d)
            if let layout = explainer.categorical?.layout {
                for o in 0..<layout.ordinalFeatures where layout.variableOfOrdinal[o] < 0 { cotangent[layout.modelStart[o]] = 2 * params.gamma * r[o] }
            } else {
                cotangent = r.map { 2 * params.gamma * $0 }
            }
            var g = [Double](repeating: 0, count: d)
            try ae.pullback(at: input, cotangent: cotangent, into: &g)
            add(&grad, searchGradient(g))
            for j in grad.indices { grad[j] -= 2 * params.gamma * r[j] }
        }
        // θ‖ENC(y) − proto‖² or θ‖y − proto‖²
        if let prototype, params.theta > 0 {
            if let encoderSession {
                let z = try encoderSession.predict(input)
                let cotangent = zip(z, prototype).map { 2 * params.theta * ($0 - $1) }
                var g = [Double](repeating: 0, count: d)
                try encoderSession.pullback(at: input, cotangent: cotangent, into: &g)
                add(&grad, searchGradient(g))
            } else {
                for j in grad.indices { grad[j] += 2 * params.theta * (y[j] - prototype[j]) }
            }
        }
    }

    /// The prediction term's model-space gradient c(∇p_o − ∇p_m) at `input` into
    /// `scratch.modelGradient` when the hinge is active (then true), with an exact gradient only.
    func predictionTermGradient(at input: [Double], c: Double, scratch: inout GradientScratch) throws -> Bool {
        guard usesPredictionTerm && !blackBox else { return false }
        try session.predict(input, rows: 1, into: &scratch.proba)
        let (value, other) = hinge(scratch.proba)
        guard value > 0 && c > 0 else { return false }
        for i in scratch.cotangent.indices { scratch.cotangent[i] = 0 }
        scratch.cotangent[factual.predicted] = c
        scratch.cotangent[other] = -c
        try session.pullback(at: input, cotangent: scratch.cotangent, into: &scratch.modelGradient)
        return true
    }

    /// alibi's numerical gradient of the prediction term for a black-box model, averaged over the
    /// stored iterates: dL/dp by central differences on the probabilities (each class moved by
    /// eps[0], the others by −eps[0]/(k−1)), dp/dx by central differences on the input (all
    /// perturbed rows in one predict call).
    func numericalPredictionGradient(_ points: [[Double]]) throws -> [Double] {
        let k = explainer.model.classCount, f = explainer.searchFeatures, n = points.count
        let dModel = explainer.model.featureCount
        let preds = try session.predict(points.flatMap(modelInput), rows: n)
        func lossTerm(_ p: [Double]) -> Double {
            var g = 0.0  // max over (1 − Y) ⊙ p, which includes the 0 at the original class
            for i in 0..<k { g = max(g, i == factual.predicted ? 0 : p[i]) }
            return p[factual.predicted] - g
        }
        var active = [Bool](repeating: false, count: n)
        var dLdp = [[Double]](repeating: [Double](repeating: 0, count: k), count: n)
        for r in 0..<n {
            let p = Array(preds[r * k..<(r + 1) * k])
            active[r] = lossTerm(p) > -params.kappa
            for j in 0..<k {
                var plus = p, minus = p
                for i in 0..<k {
                    let step = i == j ? explainer.epsProba[i] : -explainer.epsProba[i] / Double(k - 1)
                    plus[i] += step
                    minus[i] -= step
                }
                dLdp[r][j] = (lossTerm(plus) - lossTerm(minus)) / (2 * explainer.epsProba[j])
            }
        }
        var grad = [Double](repeating: 0, count: f)
        guard active.contains(true) else { return grad }
        var perturbed = [Double](repeating: 0, count: 2 * n * f * dModel)
        for r in 0..<n {
            for j in 0..<f {
                var plus = points[r], minus = points[r]
                plus[j] += explainer.epsInput[j]
                minus[j] -= explainer.epsInput[j]
                let row = r * f + j
                perturbed.replaceSubrange(row * dModel..<(row + 1) * dModel, with: modelInput(plus))
                perturbed.replaceSubrange((n * f + row) * dModel..<(n * f + row + 1) * dModel, with: modelInput(minus))
            }
        }
        let perturbedProba = try session.predict(perturbed, rows: 2 * n * f)
        for r in 0..<n where active[r] {
            for j in 0..<f {
                let row = r * f + j
                var total = 0.0
                for p in 0..<k {
                    total += dLdp[r][p] * (perturbedProba[row * k + p] - perturbedProba[(n * f + row) * k + p]) / (2 * explainer.epsInput[j])
                }
                grad[j] += total / Double(n)
            }
        }
        return grad
    }

    func clipped(_ g: [Double]) -> [Double] { g.map { min(max($0, params.clipMin), params.clipMax) } }

    /// ‖x' − x‖₂² + β‖x' − x‖₁ in the search space: what a candidate must improve on.
    func elasticNet(_ y: [Double]) -> Double {
        // Four partial sums of each norm (one chain of additions was this step's longest wait),
        // in CFXKernels' `cfx_elastic_net`.
        precondition(y.count == original.count)
        return cfx_elastic_net(y.count, y, original, params.beta)
    }
}

/// `body` with the address of `values`' elements, or nil for nil.
func withPointer<R>(_ values: [Double]?, _ body: (UnsafePointer<Double>?) -> R) -> R {
    guard let values else { return body(nil) }
    return values.withUnsafeBufferPointer { body($0.baseAddress) }
}

func squaredDistance(_ a: [Double], _ b: [Double]) -> Double {
    var total = 0.0
    for j in a.indices { let d = a[j] - b[j]; total += d * d }
    return total
}

func euclidean(_ a: [Double], _ b: [Double]) -> Double { squaredDistance(a, b).squareRoot() }

func add(_ a: inout [Double], _ b: [Double]) {
    for j in a.indices { a[j] += b[j] }
}
