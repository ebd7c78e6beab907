"""A ResNet-18 (torchvision's layout: 7×7 stem, max pooling, four stages of two basic blocks,
widths 64–512; 3×32×32 inputs, 10 classes) loaded from an ONNX file and from cfx's own spec, in
one run: load time, agreement with onnxruntime and between the two, and DeDUCE's time on both.

The network is built with cfx.export.Residual blocks, so that one PyTorch module is exported both
ways: torch.onnx (batch normalisation kept as nodes, do_constant_folding=False, so that both
networks have the same layers) and cfx.export.save_torch. Writes results/onnx_resnet18.{md,json}.
"""
import os
import statistics
import tempfile
import time
import warnings

import numpy as np

from . import RESULTS
from . import env as provenance
from .results import write_json


def add_arguments(parser) -> None:
    parser.add_argument("--repeat", type=int, default=5, help="loads timed (the median is reported)")


def resnet18():
    import torch
    from torch import nn
    from cfx.export import Residual

    def block(c_in, c_out, stride):
        main = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                             nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False), nn.BatchNorm2d(c_out))
        shortcut = None if stride == 1 and c_in == c_out else nn.Sequential(
            nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
        return [Residual(main, shortcut), nn.ReLU()]

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(3, 2, 1)]
    for c_in, c_out, stride in [(64, 64, 1), (64, 64, 1), (64, 128, 2), (128, 128, 1),
                                (128, 256, 2), (256, 256, 1), (256, 512, 2), (512, 512, 1)]:
        layers += block(c_in, c_out, stride)
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10), nn.Softmax(dim=1)]
    torch.manual_seed(0)
    net = nn.Sequential(*layers).eval()
    with torch.no_grad():  # running statistics other than 0 and 1, as a trained network has
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return net


def median_times(fns, repeats):
    """Median wall and CPU seconds of each function, the functions taking turns (so that a change
    in the machine's load falls on all of them alike)."""
    wall, cpu = [[] for _ in fns], [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[i].append(time.perf_counter() - start)
            cpu[i].append(time.process_time() - start_cpu)
    return [{"wall_s": statistics.median(w), "cpu_s": statistics.median(c)} for w, c in zip(wall, cpu)]


def export(net, shape, work):
    """The ONNX file and the cfx spec of `net`, and the name of the ONNX Flatten's output."""
    import onnx
    import torch
    from cfx.export import save_torch
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.zeros((2,) + shape),), os.path.join(work, "r18.onnx"), dynamo=False,
                          input_names=["x"], output_names=["y"], do_constant_folding=False,
                          dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    save_torch(net, list(shape), os.path.join(work, "r18.json"), os.path.join(work, "r18.safetensors"),
               names={net[-3]: "features"})
    graph = onnx.load(os.path.join(work, "r18.onnx")).graph
    return next(n.output[0] for n in graph.node if n.op_type == "Flatten")


def measure(net, shape, work, repeats):
    import cfx
    import onnxruntime
    features = export(net, shape, work)
    onnx_path, spec_path = os.path.join(work, "r18.onnx"), os.path.join(work, "r18.json")
    load_onnx, load_native = median_times([lambda: cfx.Model.load(onnx_path), lambda: cfx.Model.load(spec_path)], repeats)
    imported, native = cfx.Model.load(onnx_path), cfx.Model.load(spec_path)
    X = np.random.default_rng(0).random((64,) + shape).astype(np.float32)
    ort = onnxruntime.InferenceSession(onnx_path).run(None, {"x": X})[0]
    flat = X.reshape(len(X), -1).astype(np.float64)
    p_imported, p_native = imported.predict(flat), native.predict(flat)
    y = np.arange(len(X)) % 10  # labels for the class densities, round robin: the search is what is timed
    target = int((p_native[0].argmax() + 1) % 10)
    explainers = [cfx.DeDUCE(model, target_class=target, max_iter=30, feature_output=output, n_threads=1).fit(flat, y)
                  for model, output in [(imported, features), (native, "features")]]
    same = [e.data["cf"] for e in explainers[0].explain(flat[:2])] == [e.data["cf"] for e in explainers[1].explain(flat[:2])]
    deduce = dict(zip(["onnx", "native"], median_times([lambda e=e: e.explain(flat[:2]) for e in explainers], repeats)))
    return {
        "weights": int(sum(p.numel() for p in net.parameters())), "onnx_file_bytes": os.path.getsize(onnx_path),
        "load_onnx": load_onnx, "load_native_spec": load_native,
        "max_abs_proba_diff_vs_onnxruntime": float(np.abs(p_imported - ort).max()),
        "max_abs_proba_diff_vs_native": float(np.abs(p_imported - p_native).max()),
        "deduce_2_images_30_iterations": deduce, "deduce_same_result": same,
        "deduce_cpu_ratio_onnx_over_native": deduce["onnx"]["cpu_s"] / deduce["native"]["cpu_s"],
    }


def report(result) -> str:
    deduce, n = result["deduce_2_images_30_iterations"], result["repeat"]
    row = lambda what, t: f"| {what} (median of {n}) | {t['wall_s']:.3f} s | {t['cpu_s']:.3f} s |"  # noqa: E731
    return "\n".join([
        "# ResNet-18 from ONNX and from cfx's spec", "",
        *provenance.markdown(result["environment"], "the machine is shared: wall times are indicative; CPU times "
                             "and the ratio, from turns taken in one run, less so"),
        "", f"ResNet-18 (torchvision's layout), 3×32×32 inputs, 10 classes, {result['weights']:,} weights; the ONNX file "
        f"has {result['onnx_file_bytes']:,} bytes (float32), batch normalisation kept as nodes.", "",
        "| measure | wall | CPU |", "| --- | --- | --- |",
        row("load the ONNX file", result["load_onnx"]),
        row("load the cfx spec + safetensors", result["load_native_spec"]),
        row("DeDUCE, 2 images, 30 iterations, 1 thread, imported network", deduce["onnx"]),
        row("DeDUCE, the same, network from cfx's spec", deduce["native"]), "",
        f"- DeDUCE CPU time, imported / spec: {result['deduce_cpu_ratio_onnx_over_native']:.2f}×; the same counterfactual "
        f"from both: {result['deduce_same_result']}",
        f"- largest probability difference, cfx (ONNX) vs onnxruntime, 64 random images: "
        f"{result['max_abs_proba_diff_vs_onnxruntime']:.1e}; cfx (ONNX) vs cfx (spec): {result['max_abs_proba_diff_vs_native']:.1e}", ""])


def main(args) -> int:
    env = provenance.environment(provenance.harness_command())
    with tempfile.TemporaryDirectory() as work:
        result = {"environment": env, "repeat": args.repeat, **measure(resnet18(), (3, 32, 32), work, args.repeat)}
    write_json(RESULTS / "onnx_resnet18.json", result)
    text = report(result)
    (RESULTS / "onnx_resnet18.md").write_text(text)
    print(text)
    return 0
