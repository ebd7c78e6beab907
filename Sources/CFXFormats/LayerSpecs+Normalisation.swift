import CFXCore

/// Spec readers and writers of normalisation layers: batch norm.
///
///     {"type": "batch_norm", "eps": 1e-5, "momentum": 0.1,
///      "tensors": {"weight": [...], "bias": [...], "running_mean": [...], "running_var": [...]}}
///
/// One value per feature ([n] inputs) or channel ([c, h, w] inputs); eps and momentum are optional
/// (PyTorch's defaults), tensors not given start at γ = 1, β = 0, mean 0, variance 1.
let normalisationLayers: [String: LayerBuilder] = [
    "batch_norm": LayerBuilder(keys: ["eps", "momentum"], read: { value, path in
        let eps = try value["eps"].map { try $0.number("\(path).eps") } ?? 1e-5
        let momentum = try value["momentum"].map { try $0.number("\(path).momentum") } ?? 0.1
        guard eps > 0, eps.isFinite else { throw CFXError(.model, "\(path).eps: must be positive, got \(eps)") }
        guard (0...1).contains(momentum) else { throw CFXError(.model, "\(path).momentum: must be in [0, 1], got \(momentum)") }
        return (BatchNorm(eps: eps, momentum: momentum), [])
    }, write: { operation in
        (operation as? BatchNorm).map { [("eps", .double($0.eps)), ("momentum", .double($0.momentum))] }
    }),
]
