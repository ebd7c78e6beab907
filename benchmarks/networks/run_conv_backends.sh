#!/usr/bin/env bash
# Builds and runs the convolution-backend benchmark (benchmarks/networks/conv_backends.c):
# im2col + OpenBLAS sgemm vs oneDNN on the DDU ResNet-18's convolutions at 28x28.
# Installs nothing; needs Debian packages libopenblas-pthread-dev and libdnnl-dev.
# Usage: python3 benchmarks/harness.py conv-backends [runs]   (median of `runs`, default 9, after 3 warm-ups)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
blas_dir=/usr/lib/x86_64-linux-gnu/openblas-pthread
missing=()
[ -f "$blas_dir/libopenblas.so" ] && [ -f /usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h ] ||
    missing+=(libopenblas-pthread-dev)
[ -f /usr/include/oneapi/dnnl/dnnl.h ] && [ -e /usr/lib/x86_64-linux-gnu/libdnnl.so ] || missing+=(libdnnl-dev)
if [ ${#missing[@]} -gt 0 ]; then
    echo "missing: ${missing[*]}. Install with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
out="${TMPDIR:-/tmp}/cfx_conv_backends"
cc -O3 -march=native -std=c11 -fopenmp -o "$out" "$here/conv_backends.c" \
    -I/usr/include/x86_64-linux-gnu/openblas-pthread -L"$blas_dir" -Wl,-rpath,"$blas_dir" \
    -lopenblas -ldnnl -lpthread -lm
python3 "$here/../harness.py" env --markdown --no-library --command "${CFX_BENCH_COMMAND:-bash $0 $*}"
# The machine sets OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE (forcing Haswell kernels); users' machines do not,
# so the benchmark unsets them (never do this in tests or CI).
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OMP_PROC_BIND=false "$out" "${1:-9}"
echo "load average after: $(python3 "$here/../harness.py" env --load)"
