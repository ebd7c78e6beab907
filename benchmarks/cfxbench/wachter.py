"""Wachter on iris through the C ABI (benchmarks/wachter/wachter_bench.c): native and callback
models, 1 and 2 threads, return_all; and, when the alibi venv exists ($ALIBI_VENV, default
benchmarks/.venv-alibi; see benchmarks/external/setup_alibi.sh), alibi's CounterFactual on the same network
in the same run (benchmarks/external/wachter_alibi.py, native Keras and black-box predict). Writes
benchmarks/results/wachter_iris.md and .json; scratch files go to benchmarks/out/.

    python3 benchmarks/harness.py wachter [--repeats 7] [--alibi-n 45] [--alibi-n-blackbox 45] [--skip-build]

Takes about 4 minutes with alibi (alibi needs ~2 s per counterfactual), seconds without.
"""
import hashlib
import json
import os
import statistics
import subprocess
import sys

from . import OUT, RESULTS, ROOT, env as provenance
from .results import write_json

VENV = os.environ.get("ALIBI_VENV", str(ROOT / "benchmarks" / ".venv-alibi"))
LIB = ROOT / ".build" / "release"


def fmt(v, spec=".3f", none="–"):
    return none if v is None else format(v, spec)


def cfx_subset(row, n):
    """cfx's validity and mean L1 on the first n instances (the ones alibi explained)."""
    inst = row["instances"][:n]
    valid = [r for r in inst if r["valid"]]
    return {"n": len(inst), "n_valid": len(valid),
            "mean_l1": statistics.fmean(r["l1"] for r in valid) if valid else None}


def agreement(cfx_row, alibi_mode):
    """Share of instances where both found a valid cf of the same class; mean |L1 difference|."""
    pairs = list(zip(cfx_row["instances"], alibi_mode["instances"]))
    same = sum(1 for c, a in pairs if c["valid"] and a["valid"] and c["cf_class"] == a["cf_class"])
    diffs = [abs(c["l1"] - a["l1"]) for c, a in pairs if c["valid"] and a["valid"]]
    return {"same_class": same, "n": len(pairs), "mean_abs_l1_diff": statistics.fmean(diffs) if diffs else None}


def add_arguments(parser) -> None:
    parser.add_argument("--repeats", type=int, default=7, help="cfx repeats (default 7)")
    parser.add_argument("--alibi-n", type=int, default=45, help="instances for alibi with the Keras model (default 45 = all)")
    parser.add_argument("--alibi-n-blackbox", type=int, default=45,
                        help="instances for alibi with a black-box predict (default 45)")
    parser.add_argument("--skip-build", action="store_true", help="use the existing .build/release/libcfx.so")


def main(args) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    if not args.skip_build:
        subprocess.run(["swift", "build", "-c", "release"], cwd=ROOT, check=True, stdout=sys.stderr)
    lib = LIB / "libcfx.so"
    if not lib.exists():
        raise SystemExit(f"wachter: {lib} not found; build it with: swift build -c release")
    binary = OUT / "wachter_bench"
    subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I", "include",
                    "benchmarks/wachter/wachter_bench.c", "-L", str(LIB), "-lcfx", f"-Wl,-rpath,{LIB}", "-ljansson",
                    "-lpthread", "-lm", "-o", str(binary)], cwd=ROOT, check=True)
    env = provenance.machine(provenance.harness_command(),
                             ("Sources", "include", "Package.swift"))
    env.update(arch=env["machine"], lib_sha256=hashlib.sha256(lib.read_bytes()).hexdigest())
    print("== cfx ==", file=sys.stderr, flush=True)
    subprocess.run([str(binary), "--repeats", str(args.repeats), "--json", str(OUT / "cfx_wachter.json")], cwd=ROOT,
                   check=True, stdout=sys.stderr)
    alibi_path, missing = None, f"{VENV} does not exist"
    if os.access(os.path.join(VENV, "bin", "python"), os.X_OK):
        print(f"== alibi ({args.alibi_n} native, {args.alibi_n_blackbox} black-box instances) ==", file=sys.stderr, flush=True)
        run = subprocess.run([os.path.join(VENV, "bin", "python"), "benchmarks/external/wachter_alibi.py", "--n",
                              str(args.alibi_n), "--n-blackbox", str(args.alibi_n_blackbox), "--out",
                              str(OUT / "alibi_wachter.json")], cwd=ROOT)
        if run.returncode == 0:
            alibi_path = OUT / "alibi_wachter.json"
        else:
            missing = f"benchmarks/external/wachter_alibi.py failed (exit {run.returncode}); see its output above"
    report(json.load(open(OUT / "cfx_wachter.json")), json.load(open(alibi_path)) if alibi_path else None, missing,
           env, RESULTS / "wachter_iris.md", RESULTS / "wachter_iris.json")
    print((RESULTS / "wachter_iris.md").read_text())
    return 0


def report(cfx, alibi, alibi_missing, env, md_path, json_path) -> None:
    """The Markdown report and the JSON file of cfx's numbers (wachter_bench --json) and alibi's."""
    rows = cfx["results"]

    def find(model, threads, return_all=False):
        for r in rows:
            if r["model"] == model and r["n_threads"] == threads and r["return_all"] == return_all:
                return r
        return None

    t2 = max(r["n_threads"] for r in rows)
    n = cfx["instances"]
    md = []
    md.append("# Wachter counterfactuals on iris: cfx vs alibi\n")
    md.append(f"- date: {env['date']}")
    load = env.get("loadavg_at_start")
    md.append(f"- machine: `{env['arch']}`, {env['cpu']}, {env['cores']} cores"
              + (f" (load average at start {' '.join(load)})" if load else ""))
    md.append(f"- cfx commit: `{env['commit']}`{' (plus uncommitted changes in Sources/)' if env.get('dirty') else ''}, "
              f"libcfx.so sha256 `{env['lib_sha256'][:12]}`, cfx {cfx['cfx_version']}")
    md.append(f"- command: `{env['command']}`")
    if alibi:
        md.append(f"- alibi {alibi['alibi_version']}, TensorFlow {alibi['tensorflow_version']} (CPU), "
                  f"NumPy {alibi['numpy_version']}, Python {alibi['python']}")
    md.append("")
    md.append(f"Model: `{cfx['fixture']}` (scikit-learn MLP 4-10-3, relu, softmax; {n} test instances). Method: "
              "Wachter et al. as alibi's `CounterFactual` with its defaults (target_proba 1, tol 0.05, "
              "target_class other, max_iter 1000, early_stop 50, lam_init 0.1, max_lam_steps 10, lr 0.1 with "
              "linear decay, eps 0.01). **native**: cfx's own network (exact gradients); **blackbox**: a "
              "callback model whose predict calls the native model, no vjp, so cfx uses central differences. "
              "**valid**: a cf was found, its class differs from the original class and its probability is "
              f"≥ {cfx['valid_proba']}.\n")

    md.append("## cfx\n")
    md.append(f"All {n} instances in one `cfx_explain` call; time per counterfactual = wall time of the call "
              f"(CLOCK_MONOTONIC) / {n}, median over {cfx['repeats']} repeats.\n")
    md.append("| model | n_threads | return_all | ms / cf | min–max | valid | mean L1 | model calls / inst "
              "| predicted rows / inst | gradients / inst | JSON |")
    md.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        kb = r["json_bytes"] / 1024
        size = f"{kb / 1024:.1f} MB" if kb >= 1024 else f"{kb:.0f} KB"
        md.append(f"| {r['model']} | {r['n_threads_used']} | {'true' if r['return_all'] else 'false'} | "
                  f"{r['ms_per_cf_median']:.3f} | {r['ms_per_cf_min']:.3f}–{r['ms_per_cf_max']:.3f} | "
                  f"{r['n_valid']}/{r['n']} | {fmt(r['mean_l1'])} | {r['mean_model_calls']:.0f} | "
                  f"{r['mean_predicted_rows']:.0f} | {r['mean_gradient_evaluations']:.0f} | {size} |")
    det = all(r["deterministic_across_repeats"] for r in rows)
    md.append("")
    md.append(f"Same counterfactuals on 1 and {t2} threads: native "
              f"{'yes' if cfx['same_cf_across_threads_native'] else 'NO'}, blackbox "
              f"{'yes' if cfx['same_cf_across_threads_blackbox'] else 'NO'}; with return_all: "
              f"{'yes' if cfx['same_cf_with_return_all'] else 'NO'}; identical across repeats: {'yes' if det else 'NO'}. "
              f"Model calls count predict calls (a numerical gradient is one batched call of 2·d rows); "
              f"`return_all: true` is the default and writes each λ round's closest candidate "
              f"(`all_candidates: \"every\"`: every candidate met, alibi's list).\n")

    data = {"env": env, "cfx": cfx, "alibi": alibi, "comparison": None}
    md.append("## alibi\n")
    if not alibi:
        md.append(f"alibi was not measured: {alibi_missing or 'no results'}. To measure it, run "
                  "`benchmarks/external/setup_alibi.sh` (creates `benchmarks/.venv-alibi` with alibi 0.9.6 and "
                  "tensorflow-cpu 2.14.1, ~2 GB) and rerun `python3 benchmarks/harness.py wachter`.\n")
    else:
        md.append("alibi `CounterFactual` (TF1 graph mode, shape (1, 4), default parameters) explains the first "
                  "N test instances one `explain` call each; time per counterfactual = median over instances "
                  "(time.perf_counter). **native**: a Keras model with the fixture's weights (max |Δproba| vs "
                  f"the fixture {alibi['keras_max_abs_diff']:.1g}; TF gradients, float32). **blackbox**: a NumPy "
                  "predict function of the same network (numerical gradients, eps 0.01). cfx's validity and L1 "
                  "are taken on the same N instances; the ratio is alibi's median seconds per cf over cfx's "
                  "(same run, same machine).\n")
        md.append(f"| model | N | alibi s / cf (median) | cfx ms / cf, 1 thread | **alibi / cfx, 1 thread** | "
                  f"alibi / cfx, {t2} threads | valid alibi | valid cfx | mean L1 alibi | mean L1 cfx | "
                  "same cf class |")
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        comparison = {}
        for mode in ("native", "blackbox"):
            a = alibi.get(mode)
            if not a:
                continue
            c1, c2 = find(mode, 1), find(mode, t2)
            sub = cfx_subset(c1, a["n"])
            agree = agreement(c1, a)
            r1 = a["seconds_per_cf_median"] / (c1["ms_per_cf_median"] / 1e3)
            r2 = a["seconds_per_cf_median"] / (c2["ms_per_cf_median"] / 1e3)
            r1_mean = a["seconds_per_cf_mean"] / (c1["ms_per_cf_median"] / 1e3)
            comparison[mode] = {"n": a["n"], "alibi_seconds_per_cf_median": a["seconds_per_cf_median"],
                                "alibi_seconds_per_cf_mean": a["seconds_per_cf_mean"],
                                "cfx_ms_per_cf_1_thread": c1["ms_per_cf_median"],
                                f"cfx_ms_per_cf_{t2}_threads": c2["ms_per_cf_median"],
                                "ratio_1_thread": r1, f"ratio_{t2}_threads": r2, "ratio_1_thread_alibi_mean": r1_mean,
                                "alibi_n_valid": a["n_valid"], "cfx_n_valid": sub["n_valid"],
                                "alibi_mean_l1": a["mean_l1"], "cfx_mean_l1": sub["mean_l1"], "agreement": agree}
            md.append(f"| {mode} | {a['n']} | {a['seconds_per_cf_median']:.3f} | {c1['ms_per_cf_median']:.3f} | "
                      f"**{r1:,.0f}×** | {r2:,.0f}× | {a['n_valid']}/{a['n']} | {sub['n_valid']}/{sub['n']} | "
                      f"{fmt(a['mean_l1'])} | {fmt(sub['mean_l1'])} | {agree['same_class']}/{agree['n']} |")
        data["comparison"] = comparison
        md.append("")
        notes = []
        for mode, c in comparison.items():
            a = alibi[mode]
            extra = ""
            if "mean_model_calls" in a:
                extra = (f"; alibi called the black box {a['mean_model_calls']:.0f} times per instance "
                         f"({a['mean_predicted_rows']:.0f} rows), cfx {find(mode, 1)['mean_model_calls']:.0f} "
                         f"({find(mode, 1)['mean_predicted_rows']:.0f} rows)")
            notes.append(f"- {mode}: alibi {a['seconds_per_cf_min']:.2f}–{a['seconds_per_cf_max']:.2f} s per cf "
                         f"(mean {a['seconds_per_cf_mean']:.3f} s, ratio on the mean {c['ratio_1_thread_alibi_mean']:,.0f}×), "
                         f"explainer construction {a['init_seconds']:.2f} s (not counted){extra}; mean |L1 cfx − "
                         f"L1 alibi| over instances both solved {fmt(c['agreement']['mean_abs_l1_diff'], '.4f')}.")
        md.extend(notes)
        if "native" in comparison:
            c = comparison["native"]
            speed_ok = c["ratio_1_thread"] >= 1000
            valid_ok = c["cfx_n_valid"] >= c["alibi_n_valid"]
            data["target"] = {"speedup_ge_1000": speed_ok, "validity_no_worse": valid_ok}
            md.append("")
            md.append(f"Target (cfx native ≥ 1000× faster per counterfactual than alibi, validity no worse): "
                      f"speed {'met' if speed_ok else 'NOT met'} ({c['ratio_1_thread']:,.0f}× on 1 thread), "
                      f"validity {'met' if valid_ok else 'NOT met'} ({c['cfx_n_valid']}/{c['n']} vs "
                      f"{c['alibi_n_valid']}/{c['n']}).")
        md.append("")

    open(md_path, "w").write("\n".join(md))
    write_json(json_path, data)
