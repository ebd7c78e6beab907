#!/usr/bin/env bash
# The API reference, generated from the sources:
#   docs/api/c/index.html        Doxygen, from the comments of include/cfx.h (docs/Doxyfile)
#   docs/api/python/cfx.html     pdoc, from the docstrings of bindings/python/cfx (docs/python_api.py)
#
#   bash docs/build.sh
#
# Installs doxygen (apt) and pdoc (pip) when missing. Fails on any documentation warning: a public
# C symbol or Python object without a comment, or a malformed comment. docs/api/ is not committed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v doxygen >/dev/null 2>&1; then
    echo "==> installing doxygen (apt)"
    as_root apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq doxygen >/dev/null
fi
if ! python3 -c "import pdoc" >/dev/null 2>&1; then
    echo "==> installing pdoc (pip)"
    python3 -m pip install -q pdoc || python3 -m pip install -q --break-system-packages pdoc
fi

out=docs/api
rm -rf "$out"
mkdir -p "$out/c" "$out/python"
version=$(sed -n 's/^#define CFX_VERSION_STRING "\(.*\)"/\1/p' include/cfx.h)

echo "==> C API reference (doxygen $(doxygen --version))"
# WARN_AS_ERROR = FAIL_ON_WARNINGS: doxygen prints every warning, then exits non-zero.
CFX_VERSION="$version" CFX_DOCS_OUT="$out/c" doxygen docs/Doxyfile
echo "    $out/c/index.html"

echo "==> Python API reference (pdoc)"
python3 docs/python_api.py "$out/python"
