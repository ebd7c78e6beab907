#!/usr/bin/env bash
# The test suites under the sanitizers, each build in its own folder (.build-asan, .build-ubsan,
# .build-tsan):
#
#   bash Tests/sanitizers.sh          AddressSanitizer and UndefinedBehaviorSanitizer on the Swift
#                                     tests and on the C ABI test program, ThreadSanitizer on the
#                                     concurrency tests and the C ABI test program's threads
#   bash Tests/sanitizers.sh asan-c   only the C ABI test program under ASan (what CI runs)
#
# Exits non-zero when any suite fails or a sanitizer reports an error.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source Tests/prerequisites.sh
clang=$(dirname "$(command -v swift)")/clang
what=${1:-all}
failures=()

# The C ABI test program against a libcfx.so built with `sanitizer` (address, undefined or thread).
c_abi() {
    local sanitizer=$1 scratch=.build-$2 flag
    swift build --product cfx --sanitize="$sanitizer" --scratch-path "$scratch"
    case "$sanitizer" in
        address) flag=-fsanitize=address ;;
        undefined) flag=-fsanitize=undefined ;;
        thread) flag=-fsanitize=thread ;;
    esac
    mkdir -p Tests/c/build
    "$clang" -std=c11 -g -Wall -Wextra -Werror $flag -shared-libsan -I include Tests/c/test_abi.c \
        -L "$scratch/debug" -lcfx -Wl,-rpath,"$PWD/$scratch/debug" -ljansson -lpthread -lm -o "Tests/c/build/test_abi-$2"
    # The sanitizer runtime of the toolchain's clang, which libcfx.so was built against.
    local runtime
    runtime=$("$clang" -print-file-name="libclang_rt.$([ "$sanitizer" = undefined ] && echo ubsan_standalone || echo "${2}")-x86_64.so")
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        TSAN_OPTIONS=halt_on_error=1 LD_PRELOAD="$runtime" timeout 1800 "Tests/c/build/test_abi-$2" >"Tests/c/build/test_abi-$2.log" 2>&1
    tail -n 1 "Tests/c/build/test_abi-$2.log"
}

run() {  # run NAME command...
    local name=$1
    shift
    echo "==> $name"
    if "$@"; then echo "==> $name: ok"; else echo "==> $name: FAILED"; failures+=("$name"); fi
}

case "$what" in
asan-c)
    run "C ABI tests, ASan" c_abi address asan
    ;;
all)
    run "C ABI tests, ASan" c_abi address asan
    run "C ABI tests, UBSan" c_abi undefined ubsan
    run "Swift tests, ASan" swift test --disable-swift-testing --sanitize=address --scratch-path .build-asan
    run "Swift tests, UBSan" swift test --disable-swift-testing --sanitize=undefined --scratch-path .build-ubsan
    run "Swift concurrency tests, TSan" swift test --disable-swift-testing --sanitize=thread --scratch-path .build-tsan \
        --filter "ConcurrencyTests|ThreadTests"
    ;;
*)
    echo "usage: bash Tests/sanitizers.sh [all | asan-c]" >&2
    exit 2
    ;;
esac
[ ${#failures[@]} -eq 0 ] || { echo "failed: ${failures[*]}"; exit 1; }
echo "sanitizers: all suites passed"
