"""Small models of the ONNX zoo test (test_onnx_zoo.py) and of the committed ONNX fixtures
(Tests/fixtures/onnx/make_onnx_fixtures.py): PyTorch modules exported with torch.onnx, and a
scikit-learn MLPClassifier through skl2onnx.

PyTorch models are exported with the TorchScript exporter (``dynamo=False``): the dynamo exporter
needs onnxscript, one more package, and writes the same operators for these modules.
"""
import numpy as np


def torch_models():
    """name → (module factory, example shape, constant folding): an MLP, a CNN ending in LogSoftmax, a
    network of grouped and dilated convolutions, a residual net, and three of torch.cat (cfx's concat
    blocks): DenseNet-style layers on images and on features, an inception-style block."""
    import torch
    from torch import nn

    class Residual(nn.Module):
        def __init__(self, channels, out_channels, stride):
            super().__init__()
            self.main = nn.Sequential(
                nn.Conv2d(channels, out_channels, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(out_channels),
                nn.ReLU(), nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels))
            self.shortcut = (nn.Identity() if stride == 1 and channels == out_channels else
                             nn.Sequential(nn.Conv2d(channels, out_channels, 1, stride=stride, bias=False),
                                           nn.BatchNorm2d(out_channels)))

        def forward(self, x):
            return torch.relu(self.main(x) + self.shortcut(x))

    class DenseLayer(nn.Module):
        """DenseNet's layer: x and f(x) side by side (Concat along the channel or feature axis)."""
        def __init__(self, f):
            super().__init__()
            self.f = f

        def forward(self, x):
            return torch.cat([x, self.f(x)], 1)

    class Inception(nn.Module):
        """Three branches of one tensor: a 1 × 1 convolution, 1 × 1 then 3 × 3, max pooling then 1 × 1."""
        def __init__(self, channels):
            super().__init__()
            self.one = nn.Conv2d(channels, 4, 1)
            self.three = nn.Sequential(nn.Conv2d(channels, 4, 1), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1))
            self.pool = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), nn.Conv2d(channels, 2, 1))

        def forward(self, x):
            return torch.relu(torch.cat([self.one(x), self.three(x), self.pool(x)], 1))

    # name → (factory, example shape, fold): the CNN keeps its BatchNormalization node.
    return {
        "mlp": (lambda: nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 16), nn.Tanh(),
                                      nn.Linear(16, 10)), (64,), True),
        "cnn": (lambda: nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.LeakyReLU(0.1), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(), nn.Dropout(0.2),
            nn.Linear(64, 10), nn.LogSoftmax(dim=1)), (1, 8, 8), False),
        # Grouped, depthwise and dilated convolutions, a rectangular kernel with padding per axis:
        # cfx's grouped_conv2d.
        "mobile": (lambda: nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8),
            nn.ReLU(), nn.Conv2d(8, 16, (1, 3), stride=(1, 2), padding=(0, 1), groups=2), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 10)), (1, 8, 8), True),
        "resnet": (lambda: nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
            Residual(8, 8, 1), Residual(8, 16, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(16, 10), nn.Softmax(dim=1)), (1, 8, 8), True),
        "densenet": (lambda: nn.Sequential(
            nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(),
            DenseLayer(nn.Sequential(nn.BatchNorm2d(6), nn.ReLU(), nn.Conv2d(6, 4, 3, padding=1))),
            DenseLayer(nn.Sequential(nn.ReLU(), nn.Conv2d(10, 4, 3, padding=1))), nn.AvgPool2d(2), nn.Flatten(),
            DenseLayer(nn.Sequential(nn.Linear(224, 16), nn.Tanh())), nn.Linear(240, 10)), (1, 8, 8), False),
        "inception": (lambda: nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), Inception(8),
            nn.AvgPool2d(2), nn.Flatten(), nn.Linear(48, 10), nn.Softmax(dim=1)), (1, 8, 8), True),
    }


def export_torch(module, shape, path, fold=True):
    """Exports `module` (eval mode) to `path` with a dynamic batch, float32; ``fold=False`` keeps
    batch normalisation as BatchNormalization nodes instead of folding it into the convolutions."""
    import torch
    module.eval()
    x = torch.zeros((2,) + tuple(shape))
    torch.onnx.export(module, (x,), str(path), dynamo=False, input_names=["x"], output_names=["y"], do_constant_folding=fold,
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})


def export_sklearn(classifier, n_features, path, dtype=np.float32):
    """Exports a fitted MLPClassifier with probabilities as a tensor (no ZipMap)."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    kind = FloatTensorType if dtype == np.float32 else DoubleTensorType
    model = to_onnx(classifier, initial_types=[("x", kind([None, n_features]))],
                    options={id(classifier): {"zipmap": False}})
    with open(path, "wb") as f:
        f.write(model.SerializeToString())
