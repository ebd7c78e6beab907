"""The PyTorch side-by-side benchmark (`benchmarks/harness.py torch`, benchmarks/cfxbench/torch_side_by_side.py) times the same
networks in both libraries: its DDU ResNet-18 and its rebuild of the Fashion-MNIST CNN compute what
the cfx models compute (checked against float64 copies of the torch modules, so that float32
rounding does not hide a wrong weight), and a short run writes the report. Skipped without torch,
like the exporter's tests."""

import copy
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="[torch] torch is not installed (CFX_TEST_TORCH=1 bash Tests/run-all.sh installs it)")
from torch import nn  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
HARNESS = ROOT / "benchmarks" / "harness.py"
sys.path.insert(0, str(HARNESS.parent))
from cfxbench import torch_side_by_side as bench  # noqa: E402


@pytest.fixture(scope="module")
def resnet(tmp_path_factory):
    images = np.random.default_rng(1).uniform(0, 1, size=(32, 784)).astype(np.float32)
    workdir = tmp_path_factory.mktemp("resnet")
    module, model = bench.resnet_pair(images, workdir, sn_iterations=2)      # σ's accuracy: not tested
    return module, model, json.loads((workdir / "resnet18.json").read_text())


def assert_same_outputs(module, model, n=3):
    rng = np.random.default_rng(2)
    X, C = rng.uniform(0, 1, size=(n, 784)), rng.normal(size=(n, 10))
    double = copy.deepcopy(module).double().eval()
    x = torch.from_numpy(X).view(-1, 1, 28, 28).requires_grad_()
    p = double(x)
    (g,) = torch.autograd.grad(p, x, torch.from_numpy(C))
    g = g.reshape(n, -1).numpy()
    np.testing.assert_allclose(model.predict(X), p.detach().numpy(), atol=1e-12, rtol=0)
    np.testing.assert_allclose(model.vjp(X, C), g, atol=1e-10 * np.abs(g).max(), rtol=0)


def test_resnet18_has_ddus_layers(resnet):
    module, _, spec = resnet
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    # the stem and two 3×3 convolutions per block; the shortcuts are average pools, not convolutions
    assert [c.out_channels for c in convs] == [64] * 5 + [128] * 4 + [256] * 4 + [512] * 4
    assert all(c.kernel_size == (3, 3) and c.bias is None for c in convs)
    assert [c.stride[0] for c in convs if c.stride[0] != 1] == [2, 2, 2]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in module.modules()) == 17
    pools = [m for m in module.modules() if isinstance(m, nn.AvgPool2d)]
    assert [(p.kernel_size, p.stride) for p in pools] == [(2, 2), (2, 2), (1, 2)]   # 28→14→7→4
    features = [layer for layer in spec["layers"] if layer.get("name") == "features"]
    assert [layer["type"] for layer in features] == ["global_avg_pool"]


def test_resnet18_computes_the_same_in_cfx_and_pytorch(resnet):
    # The export computes in float32 as the module does; its float64 copy must match a float64
    # copy of the module to rounding (the same weights).
    module, model, _ = resnet
    assert_same_outputs(module, model.astype("float64"))


def test_fashion_cnn_rebuilt_in_pytorch_computes_the_same():
    module, model = bench.cnn_pair()
    assert_same_outputs(module, model.astype("float64"))


@pytest.mark.skipif(not pathlib.Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")).exists(),
                    reason="[fashion-mnist] Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
def test_a_short_run_writes_the_report(tmp_path):
    subprocess.run([sys.executable, str(HARNESS), "torch", "--quick", "--only", "cnn", "--repeat", "1", "--out", str(tmp_path)],
                   check=True, capture_output=True, timeout=600)
    report = json.loads((tmp_path / "networks_vs_torch.json").read_text())
    rows = report["workloads"]
    assert {(r["workload"], r["batch"], r["threads"]) for r in rows} == {
        (w, b, t) for w in ("forward", "forward + input gradient") for b in (1, 64) for t in (1, 2)}
    assert all(r["torch_ms"] > 0 for r in rows)
    assert all(r["cfx_float64_ms"] > 0 for r in rows if r["threads"] == 1)    # in every build
    assert all(c["max_abs_proba_diff"] < 1e-5 and c["argmax_agree"] == 1.0 for c in report["agreement"])
    assert all(c["max_abs_proba_diff_torch64"] < 1e-12 and c["max_abs_grad_diff_rel_torch64"] < 1e-10
               for c in report["agreement"] if c["dtype"] == "float64")
    text = (tmp_path / "networks_vs_torch.md").read_text()
    assert "| fashion_cnn | forward + input gradient | 64 | 1 |" in text
    assert "OPENBLAS_CORETYPE" in text and report["command"].startswith(("env -u", "python3"))
