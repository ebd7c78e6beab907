"""Milliseconds per counterfactual of cfx's Wachter and CFProto on the MLPs of issue 12 item 5:
two hidden ReLU layers and a softmax output, as in alibi's Keras examples:

    iris 4-16-16-3, breast cancer 30-32-32-2, digits 64-64-64-10

trained here by scikit-learn (MLPClassifier, adam, random_state 0; iris and breast cancer
standardised, digits / 16; 70/30 stratified split, random_state 0) and exported by the binding's
`cfx.export.from_sklearn` (breast cancer's single logistic unit becomes the equivalent 2-class
softmax, logits [0, z]). Each instance is explained in its own call (one row per `explain`, the result
decoded into Explanation objects as a user gets them), 1 thread, alibi's documented defaults
(Wachter: config defaults, feature range = training range; CFProto: use_kdtree true, theta 10 as
in the harness). Every method runs in three configurations:

    default                  the defaults, return_all true ("all" in every explanation)
    return_all=False (tuned) no "all": the same search, the smallest output
    all_candidates=every     Wachter's "all" with every step that met the target (alibi's list)

Reports the median over REPEATS passes of the mean ms per counterfactual (wall, and CPU time of
the calling thread, which runs the search with n_threads 1: steadier on a shared machine), the
mean KB of JSON per explanation, a digest of the counterfactuals (to check that changes keep
results identical and that the three configurations find the same ones), and the ratio of each
configuration's time to the tuned one's in the same run. The configurations' passes alternate
(one pass of each in turn, REPEATS times), so that a drift of the machine's speed reaches all alike.

    python3 benchmarks/harness.py mlp-speed [--repeats 5] [--n 20] [--json out.json] [--alibi-n 5]
        [--alibi-rounds 1]
        [--dtype float32] [--isa avx2]

--dtype float32 runs cfx's searches on the network converted with Model.astype (alibi keeps its
own TensorFlow float32 network). --isa avx2 runs every library's AVX2 kernels on an AVX-512
processor (benchmarks/cfxbench/isa.py); the header and each JSON row name the kernels that ran.

With --alibi-n N, which needs the alibi venv ($ALIBI_VENV, default benchmarks/.venv-alibi; see
benchmarks/external/setup_alibi.sh; without it the command stops with an error), alibi explains the first N instances with the same network rebuilt in
Keras (benchmarks/external/run_alibi.py, one `explain` per instance) in the same run, and the table
gains alibi's seconds per counterfactual and the ratio to cfx's on those N instances: alibi's wall
time over cfx's wall and over cfx's thread CPU time (the issue's figure), and alibi's process CPU
time (every TensorFlow thread) over cfx's thread CPU time, which a loaded machine inflates least.
With --alibi-rounds R (default 1) alibi and cfx alternate R times on those instances (a fresh alibi
process each round, with cfx's REPEATS passes before it and again after it, their median the
round's cfx time), so that both sides see the same state of the machine; each
round gives its own ratios, and the row reports their median, their range and the per-instance
ratios (alibi's seconds on an instance over cfx's median thread CPU time on it): alibi's own time
moves by up to 1.6x between runs on a quiet 2-core machine.
"""
import warnings
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time

# numpy's own OpenBLAS (scikit-learn training) would otherwise leave spinning threads on the
# shared cores while cfx is timed; cfx's OpenBLAS runs on the calling thread either way.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np  # noqa: E402

from . import OUT, ROOT  # noqa: E402
from .env import load_average  # noqa: E402
from .results import write_json  # noqa: E402
from . import isa as kernel_sets  # noqa: E402  (before cfx loads: --isa starts again)

kernel_sets.force_from_arguments()
import cfx  # noqa: E402
import cfx.export  # noqa: E402

ARCHS = {"iris": (16, 16), "breast_cancer": (32, 32), "digits": (64, 64)}


def data(name):
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    raw = {"iris": datasets.load_iris, "breast_cancer": datasets.load_breast_cancer,
           "digits": datasets.load_digits}[name]()
    X_train, X_test, y_train, y_test = train_test_split(raw.data, raw.target, test_size=0.3, random_state=0,
                                                        stratify=raw.target)
    if name == "digits":
        return X_train / 16, X_test / 16, y_train, y_test
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


SPECS = {}
CACHE = os.path.join(OUT, "mlp_models")


def model(name):
    """The trained model and its data, cached in benchmarks/out/mlp_models (profiles then see
    no training)."""
    path = os.path.join(CACHE, f"{name}.json")
    if os.path.exists(path):
        c = json.load(open(path))
        X_train, X_test, y_test = (np.array(c[k]) for k in ("X_train", "X_test", "y_test"))
        m = cfx.Model.from_json(c["spec"])
        SPECS[name] = c["spec"]
    else:
        from sklearn.neural_network import MLPClassifier
        X_train, X_test, y_train, y_test = data(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = MLPClassifier(ARCHS[name], max_iter=500, random_state=0).fit(X_train, y_train)
        spec = cfx.export.from_sklearn(clf)
        os.makedirs(CACHE, exist_ok=True)
        json.dump({"spec": spec, "X_train": X_train.tolist(), "X_test": X_test.tolist(),
                   "y_test": y_test.tolist()}, open(path, "w"))
        m = cfx.Model.from_json(spec)
        SPECS[name] = spec
    acc = float((m.predict(X_test).argmax(axis=1) == y_test).mean())
    return m, X_train, X_test, acc


#: The configurations, on top of each method's parameters: label -> (extra keys, methods).
CONFIGS = {
    "default": ({}, ("wachter", "cfproto")),
    "return_all=False (tuned)": ({"return_all": False}, ("wachter", "cfproto")),
    "all_candidates=every": ({"all_candidates": "every"}, ("wachter",)),
}
TUNED = "return_all=False (tuned)"


def explainers(m, X_train, extra):
    rng = [X_train.min(axis=0).tolist(), X_train.max(axis=0).tolist()]
    wachter = cfx.Wachter(m, feature_range=rng, n_threads=1, **extra)
    proto = cfx.CFProto(m, feature_range=rng, use_kdtree=True, theta=10.0, n_threads=1,
                        **{k: v for k, v in extra.items() if k != "all_candidates"})
    proto.fit(X_train)
    return {"wachter": wachter, "cfproto": proto}


def json_kb(explainer, X):
    """Mean KB of cfx_explain's JSON per one-row call (outside the timed passes)."""
    return statistics.mean(len(explainer.explain_bytes(x)) for x in X) / 1e3


VENV = os.environ.get("ALIBI_VENV", os.path.join(ROOT, "benchmarks", ".venv-alibi"))
ALIBI_PARAMS = {"wachter": {}, "cfproto": {"use_kdtree": True, "theta": 10.0}}


def run_alibi(name, method, m, X_train, X):
    """run_alibi.py's output on X (in the alibi venv): per instance the counterfactual, the seconds
    and the process's CPU seconds (every TensorFlow thread)."""
    out_dir = str(OUT)
    job_path = os.path.join(out_dir, f"mlp_alibi_{name}_{method}_job.json")
    out_path = os.path.join(out_dir, f"mlp_alibi_{name}_{method}.json")
    with open(job_path, "w") as f:
        json.dump({"method": method, "spec": SPECS[name], "X": X.tolist(),
                   "proba": m.predict(X).tolist(), "X_train": X_train.tolist(),
                   "feature_range": [X_train.min(axis=0).tolist(), X_train.max(axis=0).tolist()],
                   "params": ALIBI_PARAMS[method], "seed": 0}, f)
    subprocess.run([os.path.join(VENV, "bin", "python"), os.path.join(ROOT, "benchmarks", "external", "run_alibi.py"),
                    "--job", job_path, "--out", out_path], check=True, stderr=subprocess.DEVNULL)
    return json.load(open(out_path))


def timed_calls(explainer, X, repeats, each=None):
    """`repeats` passes of one-row calls over X, each call timed: per pass the wall and thread CPU
    seconds per instance, and per instance every pass's thread CPU seconds (appended to `each`)."""
    passes, each = [], each or [[] for _ in X]
    for _ in range(repeats):
        wall = cpu = 0.0
        for i in range(len(X)):
            start, thread = time.perf_counter(), time.thread_time()
            explainer.explain(X[i])
            cpu_i = time.thread_time() - thread
            wall += time.perf_counter() - start
            cpu += cpu_i
            each[i].append(cpu_i)
        passes.append((wall / len(X), cpu / len(X)))
    return passes, each


def alibi_round(explainer, name, method, m, X_train, Xa, repeats):
    """One alibi run on Xa with cfx's passes on the same rows before and after it (a slow moment
    of the machine during one set of passes weighs half): the round's ratios."""
    before, each = timed_calls(explainer, Xa, repeats)
    res = run_alibi(name, method, m, X_train, Xa)
    seconds = [r["seconds"] for r in res["instances"]]
    cpu_alibi = [r["cpu_seconds"] for r in res["instances"]]
    after, each = timed_calls(explainer, Xa, repeats, each)
    passes, cfx_each = before + after, [statistics.median(t) for t in each]
    cfx_wall = statistics.median(wall for wall, _ in passes)
    cfx_cpu = statistics.median(cpu for _, cpu in passes)
    return {"alibi_s": seconds, "alibi_cpu_s": cpu_alibi,
            "alibi_valid": sum(r["cf"] is not None for r in res["instances"]),
            "alibi_version": res["alibi_version"], "tensorflow_version": res["tensorflow_version"],
            "cfx_ms": cfx_wall * 1e3, "cfx_cpu_ms": cfx_cpu * 1e3,
            "ratio_wall": statistics.mean(seconds) / cfx_wall, "ratio_cpu": statistics.mean(seconds) / cfx_cpu,
            "ratio_cpu_both": statistics.mean(cpu_alibi) / cfx_cpu,
            "ratio_per_instance": [a / c for a, c in zip(seconds, cfx_each)]}


def compare_with_alibi(row, explainer, name, method, m, X_train, Xa, args):
    """Adds alibi's figures to `row`: args.alibi_rounds rounds, the ratios' median over rounds."""
    rounds = [alibi_round(explainer, name, method, m, X_train, Xa, args.repeats) for _ in range(args.alibi_rounds)]
    middle = lambda key: statistics.median(r[key] for r in rounds)  # noqa: E731
    alibi_means = [statistics.mean(r["alibi_s"]) for r in rounds]
    row.update({"alibi_n": len(Xa), "alibi_rounds": rounds, "alibi_s_mean": statistics.median(alibi_means),
                "alibi_s_median": statistics.median(s for r in rounds for s in r["alibi_s"]),
                "alibi_cpu_s_mean": statistics.median(statistics.mean(r["alibi_cpu_s"]) for r in rounds),
                "alibi_valid": rounds[0]["alibi_valid"], "alibi_version": rounds[0]["alibi_version"],
                "tensorflow_version": rounds[0]["tensorflow_version"],
                "cfx_ms_on_alibi_instances": middle("cfx_ms"), "cfx_cpu_ms_on_alibi_instances": middle("cfx_cpu_ms"),
                "ratio_wall": middle("ratio_wall"), "ratio_cpu": middle("ratio_cpu"),
                "ratio_cpu_both": middle("ratio_cpu_both"),
                "ratio_cpu_range": [min(r["ratio_cpu"] for r in rounds), max(r["ratio_cpu"] for r in rounds)],
                "ratio_per_instance_median": statistics.median(v for r in rounds for v in r["ratio_per_instance"])})
    print(f"|   alibi {row['alibi_version']} (TF {row['tensorflow_version']}), first {len(Xa)}, {len(rounds)} round(s) | "
          f"{method} | alibi's defaults | {len(Xa)} | {row['alibi_valid']} | {row['alibi_s_mean'] * 1e3:.1f} (mean) | "
          f"cfx default on them: {row['cfx_ms_on_alibi_instances']:.3f} wall, {row['cfx_cpu_ms_on_alibi_instances']:.3f} CPU | "
          f"ratio {row['ratio_wall']:.0f}x (wall), {row['ratio_cpu']:.0f}x (cfx CPU; rounds "
          f"{row['ratio_cpu_range'][0]:.0f}-{row['ratio_cpu_range'][1]:.0f}x; per instance, median "
          f"{row['ratio_per_instance_median']:.0f}x) | alibi CPU {row['alibi_cpu_s_mean'] * 1e3:.1f} ms: "
          f"{row['ratio_cpu_both']:.0f}x (CPU / CPU) | |", flush=True)


def one_pass(explainer, X):
    cfs = []
    start, cpu = time.perf_counter(), time.thread_time()
    for i in range(len(X)):
        cfs.append(explainer.explain(X[i]))
    seconds, cpu = time.perf_counter() - start, time.thread_time() - cpu
    digest = hashlib.sha256()
    for e in cfs:
        digest.update(np.asarray(e.cf["X"] if e.cf is not None else [np.nan]).tobytes())
    valid = sum(e.cf is not None for e in cfs)
    return seconds / len(X), digest.hexdigest()[:16], valid, cpu / len(X)


def add_arguments(ap) -> None:
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--datasets", default="iris,breast_cancer,digits")
    ap.add_argument("--methods", default="wachter,cfproto")
    ap.add_argument("--json")
    ap.add_argument("--alibi-n", type=int, default=0, help="instances for alibi (0: no alibi)")
    ap.add_argument("--alibi-rounds", type=int, default=1, help="alibi and cfx alternate this many times")
    ap.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="cfx's network type")
    ap.add_argument("--isa", choices=("native", *kernel_sets.FORCED), default="native",
                    help="force every library's kernels for this instruction set (default: the processor's own)")


def interleaved_passes(ex, jobs, X, repeats):
    """{(configuration, method): one_pass results}: every job's passes taken in turn, repeat by repeat,
    so that a drift in the machine's speed (a shared host's moves by up to a third within minutes)
    reaches every configuration alike and their ratios stay fair."""
    for label, method in jobs:
        one_pass(ex[label][method], X[:2])  # warm-up
    runs = {job: [] for job in jobs}
    for _ in range(repeats):
        for label, method in jobs:
            runs[label, method].append(one_pass(ex[label][method], X))
    return runs


def table_row(name, m, acc, dtype, label, method, runs, explainer, X, kernels):
    """One configuration's JSON row from its passes."""
    times, cpu = [r[0] * 1e3 for r in runs], [r[3] * 1e3 for r in runs]
    arch = "-".join(str(s) for s in (X.shape[1],) + ARCHS[name] + (m.n_classes,))
    return {"model": name, "arch": arch, "dtype": dtype, "accuracy": acc, "method": method,
            "config": label, "params": CONFIGS[label][0], "n": len(X), "valid": runs[0][2],
            "ms_median": statistics.median(times), "ms_all": times,
            "cpu_ms_median": statistics.median(cpu), "cpu_ms_all": cpu,
            "json_kb_mean": json_kb(explainer, X), "digest": sorted({r[1] for r in runs}), "kernels": kernels}


def main(args) -> int:
    if args.alibi_n > 0 and not os.path.exists(os.path.join(VENV, "bin", "python")):
        print(f"--alibi-n {args.alibi_n}: no alibi venv at {VENV} (bash benchmarks/external/setup_alibi.sh, "
              "or set ALIBI_VENV)", file=sys.stderr)
        return 2
    kernels = kernel_sets.kernels()
    print(f"kernels: {kernel_sets.describe(kernels)}", flush=True)
    warnings.simplefilter("ignore", cfx.FeatureRangeWarning if hasattr(cfx, "FeatureRangeWarning") else UserWarning)
    results = []
    print(f"load average {load_average()}", flush=True)
    print("| model | method | configuration | N | valid | ms / cf (median) | min | max | thread CPU ms / cf (median) "
          "| KB JSON / cf | digest |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name in args.datasets.split(","):
        m, X_train, X_test, acc = model(name)
        net = m if args.dtype == "float64" else m.astype(args.dtype)
        X = X_test[:args.n]
        ex = {label: explainers(net, X_train, extra) for label, (extra, _) in CONFIGS.items()}
        jobs = [(label, method) for label, (_, methods) in CONFIGS.items()
                for method in args.methods.split(",") if method in methods]
        runs = interleaved_passes(ex, jobs, X, args.repeats)
        for label, method in jobs:
            row = table_row(name, m, acc, args.dtype, label, method, runs[label, method], ex[label][method], X, kernels)
            if label == "default" and args.alibi_n > 0:
                compare_with_alibi(row, ex[label][method], name, method, m, X_train, X[:args.alibi_n], args)
            results.append(row)
            print(f"| {name} ({ARCHS[name]}, acc {acc:.3f}, {args.dtype}) | {method} | {label} | {len(X)} | {row['valid']} | "
                  f"{row['ms_median']:.3f} | {min(row['ms_all']):.3f} | {max(row['ms_all']):.3f} | {row['cpu_ms_median']:.3f} | "
                  f"{row['json_kb_mean']:.1f} | {','.join(row['digest'])} |", flush=True)
    print_ratios(results)
    print(f"load average {load_average()}", flush=True)
    if args.json:
        write_json(args.json, results)
    return 0


def print_ratios(results):
    """Each configuration's median time over the tuned one's (same model, method and run)."""
    tuned = {(r["model"], r["method"]): r for r in results if r["config"] == TUNED}
    print("\n| model | method | configuration | wall / tuned | thread CPU / tuned | same counterfactuals |")
    print("|---|---|---|---:|---:|---|")
    for r in results:
        base = tuned.get((r["model"], r["method"]))
        if base is None or r is base:
            continue
        r["ratio_to_tuned_wall"] = r["ms_median"] / base["ms_median"]
        r["ratio_to_tuned_cpu"] = r["cpu_ms_median"] / base["cpu_ms_median"]
        print(f"| {r['model']} | {r['method']} | {r['config']} | {r['ratio_to_tuned_wall']:.2f} | "
              f"{r['ratio_to_tuned_cpu']:.2f} | {'yes' if r['digest'] == base['digest'] else 'NO'} |")

