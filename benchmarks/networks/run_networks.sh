#!/usr/bin/env bash
# Benchmarks cfx's network core on one core: GEMM through Gemm.swift vs OpenBLAS called directly,
# and forward + input gradient of a small spectrally normalised ResNet of the DDU family on 28×28×1.
# Writes benchmarks/results/networks.md (`python3 benchmarks/harness.py networks`). Environment: SKIP_BUILD=1 (use the existing release build),
# QUICK=1 (fewer runs). Takes about half a minute.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
RES="$PWD/benchmarks/results"
BIN="$PWD/.build/release/cfx-bench-networks"
mkdir -p "$RES"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    swift build -c release --product cfx-bench-networks >&2
fi

args=()
if [ "${QUICK:-0}" = 1 ]; then args+=(--quick); fi

{
    echo "# Network core benchmarks"
    echo
    python3 benchmarks/harness.py env --markdown --no-library --command "${CFX_BENCH_COMMAND:-bash $0 $*}" --paths Sources benchmarks/networks Package.swift
    echo "- the benchmark runs on one thread (cfx's OpenBLAS, pthread build, set to one thread)"
    echo "- the machine may be shared: other processes inflate single runs, so compare with the load average; gemm is a thin wrapper over cblas_dgemm above 4096 multiply-adds, so its ratio is 1 up to noise"
    echo
    "$BIN" "${args[@]}"
} > "$RES/networks.md.tmp"
mv "$RES/networks.md.tmp" "$RES/networks.md"
cat "$RES/networks.md"
