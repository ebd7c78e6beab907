"""Per-row errors through the Python binding: "on_error": "record" turns a failing row (a NaN,
an exception in a Python model) into an explanation with success False and its error."""

import numpy as np
import pytest

import cfx


def softmax_model():
    W = np.array([[1.0, -1.0], [-1.0, 1.0]])

    def predict(X):
        if (X[:, 0] > 5).any():
            raise ValueError(f"feature 0 out of range: {X[:, 0].max()}")
        z = X @ W.T
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    return cfx.Model.from_callable(predict, 2, 2)


def test_record_mode_keeps_the_other_rows():
    model = softmax_model()
    X = np.array([[0.5, -0.5], [np.nan, 0.1], [9.0, 0.0], [0.2, 0.1]])
    raised = cfx.Wachter(model, n_threads=1).explain(X[[0, 3]])
    exps = cfx.Wachter(model, on_error="record", n_threads=2).explain(X)
    assert len(exps) == 4
    assert exps[1].error["code"] == cfx.NumericError.code and exps[1].error["status"] == "non-finite number"
    assert "row 1, feature 0 is nan" in exps[1].error["message"]
    assert exps[2].error["code"] == cfx.CallbackError.code and "instance 2" in exps[2].error["message"]
    for failed in (exps[1], exps[2]):
        assert failed.success is False and failed.cf is None and failed["instance"] in (1, 2)
    for got, want in zip((exps[0], exps[3]), raised):
        assert got.error is None and got.success
        np.testing.assert_array_equal(got.cf["X"], want.cf["X"])


def test_raise_mode_is_the_default():
    model = softmax_model()
    with pytest.raises(cfx.NumericError, match="row 1"):
        cfx.Wachter(model).explain(np.array([[0.5, -0.5], [np.nan, 0.1]]))
    with pytest.raises(cfx.ConfigError, match="on_error"):
        cfx.Wachter(model, on_error="skip")


def test_a_recorded_callback_exception_does_not_linger():
    model = softmax_model()
    cfx.Wachter(model, on_error="record").explain(np.array([[9.0, 0.0]]))
    with pytest.raises(cfx.CallbackError) as info:
        model.predict(np.array([[7.0, 0.0]]))
    assert isinstance(info.value.__cause__, ValueError) and "7.0" in str(info.value.__cause__)
