"""Shared pieces of the DeDUCE protocol on Fashion-MNIST: the network specs, the paths, and the data
(cfxbench.datasets' Fashion-MNIST reader)."""

from __future__ import annotations

from .. import OUT as _OUT, RESULTS  # noqa: F401  (RESULTS for the protocol modules)
from ..datasets import FASHION_CLASSES as CLASSES, REFERENCE_MODELS as MODELS  # noqa: F401
from ..datasets import fashion_mnist_arrays as load_fashion_mnist  # noqa: F401  (x_train, y_train, x_test, y_test)

OUT = _OUT / "deduce"


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
