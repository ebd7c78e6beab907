import CFXCore

/// Spec readers and writers of normalisation layers: batch norm.
let normalisationLayers: [String: LayerBuilder] = [:]
