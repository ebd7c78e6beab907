"""Shared paths for the Python examples: makes the in-tree bindings importable."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(HERE, "out")
MODEL_JSON = os.path.join(OUT, "iris_mlp.json")
TEST_CSV = os.path.join(OUT, "iris_test.csv")
SCALER_JSON = os.path.join(OUT, "iris_scaler.json")

try:
    import cfx  # noqa: F401  (pip-installed)
except ImportError:
    sys.path.insert(0, os.path.join(REPO, "bindings", "python"))
