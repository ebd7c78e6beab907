#!/usr/bin/env bash
# Where a Fashion-MNIST CNN search step's instructions go (benchmarks/results/fashion_cnn_profile.md):
# Wachter on benchmarks/models/fashion_cnn.json, float32, one thread, max_iter 100 and 2 lambda
# rounds on one test image (after one warm-up search on another), counted by valgrind's callgrind
# inside WachterSearch.run only. Instruction counts do not depend on the machine's load, so two
# builds can be compared on a busy machine. Valgrind runs no AVX-512, so this is the AVX2 clone
# (CFX_ISA=avx2, oneDNN's and OpenBLAS's AVX2 kernels); valgrind 3.19 cannot read the DWARF 5 of a
# Swift library, so a copy without debug sections is profiled.
#
#   bash benchmarks/networks/profile_cnn.sh [path/to/libcfx.so]    (default: this tree's release build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
library="${1:-$PWD/.build/release/libcfx.so}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
objcopy --strip-debug "$library" "$work/libcfx.so"
cat > "$work/search.py" <<'PY'
import sys
sys.path[:0] = [sys.argv[1] + "/benchmarks", sys.argv[1] + "/bindings/python"]
import cfx
from cfxbench.datasets import REFERENCE_MODELS, fashion_mnist_split
X = fashion_mnist_split("test")[0][:2]
m = cfx.Model.load(REFERENCE_MODELS / "fashion_cnn.json").astype("float32", threads=1)
w = cfx.Wachter(m, target_class="other", n_threads=1, max_iter=100, max_lam_steps=2)
steps = w.explain(X[1]).meta["gradient_evaluations"] + w.explain(X[0]).meta["gradient_evaluations"]
print("STEPS", steps, cfx.runtime_info()["isa"])
PY
python=$(python3 -c "import sys; print(sys.executable)")  # the interpreter itself, not a shim
env -u OPENBLAS_L2_SIZE CFX_LIBRARY="$work/libcfx.so" CFX_ISA=avx2 OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2 \
    valgrind --tool=callgrind --smc-check=all --toggle-collect='*WachterSearchV3run*' \
    --callgrind-out-file="$work/out" "$python" "$work/search.py" "$PWD" >"$work/log" 2>&1
steps=$(awk '/^STEPS/ {print $2}' "$work/log")
echo "search steps: $steps ($(awk '/^STEPS/ {print $3}' "$work/log") clone)"
callgrind_annotate --inclusive=no "$work/out" 2>/dev/null | awk -v steps="$steps" '
    /PROGRAM TOTALS/ { gsub(",", "", $1); printf "%-60s %10.0f\n", "total per step", $1 / steps }
    /^ *[0-9,]+ \( *[0-9.]+%\) / && !/PROGRAM TOTALS/ {
        n = $1; gsub(",", "", n); if (n / steps < 2000) next
        name = $0; sub(/^[^)]*\) +/, "", name); object = name; sub(/ \[.*/, "", name); sub(/^.*:/, "", name)
        sub(/^.*\[/, "", object); sub(/\].*$/, "", object); sub(/^.*\//, "", object)
        if (name ~ /^0x/) name = (object == "???" ? "oneDNN JIT code" : object)
        printf "%-60s %10.0f\n", substr(name, 1, 60), n / steps }'
