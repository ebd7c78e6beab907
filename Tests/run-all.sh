#!/usr/bin/env bash
# Every test of cfx: Swift (core and ABI), the C ABI test program, the command line, Python, the
# API reference (no undocumented public symbol; docs/build.sh installs doxygen and pdoc when
# missing), and Julia where it is installed. Installs what is missing first. Exits non-zero on
# any failure. An optional suite that cannot run is reported as skipped with its feature's name,
# and is a failure when CFX_REQUIRE names that feature (Tests/skip.sh; CI sets it in .ci/run).
#
#   bash Tests/run-all.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source Tests/prerequisites.sh
source Tests/skip.sh

failures=()
passes=0
step() {  # step NAME command...
    local name=$1
    shift
    echo
    echo "==> $name"
    if "$@"; then echo "==> $name: ok"; passes=$((passes + 1)); else echo "==> $name: FAILED"; failures+=("$name"); fi
}

step "release build" swift build -c release
# No Swift runtime, every library found, and exactly the libraries the documents list.
step "libcfx.so needs no Swift toolchain" bash -c 'ldd .build/release/libcfx.so >/dev/null && ! ldd .build/release/libcfx.so | grep -iE "swift|not found"'
# No IFUNC: nothing of cfx may run while the loader relocates it (a sanitizer's runtime is not set up yet).
step "libcfx.so has no IFUNC" bash -c 'command -v readelf >/dev/null && ! readelf -rW .build/release/libcfx.so | grep -q IRELATIV'
step "libcfx.so needs what README.md, docs/python.md and docs/cli.md list" python3 Tests/check_needed.py
step "swift test" swift test --disable-swift-testing
# float32 convolutions run on oneDNN when it loads (above), on im2col + sgemm without it.
step "swift convolution tests without oneDNN (CFX_DNNL=off)" env CFX_DNNL=off \
    swift test --disable-swift-testing --skip-build --filter "ConvolutionTests|Float32Tests|ConcurrencyTests|TrainingTests"
step "C ABI tests" bash Tests/c/run.sh
step "softmax's exp against expl, the same bits vectorised per set" bash Tests/c/exp.sh
# Swift and C tests again under every other kernel instruction set this processor runs (CFX_ISA).
step "tests under each other kernel set" bash Tests/each-isa.sh
step "C ABI tests without oneDNN (CFX_DNNL=off)" env CFX_DNNL=off bash Tests/c/run.sh
step "C examples (pkg-config)" bash examples/c/run.sh
step "command line tests" bash Tests/cli/test_cli.sh
step "fuzz corpora and regressions replayed" bash Tests/fuzz/run.sh replay
# CI sets CFX_TEST_SANITIZERS=1: the C ABI program under AddressSanitizer, the threads tests under
# ThreadSanitizer and a short libFuzzer run
# (the full sanitizer suites: bash Tests/sanitizers.sh; long fuzzing: bash Tests/fuzz/run.sh fuzz).
if [ "${CFX_TEST_SANITIZERS:-0}" = 1 ]; then
    step "C ABI tests under ASan" bash Tests/sanitizers.sh asan-c
    step "C ABI and concurrency tests under TSan" bash Tests/sanitizers.sh tsan
    step "fuzzing, 20 s per target (libFuzzer, ASan)" bash Tests/fuzz/run.sh fuzz 20
else
    skip_feature sanitizers "the C ABI program under ASan and the short fuzz run need CFX_TEST_SANITIZERS=1" \
        || failures+=("sanitizers (required)")
fi
step "python examples" bash examples/python/run.sh
step "python tests" env CFX_LIBRARY="$PWD/.build/release/libcfx.so" PYTHONPATH="$PWD/bindings/python" \
    python3 -m pytest -q -rs Tests/python
step "API reference (doxygen, pdoc; no documentation warnings)" bash docs/build.sh
step "docs: generated tables match the result files" python3 benchmarks/doc_tables.py --check
step "docs: the methods' parameter tables match the methods' own" env CFX_CLI=.build/release/cfx-cli python3 docs/method_tables.py --check
step "docs: every quoted figure is in a committed result file" python3 Tests/check_doc_figures.py
step "no Swift function in Sources over 80 lines" python3 Tests/check_function_length.py
step "docs: the diffs in the docs (adding a method) match the code" python3 Tests/check_doc_diffs.py
if command -v julia >/dev/null 2>&1 && [ -d bindings/julia ]; then
    step "julia tests" julia --project=bindings/julia -e 'using Pkg; Pkg.test()'
else
    echo
    skip_feature julia "julia is not on PATH: Debian 12 has no julia package, so it cannot be installed on these machines" \
        || failures+=("julia (required)")
fi

echo
[ ${#failures[@]} -eq 0 ] || echo "failed suites: ${failures[*]}"
echo "suites: $passes passed, ${#failures[@]} failed"
[ ${#failures[@]} -eq 0 ]
