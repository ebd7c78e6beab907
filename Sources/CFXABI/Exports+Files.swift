import CCFX
import CFXCore
import CFXFormats
import Glibc

// The "Model files" functions of include/cfx.h: loading and saving a spec with its weights file,
// and a model's spec as JSON.

@_cdecl("cfx_model_load")
public func cfx_model_load(_ specPath: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?,
                           _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: out, "out") {
        let path = String(cString: try required(specPath, "spec_path"))
        guard !path.isEmpty else { throw CFXError(.invalidArgument, "spec_path: empty") }
        let (model, metadata) = try loadModelFile(path: path)
        return retainedHandle(ModelHandle(model, metadata: metadata), .model)
    }
}

@_cdecl("cfx_model_save")
public func cfx_model_save(_ handle: OpaquePointer?, _ specPath: UnsafePointer<CChar>?, _ weightsPath: UnsafePointer<CChar>?,
                           _ options: UnsafePointer<CChar>?, _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err) {
        let model = try object(handle, .model, ModelHandle.self, "model")
        let network = try nativeNetwork(model.model, "saved")
        let spec = String(cString: try required(specPath, "spec_path"))
        guard !spec.isEmpty else { throw CFXError(.invalidArgument, "spec_path: empty") }
        let weights = weightsPath.map { String(cString: $0) }
        if weights?.isEmpty == true { throw CFXError(.invalidArgument, "weights_path: empty (pass NULL for tensors inline in the spec)") }
        var dtype = SafetensorsDType.f64
        if let options {
            for (key, value) in try JSON.parse(options, "options_json").members("options_json") {
                guard key == "dtype" else { throw CFXError.config(key, "unknown key; known keys: dtype") }
                let name = try value.text("dtype")
                guard let chosen = SafetensorsDType(rawValue: name), chosen == .f64 || chosen == .f32 else {
                    throw CFXError.config("dtype", "expected \"F64\" or \"F32\", got \"\(name)\"")
                }
                if chosen == .f32 && weights == nil {
                    throw CFXError.config("dtype", "F32 applies to a weights file; with weights_path NULL the tensors are inline and exact")
                }
                dtype = chosen
            }
        }
        try saveNetwork(network, specPath: spec, weightsPath: weights, dtype: dtype, metadata: model.metadata)
    }
}

@_cdecl("cfx_model_spec")
public func cfx_model_spec(_ handle: OpaquePointer?, _ jsonOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                           _ err: UnsafeMutablePointer<cfx_error>?) -> cfx_status {
    withStatus(err, returning: jsonOut, "json_out") {
        let model = try object(handle, .model, ModelHandle.self, "model")
        var members = try specOfNetwork(try nativeNetwork(model.model, "written as a spec"), inlineTensors: true).members("spec")
        if let metadata = model.metadata { members.append(("metadata", metadata)) }
        return try JSON.object(members).serialized()
    }
}

