#!/usr/bin/env bash
# Fuzzing of cfx's C functions (Tests/fuzz/Sources). Two modes:
#
#   bash Tests/fuzz/run.sh replay
#       Builds cfx-fuzz as usual and replays every seed and every input that once crashed
#       (corpus/ and regressions/) through its target. Part of Tests/run-all.sh.
#
#   bash Tests/fuzz/run.sh fuzz [SECONDS] [TARGET...]
#       Builds cfx-fuzz with libFuzzer and AddressSanitizer (in .build-fuzz) and fuzzes each target
#       (spec, config, safetensors, density, callbacks, convert, writer, onnx, onnx-parse, trees; all by default) for SECONDS (default 60).
#       New inputs go to a work corpus in .build-fuzz/corpus/TARGET; a crash is written to
#       .build-fuzz/crashes/TARGET and fails the run: copy it into regressions/TARGET once fixed.
#       Extra libFuzzer flags may be given in CFX_FUZZ_FLAGS (e.g. "-runs=1000000").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
mode=${1:-replay}
all_targets=(spec config safetensors density callbacks convert writer onnx onnx-parse trees)

# The seeds of a target and the inputs that once crashed it. The onnx target's seeds are the ONNX
# fixtures the Swift tests load (real files written by torch.onnx and skl2onnx).
seed_folders() {
    echo "Tests/fuzz/corpus/$1 Tests/fuzz/regressions/$1"
    [[ "$1" == onnx* ]] && echo "Tests/fixtures/onnx"
    [ "$1" = trees ] && echo "Tests/fixtures/trees"
    return 0
}

case "$mode" in
replay)
    swift build -c release --product cfx-fuzz >/dev/null
    for target in "${all_targets[@]}"; do
        inputs=()
        for folder in $(seed_folders "$target"); do
            [ -d "$folder" ] && inputs+=("$folder")
        done
        .build/release/cfx-fuzz "$target" "${inputs[@]}"
    done
    ;;
fuzz)
    seconds=${2:-60}
    shift $(( $# >= 2 ? 2 : 1 ))
    targets=("$@")
    [ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
    swift build -c release --product cfx-fuzz --scratch-path .build-fuzz \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DCFX_LIBFUZZER >/dev/null
    binary=.build-fuzz/release/cfx-fuzz
    failed=0
    for target in "${targets[@]}"; do
        mkdir -p ".build-fuzz/corpus/$target" ".build-fuzz/crashes/$target"
        # libFuzzer stops at a corpus folder that does not exist (git keeps no empty folders).
        inputs=(".build-fuzz/corpus/$target")
        for folder in $(seed_folders "$target"); do
            [ -d "$folder" ] && inputs+=("$folder")
        done
        echo "==> fuzzing $target for ${seconds}s"
        # ONNX seeds are real exported files of up to about 23 KB; the other inputs are small text.
        max_len=8192
        [[ "$target" == onnx* || "$target" == trees ]] && max_len=32768
        # Limits above cfx's own caps (CFX_MAX_PARAMETERS is 2 GiB of weights), so that only a
        # real leak or runaway allocation is reported as out-of-memory.
        # shellcheck disable=SC2086
        if ! CFX_FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$binary" \
                -max_total_time="$seconds" -timeout=30 -rss_limit_mb=12288 -malloc_limit_mb=6144 \
                -max_len="$max_len" -dict=Tests/fuzz/cfx.dict -print_final_stats=1 \
                -artifact_prefix=".build-fuzz/crashes/$target/" ${CFX_FUZZ_FLAGS:-} \
                "${inputs[@]}" 2>".build-fuzz/$target.log"; then
            echo "==> $target: FAILED (see .build-fuzz/$target.log and .build-fuzz/crashes/$target)"
            tail -n 30 ".build-fuzz/$target.log"
            failed=1
        else
            grep -E "stat::number_of_executed_units|stat::peak_rss_mb" ".build-fuzz/$target.log" | sed "s/^/    $target /"
        fi
    done
    exit $failed
    ;;
*)
    echo "usage: bash Tests/fuzz/run.sh replay | fuzz [SECONDS] [TARGET...]" >&2
    exit 2
    ;;
esac
