#!/usr/bin/env bash
# Builds cfx's kernels (Sources/CFXKernels) as they are at each git revision named, plus this
# checkout's, and times them against each other on a small MLP's chain (chain_ab.c; the first
# revision's bits are compared with the others'). Needs clang.
#   bash benchmarks/networks/run_chain_ab.sh 5f3f879            # 5f3f879 against this checkout
#   CFX_ISA=avx2 DIMS=64,64,64,10 bash benchmarks/networks/run_chain_ab.sh 5f3f879
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
build() {  # build NAME SOURCES_DIR: one shared library of those kernels, with the entry points chain_ab.c loads
    local name=$1 k=$2
    cat >"$work/exports.c" <<'C'
#include "cfx_kernels.h"
#define E __attribute__((visibility("default")))
E void ab_forward_f64(const cfx_chain_layer *l, size_t c, size_t r, const double *p, double *const *v) { cfx_chain_forward_f64(l, c, r, p, v); }
E void ab_backward_f64(const cfx_chain_layer *l, size_t c, size_t r, const double *p, double *const *v, double *const *g) { cfx_chain_backward_f64(l, c, r, p, v, g); }
E void ab_forward_f32(const cfx_chain_layer *l, size_t c, size_t r, const float *p, float *const *v) { cfx_chain_forward_f32(l, c, r, p, v); }
E void ab_backward_f32(const cfx_chain_layer *l, size_t c, size_t r, const float *p, float *const *v, float *const *g) { cfx_chain_backward_f32(l, c, r, p, v, g); }
C
    clang -O2 -std=gnu11 -shared -fPIC -o "$work/$name.so" -I"$k/include" -I"$k" "$work/exports.c" "$k"/dispatch.c "$k"/isa_*.c "$k"/softmax.c -lm
    libs+=("$work/$name.so")
}
libs=()
for rev in "$@"; do
    mkdir -p "$work/$rev"
    git -C "$root" archive "$rev" Sources/CFXKernels | tar -x -C "$work/$rev"
    build "$rev" "$work/$rev/Sources/CFXKernels"
done
build checkout "$root/Sources/CFXKernels"
clang -O2 -std=gnu11 -I"$root/Sources/CFXKernels/include" -o "$work/chain_ab" "$here/chain_ab.c" -ldl
"$work/chain_ab" "${libs[@]}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
