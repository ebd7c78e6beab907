"""Makes the in-tree bindings importable when the package is not pip-installed."""
import os
import sys

_BINDINGS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "python"))
try:
    import cfx  # noqa: F401
except ImportError:
    sys.path.insert(0, _BINDINGS)
