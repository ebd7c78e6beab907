#!/usr/bin/env bash
# Training throughput of release builds: MLPs on scikit-learn's 8x8 digits (Tests/fixtures/digits.json,
# 1347 training rows), through the command line (cfx-cli train, i.e. the C API). Reports the median
# epoch's rows per second over 10 epochs for 1 and 2 threads and two batch sizes, and the test
# accuracy. Writes benchmarks/results/training_digits.md; scratch files go to benchmarks/out/.
# SKIP_BUILD=1 uses the existing .build/release. Run as: python3 benchmarks/harness.py training
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
OUT="$PWD/benchmarks/out/training"
RES="$PWD/benchmarks/results"
mkdir -p "$OUT" "$RES"
[ "${SKIP_BUILD:-0}" = 1 ] || swift build -c release >&2
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
d = json.load(open("Tests/fixtures/digits.json"))
m, s = d["mean"], d["scale"]
for part in ("train", "test"):
    with open(f"{out}/x_{part}.csv", "w") as f:
        for r in d[f"x_{part}"]:
            f.write(",".join(repr((v - a) / b) for v, a, b in zip(r, m, s)) + "\n")
    with open(f"{out}/y_{part}.csv", "w") as f:
        f.write("".join(f"{y}\n" for y in d[f"y_{part}"]))
for name, layers in {
    "mlp": [{"type": "dense", "outputs": 128}, {"type": "relu"}],
    "mlp_bn": [{"type": "dense", "outputs": 128}, {"type": "batch_norm"}, {"type": "relu"}],
}.items():
    spec = {"input_shape": [64], "layers": layers + [{"type": "dense", "outputs": 10}, {"type": "softmax"}]}
    json.dump(spec, open(f"{out}/{name}.json", "w"))
PY
{
    echo "# Training throughput on digits"
    echo
    python3 benchmarks/harness.py env --markdown --no-library --command "${CFX_BENCH_COMMAND:-bash $0 $*}"
    echo
    echo "1347 training rows, 10 epochs, Adam (learning rate 0.003);"
    echo "rows/s is the median epoch's. 64 → 128 → 10 MLP, with or without batch norm after the hidden dense layer."
    echo
    echo "| model | batch | threads | shards | rows/s | total s | test accuracy |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    for model in mlp mlp_bn; do
        for batch in 32 256; do
            for threads in 1 2; do
                .build/release/cfx-cli train -q -m "$OUT/$model.json" -d "$OUT/x_train.csv" -l "$OUT/y_train.csv" \
                    -c "{\"epochs\": 10, \"batch_size\": $batch, \"n_threads\": $threads, \"learning_rate\": 0.003}" \
                    -o "$OUT/trained.json" > "$OUT/report.json"
                .build/release/cfx-cli predict -m "$OUT/trained.json" -d "$OUT/x_test.csv" > "$OUT/proba.csv"
                python3 - "$OUT" "$model" "$batch" "$threads" <<'PY'
import json, sys
out, model, batch, threads = sys.argv[1:]
r = json.load(open(f"{out}/report.json"))
rates = sorted(e["rows_per_second"] for e in r["history"])
proba = [list(map(float, l.split(","))) for l in open(f"{out}/proba.csv").read().split()]
y = [int(l) for l in open(f"{out}/y_test.csv").read().split()]
acc = sum(max(range(10), key=p.__getitem__) == t for p, t in zip(proba, y)) / len(y)
print(f"| {model} | {batch} | {threads} | {r['n_threads']} | {rates[len(rates) // 2]:,.0f} | {r['seconds']:.3f} | {acc:.3f} |")
PY
            done
        done
    done
    echo
    echo "One shard per thread needs at least 64 rows per shard, so batches of 32 always run on one thread."
    echo "Threads are started for every batch, so with these small layers they cost about what they save."
} | tee "$RES/training_digits.md"
