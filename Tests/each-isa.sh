#!/usr/bin/env bash
# The tests again under each other instruction set of cfx's kernels that this processor runs
# (CFX_ISA; docs/networks.md#instruction-sets): the Swift tests and the C ABI program, whose
# determinism checks (a row alone, in a batch, on several threads) then hold per set. The set the
# processor picks by itself is the one the rest of Tests/run-all.sh runs; Tests/python/test_isa.py
# checks every set end to end from Python. Needs the release library (swift build -c release).
#
#   bash Tests/each-isa.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
info() { CFX_ISA=$1 CFX_LIBRARY="$PWD/.build/release/libcfx.so" PYTHONPATH="$PWD/bindings/python" \
    python3 -c "import cfx, sys; print(cfx.runtime_info()[sys.argv[1]])" "$2"; }
default=$(info "" isa)
supported=$(CFX_LIBRARY="$PWD/.build/release/libcfx.so" PYTHONPATH="$PWD/bindings/python" \
    python3 -c "import cfx; print(' '.join(cfx.runtime_info()['isa_supported']))")
echo "kernel sets this processor runs: $supported (default: $default)"
for set in avx512 avx2 baseline; do
    case " $supported " in *" $set "*) ;; *) echo "==> $set: not run, this processor lacks it"; continue ;; esac
    [ "$set" = "$default" ] && { echo "==> $set: the default set, run by the other suites"; continue; }
    [ "$(info "$set" isa)" = "$set" ] || { echo "CFX_ISA=$set did not select $set" >&2; exit 1; }
    echo "==> $set: swift test"
    CFX_ISA=$set swift test --disable-swift-testing
    echo "==> $set: C ABI program"
    CFX_ISA=$set bash Tests/c/run.sh
done
