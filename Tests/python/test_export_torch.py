"""The PyTorch exporter (cfx.export.from_torch / save_torch) and PyTorch modules as callback models
(cfx.torch.as_model), on scikit-learn's 8x8 digits.

PyTorch is large (about 5 GB with its CUDA libraries from PyPI), so Tests/prerequisites.sh
installs it only with CFX_TEST_TORCH=1; without torch these tests are skipped with that reason.
"""

import copy
import json
import os

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="[torch] torch is not installed (CFX_TEST_TORCH=1 bash Tests/run-all.sh installs it)")
from torch import nn  # noqa: E402
from torch.nn.utils.parametrizations import spectral_norm  # noqa: E402

import cfx  # noqa: E402
from cfx.export import ChannelPad, Residual, from_torch, inline_tensors, save_torch  # noqa: E402
from torch_fit import fit  # noqa: E402

ATOL = 1e-5


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(d.data / 16.0, d.target, test_size=0.25,
                                                        random_state=0, stratify=d.target)
    return X_train, X_test, y_train, y_test


def torch_proba(module, X, shape):
    with torch.no_grad():
        out = module(torch.tensor(X, dtype=torch.float32).reshape((-1,) + tuple(shape)))
    return out.reshape(len(X), -1).double().numpy()


def native(module, shape, names=None):
    return cfx.Model.from_json(inline_tensors(*from_torch(module, shape, names)))


@pytest.fixture(scope="module")
def mlp(digits):
    X_train, _, y_train, _ = digits
    torch.manual_seed(0)
    module = nn.Sequential(
        nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(),
        nn.Linear(32, 32), nn.Tanh(),
        nn.Sequential(nn.Linear(32, 32), nn.LeakyReLU(0.1)),   # nested Sequentials are flattened
        nn.Linear(32, 24), nn.Softplus(), nn.Dropout(0.1),
        nn.Linear(24, 16), nn.Sigmoid(),
        nn.Linear(16, 10), nn.Softmax(dim=1))
    return fit(module, X_train, y_train, [64], epochs=40)


@pytest.fixture(scope="module")
def cnn(digits):
    X_train, _, y_train, _ = digits
    torch.manual_seed(1)
    module = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        spectral_norm(nn.Conv2d(8, 16, 3, stride=1, padding=1, bias=False)), nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(), spectral_norm(nn.Linear(64, 32)), nn.ReLU(),
        nn.Linear(32, 10), nn.Softmax(dim=1))
    return fit(module, X_train, y_train, [1, 8, 8], epochs=25)


@pytest.fixture(scope="module")
def resnet(digits):
    X_train, _, y_train, _ = digits
    torch.manual_seed(2)

    def block(c_in, c_out, stride):
        main = nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                             nn.BatchNorm2d(c_out), nn.LeakyReLU(0.01),
                             nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out))
        if stride == 1 and c_in == c_out:
            shortcut = None                                                  # identity
        elif stride == 1:
            shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        else:
            shortcut = nn.Sequential(nn.AvgPool2d(stride), ChannelPad(c_out))  # DDU's shortcut
        return nn.Sequential(Residual(main, shortcut), nn.LeakyReLU(0.01))

    module = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.LeakyReLU(0.01),
        block(8, 8, 1), block(8, 12, 1), block(12, 16, 2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(16, 10), nn.Softmax(dim=1))
    return fit(module, X_train, y_train, [1, 8, 8], epochs=15)


def check_matches(module, shape, X, y):
    expected = torch_proba(module, X, shape)
    assert (expected.argmax(axis=1) == y).mean() > 0.85   # a trained model, not a trivial one
    got = native(module, shape).predict(X)
    np.testing.assert_allclose(got, expected, atol=ATOL, rtol=0)
    return got


def test_mlp_matches_pytorch(mlp, digits):
    _, X_test, _, y_test = digits
    check_matches(mlp, [64], X_test, y_test)
    assert not mlp.training  # the exporter restores the mode it found


def test_cnn_with_spectral_norm_matches_pytorch(cnn, digits):
    _, X_test, _, y_test = digits
    check_matches(cnn, [1, 8, 8], X_test, y_test)
    spec, tensors = from_torch(cnn, [1, 8, 8])
    # spectral norm is exported as the plain layer with the normalised weight, no u/v vectors
    assert "spectral_norm" not in json.dumps(spec)
    assert not any(name.endswith(("_u", "_v", "original")) for name in tensors)
    assert spec["layers"][3] == {"type": "conv2d", "out_channels": 16, "kernel_size": 3, "stride": 1,
                                 "padding": 1, "bias": False}


def test_residual_cnn_with_batch_norm_matches_pytorch(resnet, digits):
    _, X_test, _, y_test = digits
    check_matches(resnet, [1, 8, 8], X_test, y_test)
    spec, tensors = from_torch(resnet, [1, 8, 8], names={resnet[6]: "features"})
    types = [layer["type"] for layer in spec["layers"]]
    assert types == ["conv2d", "batch_norm", "leaky_relu", "residual", "leaky_relu", "residual",
                     "leaky_relu", "residual", "leaky_relu", "global_avg_pool", "dense", "softmax"]
    assert spec["layers"][3]["shortcut"] == []
    assert [s["type"] for s in spec["layers"][7]["shortcut"]] == ["avg_pool2d", "channel_pad"]
    assert spec["layers"][9]["name"] == "features"
    assert "layers.5.shortcut.1.running_var" in tensors
    assert not any("num_batches_tracked" in name for name in tensors)


def test_save_torch_writes_a_model_file(resnet, digits, tmp_path):
    _, X_test, _, _ = digits
    spec_path, weights_path = tmp_path / "resnet.json", tmp_path / "w" / "resnet.safetensors"
    weights_path.parent.mkdir()
    spec = save_torch(resnet, [1, 8, 8], spec_path, weights_path, names={"6": "features"},
                      metadata={"source": "test"})
    assert spec["weights"] == os.path.join("w", "resnet.safetensors")
    model = cfx.Model.load(spec_path)
    np.testing.assert_allclose(model.predict(X_test), torch_proba(resnet, X_test, [1, 8, 8]), atol=ATOL, rtol=0)
    from cfx import safetensors
    stored = safetensors.load_file(weights_path)
    assert stored["layers.0.weight"].dtype == np.float32    # torch's dtype is kept
    np.testing.assert_array_equal(stored["layers.0.weight"], resnet[0].weight.detach().numpy())


def test_exported_probabilities_drive_wachter(mlp, digits):
    _, X_test, _, _ = digits
    model = native(mlp, [64])
    explainer = cfx.Wachter(model, target_class="other", feature_range=(0.0, 1.0), max_iter=300,
                            max_lam_steps=4, n_threads=1)
    X = X_test[:4]
    exps = explainer.explain(X)
    found = [e for e in exps if e.success]
    assert len(found) >= 3
    for e, x in zip(exps, X):
        assert e.orig_class == int(torch_proba(mlp, x[None], [64]).argmax())
        if e.success:
            cf = np.asarray(e.cf["X"])
            assert int(torch_proba(mlp, cf[None], [64]).argmax()) == e.cf["class"] != e.orig_class


def test_as_model_gradients_match_the_exported_network(cnn, resnet, digits):
    _, X_test, _, _ = digits
    rng = np.random.default_rng(0)
    X = X_test[:16]
    for module in (cnn, resnet):
        callback = cfx.torch.as_model(module, [1, 8, 8])
        exported = native(module, [1, 8, 8])
        assert (callback.n_features, callback.n_classes) == (64, 10)
        np.testing.assert_allclose(callback.predict(X), exported.predict(X), atol=ATOL, rtol=0)
        C = rng.normal(size=(len(X), 10))
        g_torch, g_cfx = callback.vjp(X, C), exported.vjp(X, C)
        scale = np.abs(g_cfx).max()
        np.testing.assert_allclose(g_torch, g_cfx, atol=1e-5 * max(scale, 1.0), rtol=0)


def test_as_model_explains_like_the_exported_network(mlp, digits):
    _, X_test, _, _ = digits
    config = dict(target_class="other", feature_range=(0.0, 1.0), max_iter=300, max_lam_steps=4, n_threads=1)
    exps = cfx.Wachter(native(mlp, [64]), **config).explain(X_test[:4])
    i = next(i for i, e in enumerate(exps) if e.success)
    exp = cfx.Wachter(cfx.torch.as_model(mlp, [64]), **config).explain(X_test[i])
    assert exp.success and exp.cf["class"] == exps[i].cf["class"]
    # exact gradients through the vjp: no 2 * 64 perturbed rows per gradient
    assert exp.meta["gradient_evaluations"] > 0
    assert exp.meta["predicted_rows"] < 2 * 64 * exp.meta["gradient_evaluations"] / 10


def test_torch_helpers_are_one_module():
    import cfx.export
    assert cfx.torch.Residual is cfx.export.Residual and cfx.torch.ChannelPad is cfx.export.ChannelPad


def test_unsupported_layers_are_named(digits):
    with pytest.raises(ValueError, match=r"1 \(GELU\).*not a layer cfx can export"):
        from_torch(nn.Sequential(nn.Linear(4, 4), nn.GELU(), nn.Linear(4, 2)), [4])
    with pytest.raises(ValueError, match=r"0 \(Conv2d\).*groups=2"):
        from_torch(nn.Sequential(nn.Conv2d(2, 4, 3, groups=2)), [2, 8, 8])
    with pytest.raises(ValueError, match=r"ceil_mode"):
        from_torch(nn.Sequential(nn.MaxPool2d(2, ceil_mode=True)), [1, 5, 5])
    with pytest.raises(ValueError, match=r"names: 'x'"):
        from_torch(nn.Sequential(nn.Linear(4, 2)), [4], names={"x": "features"})
    with pytest.raises(ValueError, match=r"input_shape"):
        from_torch(nn.Sequential(nn.Linear(4, 2)), [2, 2])


def deduce_resnet18(classes=10):
    """DeDUCE's model: a ResNet-18 of the DDU family for 28×28 images (widths 64–512, two
    BasicBlocks per stage, a stride-1 3×3 stem, leaky ReLU 0.01, spectral normalisation on every
    convolution, average-pooling + zero-channel shortcuts, global average pooling as features)."""
    def conv(c_in, c_out, stride=1):
        return spectral_norm(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False))

    def block(c_in, c_out, stride, size):
        main = nn.Sequential(conv(c_in, c_out, stride), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.01),
                             conv(c_out, c_out), nn.BatchNorm2d(c_out))
        # DDU's shortcut: 2×2 average pooling on even sizes, subsampling (kernel 1) on odd ones
        pool = nn.AvgPool2d(2) if size % 2 == 0 else nn.AvgPool2d(1, stride=2)
        shortcut = None if stride == 1 and c_in == c_out else nn.Sequential(pool, ChannelPad(c_out))
        return nn.Sequential(Residual(main, shortcut), nn.LeakyReLU(0.01))

    layers = [conv(1, 64), nn.BatchNorm2d(64), nn.LeakyReLU(0.01)]
    c_in, size = 64, 28
    for c_out, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        layers += [block(c_in, c_out, stride, size), block(c_out, c_out, 1, (size + 1) // stride)]
        c_in, size = c_out, (size + stride - 1) // stride
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes), nn.Softmax(dim=1))


def test_deduce_resnet18_loads_from_a_pytorch_export(tmp_path):
    torch.manual_seed(3)
    module = deduce_resnet18()
    with torch.no_grad():  # give batch norm non-trivial statistics and the logits some spread
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
        module[-2].weight.mul_(20)
    module.eval()
    spec_path, weights_path = tmp_path / "resnet18.json", tmp_path / "resnet18.safetensors"
    save_torch(module, [1, 28, 28], spec_path, weights_path, names={module[-3]: "features"})
    model = cfx.Model.load(spec_path)
    X = np.random.default_rng(0).uniform(0, 1, size=(3, 784))
    expected = torch_proba(module, X, [1, 28, 28])
    assert expected.max(axis=1).min() < 0.99 and expected.max(axis=1).max() > 0.2  # not saturated, not uniform
    np.testing.assert_allclose(model.predict(X), expected, atol=ATOL, rtol=0)


def test_exports_keep_the_modules_number_type(mlp, digits):
    # float32 modules (PyTorch's default) run in float32 in cfx too; float64 modules in float64.
    _, X_test, _, _ = digits
    spec32, _ = from_torch(mlp, [64])
    assert spec32["dtype"] == "float32"
    spec64, tensors64 = from_torch(copy.deepcopy(mlp).double(), [64])
    assert "dtype" not in spec64
    got = cfx.Model.from_json(inline_tensors(spec64, tensors64)).predict(X_test)
    np.testing.assert_allclose(got, native(mlp, [64]).predict(X_test), atol=1e-4, rtol=0)
