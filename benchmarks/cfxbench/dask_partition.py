"""Where a cfx.dask partition's time goes, measured inside the workers of a LocalCluster (2 worker
processes x 1 thread, both busy at once, as in the dask subcommand), and what Dask adds around it.

    python3 benchmarks/harness.py dask-partition [--rows 1000] [--partitions 3] [--method wachter]

In each worker, the same iris rows go through explain_partition's steps, timed one by one:
  searches        the sum of the rows' own search times (the explanations' meta.seconds)
  cfx outside     the rest of the cfx_explain call: writing the JSON, starting and joining the
                  search thread, the progress callbacks
  decode          the JSON text to Python objects (cfx's decoder: orjson when installed)
  frame           the pandas frame of the partition
                  (both with the cycle collector paused, as explain_partition does; --gc-on: not)
  pickle          the frame pickled (what a worker sends back)
and the calling thread's CPU time: it watches while a thread of cfx searches (and calls the
progress callback: CPU that the other worker's search loses on 2 cores), then writes the JSON. Then the client and scheduler
side: a cluster run of cfx.dask.explain on 2 x partitions x rows iris rows, whose
(2 x wall - sum of task compute) / partitions is Dask's overhead per partition (as the dask subcommand).
Short: about (4 x partitions x rows) x 0.8 ms of wall time.
"""

from __future__ import annotations

import json
import pickle
import time

import numpy as np

import distributed


def steps(rows: int, partitions: int, method: str, offset: int, pause_gc: bool) -> dict:
    """Runs in a worker: explain_partition's steps on `partitions` chunks of `rows` iris rows."""
    import gc
    import pandas as pd
    from cfxbench import dask_bench as bench   # the workers are started with this process's sys.path
    import cfx
    import cfx.dask
    model, base, x_train, y_train = bench.load("iris")
    cfg = bench.config(method)
    job = cfx.dask.make_job(model, cfg, (x_train, y_train), cfx.dask.explain_defaults(cfg))
    explainer = cfx.dask.cached(job, cfx.dask._build_explainer)
    X = bench.rows(base, offset + rows * partitions)[offset:]
    totals: dict = {}

    def add(key, value):
        totals[key] = totals.get(key, 0.0) + value

    for p in range(partitions):
        x = np.ascontiguousarray(X[p * rows:(p + 1) * rows])
        cpu0, t0 = time.thread_time(), time.perf_counter()
        text = explainer.explain_bytes(x, progress=cfx.dask._stop_when_cancelled)
        t1, cpu1 = time.perf_counter(), time.thread_time()
        enabled = gc.isenabled()
        if pause_gc:
            gc.disable()
        t2 = time.perf_counter()
        explanations = cfx._json.loads(text)["explanations"]
        t3 = time.perf_counter()
        frame = cfx.dask._frame(explanations, x, pd.RangeIndex(0, len(x)), x.shape[1], False)
        t4 = time.perf_counter()
        del explanations
        if enabled:
            gc.enable()
        blob = pickle.dumps(frame, protocol=5)
        t5 = time.perf_counter()
        searches = float(frame["seconds"].sum())
        add("searches", searches)
        add("cfx outside", (t1 - t0) - searches)
        add("decode", t3 - t2)
        add("frame", t4 - t3)
        add("pickle", t5 - t4)
        add("calling thread CPU", cpu1 - cpu0)
        add("bytes sent", len(blob))
    return {k: v / partitions for k, v in totals.items()}


def add_arguments(parser) -> None:
    parser.add_argument("--rows", type=int, default=1000, help="rows per partition")
    parser.add_argument("--partitions", type=int, default=3, help="partitions per worker for the step timings")
    parser.add_argument("--method", default="wachter")
    parser.add_argument("--gc-on", action="store_true", help="keep the cycle collector on while decoding (as before)")


def main(args) -> int:
    import cfx
    import cfx.dask
    from . import dask_bench as bench
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                       silence_logs=40)
    client = distributed.Client(cluster)
    try:
        workers = list(client.scheduler_info()["workers"])
        futures = [client.submit(steps, args.rows, args.partitions, args.method, i * args.rows * args.partitions,
                                 not args.gc_on, workers=[w], pure=False) for i, w in enumerate(workers)]
        per_worker = client.gather(futures)
        keys = list(per_worker[0])
        mean = {k: float(np.mean([w[k] for w in per_worker])) for k in keys}
        compute = mean["searches"]
        print(f"{args.method}, partitions of {args.rows} iris rows, in 2 busy workers (mean of {2 * args.partitions} partitions):")
        for k in keys:
            if k == "bytes sent":
                print(f"  {k:22s} {mean[k] / 1e3:8.0f} kB")
            else:
                print(f"  {k:22s} {1000 * mean[k]:8.1f} ms  {100 * mean[k] / compute:5.2f}% of the searches")
        # The client and scheduler side: a real run of cfx.dask.explain, as the dask subcommand measures it.
        model, base, x_train, y_train = bench.load("iris")
        n = 2 * args.partitions * args.rows
        X = bench.rows(base, n)
        cfg = bench.config(args.method)
        client.run(lambda: cfx.dask._CACHE.clear())
        client.get_task_stream()  # starts recording the task stream
        start = time.time()
        t0 = time.perf_counter()
        df = cfx.dask.explain(model, cfg, X, fit=(x_train, y_train), partition_rows=args.rows).compute()
        wall = time.perf_counter() - t0
        tasks = [t for t in client.get_task_stream(start=start) if "explain_partition" in str(t["key"])]
        task_compute = [sum(s["stop"] - s["start"] for s in t["startstops"] if s["action"] == "compute") for t in tasks]
        overhead = (2 * wall - sum(task_compute)) / len(tasks)
        print(f"cluster run, {n} rows in {len(tasks)} partitions: wall {wall:.2f} s, mean task compute "
              f"{np.mean(task_compute):.3f} s, Dask overhead per partition {1000 * overhead:.0f} ms = "
              f"{100 * overhead / np.mean(task_compute):.1f}% (includes building the explainer, the idle tail "
              f"and the client's concatenation); {len(df)} rows back")
        print(json.dumps({"steps": mean, "cluster": {"wall": wall, "task_compute": task_compute, "rows": n}}))
    finally:
        client.close()
        cluster.close()
    return 0
