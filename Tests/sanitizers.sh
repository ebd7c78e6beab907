#!/usr/bin/env bash
# The test suites under the sanitizers, each build in its own folder (.build-asan, .build-ubsan,
# .build-tsan):
#
#   bash Tests/sanitizers.sh          AddressSanitizer on the Swift tests and the C ABI test program,
#                                     UndefinedBehaviorSanitizer on the C ABI test program,
#                                     ThreadSanitizer on the C ABI test program and the Swift
#                                     concurrency tests
#   bash Tests/sanitizers.sh asan-c   only the C ABI test program under ASan and cfx's kernels under
#                                     ASan and UBSan (what CI runs)
#   bash Tests/sanitizers.sh tsan     only the two ThreadSanitizer suites
#
# Swift has no UBSan (swiftc rejects -sanitize=undefined): what UBSan checks in C, Swift checks
# itself (overflow, bounds, and in debug builds exclusivity), so the UBSan run instruments the C
# test program (and its calls into jansson) against a debug libcfx.so that keeps those checks.
#
# Exits non-zero when any suite fails or a sanitizer reports an error.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source Tests/prerequisites.sh
clang=$(dirname "$(command -v swift)")/clang
what=${1:-all}
failures=()

# The C ABI test program against a libcfx.so built with `sanitizer` (address, undefined or thread),
# compiled by the Swift toolchain's clang so that both use one sanitizer runtime.
c_abi() {
    local sanitizer=$1 scratch=.build-$2
    if [ "$sanitizer" = undefined ]; then  # see above: the Swift side is checked by Swift itself
        swift build --product cfx --scratch-path "$scratch"
    else
        swift build --product cfx --sanitize="$sanitizer" --scratch-path "$scratch"
    fi
    local runtimes extra=()
    runtimes=$(dirname "$("$clang" -print-file-name=libclang_rt.asan-x86_64.so)")
    # The toolchain's TSan runtime also intercepts libdispatch, which it then needs loaded.
    if [ "$sanitizer" = thread ]; then
        local swift_lib
        swift_lib=$(dirname "$(command -v swift)")/../lib/swift/linux
        extra=(-L "$swift_lib" -ldispatch -Wl,-rpath,"$swift_lib")
    fi
    mkdir -p Tests/c/build
    "$clang" -std=c11 -g -Wall -Wextra -Werror -fsanitize="$sanitizer" -shared-libsan -I include Tests/c/test_abi.c \
        -L "$scratch/debug" -lcfx -Wl,-rpath,"$PWD/$scratch/debug" -Wl,-rpath,"$runtimes" -ljansson -lpthread -lm \
        "${extra[@]}" -o "Tests/c/build/test_abi-$2"
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 TSAN_OPTIONS=halt_on_error=1 \
        timeout 1800 "Tests/c/build/test_abi-$2" >"Tests/c/build/test_abi-$2.log" 2>&1 || { tail -n 40 "Tests/c/build/test_abi-$2.log"; return 1; }
    tail -n 1 "Tests/c/build/test_abi-$2.log"
}

# cfx's kernels compiled from their sources with ASan and UBSan, and Tests/c/test_kernels.c, which
# runs the direct convolution kernels on every small shape under each instruction set.
kernels() {
    local k=Sources/CFXKernels runtimes
    runtimes=$(dirname "$("$clang" -print-file-name=libclang_rt.asan-x86_64.so)")
    mkdir -p Tests/c/build
    "$clang" -std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-pass-failed -fsanitize=address,undefined \
        -fno-sanitize-recover=all -shared-libsan -Wl,-rpath,"$runtimes" -I "$k/include" -I "$k" "$k"/dispatch.c \
        "$k"/isa_*.c Tests/c/test_kernels.c -lm -o Tests/c/build/test_kernels-asan
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 Tests/c/build/test_kernels-asan
}

run() {  # run NAME command...
    local name=$1
    shift
    echo "==> $name"
    if "$@"; then echo "==> $name: ok"; else echo "==> $name: FAILED"; failures+=("$name"); fi
}

tsan_suites() {
    run "C ABI tests, TSan (threads sharing one explainer)" c_abi thread tsan
    run "Swift concurrency tests, TSan" swift test --disable-swift-testing --sanitize=thread --scratch-path .build-tsan \
        --filter "ConcurrencyTests|ProgressTests"
}

case "$what" in
asan-c)
    run "C ABI tests, ASan" c_abi address asan
    run "kernels, ASan and UBSan" kernels
    ;;
tsan)
    tsan_suites
    ;;
all)
    run "C ABI tests, ASan" c_abi address asan
    run "kernels, ASan and UBSan" kernels
    run "C ABI tests, UBSan" c_abi undefined ubsan
    # LeakSanitizer runs on the C ABI program above, where every allocation cfx makes must be freed;
    # here it would report XCTest's own leaks and the tests' unfreed JSON strings.
    run "Swift tests, ASan" env ASAN_OPTIONS=detect_leaks=0 swift test --disable-swift-testing --sanitize=address --scratch-path .build-asan
    tsan_suites
    ;;
*)
    echo "usage: bash Tests/sanitizers.sh [all | asan-c | tsan]" >&2
    exit 2
    ;;
esac
[ ${#failures[@]} -eq 0 ] || { echo "failed: ${failures[*]}"; exit 1; }
echo "sanitizers: all suites passed"
