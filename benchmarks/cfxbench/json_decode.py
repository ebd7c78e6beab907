"""What reading an explanation costs in Python: cfx_explain's JSON for one digits row (the
64-64-64-10 MLP of the mlp-speed subcommand, Wachter, one row per call) decoded by the standard
library's json (from str, as before, and from bytes), by orjson, and the floor of a binary side
channel: the same candidates handed over as raw doubles (np.frombuffer) and made into the same
dicts with numpy arrays, without any text. For each configuration of "all" (the default, each
round's closest candidate; "every" step, alibi's list; none, return_all false): the median over
REPEATS passes of the mean microseconds per explanation, next to the search's own time.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/harness.py json-decode [--n 20] [--repeats 7]
"""
import json
import statistics
import time

import numpy as np

import cfx

from . import mlp_speed
from .env import load_average

try:
    import orjson
except ImportError:
    orjson = None

CONFIGS = {"default (closest per round)": {}, "all_candidates=every": {"all_candidates": "every"},
           "return_all=False": {"return_all": False}}


def side_channel(explanations):
    """The binary floor: each candidate's numbers as raw doubles, back to the same dicts."""
    blobs = []
    for e in explanations:
        for rnd in e["all"]:
            for c in rnd:
                blobs.append((np.asarray(c["X"] + c["proba"]).tobytes(), len(c["X"]),
                              {k: v for k, v in c.items() if k not in ("X", "proba")}))

    def decode():
        out = []
        for raw, d, scalars in blobs:
            values = np.frombuffer(raw, dtype=np.float64)
            out.append({"X": values[:d], "proba": values[d:], **scalars})
        return out
    return decode


def timed(fn, passes):
    times = []
    for _ in range(passes):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def add_arguments(ap) -> None:
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=7)


def main(args) -> int:
    m, X_train, X_test, _ = mlp_speed.model("digits")
    rng = [X_train.min(axis=0).tolist(), X_train.max(axis=0).tolist()]
    X = X_test[:args.n]
    print(f"load average {load_average()}; orjson {orjson.__version__ if orjson else 'not installed'}")
    print("| \"all\" | KB JSON / explanation | search ms | json.loads(str) µs | json.loads(bytes) µs | orjson.loads µs "
          "| side-channel floor µs |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, extra in CONFIGS.items():
        ex = cfx.Wachter(m, feature_range=rng, n_threads=1, **extra)
        texts = [ex.explain_bytes(x) for x in X]
        strs = [t.decode() for t in texts]
        parsed = [json.loads(t)["explanations"] for t in texts]
        search = statistics.mean(e[0]["meta"]["seconds"] for e in parsed) * 1e3
        per = 1e6 / len(texts)
        row = [timed(lambda: [json.loads(s) for s in strs], args.repeats) * per,
               timed(lambda: [json.loads(t) for t in texts], args.repeats) * per,
               timed(lambda: [orjson.loads(t) for t in texts], args.repeats) * per if orjson else float("nan")]
        decoders = [side_channel(e) for e in parsed]
        row.append(timed(lambda: [d() for d in decoders], args.repeats) * per)
        kb = statistics.mean(len(t) for t in texts) / 1e3
        print(f"| {label} | {kb:.1f} | {search:.2f} | " + " | ".join(f"{v:.0f}" for v in row) + " |", flush=True)
    return 0
