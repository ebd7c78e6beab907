"""The pip-installable package: `pip wheel bindings/python` ships libcfx.so inside the package, and
the unpacked wheel imports and explains from another directory without CFX_LIBRARY."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "bindings" / "python"
LIB = REPO / ".build" / "release" / "libcfx.so"

SMOKE = """
import numpy as np, cfx
spec = {"input_shape": [2], "layers": [
    {"type": "dense", "weights": [[1.0, 0.0], [0.0, 1.0]], "bias": [0.0, 0.0]},
    {"type": "softmax"}]}
exp = cfx.Wachter(cfx.Model.from_json(spec), max_iter=200).explain(np.array([1.0, 0.0]))
assert exp.success and exp.cf["class"] == 1, exp
print(cfx.version(), cfx.library_path())
"""


def _can_build_offline() -> bool:
    """Whether the installed setuptools can build a wheel itself (setuptools >= 70.1, or the
    wheel package): then no isolated build environment needs downloading."""
    for module in ("setuptools.command.bdist_wheel", "wheel.bdist_wheel"):
        try:
            __import__(module)
            return True
        except ImportError:
            pass
    return False


def _pip_available() -> bool:
    return subprocess.run([sys.executable, "-m", "pip", "--version"],
                          capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    if not LIB.is_file():
        pytest.skip(f"{LIB} is not built")
    if not _pip_available():
        pytest.skip("pip is not available")
    out = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("CFX_LIBRARY", "CFX_SOURCE_DIR")}
    # Without build isolation when possible: no network needed.
    offline = ["--no-build-isolation"] if _can_build_offline() else []
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *offline,
                           "-w", str(out), str(PKG)], env=env, capture_output=True, text=True)
    if proc.returncode != 0 and not offline and "setuptools" in proc.stderr and (
            "Could not find a version" in proc.stderr or "NewConnectionError" in proc.stderr):
        pytest.skip("pip cannot fetch setuptools for an isolated build (offline?)")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wheels = list(out.glob("cfx-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_ships_library(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert "cfx/libcfx.so" in names
    assert "cfx/__init__.py" in names
    assert "-py3-none-" in wheel.name and "linux" in wheel.name  # platform wheel, any CPython


def test_unpacked_wheel_imports_outside_repo(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {k: v for k, v in os.environ.items() if k != "CFX_LIBRARY"}
    env["PYTHONPATH"] = str(site)
    proc = subprocess.run([sys.executable, "-c", SMOKE], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    version, path = proc.stdout.split()
    assert Path(path) == site / "cfx" / "libcfx.so"


def test_cfx_library_still_overrides(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = dict(os.environ, PYTHONPATH=str(site), CFX_LIBRARY=str(LIB))
    proc = subprocess.run([sys.executable, "-c", SMOKE], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert Path(proc.stdout.split()[1]) == LIB


def test_build_reports_missing_source_root(tmp_path):
    """A copy of bindings/python outside the repository, without CFX_SOURCE_DIR, fails with a
    message that says what to set."""
    import shutil
    copy = tmp_path / "python"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k not in ("CFX_LIBRARY", "CFX_SOURCE_DIR")}
    proc = subprocess.run([sys.executable, "-c",
                           "import runpy, sys; sys.argv = ['setup.py', '-q', 'build_py']; "
                           "runpy.run_path('setup.py', run_name='__main__')"],
                          cwd=copy, env=env, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "CFX_SOURCE_DIR" in proc.stdout + proc.stderr
