#!/usr/bin/env bash
# What explanations' output costs, written to benchmarks/results/json_output.md:
#   0. writing alone (write_speed.c): MB/s of cfx_model_spec, whose JSON is mostly numbers;
#   1. from C (explain_cost.c): cfx_explain per row on the digits MLP (64-64-64-10) of
#      the mlp-speed subcommand, Wachter and CFProto, with "all" off (return_all false, tuned),
#      as by default, and (Wachter) with every candidate; the extra output's MB/s;
#   2. from Python (the json-decode subcommand): json, orjson and a binary side channel's floor.
# With BASELINE_LIB=/path/to/dir (holding an older libcfx.so) the C part also runs on that library
# in the same run (its configs: "return_all" false and its defaults), for a before/after ratio.
# Run on this machine as: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/harness.py json-output
# Environment: N (rows, default 20), REPEATS (default 7), SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT="$PWD"
LIB="$ROOT/.build/release"
OUT="$ROOT/benchmarks/out"
N="${N:-20}"
REPEATS="${REPEATS:-7}"
RESULT="$ROOT/benchmarks/results/json_output.md"
mkdir -p "$OUT"
[ "${SKIP_BUILD:-0}" = 1 ] || swift build -c release >&2
CACHE="$OUT/mlp_models/digits.json"
[ -f "$CACHE" ] || CFX_LIBRARY="$LIB/libcfx.so" python3 benchmarks/harness.py mlp-speed --datasets digits --n 1 --repeats 1 >/dev/null

build() {  # build SOURCE LIBDIR BINARY
    "${CC:-cc}" -std=c11 -O2 -Wall -Wextra -Werror -I include "benchmarks/json/$1.c" \
        -L "$2" -lcfx -Wl,-rpath,"$2" -ljansson -lm -o "$3"
}
build explain_cost "$LIB" "$OUT/explain_cost"
build write_speed "$LIB" "$OUT/write_speed"
[ -z "${BASELINE_LIB:-}" ] || build explain_cost "$BASELINE_LIB" "$OUT/explain_cost_baseline"
[ -z "${BASELINE_LIB:-}" ] || build write_speed "$BASELINE_LIB" "$OUT/write_speed_baseline"
{
    echo "# The cost of an explanation's output"
    echo
    python3 benchmarks/harness.py env --markdown --no-library --command "${CFX_BENCH_COMMAND:-bash $0 $*}"
    echo
    echo "Digits MLP 64-64-64-10 (the mlp-speed subcommand's), $N test rows, one per call, 1 thread, median of $REPEATS passes."
    echo
    echo "## Writing alone"
    echo
    echo "- this build: $("$OUT/write_speed" "$CACHE" "$REPEATS")"
    [ -z "${BASELINE_LIB:-}" ] || echo "- baseline library (jansson, %.17g), same run: $("$OUT/write_speed_baseline" "$CACHE" "$REPEATS")"
    echo
    echo "## From C: cfx_explain (search + JSON)"
    echo
    echo "Wachter (defaults, feature range = training range):"
    echo
    "$OUT/explain_cost" "$CACHE" wachter "$N" "$REPEATS" '{"return_all":false}' '{}' '{"all_candidates":"every"}'
    echo
    echo "CFProto (use_kdtree, theta 10):"
    echo
    "$OUT/explain_cost" "$CACHE" cfproto "$N" "$REPEATS" '{"return_all":false}' '{}'
    if [ -n "${BASELINE_LIB:-}" ]; then
        echo
        echo "Baseline library \`$BASELINE_LIB\`, same run (its default \"all\" is every candidate, written by jansson with %.17g):"
        echo
        "$OUT/explain_cost_baseline" "$CACHE" wachter "$N" "$REPEATS" '{"return_all":false}' '{}'
    fi
    echo
    echo "## From Python: decoding one explanation (Wachter)"
    echo
    CFX_LIBRARY="$LIB/libcfx.so" python3 benchmarks/harness.py json-decode --n "$N" --repeats "$REPEATS"
    echo
    echo "Load average after: $(python3 benchmarks/harness.py env --load)."
} | tee "$RESULT"
