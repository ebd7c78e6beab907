"""Scaling: seconds for 1, 10, 100 and 1000 instances on 1 and 2 threads, and peak RSS, for every
cfx method on the iris MLP. Each (method, n, threads) runs in a fresh Python process, so that its
peak RSS (getrusage ru_maxrss) is its own: the process loads numpy, cfx and the model, measures
its RSS, then explains the batch REPEATS times (the median is reported).

The 1000 instances: the 150 iris rows (training and test, standardised) repeated, with seeded
Gaussian noise (sd 0.1) on every copy after the first, so no two rows are the same.
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

import numpy as np

from .datasets import ROOT
from .env import load_average, markdown
from .results import write_json

SIZES = (1, 10, 100, 1000)
THREADS = (1, 2)
REPEATS = 3   # at most; a size whose first call takes over a second is measured once


def rows(n: int) -> np.ndarray:
    from . import datasets
    ds = datasets.load("iris")
    base = np.vstack([ds.X_test, ds.X_train])
    rng = np.random.default_rng(0)
    copies = [base] + [base + rng.normal(0, 0.1, base.shape) for _ in range(n // len(base) + 1)]
    return np.vstack(copies)[:n]


def rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def worker(method_key: str, n: int, threads: int) -> dict:
    import cfx
    from . import datasets
    from .methods import METHODS
    ds = datasets.load("iris")
    model = cfx.Model.from_json(ds.spec)
    X = rows(n)
    method = METHODS[method_key]
    explainer = method.explainer(model, ds, n_threads=threads, seed=0)
    rss_before = rss_kib()
    times, cpus, found = [], [], None
    while len(times) < REPEATS and (sum(times) < 1.0 or not times):
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        exps = explainer.explain(X)
        times.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        cpus.append((r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime))
        found = sum(e.cf is not None for e in exps)
    return {"method": method_key, "n": n, "threads": threads, "seconds": float(np.median(times)),
            "seconds_all": times, "cpu_over_wall": float(sum(cpus) / sum(times)), "found": found, "rss_before_kib": rss_before,
            "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def run(results_dir, out_dir, command: str, plots: bool = True, sizes=SIZES, threads=THREADS) -> dict:
    from .env import environment
    from .methods import METHODS
    results_dir.mkdir(parents=True, exist_ok=True)
    env = environment(command)
    from . import datasets
    iris = datasets.load("iris")
    points, notes = [], []
    for key, method in METHODS.items():
        if method.tuned:
            continue
        if not method.available():
            notes.append(f"{method.label}: not in this cfx build yet, skipped.")
            continue
        why = method.applies(iris)
        if why:
            notes.append(f"{method.label}: not run on iris: {why}.")
            continue
        for t in threads:
            for n in sizes:
                cmd = [sys.executable, str(ROOT / "benchmarks/harness.py"), "--scaling-worker", key, str(n), str(t)]
                p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
                if p.returncode != 0:
                    raise RuntimeError(f"scaling worker {key} n={n} threads={t} failed:\n{p.stderr}")
                pt = json.loads(p.stdout.strip().splitlines()[-1])
                print(f"  {key} n={n} threads={t}: {pt['seconds']:.4f} s, peak RSS {pt['peak_rss_kib'] / 1024:.1f} MiB",
                      file=sys.stderr, flush=True)
                points.append(pt)
    env["loadavg_at_end"] = load_average()
    data = {"suite": "scaling", "env": env, "sizes": list(sizes), "threads": list(threads), "repeats": REPEATS,
            "points": points, "notes": notes}
    write(data, results_dir, plots)
    return data


def rewrite(results_dir, plots: bool = True) -> dict:
    data = json.loads((results_dir / "scaling.json").read_text())
    write(data, results_dir, plots)
    return data


def write(data, results_dir, plots: bool = True) -> None:
    env, points, notes = data["env"], data["points"], data["notes"]
    sizes, threads = data["sizes"], data["threads"]
    md = ["# Benchmark suite `scaling`", ""]
    md.extend(markdown(env))
    md.append("")
    md.append("iris MLP (Tests/fixtures/iris_mlp.json), each method with its documented defaults and the training range "
              "as feature range. One `explain` batch call of n instances; seconds = median of "
              f"up to {REPEATS} calls (while they add up to under a second) in a fresh process; RSS from /proc/self/status before the calls and peak "
              "(getrusage ru_maxrss) after them, of the whole Python process (numpy, cfx, model). CPU / wall: the process's CPU time (user + "
              "system) over the wall time of the calls, the number of cores kept busy (up to the thread count).")
    md.append("")
    md.append("| method | threads | n | seconds | ms / instance | instances / s | CPU / wall | found | RSS before (MiB) | peak RSS (MiB) |")
    md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for p in points:
        md.append(f"| {p['method']} | {p['threads']} | {p['n']} | {p['seconds']:.4f} | {1e3 * p['seconds'] / p['n']:.3f} | "
                  f"{p['n'] / p['seconds']:,.0f} | {p.get('cpu_over_wall', float('nan')):.2f} | {p['found']}/{p['n']} | {p['rss_before_kib'] / 1024:.1f} | "
                  f"{p['peak_rss_kib'] / 1024:.1f} |")
    md.append("")
    for key in sorted({p["method"] for p in points}):
        by = {(p["threads"], p["n"]): p["seconds"] for p in points if p["method"] == key}
        n = max(sizes)
        if (1, n) in by and (max(threads), n) in by:
            md.append(f"- {key}: {n} instances on {max(threads)} threads take {by[(max(threads), n)] / by[(1, n)]:.2f}× "
                      f"the time of 1 thread (ideal {1 / max(threads):.2f}×).")
    busy = max((p.get("cpu_over_wall", 0) for p in points if p["threads"] > 1), default=0)
    md.append(f"- load average at start {' '.join(env['loadavg_at_start'] or [])}, at end "
              f"{' '.join(env['loadavg_at_end'])} on {env['cores']} cores"
              + (f"; CPU / wall on {max(threads)} threads reached only {busy:.2f}: other work on the machine left "
                 "this process about one core, so this run cannot show a multi-thread speed-up "
                 "(results/wachter_iris.md, measured on a quieter machine, shows 1.8× on 2 threads)."
                 if busy and busy < 1.2 else "."))
    md.extend([f"- {n}" for n in notes] + [""])
    if plots and points:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        for key in sorted({p["method"] for p in points}):
            for t in threads:
                pts = [p for p in points if p["method"] == key and p["threads"] == t]
                a1.plot([p["n"] for p in pts], [p["seconds"] for p in pts], "o-", label=f"{key}, {t} thread{'s' * (t > 1)}")
                a2.plot([p["n"] for p in pts], [p["peak_rss_kib"] / 1024 for p in pts], "o-",
                        label=f"{key}, {t} thread{'s' * (t > 1)}")
        a1.set(xscale="log", yscale="log", xlabel="instances", ylabel="seconds (batch)", title="cost")
        a2.set(xscale="log", xlabel="instances", ylabel="peak RSS (MiB)", title="memory")
        a1.legend()
        a2.legend()
        fig.tight_layout()
        fig.savefig(results_dir / "scaling.png", dpi=90)
        plt.close(fig)
        md.append("![scaling](scaling.png)")
        md.append("")
    (results_dir / "scaling.md").write_text("\n".join(md))
    write_json(results_dir / "scaling.json", data)
