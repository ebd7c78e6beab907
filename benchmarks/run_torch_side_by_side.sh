#!/usr/bin/env bash
# cfx vs PyTorch CPU side by side (benchmarks/networks/torch_side_by_side.py): the DeDUCE ResNet-18
# and the Fashion-MNIST CNN, forward and forward + input gradient, DeDUCE one pair at a time.
# Writes benchmarks/results/networks_vs_torch.{md,json} (with --quick: benchmarks/out). Arguments go
# to the script (--quick, --only resnet|cnn, --repeat N, ...). Environment: SKIP_BUILD=1 (use the
# existing release build). Needs torch (CPU build: pip install torch --index-url
# https://download.pytorch.org/whl/cpu) and dataset-fashion-mnist.
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for this command alone: a machine that sets them
# makes OpenBLAS pick other kernels than users' machines get.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    swift build -c release --product cfx >&2
fi
export CFX_LIBRARY="$PWD/.build/release/libcfx.so"
export PYTHONPATH="$PWD/bindings/python${PYTHONPATH:+:$PYTHONPATH}"
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/networks/torch_side_by_side.py "$@"
