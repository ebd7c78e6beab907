import CFXCore
import Glibc

/// The bytes of a safetensors file holding `file`'s tensors as `dtype` (F64 or F32). The header is
/// padded with spaces to a multiple of 8 bytes, as the reference implementation does.
public func safetensorsBytes(_ file: SafetensorsFile, dtype: SafetensorsDType = .f64, name: String = "safetensors") throws -> [UInt8] {
    guard dtype == .f64 || dtype == .f32 else {
        throw CFXError(.invalidArgument, "dtype: cfx writes F64 or F32, not \(dtype.rawValue)")
    }
    var header: [(String, JSON)] = []
    if !file.metadata.isEmpty {
        header.append(("__metadata__", .object(file.metadata.map { ($0.0, .string($0.1)) })))
    }
    var offset = 0
    for tensor in file.tensors {
        guard tensor.shape.reduce(1, *) == tensor.values.count, tensor.shape.allSatisfy({ $0 >= 0 }) else {
            throw CFXError(.internalError, "\(name): \(tensor.name): shape \(tensor.shape) does not hold \(tensor.values.count) values")
        }
        let size = tensor.values.count * dtype.byteCount
        header.append((tensor.name, .object([
            ("dtype", .string(dtype.rawValue)),
            ("shape", .array(tensor.shape.map { .int($0) })),
            ("data_offsets", .array([.int(offset), .int(offset + size)])),
        ])))
        offset += size
    }
    let text = try JSON.object(header).serialized()
    defer { free(text) }
    var headerBytes = Array(UnsafeBufferPointer(start: UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self), count: strlen(text)))
    while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }

    var bytes: [UInt8] = []
    bytes.reserveCapacity(8 + headerBytes.count + offset)
    withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { bytes += $0 }
    bytes += headerBytes
    for tensor in file.tensors {
        for (i, value) in tensor.values.enumerated() {
            guard value.isFinite else { throw CFXError(.numeric, "\(name): \(tensor.name): value \(i) is \(value); weights must be finite") }
            switch dtype {
            case .f64: withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
            default:
                let single = Float(value)
                guard single.isFinite else {
                    throw CFXError(.numeric, "\(name): \(tensor.name): value \(i) (\(value)) is out of the range of F32; save as F64")
                }
                withUnsafeBytes(of: single.bitPattern.littleEndian) { bytes += $0 }
            }
        }
    }
    return bytes
}

/// Writes a safetensors file (through a temporary file in the same directory, renamed into place).
public func writeSafetensors(_ file: SafetensorsFile, path: String, dtype: SafetensorsDType = .f64) throws {
    try writeFileBytes(try safetensorsBytes(file, dtype: dtype, name: path), path)
}
