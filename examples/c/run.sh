#!/usr/bin/env bash
# The C examples end to end: installs cfx into a temporary PREFIX (make install), checks cfx.pc,
# builds the three programs with `pkg-config --cflags --libs cfx jansson` and runs them.
# Exits non-zero on any failure. The library must be built (swift build -c release) or buildable.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PREFIX="$(mktemp -d "${TMPDIR:-/tmp}/cfx-prefix.XXXXXX")"
trap 'rm -rf "$PREFIX"' EXIT

make -s -C "$HERE" install PREFIX="$PREFIX"
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

header_version=$(sed -n 's/^#define CFX_VERSION_STRING "\(.*\)"/\1/p' "$ROOT/include/cfx.h")
[ "$(pkg-config --modversion cfx)" = "$header_version" ] \
    || { echo "cfx.pc version $(pkg-config --modversion cfx) != header $header_version" >&2; exit 1; }
echo "pkg-config: cfx $(pkg-config --modversion cfx): $(pkg-config --cflags --libs cfx)"

make -s -C "$HERE" BUILD="$PREFIX/build" all
# The programs parse results with jansson: the same libjansson.so.4 as libcfx.so's own dependency.
for lib in "$PREFIX/build/explain_file" "$PREFIX/lib/libcfx.so"; do
    readelf -d "$lib" | grep -q 'NEEDED.*libjansson\.so\.4' \
        || { echo "$lib does not link libjansson.so.4" >&2; exit 1; }
done

run() { echo; echo "---- $*"; timeout "${CFX_TEST_TIMEOUT:-300}" "$@"; }
run "$PREFIX/build/explain_file" "$HERE/data/iris_mlp.json" "$HERE/data/iris_test.csv" 5
# The same program on an ONNX file (skl2onnx's iris MLPClassifier): cfx_model_load reads .onnx paths.
run "$PREFIX/build/explain_file" "$ROOT/Tests/fixtures/onnx/sklearn_mlp.onnx" "$HERE/data/iris_test.csv" 2
run "$PREFIX/build/callback_model"
run "$PREFIX/build/threaded" "$HERE/data/iris_mlp.json" "$HERE/data/iris_test.csv"
echo
echo "C examples: all passed"
