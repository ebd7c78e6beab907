#!/usr/bin/env bash
# The main job: build libcfx, train a small iris MLP with scikit-learn, export it to cfx and
# explain a few test instances with Wachter counterfactuals through the Python binding.
#
#   examples/main.sh
#
# Missing prerequisites are installed first (Tests/prerequisites.sh): libjansson-dev and
# pkg-config (apt), numpy, scikit-learn and pytest (pip).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

source Tests/prerequisites.sh

echo "==> swift build -c release"
swift build -c release

# Use the in-tree binding and the library just built.
export PYTHONPATH="$PWD/bindings/python${PYTHONPATH:+:$PYTHONPATH}"
export CFX_LIBRARY="$PWD/.build/release/libcfx.so"

echo "==> training the iris MLP"
python3 examples/python/train_iris_mlp.py
echo
echo "==> explaining test instances"
python3 examples/python/explain_iris.py
echo
echo "==> plotting counterfactuals (examples/python/out/iris_changed_features.png)"
python3 examples/python/plot_iris.py
