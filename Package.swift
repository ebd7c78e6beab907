// swift-tools-version:5.9
import PackageDescription

// The Swift runtime is linked statically into libcfx.so, so that it loads in a process
// that has no Swift toolchain (`ldd .build/release/libcfx.so` lists no libswift*).
let staticSwiftRuntime: [LinkerSetting] = [.unsafeFlags(["-static-stdlib"])]

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
        // The public header include/cfx.h, seen from Swift, so the ABI module uses its exact types.
        .systemLibrary(name: "CCFX"),

        // Models, losses, optimisers and methods. Pure Swift; knows nothing of C or JSON.
        .target(name: "CFXCore"),

        // The C ABI: @_cdecl functions and JSON (jansson) only.
        .target(name: "CFXABI", dependencies: ["CFXCore", "CJansson", "CCFX"]),
        // Only libcfx.so links the Swift runtime statically; the CLI (which uses Foundation through
        // ArgumentParser) links it as usual.
        .target(name: "CFXSharedLibrary", dependencies: ["CFXABI"], linkerSettings: staticSwiftRuntime),

        // The command line, a client of the C ABI like any other.
        .executableTarget(
            name: "cfx",
            dependencies: ["CFXABI", "CCFX", .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        .testTarget(name: "CFXCoreTests", dependencies: ["CFXCore"]),
        .testTarget(name: "CFXABITests", dependencies: ["CFXABI", "CCFX"]),
    ]
)
