"""What a newcomer's mistakes turn into: cfx errors for instances that are not numbers, a
warning (in meta and from Python) for instances outside feature_range, and model-spec errors that
name the JSON key, with a hint for a transposed weight matrix."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import cfx

D, K = 4, 3


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(3)
    spec = {"input_shape": [D], "layers": [
        {"type": "dense", "weights": rng.normal(size=(K, D)).tolist(), "bias": [0.0] * K},
        {"type": "softmax"}]}
    with cfx.Model.from_json(spec) as m:
        yield m


@pytest.mark.parametrize("bad, what", [
    (["1.0", "abc", "2", "3"], "text"),
    ("abcd", "text"),
    ([[1.0, 2.0, 3.0, 4.0], [1.0, 2.0]], "rows of different lengths"),
    ([1.0, None, 2.0, 3.0], "NoneType"),
    ([1 + 2j, 0, 0, 0], "complex"),
])
def test_non_numeric_instances_raise_a_cfx_error(model, bad, what):
    with pytest.raises(cfx.InvalidArgumentError, match=f"X: expected real numbers, got .*{what}") as info:
        cfx.Wachter(model, max_iter=20).explain(bad)
    assert isinstance(info.value, cfx.Error)
    with pytest.raises(cfx.Error):
        model.predict(bad)


def test_numeric_object_arrays_and_bools_are_accepted(model):
    rows = np.array([[1, 2.5, np.float32(0.5), True]], dtype=object)
    assert model.predict(rows).shape == (1, K)


def test_instance_outside_feature_range_warns(model):
    x = np.array([2.5, 0.0, -0.2, 0.1])
    with pytest.warns(cfx.FeatureRangeWarning, match=r"instance 0: .*outside feature_range \(feature 0 = 2\.5 > 1\.0\)"):
        exp = cfx.Wachter(model, feature_range=(-1, 1), max_iter=100).explain(x)
    assert len(exp.meta["warnings"]) == 1 and "clips it" in exp.meta["warnings"][0]
    # Inside the range: no warning, and no "warnings" in meta.
    with warnings.catch_warnings():
        warnings.simplefilter("error", cfx.FeatureRangeWarning)
        inside = cfx.Wachter(model, feature_range=(-1, 1), max_iter=100).explain(x / 5)
    assert "warnings" not in inside.meta


def test_per_feature_ranges_and_batches_name_the_row(model):
    X = np.array([[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, -3.0]])
    lo, hi = [-1, -1, -1, -2], [1, 1, 1, 2]
    with pytest.warns(cfx.FeatureRangeWarning, match=r"instance 1: .*feature 3 = -3\.0 < -2\.0") as record:
        exps = cfx.Wachter(model, feature_range=(lo, hi), max_iter=100).explain(X)
    assert len(record) == 1
    assert "warnings" not in exps[0].meta and exps[1].meta["warnings"]


def test_one_warning_per_instance_for_several_targets(model):
    x = np.array([[0.5, 1.5, 0.5, 0.5]])            # JSMA's default range is [0, 1]
    with pytest.warns(cfx.FeatureRangeWarning) as record:
        exps = cfx.JSMA(model, target_class="all").explain(x)
    assert len(exps) == K - 1 and all(e.meta["warnings"] for e in exps)
    assert len([w for w in record if issubclass(w.category, cfx.FeatureRangeWarning)]) == 1


def test_keras_layout_weights_get_a_transpose_hint():
    w_in_out = np.ones((4, 16))                       # Keras / scikit-learn: inputs x outputs
    spec = {"input_shape": [4], "layers": [{"type": "dense", "weights": w_in_out.tolist()}]}
    with pytest.raises(cfx.ModelError, match=r"layers\[0\]\.weights: a 4 × 16 matrix, .* 4 inputs .*transpose it"):
        cfx.Model.from_json(spec)
    spec["layers"][0]["weights"] = w_in_out.T.tolist()
    with cfx.Model.from_json(spec) as m:
        assert (m.n_features, m.n_classes) == (4, 16)


def test_spec_errors_name_the_json_key():
    spec = {"input_shape": [2], "layers": [{"type": "relu"},
                                           {"type": "dense", "weights": [[1, 2], [3, 4]], "bias": [0, 0, 0]}]}
    with pytest.raises(cfx.ModelError, match=r"^layers\[1\]\.bias: has 3 values, expected 2"):
        cfx.Model.from_json(spec)


def test_cfproto_warns_too(model):
    x = np.array([0.2, 0.3, -1.7, 0.1])
    with pytest.warns(cfx.FeatureRangeWarning, match=r"feature 2 = -1\.7 < -1\.0"):
        exp = cfx.CFProto(model, feature_range=(-1.0, 1.0), max_iterations=50, c_steps=2).explain(x)
    assert exp.meta["warnings"]
