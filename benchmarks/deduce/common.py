"""Shared pieces of the DeDUCE protocol on Fashion-MNIST: data, the network specs, paths."""

from __future__ import annotations

import gzip
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "benchmarks" / "out" / "deduce"
MODELS = ROOT / "benchmarks" / "models"
RESULTS = ROOT / "benchmarks" / "results"
DATA_DIR = Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))

sys.path.insert(0, str(ROOT / "bindings" / "python"))
os.environ.setdefault("CFX_LIBRARY", str(ROOT / ".build" / "release" / "libcfx.so"))

CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]


def _idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_fashion_mnist():
    """(x_train, y_train, x_test, y_test): images as n × 784 doubles in [0, 1], labels as ints."""
    if not DATA_DIR.exists():
        sys.exit(f"Fashion-MNIST not found in {DATA_DIR}: apt-get install dataset-fashion-mnist "
                 "(or set FASHION_MNIST_DIR)")
    parts = []
    for split in ("train", "t10k"):
        x = _idx(DATA_DIR / f"{split}-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float64) / 255.0
        y = _idx(DATA_DIR / f"{split}-labels-idx1-ubyte.gz").astype(np.int64)
        parts += [x, y]
    return tuple(parts)


def resnet_spec(spectral: bool, widths=(16, 32, 64), coefficient: float = 4.0) -> dict:
    """The small ResNet of the DDU family on 1×28×28: a 3×3 stem, one residual block per stage
    (two 3×3 convolutions with batch norm; stride 2 and an avg-pool + channel-pad shortcut from
    stage 2), leaky ReLU 0.01, global average pooling named "features", an unnormalised dense
    layer to the logits, softmax. With `spectral`, every convolution is spectrally normalised
    with coefficient c (DDU's c = 4 for DeDUCE's model)."""
    sn = {"spectral_norm": {"coefficient": coefficient, "power_iterations": 1}} if spectral else {}

    def conv(out, stride=1):
        return {"type": "conv2d", "out_channels": out, "kernel_size": 3, "stride": stride, "padding": 1,
                "bias": False, **sn}

    layers = [conv(widths[0]), {"type": "batch_norm"}, {"type": "leaky_relu", "negative_slope": 0.01}]
    previous = widths[0]
    for i, w in enumerate(widths):
        stride = 1 if i == 0 else 2
        main = [conv(w, stride), {"type": "batch_norm"}, {"type": "leaky_relu", "negative_slope": 0.01},
                conv(w), {"type": "batch_norm"}]
        shortcut = []
        if stride != 1 or w != previous:
            shortcut = [{"type": "avg_pool2d", "kernel_size": stride}, {"type": "channel_pad", "out_channels": w}]
        layers += [{"type": "residual", "main": main, "shortcut": shortcut},
                   {"type": "leaky_relu", "negative_slope": 0.01}]
        previous = w
    layers += [{"type": "global_avg_pool", "name": "features"}, {"type": "dense", "outputs": 10},
               {"type": "softmax"}]
    return {"input_shape": [1, 28, 28], "layers": layers,
            "metadata": {"classes": CLASSES, "spectral_norm": spectral}}
