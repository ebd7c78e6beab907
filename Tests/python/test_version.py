"""The version number has one source, include/cfx.h's CFX_VERSION_MAJOR/MINOR/PATCH; every copy
that a file format or a language forces on the other files agrees with it."""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def header_version():
    header = (ROOT / "include" / "cfx.h").read_text()
    parts = [re.search(rf"^#define CFX_VERSION_{p} (\d+)$", header, re.M).group(1) for p in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(parts)


# (file, a pattern whose group is that file's copy of the version)
COPIES = [
    ("include/cfx.h", r'^#define CFX_VERSION_STRING "([^"]+)"$'),
    ("bindings/python/cfx/_lib.py", r'^HEADER_VERSION = "([^"]+)"'),
    ("bindings/python/pyproject.toml", r'^version = "([^"]+)"$'),
    ("bindings/julia/src/CFX.jl", r'^const HEADER_VERSION = v"([^"]+)"'),
    ("bindings/julia/Project.toml", r'^version = "([^"]+)"$'),
    ("CHANGELOG.md", r"^## (\d+\.\d+\.\d+)\b"),  # the newest entry
]


@pytest.mark.parametrize("path,pattern", COPIES, ids=[p for p, _ in COPIES])
def test_copy_agrees_with_the_header(path, pattern):
    match = re.search(pattern, (ROOT / path).read_text(), re.M)
    assert match, f"{path} has no version matching {pattern!r}"
    assert match.group(1) == header_version(), f"{path} says {match.group(1)}, include/cfx.h {header_version()}"


def test_the_python_package_takes_the_header_version():
    import cfx
    assert cfx.__version__ == header_version()
