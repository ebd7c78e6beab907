"""CFProto on Fashion-MNIST with the reference models' convolutional encoder and autoencoder
(benchmarks/models), with alibi's MNIST settings (examples/python/cfproto_fashion.py, PARAMS):
prototypes from the encodings of 5,000 training images, then counterfactuals for the first two
test images of every class. Skipped, with the reason, when Debian's dataset-fashion-mnist is missing.

Takes 20 to 40 s on two busy cores (release build): 20 images, 2,500 FISTA iterations each, each a
forward and backward pass through the CNN, the autoencoder and the encoder.
"""
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "python"))
import cfproto_fashion as fashion  # noqa: E402

import cfx  # noqa: E402


@pytest.fixture(scope="module")
def explained():
    if not fashion.installed():
        pytest.skip(f"[fashion-mnist] Fashion-MNIST is not installed at {fashion.FASHION_DIR} (apt-get install dataset-fashion-mnist)")
    X_train, _ = fashion.load_split("train")
    X_test, y_test = fashion.load_split("test")
    cnn, autoencoder, encoder = fashion.load_models()
    explainer = cfx.CFProto(cnn, encoder=encoder, autoencoder=autoencoder, n_threads=2, **fashion.PARAMS)
    explainer.fit(X_train[:fashion.N_FIT])
    X = X_test[fashion.first_of_each_class(y_test, per_class=2)]
    return cnn, X, explainer.explain(X)


def test_counterfactuals_are_valid(explained):
    cnn, X, exps = explained
    valid = fashion.check(cnn, X, exps)
    assert valid.mean() >= 0.95, f"valid counterfactuals for {valid.sum()} of {len(X)} images"
    for x, exp in zip(X, exps):
        assert exp.orig_class == int(np.argmax(cnn.predict(x)))
        if exp.cf is not None:
            assert len(exp.cf["X"]) == 784 and len(exp.cf["grads_graph"]) == 784
            assert exp.meta["iterations"] == 2500


def test_prototype_is_another_class(explained):
    _, _, exps = explained
    for exp in exps:
        assert exp.id_proto is not None and exp.id_proto != exp.orig_class
