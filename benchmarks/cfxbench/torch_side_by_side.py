"""cfx against PyTorch CPU, side by side in one process, on the same weights.

Networks: the DeDUCE ResNet-18 (DDU's ResNet-18 for 28×28×1 inputs: BasicBlocks [2, 2, 2, 2],
widths 64-128-256-512, strides 1-2-2-2, a 3×3 stem 1→64, batch norm, leaky ReLU 0.01, DDU's
average-pool + zero-channel shortcuts, spectral norm c = 4 on the convolutions, global average
pooling "features", dense → 10; random weights, seeded) and the harness's Fashion-MNIST CNN
(benchmarks/models/fashion_cnn.json, rebuilt in PyTorch with its weights).

Workloads: forward, and forward + input gradient (the vector-Jacobian product of the softmax
probabilities with one fixed random cotangent, the same in both libraries), batch 1 and 64, 1 and 2
threads (torch.set_num_threads; cfx Model.astype(dtype, threads=t)), cfx float32 and float64 against
PyTorch float32. Median of --repeat runs after warm-up, the three implementations interleaved run
by run; the ratio is cfx / torch in the same row. Then DeDUCE one (instance, target) pair at a time
on the ResNet-18: seconds per iteration (meta seconds / gradient evaluations) for n_threads 1 and 2,
float32 and float64, against PyTorch's forward + input gradient at batch 1 measured next to it.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 benchmarks/harness.py torch \
        [--quick] [--only resnet|cnn] [--repeat N] [--deduce-pairs P] [--deduce-max-iter K] [--out DIR] \
        [--isa avx2]

With --isa avx2 every library runs its AVX2 kernels on an AVX-512 processor (cfx's own, OpenBLAS,
oneDNN, PyTorch's ATen and MKL: benchmarks/cfxbench/isa.py), and the report is
networks_vs_torch_avx2.{md,json}. Every report names the kernels that ran and sets each network's
search step against its multiply-adds at one core's FMA peak (benchmarks/networks/fma_peak.c).

Writes
networks_vs_torch.md and .json to --out (default benchmarks/results; with --quick benchmarks/out,
since quick numbers are not for committing). Needs torch (CPU), numpy, a release build of libcfx
and Debian's dataset-fashion-mnist. Before the float32 engine lands (no Model.astype), cfx runs in
float64 on one thread only and the other columns say n/a.
"""

from __future__ import annotations

import copy
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from . import OUT, RESULTS, env
from . import isa as kernel_sets  # noqa: E402  (before any library loads: --isa starts again)

kernel_sets.force_from_arguments()
from .datasets import REFERENCE_MODELS, fashion_mnist_arrays as load_fashion_mnist  # noqa: E402
from .results import write_json

import cfx  # noqa: E402
import cfx.safetensors  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from cfx.export import from_torch, save_torch  # noqa: E402
from cfx.torch import ChannelPad, Residual  # noqa: E402

SEED = 0
THREADS = (1, 2)
BATCHES = (1, 64)
DTYPES = ("float32", "float64")
SN_COEFFICIENT = 4.0       # DDU's c for DeDUCE's model
SN_ITERATIONS = 20         # power-iteration steps for σ: σ within a few percent, in seconds
BN_CALIBRATION_IMAGES = 256


# ---- the networks ------------------------------------------------------------------------------

def ddu_resnet18() -> tuple[nn.Module, nn.Module]:
    """DDU's resnet18(mnist=True, mod=True) as a torch module built from cfx.export's Residual and
    ChannelPad (so that cfx.export.from_torch can export it), and its global-pool module (the
    "features" output). Random weights, seeded."""
    torch.manual_seed(SEED)

    def conv(c_in, c_out, stride):
        return nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)

    def block(c_in, c_out, stride, size):
        main = nn.Sequential(conv(c_in, c_out, stride), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.01),
                             conv(c_out, c_out, 1), nn.BatchNorm2d(c_out))
        shortcut = None
        if stride != 1 or c_in != c_out:
            # DDU's AvgPoolShortCut: stride × stride averages on even sizes, a strided pick (kernel 1)
            # on odd ones (7 → 4 in the last stage), then zero channels up to c_out.
            pool = nn.AvgPool2d(stride) if size % 2 == 0 else nn.AvgPool2d(1, stride)
            shortcut = nn.Sequential(pool, ChannelPad(c_out))
        return nn.Sequential(Residual(main, shortcut), nn.LeakyReLU(0.01))

    layers = [conv(1, 64, 1), nn.BatchNorm2d(64), nn.LeakyReLU(0.01)]
    c_in, size = 64, 28
    for width, stride in zip((64, 128, 256, 512), (1, 2, 2, 2)):
        for s in (stride, 1):
            layers.append(block(c_in, width, s, size))
            c_in, size = width, math.ceil(size / s)
    pool = nn.AdaptiveAvgPool2d(1)       # DDU: avg_pool2d(out, 4) on the final 4×4 maps
    layers += [pool, nn.Flatten(), nn.Linear(512, 10), nn.Softmax(dim=1)]
    return nn.Sequential(*layers), pool


def spectral_normalise(module: nn.Module, input_shape, iterations: int, coefficient=SN_COEFFICIENT) -> None:
    """Divides every convolution's weight by DDU's factor max(1, σ/c) + 1e-5, σ the largest singular
    value of the convolution as an operator on its input, estimated by `iterations` steps of power
    iteration (DDU takes one step per training batch). At inference a spectrally normalised network
    computes with exactly this weight, in PyTorch as in cfx. (Batch norm follows every convolution
    and is calibrated afterwards, so the scale of these random weights hardly matters.)"""
    shapes = {}

    def record(conv, inputs, output) -> None:     # returns None: the output stays as it is
        shapes[conv] = inputs[0].shape[1:]

    hooks = [m.register_forward_hook(record) for m in module.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        module.eval()(torch.zeros((1,) + tuple(input_shape)))
    for h in hooks:
        h.remove()
    generator = torch.Generator().manual_seed(SEED)
    for conv, shape in shapes.items():
        w = conv.weight.detach()
        v = torch.randn((1,) + tuple(shape), generator=generator)
        for _ in range(iterations):
            v = (v / v.norm()).requires_grad_()
            u = nn.functional.conv2d(v, w, stride=conv.stride, padding=conv.padding)
            (v,) = torch.autograd.grad(u, v, u)        # Aᵀ A v
        sigma = math.sqrt(v.norm().item())               # ‖AᵀA v‖ → σ² for unit v
        with torch.no_grad():
            conv.weight /= max(1.0, sigma / coefficient) + 1e-5


def calibrate_batch_norm(module: nn.Module, images: np.ndarray) -> None:
    """Sets the batch-norm running statistics from training images (cumulative averages), so that
    the random network's activations have realistic scales; leaves the module in eval mode."""
    norms = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    module.train()
    with torch.no_grad():
        for start in range(0, len(images), 64):
            module(torch.from_numpy(images[start:start + 64]).view(-1, 1, 28, 28))
    for m in norms:
        m.momentum = 0.1
    module.eval()


def resnet_pair(x_calibrate: np.ndarray, workdir: Path, sn_iterations: int = SN_ITERATIONS):
    """The DeDUCE ResNet-18 in PyTorch and the same weights in cfx (exported with from_torch)."""
    module, pool = ddu_resnet18()
    spectral_normalise(module, (1, 28, 28), sn_iterations)
    calibrate_batch_norm(module, x_calibrate)
    spec_path = workdir / "resnet18.json"
    save_torch(module, [1, 28, 28], spec_path, workdir / "resnet18.safetensors", names={pool: "features"})
    return module, cfx.Model.load(spec_path)


def cnn_pair():
    """The harness's Fashion-MNIST CNN in cfx, and the same network rebuilt in PyTorch from its
    spec and weights (one torch module per cfx layer, so the tensor names line up)."""
    spec_path = REFERENCE_MODELS / "fashion_cnn.json"
    spec = json.loads(spec_path.read_text())
    tensors = cfx.safetensors.load_file(spec_path.parent / spec["weights"])
    channels, size = spec["input_shape"][0], spec["input_shape"][1]
    flat = None
    modules = []
    for layer in spec["layers"]:
        kind = layer["type"]
        if kind == "conv2d":
            modules.append(nn.Conv2d(channels, layer["out_channels"], layer["kernel_size"], layer["stride"],
                                     layer["padding"], bias=layer["bias"]))
            channels = layer["out_channels"]
            size = (size + 2 * layer["padding"] - layer["kernel_size"]) // layer["stride"] + 1
        elif kind == "max_pool2d":
            modules.append(nn.MaxPool2d(layer["kernel_size"], layer["stride"], layer["padding"]))
            size = (size + 2 * layer["padding"] - layer["kernel_size"]) // layer["stride"] + 1
        elif kind == "flatten":
            modules.append(nn.Flatten())
            flat = channels * size * size
        elif kind == "dense":
            modules.append(nn.Linear(flat, layer["outputs"]))
            flat = layer["outputs"]
        elif kind == "relu":
            modules.append(nn.ReLU())
        elif kind == "softmax":
            modules.append(nn.Softmax(dim=1))
        else:
            raise SystemExit(f"fashion_cnn.json: layer type {kind!r} is not rebuilt in PyTorch here")
    module = nn.Sequential(*modules)
    state = {f"{i}.{name}": torch.from_numpy(np.asarray(tensors[f"layers.{i}.{name}"], dtype=np.float32))
             for i, m in enumerate(modules) for name, _ in m.named_parameters()}
    module.load_state_dict(state, strict=True)
    # the round trip through from_torch must give back the layer list cfx loaded
    exported, _ = from_torch(module, spec["input_shape"])
    assert [l["type"] for l in exported["layers"]] == [l["type"] for l in spec["layers"]]
    return module.eval(), cfx.Model.load(spec_path)


def forward_macs(module) -> int:
    """Multiply-adds of one forward pass at batch 1 (convolutions and dense layers; the other layers
    do O(activations) work)."""
    total = 0

    def count(layer, inputs, output) -> None:
        nonlocal total
        if isinstance(layer, nn.Conv2d):
            total += output.numel() * layer.in_channels // layer.groups * layer.kernel_size[0] * layer.kernel_size[1]
        else:
            total += output.numel() * layer.in_features
    hooks = [m.register_forward_hook(count) for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        module(torch.zeros(1, 1, 28, 28))
    for hook in hooks:
        hook.remove()
    return total


# ---- cfx variants -----------------------------------------------------------------------------

def cfx_variant(model, dtype: str, threads: int, search: bool = False):
    """The cfx model computing in `dtype` on `threads` intra-op threads, or None where this build
    cannot: before the float32 engine (no Model.astype) only float64 on one thread exists, except
    in a search, whose explainer takes n_threads itself (`search`)."""
    if hasattr(model, "astype"):
        return model.astype(dtype, threads=threads)
    return model if dtype == "float64" and (threads == 1 or search) else None


# ---- timing ----------------------------------------------------------------------------------

def interleaved_medians(calls: dict, repeat: int, warmup: int) -> dict:
    """Median wall seconds of each callable over `repeat` rounds, one call of each per round (so
    that drifting machine load hits all of them alike), after `warmup` calls of each. Each call
    gets its round's number, so that every round can compute on new inputs: cfx skips a forward
    pass it has just made at the same point (a gradient right after a prediction), which a
    benchmark repeating one input would measure instead of forward + gradient."""
    for call in calls.values():
        for r in range(warmup):
            call(repeat + r)
    times = {name: [] for name in calls}
    for r in range(repeat):
        for name, call in calls.items():
            started = time.perf_counter()
            call(r)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(t) for name, t in times.items()}


def shifted(rows: np.ndarray, r: int) -> np.ndarray:
    """The rows of round r: a new input every round, the same for every library."""
    return rows + np.asarray(1e-4 * (r + 1), dtype=rows.dtype)


def torch_forward(module):
    def run(rows):
        with torch.no_grad():
            return module(torch.from_numpy(rows).view(-1, 1, 28, 28)).numpy()
    return run


def torch_vjp(module):
    def run(rows, cotangent):
        x = torch.from_numpy(rows).view(-1, 1, 28, 28).requires_grad_()
        (grad,) = torch.autograd.grad(module(x), x, torch.from_numpy(cotangent))
        return grad.reshape(len(rows), -1).numpy()
    return run


def workload_rows(name, module, model, X, C, args) -> tuple[list, list]:
    """Timings of one network: a row per (workload, batch, threads), and the agreement checks."""
    rows, checks = [], []
    forward, vjp = torch_forward(module), torch_vjp(module)
    X32, C32 = X.astype(np.float32), C.astype(np.float32)
    # A float64 copy of the torch module tells a wrong weight (cfx float64 differs from it) from float32 rounding.
    double = copy.deepcopy(module).double()
    p_double, g_double = torch_forward(double)(X), torch_vjp(double)(X, C)
    for threads in THREADS:
        torch.set_num_threads(threads)
        variants = {dtype: cfx_variant(model, dtype, threads) for dtype in DTYPES}
        for dtype, m in variants.items():
            if m is not None:      # agreement on the full batch, probabilities and gradients
                p_torch, g_torch, p_cfx, g_cfx = forward(X32), vjp(X32, C32), m.predict(X), m.vjp(X, C)
                checks.append({"network": name, "dtype": dtype, "threads": threads, "rows": len(X),
                               "model_dtype": dtype,
                               "max_abs_proba_diff": float(np.abs(p_cfx - p_torch).max()),
                               "argmax_agree": float((p_cfx.argmax(1) == p_torch.argmax(1)).mean()),
                               "max_abs_grad_diff_rel": float(np.abs(g_cfx - g_torch).max()
                                                              / max(np.abs(g_torch).max(), 1e-30)),
                               "grad_diff_norm_rel": float(np.linalg.norm(g_cfx - g_torch)
                                                           / max(np.linalg.norm(g_torch), 1e-30)),
                               "max_abs_proba_diff_torch64": float(np.abs(p_cfx - p_double).max()),
                               "max_abs_grad_diff_rel_torch64": float(np.abs(g_cfx - g_double).max()
                                                                      / max(np.abs(g_double).max(), 1e-30))})
        for batch in BATCHES:
            x, c, x32, c32 = X[:batch], C[:batch], X32[:batch], C32[:batch]
            for workload in ("forward", "forward + input gradient"):
                if workload == "forward":
                    calls = {"torch": lambda r: forward(shifted(x32, r))}
                    calls.update({d: (lambda r, m=m: m.predict(shifted(x, r))) for d, m in variants.items() if m is not None})
                else:
                    calls = {"torch": lambda r: vjp(shifted(x32, r), c32)}
                    calls.update({d: (lambda r, m=m: m.vjp(shifted(x, r), c)) for d, m in variants.items() if m is not None})
                medians = interleaved_medians(calls, args.repeat, args.warmup)
                row = {"network": name, "workload": workload, "batch": batch, "threads": threads,
                       "torch_ms": medians["torch"] * 1e3}
                for dtype in DTYPES:
                    ms = medians.get(dtype)
                    row[f"cfx_{dtype}_ms"] = None if ms is None else ms * 1e3
                    row[f"cfx_{dtype}_vs_torch"] = None if ms is None else ms / medians["torch"]
                rows.append(row)
                print(format_row(row), flush=True)
    return rows, checks


# ---- DeDUCE -----------------------------------------------------------------------------------

def deduce_rows(module, model, x_fit, y_fit, X, args) -> tuple[list, dict]:
    """DeDUCE one pair at a time on the ResNet-18: per (threads, dtype) the seconds per iteration
    of each pair, and PyTorch's forward + input gradient at batch 1 on as many threads next to it.
    Pairs: the first test images, each with its runner-up class as the target."""
    f32 = cfx_variant(model, "float32", 1)
    started = time.perf_counter()
    # One density for every run (what it holds does not change the cost of an iteration).
    density = cfx.FeatureDensity.fit(f32 if f32 is not None else model, x_fit, y_fit)
    fit_info = {"rows": len(x_fit), "seconds": time.perf_counter() - started,
                "model_dtype": "float32" if f32 is not None else "float64", "jitter": density.jitter}
    proba = torch_forward(module)(X[:args.deduce_pairs].astype(np.float32))
    pairs = [(i, int(np.argsort(p)[-2])) for i, p in enumerate(proba)]
    vjp = torch_vjp(module)
    x1, c1 = X[:1].astype(np.float32), np.random.default_rng(SEED).normal(size=(1, 10)).astype(np.float32)
    rows = []
    for threads in THREADS:
        torch.set_num_threads(threads)
        for dtype in DTYPES:
            m = cfx_variant(model, dtype, threads, search=True)
            row = {"threads": threads, "dtype": dtype, "pairs": []}
            rows.append(row)
            if m is None:
                print(f"DeDUCE {dtype} {threads} thread(s): n/a", flush=True)
                continue
            cfx.DeDUCE(m, target_class=[pairs[0][1]], n_threads=threads, max_iter=3) \
                .set_density(density).explain(X[0])                       # warm-up
            for i, target in pairs:
                explainer = cfx.DeDUCE(m, target_class=[target], n_threads=threads, max_iter=args.deduce_max_iter)
                e = explainer.set_density(density).explain(X[i])
                iterations = e.meta["gradient_evaluations"]
                # The anchor right after each pair: both sides of a pair's ratio see the same state of the machine.
                anchor = interleaved_medians({"torch": lambda r: vjp(shifted(x1, r), c1)}, args.repeat, args.warmup)["torch"]
                seconds = e.meta["seconds"] / max(iterations, 1)
                row["pairs"].append({"instance": i, "target": target, "success": e.success,
                                     "seconds": e.meta["seconds"], "iterations": iterations,
                                     "s_per_iteration": seconds, "torch_fwd_grad_b1_s": anchor, "ratio": seconds / anchor})
            row["s_per_iteration"] = statistics.median(p["s_per_iteration"] for p in row["pairs"])
            row["torch_fwd_grad_b1_s"] = anchor = statistics.median(p["torch_fwd_grad_b1_s"] for p in row["pairs"])
            row["ratio"] = statistics.median(p["ratio"] for p in row["pairs"])
            print(f"DeDUCE {dtype} {threads} thread(s): {row['s_per_iteration'] * 1e3:.2f} ms/iteration, "
                  f"torch fwd+grad b1 {anchor * 1e3:.2f} ms, ratio {row['ratio']:.2f}", flush=True)
    return rows, fit_info


def search_steps(model, X, x_fit, instances: int) -> list:
    """Wachter (alibi's defaults) and CFProto (k-d tree prototypes from the training images, theta
    10, pixels in [0, 1]) on the first test images, float32, one thread: per method the median
    seconds per step (per gradient evaluation) and the forward passes a step makes: its model
    calls, at least one (a gradient reuses the forward pass of a prediction at its point)."""
    m = cfx_variant(model, "float32", 1)
    explainers = {"Wachter": cfx.Wachter(m, target_class="other", n_threads=1),
                  "CFProto": cfx.CFProto(m, use_kdtree=True, theta=10.0, feature_range=(0.0, 1.0),
                                         n_threads=1).fit(x_fit)}
    rows = []
    for method, explainer in explainers.items():
        explainer.explain(X[0])                                               # warm-up
        metas = [explainer.explain(x).meta for x in X[:instances]]
        steps = [e["gradient_evaluations"] for e in metas]
        rows.append({"method": method, "instances": instances,
                     "s_per_step": statistics.median(e["seconds"] / max(n, 1) for e, n in zip(metas, steps)),
                     "forwards_per_step": sum(max(e["model_calls"], n) for e, n in zip(metas, steps)) / max(sum(steps), 1)})
    return rows


def highest_peak(runs: list) -> dict:
    """The FMA peak per vector width from runs at the start and the end of the benchmark: the highest,
    as the virtual machine's speed drifts (a slow moment would lower the peak and flatter cfx)."""
    return {k: max(r[k] for r in runs) if k != "unit" else runs[0][k] for k in runs[0]}


def peak_rows(report) -> list:
    """Each network's search step at one thread, float32, against its multiply-adds (forward and
    input gradient: twice the forward's) at the FMA peak of the vector width in use."""
    lanes = "avx512" if report["kernels"]["isa"] == "avx512" else "avx2"
    peak = report["fma_peak"].get(lanes)
    rows = []
    for network, macs in report["forward_macs"].items():
        # (step, seconds, forward passes' worth of multiply-adds: a gradient costs one more)
        steps = [("forward + input gradient, batch 1 (`Model.vjp` from Python)",
                  next((r["cfx_float32_ms"] / 1e3 for r in report["workloads"] if r["network"] == network
                        and r["workload"] == "forward + input gradient" and r["batch"] == 1 and r["threads"] == 1), None), 2)]
        if network == "fashion_cnn":
            steps += [(f"{s['method']} search step (explanation meta)", s["s_per_step"], s["forwards_per_step"] + 1)
                      for s in report.get("search_steps", [])]
        if network == "resnet18" and report.get("deduce"):
            one = next((r for r in report["deduce"]["rows"] if r["threads"] == 1 and r["dtype"] == "float32"), None)
            steps.append(("DeDUCE iteration (explanation meta)", one and one.get("s_per_iteration"), 2))
        for step, seconds, passes in steps:
            at_peak = passes * macs / peak if peak else None
            rows.append({"network": network, "step": step, "seconds": seconds, "multiply_adds": passes * macs,
                         "peak_lanes": lanes, "seconds_at_peak": at_peak,
                         "ratio": seconds / at_peak if seconds and at_peak else None})
    return rows


# ---- report -----------------------------------------------------------------------------------

def ms(value) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def ratio(value) -> str:
    return "n/a" if value is None else f"**{value:.2f}**" if value >= 0.1 else f"**{value:.2g}**"


def format_row(r) -> str:
    return (f"| {r['network']} | {r['workload']} | {r['batch']} | {r['threads']} | {ms(r['torch_ms'])} | "
            f"{ms(r['cfx_float32_ms'])} | {ratio(r['cfx_float32_vs_torch'])} | {ms(r['cfx_float64_ms'])} | "
            f"{ratio(r['cfx_float64_vs_torch'])} |")


def machine() -> dict:
    return {"cpu": env.cpu_model(), "cores": os.cpu_count(), "machine": platform.machine(),
            "load_average_start": list(os.getloadavg())}


def commit() -> str:
    return env.commit() + (" (with uncommitted changes)" if env.dirty(("Sources", "benchmarks", "bindings")) else "")


def command_line() -> tuple[str, list]:
    """The command as run, with the OpenBLAS variables that were set (the benchmark command unsets
    them: users' machines do not set them)."""
    set_vars = [v for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ]
    cmd = env.harness_command()
    if not set_vars:
        cmd = "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE " + cmd
    return cmd, set_vars


def write_report(out: Path, report: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / f"{report['name']}.json", report)
    m, t = report["machine"], report["torch"]
    lines = [
        "# cfx vs PyTorch CPU: the DeDUCE ResNet-18 and the Fashion-MNIST CNN, side by side",
        "",
        f"- date: {report['date']}",
        f"- command: `{report['command']}` (from the repository root, release build of libcfx)",
        f"- commit: `{report['commit']}`, cfx {report['cfx_version']}",
        f"- machine: `{m['machine']}`, {m['cpu']}, {m['cores']} cores; load average "
        f"{' '.join(f'{v:.2f}' for v in m['load_average_start'])} at the start, "
        f"{' '.join(f'{v:.2f}' for v in m['load_average_end'])} at the end",
        f"- PyTorch {t['version']} (float32, on the CPU{'; a CUDA build' if t['cuda_build'] else ''}), "
        f"mkldnn (oneDNN) available: {t['mkldnn']}",
        f"- cfx OpenBLAS core: {report['openblas_core']}; the command unsets `OPENBLAS_CORETYPE` and "
        "`OPENBLAS_L2_SIZE` (the 2-core development machine sets them: `OPENBLAS_CORETYPE=Haswell` makes "
        "OpenBLAS use AVX2 kernels on an AVX-512 processor; users' machines do not set them)" + ("" if not report["openblas_vars_set"] else
                              f". **This run had {', '.join(report['openblas_vars_set'])} set**"
                              + (f" (by `--isa {kernel_sets.forced()}`)." if kernel_sets.forced() else ".")),
        f"- kernels: {kernel_sets.describe(report['kernels'])}",
        f"- cfx float32: {'available (Model.astype)' if report['float32_available'] else 'n/a in this build (no Model.astype): cfx ran in float64 only, on one thread except in DeDUCE (its n_threads)'}",
        f"- timing: median of {report['repeat']} runs after {report['warmup']} warm-up call(s), torch and "
        "cfx interleaved run by run in one process; inputs are Fashion-MNIST test images (pixel / 255), "
        "the input gradient is the vector-Jacobian product of the softmax probabilities with one "
        "fixed random cotangent (the same in both); torch: `torch.no_grad()` forward, "
        "`torch.autograd.grad` for the gradient, `torch.set_num_threads(threads)`; cfx: "
        "`Model.predict` / `Model.vjp` through the Python binding (ctypes, float64 buffers in and out)",
    ]
    busiest = max(m["load_average_start"][0], m["load_average_end"][0])
    if busiest > 1.0:
        lines.append(f"- **other work ran** (1-minute load average up to {busiest:.1f} on {m['cores']} cores): "
                     "times carry its noise, the 2-thread rows most (a thread that loses its core stalls "
                     "the other; PyTorch's OpenMP threads wait for each other at every layer)")
    lines += [
        "",
        "## Networks",
        "",
        "- **resnet18**: DDU's ResNet-18 as DeDUCE trains it on 28×28×1 (BasicBlocks [2, 2, 2, 2], widths "
        "64-128-256-512, strides 1-2-2-2, 3×3 stem 1→64, batch norm, leaky ReLU 0.01, average-pool + "
        "zero-channel shortcuts, spectral norm c = 4 on the convolutions applied to the weights "
        f"once (σ from {SN_ITERATIONS} power-iteration steps), global average pooling, dense → 10, softmax), random weights (seed 0), batch-norm "
        f"statistics from {BN_CALIBRATION_IMAGES} training images; exported to cfx with "
        "`cfx.export.save_torch`",
        "- **fashion_cnn**: `benchmarks/models/fashion_cnn.json` (conv 16, pool, conv 32, pool, dense "
        "128, dense 10), rebuilt in PyTorch with its weights",
        "",
        "Agreement on the first 64 test images: probabilities, and input gradients relative to the largest "
        "torch gradient and in norm, against the torch module (float32) and a float64 copy of it (which "
        "cfx float64 must match to rounding: the same weights; for cfx float32 these two columns are its "
        "distance from float64, the issue's max probability difference ≤ 1e-4). Float32 against float64 "
        "differs most where a leaky ReLU input is near 0:",
        "",
        "| network | cfx dtype | threads | max \\|p_cfx − p_torch\\| | argmax agree | max \\|g_cfx − g_torch\\| / max \\|g_torch\\| | ‖g_cfx − g_torch‖ / ‖g_torch‖ | torch float64: max \\|Δp\\| | torch float64: max \\|Δg\\| / max \\|g\\| |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [f"| {c['network']} | {c['dtype']} | {c['threads']} | {c['max_abs_proba_diff']:.2e} | "
              f"{c['argmax_agree']:.0%} | {c['max_abs_grad_diff_rel']:.2e} | {c['grad_diff_norm_rel']:.2e} | "
              f"{c['max_abs_proba_diff_torch64']:.2e} | {c['max_abs_grad_diff_rel_torch64']:.2e} |" for c in report["agreement"]]
    lines += ["", "## Forward and forward + input gradient (milliseconds per call; ratio = cfx / torch)", "",
              "| network | workload | batch | threads | torch f32 | cfx f32 | cfx f32 / torch | cfx f64 | cfx f64 / torch |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [format_row(r) for r in report["workloads"]]
    if report.get("deduce"):
        d = report["deduce"]
        fit = d["density_fit"]
        lines += ["", "## DeDUCE on the ResNet-18, one pair at a time", "",
                  f"Pairs: the first {d['pairs']} test image(s), each with its runner-up class (torch's "
                  f"probabilities) as the target; DeDUCE's defaults but max_iter {d['max_iter']}; class "
                  f"Gaussians fitted once on {fit['rows']} training images with their labels on the "
                  f"{fit['model_dtype']} model's \"features\" ({fit['seconds']:.1f} s, jitter {fit['jitter']:g}). "
                  "Seconds per iteration = the explanation's meta seconds / gradient evaluations; the anchor "
                  "is PyTorch's forward + input gradient at batch 1 on the same number of threads, measured "
                  "right after each pair; ms / iteration and the anchor are medians over the pairs, the "
                  "ratio is the median of the pairs' own ratios (iteration / the anchor after it).", "",
                  "| n_threads | cfx dtype | ms / iteration | iterations (per pair) | found | torch fwd + grad, batch 1 (ms) | ratio |",
                  "|---:|---|---:|---|---:|---:|---:|"]
        for r in d["rows"]:
            if not r["pairs"]:
                lines.append(f"| {r['threads']} | {r['dtype']} | n/a | | | | n/a |")
                continue
            its = ", ".join(str(p["iterations"]) for p in r["pairs"])
            found = sum(p["success"] for p in r["pairs"])
            lines.append(f"| {r['threads']} | {r['dtype']} | {r['s_per_iteration'] * 1e3:.2f} | {its} | "
                         f"{found}/{len(r['pairs'])} | {r['torch_fwd_grad_b1_s'] * 1e3:.2f} | **{r['ratio']:.2f}** |")
    lines += peak_lines(report)
    (out / f"{report['name']}.md").write_text("\n".join(lines) + "\n")


def peak_lines(report) -> list:
    peak = report["fma_peak"]
    lines = ["", "## Search steps against the FMA peak (1 thread, float32)", "",
             "One core's FMA peak, measured by `benchmarks/networks/fma_peak.c` (independent fused "
             "multiply-adds, no memory traffic) at the start and the end of the run, the higher of the two: "
             + ", ".join(f"{k} {v / 1e9:.1f} G float multiply-adds/s" for k, v in peak.items() if k != "unit")
             + f" (the {'avx512' if report['kernels']['isa'] == 'avx512' else 'avx2'} figure applies). A step's "
             "multiply-adds are its forward passes' and its input gradient's, which passes back through "
             "every layer at the forward's cost (a search's forward passes per step from its meta); the "
             "time at peak is what no implementation can beat on one core.", "",
             "| network | step | cfx (ms) | multiply-adds (M) | at peak (ms) | cfx / peak |", "|---|---|---:|---:|---:|---:|"]
    for r in peak_rows(report):
        lines.append(f"| {r['network']} | {r['step']} | {ms(r['seconds'] and r['seconds'] * 1e3)} | "
                     f"{r['multiply_adds'] / 1e6:.1f} | {ms(r['seconds_at_peak'] and r['seconds_at_peak'] * 1e3)} | "
                     f"{ratio(r['ratio'])} |")
    return lines


# ---- main -------------------------------------------------------------------------------------

def add_arguments(parser) -> None:
    parser.add_argument("--quick", action="store_true", help="few runs, short DeDUCE searches, to benchmarks/out")
    parser.add_argument("--only", choices=("resnet", "cnn"), help="one network (cnn: no DeDUCE)")
    parser.add_argument("--repeat", type=int, help="timed runs per row (default 11; --quick 3)")
    parser.add_argument("--deduce-pairs", type=int, help="DeDUCE pairs per setting (default 3; --quick 1)")
    parser.add_argument("--deduce-max-iter", type=int, help="DeDUCE max_iter (default 700, DeDUCE's; --quick 15)")
    parser.add_argument("--density-rows", type=int, help="training images for the class Gaussians (default 3000; --quick 300)")
    parser.add_argument("--out", type=Path, help="output folder (default benchmarks/results; --quick benchmarks/out)")
    parser.add_argument("--isa", choices=("native", *kernel_sets.FORCED), default="native",
                        help="force every library's kernels for this instruction set (default: the processor's own)")


def main(args) -> int:
    quick = args.quick
    args.repeat = args.repeat or (3 if quick else 11)
    args.warmup = 1 if quick else 2
    args.deduce_pairs = args.deduce_pairs or (1 if quick else 3)
    args.deduce_max_iter = args.deduce_max_iter or (15 if quick else 700)
    args.density_rows = args.density_rows or (300 if quick else 3000)
    out = args.out or (OUT if quick else RESULTS)

    command, set_vars = command_line()
    if set_vars and not kernel_sets.forced():
        print(f"warning: {', '.join(set_vars)} set; the benchmark command unsets them "
              "(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ...)", file=sys.stderr)
    report = {"date": env.now(),
              "command": command, "openblas_vars_set": set_vars, "commit": commit(),
              "cfx_version": cfx.__version__, "machine": machine(),
              "torch": {"version": torch.__version__, "mkldnn": torch.backends.mkldnn.is_available(),
                        "cuda_build": torch.version.cuda},
              "float32_available": hasattr(cfx.Model, "astype"),
              "repeat": args.repeat, "warmup": args.warmup, "workloads": [], "agreement": [],
              "name": "networks_vs_torch" + (f"_{kernel_sets.forced()}" if kernel_sets.forced() else ""),
              "kernels": kernel_sets.kernels(torch), "fma_peak": kernel_sets.fma_peak(), "forward_macs": {}}
    report["openblas_core"] = report["kernels"]["openblas_core"]

    x_train, y_train, x_test, _ = load_fashion_mnist()
    rng = np.random.default_rng(SEED)
    fit_idx = rng.permutation(len(x_train))[:max(args.density_rows, BN_CALIBRATION_IMAGES)]
    x_fit, y_fit = x_train[fit_idx].copy(), y_train[fit_idx].copy()
    X = x_test[:max(BATCHES)].copy()
    C = rng.normal(size=(len(X), 10))
    del x_train, x_test

    print("| network | workload | batch | threads | torch f32 | cfx f32 | cfx f32 / torch | cfx f64 | cfx f64 / torch |")
    with tempfile.TemporaryDirectory() as tmp:
        if args.only in (None, "cnn"):
            module, model = cnn_pair()
            rows, checks = workload_rows("fashion_cnn", module, model, X, C, args)
            report["workloads"] += rows
            report["agreement"] += checks
            report["forward_macs"]["fashion_cnn"] = forward_macs(module)
            report["search_steps"] = search_steps(model, X, x_fit[:1000], 1 if quick else 3)
        if args.only in (None, "resnet"):
            module, model = resnet_pair(x_fit[:BN_CALIBRATION_IMAGES].astype(np.float32), Path(tmp))
            rows, checks = workload_rows("resnet18", module, model, X, C, args)
            report["workloads"] += rows
            report["agreement"] += checks
            report["forward_macs"]["resnet18"] = forward_macs(module)
            deduce, fit_info = deduce_rows(module, model, x_fit[:args.density_rows], y_fit[:args.density_rows], X, args)
            report["deduce"] = {"rows": deduce, "density_fit": fit_info, "pairs": args.deduce_pairs,
                                "max_iter": args.deduce_max_iter}
    report["machine"]["load_average_end"] = list(os.getloadavg())
    report["fma_peak_runs"] = [report["fma_peak"], kernel_sets.fma_peak()]
    report["fma_peak"] = highest_peak(report["fma_peak_runs"])
    write_report(out, report)
    print(f"wrote {out / report['name']}.md and .json")
    return 0
