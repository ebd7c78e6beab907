#!/usr/bin/env bash
# cfx-cli explain --output (streaming, chunks of 1000 rows) on N jittered iris rows (the test and
# training rows of Tests/fixtures/iris_mlp.json plus Gaussian noise of 0.05, as
# the dask subcommand makes them) with the fixture network examples/c/data/iris_mlp.json,
# Wachter: the defaults against "return_all": false in the same run. Reports wall seconds, peak RSS
# (/usr/bin/time) and the output's size; writes benchmarks/results/cli_stream.md.
# Run on this machine as: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/harness.py cli-stream [N]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
N="${1:-40000}"
OUT="$PWD/benchmarks/out/cli_stream"
CLI="$PWD/.build/release/cfx-cli"
mkdir -p "$OUT"
[ "${SKIP_BUILD:-0}" = 1 ] || swift build -c release >&2
python3 -c "
import numpy as np
from cfxbench import dask_bench as bench
_, base, _, _ = bench.load('iris')
np.savetxt('$OUT/rows.csv', bench.rows(base, $N), delimiter=',', fmt='%.17g')"

run() {  # run LABEL CONFIG
    rm -f "$OUT/out.jsonl"
    /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$CLI" explain -q -m examples/c/data/iris_mlp.json -c "$2" \
        -d "$OUT/rows.csv" -o "$OUT/out.jsonl"
    read -r seconds kb < "$OUT/time.txt"
    lines=$(wc -l < "$OUT/out.jsonl")
    bytes=$(stat -c %s "$OUT/out.jsonl")
    echo "| $1 | \`$2\` | $lines | $seconds s | $((kb / 1024)) | $((bytes / 1000000)) |"
}
{
    echo "# cfx-cli explain --output: streaming $N iris rows"
    echo
    python3 benchmarks/harness.py env --markdown --no-library --command "${CFX_BENCH_COMMAND:-bash $0 $*}"
    echo
    echo "| run | config | lines | wall time | peak RSS MB | output MB |"
    echo "|---|---|---:|---:|---:|---:|"
    run "default" '{"method":"wachter"}'
    run "tuned" '{"method":"wachter","return_all":false}'
    echo
    echo "Load average after: $(python3 benchmarks/harness.py env --load)."
} | tee benchmarks/results/cli_stream.md
