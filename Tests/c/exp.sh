#!/usr/bin/env bash
# Builds and runs Tests/c/test_exp.c (softmax's exp and softmax, from the kernel sources) with the
# Swift toolchain's clang, optimised as the library is, so that its loops vectorise.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
clang=$(dirname "$(command -v swift)")/clang
k=Sources/CFXKernels
mkdir -p Tests/c/build
"$clang" -std=gnu11 -O2 -Wall -Wextra -Werror -I "$k/include" -I "$k" Tests/c/test_exp.c "$k"/dispatch.c "$k"/isa_*.c -lm \
    -o Tests/c/build/test_exp
exec Tests/c/build/test_exp
