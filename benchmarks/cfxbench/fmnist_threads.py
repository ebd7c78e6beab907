"""cfx's Wachter / CFProto on the fashion_mnist suite's first 3 instances (alibi's), in one process
so that float32 and float64 and 1 and 2 threads see the same load; checks that 2 threads give the
same counterfactuals as 1 (results/fashion_mnist/float32_vs_float64.md).

    python3 benchmarks/harness.py fmnist-threads wachter,cfproto 1,2 float32,float64
"""
import time

import numpy as np


def add_arguments(parser) -> None:
    parser.add_argument("methods", help="comma-separated harness methods, e.g. wachter,cfproto")
    parser.add_argument("threads", help="comma-separated thread counts, e.g. 1,2")
    parser.add_argument("dtypes", help="comma-separated network types, e.g. float32,float64")


def main(args) -> int:
    import cfx
    from . import datasets
    from .methods import METHODS
    from .suite import instances
    ds = datasets.load("fashion_mnist")
    X = ds.X_test[instances(ds, 10, 0)][:3]
    threads = [int(t) for t in args.threads.split(",")]
    m64 = cfx.Model.from_json(ds.spec)
    for dtype in args.dtypes.split(","):
        m = m64 if dtype == "float64" else m64.astype(dtype)
        for key in args.methods.split(","):
            ref = None
            for t in threads:
                ex = METHODS[key].explainer(m, ds, n_threads=t, seed=0)
                t0 = time.perf_counter()
                exps = ex.explain(X)
                w = time.perf_counter() - t0
                cf = np.stack([np.asarray(e.cf["X"]) for e in exps])
                same = "" if ref is None else f" identical to 1 thread: {np.array_equal(ref, cf)}"
                ref = cf if ref is None else ref
                print(f"{dtype} {key} n_threads {t}: {w / len(X) * 1e3:.1f} ms/cf{same}", flush=True)
    return 0
