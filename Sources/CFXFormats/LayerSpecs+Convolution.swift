import CFXCore

/// Spec readers and writers of convolutional layers: conv2d, pooling, flatten, channel padding.
let convolutionLayers: [String: LayerBuilder] = [:]
