#!/usr/bin/env bash
# Builds and runs benchmarks/networks/conv_few_channels.c (oneDNN's forward and backward-data against
# cfx's direct kernels on a one-channel 28x28 layer) and fma_peak.c, and writes
# benchmarks/results/conv_few_channels.md. Needs clang, Debian's libdnnl-dev, and the release build
# (swift build -c release), whose kernel objects it links.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
objects="$root/.build/release/CFXKernels.build"
[ -f "$objects/dispatch.c.o" ] || { echo "build first: swift build -c release" >&2; exit 1; }
out="${TMPDIR:-/tmp}/cfx_conv_few_channels"
clang -O2 -std=gnu11 -o "$out" "$here/conv_few_channels.c" "$objects"/dispatch.c.o "$objects"/isa_*.c.o \
    "$objects"/softmax.c.o -I"$root/Sources/CFXKernels/include" -ldnnl -lm
clang -O2 -o "$out-peak" "$here/fma_peak.c"
result="$root/benchmarks/results/conv_few_channels.md"
{
    echo "# A one-channel convolution, input gradient and forward pass: oneDNN against cfx's direct kernels"
    echo
    python3 "$here/../harness.py" env --markdown --no-library --command "${CFX_BENCH_COMMAND:-bash $0 $*}"
    echo "- layer: the Fashion-MNIST CNN's first (1 -> 16 channels, 3x3, padding 1, 28x28), batch 1, float32, one thread;"
    echo "  median of 9 runs of 2000 calls in the thread's CPU time; oneDNN's layout reorders are not timed"
    echo "  but for the forward pass's row that adds its output's reorder to plain NCHW, which cfx would run"
    echo "  (cfx's zero-bordered copies are timed); the last rows are oneDNN capped to AVX2"
    echo "  (ONEDNN_MAX_CPU_ISA=AVX2), what an AVX2 processor runs"
    echo
    OMP_NUM_THREADS=1 "$out"
    OMP_NUM_THREADS=1 ONEDNN_MAX_CPU_ISA=AVX2 "$out" onednn-only
    echo
    echo "FMA peak of one core (fma_peak.c): $("$out-peak")"
} | tee "$result"
