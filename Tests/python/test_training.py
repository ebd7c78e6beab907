"""Model.train: digits to a stated accuracy, progress and cancellation, errors, autoencoders."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

import cfx

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="module")
def digits():
    data = json.loads((FIXTURES / "digits.json").read_text())
    mean, scale = np.array(data["mean"]), np.array(data["scale"])
    std = lambda key: (np.array(data[key], dtype=float) - mean) / scale  # noqa: E731
    return std("x_train"), np.array(data["y_train"]), std("x_test"), np.array(data["y_test"])


def mlp_spec(hidden=64, batch_norm=False):
    layers = [{"type": "dense", "outputs": hidden}]
    if batch_norm:
        layers.append({"type": "batch_norm"})
    layers += [{"type": "relu"}, {"type": "dense", "outputs": 10}, {"type": "softmax"}]
    return {"input_shape": [64], "layers": layers}


def test_train_digits_reaches_95_percent(digits):
    X, y, X_test, y_test = digits
    model = cfx.Model.from_json(mlp_spec(batch_norm=True))
    seen = []
    report = model.train(X, y, epochs=12, learning_rate=0.003, validation_split=0.1, seed=1,
                         progress=lambda epoch: seen.append(epoch))
    assert [e["epoch"] for e in seen] == list(range(1, 13))
    assert len(report["history"]) == 12 and report["validation_rows"] == len(y) // 10
    assert report["history"][-1]["val_accuracy"] >= 0.9
    accuracy = (model.predict(X_test).argmax(axis=1) == y_test).mean()
    assert accuracy >= 0.95, accuracy
    assert model.spec is None
    # The trained network, written out and read back, predicts the same.
    copy = cfx.Model.from_json(model.to_json())
    np.testing.assert_array_equal(copy.predict(X_test), model.predict(X_test))


def test_progress_false_cancels_and_leaves_a_usable_model(digits):
    X, y, X_test, y_test = digits
    model = cfx.Model.from_json(mlp_spec())
    report = model.train(X, y, epochs=30, progress=lambda e: e["epoch"] < 2)
    assert report["cancelled"] and len(report["history"]) == 2
    assert (model.predict(X_test).argmax(axis=1) == y_test).mean() > 0.5


def test_exception_in_progress_stops_training_and_is_raised(digits):
    X, y, _, _ = digits
    model = cfx.Model.from_json(mlp_spec())

    def boom(epoch):
        raise KeyError("stop here")

    with pytest.raises(KeyError, match="stop here"):
        model.train(X, y, epochs=5, progress=boom)


def test_progress_bar(digits, capsys):
    X, y, _, _ = digits
    model = cfx.Model.from_json(mlp_spec(hidden=8))
    model.train(X[:200], y[:200], epochs=2, progress=True)
    assert "2/2" in capsys.readouterr().err


def test_bad_configs_and_targets_raise(digits):
    X, y, _, _ = digits
    model = cfx.Model.from_json(mlp_spec(hidden=8))
    before = model.predict(X[:5])
    with pytest.raises(cfx.ConfigError, match="learning_rat"):
        model.train(X, y, learning_rat=0.1)
    with pytest.raises(cfx.ConfigError, match="batch_size"):
        model.train(X, y, batch_size=0)
    with pytest.raises(cfx.InvalidArgumentError, match="out of range"):
        model.train(X, np.where(y == 9, 10, y))
    with pytest.raises(cfx.NumericError):
        model.train(X, np.where(y == 9, np.nan, y))
    with pytest.raises(cfx.InvalidArgumentError, match="rows like X"):
        model.train(X, y[:10])
    np.testing.assert_array_equal(model.predict(X[:5]), before)
    callable_model = cfx.Model.from_callable(lambda X: np.full((len(X), 2), 0.5), 64, 2)
    with pytest.raises(cfx.InvalidArgumentError, match="only native models"):
        callable_model.train(X, y)


def test_autoencoder_with_mse(digits):
    X, _, _, _ = digits
    model = cfx.Model.from_json({"input_shape": [64], "layers": [
        {"type": "dense", "outputs": 16}, {"type": "tanh", "name": "code"},
        {"type": "dense", "outputs": 64}]})
    report = model.train(X, loss="mse", epochs=8, learning_rate=0.01)
    losses = [e["loss"] for e in report["history"]]
    assert losses[-1] < 0.7 * losses[0]
    assert report["history"][0]["accuracy"] is None


def test_default_train_config():
    config = cfx.training.default_train_config()
    assert config["method"] == "train" and config["optimizer"] == "adam"
    assert config["schedule"] == {"type": "constant"}
