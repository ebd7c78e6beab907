"""Build hook of the cfx Python package: ships libcfx.so inside the wheel.

The metadata (name, version, licence: Apache-2.0, as the repository's LICENSE) lives in
pyproject.toml; this file only customises two setuptools commands.

``build_py`` puts the native library next to the modules (``cfx/libcfx.so``). It takes, in order:

1. ``CFX_LIBRARY``: a prebuilt library file, copied as it is (no Swift build);
2. the cfx repository's ``.build/release/libcfx.so``, after running ``swift build -c release``
   in the repository root (skipped when the library is newer than every file under Sources/,
   include/ and Package.swift, so that reinstalling is fast).

The repository root is ``CFX_SOURCE_DIR`` when set, otherwise the directory two levels above this
file (``bindings/python/..``), otherwise the absolute path recorded in ``cfx_source_dir.txt`` by
``sdist`` (pip and ``python -m build`` may build from an unpacked copy in a temporary directory).
``CFX_SKIP_NATIVE=1`` builds a pure-Python package without the library (it is then looked up at
run time; see cfx/_lib.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py as _build_py
from setuptools.command.sdist import sdist as _sdist
from setuptools.dist import Distribution

HERE = Path(__file__).resolve().parent
RECORD = "cfx_source_dir.txt"
LIB_NAME = "libcfx.dylib" if sys.platform == "darwin" else "libcfx.so"


def _log(message: str) -> None:
    print(f"cfx build: {message}", file=sys.stderr, flush=True)


def _is_root(path: Path) -> bool:
    return (path / "Package.swift").is_file() and (path / "include" / "cfx.h").is_file()


def find_source_root() -> Path:
    tried = []
    env = os.environ.get("CFX_SOURCE_DIR")
    if env:
        root = Path(env).expanduser().resolve()
        if not _is_root(root):
            raise SystemExit(f"cfx build: CFX_SOURCE_DIR={env} is not a cfx checkout "
                             "(no Package.swift and include/cfx.h there)")
        return root
    candidates = [HERE.parent.parent]
    record = HERE / RECORD
    if record.is_file():
        candidates.append(Path(record.read_text().strip()))
    for root in candidates:
        tried.append(str(root))
        if _is_root(root):
            return root.resolve()
    raise SystemExit(
        "cfx build: cannot find the cfx repository (Package.swift and include/cfx.h); looked in "
        + ", ".join(tried) + ". Set CFX_SOURCE_DIR to the repository root, or CFX_LIBRARY to a "
        "prebuilt libcfx.so.")


def _newest_source(root: Path) -> float:
    newest = (root / "Package.swift").stat().st_mtime
    for sub in ("Sources", "include"):
        for dirpath, _, files in os.walk(root / sub):
            for name in files:
                newest = max(newest, os.stat(os.path.join(dirpath, name)).st_mtime)
    return newest


def native_library() -> Path:
    """The libcfx to ship, building it when needed."""
    env = os.environ.get("CFX_LIBRARY")
    if env:
        path = Path(env).expanduser().resolve()
        if not path.is_file():
            raise SystemExit(f"cfx build: CFX_LIBRARY={env} is not a file")
        _log(f"using CFX_LIBRARY={path}")
        return path
    root = find_source_root()
    lib = root / ".build" / "release" / LIB_NAME
    if lib.is_file() and lib.stat().st_mtime >= _newest_source(root):
        _log(f"{lib} is up to date; not rebuilding")
        return lib
    swift = shutil.which("swift")
    if swift is None:
        if lib.is_file():
            _log(f"swift not found; shipping the existing (older than the sources) {lib}")
            return lib
        raise SystemExit("cfx build: `swift` is not on PATH and " + str(lib) + " does not exist. "
                         "Install the Swift toolchain, or set CFX_LIBRARY to a prebuilt libcfx.so.")
    _log(f"running `swift build -c release` in {root} (a few minutes the first time)")
    subprocess.run([swift, "build", "-c", "release"], cwd=root, check=True)
    if not lib.is_file():
        raise SystemExit(f"cfx build: swift build succeeded but {lib} is missing")
    return lib


class build_py(_build_py):
    """Copies the native library into the built package."""

    def run(self):
        super().run()
        if os.environ.get("CFX_SKIP_NATIVE") == "1":
            _log("CFX_SKIP_NATIVE=1: building without the native library")
            return
        src = native_library()
        dest = Path(self.build_lib) / "cfx" / LIB_NAME
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        _log(f"copied {src} -> {dest}")


class sdist(_sdist):
    """Records the absolute repository root in the source distribution, so that a build from the
    unpacked sdist (in a temporary directory) still finds the Swift sources."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        try:
            root = find_source_root()
        except SystemExit:
            return
        target = Path(base_dir) / RECORD
        if target.exists():
            target.unlink()  # may be a hard link to the source tree's copy
        target.write_text(str(root) + "\n")


class BinaryDistribution(Distribution):
    """The wheel carries a native library: mark it platform-specific."""

    def has_ext_modules(self):
        return os.environ.get("CFX_SKIP_NATIVE") != "1"


cmdclass = {"build_py": build_py, "sdist": sdist}

try:  # a wheel tag of py3-none-<platform>: the library is loaded with ctypes, not CPython's ABI
    try:
        from setuptools.command.bdist_wheel import bdist_wheel as _bdist_wheel
    except ImportError:
        from wheel.bdist_wheel import bdist_wheel as _bdist_wheel

    class bdist_wheel(_bdist_wheel):
        def get_tag(self):
            python, abi, plat = super().get_tag()
            if self.root_is_pure:
                return python, abi, plat
            return "py3", "none", plat

    cmdclass["bdist_wheel"] = bdist_wheel
except ImportError:
    pass

setup(cmdclass=cmdclass, distclass=BinaryDistribution)
