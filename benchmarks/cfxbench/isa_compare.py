"""Two runs of the mlp-speed subcommand side by side, on the processor's own kernels and with AVX2
forced (--isa avx2), as a Markdown table: thread-CPU ms per counterfactual, their ratio, and
whether the counterfactuals' digests agree (cfx's avx512 and avx2 kernels give the same bits).

    python3 benchmarks/harness.py mlp-speed --dtype float32 --json native.json
    python3 benchmarks/harness.py mlp-speed --dtype float32 --isa avx2 --json avx2.json
    python3 benchmarks/harness.py isa-compare native.json avx2.json [more pairs ...] > results.md
"""
import json


def rows(path):
    return {(r["model"], r["method"], r["config"]): r for r in json.load(open(path))}


def table(native_path, avx2_path):
    native, avx2 = rows(native_path), rows(avx2_path)
    kernels = [next(iter(run.values()))["kernels"] for run in (native, avx2)]
    lines = [f"- {name}: cfx `{k['isa']}`, OpenBLAS `{k['openblas_core']}`, oneDNN `{k.get('onednn_isa')}`"
             for name, k in zip(("native", "AVX2 forced"), kernels)]
    lines += ["", "| model | method | configuration | native ms / cf | AVX2 ms / cf | AVX2 / native | same counterfactuals |",
              "|---|---|---|---:|---:|---:|---|"]
    for key, n in native.items():
        a = avx2[key]
        lines.append(f"| {n['model']} | {n['method']} | {n['config']} | {n['cpu_ms_median']:.3f} | "
                     f"{a['cpu_ms_median']:.3f} | {a['cpu_ms_median'] / n['cpu_ms_median']:.2f} | "
                     f"{'yes' if n['digest'] == a['digest'] else 'no'} |")
    return lines


def add_arguments(parser) -> None:
    parser.add_argument("runs", nargs="+", metavar="NATIVE.json AVX2.json", help="pairs of mlp-speed --json files")


def main(args) -> int:
    pairs = args.runs
    if len(pairs) % 2:
        raise SystemExit("isa-compare: give the JSON files in pairs (native, AVX2)")
    for i in range(0, len(pairs), 2):
        print(f"\n## Run {i // 2 + 1}: {pairs[i]} against {pairs[i + 1]}\n")
        print("\n".join(table(pairs[i], pairs[i + 1])))
    return 0
