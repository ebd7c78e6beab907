#!/usr/bin/env python3
"""cfx's Wachter / CFProto on the fashion_mnist suite's first 3 instances (alibi's), in one process
so that float32 and float64 and 1 and 2 threads see the same load; checks that 2 threads give the
same counterfactuals as 1 (results/fashion_mnist/float32_vs_float64.md).

    CFX_LIBRARY=$PWD/.build/release/libcfx.so PYTHONPATH=$PWD/bindings/python \
        python3 benchmarks/fmnist_dtype_threads.py wachter,cfproto 1,2 float32,float64
"""
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import numpy as np  # noqa: E402

import cfx  # noqa: E402
from cfxbench import datasets  # noqa: E402
from cfxbench.suite import instances  # noqa: E402
from cfxbench.methods import METHODS  # noqa: E402

ds = datasets.load("fashion_mnist")
X = ds.X_test[instances(ds, 10, 0)][:3]
which = sys.argv[1].split(",")
threads = [int(t) for t in sys.argv[2].split(",")]
m64 = cfx.Model.from_json(ds.spec)
for dtype in sys.argv[3].split(","):
    m = m64 if dtype == "float64" else m64.astype(dtype)
    for key in which:
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
