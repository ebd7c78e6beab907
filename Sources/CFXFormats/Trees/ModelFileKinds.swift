import CFXCore

/// Any model file cfx_model_load reads: a LightGBM text model (it starts with "tree"), XGBoost's
/// JSON model (it starts with {"learner":), an ONNX file with a TreeEnsembleClassifier, otherwise a
/// spec or an ONNX network (`loadNetworkFile`). The metadata is a spec's; tree ensembles have none.
public func loadModelFile(path: String) throws -> (model: Classifier, metadata: JSON?) {
    if isONNXPath(path) {  // decoded once, then a tree ensemble or a network (ONNX/ONNXImport.swift)
        let bytes = try readFileBytes(path)
        let model: Classifier = try prefixing(path) {
            try bytes.withUnsafeBytes { raw in
                let model = try decodeModel(raw, what: "model")
                return isONNXTreeEnsemble(model) ? try treeEnsembleFromONNX(model, bytes: raw, what: path)
                    : try networkFromONNX(model, bytes: raw)
            }
        }
        return (model, nil)
    } else {
        let bytes = try readFileBytes(path)
        if bytes.starts(with: Array("tree\n".utf8)) || bytes.starts(with: Array("tree\r\n".utf8)) {
            guard let text = String(validatingUTF8: bytes.map { CChar(bitPattern: $0) } + [0]) else {
                throw CFXError(.model, "\(path): not UTF-8 text (a NUL byte or an invalid sequence)")
            }
            return (try prefixing(path) { try treeEnsembleFromLightGBM(text, what: path) }, nil)
        }
        if looksLikeXGBoostJSON(bytes) {
            let json = try readSpecFile(path)
            return (try treeEnsembleFromXGBoost(json, what: path), nil)
        }
    }
    let (network, metadata) = try loadNetworkFile(specPath: path)
    return (network, metadata)
}

private func prefixing<T>(_ path: String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as CFXError where !error.message.hasPrefix(path) {
        throw error.prefixed(path)
    }
}
