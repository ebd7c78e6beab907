#!/usr/bin/env bash
# Creates benchmarks/.venv-alibi with alibi 0.9.6 and a CPU TensorFlow it supports
# (alibi 0.9.6's TF extra pins tensorflow<2.15; 2.14.1 is the newest allowed with wheels for py3.11).
# click: spacy (an alibi dependency) imports it, but the newest typer no longer pulls it in.
# The install is large (~2 GB). Usage: benchmarks/external/setup_alibi.sh [python]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/../.venv-alibi"
py="${1:-python3}"
"$py" -m venv "$venv"
"$venv/bin/python" -m pip install --upgrade "pip<25" >/dev/null
"$venv/bin/python" -m pip install "alibi==0.9.6" "tensorflow-cpu==2.14.1" "numpy<2" click
"$venv/bin/python" -c "import alibi, tensorflow as tf, numpy; print('alibi', alibi.__version__, 'tensorflow', tf.__version__, 'numpy', numpy.__version__)"
