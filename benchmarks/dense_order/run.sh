#!/usr/bin/env bash
# cfx's paired dense forward kernel against one in input order from transposed weights, per kernel
# set (benchmarks/results/dense_order.md). Builds with the Swift toolchain's clang at -O2.
#   bash benchmarks/dense_order/run.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
clang=$(dirname "$(command -v swift)")/clang
k=Sources/CFXKernels out=benchmarks/dense_order/build
mkdir -p "$out"
"$clang" -std=gnu11 -O2 -I "$k/include" -I "$k" benchmarks/dense_order/bench.c -lm -o "$out/avx512"
"$clang" -std=gnu11 -O2 -DSET_AVX2 -I "$k/include" -I "$k" benchmarks/dense_order/bench.c -lm -o "$out/avx2"
"$out/avx512"
"$out/avx2"
