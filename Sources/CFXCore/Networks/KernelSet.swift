import CFXKernels

/// The instruction set of cfx's own kernels (CFXKernels: small dense products, small MLP passes,
/// 2 × 2 max pooling, direct convolutions of few channels or small layers). Each is compiled for AVX-512, AVX2 and baseline x86-64; one set runs per
/// process, chosen at the first kernel call: the one the environment variable `CFX_ISA` names
/// (`avx512`, `avx2` or `baseline`) when the processor runs it, else the widest it runs.
public enum KernelSet {
    /// The set in use.
    public static var current: String { String(cString: cfx_kernels_isa()) }

    /// The sets this processor runs, widest first.
    public static var supported: [String] {
        var names: [String] = []
        var index: Int32 = 0
        while let name = cfx_kernels_isa_name(index) {
            if cfx_kernels_isa_supported(name) != 0 { names.append(String(cString: name)) }
            index += 1
        }
        return names
    }

    /// Switches the process to `name` when the processor runs it (tests and benchmarks; no kernel
    /// may run on another thread meanwhile). Returns whether it did.
    @discardableResult
    public static func use(_ name: String) -> Bool { cfx_kernels_use_isa(name) != 0 }
}
