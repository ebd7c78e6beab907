#!/usr/bin/env bash
# Where a ResNet-18 step's time goes (benchmarks/results/resnet18_profile.md): the DeDUCE ResNet-18
# of the torch subcommand (cfxbench/torch_side_by_side.py; random weights), float32, one thread, 150 calls of Model.vjp at batch 1,
# sampled by `perf record -e cpu-clock` (software clock: this machine has no hardware counters),
# on the processor's own kernels and with AVX2 forced. Needs torch, linux-perf and the release build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
export CFX_LIBRARY="${CFX_LIBRARY:-$PWD/.build/release/libcfx.so}" PYTHONPATH="${PYTHONPATH:-$PWD/benchmarks:$PWD/bindings/python}"
work=$(mktemp -d)
python3 - "$work" <<'PY'
import sys, pathlib, numpy as np
sys.argv = sys.argv[:2]
from cfxbench import torch_side_by_side as t
x = np.random.default_rng(0).random((256, 784)).astype(np.float32)
t.resnet_pair(x, pathlib.Path(sys.argv[1]), sn_iterations=2)
PY
cat > "$work/loop.py" <<'PY'
import sys, time, numpy as np, cfx
m = cfx.Model.load(sys.argv[1] + "/resnet18.json").astype("float32", threads=1)
X, C = np.random.default_rng(0).random((1, 784)), np.random.default_rng(1).normal(size=(1, 10))
for _ in range(3): m.vjp(X, C)
print("START", flush=True)
start = time.perf_counter()
for r in range(150): m.vjp(X + 1e-4 * (r + 1), C)
info = cfx.runtime_info()
print(f"{1e3 * (time.perf_counter() - start) / 150:.2f} ms per forward + input gradient; cfx kernels {info['isa']}, OpenBLAS {info['openblas_core']}")
PY
for mode in native avx2; do
    forced=()
    [ "$mode" = avx2 ] && forced=(CFX_ISA=avx2 OPENBLAS_CORETYPE=Haswell ONEDNN_MAX_CPU_ISA=AVX2)
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "${forced[@]}" python3 "$work/loop.py" "$work" >"$work/$mode.log" 2>&1 &
    pid=$!
    until grep -q START "$work/$mode.log"; do sleep 0.3; done
    perf record -e cpu-clock -F 2000 -p "$pid" -o "$work/$mode.data" -- sleep 3 >/dev/null 2>&1
    wait "$pid"
    echo "## $mode: $(tail -n 1 "$work/$mode.log")"
    perf report -i "$work/$mode.data" --no-children --sort dso 2>/dev/null | grep -E '^ +[0-9]' | head -n 5
    perf report -i "$work/$mode.data" --no-children --sort sym --dsos libcfx.so 2>/dev/null | grep -E '^ +[0-9]' | head -n 6
done
rm -rf "$work"
