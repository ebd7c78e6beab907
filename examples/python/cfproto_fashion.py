#!/usr/bin/env python3
"""Prototype-guided counterfactuals (CFProto) on Fashion-MNIST with the convolutional classifier,
encoder and autoencoder of benchmarks/models (trained by cfx, see benchmarks/results/reference_models.md).

    python3 examples/python/cfproto_fashion.py        # writes examples/python/out/cfproto_fashion.png

The images come from Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist, or
$CFX_FASHION_MNIST), as pixel / 255 in [0, 1]. The settings are those of alibi's MNIST example
(``PARAMS``); Tests/python/test_cfproto_fashion.py and `benchmarks/harness.py cfproto` use them too.
"""
import gzip
import os
import sys
import time

import numpy as np

from _common import OUT, REPO

import cfx  # noqa: E402  (_common makes the in-tree binding importable)

FASHION_DIR = os.environ.get("CFX_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
MODELS = os.path.join(REPO, "benchmarks", "models")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
           "Ankle boot"]

# alibi's MNIST example: CounterFactualProto(cnn, shape, kappa=0., beta=.1, gamma=100., theta=100.,
# ae_model=ae, enc_model=enc, max_iterations=500, feature_range=(-.5, .5), c_init=1., c_steps=5,
# learning_rate_init=1e-2, clip=(-1000., 1000.)), then explain(X) (k None: class-mean prototypes).
# Its images are pixel / 255 − 0.5; the reference models read pixel / 255, so the same range of
# width 1 is (0, 1).
PARAMS = dict(kappa=0.0, beta=0.1, gamma=100.0, theta=100.0, max_iterations=500, feature_range=[0.0, 1.0],
              c_init=1.0, c_steps=5, learning_rate_init=1e-2, clip=[-1000.0, 1000.0])
# Prototypes from this many training images (the first ones; encoding them takes a few seconds).
N_FIT = 5000


def installed() -> bool:
    return os.path.isfile(os.path.join(FASHION_DIR, "t10k-images-idx3-ubyte.gz"))


def read_idx(path):
    """An IDX file of unsigned bytes (gzip'd) as a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_split(split):
    """Images (n × 784, pixel / 255) and labels of "train" or "test", as the reference models were trained."""
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(FASHION_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(FASHION_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    return images.reshape(len(images), -1).astype(np.float64) / 255.0, labels.astype(np.int64)


def load_models():
    """The classifier, its autoencoder and the autoencoder's encoder half."""
    return tuple(cfx.Model.load(os.path.join(MODELS, f"{name}.json"))
                 for name in ("fashion_cnn", "fashion_autoencoder", "fashion_encoder"))


def first_of_each_class(labels, per_class=1):
    """Indices of the first `per_class` test images of every class, class by class."""
    return np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(10)])


def check(model, X, exps, feature_range=(0.0, 1.0)):
    """Per instance, whether the counterfactual is valid: another class than the original, the
    returned class is the model's prediction on the returned X, X is inside feature_range."""
    ok = []
    for exp in exps:
        if exp.cf is None:
            ok.append(False)
            continue
        x_cf = np.asarray(exp.cf["X"], dtype=np.float64)
        predicted = int(np.argmax(model.predict(x_cf)))
        ok.append(exp.cf["class"] != exp.orig_class and predicted == exp.cf["class"]
                  and x_cf.min() >= feature_range[0] and x_cf.max() <= feature_range[1])
    return np.array(ok)


def main():
    if not installed():
        print(f"Fashion-MNIST is not installed at {FASHION_DIR} (apt-get install dataset-fashion-mnist)")
        return 1
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import cfx.plot

    X_train, _ = load_split("train")
    X_test, y_test = load_split("test")
    cnn, autoencoder, encoder = load_models()
    explainer = cfx.CFProto(cnn, encoder=encoder, autoencoder=autoencoder, n_threads=2, **PARAMS)
    explainer.fit(X_train[:N_FIT])
    picks = first_of_each_class(y_test)[[0, 2, 4, 7, 9]]  # T-shirt, pullover, coat, sneaker, ankle boot
    start = time.perf_counter()
    exps = explainer.explain(X_test[picks])
    seconds = time.perf_counter() - start
    valid = check(cnn, X_test[picks], exps)
    fig, axes = plt.subplots(len(picks), 3, figsize=(7.5, 2.6 * len(picks)))
    for row, (i, exp) in enumerate(zip(picks, exps)):
        print(f"test image {i}: {CLASSES[exp.orig_class]} (p={exp.orig_proba[exp.orig_class]:.2f}) -> "
              f"{CLASSES[exp.cf['class']]} (p={exp.cf['proba'][exp.cf['class']]:.2f}), prototype "
              f"{CLASSES[exp.id_proto]}, L1 {np.abs(np.asarray(exp.cf['X']) - X_test[i]).sum():.1f}, "
              f"valid {bool(valid[row])}")
        cfx.plot.image(exp, shape=(28, 28), class_names=CLASSES, vmin=0.0, vmax=1.0, axes=axes[row])
    fig.suptitle(f"CFProto on Fashion-MNIST (encoder + autoencoder), {seconds / len(picks):.1f} s per counterfactual")
    fig.tight_layout()
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "cfproto_fashion.png")
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")
    return 0 if valid.all() else 1


if __name__ == "__main__":
    sys.exit(main())
