#!/usr/bin/env bash
# The main job: build libcfx, train a small iris MLP with scikit-learn, export it to cfx and
# explain a few test instances with Wachter counterfactuals through the Python binding.
#
#   examples/main.sh
#
# Missing prerequisites are installed quietly: libjansson-dev/pkg-config (apt) and
# numpy/scikit-learn (pip).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists jansson; }; then
    echo "==> installing libjansson-dev and pkg-config (apt)"
    as_root apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq libjansson-dev pkg-config >/dev/null
fi

if ! python3 -c "import numpy, sklearn" >/dev/null 2>&1; then
    echo "==> installing numpy and scikit-learn (pip)"
    python3 -m pip install -q numpy scikit-learn \
        || python3 -m pip install -q --break-system-packages numpy scikit-learn
fi

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
