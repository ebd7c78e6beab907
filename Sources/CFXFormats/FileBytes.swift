import CFXCore
import Glibc

/// The whole file; a file that cannot be read is an I/O error naming the path, one over
/// `Limits.fileBytes` a model error.
func readFileBytes(_ path: String) throws -> [UInt8] {
    let kind = CFXError.Kind.io
    func fail(_ what: String) -> CFXError { CFXError(kind, "\(path): cannot read the file (\(what): \(String(cString: strerror(errno))))") }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw fail("open") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw fail("stat") }
    guard (info.st_mode & S_IFMT) == S_IFREG else { throw CFXError(kind, "\(path): cannot read the file (not a regular file)") }
    guard info.st_size <= Limits.fileBytes else {
        throw CFXError(.model, "\(path): \(info.st_size) bytes is over the limit of \(Limits.fileBytes) bytes for a file cfx reads")
    }
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
        if n < 0 && errno == EINTR { continue }
        guard n >= 0 else { throw fail("read") }
        if n == 0 { bytes.removeLast(bytes.count - done); break }  // the file shrank while we read it
        done += n
    }
    return bytes
}

/// Writes `bytes` to `path` through a temporary file renamed into place, so that a failed write
/// leaves any old file intact. Errors are I/O errors naming the path.
func writeFileBytes(_ bytes: [UInt8], _ path: String) throws {
    let temporary = "\(path).tmp-\(getpid())"
    func fail(_ what: String) -> CFXError {
        CFXError(.io, "\(path): cannot write the file (\(what): \(String(cString: strerror(errno))))")
    }
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw fail("create") }
    var closed = false
    defer { if !closed { close(fd); unlink(temporary) } }
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { throw fail("write") }
        done += n
    }
    closed = true
    guard close(fd) == 0 else { let error = fail("close"); unlink(temporary); throw error }
    guard rename(temporary, path) == 0 else { let error = fail("rename"); unlink(temporary); throw error }
}
