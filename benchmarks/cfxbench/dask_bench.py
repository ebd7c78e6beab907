"""cfx.dask benchmark: single process (one thread) vs a LocalCluster of 2 worker processes x 1
thread, on iris and breast-cancer rows (the test fixtures' MLPs), Wachter and CFProto.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/harness.py dask [--scale 0.02]
        [--only iris:wachter,breast_cancer:wachter] [--rows 1000000,100000] [--repeat 3]

The issue's full sizes are the default (--scale 1); --rows gives each selected case its row
count instead (in the order of CASES, cycling). --repeat N runs the cases N times, interleaved
(case 1, case 2, ..., case 1, ...), and the report gives each run and the medians.

Rows are the fixture's test and training rows repeated with a small deterministic jitter, so
that every row is a distinct search. Both sides explain the same rows in the same chunks (the
default partition size, cfx.dask.DEFAULT_PARTITION_ROWS): the single process runs the chunks one
after the other through cfx.Explainer with n_threads 1; the cluster runs cfx.dask.explain. Both
runs happen in this process's session, back to back, so that their ratio sees the same machine.

Measured: throughput (rows/s), per-row cost, the cluster/single ratio, peak RSS per worker,
Dask's overhead per partition ((workers x wall - sum of task compute) / partitions, relative to
the mean task compute; includes the idle tail) and each task's own compute vs the single-process
chunk time. Writes results.json and results.md to benchmarks/results/dask/ (again after every run,
so that an interrupted long run keeps the runs it finished).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import resource
import time

import numpy as np

import cfx
import cfx.dask
import distributed

from . import RESULTS, ROOT, env

HERE = str(RESULTS / "dask")            # the results
FIXTURES = os.path.join(ROOT, "Tests", "fixtures")

# (data set, method, full row count of the issue)
CASES = [("iris", "wachter", 1_000_000), ("iris", "cfproto", 1_000_000),
         ("breast_cancer", "wachter", 100_000), ("breast_cancer", "cfproto", 100_000)]


def load(name):
    with open(os.path.join(FIXTURES, f"{name}_mlp.json")) as f:
        data = json.load(f)
    x_train = np.array(data["x_train"])
    return cfx.Model.from_json(data["model"]), np.vstack([data["x_test"], x_train]), x_train, np.array(data["y_train"], float)


def rows(base, n):
    reps = -(-n // len(base))
    jitter = np.random.default_rng(0).normal(0, 0.05, size=(reps * len(base), base.shape[1]))
    return np.ascontiguousarray((np.tile(base, (reps, 1)) + jitter)[:n])


def config(method):
    return {"method": method, "use_kdtree": True} if method == "cfproto" else {"method": method}


def single(model, cfg, X, fit, chunk):
    started = time.perf_counter()  # building and fitting count on both sides
    explainer = cfx.Explainer(model, {**cfx.dask.explain_defaults(cfg), **cfg})
    explainer.fit(*fit)
    chunks, found = [], 0
    for i in range(0, len(X), chunk):
        t = time.perf_counter()
        exps = explainer.explain_raw(X[i:i + chunk])["explanations"]
        chunks.append(time.perf_counter() - t)
        found += sum(bool(e["success"]) for e in exps)
    return time.perf_counter() - started, chunks, found


def cluster_run(client, model, cfg, X, fit, partition_rows):
    client.run(lambda: cfx.dask._CACHE.clear())
    client.get_task_stream()  # clears nothing; the stream is read with a start time below
    start = time.time()
    started = time.perf_counter()
    df = cfx.dask.explain(model, cfg, X, fit=fit, partition_rows=partition_rows).compute()
    wall = time.perf_counter() - started
    stream = client.get_task_stream(start=start)
    tasks = [t for t in stream if "explain_partition" in str(t["key"])]
    compute = [sum(s["stop"] - s["start"] for s in t["startstops"] if s["action"] == "compute") for t in tasks]
    return wall, compute, int(df["success"].sum()), len(df), df.index.is_unique


def peak_rss_mb(client):
    return {w: r / 1024 for w, r in client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss).items()}


def write_markdown(data, name="results"):
    """NAME.md: the table, the targets and the projection, from NAME.json."""
    meta, results = data["meta"], data["results"]
    lines = [
        "| data | method | rows (issue) | partitions | per-row cost, 1 thread | single rows/s | cluster 2x1 rows/s | ratio | "
        "Dask overhead / partition | task compute vs single chunk | peak RSS per worker | rows found (single / cluster) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        rss = max(r["peak_rss_worker_mb"].values())
        lines.append(
            f"| {r['data']} | {r['method']} | {r['rows']:,} ({r['issue_rows']:,}) | {r['partitions']} x {r['partition_rows']} | "
            f"{r['per_row_ms']:.2f} ms | {r['single_rows_per_s']:.0f} | {r['cluster_rows_per_s']:.0f} | **{r['ratio']:.2f}x** | "
            f"{r['overhead_per_partition_s'] * 1000:.0f} ms = {r['overhead_pct']:.1f}% of {r['mean_task_compute_s']:.2f} s | "
            f"{100 * (r['mean_task_compute_s'] / r['mean_single_chunk_s'] - 1):+.0f}% | "
            f"{rss:.0f} MB | {r['found_single']} / {r['found_cluster']} |")
    cases = {}
    for r in results:
        cases.setdefault((r["data"], r["method"], r["rows"]), []).append(r)
    if any(len(runs) > 1 for runs in cases.values()):
        lines += ["", "Medians over the runs of each case:", "",
                  "| data | method | rows | runs | per-row cost, 1 thread | ratio (each run) | Dask overhead / partition | "
                  "task compute vs single chunk |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for (data, method, rows_run), runs in cases.items():
            med = lambda key: float(np.median([r[key] for r in runs]))  # noqa: E731
            slow = float(np.median([r["mean_task_compute_s"] / r["mean_single_chunk_s"] - 1 for r in runs]))
            each = ", ".join(f"{r['ratio']:.2f}" for r in runs)
            lines.append(f"| {data} | {method} | {rows_run:,} | {len(runs)} | {med('per_row_ms'):.2f} ms | "
                         f"**{med('ratio'):.2f}x** ({each}) | {med('overhead_pct'):.1f}% | {100 * slow:+.0f}% |")
    lines += ["", "Projection from the measured per-row cost c (one thread) and the measured 2-worker efficiency "
              "e = ratio / 2: rows per hour on N workers of one thread = N x e x 3600 / c.", "",
              "| data | method | c | e | rows/hour, 1 worker | 2 workers | 16 workers | 64 workers | issue's rows on 2 workers | on 64 workers |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        c, e = r["per_row_ms"] / 1000, min(1.0, r["ratio"] / 2)
        per_hour = lambda n: n * e * 3600 / c  # noqa: E731
        lines.append(f"| {r['data']} | {r['method']} | {r['per_row_ms']:.2f} ms | {e:.2f} | {3600 / c:,.0f} | {per_hour(2):,.0f} | "
                     f"{per_hour(16):,.0f} | {per_hour(64):,.0f} | {r['issue_rows'] / per_hour(2):.2f} h | "
                     f"{r['issue_rows'] / per_hour(64) * 60:.1f} min |")
    lines += ["", f"Date: {meta['date']}. Commit: {meta['commit']}. Dask/distributed {meta['dask']}.",
              f"Machine: {meta['machine']}.", f"Command: `{meta['command']}` "
              f"(OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset in the benchmark command: {meta['openblas_env_unset']}).",
              f"Single-process peak RSS (the benchmark process, all cases): {meta['single_process_peak_rss_mb']:.0f} MB."]
    with open(os.path.join(HERE, f"{name}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def run_meta(args, started_load) -> dict:
    """Date, command, machine and commit of this run."""
    options = {"--rows": args.rows, "--only": args.only, "--repeat": args.repeat if args.repeat > 1 else "",
               "--partition-rows": args.partition_rows if args.partition_rows != cfx.dask.DEFAULT_PARTITION_ROWS else "",
               "--name": args.name if args.name != "results" else ""}
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/harness.py dask"
                   + ("" if args.rows else f" --scale {args.scale}")
                   + "".join(f" {k} {v}" for k, v in options.items() if v),
        "openblas_env_unset": "OPENBLAS_CORETYPE" not in os.environ and "OPENBLAS_L2_SIZE" not in os.environ,
        "machine": f"{platform.node()}: {os.cpu_count()} cores, {env.cpu_model()}, "
                   f"load average at the start {started_load}, at the end {os.getloadavg()}",
        # dirty: tracked files other than these results had uncommitted changes
        "commit": env.commit() + ("-dirty" if env.dirty((".", ":!benchmarks/results/dask")) else ""),
        "single_process_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "dask": distributed.__version__,
        "partition_rows": args.partition_rows,
    }


def save(args, started_load, results):
    data = {"meta": run_meta(args, started_load), "results": results}
    with open(os.path.join(HERE, f"{args.name}.json"), "w") as f:
        json.dump(data, f, indent=1)
    write_markdown(data, args.name)
    return data


def add_arguments(parser) -> None:
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's row counts (default: all)")
    parser.add_argument("--rows", type=str, default="", help="explicit rows per selected case, e.g. 20000,5000,5000,3000")
    parser.add_argument("--report", action="store_true", help="only rewrite NAME.md from NAME.json")
    parser.add_argument("--only", type=str, default="", help="cases, e.g. iris:wachter or iris:wachter,breast_cancer:wachter")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each case, interleaved (the report gives medians)")
    parser.add_argument("--partition-rows", type=int, default=cfx.dask.DEFAULT_PARTITION_ROWS,
                        help="rows per partition (and per single-process chunk); default cfx.dask.DEFAULT_PARTITION_ROWS")
    parser.add_argument("--name", type=str, default="results", help="results file name (NAME.json, NAME.md)")


def main(args) -> int:
    if args.report:
        with open(os.path.join(HERE, f"{args.name}.json")) as f:
            write_markdown(json.load(f), args.name)
        return 0
    explicit = [int(r) for r in args.rows.split(",")] if args.rows else None
    only = [c for c in args.only.split(",") if c]
    unknown = set(only) - {f"{c[0]}:{c[1]}" for c in CASES}
    if unknown:
        raise SystemExit(f"--only: unknown case(s) {sorted(unknown)}; the cases are " + ", ".join(f"{c[0]}:{c[1]}" for c in CASES))
    selected = [c for c in CASES if not only or f"{c[0]}:{c[1]}" in only]
    row_counts = [explicit[i % len(explicit)] if explicit else max(1, int(full * args.scale))
                  for i, (_, _, full) in enumerate(selected)]
    runs = list(zip(selected, row_counts)) * args.repeat
    started_load = os.getloadavg()
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = distributed.Client(cluster)
    # Warm-up: both workers import cfx and load libcfx before anything is timed.
    model, base, _, _ = load("iris")
    cfx.dask.explain(model, {"method": "wachter", "max_iter": 10}, base[:8], partition_rows=1).compute()
    results = []
    try:
        for (data, method, full), n in runs:
            model, base, x_train, y_train = load(data)
            X = rows(base, n)
            cfg = config(method)
            fit = (x_train, y_train)
            chunk = args.partition_rows
            s_wall, s_chunks, s_found = single(model, cfg, X, fit, chunk)
            c_wall, c_compute, c_found, c_rows, unique = cluster_run(client, model, cfg, X, fit, chunk)
            partitions = len(c_compute)
            overhead = (2 * c_wall - sum(c_compute)) / max(partitions, 1)
            r = {
                "data": data, "method": method, "rows": n, "issue_rows": full, "partition_rows": chunk,
                "partitions": partitions,
                "single_seconds": s_wall, "single_rows_per_s": n / s_wall, "per_row_ms": 1000 * s_wall / n,
                "cluster_seconds": c_wall, "cluster_rows_per_s": n / c_wall,
                "ratio": s_wall / c_wall,
                "mean_task_compute_s": float(np.mean(c_compute)), "mean_single_chunk_s": float(np.mean(s_chunks)),
                "overhead_per_partition_s": overhead,
                "overhead_pct": 100 * overhead / float(np.mean(c_compute)),
                "found_single": s_found, "found_cluster": c_found, "cluster_rows": c_rows, "index_unique": bool(unique),
                "projected_issue_rows_single_h": full * s_wall / n / 3600,
                "projected_issue_rows_cluster_h": full * c_wall / n / 3600,
                "load_average_after": os.getloadavg(),
            }
            r["peak_rss_worker_mb"] = peak_rss_mb(client)
            print(json.dumps(r), flush=True)
            results.append(r)
            save(args, started_load, results)  # after every run: a long run interrupted keeps what it finished
    finally:
        client.close()
        cluster.close()
    print(json.dumps(save(args, started_load, results)["meta"]))
    return 0
