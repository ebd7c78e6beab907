"""The ONNX model zoo: small models trained on scikit-learn's 8x8 digits (PyTorch: an MLP, a CNN
ending in LogSoftmax, grouped and dilated convolutions, a residual net, DenseNet- and
inception-style torch.cat blocks) and on iris (scikit-learn's MLPClassifier through skl2onnx),
exported to ONNX and loaded with cfx.Model.load. cfx's probabilities must agree with
onnxruntime's and the source framework's within 1e-5, and its input gradients (vector-Jacobian
products) with PyTorch autograd within 1e-4 relative (scikit-learn: central differences of
predict_proba). Every method then runs on an imported model.

onnx, onnxruntime and skl2onnx are installed by Tests/prerequisites.sh only with CFX_TEST_ONNX=1
(CI sets it); without them these tests are skipped with an [onnx] reason.
"""
import os
import warnings

import numpy as np
import pytest

onnxruntime = pytest.importorskip(
    "onnxruntime", reason="[onnx] onnxruntime is not installed (CFX_TEST_ONNX=1 bash Tests/run-all.sh installs it)")
pytest.importorskip("skl2onnx", reason="[onnx] skl2onnx is not installed (CFX_TEST_ONNX=1 bash Tests/run-all.sh installs it)")
torch = pytest.importorskip(
    "torch", reason="[torch] torch is not installed (CFX_TEST_TORCH=1 bash Tests/run-all.sh installs it)")

import cfx  # noqa: E402
import onnx  # noqa: E402
import onnx_zoo  # noqa: E402
from torch_fit import fit  # noqa: E402

PROBA_ATOL = 1e-5
GRADIENT_RTOL = 1e-4


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    d = load_digits()
    return (d.data / 16.0).astype(np.float32), d.target


# What each PyTorch zoo model outputs: logits (cfx appends a softmax), LogSoftmax or Softmax.
OUTPUT = {"mlp": "logits", "cnn": "log_softmax", "mobile": "logits", "resnet": "softmax", "densenet": "logits",
          "inception": "softmax"}


def to_proba(out, kind):
    """A zoo model's output (a torch tensor) as probabilities."""
    return {"logits": lambda: torch.softmax(out, 1), "log_softmax": out.exp, "softmax": lambda: out}[kind]()


def logits(module, kind):
    """What the model computes before its final Softmax or LogSoftmax: what it trains on."""
    return module if kind == "logits" else module[:-1]


@pytest.fixture(scope="module", params=list(OUTPUT))
def torch_zoo(request, digits, tmp_path_factory):
    X, y = digits
    make, shape, fold = onnx_zoo.torch_models()[request.param]
    torch.manual_seed(1)
    module = make()
    fit(module, X[:1200], y[:1200], shape, epochs=8, logits=logits(module, OUTPUT[request.param]))
    path = tmp_path_factory.mktemp("onnx") / f"{request.param}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx_zoo.export_torch(module, shape, path, fold)
    return request.param, module, shape, path


def test_torch_models_match_onnxruntime_and_torch(torch_zoo, digits):
    name, module, shape, path = torch_zoo
    X = digits[0][1200:1300]
    model = cfx.Model.load(path)
    got = model.predict(X.astype(np.float64))
    session = onnxruntime.InferenceSession(str(path))
    ort = to_proba(torch.tensor(session.run(None, {"x": X.reshape((-1,) + shape)})[0]), OUTPUT[name]).double().numpy()
    with torch.no_grad():
        reference = to_proba(module(torch.tensor(X).reshape((-1,) + shape)), OUTPUT[name]).double().numpy()
    assert (reference.argmax(1) == digits[1][1200:1300]).mean() > 0.5, name  # trained (chance is 0.1)
    np.testing.assert_allclose(got, ort, atol=PROBA_ATOL, rtol=0)
    np.testing.assert_allclose(got, reference, atol=PROBA_ATOL, rtol=0)
    # The imported network written as a cfx spec and read back computes the same.
    np.testing.assert_array_equal(cfx.Model.from_json(model.spec()).predict(X.astype(np.float64)), got)


def test_torch_input_gradients_match_autograd(torch_zoo, digits):
    name, module, shape, path = torch_zoo
    X = digits[0][1300:1310]
    cotangent = np.random.default_rng(0).normal(size=(len(X), 10))
    got = cfx.Model.load(path).vjp(X.astype(np.float64), cotangent)
    x = torch.tensor(X).reshape((-1,) + shape).requires_grad_(True)
    proba = to_proba(module(x), OUTPUT[name])
    (grad,) = torch.autograd.grad((proba * torch.tensor(cotangent, dtype=torch.float32)).sum(), x)
    expected = grad.reshape(len(X), -1).double().numpy()
    scale = np.abs(expected).max()
    assert scale > 1e-6
    assert np.abs(got - expected).max() <= GRADIENT_RTOL * scale, name


@pytest.fixture(scope="module")
def iris_mlp():
    from sklearn.datasets import load_iris
    from sklearn.neural_network import MLPClassifier
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        classifier = MLPClassifier(hidden_layer_sizes=(16,), max_iter=500, random_state=0).fit(X, y)
    return X, y, classifier


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sklearn_mlp_matches_onnxruntime_and_sklearn(iris_mlp, dtype, tmp_path):
    X, y, classifier = iris_mlp
    path = tmp_path / "iris.onnx"
    onnx_zoo.export_sklearn(classifier, 4, path, dtype=dtype)
    model = cfx.Model.load(path)
    assert model.n_features == 4 and model.n_classes == 3
    got = model.predict(X)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ort = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"x": X.astype(dtype)})))["probabilities"]
    np.testing.assert_allclose(got, ort, atol=PROBA_ATOL, rtol=0)
    np.testing.assert_allclose(got, classifier.predict_proba(X), atol=PROBA_ATOL, rtol=0)
    if dtype == np.float64:  # exact gradients against central differences of scikit-learn's own model
        x, cotangent, h = X[:5], np.random.default_rng(1).normal(size=(5, 3)), 1e-6
        numeric = np.stack([((classifier.predict_proba(x + h * e) - classifier.predict_proba(x - h * e)) / (2 * h) * cotangent).sum(1)
                            for e in np.eye(4)], axis=1)
        np.testing.assert_allclose(model.vjp(x, cotangent), numeric, rtol=0, atol=1e-6 * np.abs(numeric).max())


def test_methods_run_on_imported_models(torch_zoo, digits, iris_mlp, tmp_path):
    """DeDUCE and JSMA on the imported CNN; Wachter, CFProto, ECCCo, the metrics and training
    further (conventionally, then by counterfactual training) on the scikit-learn import."""
    name, _, _, path = torch_zoo
    X, y = digits[0][:200].astype(np.float64), digits[1][:200]
    model = cfx.Model.load(path)
    if name == "cnn":
        # Every layer's output is named after its ONNX tensor: DeDUCE's density reads the Flatten's.
        features = next(n.output[0] for n in onnx.load(str(path)).graph.node if n.op_type == "Flatten")
        explanations = cfx.DeDUCE(model, target_class=3, feature_output=features).fit(X, y).explain(X[:2])
        assert any(e.success for e in explanations)
        assert any(e.success for e in cfx.JSMA(model, target_class=3).explain(X[:2]))
    if name != "mlp":
        return  # the scikit-learn model's part once
    Xi, yi, classifier = iris_mlp
    onnx_zoo.export_sklearn(classifier, 4, tmp_path / "iris.onnx", dtype=np.float64)
    iris = cfx.Model.load(tmp_path / "iris.onnx")
    e = cfx.Wachter(iris, target_class=2, max_iter=300).explain(Xi[0])
    assert e.success and e.cf["class"] == 2
    proto = cfx.CFProto(iris, max_iterations=100, c_steps=3).fit(Xi).explain(Xi[0])
    assert proto.success and proto.cf["class"] != 0
    eccco = cfx.ECCCo(iris, max_steps=200).explain(Xi[:2])
    assert all(x.success for x in eccco)
    result = cfx.metrics.evaluate(iris, Xi[:2], np.stack([x.cf["X"] for x in eccco]))
    assert result.n_valid == 2
    before = iris.predict(Xi).copy()
    iris.train(Xi, yi, epochs=1, batch_size=32)
    assert not np.allclose(before, iris.predict(Xi))  # an imported network trains like a native one
    trained = iris.predict(Xi).copy()
    report = iris.train(Xi, yi, epochs=2, batch_size=32, counterfactual_training={"n_ce": 30})
    assert report["history"][-1]["counterfactual"]["n_ce"] > 0  # and further by counterfactual training
    assert not np.allclose(trained, iris.predict(Xi))
