"""DeDUCE and JSMA on the Fashion-MNIST protocol (the deduce-protocol subcommand's pairs: the first N test images ×
the 9 classes other than each true label) with the networks in float64 and converted to float32,
side by side: success agreement, success rates, mean L0 / L1 / iterations, identical
counterfactuals, seconds per counterfactual. DeDUCE's density is fitted on each model's own
features (in float64, as cfx always does). Writes benchmarks/results/deduce_fmnist_float32.{md,json}.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/harness.py deduce-dtypes [--n 100] [--threads 2]
"""

import os

import numpy as np

from .. import env
from ..results import write_json
from .common import MODELS, OUT, RESULTS, load_fashion_mnist
from .protocol import density_for, run_method
import cfx

DTYPES = ("float64", "float32")


def compare(runs, pairs):
    """Agreement of the two dtypes' results ({(i, t): explanation} each) over `pairs`, and each
    dtype's means on the pairs both dtypes solved."""
    ok = {d: np.array([runs[d][0][p]["success"] for p in pairs]) for d in DTYPES}
    both = [p for p, a, b in zip(pairs, ok["float64"], ok["float32"]) if a and b]
    row = {"pairs": len(pairs), "agreement": 100.0 * float(np.mean(ok["float64"] == ok["float32"])), "both_found": len(both),
           "identical": sum(np.array_equal(runs["float64"][0][p]["cf"]["X"], runs["float32"][0][p]["cf"]["X"]) for p in both)}
    for d in DTYPES:
        results, wall = runs[d]
        row[d] = {"success": 100.0 * float(ok[d].mean()), "seconds": wall / len(pairs),
                  **{k: float(np.mean([results[p]["cf"][k] for p in both])) if both else float("nan")
                     for k in ("L0", "L1", "iterations")}}
    row["speedup"] = row["float64"]["seconds"] / row["float32"]["seconds"]
    return row, {d: ok[d].tolist() for d in DTYPES}


def add_arguments(parser) -> None:
    parser.add_argument("--n", type=int, default=100, help="test images (× 9 targets)")
    parser.add_argument("--threads", type=int, default=2)


def main(args) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    load = [os.getloadavg()]
    x, y, xt, yt = load_fashion_mnist()
    X, labels = xt[:args.n], yt[:args.n]
    base = {m: cfx.Model.load(MODELS / f"fmnist_resnet_{m}.json") for m in ("sn", "plain")}
    models = {"float64": base, "float32": {m: net.astype("float32") for m, net in base.items()}}
    densities, predictions = {}, {}
    for d in DTYPES:
        densities[d], fit = density_for(models[d]["sn"], x, y, "sn" if d == "float64" else f"sn_{d}")
        predictions[d] = {m: net.predict(X) for m, net in models[d].items()}
        print(f"{d}: density " + (f"fitted in {fit:.1f} s" if fit else "cached"), flush=True)
    agree = {m: {"argmax_equal": int((predictions["float64"][m].argmax(1) == predictions["float32"][m].argmax(1)).sum()),
                 "max_prob_diff": float(np.abs(predictions["float64"][m] - predictions["float32"][m]).max())}
             for m in ("sn", "plain")}

    methods = {
        "DeDUCE (SN ResNet)": lambda d: lambda targets: cfx.DeDUCE(models[d]["sn"], target_class=targets,
                                                                    n_threads=args.threads).set_density(densities[d]),
        "JSMA (plain ResNet)": lambda d: lambda targets: cfx.JSMA(models[d]["plain"], target_class=targets,
                                                                   n_threads=args.threads),
    }
    rows, successes = {}, {}
    for name, make in methods.items():
        runs = {}
        for d in DTYPES:
            runs[d] = run_method(make(d), X, labels)
            print(f"{name} {d}: {len(runs[d][0])} pairs in {runs[d][1]:.1f} s", flush=True)
        pairs = sorted(runs["float64"][0])
        rows[name], successes[name] = compare(runs, pairs)
        successes[name]["pairs"] = pairs
    load.append(os.getloadavg())
    write_report(args, rows, successes, agree, load)


def write_report(args, rows, successes, agree, load):
    command = (f"env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/harness.py deduce-dtypes "
               f"--n {args.n} --threads {args.threads}")
    record = env.machine(command)
    info = cfx.runtime_info()
    unset = [v for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v not in os.environ]
    lines = [
        "# DeDUCE and JSMA on Fashion-MNIST: float32 networks side by side with float64",
        "",
        *env.markdown(record)[:3], "- release build",
        f"- command: `{command}`" + ("" if len(unset) == 2 else f" (**not** unset in this run: "
                                     f"{', '.join(v for v in ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE') if v not in unset)})"),
        "- OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset in the command: this machine sets them (AVX2 kernels on an "
        f"AVX-512 processor), users' machines do not. OpenBLAS kernel that ran: {info.get('openblas_core', info)}",
        f"- load average "
        f"{load[0][0]:.2f} at the start, {load[1][0]:.2f} at the end (1 minute), so times carry noise; ratios are within the run",
        f"- protocol of `deduce-protocol`: the first {args.n} test images × the 9 classes other than the true label = "
        f"{next(iter(rows.values()))['pairs']} pairs per method; DeDUCE on the spectrally normalised ResNet with the class "
        "Gaussians fitted on that model's own training features (float64 statistics of float32 features for the float32 "
        "model), JSMA on the plain ResNet; defaults of both; batched, one explainer per true label, "
        f"{args.threads} threads. float32 = `cfx.Model.astype(\"float32\")` of the same models",
        "- predictions on these images, float32 vs float64: "
        + "; ".join(f"{m} model argmax equal on {a['argmax_equal']}/{args.n}, max probability difference "
                    f"{a['max_prob_diff']:.1e}" for m, a in agree.items()),
        "",
        "| method | agreement (both succeed or both fail) | success float64 | success float32 | both found | "
        "identical counterfactuals | L0 64 / 32 | L1 64 / 32 | iterations 64 / 32 | s / cf float64 | s / cf float32 | "
        "float64 / float32 time |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        a, b = r["float64"], r["float32"]
        lines.append(f"| {name} | **{r['agreement']:.1f}%** | {a['success']:.1f}% | {b['success']:.1f}% | {r['both_found']} | "
                     f"{r['identical']} ({100.0 * r['identical'] / max(r['both_found'], 1):.1f}%) | "
                     f"{a['L0']:.1f} / {b['L0']:.1f} | {a['L1']:.2f} / {b['L1']:.2f} | "
                     f"{a['iterations']:.1f} / {b['iterations']:.1f} | {a['seconds']:.4f} | {b['seconds']:.4f} | "
                     f"{r['speedup']:.2f}× |")
    met = all(r["agreement"] >= 95.0 for r in rows.values())
    lines += [
        "",
        f"Target (issue 12): same successes on ≥ 95% of pairs: **{'met' if met else 'NOT met'}** for "
        + ("both methods." if met else ", ".join(f"{n} {r['agreement']:.1f}%" for n, r in rows.items()) + "."),
        "L0 / L1 / iterations are means over the pairs both dtypes solved; \"identical\" counts those whose "
        "counterfactuals are equal pixel for pixel. Seconds per counterfactual = batched wall time / pairs (failed "
        "searches included).",
    ]
    (RESULTS / "deduce_fmnist_float32.md").write_text("\n".join(lines) + "\n")
    write_json(RESULTS / "deduce_fmnist_float32.json",
        {"env": record, "load_average": load, "runtime_info": info, "predictions": agree,
         "methods": rows, "successes": successes})
    print("\n".join(lines))
