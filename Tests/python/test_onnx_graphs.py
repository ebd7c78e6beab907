"""Small ONNX graphs written with onnx.helper that cfx loads: the baseline the error cases of
test_onnx_errors.py change one thing of, binary classifiers with one score, a Squeeze after
global pooling, and convolutions padded unevenly by auto_pad. Each is checked against onnxruntime's output."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="[onnx] onnx is not installed (CFX_TEST_ONNX=1 bash Tests/run-all.sh installs it)")
onnxruntime = pytest.importorskip("onnxruntime", reason="[onnx] onnxruntime is not installed (CFX_TEST_ONNX=1 bash Tests/run-all.sh installs it)")
from onnx import helper, numpy_helper  # noqa: E402

import cfx  # noqa: E402
from test_onnx_errors import graph_file, weight  # noqa: E402


def run_onnxruntime(path, x):
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x.astype(np.float32)})[0]


def test_logits_get_a_softmax(tmp_path):
    path = graph_file(tmp_path, [helper.make_node("Gemm", ["x", "W"], ["h"], transB=1), helper.make_node("Relu", ["h"], ["y"])],
                      [weight("W")])
    model = cfx.Model.load(path)
    assert (model.n_features, model.n_classes) == (4, 3)
    x = np.random.default_rng(0).normal(size=(5, 4))
    logits = run_onnxruntime(path, x)
    expected = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(x), expected, atol=1e-6)


@pytest.mark.parametrize("sigmoid", [True, False])
def test_one_score_is_two_classes(tmp_path, sigmoid):
    """A single score z (or σ(z) from a final Sigmoid) becomes [1 − σ(z), σ(z)]."""
    nodes = [helper.make_node("Gemm", ["x", "W"], ["z" if sigmoid else "y"], transB=1)]
    if sigmoid:
        nodes.append(helper.make_node("Sigmoid", ["z"], ["y"]))
    path = graph_file(tmp_path, nodes, [weight("W", rows=1)])
    model = cfx.Model.load(path)
    assert model.n_classes == 2
    x = np.random.default_rng(1).normal(size=(5, 4))
    out = run_onnxruntime(path, x)[:, 0]
    p = out if sigmoid else 1 / (1 + np.exp(-out))
    np.testing.assert_allclose(model.predict(x), np.stack([1 - p, p], axis=1), atol=1e-6)


def test_squeeze_after_global_pooling(tmp_path):
    w = numpy_helper.from_array(np.random.default_rng(2).normal(size=(3, 2, 3, 3)).astype(np.float32), "W")
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("GlobalAveragePool", ["c"], ["g"]),
             helper.make_node("Squeeze", ["g", "axes"], ["y"])]
    axes = numpy_helper.from_array(np.array([2, 3], np.int64), "axes")
    path = graph_file(tmp_path, nodes, [w, axes], input_shape=("N", 2, 5, 5))
    x = np.random.default_rng(3).normal(size=(4, 2, 5, 5))
    logits = run_onnxruntime(path, x)
    expected = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(cfx.Model.load(path).predict(x.reshape(4, -1)), expected, atol=1e-6)


@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER"])
def test_convolution_with_uneven_automatic_padding(tmp_path, auto_pad):
    """auto_pad SAME with stride 2 on a 5 × 6 image pads one side more: cfx's grouped_conv2d."""
    w = numpy_helper.from_array(np.random.default_rng(4).normal(size=(4, 1, 2, 3)).astype(np.float32), "W")
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], auto_pad=auto_pad, strides=[2, 2], group=2),
             helper.make_node("Flatten", ["c"], ["y"])]
    path = graph_file(tmp_path, nodes, [w], input_shape=("N", 2, 5, 6))
    x = np.random.default_rng(5).normal(size=(3, 2, 5, 6))
    logits = run_onnxruntime(path, x)
    expected = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(cfx.Model.load(path).predict(x.reshape(3, -1)), expected, atol=1e-6)
