#!/usr/bin/env bash
# Builds and runs the C ABI tests (Tests/c/test_abi.c) against .build/release/libcfx.so.
# The library must already be built: swift build -c release
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT="$PWD"
LIB="$ROOT/.build/release"
if [ ! -f "$LIB/libcfx.so" ]; then
    echo "run.sh: $LIB/libcfx.so not found; build it first with: swift build -c release" >&2
    exit 2
fi
mkdir -p Tests/c/build
"${CC:-cc}" -std=c11 -Wall -Wextra -Werror -I include Tests/c/test_abi.c \
    -L "$LIB" -lcfx -Wl,-rpath,"$LIB" -ljansson -lpthread -lm -o Tests/c/build/test_abi
"${CC:-cc}" -std=c11 -Wall -Wextra -Werror -I include Tests/c/test_cftrain.c \
    -L "$LIB" -lcfx -Wl,-rpath,"$LIB" -ljansson -lm -o Tests/c/build/test_cftrain
Tests/c/build/test_cftrain  # ECCCo, monotone constraints, counterfactual training
# A time limit, so that a deadlock fails the run instead of hanging it.
if command -v timeout >/dev/null 2>&1; then
    exec timeout "${CFX_TEST_TIMEOUT:-600}" Tests/c/build/test_abi "$@"
else
    exec Tests/c/build/test_abi "$@"
fi
