// swift-tools-version:5.9
// cfx: counterfactual explanations as a C shared library (libcfx.so, include/cfx.h).
// Licensed under the Apache License, Version 2.0 (SPDX: Apache-2.0); see LICENSE. SwiftPM has no
// license field, so this comment is the package's statement.
import PackageDescription

// The Swift runtime is linked statically into libcfx.so, which exports only the C API, so that it loads in a process
// that has no Swift toolchain (`ldd .build/release/libcfx.so` lists no libswift*).
let staticSwiftRuntime: [LinkerSetting] = [.unsafeFlags([
    "-static-stdlib",
    "-Xlinker", "--version-script=Sources/CFXSharedLibrary/exports.map",
])]

// Debian's OpenBLAS (pthread build), linked statically: no BLAS library to find at run time, and a
// private copy whose thread count cfx sets to one without touching a host's own BLAS (cfx
// parallelises over instances and batch shards itself). The serial build is not used: it is not
// safe to call from several threads at once (Tests/CFXCoreTests/ConcurrencyTests.swift).
#if arch(arm64)
let openBLASArchive = "/usr/lib/aarch64-linux-gnu/openblas-pthread/libopenblas.a"
#else
let openBLASArchive = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.a"
#endif

let package = Package(
    name: "cfx",
    products: [
        .library(name: "cfx", type: .dynamic, targets: ["CFXABI", "CFXSharedLibrary"]),
        .executable(name: "cfx-cli", targets: ["cfx"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C dependencies.
        .systemLibrary(name: "CJansson", pkgConfig: "jansson", providers: [.apt(["libjansson-dev"])]),
        .systemLibrary(name: "CBLAS", providers: [.apt(["libopenblas-pthread-dev"])]),
        // The public header include/cfx.h, seen from Swift, so the ABI module uses its exact types.
        .systemLibrary(name: "CCFX"),

        // float32 convolutions through oneDNN, loaded with dlopen when installed (Debian libdnnl2; the
        // build needs libdnnl-dev's header only): libcfx.so links neither oneDNN nor its OpenMP
        // runtime. glibc >= 2.34 has dlopen in libc (older ones would need -ldl).
        .target(name: "CFXDNNL"),

        // Vectorised dense-layer products of one or a few rows (small MLPs, one instance at a time).
        .target(name: "CFXKernels"),

        // Models, losses, optimisers and methods. Pure Swift; knows nothing of C or JSON.
        .target(name: "CFXCore", dependencies: ["CBLAS", "CFXDNNL", "CFXKernels"], linkerSettings: [.unsafeFlags([openBLASArchive])]),

        // Files: JSON (through jansson), model specifications and weights files.
        .target(name: "CFXFormats", dependencies: ["CFXCore", "CJansson"]),

        // The C ABI: @_cdecl functions, configs and explanations as JSON.
        .target(name: "CFXABI", dependencies: ["CFXCore", "CFXFormats", "CCFX"]),
        // Only libcfx.so links the Swift runtime statically; the CLI (which uses Foundation through
        // ArgumentParser) links it as usual.
        .target(name: "CFXSharedLibrary", dependencies: ["CFXABI"], exclude: ["exports.map"], linkerSettings: staticSwiftRuntime),

        // The command line, a client of the C ABI like any other.
        .executableTarget(
            name: "cfx",
            dependencies: ["CFXABI", "CFXFormats", "CCFX", .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // Speed of the network core (GEMM, convolutional ResNet); see `benchmarks/harness.py networks`.
        .executableTarget(name: "cfx-bench-networks", dependencies: ["CFXCore", "CBLAS"], path: "benchmarks/networks",
                         exclude: ["run_networks.sh", "conv_backends.c", "run_conv_backends.sh", "dense_rows.c", "run_dense_rows.sh", "fma_peak.c",
                                  "conv_few_channels.c", "run_conv_few_channels.sh", "profile_resnet.sh", "chain_ab.c",
                                  "run_chain_ab.sh"]),  // the C benchmarks and their scripts
        // k-d tree against brute force (`benchmarks/harness.py cfproto`).
        .executableTarget(name: "cfx-kdtree-bench", dependencies: ["CFXCore"], path: "benchmarks/kdtree"),

        // Fuzz targets of the C functions (Tests/fuzz/run.sh): replays inputs when built as usual,
        // runs under libFuzzer when built with -sanitize=fuzzer -DCFX_LIBFUZZER.
        .executableTarget(name: "cfx-fuzz", dependencies: ["CFXABI", "CFXFormats", "CCFX"], path: "Tests/fuzz/Sources"),

        .testTarget(name: "CFXCoreTests", dependencies: ["CFXCore"]),
        .testTarget(name: "CFXABITests", dependencies: ["CFXABI", "CFXFormats", "CCFX"]),
    ]
)
