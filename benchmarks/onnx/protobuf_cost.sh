#!/usr/bin/env bash
# What linking swift-protobuf into a library built like libcfx.so (-static-stdlib) costs: builds,
# in a scratch package under ${TMPDIR:-/tmp}, two dynamic libraries with the same one C function, one
# decoding a protobuf message with SwiftProtobuf 1.39.0 (which imports FoundationEssentials), one
# with plain Swift, and writes their sizes, NEEDED lists and whether each loads with dlopen to
# benchmarks/results/onnx_protobuf_cost.md. It decided cfx's ONNX reader (docs/onnx.md).
#
#     python3 benchmarks/harness.py protobuf-cost      # a few minutes: it builds SwiftProtobuf in release
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
work=${TMPDIR:-/tmp}/cfx-protobuf-cost
mkdir -p "$work/Sources/PB" "$work/Sources/Plain"
cat > "$work/Package.swift" <<'SWIFT'
// swift-tools-version:5.9
import PackageDescription
let flags: [LinkerSetting] = [.unsafeFlags(["-static-stdlib"])]
let package = Package(name: "pbcost",
  products: [.library(name: "PB", type: .dynamic, targets: ["PB"]), .library(name: "Plain", type: .dynamic, targets: ["Plain"])],
  dependencies: [.package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0")],
  targets: [.target(name: "PB", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")], linkerSettings: flags),
            .target(name: "Plain", linkerSettings: flags)])
SWIFT
cat > "$work/Sources/PB/PB.swift" <<'SWIFT'
import SwiftProtobuf
@_cdecl("pb_decode") public func pbDecode(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
    guard let s = try? Google_Protobuf_Struct(serializedBytes: Array(UnsafeBufferPointer(start: p, count: n))) else { return -1 }
    return s.fields.count
}
SWIFT
cat > "$work/Sources/Plain/Plain.swift" <<'SWIFT'
@_cdecl("plain_decode") public func plainDecode(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
    Array(UnsafeBufferPointer(start: p, count: n)).reduce(0) { $0 &+ Int($1) }
}
SWIFT
printf '#include <dlfcn.h>\n#include <stdio.h>\nint main(int c, char **v) { void *h = dlopen(v[1], RTLD_NOW); puts(h ? "loads" : dlerror()); return 0; }\n' > "$work/load.c"
gcc -o "$work/load" "$work/load.c"
(cd "$work" && swift build -c release >/dev/null)
out="$root/benchmarks/results/onnx_protobuf_cost.md"
{
    echo "# swift-protobuf in a library linked like libcfx.so (-static-stdlib)"
    echo
    python3 benchmarks/harness.py env --markdown --no-library --command "${CFX_BENCH_COMMAND:-python3 benchmarks/harness.py protobuf-cost}"
    echo "- $(swift --version 2>/dev/null | head -1)"
    echo
    echo "| library | bytes | NEEDED | dlopen |"
    echo "| --- | --- | --- | --- |"
    for lib in Plain PB; do
        file="$work/.build/release/lib$lib.so"
        needed=$(readelf -d "$file" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
        echo "| lib$lib.so ($([ $lib = PB ] && echo "SwiftProtobuf 1.39.0" || echo "plain Swift")) | $(stat -c %s "$file") | $needed | $("$work/load" "$file" | sed 's/|/\\|/g') |"
    done
} > "$out"
cat "$out"
