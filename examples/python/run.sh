#!/usr/bin/env bash
# Runs every Python example end to end with the in-tree binding and the release library, and
# checks that the pictures they promise were written.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
source Tests/skip.sh
export PYTHONPATH="$PWD/bindings/python${PYTHONPATH:+:$PYTHONPATH}"
export CFX_LIBRARY="${CFX_LIBRARY:-$PWD/.build/release/libcfx.so}"
rm -f examples/python/out/*.png
python3 examples/python/train_iris_mlp.py
python3 examples/python/explain_iris.py
python3 examples/python/plot_iris.py
python3 examples/python/quickstart.py
if python3 -c "import torch" >/dev/null 2>&1; then
    python3 examples/python/pytorch_exact_gradients.py
else
    skip_feature torch "pytorch_exact_gradients.py: torch is not installed (CFX_TEST_TORCH=1 installs it)"
fi
for png in examples/python/out/iris_changed_features.png; do
    [ -s "$png" ] || { echo "missing $png"; exit 1; }
done
echo "python examples: all ran"
