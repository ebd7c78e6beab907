#!/usr/bin/env bash
# Builds and runs the dense-rows benchmark (benchmarks/networks/dense_rows.c): OpenBLAS sgemm vs
# cfx's small-product kernels for dense layers over 1-8 rows. Installs nothing; needs Debian's
# libopenblas-pthread-dev and clang.
# Usage: python3 benchmarks/harness.py dense-rows [runs]   (median of `runs`, default 9)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kernels="$here/../../Sources/CFXKernels"
blas_dir=/usr/lib/x86_64-linux-gnu/openblas-pthread
[ -f "$blas_dir/libopenblas.so" ] || { echo "missing: libopenblas-pthread-dev (sudo apt-get install -y libopenblas-pthread-dev)" >&2; exit 1; }
out="${TMPDIR:-/tmp}/cfx_dense_rows"
clang -O2 -std=gnu11 -o "$out" "$here/dense_rows.c" "$kernels"/dispatch.c "$kernels"/isa_*.c "$kernels"/softmax.c -I"$kernels/include" -I"$kernels" \
    -I/usr/include/x86_64-linux-gnu/openblas-pthread -L"$blas_dir" -Wl,-rpath,"$blas_dir" -lopenblas -lpthread -lm
python3 "$here/../harness.py" env --markdown --no-library --command "${CFX_BENCH_COMMAND:-bash $0 $*}"
# The machine sets OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (forcing Haswell kernels); users' machines do not,
# so the benchmark unsets them (never do this in tests or CI).
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$out" "${1:-9}"
echo "load average after: $(python3 "$here/../harness.py" env --load)"
