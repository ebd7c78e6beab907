#!/usr/bin/env bash
# Creates a small virtual environment for DiCE (dice-ml) next to the system Python's packages
# (--system-site-packages: numpy, pandas and scikit-learn come from the system when they fit).
# Usage: benchmarks/external/setup_dice.sh [venv path, default benchmarks/.venv-dice] [python]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-${DICE_VENV:-$here/../.venv-dice}}"
py="${2:-python3}"
"$py" -m venv --system-site-packages "$venv"
"$venv/bin/python" -m pip install "dice-ml==0.12"
"$venv/bin/python" -c "import importlib.metadata as m, pandas, numpy; print('dice-ml', m.version('dice-ml'), 'pandas', pandas.__version__, 'numpy', numpy.__version__)"
