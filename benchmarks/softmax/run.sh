#!/usr/bin/env bash
# Softmax with cfx's own exp against the softmax of 5417cb3, which called the C library's exp, per
# kernel set this processor runs (benchmarks/results/softmax_exp.md). Builds from the sources with
# the Swift toolchain's clang at -O2, as swift build -c release does.
#   bash benchmarks/softmax/run.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
clang=$(dirname "$(command -v swift)")/clang
k=Sources/CFXKernels out=benchmarks/softmax/build
mkdir -p "$out"
git show 5417cb3:Sources/CFXKernels/softmax.c | sed 's/cfx_softmax_/old_softmax_/g' >"$out/old_softmax.c"
"$clang" -std=gnu11 -O2 -I "$k/include" -I "$k" benchmarks/softmax/bench.c "$k"/dispatch.c "$k"/isa_*.c \
    "$out/old_softmax.c" -lm -o "$out/bench"
for set in avx512 avx2 baseline; do CFX_ISA=$set "$out/bench"; done
