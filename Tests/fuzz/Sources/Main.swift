import Glibc

// Two ways to run the fuzz targets of Targets.swift:
// - built normally (`swift build --product cfx-fuzz`), it replays inputs:
//       cfx-fuzz TARGET FILE_OR_DIRECTORY...
//   runs every file through TARGET and prints how many ran: the regression test of the corpora
//   and of every crash found so far (Tests/fuzz/run.sh replay);
// - built with -sanitize=fuzzer and -DCFX_LIBFUZZER, libFuzzer drives it, and the environment
//   variable CFX_FUZZ_TARGET names the target (Tests/fuzz/run.sh fuzz).

#if CFX_LIBFUZZER
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzer(_ argc: UnsafeMutablePointer<CInt>,
               _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
               _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// One input, for libFuzzer: CFX_FUZZ_TARGET names the target.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let name = getenv("CFX_FUZZ_TARGET").map { String(cString: $0) } ?? "spec"
    targets[name]?(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

/// SwiftPM links an executable's entry point as `<module>_main`; libFuzzer's driver runs from it.
@_cdecl("cfx_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var (argc, argv) = (argc, argv)
    return runFuzzer(&argc, &argv) { fuzzOneInput($0, $1) }
}
#else
@main
struct Replay {
    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count >= 3, let target = targets[arguments[1]] else {
            fputs("usage: cfx-fuzz TARGET FILE_OR_DIRECTORY... (targets: \(targets.keys.sorted().joined(separator: ", ")))\n", stderr)
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst(2) {
            for file in files(path) {
                target(read(file))
                count += 1
            }
        }
        print("\(arguments[1]): \(count) inputs replayed")
    }

    static func files(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [path] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if !name.hasPrefix(".") { names.append("\(path)/\(name)") }
        }
        return names.sorted()
    }

    static func read(_ path: String) -> [UInt8] {
        guard let file = fopen(path, "rb") else { return [] }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n == 0 { break }
            bytes += buffer[0..<n]
        }
        return bytes
    }
}
#endif

/// Runs `body` with the bytes as a NUL-terminated C string (bytes after a NUL are cut, as C would).
func withCString<R>(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> R) -> R {
    var text = bytes.map { CChar(bitPattern: $0) }
    text.append(0)
    return text.withUnsafeBufferPointer { body($0.baseAddress!) }
}
