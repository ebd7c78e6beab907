#!/usr/bin/env python3
"""Two builds of libcfx timed against each other on a busy machine: child processes alternate
(A, B, A, B, ...), so that load that comes and goes hits both alike, and the medians' ratio is what
to read; each workload is also timed in the process's CPU seconds, which time the child spends
waiting for a core does not add to. Workloads (float32): a Wachter and a CFProto search step on
the Fashion-MNIST CNN (one thread; µs per gradient evaluation over three test images, as
torch_side_by_side.py times them; CFProto with k-d tree prototypes of 1000 training images) and a forward +
input gradient (`Model.vjp`, batch 1, two threads) of the DeDUCE ResNet-18 (random weights, as
profile_resnet.sh builds it; needs torch).

    python3 benchmarks/networks/ab_steps.py A/libcfx.so B/libcfx.so [--rounds 7] [--isa avx2]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORCED_AVX2 = {"CFX_ISA": "avx2", "OPENBLAS_CORETYPE": "Haswell", "ONEDNN_MAX_CPU_ISA": "AVX2"}

CHILD = r'''
import json, statistics, sys, time
sys.path[:0] = [sys.argv[1] + "/benchmarks", sys.argv[1] + "/bindings/python"]
import numpy as np, cfx
from cfxbench.datasets import REFERENCE_MODELS, fashion_mnist_split
X = fashion_mnist_split("test")[0][:3]
m = cfx.Model.load(REFERENCE_MODELS / "fashion_cnn.json").astype("float32", threads=1)
w = cfx.Wachter(m, target_class="other", n_threads=1)
w.explain(X[0])
cpu = time.process_time()
metas = [w.explain(x).meta for x in X]
cpu = time.process_time() - cpu
out = {"cnn_step_us": 1e6 * statistics.median(e["seconds"] / e["gradient_evaluations"] for e in metas),
       "cnn_step_cpu_us": 1e6 * cpu / sum(e["gradient_evaluations"] for e in metas)}
x_fit = fashion_mnist_split("train")[0][:1000]
p = cfx.CFProto(m, use_kdtree=True, theta=10.0, feature_range=(0.0, 1.0), n_threads=1).fit(x_fit)
p.explain(X[0])
cpu = time.process_time()
metas = [p.explain(x).meta for x in X]
cpu = time.process_time() - cpu
out["cfproto_step_us"] = 1e6 * statistics.median(e["seconds"] / e["gradient_evaluations"] for e in metas)
out["cfproto_step_cpu_us"] = 1e6 * cpu / sum(e["gradient_evaluations"] for e in metas)
if sys.argv[2]:
    r = cfx.Model.load(sys.argv[2]).astype("float32", threads=2)
    x, c = np.random.default_rng(0).random((1, 784)), np.random.default_rng(1).normal(size=(1, 10))
    for _ in range(3): r.vjp(x, c)
    times, cpu = [], time.process_time()
    for i in range(30):
        start = time.perf_counter()
        r.vjp(x + 1e-4 * (i + 1), c)
        times.append(time.perf_counter() - start)
    out["resnet_vjp_2threads_ms"] = 1e3 * statistics.median(times)
    out["resnet_vjp_2threads_cpu_ms"] = 1e3 * (time.process_time() - cpu) / 30
out["isa"] = cfx.runtime_info()["isa"]
print(json.dumps(out))
'''


def resnet_spec(workdir: Path) -> str:
    """The DeDUCE ResNet-18 exported by torch_side_by_side.resnet_pair (2 power iterations)."""
    sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT / "bindings" / "python")]
    import numpy as np
    from cfxbench import torch_side_by_side as t
    x = np.random.default_rng(0).random((256, 784)).astype(np.float32)
    t.resnet_pair(x, workdir, sn_iterations=2)
    return str(workdir / "resnet18.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="libcfx.so of build A")
    parser.add_argument("b", help="libcfx.so of build B")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--isa", choices=("native", "avx2"), default="native")
    parser.add_argument("--no-resnet", action="store_true")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    if args.isa == "avx2":
        env.update(FORCED_AVX2)
    with tempfile.TemporaryDirectory() as tmp:
        spec = "" if args.no_resnet else resnet_spec(Path(tmp))
        runs = {"a": [], "b": []}
        loads = [os.getloadavg()[0]]
        for _ in range(args.rounds):
            for key in ("a", "b"):
                child = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), spec], check=True, capture_output=True,
                                       text=True, env={**env, "CFX_LIBRARY": getattr(args, key)})
                runs[key].append(json.loads(child.stdout.strip().splitlines()[-1]))
            loads.append(os.getloadavg()[0])
    report = {"isa": runs["a"][0]["isa"], "rounds": args.rounds, "load_1min": [round(x, 2) for x in loads]}
    for metric in [k for k in runs["a"][0] if k != "isa"]:
        a = statistics.median(r[metric] for r in runs["a"])
        b = statistics.median(r[metric] for r in runs["b"])
        report[metric] = {"a": round(a, 2), "b": round(b, 2), "b_over_a": round(b / a, 3)}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
